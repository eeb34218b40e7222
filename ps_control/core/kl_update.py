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
The KL-bounded LQG update shared by GPS, SAPS and ESAPS (thesis Alg. 1, 4 and 5).

Both loops alternate two things:

1. *Consistent passes* at the current multipliers: the augmented reward (eq. 3.9 / 4.7), the
   soft backward pass at temperature alpha_t (+ beta_t) (eq. 3.7a / 4.5a / 5.6) and the forward
   pass (eq. 3.7b). For the state-action bound the augmented reward holds a guess p_t(s) of the
   new state distribution, and the passes are only consistent at the fixed point p_t = mu_t of
   the block descent of Alg. 2. For linear-Gaussian models that fixed point is computed exactly
   (``KLBoundedProblem.fixed_point``): the means from one LQR pass, the covariances by Newton's
   method (ps_control.core.state_covariance).
2. *Multiplier steps* on the dual, whose gradient at consistent passes is the constraint slack:
   * GPS (eq. 3.5, 3.6c): with V_{t+1} and mu_t held fixed each step's dual
     g_t(alpha) = alpha eps + E_mu_t[alpha log int q exp(Q_t / alpha) da] is convex in alpha_t
     alone with dg/dalpha = eps - E_mu_t KL(pi_t || q_t); a vectorised root search in log space
     solves all steps at once (the robust search of the reference implementations), the
     change per outer iteration limited to ``max_multiplier_ratio``. After
     ``coordinate_iterations`` such steps a per-step secant in log alpha on the consistent KL_t
     takes over (it sees the coupling through V_{t+1} that the frozen step ignores).
   * SAPS (eq. 4.6, 4.4c): dg/dalpha_t = eps - KL_t with KL_t the state-action KL at the fixed
     point; a per-step secant search in log alpha moves every alpha_t toward KL_t = eps.
   * ESAPS (eq. 5.5, 5.4c-d): as SAPS, with beta_t from the per-step entropy dual
     dg/dbeta = delta + H(pi_t) at V_{t+1} held fixed (in closed form), temperature
     alpha + beta.
   * Separate bounds (thesis 7.1, ps_control.core.separate_bounds): as SAPS with two
     multipliers per step, alpha_t on the policy KL and gamma_t on the state KL, each moved by
     its own secant search.
   A non-positive-definite -Q_aa (or state precision) means "multiplier too small": GPS raises
   the failing step's alpha tenfold and retries; SAPS / ESAPS pull the step back toward the last
   feasible multipliers, and where no fraction of it is feasible, raise every alpha tenfold
   until it is (``KLBoundedProblem._retreat``).

The loops stop at the KKT conditions: every step meets its bound, |KL_t - eps| <= tolerance *
eps, or is slack (KL_t < eps) with alpha_t at its lower bound or a negligible share of the
duality gap (see ``KLBoundedProblem.converged``); for ESAPS also H(pi_t) >= -delta_t.
"""

from dataclasses import dataclass

import numpy as np

from ps_control.core.gaussian import (batched_cholesky, entropy, expected_policy_kl,
                                      kl_gaussian, LOG_2PI, logdet_from_cholesky,
                                      NotPositiveDefiniteError, pd_mask)
from ps_control.core.linear_gaussian import (check_finite, GaussianState,
                                             LinearGaussianDynamics, LinearGaussianPolicy,
                                             QuadraticReward)
from ps_control.core.lqg import (augment, backward_pass, expected_next_value, expected_reward,
                                 forward_pass, policy_log_density_quadratic, Quadratic,
                                 reward_quadratic, soft_max_action, state_log_density_quadratic)
from ps_control.core.state_covariance import ChordCache, CovarianceProblem

POLICY_BOUND = 'policy'
STATE_ACTION_BOUND = 'state_action'
SEPARATE_BOUNDS = 'separate'  # policy and state KLs bounded separately (thesis 7.1)
# what ``fixed_point`` raises where it finds no fixed point (multipliers too small, or the
# covariance Newton failing from its start)
_NO_FIXED_POINT = (NotPositiveDefiniteError, RuntimeError, np.linalg.LinAlgError)


@dataclass(frozen=True)
class DualSettings:
    """Numerical settings of the multiplier search (bounds, tolerances, iteration limits)."""

    alpha_min: float = 1e-8
    alpha_max: float = 1e16
    beta_max: float = 1e16
    tolerance: float = 0.01
    max_iterations: int = 200
    bisection_tolerance: float = 1e-4
    min_policy_variance: float = 1e-10
    state_tolerance: float = 1e-9
    max_backtracks: int = 10
    pass_start_failures: int = 3  # see KLBoundedProblem._trial_fixed_point
    coordinate_iterations: int = 3
    inexact_newton_steps: int = 1
    inexact_rounds: int = 3  # see KLBoundedProblem._trial_fixed_point
    inexact_gap: float = 0.1
    relative_alpha_floor: float = 5e-3  # tolerance / 2: see _solve_state_action
    max_multiplier_ratio: float = 10.0
    newton_tolerance: float = 1e-8

    def __post_init__(self):
        if not 0 < self.alpha_min < self.alpha_max:
            raise ValueError('DualSettings needs 0 < alpha_min < alpha_max')
        if self.tolerance <= 0 or self.max_iterations < 1:
            raise ValueError('DualSettings needs tolerance > 0 and max_iterations >= 1')
        if self.inexact_newton_steps < 1 or self.inexact_rounds < 1:
            raise ValueError('DualSettings needs inexact_newton_steps >= 1 and '
                             'inexact_rounds >= 1')


@dataclass(frozen=True, eq=False)
class UpdateResult:
    """
    Outcome of one KL-bounded update.

    kl: per-step bound value (E_mu KL(pi||q) for GPS and separate bounds, the state-action KL of
    eq. 4.1c for SAPS/ESAPS); entropy: H(pi_t); alpha, beta: multipliers of the KL and entropy
    bounds; gamma: of the state KL bound (separate bounds only); expected_reward: the task reward
    predicted under the model; state_means/state_covs: mu_0..mu_T; iterations: outer dual
    iterations; converged: every step met its bound within tolerance; dual_value: the dual of
    eq. 3.8 / 4.6 / 5.5 at the returned multipliers.
    """

    policy: LinearGaussianPolicy
    kl: np.ndarray
    entropy: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    expected_reward: float
    state_means: np.ndarray
    state_covs: np.ndarray
    iterations: int
    converged: bool
    dual_value: float
    policy_kl: np.ndarray
    state_kl: np.ndarray
    gamma: np.ndarray = None


class KLBoundedProblem:
    """
    One update problem: model, reward, previous policy q and initial state; the bound type.

    Precomputes the quadratics that do not depend on the multipliers and the previous policy's
    state distribution q_t(s) under the same dynamics (the reference of the SAPS bound).
    """

    def __init__(self, dynamics, reward, previous_policy, initial_state, epsilon, bound,
                 delta=None, settings=None, state_epsilon=None):
        for name, value, kind in (('dynamics', dynamics, LinearGaussianDynamics),
                                  ('reward', reward, QuadraticReward),
                                  ('previous_policy', previous_policy, LinearGaussianPolicy),
                                  ('initial_state', initial_state, GaussianState)):
            if not isinstance(value, kind):
                raise TypeError('%s must be a %s, got %s'
                                % (name, kind.__name__, type(value).__name__))
        T, dx, du = dynamics.T, dynamics.dx, dynamics.du
        if reward.T != T or reward.M.shape[-1] != dx or reward.H.shape[-1] != du:
            raise ValueError('reward shapes (T=%d, dx=%d, du=%d) do not match the dynamics '
                             '(T=%d, dx=%d, du=%d)' % (reward.T, reward.M.shape[-1],
                                                       reward.H.shape[-1], T, dx, du))
        if previous_policy.K.shape != (T, du, dx):
            raise ValueError('previous policy K has shape %s, expected %s'
                             % (previous_policy.K.shape, (T, du, dx)))
        if initial_state.mean.shape != (dx,):
            raise ValueError('initial state has dimension %d, expected %d'
                             % (initial_state.mean.shape[0], dx))
        self.epsilon = _per_step('epsilon', epsilon, T, positive=True)
        self.delta = None if delta is None else _per_step('delta', delta, T)
        if bound not in (POLICY_BOUND, STATE_ACTION_BOUND, SEPARATE_BOUNDS):
            raise ValueError('unknown bound %r' % (bound,))
        if (bound == SEPARATE_BOUNDS) != (state_epsilon is not None):
            raise ValueError('state_epsilon is needed by, and only by, the separate bounds')
        if bound == SEPARATE_BOUNDS and delta is not None:
            raise ValueError('the separate bounds take no entropy bound (delta)')
        self.state_epsilon = None if state_epsilon is None else _per_step(
            'state_epsilon', state_epsilon, T, positive=True)
        self.bound = bound
        self.settings = settings or DualSettings()
        self.dynamics, self.reward = dynamics, reward
        self.previous = previous_policy
        self.x0 = initial_state
        self.T, self.dx, self.du = T, dx, du
        self.step_reward, self.terminal_reward = reward_quadratic(reward)
        self.log_q = policy_log_density_quadratic(previous_policy)
        self.previous_marginals = forward_pass(dynamics, previous_policy.K, previous_policy.k,
                                               previous_policy.cov, initial_state.mean,
                                               initial_state.cov)
        self.q_state_means = self.previous_marginals.state_means[:T]
        self.q_state_covs = self.previous_marginals.state_covs[:T]
        if self.bounds_state:
            self.log_q_state = state_log_density_quadratic(self.q_state_means, self.q_state_covs)
            self.log_q_state_embedded = self.log_q_state.embed_state(du)
            self.chord = ChordCache()  # the covariance Newton's last Jacobian, reused
            self.pass_start_failures = 0  # in a row: see _trial_fixed_point

    @property
    def gap_tolerance(self):
        """Largest max_t KL(p_t || mu_t) that counts as the block-descent fixed point."""
        return self.settings.state_tolerance * max(1.0, float(self.epsilon.max()))

    @property
    def uses_entropy(self):
        return self.delta is not None

    @property
    def bounds_state(self):
        """Say whether the state distribution is bounded (SAPS / ESAPS, separate bounds)."""
        return self.bound != POLICY_BOUND

    def coefficients(self, alpha, beta):
        """
        Return (policy multiplier, state multiplier, temperature) of the augmented reward.

        The Lagrangian holds a_pi log q_t(a|s) + a_s log q_t(s) + a_pi E_mu H(pi_t) + a_s H(mu_t)
        (+ beta H(pi_t) for ESAPS): SAPS / ESAPS (eq. 4.2, 5.2) have a_pi = a_s = alpha_t and
        temperature alpha_t + beta_t; the separate bounds have a_pi = alpha_t (policy KL),
        a_s = gamma_t (state KL; passed as ``beta``) and temperature alpha_t.
        """
        if self.bound == SEPARATE_BOUNDS:
            return alpha, beta, alpha
        return alpha, alpha, alpha + beta

    # -- consistent passes ---------------------------------------------------------------
    def state_terms(self, guess_means, guess_covs):
        """Return log q_t(s) - log p_t(s) over s for the guess p_t (eq. 4.8b, 4.8e, 4.8h-i)."""
        log_p = state_log_density_quadratic(guess_means, guess_covs)
        return Quadratic(self.log_q_state.F - log_p.F, self.log_q_state.f - log_p.f,
                         self.log_q_state.f0 - log_p.f0)

    def passes(self, alpha, beta, guess=None):
        """Backward and forward pass at fixed multipliers (and state guess for SAPS/ESAPS)."""
        terms = None if guess is None else self.state_terms(*guess)
        policy_multiplier, state_multiplier, temperature = self.coefficients(alpha, beta)
        reward = augment(self.step_reward, policy_multiplier, self.log_q, terms,
                         state_multiplier)
        back = backward_pass(self.dynamics, reward, self.terminal_reward, temperature)
        marginals = forward_pass(self.dynamics, back.K, back.k, back.cov, self.x0.mean,
                                 self.x0.cov)
        return back, marginals

    def optimal_means(self, alpha, beta=None):
        """
        Return the state means m_t of the state-action optimum at fixed alpha (SAPS / ESAPS).

        For linear-Gaussian dynamics and policies the dual of eq. 4.3 separates exactly into
        a part over the mean trajectory (m_t, abar_t = K_t m_t + k_t; m_{t+1} = A m + B abar + c
        does not depend on K_t or the covariances) and a part over the covariances. Only the
        covariance part holds the non-linear term alpha_t H(mu_t) of the state KL; the mean part
        is a deterministic LQR with reward R_t + alpha_t log q_t(a|s) + alpha_t log q_t(s)
        evaluated at the means, solved exactly by one hard-max backward pass (eta = 0). Pinning
        the state guess p_t to these means leaves only the covariances to the block descent
        (Alg. 2), whose mean iteration would otherwise contract slowly for large alpha.
        """
        policy_multiplier, state_multiplier, _ = self.coefficients(
            alpha, alpha if beta is None else beta)
        reward = augment(self.step_reward, policy_multiplier, self.log_q, self.log_q_state,
                         state_multiplier)
        back = backward_pass(self.dynamics, reward, self.terminal_reward, 0.0)
        marginals = forward_pass(self.dynamics, back.K, back.k, back.cov, self.x0.mean,
                                 self.x0.cov)
        return marginals.state_means[:self.T]

    def stationary_covariances(self, alpha, beta, value_F, newton_steps=None):
        """
        Return the state covariances S_t of the state-action optimum at fixed multipliers.

        Newton's method on the covariance part of the Lagrangian (ps_control.core.
        state_covariance), started from the quadratic parts ``value_F`` (T, dx, dx) of value
        functions V_t (of a pass, or of the previous fixed point). Returns Newton's last iterate
        (``newton_steps`` caps the steps; ``fixed_point`` judges the result by its KL gap).
        Raises NotPositiveDefiniteError when a precision is not positive definite.
        """
        policy_multiplier, state_multiplier, temperature = self.coefficients(alpha, beta)
        G = (self.step_reward.F + self.log_q.F * policy_multiplier[:, None, None]
             + self.log_q_state_embedded.F * state_multiplier[:, None, None])
        D = np.concatenate([self.dynamics.A, self.dynamics.B], axis=2)
        # the covariance Lagrangian's alpha is the state multiplier, beta = eta - alpha
        problem = CovarianceProblem(G, self.terminal_reward.F, D, self.dynamics.cov,
                                    self.x0.cov, state_multiplier,
                                    temperature - state_multiplier)
        steps = {} if newton_steps is None else {'max_iterations': newton_steps}
        _, C, _ = problem.solve(value_F, tolerance=self.settings.newton_tolerance, exact=False,
                                chord=self.chord, **steps)
        return C[:, :self.dx, :self.dx]

    def fixed_point(self, alpha, beta, value_F=None, newton_steps=None, means=None):
        """
        Return (back, marginals, gap) at the block-descent fixed point p_t = mu_t (Alg. 2).

        The state guess is the exact stationary point of the separated Lagrangian: means from
        ``optimal_means``, covariances from ``stationary_covariances`` (Newton from ``value_F``,
        or from the value functions of one pass with the previous state covariances). ``gap``
        is max_t KL(p_t || mu_t) of the final pass, ~1e-14 when Newton converged. Raises
        NotPositiveDefiniteError where the multipliers are infeasible (too small: -Q_aa or a
        state precision is not PD, the dual is +inf there) and RuntimeError when the gap exceeds
        ``gap_tolerance``. With ``newton_steps`` the covariances are only that many Newton steps
        from ``value_F`` (an approximate fixed point; ``gap`` says how far, no error).
        ``means``: ``optimal_means(alpha, beta)`` if the caller has them already.
        """
        T = self.T
        means = self.optimal_means(alpha, beta) if means is None else means
        if value_F is None:
            back, _ = self.passes(alpha, beta, (means, self.q_state_covs))
            value_F = back.value.F[:T]
        guess = (means, self.stationary_covariances(alpha, beta, value_F, newton_steps))
        back, marginals = self.passes(alpha, beta, guess)
        gap = float(np.max(kl_gaussian(guess[0], guess[1], marginals.state_means[:T],
                                       marginals.state_covs[:T])))
        if newton_steps is None and not gap <= self.gap_tolerance:
            # the Newton residual may stall at round-off (large alpha: ill-conditioned); what
            # counts is whether the guess reproduces itself
            raise RuntimeError('state distribution fixed point not reached (KL gap %.3g)' % gap)
        return back, marginals, gap

    def feasible_passes(self, alpha, beta):
        """Run ``passes`` (policy bound), raising a step's alpha tenfold while -Q_aa is not PD."""
        alpha = alpha.copy()
        while True:
            try:
                return alpha, self.passes(alpha, beta)
            except NotPositiveDefiniteError as error:
                t = error.steps[0]
                if alpha[t] >= self.settings.alpha_max:
                    raise NotPositiveDefiniteError(
                        'no feasible multiplier: -Q_aa is not positive definite at time step %d'
                        ' even for alpha = %g' % (t, alpha[t]), [t]) from None
                alpha[t] = min(10.0 * alpha[t], self.settings.alpha_max)

    def constraint_values(self, back, marginals):
        """Return (bound value, policy KL, state KL, entropy) per step for the given passes."""
        T = self.T
        q = self.previous
        means, covs = marginals.state_means[:T], marginals.state_covs[:T]
        policy_kl = expected_policy_kl(back.K, back.k, back.cov, q.K, q.k, q.cov, means, covs)
        if self.bounds_state:
            state_kl = kl_gaussian(means, covs, self.q_state_means, self.q_state_covs)
        else:
            state_kl = np.zeros(T)
        bound_value = policy_kl + state_kl if self.bound == STATE_ACTION_BOUND else policy_kl
        return bound_value, policy_kl, state_kl, entropy(back.cov)

    def dual_value(self, back, alpha, beta):
        """
        Dual of eq. 3.8 (GPS), 4.6 (SAPS) or 5.5 (ESAPS) at consistent passes.

        The separate bounds: V_0 + sum_t alpha_t eps_t + gamma_t (state_eps_t + 1), the 1 from
        the normalisation of mu_t as in eq. 4.6 (gamma_t is passed as ``beta``).
        """
        v0 = float(back.value[0].expectation(self.x0.mean, self.x0.cov))
        if self.bound == SEPARATE_BOUNDS:
            return v0 + float(np.sum(alpha * self.epsilon + beta * (self.state_epsilon + 1.0)))
        extra = 1.0 if self.bound == STATE_ACTION_BOUND else 0.0
        value = v0 + float(np.sum(alpha * (self.epsilon + extra)))
        if self.uses_entropy:
            value += float(np.sum(beta * self.delta))
        return value

    # -- per-step coordinate step --------------------------------------------------------
    def frozen(self, back, marginals):
        """Freeze V_{t+1} and mu_t of the current passes for the per-step duals."""
        B = self.step_reward + expected_next_value(self.dynamics, back.value[1:])
        return _Frozen(B, marginals.state_means[:self.T],
                       marginals.state_covs[:self.T])

    def step_policy_kl(self, frozen, alpha):
        """
        Return E_mu_t KL(pi_t || q_t) of every per-step GPS dual's policy at alpha_t.

        The dual's gradient is eps_t minus this (eq. 3.6c). V_{t+1} and mu_t are held fixed
        (``frozen``); infeasible steps (non-PD -Q_aa) get +inf.
        """
        dx = self.dx
        Q = frozen.B + self.log_q.scale(alpha)
        ok = pd_mask(-Q.F[:, dx:, dx:])
        soft = soft_max_action(_make_safe(Q, ok, dx), alpha, dx)
        q = self.previous
        kl = expected_policy_kl(soft.K, soft.k, soft.cov, q.K, q.k, q.cov,
                                frozen.state_means, frozen.state_covs)
        return np.where(ok, kl, np.inf)

    def step_multipliers(self, frozen, alpha):
        """Minimise every per-step GPS dual over alpha_t with V held fixed (root search)."""
        s = self.settings
        # bracket around the current multipliers: the outer loop limits the change per
        # iteration to max_multiplier_ratio anyway, so a wider search would be wasted
        ratio = s.max_multiplier_ratio ** 2
        low = np.maximum(s.alpha_min, alpha / ratio)
        high = np.minimum(s.alpha_max, alpha * ratio)
        eps = self.epsilon

        def log_slack(a):  # -log(KL_t / eps): increasing in alpha_t, nearly linear in log alpha_t
            with np.errstate(divide='ignore'):  # +inf KL (infeasible) gives -inf
                return -np.log(np.maximum(self.step_policy_kl(frozen, a), 1e-300) / eps)

        return _monotone_roots(log_slack, low, high, s.bisection_tolerance, self.T,
                               gtol=0.1 * s.tolerance)

    def step_entropy_multipliers(self, frozen, alpha, beta):
        """
        Set beta_t so that H(pi_t) >= -delta_t with V_{t+1} held fixed (eq. 5.4d), exactly.

        With V_{t+1} fixed, Q_t does not depend on beta_t and pi_t has covariance
        eta_t (-Q_aa)^-1 (eta_t = alpha_t + beta_t), so H(pi_t) = du/2 (log 2 pi e eta_t)
        - 1/2 log|-Q_aa| is increasing in eta_t: the bound binds at
        log eta_t = (log|-Q_aa| - 2 delta_t) / du - log 2 pi e, and beta_t = max(0, eta_t -
        alpha_t) (clipped to [alpha_min, beta_max] when positive). Steps whose -Q_aa is not
        positive definite at these alpha keep their ``beta``: there alpha_t is too small for a
        policy to exist, which the backtracking on alpha settles (beta_max used to be set there;
        backtracking linearly from 1e16 found no feasible beta, and a recorded ESAPS update,
        whose one-pass starts had been dropped, stopped 7.2 % above its bound).
        """
        s = self.settings
        dx, du = self.dx, self.du
        Q = frozen.B + self.log_q.scale(alpha)
        ok = pd_mask(-Q.F[:, dx:, dx:])
        safe = _make_safe(Q, ok, dx)
        log_det = logdet_from_cholesky(batched_cholesky(-safe.F[:, dx:, dx:], '-Q_aa'))
        eta = np.exp((log_det - 2.0 * self.delta) / du - LOG_2PI - 1.0)
        needed = eta - alpha
        b = np.where(needed > 0, np.clip(needed, s.alpha_min, s.beta_max), 0.0)
        return np.where(ok, b, beta)

    # -- the whole update ----------------------------------------------------------------
    def converged(self, bound_value, ent, alpha, beta, guess_gap=0.0, state_kl=None):
        """
        Check the KKT conditions of the module docstring for every step.

        Active steps: |KL_t - eps_t| <= tolerance * eps_t. Slack steps (KL_t < eps_t) need
        complementary slackness: alpha_t at its lower bound, or a duality gap
        alpha_t (eps_t - KL_t) of at most ``tolerance`` * eps_t * mean(alpha), i.e. negligible
        next to the price of an average step's bound (in ESAPS alpha_t of a step whose entropy
        bound binds sinks toward 0 only slowly, and changes nothing once it is that small).
        ESAPS: H(pi_t) >= -delta_t; SAPS / ESAPS: the state guess equals mu_t. The separate
        bounds: the same conditions for the policy KL with alpha and for ``state_kl`` with gamma
        (passed as ``beta``).
        """
        s = self.settings
        ok = bool(np.all(_kkt_steps(bound_value, self.epsilon, alpha, s)))
        if self.bound == SEPARATE_BOUNDS:
            ok &= bool(np.all(_kkt_steps(state_kl, self.state_epsilon, beta, s)))
        if self.uses_entropy:
            slack = ent + self.delta
            ok &= bool(np.all(slack >= -s.tolerance * np.maximum(1.0, np.abs(self.delta))))
        return bool(ok) and guess_gap <= self.gap_tolerance

    def solve(self, alpha0=None, beta0=None):
        """Minimise the dual over the multipliers and return an UpdateResult."""
        if self.bounds_state:
            return self._solve_state_action(alpha0, beta0)
        return self._solve_policy(alpha0)

    def _initial_multipliers(self, alpha0, beta0):
        s, T = self.settings, self.T
        alpha = np.clip(_initial(alpha0, T, 'alpha0', 1e3 * _reward_scale(self.reward)),
                        s.alpha_min, s.alpha_max)
        if self.bound == SEPARATE_BOUNDS:  # gamma, the state multiplier: alpha unless given
            gamma = alpha.copy() if beta0 is None else _initial(beta0, T, 'gamma0', 0.0)
            return alpha, np.clip(gamma, s.alpha_min, s.alpha_max)
        beta = np.zeros(T) if beta0 is None or not self.uses_entropy else np.clip(
            _initial(beta0, T, 'beta0', 0.0), 0.0, s.beta_max)
        return alpha, beta

    def _solve_state_action(self, alpha0, beta0):
        """
        Minimise the SAPS / ESAPS dual (eq. 4.6 / 5.5) and return an UpdateResult.

        Every iterate is the block-descent fixed point (Alg. 2) at its multipliers
        (``fixed_point``), where the dual's gradient is eps_t - KL_t (eq. 4.4c); during the search
        its covariances are only ``inexact_newton_steps`` Newton steps from the previous ones
        (up to ``inexact_rounds`` times, ``_trial_fixed_point``), and once the bounds hold it is
        solved exactly, so the result is exact. alpha moves by a per-step secant search in log
        alpha on log(KL_t / eps_t) (``_LogSecant``), the outer loop of Alg. 4; beta, for ESAPS,
        by the per-step entropy dual of Alg. 5 (eq. 5.4d) with V_{t+1} held fixed. A proposal
        without a fixed point (too small multipliers: the dual is +inf there) is pulled back
        geometrically toward the last feasible multipliers. A warm start without a fixed point
        falls back to the default start, scaled up and down by powers of ten until one exists.
        """
        s, T = self.settings, self.T
        # start from the warm start, else from the default multipliers scaled by 10^+-1,
        # 10^+-2, ... until a fixed point exists: a start fails when alpha is too small for the
        # model (-Q_aa not PD) or so large that the covariance Newton is ill-conditioned
        warm = [] if alpha0 is None else [self._initial_multipliers(alpha0, beta0)]
        default, default_beta = self._initial_multipliers(None, beta0)
        scales = [1.0] + [10.0 ** (sign * k) for k in range(1, 25) for sign in (1, -1)]
        separate = self.bound == SEPARATE_BOUNDS  # gamma scales with alpha
        starts = warm + [(np.clip(default * scale, s.alpha_min, s.alpha_max),
                          np.clip(default_beta * scale, s.alpha_min, s.alpha_max)
                          if separate else default_beta) for scale in scales]
        for alpha, beta in starts:
            try:
                back, marginals, gap = self.fixed_point(alpha, beta)
                break
            except _NO_FIXED_POINT:
                continue
        else:
            raise NotPositiveDefiniteError('no state-distribution fixed point for any alpha in '
                                           '[%g, %g]' % (s.alpha_min, s.alpha_max))
        secant = _LogSecant(np.log(s.alpha_min), np.log(s.alpha_max),
                            np.log(s.max_multiplier_ratio))
        state_secant = _LogSecant(np.log(s.alpha_min), np.log(s.alpha_max),
                                  np.log(s.max_multiplier_ratio))
        iterations, done = 0, False
        while True:
            bound_value, _, state_kl, ent = self.constraint_values(back, marginals)
            done = self.converged(bound_value, ent, alpha, beta, gap, state_kl)
            if not done and self.converged(bound_value, ent, alpha, beta, state_kl=state_kl):
                # the bounds hold at an inexact fixed point: solve it exactly and check again
                try:
                    back, marginals, gap = self.fixed_point(alpha, beta, back.value.F[:T])
                except _NO_FIXED_POINT:
                    pass
                else:
                    bound_value, _, state_kl, ent = self.constraint_values(back, marginals)
                    done = self.converged(bound_value, ent, alpha, beta, gap, state_kl)
            if done or iterations >= s.max_iterations:
                break
            iterations += 1
            proposal = np.exp(secant.step(np.log(alpha), bound_value / self.epsilon))
            allowed_gap = self._allowed_gap(bound_value, state_kl, alpha, beta)
            # at alpha_t <= tolerance * mean(alpha) a slack step meets complementary slackness
            # (``converged``) whatever its KL, so a floor of tolerance / 2 loses nothing (at
            # tolerance itself floored steps approached the threshold from above without
            # reaching it); lower values only make the covariance Newton ill-conditioned (the
            # state precision grows like 1 / alpha_t): on 25 recorded double-pendulum SAPS
            # updates a floor of 1e-3 took 2.4x as long as 1e-2, ESAPS 2.7x
            proposal = _relative_floor(proposal, s)
            new_beta = beta
            if self.uses_entropy:
                new_beta = self.step_entropy_multipliers(self.frozen(back, marginals),
                                                         proposal, beta)
            elif separate:  # gamma: the same secant search on the state KL
                new_beta = _relative_floor(
                    np.exp(state_secant.step(np.log(beta), state_kl / self.state_epsilon)), s)
            step = self._step_toward(alpha, beta, proposal, new_beta, back.value.F[:T],
                                     allowed_gap)
            if step is None:
                break  # no feasible step toward the proposal: return the last fixed point
            alpha, beta, (back, marginals, gap) = step
        if gap > self.gap_tolerance:
            try:  # stopped early at an inexact iterate: return the exact fixed point
                back, marginals, gap = self.fixed_point(alpha, beta, back.value.F[:T])
            except _NO_FIXED_POINT:
                pass
        return self._result(back, marginals, alpha, beta, iterations, done)

    def _allowed_gap(self, bound_value, state_kl, alpha, beta):
        """
        Return the KL gap an inexact iterate may have: ``inexact_gap`` x the worst violation.

        The violation is max |KL_t - eps_t| over the steps that do not yet meet their KKT
        condition (and the state KLs for the separate bounds), at least ``tolerance`` * min(eps):
        the KLs of an inexact iterate are off by about its gap, so far from the optimum a rough
        iterate serves the secant search, and near it only an accurate one can settle the bounds
        to ``tolerance`` (a fixed allowance of 0.1 eps left ESAPS cycling at 2-4 % violations).
        """
        s = self.settings
        pairs = [(bound_value, self.epsilon, alpha)]
        if self.bound == SEPARATE_BOUNDS:
            pairs.append((state_kl, self.state_epsilon, beta))
        violation = s.tolerance * float(self.epsilon.min())
        for value, bound, multiplier in pairs:
            failing = ~_kkt_steps(value, bound, multiplier, s)
            if np.any(failing):
                violation = max(violation, float(np.max(np.abs(value - bound)[failing])))
        return s.inexact_gap * violation

    def _step_toward(self, alpha, beta, proposal, new_beta, value_F, allowed_gap):
        """
        Return (alpha, beta, fixed point) of the longest feasible step toward the proposal.

        The step backtracks geometrically (fractions 1, 1/2, ... of the move, in log alpha, and
        in beta or log gamma) until the trial multipliers have a fixed point (the dual is +inf
        where a multiplier is too small). The trials are ``_trial_fixed_point``; if none has a
        fixed point, the fractions are tried once more with the covariance Newton started from
        one pass, whatever ``_trial_fixed_point`` has learnt about that start in this update.
        If that fails too, the search retreats (``_retreat``). Returns None when even the
        retreat finds no fixed point.
        """
        separate = self.bound == SEPARATE_BOUNDS  # gamma moves in log space like alpha
        for last_resort in (False, True):
            fraction = 1.0
            for _ in range(self.settings.max_backtracks):
                trial_alpha = alpha * (proposal / alpha) ** fraction
                trial_beta = (beta * (new_beta / beta) ** fraction if separate
                              else beta + fraction * (new_beta - beta))
                try:
                    point = (self.fixed_point(trial_alpha, trial_beta) if last_resort else
                             self._trial_fixed_point(trial_alpha, trial_beta, value_F,
                                                     allowed_gap))
                except _NO_FIXED_POINT:
                    fraction *= 0.5
                    continue
                return trial_alpha, trial_beta, point
        return self._retreat(np.maximum(alpha, proposal), beta)

    def _retreat(self, alpha, beta):
        """
        Return (alpha, beta, fixed point) at 10, 100, ... times ``alpha``, or None.

        Where no fraction of a step from an (inexact) iterate has a fixed point, every alpha is
        raised: large multipliers keep the new policy and its state distribution near the
        previous ones, whose fixed point exists, and the secant search goes on from there. On
        three recorded double-pendulum updates (figure run of 848e91d: SAPS trial 2 update 20,
        ESAPS trial 3 updates 18 and 24) the search used to stop here, unconverged, with
        state-action KLs of 29.8, 572 and 9232 against a bound of 20; with the retreat all
        three converge within 1 % of the bound (since the covariance Newton takes Krylov steps
        two of them, kept in test/data, converge without it). ESAPS keeps beta; the separate
        bounds raise gamma with alpha.
        """
        s = self.settings
        separate = self.bound == SEPARATE_BOUNDS  # gamma, the state multiplier, rises too
        for k in range(1, s.max_backtracks + 1):
            trial_alpha = np.minimum(alpha * 10.0 ** k, s.alpha_max)
            trial_beta = np.minimum(beta * 10.0 ** k, s.alpha_max) if separate else beta
            try:
                return trial_alpha, trial_beta, self.fixed_point(trial_alpha, trial_beta)
            except _NO_FIXED_POINT:
                continue
        return None

    def _trial_fixed_point(self, alpha, beta, value_F, allowed_gap):
        """
        Return ``fixed_point`` at trial multipliers during the search, as cheaply as it is sound.

        First ``inexact_newton_steps`` Newton steps from the last value functions, kept if their
        KL gap is at most ``allowed_gap`` (``_allowed_gap``: a worse iterate gives the secant
        search meaningless KLs and its value functions a bad start for the next trial). Up to
        ``inexact_rounds`` such rounds, each from the value functions of the last, while each
        at least halves the gap; then the exact solve from the last start (not when a start was
        infeasible: the exact solve would take the same first steps); if that fails too, the
        exact solve from one pass. Raises what the last attempt raised when there is no fixed
        point.

        The rounds save exact solves, which cost fresh factorisations where the Newton blocks
        are large. Measured (bench_core problems, one run each, idle): 3 rounds against 1 took
        (200, 20, 10) SAPS / ESAPS from 27.2 / 28.3 s to 21.2 / 22.0 s, (200, 14, 7) from 2.87 /
        3.00 s to 2.14 / 2.67 s, and SAPS, ESAPS and separate summed over four random (100, 4, 2)
        and four (200, 8, 4) problems from 8.27 to 7.51 s (best of 2); the pendulums' first
        updates moved by -1 to +10 %. 4 rounds gave 19.2 / 21.0 s at (200, 20, 10), but the
        recorded ESAPS update of test_esaps_recorded_update_drops_the_failing_pass_start (184
        outer iterations with 1 round, 189 with 3) then reached the limit of 200 at 1.06 % over
        its bound.

        The start from one pass finds fixed points the warm start cannot reach (on small
        separate-bound problems it rescued every failed warm start), but where the multipliers
        are infeasible its Newton runs to the iteration limit: on 2 recorded double-pendulum
        updates it succeeded in 10 of 658 tries and the failures took 18.2 of 22.6 s and 26.7 of
        28.5 s. So after ``pass_start_failures`` failures in a row it is not tried again in this
        update.
        """
        s = self.settings
        try:
            means = self.optimal_means(alpha, beta)  # one LQR pass serves every round
            start, previous_gap = value_F, np.inf
            for _ in range(s.inexact_rounds):
                result = self.fixed_point(alpha, beta, start, s.inexact_newton_steps, means)
                if result[2] <= allowed_gap:
                    return result
                if not result[2] <= 0.5 * previous_gap:
                    break  # the rounds stopped converging: solve exactly from the last start
                start, previous_gap = result[0].value.F[:self.T], result[2]
            return self.fixed_point(alpha, beta, start, means=means)
        except _NO_FIXED_POINT:
            if self.pass_start_failures >= s.pass_start_failures:
                raise
        try:
            result = self.fixed_point(alpha, beta)
        except _NO_FIXED_POINT:
            self.pass_start_failures += 1
            raise
        self.pass_start_failures = 0
        return result

    def _solve_policy(self, alpha0=None):
        """
        GPS (Alg. 1): consistent passes alternating with multiplier steps on the dual.

        The first ``coordinate_iterations`` steps are the coordinate step of Alg. 4: per-step root
        finds (``_monotone_roots``) with V_{t+1} and mu_t frozen, a robust global move from any
        start. That step ignores how alpha_t changes the later value functions and state
        distributions, so close to the optimum it converges only linearly (measured contraction
        ~0.9 per iteration at (T, dx, du) = (200, 20, 10)); afterwards every alpha_t moves by the
        secant step in log alpha on the consistent KL_t (``_LogSecant``), whose slopes include that
        coupling.
        """
        s = self.settings
        alpha, beta = self._initial_multipliers(alpha0, None)
        iterations, done = 0, False
        limit = np.log(s.max_multiplier_ratio)
        secant = _LogSecant(np.log(s.alpha_min), np.log(s.alpha_max), limit)
        while True:
            alpha, (back, marginals) = self.feasible_passes(alpha, beta)
            bound_value, _, _, ent = self.constraint_values(back, marginals)
            done = self.converged(bound_value, ent, alpha, beta)
            if done or iterations >= s.max_iterations:
                break
            iterations += 1
            proposal = np.exp(secant.step(np.log(alpha), bound_value / self.epsilon))
            if iterations <= s.coordinate_iterations:
                proposal = self.step_multipliers(self.frozen(back, marginals), alpha)
            alpha = alpha * np.exp(np.clip(np.log(proposal / alpha), -limit, limit))
        return self._result(back, marginals, alpha, beta, iterations, done)

    def _result(self, back, marginals, alpha, beta, iterations, done):
        floor = self.settings.min_policy_variance
        cov = _floor_covariance(back.cov, floor)
        policy = LinearGaussianPolicy(back.K, back.k, cov)
        if cov is not back.cov:
            marginals = forward_pass(self.dynamics, back.K, back.k, cov, self.x0.mean,
                                     self.x0.cov)
        bound_value, policy_kl, state_kl, _ = self.constraint_values(
            _with_cov(back, cov), marginals)
        dual_value = self.dual_value(back, alpha, beta)
        gamma = None
        if self.bound == SEPARATE_BOUNDS:  # the loop carries gamma in the beta slot
            beta, gamma = np.zeros(self.T), beta
        return UpdateResult(
            policy=policy, kl=bound_value, entropy=entropy(cov), alpha=alpha, beta=beta,
            gamma=gamma, expected_reward=expected_reward(self.reward, marginals),
            state_means=marginals.state_means, state_covs=marginals.state_covs,
            iterations=iterations, converged=done, dual_value=dual_value,
            policy_kl=policy_kl, state_kl=state_kl)


def _relative_floor(multipliers, settings):
    """Raise multipliers to at least ``relative_alpha_floor`` x their mean (see the search)."""
    return np.maximum(multipliers, settings.relative_alpha_floor * float(np.mean(multipliers)))


def _kkt_steps(value, bound, multiplier, settings):
    """Per step: at its bound (within tolerance) or slack with a negligible multiplier."""
    at_bound = np.abs(value - bound) <= settings.tolerance * bound
    slack = (value < bound) & (
        (multiplier <= settings.alpha_min * (1.0 + 1e-9))
        | (multiplier * (bound - value)
           <= settings.tolerance * bound * float(np.mean(multiplier))))
    return at_bound | slack


@dataclass(frozen=True, eq=False)
class _Frozen:
    B: Quadratic
    state_means: np.ndarray
    state_covs: np.ndarray


@dataclass(frozen=True, eq=False)
class _CovOverride:
    K: np.ndarray
    k: np.ndarray
    cov: np.ndarray


def _with_cov(back, cov):
    return _CovOverride(back.K, back.k, cov)


def _per_step(name, value, T, positive=False):
    array = np.broadcast_to(np.asarray(value, dtype=float), (T,)).copy() if np.ndim(
        value) == 0 else np.asarray(value, dtype=float)
    if array.shape != (T,):
        raise ValueError('%s must be a scalar or have shape (%d,), got %s'
                         % (name, T, array.shape))
    check_finite(name, array)
    if positive and np.any(array <= 0):
        raise ValueError('%s must be > 0, got min %g' % (name, array.min()))
    return array


def _initial(value, T, name, default):
    if value is None:
        return np.full(T, float(default))
    return _per_step(name, value, T).copy()


def _reward_scale(reward):
    return max(1.0, float(np.abs(reward.M).max()), float(np.abs(reward.H).max()))


def _make_safe(Q, ok, dx):
    """Replace infeasible steps by a harmless concave quadratic so batched maths can proceed."""
    if np.all(ok):
        return Q
    F = Q.F.copy()
    du = F.shape[-1] - dx
    F[~ok] = 0.0
    F[~ok, dx:, dx:] = -np.eye(du)
    f = np.where(ok[:, None], Q.f, 0.0)
    return Quadratic(F, f, np.where(ok, Q.f0, 0.0))


def _monotone_roots(function, low, high, tolerance, T, gtol=0.0):
    """
    Find per-step roots of increasing functions in log space (Illinois regula falsi).

    ``function(values)`` returns one value g_t per step, increasing in that step's value (-inf
    where infeasible); the multipliers' search passes -log(KL_t / eps_t). Steps whose g is still
    negative at ``high`` get ``high``; steps whose g is non-negative at ``low`` get ``low``.
    Inside the bracket the false-position point in log space is taken (kept 1% of the bracket
    away from its ends), with the Illinois halving of a stale end's value (superlinear, Dowell
    and Jarratt 1971); where an end is infeasible (-inf) the step bisects. A step is done when
    its bracket is narrower than ``tolerance`` (returning the upper end, the feasible side) or
    when its g is within ``gtol`` of 0 (returning that point).
    """
    low = np.broadcast_to(np.asarray(low, dtype=float), (T,))
    high = np.broadcast_to(np.asarray(high, dtype=float), (T,))
    log_lo, log_hi = np.log(low), np.log(high)
    g_hi = function(np.exp(log_hi))
    g_lo = function(np.exp(log_lo))
    result_hi = g_hi < 0
    result_lo = g_lo >= 0
    active = ~(result_hi | result_lo)
    side = np.zeros(T)  # +1: the last two new points replaced the low end, -1: the high end
    for _ in range(200):
        if not np.any(active) or np.max((log_hi - log_lo)[active]) <= tolerance:
            break
        finite = np.isfinite(g_lo) & np.isfinite(g_hi) & (g_hi > g_lo)
        with np.errstate(invalid='ignore', divide='ignore'):
            falsi = log_lo - g_lo * (log_hi - log_lo) / (g_hi - g_lo)
        width = log_hi - log_lo
        falsi = np.clip(falsi, log_lo + 0.01 * width, log_hi - 0.01 * width)
        mid = np.where(finite, falsi, 0.5 * (log_lo + log_hi))
        g = function(np.exp(mid))
        below = g < 0
        converged = np.abs(g) <= gtol
        move_lo = active & below
        move_hi = active & ~below
        # Illinois: the end kept twice in a row has its value halved
        g_hi = np.where(move_lo & (side > 0), 0.5 * g_hi, g_hi)
        g_lo = np.where(move_hi & (side < 0) & np.isfinite(g_lo), 0.5 * g_lo, g_lo)
        side = np.where(move_lo, 1.0, np.where(move_hi, -1.0, side))
        log_lo, g_lo = np.where(move_lo, mid, log_lo), np.where(move_lo, g, g_lo)
        log_hi, g_hi = np.where(move_hi, mid, log_hi), np.where(move_hi, g, g_hi)
        done_here = active & converged  # the point itself: within gtol of the root
        log_lo = np.where(done_here, mid, log_lo)
        log_hi = np.where(done_here, mid, log_hi)
        active &= ~done_here
    values = np.exp(log_hi)
    values = np.where(result_hi, high, values)
    values = np.where(result_lo, low, values)
    return values


class _LogSecant:
    """
    Per-step secant search in y = log alpha for the root of r_t(y) = log(KL_t / eps_t).

    r_t decreases with alpha_t. The slope comes from the last two iterates where it is negative
    and finite (clipped to [-4, -1/4]: KL ~ alpha^-2 for large alpha, flatter for small), else
    -1; steps are clipped to +-max_step. No bracket is kept: the steps are coupled through the
    state distributions, so a bracket from earlier iterates goes stale.
    """

    def __init__(self, low, high, max_step):
        self.low, self.high, self.max_step = low, high, max_step
        self.previous = None

    def step(self, y, ratio):
        r = np.log(np.maximum(ratio, 1e-12))
        slope = np.full_like(y, -1.0)
        if self.previous is not None:
            y0, r0 = self.previous
            dy = y - y0
            with np.errstate(divide='ignore', invalid='ignore'):
                estimate = (r - r0) / dy
            good = (np.abs(dy) > 1e-6) & np.isfinite(estimate) & (estimate < 0)
            slope = np.where(good, np.clip(estimate, -4.0, -0.25), slope)
        self.previous = (y, r)
        return np.clip(y + np.clip(-r / slope, -self.max_step, self.max_step),
                       self.low, self.high)


def _floor_covariance(cov, floor):
    """Raise every eigenvalue of the policy covariances to at least ``floor``."""
    eigvals, eigvecs = np.linalg.eigh(cov)
    if np.all(eigvals >= floor):
        return cov
    eigvals = np.maximum(eigvals, floor)
    return np.einsum('tij,tj,tkj->tik', eigvecs, eigvals, eigvecs)
