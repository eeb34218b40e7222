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

With linear-Gaussian dynamics the Lagrangian of thesis eq. 4.2 (5.2 for ESAPS) separates into a
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
block-tridiagonal solve per iteration. This replaces the fixed-point iteration of Alg. 2 on the
covariances, which is expansive (each sweep can multiply the error) and needs heavy damping.
"""

import numpy as np

from ps_control.core.gaussian import NotPositiveDefiniteError
from scipy.linalg.lapack import dgetrf as getrf, dgetrs as getrs


def _kron(X, Z):
    """Return the batched matrix of Y -> X Y Z on row-major flattened Y: X kron Z'."""
    T = X.shape[0]
    product = X[:, :, None, :, None] * np.swapaxes(Z, 1, 2)[:, None, :, None, :]
    return product.reshape(T, X.shape[1] * Z.shape[2], X.shape[2] * Z.shape[1])


def stationary_precision(M, alpha, beta, dx):
    """Return the precisions P_t of the stationary state-action Gaussians for given M_t."""
    eta = alpha + beta
    P = -M / eta[:, None, None]
    if np.any(beta > 0):
        Maa, Mas = M[:, dx:, dx:], M[:, dx:, :dx]
        Y = np.linalg.solve(Maa, Mas)
        correction = np.swapaxes(Mas, 1, 2) @ Y
        Pss = (-M[:, :dx, :dx] + (beta / eta)[:, None, None] * correction) / alpha[:, None, None]
        P[:, :dx, :dx] = Pss
    return 0.5 * (P + np.swapaxes(P, 1, 2))


def precision_jacobian_terms(M, alpha, beta, dx):
    """
    Return dP_t / dM_t of ``stationary_precision`` as a sum of terms w_k (dM -> X_k dM Z_k).

    SAPS: dP = -dM / eta. ESAPS replaces the ss block by
    dP_ss = (-dM_ss + beta / eta (dM_sa Y + Y' dM_as - Y' dM_aa Y)) / alpha, Y = M_aa^-1 M_as.
    Returns a list of (w (T,), X (T, n, n), Z (T, n, n)).
    """
    T, n = M.shape[0], M.shape[1]
    eta = alpha + beta
    eye = np.broadcast_to(np.eye(n), (T, n, n))
    terms = [(-1.0 / eta, eye, eye)]
    if np.any(beta > 0):
        ss = np.zeros((n, n))
        ss[:dx, :dx] = np.eye(dx)
        ss = np.broadcast_to(ss, (T, n, n))
        Y = np.linalg.solve(M[:, dx:, dx:], M[:, dx:, :dx])  # M_aa^-1 M_as
        right = np.zeros((T, n, n))  # dM -> dM [0; Y] embedded: E_a Y E_s'
        right[:, dx:, :dx] = Y
        left = np.swapaxes(right, 1, 2)  # E_s Y' E_a'
        c = beta / eta / alpha
        terms += [(1.0 / eta - 1.0 / alpha, ss, ss), (c, ss, right), (c, left, ss),
                  (-c, left, right)]
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
        """Return (M_t, C_t, residuals r_t) at multipliers U (T, dx, dx); raise if C_t not PD."""
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
        """
        Return the Newton step dU solving J dU = -r (block-tridiagonal J, row-major vec).

        With dC = -C dP C, dM_t = D' dU_{t+1} D - E dU_t E' and dP = sum_k w_k X_k dM Z_k, every
        block of J is a sum of maps dU -> X dU Z between dx x dx matrices.
        """
        T, dx = self.T, self.dx
        D, DT = self.D, np.swapaxes(self.D, 1, 2)
        m = dx * dx
        diag = np.zeros((T, m, m))
        upper = np.zeros((T - 1, m, m))
        lower = np.zeros((T - 1, m, m))
        for w, X, Z in precision_jacobian_terms(M, self.alpha, self.beta, dx):
            CX, ZC = C @ X, Z @ C
            w = w[:, None, None]
            diag += w * _kron(CX[:, :dx, :dx], ZC[:, :dx, :dx])
            DCXD, DZCD = D @ CX @ DT, D @ ZC @ DT
            diag[1:] += (w * _kron(DCXD, DZCD))[:-1]
            upper += (-w * _kron(CX[:, :dx] @ DT, D @ ZC[:, :, :dx]))[:-1]
            lower += (-w * _kron(D @ CX[:, :, :dx], ZC[:, :dx] @ DT))[:-1]
        rhs = -residual.reshape(T, m)
        return _block_tridiagonal_solve(lower, diag, upper, rhs).reshape(T, dx, dx)

    def solve(self, U0, tolerance=1e-10, max_iterations=50, stall_tolerance=1e-6,
              exact=True):
        """
        Return (U, C, iterations) with every residual below ``tolerance`` (relative).

        Newton with backtracking on the relative residual norm; a step that makes a precision
        non-PD is halved. When no step reduces the residual any more (round-off: for alpha_t
        near 0 the precision P_ss ~ 1 / alpha_t is ill-conditioned) a residual below
        ``stall_tolerance`` is accepted. Raises NotPositiveDefiniteError if the start is
        infeasible and RuntimeError if the iteration does not converge. ``exact=False``
        returns the iterate after ``max_iterations`` steps whatever its residual (an inexact
        inner solve for an outer iteration that moves the multipliers anyway).
        """
        U = 0.5 * (U0 + np.swapaxes(U0, 1, 2))
        M, C, residual, predicted = self.system(U)
        error = _relative(residual, predicted)
        for iteration in range(max_iterations):
            if error <= tolerance:
                return U, C, iteration
            step = self.newton_step(M, C, residual)
            step = 0.5 * (step + np.swapaxes(step, 1, 2))
            size = 1.0
            while size > 1e-6:
                try:
                    trial = self.system(U + size * step)
                    trial_error = _relative(trial[2], trial[3])
                    if trial_error < error or size == 1.0 and trial_error < 10.0 * error:
                        break
                except NotPositiveDefiniteError:
                    pass
                size *= 0.5
            else:
                break
            U = U + size * step
            (M, C, residual, predicted), error = trial, trial_error
        if error <= max(tolerance, stall_tolerance) or not exact:
            return U, C, max_iterations
        raise RuntimeError('state covariance Newton iteration stalled (relative residual %.3g)'
                           % error)


def _relative(residual, predicted):
    """Return max_t ||r_t|| / ||S_t|| (Frobenius): the convergence measure."""
    scale = np.maximum(np.linalg.norm(predicted, axis=(1, 2)), 1e-300)
    return float(np.max(np.linalg.norm(residual, axis=(1, 2)) / scale))


def _block_tridiagonal_solve(lower, diag, upper, rhs):
    """
    Solve a block-tridiagonal system by block Gaussian elimination (Thomas algorithm).

    diag: (T, m, m); upper[t] couples block t to t+1, lower[t] couples t+1 to t: (T-1, m, m);
    rhs: (T, m). Each eliminated diagonal block is LU-factored once (LAPACK getrf) and the
    factors serve both the elimination and the back substitution (getrs).
    """
    T = diag.shape[0]
    d = diag.copy()
    r = rhs.copy()
    factors = [None] * T
    for t in range(T):
        if t > 0:
            # lower @ d^-1 = (d^-T lower^T)^T: solve with the transposed factors
            factor = _lu_solve(factors[t - 1], lower[t - 1].T, trans=1).T
            d[t] -= factor @ upper[t - 1]
            r[t] -= factor @ r[t - 1]
        factors[t] = _lu_factor(d[t])
    x = np.empty_like(r)
    x[T - 1] = _lu_solve(factors[T - 1], r[T - 1])
    for t in range(T - 2, -1, -1):
        x[t] = _lu_solve(factors[t], r[t] - upper[t] @ x[t + 1])
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
