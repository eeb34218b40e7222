# Copyright 2026 ps_control contributors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
Newton's method for the state covariances of the SAPS / ESAPS optimum at fixed multipliers.

With linear-Gaussian dynamics the dual of thesis eq. 4.3 (5.3 for ESAPS) separates into a
mean part (a plain LQR, see KLBoundedProblem.optimal_means) and a covariance part over the
state-action covariances C_t = Cov[s_t; a_t]:

    max  sum_t 1/2 tr(G_t C_t) + eta_t/2 log|C_t| - beta_t/2 log|S_t| + 1/2 tr(F_T S_T)
    s.t. S_0 given,  S_{t+1} = D_t C_t D_t' + W_t,  S_t = E' C_t E,

with G_t the quadratic part of R_t + alpha_t log q_t(a|s) + alpha_t log q_t(s) (eq. 4.7 without
the log p_t(s) term), eta_t = alpha_t + beta_t, D_t = [A_t, B_t], W_t the dynamics noise and E
the state selector. (alpha H(mu pi) + beta H(pi) = eta/2 log|C| - beta/2 log|S| + const.) The
constraint multipliers U_t (the quadratic parts of the value functions V_t, U_T = F_T) give the
stationary state-action precision P_t = C_t^-1 in closed form (thesis eq. 4.9, 5.6):

    M_t = G_t + D_t' U_{t+1} D_t - E U_t E',
    P_aa = -M_aa / eta,  P_as = -M_as / eta,
    P_ss = (-M_ss + beta / eta M_sa M_aa^-1 M_as) / alpha,

and the multipliers solve r_t(U) = E' C_t E - (D_{t-1} C_{t-1} D_{t-1}' + W_{t-1}) = 0 (r_0 =
E' C_0 E - S_0). r_t depends on U_{t-1}, U_t, U_{t+1} only, so Newton's method needs one
block-tridiagonal solve per iteration. The Jacobian is self-adjoint and, for beta_t >= 0,
negative definite (CovarianceProblem.jacobian), so it is factorised by banded Cholesky; most
iterations solve the Newton system by a few GMRES steps preconditioned with an earlier
factorisation (CovarianceProblem.solve). This replaces the fixed-point iteration of Alg. 2 on
the covariances, which is expansive (each sweep can multiply the error) and needs heavy damping.
"""

import functools

import numpy as np

from ps_control.core.gaussian import NotPositiveDefiniteError
from scipy.linalg.lapack import (dgbtrf as gbtrf, dgbtrs as gbtrs, dgetrf as getrf,
                                 dgetrs as getrs, dpbtrf, dpbtrs, spbtrf, spbtrs)


def stationary_precision(M, alpha, beta, dx):
    """Return the precisions P_t of the stationary state-action Gaussians for given M_t."""
    eta = alpha + beta
    P = -M / eta[:, None, None]
    if np.any(beta != 0):
        Maa, Mas = M[:, dx:, dx:], M[:, dx:, :dx]
        Y = np.linalg.solve(Maa, Mas)
        correction = np.swapaxes(Mas, 1, 2) @ Y
        Pss = (-M[:, :dx, :dx] + (beta / eta)[:, None, None] * correction) / alpha[:, None, None]
        P[:, :dx, :dx] = Pss
    return 0.5 * (P + np.swapaxes(P, 1, 2))


def precision_jacobian_terms(M, alpha, beta, dx):
    """
    Return dP_t / dM_t of ``stationary_precision`` as a sum of congruences w_k R_k' dM R_k.

    SAPS: dP = -dM / eta. ESAPS replaces the ss block by
    dP_ss = (-dM_ss + beta / eta (dM_sa Y + Y' dM_as - Y' dM_aa Y)) / alpha, Y = M_aa^-1 M_as;
    with Q = [I; -Y] the bracket is dM_ss - Q' dM Q, so (1 - beta / eta = alpha / eta)
    dP_ss = -dM_ss / eta - beta / (eta alpha) Q' dM Q: one more term, R = Q E_s'.
    Returns a list of (w (T,), R (T, n, n)).
    """
    T, n = M.shape[0], M.shape[1]
    eta = alpha + beta
    terms = [(-1.0 / eta, np.broadcast_to(np.eye(n), (T, n, n)))]
    if np.any(beta != 0):
        right = np.zeros((T, n, n))  # Q E_s': Q in the first dx columns
        right[:, :dx, :dx] = np.eye(dx)
        right[:, dx:, :dx] = -np.linalg.solve(M[:, dx:, dx:], M[:, dx:, :dx])
        terms.append((-beta / eta / alpha, right))
    return terms


class CovarianceProblem:
    """
    The covariance part of the SAPS / ESAPS Lagrangian at fixed multipliers (module docstring).

    G: (T, n, n) quadratic parts of the augmented reward without log p_t(s); F_T: (dx, dx)
    terminal quadratic part; D: (T, dx, n) = [A_t, B_t]; W: (T, dx, dx) dynamics noise; S0:
    (dx, dx) initial state covariance; alpha, beta: (T,) multipliers.
    """

    def __init__(self, G, F_T, D, W, S0, alpha, beta):
        self.G, self.F_T, self.D, self.W, self.S0 = G, F_T, D, W, S0
        self.alpha = np.asarray(alpha, dtype=float)
        self.beta = np.asarray(beta, dtype=float)
        self.T, self.n = G.shape[0], G.shape[1]
        self.dx = D.shape[1]

    def system(self, U):
        """
        Return (M_t, C_t, residuals r_t, predicted S_t) at multipliers U (T, dx, dx).

        predicted holds the state covariances one forward step of C_{t-1} gives (S_0 at t = 0);
        the residual is C_t's state block minus it. Raises if a precision is not PD.
        """
        T, dx = self.T, self.dx
        nxt = np.concatenate([U[1:], self.F_T[None]], axis=0)
        M = self.G + np.swapaxes(self.D, 1, 2) @ nxt @ self.D
        M[:, :dx, :dx] -= U
        P = stationary_precision(M, self.alpha, self.beta, dx)
        try:
            chol = np.linalg.cholesky(P)
        except np.linalg.LinAlgError:
            raise NotPositiveDefiniteError('state-action precision is not positive definite')
        inv_chol = np.linalg.solve(chol, np.broadcast_to(np.eye(self.n), P.shape))
        C = np.swapaxes(inv_chol, 1, 2) @ inv_chol
        predicted = np.empty((T, dx, dx))
        predicted[0] = self.S0
        predicted[1:] = self.D[:-1] @ C[:-1] @ np.swapaxes(self.D[:-1], 1, 2) + self.W[:-1]
        residual = C[:, :dx, :dx] - predicted
        return M, C, 0.5 * (residual + np.swapaxes(residual, 1, 2)), predicted

    def newton_step(self, M, C, residual):
        """Return the symmetric Newton step dU solving J dU = -r (see :meth:`jacobian`)."""
        return self.jacobian(M, C).step(residual)

    def jacobian_product(self, M, C, dU, terms=None):
        """
        Return J dU (T, dx, dx), the residuals' derivative at (M, C) along symmetric dU.

        Matrix-free, in O(T n^3): dM_t = D_t' dU_{t+1} D_t - E dU_t E' (dU_T = 0: U_T = F_T is
        fixed), dP_t = sum_k w_k R_k' dM_t R_k, dC_t = -C_t dP_t C_t and dr_t = E' dC_t E -
        D_{t-1} dC_{t-1} D_{t-1}' (dr_0 = E' dC_0 E): the map whose blocks :meth:`jacobian`
        builds. ``terms``: ``precision_jacobian_terms`` at M, if already computed.
        """
        dx = self.dx
        terms = precision_jacobian_terms(M, self.alpha, self.beta, dx) if terms is None else terms
        nxt = np.concatenate([dU[1:], np.zeros((1, dx, dx))], axis=0)
        dM = np.swapaxes(self.D, 1, 2) @ nxt @ self.D
        dM[:, :dx, :dx] -= dU
        dP = np.zeros_like(dM)
        for w, R in terms:
            dP += w[:, None, None] * (np.swapaxes(R, 1, 2) @ dM @ R)
        dC = -C @ dP @ C
        product = dC[:, :dx, :dx].copy()
        product[1:] -= self.D[:-1] @ dC[:-1] @ np.swapaxes(self.D[:-1], 1, 2)
        return 0.5 * (product + np.swapaxes(product, 1, 2))

    def krylov_step(self, M, C, residual, preconditioner, forcing, max_iterations):
        """
        Return an inexact Newton step dU with ||J dU + r|| <= forcing ||r||, or None.

        GMRES on the exact Jacobian (:meth:`jacobian_product`), right-preconditioned by a
        factorised Jacobian of earlier iterates (``preconditioner``, a
        :class:`CovarianceJacobian`): where the Jacobian changed little, a few preconditioner
        solves replace a fresh block-tridiagonal factorisation. None when ``max_iterations``
        GMRES iterations do not reach ``forcing`` (the preconditioner is too stale).
        """
        half, T = preconditioner.half, self.T
        terms = precision_jacobian_terms(M, self.alpha, self.beta, self.dx)

        def apply(vector):
            product = self.jacobian_product(M, C, half.symmetric(vector.reshape(T, -1)), terms)
            return product.reshape(T, -1)[:, half.upper].ravel()

        def precondition(vector):
            return preconditioner.solve(vector.reshape(T, -1)).ravel()

        rhs = -residual.reshape(T, -1)[:, half.upper].ravel()
        solution = right_preconditioned_gmres(apply, precondition, rhs, forcing, max_iterations)
        return None if solution is None else half.symmetric(solution.reshape(T, -1))

    def jacobian(self, M, C, recycle=None, single=False):
        """
        Return the factorised Jacobian J of the residuals at (M, C) (block-tridiagonal).

        With dC = -C dP C, dM_t = D' dU_{t+1} D - E dU_t E' and dP = sum_k w_k R_k' dM R_k,
        every block of J is a sum of congruences dU -> w L dU L' between symmetric dx x dx
        matrices (L = C R' restricted and mapped by D), built directly on the
        half-vectorisation (:meth:`_HalfVectorisation.add_congruence`): blocks of dx (dx + 1) / 2
        instead of dx^2 unknowns. J is self-adjoint and, for beta_t >= 0, negative definite:
        for symmetric dU, <dU, J dU> = -sum_t <dM_t, C_t dP_t(dM_t) C_t> (Frobenius), which for
        SAPS is -sum_t ||C_t^1/2 dM_t C_t^1/2||^2 / eta_t, and ESAPS (C E = Q S at the
        stationary precision) adds -beta_t / (eta_t alpha_t) ||S_t^1/2 Q_t' dM_t Q_t S_t^1/2||^2;
        dM = 0 forces dU = 0, from dU_T = 0 backwards. So -J, in orthonormal coordinates, is
        factorised by banded Cholesky, its diagonal and super-diagonal blocks built directly into
        LAPACK's band storage (:class:`SymmetricBlockBand`). When that fails (the separate
        bounds' beta_t = alpha_t - gamma_t may be negative) the blocks are built again and
        LU-factorised. ``recycle``: a :class:`CovarianceJacobian` no longer needed, whose memory
        is reused (fresh memory for the band costs as much as factorising it, in page faults).
        ``single``: factorise in single precision (a preconditioner; where it fails, double).
        """
        T, dx = self.T, self.dx
        D, DT = self.D[:-1], np.swapaxes(self.D[:-1], 1, 2)
        half = _HalfVectorisation(dx)
        maps = []  # per term: w, the congruences of the diagonal blocks, of diag[1:] through
        #            the dynamics and of the super-diagonal blocks
        for w, R in precision_jacobian_terms(M, self.alpha, self.beta, dx):
            L = C @ np.swapaxes(R, 1, 2)
            maps.append((w, L[:, :dx, :dx], D @ L[:-1] @ DT, L[:-1, :dx] @ DT))

        def add_blocks(diag, upper, mask=None):  # the blocks of -J: weights -w on the diagonal
            for w, own, through, cross in maps:
                half.add_congruence(diag, -w, own, mask)
                half.add_congruence(diag[1:], -w[:-1], through, mask)
                half.add_congruence(upper, w[:-1], cross)

        buffer = getattr(recycle.factors, 'buffer', None) if recycle is not None else None
        for dtype in (np.float32, np.float64) if single else (np.float64,):
            band = SymmetricBlockBand(T, half.size, dtype, buffer)
            add_blocks(band.diagonal, band.upper, band.diagonal_mask)
            try:
                return CovarianceJacobian(half, band.cholesky())
            except np.linalg.LinAlgError:
                buffer = None
        diag = np.zeros((T, half.size, half.size))
        upper = np.zeros((T - 1, half.size, half.size))
        add_blocks(diag, upper)
        lower = np.swapaxes(upper, 1, 2)
        return CovarianceJacobian(half, factorise_block_tridiagonal(lower, diag, upper))

    def solve(self, U0, tolerance=1e-10, max_iterations=50, stall_tolerance=1e-6,
              exact=True, chord=None):
        """
        Return (U, C, iterations) with every residual below ``tolerance`` (relative).

        Newton with backtracking on the relative residual norm; a step that makes a precision
        non-PD is halved. When no step reduces the residual any more (round-off: for alpha_t
        near 0 the precision P_ss ~ 1 / alpha_t is ill-conditioned) a residual below
        ``stall_tolerance`` is accepted. Raises NotPositiveDefiniteError if the start is
        infeasible and RuntimeError if the iteration does not converge. ``exact=False``
        returns the iterate after ``max_iterations`` steps whatever its residual (an inexact
        inner solve for an outer iteration that moves the multipliers anyway).

        ``chord`` (a :class:`ChordCache`, shared by the solves of one update) keeps the last
        factorised Jacobian, possibly of other multipliers. Each step is first sought by
        :meth:`krylov_step` preconditioned by it (inexact Newton, forcing term
        min(``KRYLOV_MAX_FORCING``, residual)); only when GMRES does not reach the forcing term
        in :func:`krylov_iterations` iterations, or its step does not reduce the residual, is a
        fresh Jacobian factorised and stored (:meth:`_factorised_step`).
        """
        U = 0.5 * (U0 + np.swapaxes(U0, 1, 2))
        M, C, residual, predicted = self.system(U)
        error = _relative(residual, predicted)
        for iteration in range(max_iterations):
            if error <= tolerance:
                return U, C, iteration
            step = None
            if chord is not None and chord.jacobian is not None:
                step = self.krylov_step(M, C, residual, chord.jacobian,
                                        min(KRYLOV_MAX_FORCING, error),
                                        krylov_iterations(chord.jacobian.half.size))
            accepted = None if step is None else _line_search(self.system, U, step, error)
            if accepted is None:
                accepted = _line_search(self.system, U,
                                        self._factorised_step(M, C, residual, error, chord),
                                        error)
                if accepted is None:
                    break
            elif chord is not None:
                chord.reused += 1
            U, (M, C, residual, predicted), error = accepted
        if error <= max(tolerance, stall_tolerance) or not exact:
            return U, C, max_iterations
        raise RuntimeError('state covariance Newton iteration stalled (relative residual %.3g)'
                           % error)

    def _factorised_step(self, M, C, residual, error, chord):
        """
        Return the Newton step from a fresh factorisation of J (kept in ``chord``, if given).

        Blocks of at least ``SINGLE_PRECISION_MIN_BLOCK`` are factorised in single precision,
        and the step is then GMRES preconditioned by that factorisation (inexact Newton, as
        :meth:`krylov_step`); if GMRES misses its forcing term the factorisation is redone in
        double precision and solved directly.
        """
        size = self.dx * (self.dx + 1) // 2
        single = chord is not None and size >= SINGLE_PRECISION_MIN_BLOCK
        for in_single in (True, False) if single else (False,):
            if chord is None:
                jacobian = self.jacobian(M, C)
            else:  # the last factorisation's memory is reused, so drop it first
                stale, chord.jacobian = chord.jacobian, None
                jacobian = self.jacobian(M, C, recycle=stale, single=in_single)
                chord.jacobian = jacobian
                chord.factorised += 1
            if not jacobian.single:
                return jacobian.step(residual)
            step = self.krylov_step(M, C, residual, jacobian, min(KRYLOV_MAX_FORCING, error),
                                    krylov_iterations(size))
            if step is not None:
                return step


# the inexact Newton steps' forcing term is min(KRYLOV_MAX_FORCING, relative residual): it
# tightens as the residual falls, which keeps the convergence superlinear
KRYLOV_MAX_FORCING = 0.1


# blocks from which :meth:`CovarianceProblem.solve` factorises in single precision (dx >= 10):
# the factorisation and the preconditioner solves are memory-bound there, and single precision
# halves the memory. Measured in one SAPS update at (200, 20, 10) (blocks of 210): solves 16.3
# -> 6.7 ms, factorisations 152 -> 110 ms, the update 16.0 -> 10.3 s. On small blocks it gains
# nothing and changes the iterates (a recorded double-pendulum ESAPS update, 189 outer
# iterations, then ends at its iteration limit 1.07 % over its bound).
SINGLE_PRECISION_MIN_BLOCK = 55


def krylov_iterations(block_size):
    """
    Return the GMRES iterations tried before a fresh factorisation, for Newton blocks of p.

    A factorisation costs O(p^3) per block, a GMRES iteration (one preconditioner solve, one
    O(T n^3) product) O(p^2), so the budget grows with p: p // 30, at least 3 and at most 8.
    Measured (bench_core, best of 3, idle): with 3 rather than 6, eight random (100, 4, 2) and
    (200, 8, 4) problems took 8.33 s against 8.80 s summed over SAPS, ESAPS and separate, the
    pendulums' first updates 0-10 % less; at (200, 20, 10) (p = 210) SAPS / ESAPS took 31.7 /
    38.8 s with 3, 26.0 / 27.8 s with 6 and 27.2 / 28.3 s with 7, this rule's value (SAPS with
    another job running: 26.9 s with 8, 33.0 s with 16, 39.1 s with 30).
    """
    return int(min(8, max(3, block_size // 30)))


def _line_search(system, U, step, error):
    """
    Return (U, system(U), relative residual) after a backtracked step, or None.

    Fractions 1, 1/2, ... down to 1e-6 of ``step``; the first whose residual is below ``error``
    is taken (the full step also when it is below 10 ``error``: Newton may rise before it
    converges), a fraction that makes a precision non-PD is halved.
    """
    size = 1.0
    while size > 1e-6:
        try:
            trial = system(U + size * step)
            trial_error = _relative(trial[2], trial[3])
            if trial_error < error or size == 1.0 and trial_error < 10.0 * error:
                return U + size * step, trial, trial_error
        except NotPositiveDefiniteError:
            pass
        size *= 0.5
    return None


def right_preconditioned_gmres(apply, precondition, rhs, tolerance, max_iterations):
    """
    Return x with ||rhs - A x|| <= tolerance ||rhs|| by GMRES on A P^-1, or None.

    ``apply`` is x -> A x, ``precondition`` is y -> P^-1 y. Right preconditioning minimises the
    true residual over x in P^-1 K_k(A P^-1, rhs) (Saad, Iterative Methods for Sparse Linear
    Systems, 2003, Alg. 9.5), modified Gram-Schmidt; with P = A the first iterate is exact.
    """
    norm = np.linalg.norm(rhs)
    if norm == 0.0:
        return np.zeros_like(rhs)
    basis, directions = [rhs / norm], []
    hessenberg = np.zeros((max_iterations + 1, max_iterations))
    target = np.zeros(max_iterations + 1)
    target[0] = norm
    for j in range(max_iterations):
        directions.append(precondition(basis[j]))
        w = apply(directions[j])
        for i in range(j + 1):
            hessenberg[i, j] = w @ basis[i]
            w = w - hessenberg[i, j] * basis[i]
        hessenberg[j + 1, j] = np.linalg.norm(w)
        H = hessenberg[:j + 2, :j + 1]
        y = np.linalg.lstsq(H, target[:j + 2], rcond=None)[0]
        achieved = np.linalg.norm(H @ y - target[:j + 2])
        if achieved <= tolerance * norm or hessenberg[j + 1, j] <= 1e-14 * norm:
            return np.asarray(directions).T @ y if achieved <= tolerance * norm else None
        basis.append(w / hessenberg[j + 1, j])
    return None


class ChordCache:
    """The last factorised :class:`CovarianceJacobian` of an update, and how often it served."""

    def __init__(self):
        self.jacobian = None
        self.factorised = 0
        self.reused = 0


class CovarianceJacobian:
    """
    A factorised residual Jacobian J on half-vectorised symmetric matrices.

    ``factors`` factorise -J in the orthonormal coordinates of
    :attr:`_HalfVectorisation.scale` (see :meth:`CovarianceProblem.jacobian`); :attr:`single`
    says whether in single precision.
    """

    def __init__(self, half, factors):
        self.half, self.factors = half, factors
        self.single = getattr(factors, 'dtype', np.float64) == np.float32

    def solve(self, rhs):
        """Return x (T, k) solving J x = rhs for half-vectorisations rhs (T, k)."""
        scale = self.half.scale
        return self.factors.solve(-scale * rhs) / scale

    def step(self, residual):
        """Return the symmetric dU (T, dx, dx) solving J dU = -residual."""
        T = residual.shape[0]
        return self.half.symmetric(self.solve(-residual.reshape(T, -1)[:, self.half.upper]))


class _HalfVectorisation:
    """vech of symmetric dx x dx matrices: the upper triangle (i <= j) of the row-major vec."""

    def __init__(self, dx):
        self.rows, self.cols = np.triu_indices(dx)
        self.upper = self.rows * dx + self.cols
        self.lower = self.cols * dx + self.rows
        self.off_diagonal = (self.rows != self.cols).astype(float)[None, None, :]
        # vech entries scaled by this are orthonormal coordinates for the Frobenius product
        self.scale = np.where(self.rows == self.cols, 1.0, np.sqrt(2.0))
        self.ratio = self.scale[:, None] / self.scale
        self.size = self.rows.size
        self.dx = dx

    def add_congruence(self, out, w, L, mask=None):
        """
        Add to ``out`` (T, k, k) the blocks of the maps Y -> w_t L_t Y L_t' on symmetric Y.

        In the orthonormal coordinates y = scale * vech(Y) (in which a self-adjoint map has a
        symmetric matrix): entry ((i, j), (k, l)) is w (L_ik L_jl + L_il L_jk) s_ij / s_kl for
        k < l and w L_ik L_jk s_ij for k = l, with s the :attr:`scale` (Y_kl = Y_lk enters
        through both terms). ``out`` may be a strided view; ``mask`` (k, k) multiplies every
        block before it is added. Computed in ``out``'s precision (float64 or float32), a few
        time steps at a time (about 2^16 entries) so the gathers stay in cache.
        """
        i, j = self.rows, self.cols
        dtype = out.dtype
        L, w = np.asarray(L, dtype=dtype), np.asarray(w, dtype=dtype)
        ratio = (self.ratio if mask is None else self.ratio * mask).astype(dtype)
        off_diagonal = self.off_diagonal.astype(dtype)
        chunk = max(1, 2 ** 16 // self.size ** 2)
        for start in range(0, out.shape[0], chunk):
            steps = slice(start, start + chunk)
            Li, Lj = L[steps, i, :], L[steps, j, :]
            block = Li[:, :, i] * Lj[:, :, j]
            block += off_diagonal * (Li[:, :, j] * Lj[:, :, i])
            block *= ratio
            block *= w[steps, None, None]
            out[steps] += block

    def symmetric(self, vech):
        """Return the symmetric matrices (T, dx, dx) of half-vectorisations (T, k)."""
        full = np.zeros((vech.shape[0], self.dx * self.dx))
        full[:, self.upper] = vech
        full[:, self.lower] = vech
        return full.reshape(-1, self.dx, self.dx)


def _relative(residual, predicted):
    """Return max_t ||r_t|| / ||S_t|| (Frobenius): the convergence measure."""
    scale = np.maximum(np.linalg.norm(predicted, axis=(1, 2)), 1e-300)
    return float(np.max(np.linalg.norm(residual, axis=(1, 2)) / scale))


# the LU (used where the banded Cholesky fails): largest block for which one banded LAPACK
# factorisation beats the block recursion, measured at T = 200, blocks of 10 (dx = 4): banded
# factor 0.67 ms and solve 0.05 ms against 0.95 and 0.59 ms; blocks of 36 (dx = 8): 18.8 and
# 0.73 ms against 5.5 and 1.0 ms
BANDED_MAX_BLOCK = 15


class SymmetricBlockBand:
    """
    A symmetric block-tridiagonal matrix, T blocks of m, in LAPACK's lower band storage.

    The matrix is a band of 2 m - 1 sub-diagonals: entry (r, c), r >= c, is band[r - c, c].
    The band is kept transposed in C order, ``columns`` (T m, 2 m), which is the band in
    Fortran order (no copy for LAPACK), of ``dtype`` (float64 or float32); ``buffer``, if given
    and of that shape and type, is reused for it. Two writable
    views receive the blocks (add to them, e.g. with :meth:`_HalfVectorisation.add_congruence`):

    - :attr:`upper` (T - 1, m, m), the blocks above the diagonal: upper[t][i, j], entry
      (t m + i, (t + 1) m + j), is stored as entry ((t + 1) m + j, t m + i), i.e. columns[t m +
      i, m + j - i];
    - :attr:`diagonal` (T, m, m): diagonal[t][j, i] is entry (t m + i, t m + j) for i >= j, i.e.
      the upper triangle of the symmetric block. For i < j it aliases entries outside the
      block-tridiagonal part or of :attr:`upper`, so only blocks multiplied by
      :attr:`diagonal_mask` (zero below the diagonal) may be added to it.
    """

    def __init__(self, T, m, dtype=np.float64, buffer=None):
        rows = 2 * m
        if buffer is not None and buffer.shape == (T * m, rows) and buffer.dtype == dtype:
            buffer.fill(0.0)
            self.columns = buffer
        else:
            self.columns = np.zeros((T * m, rows), dtype=dtype)
        flat, item = self.columns.reshape(-1), self.columns.itemsize
        self.upper = np.lib.stride_tricks.as_strided(
            flat[m:], shape=(T - 1, m, m), strides=(m * rows * item, (rows - 1) * item, item))
        self.diagonal = np.lib.stride_tricks.as_strided(
            flat, shape=(T, m, m), strides=(m * rows * item, (rows - 1) * item, item))
        self.diagonal_mask = np.triu(np.ones((m, m)))

    def cholesky(self):
        """
        Return :class:`BandedCholesky` factors, computed in place (the band is overwritten).

        Measured at T = 200, idle machine, factorise / solve in ms, against the LU used before
        (banded for blocks up to 15, block by block above): blocks of 10: 0.20 / 0.05 against
        0.61 / 0.06; 36: 3.2 / 0.34 against 4.9 / 0.92; 105: 35.7 / 2.4 against 54 / 3.4; 210:
        152-203 / 15.9 against 315 / 20 (a block Cholesky recursion: 172 / 15-16.5).
        """
        return BandedCholesky(self.columns)


class BandedCholesky:
    """
    Banded Cholesky factors (LAPACK pbtrf, lower storage) of a positive definite matrix.

    ``columns``: the band's transpose in C order (:class:`SymmetricBlockBand`), float64 or
    float32, factorised in place; :attr:`buffer` is that memory, for reuse once the factors are
    no longer needed. Solves take and return float64 whatever the factors' precision.
    """

    def __init__(self, columns):
        self.buffer, self.dtype = columns, columns.dtype
        single = self.dtype == np.float32
        self._solver = spbtrs if single else dpbtrs
        self.factor, info = (spbtrf if single else dpbtrf)(columns.T, lower=1, overwrite_ab=1)
        if info != 0:
            raise np.linalg.LinAlgError('block-tridiagonal matrix is not positive definite '
                                        '(LAPACK pbtrf info %d)' % info)

    def solve(self, rhs):
        """Return x (T, m) solving the system for rhs (T, m)."""
        x, info = self._solver(self.factor, rhs.reshape(-1, 1).astype(self.dtype), lower=1)
        if info != 0:
            raise np.linalg.LinAlgError('LAPACK pbtrs failed (info %d)' % info)
        return x.reshape(rhs.shape).astype(np.float64)


def factorise_block_tridiagonal(lower, diag, upper):
    """Return the LU factors of a block-tridiagonal matrix (banded for small blocks)."""
    if diag.shape[1] <= BANDED_MAX_BLOCK:
        return BandedLU(lower, diag, upper)
    return BlockTridiagonalLU(lower, diag, upper)


class BandedLU:
    """
    LU of a block-tridiagonal matrix as one banded matrix (LAPACK gbtrf / gbtrs).

    Same arguments as :class:`BlockTridiagonalLU`. With blocks of m, the band has m - 1 + m
    diagonals on each side; one LAPACK call factors or solves, without a Python loop over
    blocks, which is what the block recursion spends its time on when m is small.
    """

    def __init__(self, lower, diag, upper):
        T, m = diag.shape[0], diag.shape[1]
        self.width = 2 * m - 1
        rows, positions = _band_layout(T, m)
        band = np.zeros((rows, T * m))
        band.reshape(-1)[positions] = np.concatenate([diag.ravel(), upper.ravel(),
                                                      lower.ravel()])
        self.lu, self.pivots, info = gbtrf(band, self.width, self.width)
        if info != 0:
            raise np.linalg.LinAlgError('singular block in the covariance Newton system')

    def solve(self, rhs):
        """Return x (T, m) solving the system for rhs (T, m)."""
        x, info = gbtrs(self.lu, self.width, self.width, rhs.reshape(-1), self.pivots)
        if info != 0:
            raise np.linalg.LinAlgError('LAPACK gbtrs failed (info %d)' % info)
        return x.reshape(rhs.shape)


@functools.lru_cache(maxsize=16)
def _band_layout(T, m):
    """
    Return (rows, flat positions) of the gbtrf band storage for T blocks of m.

    The positions of the entries of diag, upper and lower (concatenated, row-major) in the
    flattened (rows, T m) band: entry (r, c) of the matrix is band[2 w + r - c, c] with w = 2 m
    - 1 diagonals on each side (gbtrf keeps w extra rows on top for its fill-in).
    """
    width = 2 * m - 1
    n = T * m
    i, j = np.arange(m)[:, None], np.arange(m)[None, :]
    r, c = np.arange(T)[:, None, None] * m + i, np.arange(T)[:, None, None] * m + j
    pairs = [(r, c), (r[:-1], c[1:]), (r[1:], c[:-1])]  # diag, upper, lower
    positions = np.concatenate([((2 * width + rr - cc) * n + cc).ravel() for rr, cc in pairs])
    return 3 * width + 1, positions


class BlockTridiagonalLU:
    """
    Block LU (Thomas algorithm) of a block-tridiagonal matrix, reusable for many right sides.

    diag: (T, m, m); upper[t] couples block t to t+1, lower[t] couples t+1 to t: (T-1, m, m).
    Each eliminated diagonal block is LU-factored once (LAPACK getrf); the multipliers
    lower[t] d[t]^-1 are kept, so :meth:`solve` costs two sweeps of small products and solves.
    """

    def __init__(self, lower, diag, upper):
        T = diag.shape[0]
        self.upper = upper
        self.factors = [None] * T
        self.multipliers = [None] * T
        d = diag[0]
        for t in range(T):
            if t > 0:
                # lower @ d^-1 = (d^-T lower^T)^T: solve with the transposed factors
                multiplier = _lu_solve(self.factors[t - 1], lower[t - 1].T, trans=1).T
                self.multipliers[t] = multiplier
                d = diag[t] - multiplier @ upper[t - 1]
            self.factors[t] = _lu_factor(d)

    def solve(self, rhs):
        """Return x (T, m) solving the system for rhs (T, m)."""
        T = rhs.shape[0]
        r = rhs.copy()
        for t in range(1, T):
            r[t] -= self.multipliers[t] @ r[t - 1]
        x = np.empty_like(r)
        x[T - 1] = _lu_solve(self.factors[T - 1], r[T - 1])
        for t in range(T - 2, -1, -1):
            x[t] = _lu_solve(self.factors[t], r[t] - self.upper[t] @ x[t + 1])
        return x


def _lu_factor(matrix):
    lu, piv, info = getrf(matrix)
    if info != 0:
        raise np.linalg.LinAlgError('singular block in the covariance Newton system')
    return lu, piv


def _lu_solve(factor, rhs, trans=0):
    solution, info = getrs(factor[0], factor[1], rhs, trans=trans)
    if info != 0:
        raise np.linalg.LinAlgError('LAPACK getrs failed (info %d)' % info)
    return solution
