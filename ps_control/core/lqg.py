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

import numpy as np

from ps_control.core.gaussian import (batched_cholesky, gaussian_log_density_quadratic, LOG_2PI,
                                      logdet_from_cholesky, NotPositiveDefiniteError)
from ps_control.core.linear_gaussian import check_finite


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

    R_t(s, a) = (z_t - s)' M_t (z_t - s) + a' H_t a gives F = 2 diag(M_t, H_t),
    f = [-2 M_t z_t; 0], f0 = z_t' M_t z_t; the terminal R_T(s) likewise without a.
    """
    T, dx = reward.T, reward.M.shape[-1]
    du = reward.H.shape[-1]
    F = np.zeros((T, dx + du, dx + du))
    F[:, :dx, :dx] = 2.0 * reward.M[:T]
    F[:, dx:, dx:] = 2.0 * reward.H
    Mz = np.einsum('tij,tj->ti', reward.M, reward.z)
    f = np.zeros((T, dx + du))
    f[:, :dx] = -2.0 * Mz[:T]
    f0 = np.einsum('ti,ti->t', reward.z, Mz)
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


def augment(step_reward, alpha, policy_log_density, state_terms=None):
    """
    Return the augmented reward r_t over x = [s; a].

    GPS (thesis eq. 3.9): r_t = R_t + alpha_t log q_t(a|s).
    SAPS / ESAPS (eq. 4.7): additionally alpha_t (log q_t(s) - log p_t(s) - 1), where
    ``state_terms`` is the quadratic of log q_t(s) - log p_t(s) over s (p_t the current guess of
    the new state distribution).
    """
    alpha = np.asarray(alpha, dtype=float)
    total = step_reward + policy_log_density.scale(alpha)
    if state_terms is not None:
        du = step_reward.F.shape[-1] - state_terms.F.shape[-1]
        shifted = Quadratic(state_terms.F, state_terms.f, state_terms.f0 - 1.0)
        total = total + shifted.embed_state(du).scale(alpha)
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
    Dt = np.swapaxes(D, -1, -2)
    F = Dt @ value.F @ D
    Vc = (value.F @ c[..., None])[..., 0]
    f = (Dt @ (Vc + value.f)[..., None])[..., 0]
    f0 = (0.5 * (c * Vc).sum(-1) + (c * value.f).sum(-1) + value.f0
          + 0.5 * (value.F * cov).sum((-1, -2)))
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
    Qss, Qas = Q.F[..., :dx, :dx], Q.F[..., dx:, :dx]
    Qaa, qs, qa = Q.F[..., dx:, dx:], Q.f[..., :dx], Q.f[..., dx:]
    du = Qaa.shape[-1]
    chol = batched_cholesky(-Qaa, '-Q_aa')
    inv_chol = np.linalg.solve(chol, np.broadcast_to(np.eye(du), Qaa.shape))
    inv_neg_qaa = np.swapaxes(inv_chol, -1, -2) @ inv_chol
    K = inv_neg_qaa @ Qas
    k = (inv_neg_qaa @ qa[..., None])[..., 0]
    Vss = Qss + np.swapaxes(Qas, -1, -2) @ K
    Vss = 0.5 * (Vss + np.swapaxes(Vss, -1, -2))
    vs = qs + (np.swapaxes(Qas, -1, -2) @ k[..., None])[..., 0]
    v0 = Q.f0 + 0.5 * (qa * k).sum(-1)
    eta = np.asarray(eta, dtype=float)
    cov = eta[..., None, None] * inv_neg_qaa
    positive = eta > 0
    if np.any(positive):
        log_norm = 0.5 * eta * (du * (LOG_2PI + np.log(np.where(positive, eta, 1.0)))
                                - logdet_from_cholesky(chol))
        v0 = v0 + np.where(positive, log_norm, 0.0)
    return SoftMax(Quadratic(Vss, vs, v0), K, k, 0.5 * (cov + np.swapaxes(cov, -1, -2)), chol)


@dataclass(frozen=True, eq=False)
class BackwardResult:
    """Value functions V_0..V_T over s and the policy pi_t = N(K_t s + k_t, cov_t)."""

    value: Quadratic
    K: np.ndarray
    k: np.ndarray
    cov: np.ndarray


def backward_pass(dynamics, step_reward, terminal_reward, eta):
    """
    Run the soft Bellman recursion of thesis eq. 3.7a / 4.5a / 5.6 backwards in time.

    V_T = R_T; Q_t = r_t + E[V_{t+1}(s')]; V_t, pi_t = soft_max_action(Q_t, eta_t).
    ``step_reward`` is the (augmented) quadratic r_t over [s; a] for t < T, ``eta`` (T,) the
    temperatures (alpha_t for GPS/SAPS, alpha_t + beta_t for ESAPS, 0 for the hard maximum).
    Raises NotPositiveDefiniteError listing the time step where -Q_aa is not positive definite,
    and NonFiniteError naming the first non-finite value function.
    """
    T, dx, du = dynamics.T, dynamics.dx, dynamics.du
    eta = np.broadcast_to(np.asarray(eta, dtype=float), (T,))
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
        top = np.concatenate([self.state_covs[:T], np.swapaxes(cross, 1, 2)], axis=2)
        bottom = np.concatenate([cross, self.action_covs], axis=2)
        return means, np.concatenate([top, bottom], axis=1)


def forward_pass(dynamics, K, k, cov, x0_mean, x0_cov):
    """
    Propagate the state distribution through policy and dynamics (thesis eq. 3.7b).

    mu_{t+1} = N(G m + B k + c, G S G' + B cov B' + Sigma_t) with G = A + B K; the action
    marginal is N(K m + k, K S K' + cov) with Cov(a, s) = K S.
    """
    T, dx, du = dynamics.T, dynamics.dx, dynamics.du
    means = np.empty((T + 1, dx))
    covs = np.empty((T + 1, dx, dx))
    a_means = np.empty((T, du))
    a_covs = np.empty((T, du, du))
    as_covs = np.empty((T, du, dx))
    means[0], covs[0] = x0_mean, x0_cov
    A, B, c, dyn_cov = dynamics.A, dynamics.B, dynamics.c, dynamics.cov
    for t in range(T):
        KS = K[t] @ covs[t]
        as_covs[t] = KS
        a_means[t] = K[t] @ means[t] + k[t]
        a_covs[t] = KS @ K[t].T + cov[t]
        G = A[t] + B[t] @ K[t]
        means[t + 1] = A[t] @ means[t] + B[t] @ a_means[t] + c[t]
        nxt = G @ covs[t] @ G.T + B[t] @ cov[t] @ B[t].T + dyn_cov[t]
        covs[t + 1] = 0.5 * (nxt + nxt.T)
    check_finite('state means', means)
    check_finite('state covariances', covs)
    return Marginals(means, covs, a_means, a_covs, as_covs)


def expected_reward(reward, marginals):
    """Return the expected task reward sum_t E[R_t(s_t, a_t)] + E[R_T(s_T)] under the marginals."""
    step, terminal = reward_quadratic(reward)
    means, covs = marginals.joint()
    T = reward.T
    return float(step.expectation(means, covs).sum()
                 + terminal.expectation(marginals.state_means[T], marginals.state_covs[T]))
