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
The one LQG machine: augmented quadratic reward, soft backward pass, forward pass.

GPS, SAPS and ESAPS (thesis ch. 3-5) and exact-model iLQR all run on these functions. Quadratic
functions of the state s (dx) or of the state-action pair x = [s; a] (dx + du) are held as
``Quadratic(F, f, f0)``: q(x) = 1/2 x' F x + x' f + f0, batched over a leading time axis.

* ``reward_quadratic``           R_t(s, a) of thesis sec. 1.3.1 in that form.
* ``augment``                    r_t = R_t + alpha_t log q_t(a|s) (eq. 3.9/3.10-3.11), plus the
                                 state terms alpha_t (log q_t(s) - log p_t(s) - 1) of SAPS/ESAPS
                                 (eq. 4.7/4.8).
* ``soft_max_action``            V(s) = eta log int exp(Q(s, a) / eta) da and the linear-Gaussian
                                 policy pi(a|s) ~ exp(Q / eta) (eq. 3.4/3.7a, 4.2/4.5a, 5.2/5.6);
                                 eta = 0 is the hard maximum of DDP/iLQR (sec. 2.1).
* ``backward_pass``              the recursion of eq. 3.7a with E[V_{t+1}] under the dynamics.
* ``forward_pass``               the state and state-action Gaussian marginals of eq. 3.7b.
"""

from dataclasses import dataclass
import functools
import math

import numpy as np
from ps_control.core.gaussian import (batched_cholesky, gaussian_log_density_quadratic,
                                      inverse_from_cholesky, LOG_2PI, logdet_from_cholesky,
                                      NotPositiveDefiniteError)
from ps_control.core.linear_gaussian import check_finite
from scipy.linalg.lapack import dposv, dtrtri


@dataclass(frozen=True, eq=False)
class Quadratic:
    """Batched quadratic forms q(x) = 1/2 x' F x + x' f + f0."""

    F: np.ndarray
    f: np.ndarray
    f0: np.ndarray

    def __add__(self, other):
        return Quadratic(self.F + other.F, self.f + other.f, self.f0 + other.f0)

    def scale(self, weights):
        """Multiply each form of the batch by ``weights`` (broadcast over the leading axis)."""
        w = np.asarray(weights, dtype=float)
        return Quadratic(self.F * w[..., None, None], self.f * w[..., None], self.f0 * w)

    def __getitem__(self, index):
        return Quadratic(self.F[index], self.f[index], self.f0[index])

    def evaluate(self, x):
        """Evaluate at points x (..., n) matching the batch shape."""
        return (0.5 * np.einsum('...i,...ij,...j->...', x, self.F, x)
                + np.einsum('...i,...i->...', x, self.f) + self.f0)

    def expectation(self, means, covs):
        """Return E[q(x)] for x ~ N(means, covs)."""
        return self.evaluate(means) + 0.5 * np.einsum('...ij,...ji->...', self.F, covs)

    def embed_state(self, du):
        """Lift a quadratic in s (dx) to one in x = [s; a] that ignores a."""
        dx = self.F.shape[-1]
        F = np.zeros(self.F.shape[:-2] + (dx + du, dx + du))
        F[..., :dx, :dx] = self.F
        f = np.zeros(self.f.shape[:-1] + (dx + du,))
        f[..., :dx] = self.f
        return Quadratic(F, f, self.f0)


def reward_quadratic(reward):
    """
    Return the task reward of thesis sec. 1.3.1 as quadratics (per-step over [s; a], terminal).

    R_t(s, a) = (z_t - s)' M_t (z_t - s) + (y_t - a)' H_t (y_t - a) gives F = 2 diag(M_t, H_t),
    f = [-2 M_t z_t; -2 H_t y_t], f0 = z_t' M_t z_t + y_t' H_t y_t; the terminal R_T(s) likewise
    without a.
    """
    T, dx = reward.T, reward.M.shape[-1]
    du = reward.H.shape[-1]
    F = np.zeros((T, dx + du, dx + du))
    F[:, :dx, :dx] = 2.0 * reward.M[:T]
    F[:, dx:, dx:] = 2.0 * reward.H
    Mz = np.einsum('tij,tj->ti', reward.M, reward.z)
    Hy = np.einsum('tij,tj->ti', reward.H, reward.y)
    f = np.zeros((T, dx + du))
    f[:, :dx] = -2.0 * Mz[:T]
    f[:, dx:] = -2.0 * Hy
    f0 = np.einsum('ti,ti->t', reward.z, Mz)
    f0[:T] += np.einsum('ti,ti->t', reward.y, Hy)
    step = Quadratic(F, f, f0[:T])
    terminal = Quadratic(2.0 * reward.M[T], -2.0 * Mz[T], f0[T])
    return step, terminal


def policy_log_density_quadratic(policy):
    """
    Return log q_t(a|s) of a linear-Gaussian policy as a quadratic over x = [s; a].

    With e = a - K s - k = G x - k, G = [-K, I]: log q = -1/2 e' P e - 1/2 log|2 pi S|
    (the alpha-terms of thesis eq. 3.11a-f divided by alpha).
    """
    T, du, dx = policy.K.shape
    G = np.concatenate([-policy.K, np.broadcast_to(np.eye(du), (T, du, du))], axis=2)
    Fa, fa, f0 = gaussian_log_density_quadratic(policy.k, policy.cov)
    # log N(a | m, S) with a -> G x and m = k: x' G' Fa G x / 2 + x' G' fa + f0
    F = np.einsum('tji,tjk,tkl->til', G, Fa, G)
    f = np.einsum('tji,tj->ti', G, fa)
    return Quadratic(F, f, f0)


def state_log_density_quadratic(means, covs):
    """Return log N(s | means_t, covs_t) as a quadratic over s (batched)."""
    return Quadratic(*gaussian_log_density_quadratic(means, covs))


def augment(step_reward, alpha, policy_log_density, state_terms=None, state_alpha=None):
    """
    Return the augmented reward r_t over x = [s; a].

    GPS (thesis eq. 3.9): r_t = R_t + alpha_t log q_t(a|s).
    SAPS / ESAPS (eq. 4.7): additionally alpha_t (log q_t(s) - log p_t(s) - 1), where
    ``state_terms`` is the quadratic of log q_t(s) - log p_t(s) over s (p_t the current guess of
    the new state distribution). ``state_alpha`` (default ``alpha``) scales the state terms
    instead: the multiplier of a separate state KL bound (thesis 7.1).
    """
    alpha = np.asarray(alpha, dtype=float)
    total = step_reward + policy_log_density.scale(alpha)
    if state_terms is not None:
        du = step_reward.F.shape[-1] - state_terms.F.shape[-1]
        shifted = Quadratic(state_terms.F, state_terms.f, state_terms.f0 - 1.0)
        scale = alpha if state_alpha is None else np.asarray(state_alpha, dtype=float)
        total = total + shifted.embed_state(du).scale(scale)
    return total


def expected_next_value(dynamics, value, t=None):
    """
    Return E[V_{t+1}(s')] over s' ~ N(A s + B a + c, cov) as a quadratic over [s; a].

    With D = [A, B]: F = D' V D, f = D' (V c + v), f0 = 1/2 c' V c + c' v + v0 + 1/2 tr(V cov).
    ``value`` holds V_{t+1} for the selected steps (batched, or one step when ``t`` is given).
    """
    if t is None:
        A, B, c, cov = dynamics.A, dynamics.B, dynamics.c, dynamics.cov
    else:
        A, B, c, cov = dynamics.A[t], dynamics.B[t], dynamics.c[t], dynamics.cov[t]
    D = np.concatenate([A, B], axis=-1)
    Dt = D.mT
    V, v = value.F, value.f
    F = Dt @ V @ D
    Vc = (V @ c[..., None])[..., 0]
    f = (Dt @ (Vc + v)[..., None])[..., 0]
    f0 = 0.5 * (c * Vc).sum(-1) + (c * v).sum(-1) + value.f0 + 0.5 * (V * cov).sum((-1, -2))
    return Quadratic(F, f, f0)


@dataclass(frozen=True, eq=False)
class SoftMax:
    """Result of ``soft_max_action``: the value over s and the linear-Gaussian policy."""

    value: Quadratic
    K: np.ndarray
    k: np.ndarray
    cov: np.ndarray
    neg_Qaa_chol: np.ndarray


def soft_max_action(Q, eta, dx):
    """
    Integrate the action out of exp(Q(s, a) / eta) (thesis eq. 3.4, 3.7a, 5.6).

    For Q_aa negative definite the policy pi(a|s) ~ exp(Q / eta) is N(K s + k, eta (-Q_aa)^-1)
    with K = (-Q_aa)^-1 Q_as, k = (-Q_aa)^-1 q_a, and
    V(s) = eta log int exp(Q / eta) da = max_a Q(s, a) + eta/2 log|2 pi eta (-Q_aa)^-1|.
    eta = 0 gives the hard maximum (DDP / iLQR, sec. 2.1) with a zero covariance.

    Raises NotPositiveDefiniteError (with the failing batch indices) when -Q_aa is not positive
    definite: the multiplier that scales the previous policy's log-density is too small.
    """
    F, f = Q.F, Q.f
    if F.ndim == 2 and F.shape[-1] > dx and np.ndim(eta) == 0:
        return _soft_max_single(F, f, Q.f0, eta, dx)
    Qss, Qas, Qaa = F[..., :dx, :dx], F[..., dx:, :dx], F[..., dx:, dx:]
    qs, qa = f[..., :dx], f[..., dx:]
    du = Qaa.shape[-1]
    chol = batched_cholesky(-Qaa, '-Q_aa')
    inv_neg_qaa = inverse_from_cholesky(chol)
    K = inv_neg_qaa @ Qas
    k = (inv_neg_qaa @ qa[..., None])[..., 0]
    Qsa = Qas.mT
    Vss = Qss + Qsa @ K
    Vss = 0.5 * (Vss + Vss.mT)
    vs = qs + (Qsa @ k[..., None])[..., 0]
    v0 = Q.f0 + 0.5 * (qa * k).sum(-1)
    eta = np.asarray(eta, dtype=float)
    cov = eta[..., None, None] * inv_neg_qaa
    positive = eta > 0
    if np.any(positive):
        log_norm = 0.5 * eta * (du * (LOG_2PI + np.log(np.where(positive, eta, 1.0)))
                                - logdet_from_cholesky(chol))
        v0 = v0 + np.where(positive, log_norm, 0.0)
    return SoftMax(Quadratic(Vss, vs, v0), K, k, 0.5 * (cov + cov.mT), chol)


def _soft_max_single(F, f, f0, eta, dx):
    """``soft_max_action`` for one unbatched Q: the same formulas on 2-D arrays with LAPACK."""
    Qss, Qas, Qaa = F[:dx, :dx], F[dx:, :dx], F[dx:, dx:]
    qs, qa = f[:dx], f[dx:]
    du = Qaa.shape[-1]
    chol = batched_cholesky(-Qaa, '-Q_aa')
    inv_chol, info = dtrtri(chol, lower=1)
    if info:
        raise np.linalg.LinAlgError('Singular matrix')
    inv_neg_qaa = inv_chol.T.dot(inv_chol)
    K = inv_neg_qaa.dot(Qas)
    k = inv_neg_qaa.dot(qa)
    Qsa = Qas.T
    Vss = Qss + Qsa.dot(K)
    Vss = 0.5 * (Vss + Vss.T)
    vs = qs + Qsa.dot(k)
    v0 = f0 + 0.5 * (qa * k).sum(-1)
    eta = np.asarray(eta, dtype=float)
    cov = eta * inv_neg_qaa
    if eta > 0:
        v0 = v0 + 0.5 * eta * (du * (LOG_2PI + np.log(eta)) - logdet_from_cholesky(chol))
    return SoftMax(Quadratic(Vss, vs, v0), K, k, 0.5 * (cov + cov.T), chol)


@dataclass(frozen=True, eq=False)
class BackwardResult:
    """Value functions V_0..V_T over s and the policy pi_t = N(K_t s + k_t, cov_t)."""

    value: Quadratic
    K: np.ndarray
    k: np.ndarray
    cov: np.ndarray


def _homogeneous(F, f, f0, out=None):
    """
    Return the negated homogeneous forms -[[2 f0, f'], [f, F]] of quadratics (batched).

    q(x) = 1/2 y' [[2 f0, f'], [f, F]] y with y = [1; x], so a composition with an affine map
    is one matrix product and the soft maximum one partitioned Schur complement.
    """
    if out is None:
        n = F.shape[-1]
        out = np.empty(F.shape[:-2] + (n + 1, n + 1))
    out[..., 0, 0] = -2.0 * f0
    out[..., 1:, 0] = out[..., 0, 1:] = -f
    out[..., 1:, 1:] = -F
    return out


@functools.lru_cache(maxsize=None)
def _lower_mask(n):
    """Return the (read-only) n x n matrix of ones on and below the diagonal."""
    mask = np.tri(n)
    mask.flags.writeable = False
    return mask


def _solve_without_actions(neg_qaa, rhs, lower):
    """Stand in for LAPACK posv when du = 0 (which it rejects): empty factor and solution."""
    return neg_qaa, rhs, 0


def backward_pass(dynamics, step_reward, terminal_reward, eta):
    """
    Run the soft Bellman recursion of thesis eq. 3.7a / 4.5a / 5.6 backwards in time.

    V_T = R_T; Q_t = r_t + E[V_{t+1}(s')]; V_t, pi_t = soft_max_action(Q_t, eta_t).
    ``step_reward`` is the (augmented) quadratic r_t over [s; a] for t < T, ``eta`` (T,) the
    temperatures (alpha_t for GPS/SAPS, alpha_t + beta_t for ESAPS, 0 for the hard maximum).
    Raises NotPositiveDefiniteError listing the time step where -Q_aa is not positive definite,
    and NonFiniteError naming the first non-finite value function.

    The sequential part works on single 2-D homogeneous forms over y = [1; s; a] and calls
    LAPACK directly. With U_{t+1} = -[[2 v0, v'], [v, V]] (V_{t+1} negated) and the affine map
    D~_t = [[1, 0, 0], [c_t, A_t, B_t]] taking y to [1; s'], -Q_t = -r_t + D~_t' U_{t+1} D~_t is
    eq. 3.7a's Q_t (negated) up to the constant 1/2 tr(V_{t+1} Sigma_t). Splitting y into
    z = [1; s] and a: -Q_aa = L L', X = (-Q_aa)^-1 (-Q_az) = -[k, K] (one posv call) and
    U_t = -Q_zz + Q_az' X, i.e. V_t, v_t and 2 v0_t of eq. 3.7a / 3.12 without its log-normaliser.
    Constants never feed back into K, k or V, so 1/2 tr(V_{t+1} Sigma_t) and
    eta_t/2 log|2 pi eta_t (-Q_aa)^-1| are added to v0 afterwards, batched over time. In y a
    non-finite v or v0 would spread into V (0 * inf), so a pass that meets NaN / inf is redone
    block-wise (V, v, v0 apart, one ``soft_max_action`` per step), which decides the error.
    """
    T, dx, du = dynamics.T, dynamics.dx, dynamics.du
    eta = np.asarray(eta, dtype=float)
    if eta.shape != (T,):
        eta = np.broadcast_to(eta, (T,))
    n = dx + du
    s, a = slice(0, dx + 1), slice(dx + 1, n + 1)
    neg_r = _homogeneous(step_reward.F[:T], step_reward.f[:T], step_reward.f0[:T])
    D = np.zeros((T, dx + 1, n + 1))
    D[:, 0, 0] = 1.0
    D[:, 1:, 0] = dynamics.c
    D[:, 1:, 1:dx + 1] = dynamics.A
    D[:, 1:, dx + 1:] = dynamics.B
    Dt = D.mT.copy()
    U = np.empty((T + 1, dx + 1, dx + 1))
    _homogeneous(terminal_reward.F, terminal_reward.f, terminal_reward.f0, out=U[T])
    X = np.empty((T, du, dx + 1))
    chol = np.empty((T, du, du))
    # Cholesky of -Q_aa (lower triangle, as np.linalg.cholesky) and X in one LAPACK call
    solve = dposv if du else _solve_without_actions
    u = U[T]
    for t in range(T - 1, -1, -1):
        P = Dt[t].dot(u).dot(D[t])
        P += neg_r[t]
        P_as = P[a, s]
        L, x, info = solve(P[a, a], P_as, lower=1)
        if info:
            if not np.isfinite(P).all():
                return _backward_pass_by_blocks(dynamics, step_reward, terminal_reward, eta)
            raise NotPositiveDefiniteError(
                '-Q_aa is not positive definite at time step %d (multiplier too small)' % t,
                [t])
        w = P[s, s] - P_as.T.dot(x)
        u = U[t]
        np.add(w, w.T, out=u)
        u *= 0.5
        X[t], chol[t] = x, L
    if du > 1:
        chol *= _lower_mask(du)  # posv leaves the upper triangle of -Q_aa above the factor
    cov = eta[:, None, None] * inverse_from_cholesky(chol)
    VF = -U[:, 1:, 1:]
    extra = 0.5 * np.einsum('tij,tij->t', VF[1:], dynamics.cov)
    positive = eta > 0
    if positive.any():
        every = positive.all()
        log_norm = 0.5 * eta * (du * (LOG_2PI + np.log(eta if every else
                                                       np.where(positive, eta, 1.0)))
                                - logdet_from_cholesky(chol))
        extra += log_norm if every else np.where(positive, log_norm, 0.0)
    v0 = -0.5 * U[:, 0, 0]
    v0[:T] += extra[::-1].cumsum()[::-1]
    if not math.isfinite(U.sum() + v0.sum()):  # NaN / inf anywhere (or an overflowing sum)
        return _backward_pass_by_blocks(dynamics, step_reward, terminal_reward, eta)
    return BackwardResult(Quadratic(VF, -U[:, 1:, 0], v0), -X[:, :, 1:], -X[:, :, 0],
                          0.5 * (cov + cov.mT))


def _backward_pass_by_blocks(dynamics, step_reward, terminal_reward, eta):
    """``backward_pass`` as V, v, v0 blocks, one ``soft_max_action`` per step (any input)."""
    T, dx, du = dynamics.T, dynamics.dx, dynamics.du
    VF = np.empty((T + 1, dx, dx))
    vf = np.empty((T + 1, dx))
    v0 = np.empty(T + 1)
    K = np.empty((T, du, dx))
    k = np.empty((T, du))
    cov = np.empty((T, du, du))
    VF[T], vf[T], v0[T] = terminal_reward.F, terminal_reward.f, terminal_reward.f0
    for t in range(T - 1, -1, -1):
        next_value = Quadratic(VF[t + 1], vf[t + 1], v0[t + 1])
        Q = step_reward[t] + expected_next_value(dynamics, next_value, t)
        try:
            result = soft_max_action(Q, eta[t], dx)
        except NotPositiveDefiniteError:
            raise NotPositiveDefiniteError(
                '-Q_aa is not positive definite at time step %d (multiplier too small)' % t,
                [t]) from None
        VF[t], vf[t], v0[t] = result.value.F, result.value.f, result.value.f0
        K[t], k[t], cov[t] = result.K, result.k, result.cov
    check_finite('value function V', VF)
    check_finite('value function v0', v0)
    return BackwardResult(Quadratic(VF, vf, v0), K, k, cov)


@dataclass(frozen=True, eq=False)
class Marginals:
    """Gaussian state marginals (T+1) and action marginals / state-action covariances (T)."""

    state_means: np.ndarray
    state_covs: np.ndarray
    action_means: np.ndarray
    action_covs: np.ndarray
    action_state_covs: np.ndarray

    def joint(self):
        """Return the state-action Gaussian N([s; a]) per step: means (T, n), covs (T, n, n)."""
        T = self.action_means.shape[0]
        means = np.concatenate([self.state_means[:T], self.action_means], axis=1)
        cross = self.action_state_covs
        top = np.concatenate([self.state_covs[:T], cross.mT], axis=2)
        bottom = np.concatenate([cross, self.action_covs], axis=2)
        return means, np.concatenate([top, bottom], axis=1)


def forward_pass(dynamics, K, k, cov, x0_mean, x0_cov):
    """
    Propagate the state distribution through policy and dynamics (thesis eq. 3.7b).

    mu_{t+1} = N(G m + B k + c, G S G' + B cov B' + Sigma_t) with G = A + B K; the action
    marginal is N(K m + k, K S K' + cov) with Cov(a, s) = K S. Only the state recursion is
    sequential; G_t, B_t k_t + c_t, B_t cov_t B_t' + Sigma_t and the action marginals are
    computed batched over time.
    """
    T, dx = dynamics.T, dynamics.dx
    A, B, c, dyn_cov = dynamics.A, dynamics.B, dynamics.c, dynamics.cov
    K, k, cov = np.asarray(K)[:T], np.asarray(k)[:T], np.asarray(cov)[:T]
    G = A + B @ K
    Gt = G.mT
    offset = (B @ k[..., None])[..., 0] + c
    noise = B @ cov @ B.mT + dyn_cov
    means = np.empty((T + 1, dx))
    covs = np.empty((T + 1, dx, dx))
    means[0], covs[0] = x0_mean, x0_cov
    for t in range(T):
        g = G[t]
        np.add(g.dot(means[t]), offset[t], out=means[t + 1])
        nxt = g.dot(covs[t]).dot(Gt[t])
        nxt += noise[t]
        S = covs[t + 1]
        np.add(nxt, nxt.T, out=S)
        S *= 0.5
    check_finite('state means', means)
    check_finite('state covariances', covs)
    as_covs = K @ covs[:T]
    a_means = (K @ means[:T, :, None])[..., 0] + k
    return Marginals(means, covs, a_means, as_covs @ K.mT + cov, as_covs)


def expected_reward(reward, marginals):
    """Return the expected task reward sum_t E[R_t(s_t, a_t)] + E[R_T(s_T)] under the marginals."""
    step, terminal = reward_quadratic(reward)
    means, covs = marginals.joint()
    T = reward.T
    return float(step.expectation(means, covs).sum()
                 + terminal.expectation(marginals.state_means[T], marginals.state_covs[T]))
