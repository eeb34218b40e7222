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

One dual coordinate descent serves all three bounds:

1. *Consistent passes* at the current multipliers: the augmented reward (eq. 3.9 / 4.7), the
   soft backward pass at temperature alpha_t (+ beta_t) (eq. 3.7a / 4.5a / 5.6) and the forward
   pass (eq. 3.7b). For the state-action bound the augmented reward holds the current guess
   p_t(s) of the new state distribution; the guess is then replaced by the forward pass result
   (the block descent of Alg. 2), so at convergence p_t = mu_t.
2. *Per-step multiplier step* with the value functions held fixed (the coordinate step of
   Alg. 4 / 5): each time step's dual is then a function of (alpha_t, beta_t) alone, convex, and
   its derivative is the constraint slack, so every step is solved by a vectorised bisection in
   log space (the robust search of the reference implementations):

   * GPS (eq. 3.5, 3.6c): g_t(alpha) = alpha eps + E_mu_t[alpha log int q exp(Q_t / alpha) da],
     dg/dalpha = eps - E_mu_t KL(pi_t || q_t).
   * SAPS (eq. 4.3, 4.4c, 4.9, 4.10): with V_t fixed the state distribution has the closed form
     mu_t(s) = exp((W_t(s) + alpha log q_t(s) - V_t(s)) / alpha - 1), W_t the soft value of
     eq. 4.10, g_t(alpha) = alpha eps + alpha int mu_t and
     dg/dalpha = eps - int mu_t pi_t log(mu_t pi_t / q_t) (eq. 4.4c for the unnormalised mu_t).
   * ESAPS (eq. 5.3, 5.4c-d): the same with temperature alpha + beta and
     dg/dbeta = delta - E_mu_t[int pi_t log pi_t] = delta + int mu_t * H(pi_t).

   A non-positive-definite -Q_aa (or state precision) means "multiplier too small": the
   bisection treats it as an infinitely violated constraint, the consistent pass raises the
   failing step's multiplier tenfold and retries.

The loop stops when every step meets its bound: |KL_t - eps| <= tolerance * eps, or
KL_t < eps with alpha_t at its lower bound; for ESAPS also H(pi_t) >= -delta_t; and for the
state-action bound the guess p_t equals mu_t.
"""

from dataclasses import dataclass

import numpy as np

from ps_control.core.gaussian import (entropy, expected_policy_kl, inverse_and_logdet,
                                      kl_gaussian, LOG_2PI, NotPositiveDefiniteError, pd_mask)
from ps_control.core.linear_gaussian import (check_finite, GaussianState,
                                             LinearGaussianDynamics, LinearGaussianPolicy,
                                             QuadraticReward)
from ps_control.core.lqg import (augment, backward_pass, expected_next_value, expected_reward,
                                 forward_pass, policy_log_density_quadratic, Quadratic,
                                 reward_quadratic, soft_max_action, state_log_density_quadratic)
from ps_control.core.state_covariance import CovarianceProblem
from scipy.optimize import minimize

POLICY_BOUND = 'policy'
STATE_ACTION_BOUND = 'state_action'


@dataclass(frozen=True)
class DualSettings:
    """Numerical settings of the multiplier search (bounds, tolerances, iteration limits)."""

    alpha_min: float = 1e-8
    alpha_max: float = 1e16
    beta_max: float = 1e16
    tolerance: float = 0.005
    max_iterations: int = 200
    bisection_tolerance: float = 1e-4
    entropy_rounds: int = 4
    min_policy_variance: float = 1e-10
    state_tolerance: float = 1e-9
    max_block_iterations: int = 200
    anderson_depth: int = 5
    max_multiplier_ratio: float = 10.0
    state_action_search: str = 'lbfgs'
    newton_tolerance: float = 1e-8

    def __post_init__(self):
        if not 0 < self.alpha_min < self.alpha_max:
            raise ValueError('DualSettings needs 0 < alpha_min < alpha_max')
        if self.tolerance <= 0 or self.max_iterations < 1:
            raise ValueError('DualSettings needs tolerance > 0 and max_iterations >= 1')


@dataclass(frozen=True, eq=False)
class UpdateResult:
    """
    Outcome of one KL-bounded update.

    kl: per-step bound value (E_mu KL(pi||q) for GPS, the state-action KL of eq. 4.1c for
    SAPS/ESAPS); entropy: H(pi_t); alpha, beta: multipliers; expected_reward: the task reward
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


class KLBoundedProblem:
    """
    One update problem: model, reward, previous policy q and initial state; the bound type.

    Precomputes the quadratics that do not depend on the multipliers and the previous policy's
    state distribution q_t(s) under the same dynamics (the reference of the SAPS bound).
    """

    def __init__(self, dynamics, reward, previous_policy, initial_state, epsilon, bound,
                 delta=None, settings=None):
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
        if bound not in (POLICY_BOUND, STATE_ACTION_BOUND):
            raise ValueError('unknown bound %r' % (bound,))
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
        if bound == STATE_ACTION_BOUND:
            self.log_q_state = state_log_density_quadratic(self.q_state_means, self.q_state_covs)
            self.log_q_joint = self.log_q + self.log_q_state.embed_state(du)

    @property
    def uses_entropy(self):
        return self.delta is not None

    # -- consistent passes ---------------------------------------------------------------
    def state_terms(self, guess_means, guess_covs):
        """Return log q_t(s) - log p_t(s) over s for the guess p_t (eq. 4.8b, 4.8e, 4.8h-i)."""
        log_p = state_log_density_quadratic(guess_means, guess_covs)
        return Quadratic(self.log_q_state.F - log_p.F, self.log_q_state.f - log_p.f,
                         self.log_q_state.f0 - log_p.f0)

    def passes(self, alpha, beta, guess=None):
        """Backward and forward pass at fixed multipliers (and state guess for SAPS/ESAPS)."""
        terms = None if guess is None else self.state_terms(*guess)
        reward = augment(self.step_reward, alpha, self.log_q, terms)
        back = backward_pass(self.dynamics, reward, self.terminal_reward, alpha + beta)
        marginals = forward_pass(self.dynamics, back.K, back.k, back.cov, self.x0.mean,
                                 self.x0.cov)
        return back, marginals

    def optimal_means(self, alpha):
        """
        Return the state means m_t of the state-action optimum at fixed alpha (SAPS / ESAPS).

        For linear-Gaussian dynamics and policies the Lagrangian of eq. 4.2 separates exactly into
        a part over the mean trajectory (m_t, abar_t = K_t m_t + k_t; m_{t+1} = A m + B abar + c
        does not depend on K_t or the covariances) and a part over the covariances. Only the
        covariance part holds the non-linear term alpha_t H(mu_t) of the state KL; the mean part
        is a deterministic LQR with reward R_t + alpha_t log q_t(a|s) + alpha_t log q_t(s)
        evaluated at the means, solved exactly by one hard-max backward pass (eta = 0). Pinning
        the state guess p_t to these means leaves only the covariances to the block descent
        (Alg. 2), whose mean iteration would otherwise contract slowly for large alpha.
        """
        reward = augment(self.step_reward, alpha, self.log_q, self.log_q_state)
        back = backward_pass(self.dynamics, reward, self.terminal_reward, 0.0)
        marginals = forward_pass(self.dynamics, back.K, back.k, back.cov, self.x0.mean,
                                 self.x0.cov)
        return marginals.state_means[:self.T]

    def stationary_covariances(self, alpha, beta, value):
        """
        Return the state covariances S_t of the state-action optimum at fixed multipliers.

        Newton's method on the covariance part of the Lagrangian (ps_control.core.
        state_covariance), started from the value functions ``value`` of the current passes.
        Raises NotPositiveDefiniteError or RuntimeError when it fails.
        """
        G = self.step_reward.F + self.log_q_joint.F * alpha[:, None, None]
        D = np.concatenate([self.dynamics.A, self.dynamics.B], axis=2)
        problem = CovarianceProblem(G, self.terminal_reward.F, D, self.dynamics.cov,
                                    self.x0.cov, alpha, beta)
        _, C, _ = problem.solve(value.F[:self.T], tolerance=self.settings.newton_tolerance)
        return C[:, :self.dx, :self.dx]

    def feasible_passes(self, alpha, beta, guess=None):
        """Run ``passes``, raising a step's alpha tenfold while its -Q_aa is not PD."""
        alpha = alpha.copy()
        while True:
            try:
                if guess is not None:
                    guess = (self.optimal_means(alpha), guess[1])
                return alpha, guess, self.passes(alpha, beta, guess)
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
        if self.bound == STATE_ACTION_BOUND:
            state_kl = kl_gaussian(means, covs, self.q_state_means, self.q_state_covs)
        else:
            state_kl = np.zeros(T)
        return policy_kl + state_kl, policy_kl, state_kl, entropy(back.cov)

    def dual_value(self, back, alpha, beta):
        """Dual of eq. 3.8 (GPS), 4.6 (SAPS) or 5.5 (ESAPS) at consistent passes."""
        v0 = float(back.value[0].expectation(self.x0.mean, self.x0.cov))
        extra = 1.0 if self.bound == STATE_ACTION_BOUND else 0.0
        value = v0 + float(np.sum(alpha * (self.epsilon + extra)))
        if self.uses_entropy:
            value += float(np.sum(beta * self.delta))
        return value

    # -- per-step coordinate step --------------------------------------------------------
    def frozen(self, back, marginals):
        """Freeze V_{t+1} (and V_t, mu_t) of the current passes for the per-step duals."""
        B = self.step_reward + expected_next_value(self.dynamics, back.value[1:])
        return _Frozen(B, back.value[:self.T], marginals.state_means[:self.T],
                       marginals.state_covs[:self.T])

    def step_gradients(self, frozen, alpha, beta):
        """
        Return (dg/dalpha, dg/dbeta) of every per-step dual at (alpha_t, beta_t).

        Infeasible steps (non-PD -Q_aa or state precision) get dg/dalpha = -inf.
        """
        dx = self.dx
        Q = frozen.B + self.log_q.scale(alpha)
        ok = pd_mask(-Q.F[:, dx:, dx:])
        Q = _make_safe(Q, ok, dx)
        soft = soft_max_action(Q, alpha + beta, dx)
        q = self.previous
        if self.bound == POLICY_BOUND:
            kl = expected_policy_kl(soft.K, soft.k, soft.cov, q.K, q.k, q.cov,
                                    frozen.state_means, frozen.state_covs)
            grad_alpha = self.epsilon - kl
            mass = np.ones(self.T)
        else:
            expo = soft.value + self.log_q_state.scale(alpha)
            expo = Quadratic(expo.F - frozen.value.F, expo.f - frozen.value.f,
                             expo.f0 - frozen.value.f0).scale(1.0 / alpha)
            ok &= pd_mask(-expo.F)
            neg_prec = np.where(ok[:, None, None], -expo.F, np.eye(dx))
            cov_hat, logdet_prec = inverse_and_logdet(neg_prec, 'state precision')
            mean_hat = np.einsum('tij,tj->ti', cov_hat, expo.f)
            log_mass = (expo.f0 - 1.0 + 0.5 * np.einsum('ti,ti->t', expo.f, mean_hat)
                        + 0.5 * (dx * LOG_2PI - logdet_prec))
            log_mass = np.clip(log_mass, -700.0, 700.0)
            mass = np.exp(log_mass)
            kl_normalised = (kl_gaussian(mean_hat, cov_hat, self.q_state_means, self.q_state_covs)
                             + expected_policy_kl(soft.K, soft.k, soft.cov, q.K, q.k, q.cov,
                                                  mean_hat, cov_hat))
            grad_alpha = self.epsilon - mass * (kl_normalised + log_mass)
        grad_alpha = np.where(ok, grad_alpha, -np.inf)
        grad_beta = None
        if self.uses_entropy:
            grad_beta = np.where(ok, self.delta + mass * entropy(soft.cov), -np.inf)
        return grad_alpha, grad_beta

    def step_multipliers(self, frozen, alpha, beta):
        """Minimise every per-step dual over alpha_t (and beta_t) with V held fixed."""
        s = self.settings
        rounds = s.entropy_rounds if self.uses_entropy else 1
        # bracket around the current multipliers: the outer loop limits the change per
        # iteration to max_multiplier_ratio anyway, so a wider search would be wasted
        ratio = s.max_multiplier_ratio ** 2
        low = np.maximum(s.alpha_min, alpha / ratio)
        high = np.minimum(s.alpha_max, alpha * ratio)
        for _ in range(rounds):
            alpha = _bisect(lambda a: self.step_gradients(frozen, a, beta)[0],
                            low, high, s.bisection_tolerance, self.T)
            if self.uses_entropy:
                beta = _bisect(lambda b: self.step_gradients(frozen, alpha, b)[1],
                               s.alpha_min, s.beta_max, s.bisection_tolerance, self.T,
                               at_zero=self.step_gradients(frozen, alpha, 0.0 * beta)[1])
        return alpha, beta

    def step_entropy_multipliers(self, frozen, alpha, beta):
        """Set beta_t so that H(pi_t) >= -delta_t with V_{t+1} held fixed (eq. 5.4d)."""
        s = self.settings
        dx = self.dx

        def slack(b):
            Q = frozen.B + self.log_q.scale(alpha)
            ok = pd_mask(-Q.F[:, dx:, dx:])
            soft = soft_max_action(_make_safe(Q, ok, dx), alpha + b, dx)
            return np.where(ok, self.delta + entropy(soft.cov), -np.inf)

        return _bisect(slack, s.alpha_min, s.beta_max, s.bisection_tolerance, self.T,
                       at_zero=slack(0.0 * beta))

    # -- the whole update ----------------------------------------------------------------
    def converged(self, bound_value, ent, alpha, beta, guess_gap):
        """Check the stopping rule of the module docstring for every step."""
        s = self.settings
        eps = self.epsilon
        at_bound = np.abs(bound_value - eps) <= s.tolerance * eps
        inactive = (bound_value < eps) & (alpha <= s.alpha_min * (1.0 + 1e-9))
        ok = np.all(at_bound | inactive)
        if self.uses_entropy:
            slack = ent + self.delta
            ok &= bool(np.all(slack >= -s.tolerance * np.maximum(1.0, np.abs(self.delta))))
        return bool(ok) and guess_gap <= s.state_tolerance * max(1.0, float(eps.max()))

    def block_descent(self, alpha, beta, guess, step):
        """
        Iterate the state guess p_t to the forward-pass result mu_t at fixed multipliers (Alg. 2).

        Alg. 2 moves the guess toward mu_t by interpolation with a step gamma that is halved when
        the step fails. Here the guess is held as Gaussian natural parameters (precision and
        precision times mean), where interpolation is the geometric mean of the Gaussians, and
        the fixed-point iteration is accelerated by Anderson mixing over the last few residuals;
        a step that fails (non-PD -Q_aa or precision) or blows up the gap restarts from the best
        guess with gamma halved. Returns (alpha, guess, back, marginals, gap, step).
        """
        s, T = self.settings, self.T
        alpha, guess, (back, marginals) = self.feasible_passes(alpha, beta, guess)
        means = guess[0]
        tolerance = s.state_tolerance * max(1.0, float(self.epsilon.max()))
        try:  # Newton on the covariances; the damped iteration below is the fallback
            trial = (means, self.stationary_covariances(alpha, beta, back.value))
            back, marginals = self.passes(alpha, beta, trial)
            guess = trial
        except (NotPositiveDefiniteError, RuntimeError, np.linalg.LinAlgError):
            alpha, guess, (back, marginals) = self.feasible_passes(alpha, beta, guess)
        theta = _precision(guess[1])
        best = None
        history = []
        for _ in range(s.max_block_iterations):
            target = (marginals.state_means[:T], marginals.state_covs[:T])
            gap = float(np.max(kl_gaussian(guess[0], guess[1], *target)))
            if best is None or gap < best[0]:
                best = (gap, theta, guess, back, marginals)
            if gap <= tolerance:
                break
            if gap > 1e3 * best[0] + 1e-12:
                history.clear()
                step *= 0.5
                _, theta, guess, back, marginals = best
                continue
            residual = _precision(target[1]) - theta
            history.append((theta, residual))
            del history[:-s.anderson_depth - 1]
            proposal = _anderson(history, step)
            trial = _covariance(proposal, means)
            try:
                if trial is None:
                    raise NotPositiveDefiniteError('interpolated precision is not PD')
                back, marginals = self.passes(alpha, beta, trial)
                theta, guess = proposal, trial
            except NotPositiveDefiniteError:
                history.clear()
                step *= 0.5
                _, theta, guess, back, marginals = best
                if step < 1e-8:
                    break
        gap, theta, guess, back, marginals = best
        return alpha, guess, back, marginals, gap, step

    def solve(self, alpha0=None, beta0=None):
        """Minimise the dual over the multipliers and return an UpdateResult."""
        if self.bound == STATE_ACTION_BOUND and self.settings.state_action_search == 'lbfgs':
            return self._solve_state_action(alpha0, beta0)
        return self._solve_coordinate(alpha0, beta0)

    def _solve_state_action(self, alpha0, beta0):
        """
        Minimise the SAPS / ESAPS dual (eq. 4.6 / 5.5) by L-BFGS-B over (alpha, beta).

        Every evaluation finds the block-descent fixed point (Alg. 2) at the given multipliers:
        the state means from one LQR pass (``optimal_means``), the state covariances by Newton's
        method (``stationary_covariances``; the damped Anderson iteration is the fallback). There
        the dual's exact gradients are eps - KL_t (eq. 4.4c) and delta + H(pi_t) (eq. 5.4d).
        alpha is searched in log space, alpha_t = alpha0_t exp(y_t) (gradient alpha_t (eps -
        KL_t)), so steps are multiplicative as in the reference implementations' log-space
        bisection; beta linearly (it may be 0). Where no fixed point is found the evaluation
        reports a large value and a gradient that raises alpha, so the line search backs off.
        Stops as soon as every step meets its bounds. Known limit: a step whose bound is
        inactive (KL_t < eps at alpha_t -> 0) approaches the lower bound only slowly in log
        space, so the update may end unconverged on that step (``converged`` False).
        """
        s, T = self.settings, self.T
        alpha = np.clip(_initial(alpha0, T, 'alpha0', 1e3 * _reward_scale(self.reward)),
                        s.alpha_min, s.alpha_max)
        beta = np.zeros(T) if beta0 is None or not self.uses_entropy else np.clip(
            _initial(beta0, T, 'beta0', 0.0), 0.0, s.beta_max)
        cold = (self.q_state_means, self.q_state_covs)
        tolerance = s.state_tolerance * max(1.0, float(self.epsilon.max()))
        memory = {'guess': cold, 'state': None, 'count': 0, 'scale': None}

        unit = alpha.copy()  # alpha_t = unit_t * exp(y_t): every coordinate starts at y_t = 0

        def split(y):
            a = np.clip(unit * np.exp(y[:T]), s.alpha_min, s.alpha_max)
            return a, (y[T:] if self.uses_entropy else np.zeros(T))

        def evaluate(y):
            memory['count'] += 1
            a, b = split(y)
            for start in (memory['guess'], cold):
                try:
                    used, guess, back, marg, gap, _ = self.block_descent(a, b, start, 0.5)
                except NotPositiveDefiniteError:
                    continue
                if gap <= tolerance and np.array_equal(used, a):
                    break
            else:
                worst = memory['state'][0] if memory['state'] else 0.0
                penalty = (abs(worst) * 10.0 + 1e6) / memory['scale']
                return penalty, np.concatenate([-np.ones(T), np.zeros(len(y) - T)])
            memory['guess'] = guess
            bound_value, _, _, ent = self.constraint_values(back, marg)
            value = self.dual_value(back, a, b)
            done = self.converged(bound_value, ent, a, b, gap)
            memory['state'] = (value, back, marg, a, b, done)
            grad = a * (self.epsilon - bound_value)
            if self.uses_entropy:
                grad = np.concatenate([grad, self.delta + ent])
            if memory['scale'] is None:  # the first gradient sets the objective's scale
                memory['scale'] = max(1e-12, float(np.abs(grad).max()))
            return value / memory['scale'], grad / memory['scale']

        def stop_when_met(intermediate_result):
            if memory['state'] is not None and memory['state'][5]:
                raise StopIteration

        y0 = np.zeros(T)
        bounds = list(zip(np.log(s.alpha_min / unit), np.log(s.alpha_max / unit)))
        if self.uses_entropy:
            y0 = np.concatenate([y0, beta])
            bounds += [(0.0, s.beta_max)] * T
        optimum = minimize(evaluate, y0, jac=True, method='L-BFGS-B', bounds=bounds,
                           callback=stop_when_met,
                           options={'maxiter': s.max_iterations, 'ftol': 1e-15, 'gtol': 1e-12,
                                    'maxcor': 20})
        if memory['state'] is None or not np.allclose(split(optimum.x)[0], memory['state'][3]):
            evaluate(optimum.x)
        if memory['state'] is None:
            raise NotPositiveDefiniteError('no multipliers with a state-distribution fixed point '
                                           'were found')
        _, back, marg, a, b, done = memory['state']
        return self._result(back, marg, a, b, memory['count'], done)

    def _solve_coordinate(self, alpha0=None, beta0=None):
        """Run the dual coordinate descent and return an UpdateResult."""
        s, T = self.settings, self.T
        alpha = _initial(alpha0, T, 'alpha0', 1e3 * _reward_scale(self.reward))
        alpha = np.clip(alpha, s.alpha_min, s.alpha_max)
        beta = np.zeros(T) if beta0 is None or not self.uses_entropy else _initial(
            beta0, T, 'beta0', 0.0)
        guess = None
        step = 0.5
        if self.bound == STATE_ACTION_BOUND:
            guess = (self.q_state_means, self.q_state_covs)
        iterations, done = 0, False
        secant = _SecantSearch(np.log(s.alpha_min), np.log(s.alpha_max),
                               np.log(s.max_multiplier_ratio))
        while True:
            gap = 0.0
            if guess is None:
                alpha, _, (back, marginals) = self.feasible_passes(alpha, beta)
            else:
                alpha, guess, back, marginals, gap, step = self.block_descent(
                    alpha, beta, guess, step)
            bound_value, policy_kl, state_kl, ent = self.constraint_values(back, marginals)
            done = self.converged(bound_value, ent, alpha, beta, gap)
            if done or iterations >= s.max_iterations:
                break
            iterations += 1
            frozen = self.frozen(back, marginals)
            if self.bound == POLICY_BOUND or s.state_action_search == 'coordinate':
                new_alpha, beta = self.step_multipliers(frozen, alpha, beta)
                limit = np.log(s.max_multiplier_ratio)
                alpha = alpha * np.exp(np.clip(np.log(new_alpha / alpha), -limit, limit))
            else:
                alpha = np.exp(secant.step(np.log(alpha), bound_value / self.epsilon))
                if self.uses_entropy:
                    beta = self.step_entropy_multipliers(frozen, alpha, beta)
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
        return UpdateResult(
            policy=policy, kl=bound_value, entropy=entropy(cov), alpha=alpha, beta=beta,
            expected_reward=expected_reward(self.reward, marginals),
            state_means=marginals.state_means, state_covs=marginals.state_covs,
            iterations=iterations, converged=done, dual_value=self.dual_value(back, alpha, beta),
            policy_kl=policy_kl, state_kl=state_kl)


@dataclass(frozen=True, eq=False)
class _Frozen:
    B: Quadratic
    value: Quadratic
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


def _bisect(gradient, low, high, tolerance, T, at_zero=None):
    """
    Find per-step roots of increasing functions by bisection in log space.

    ``gradient(values)`` returns dg/dvalue per step (increasing in value; -inf where infeasible).
    Steps whose gradient is still negative at ``high`` get ``high``; steps whose gradient is
    non-negative at ``low`` get ``low`` (or 0 when ``at_zero`` says the bound is inactive at 0).
    Returns the upper end of the final bracket (the feasible side).
    """
    low = np.broadcast_to(np.asarray(low, dtype=float), (T,))
    high = np.broadcast_to(np.asarray(high, dtype=float), (T,))
    log_lo, log_hi = np.log(low), np.log(high)
    g_hi = gradient(np.exp(log_hi))
    g_lo = gradient(np.exp(log_lo))
    result_hi = g_hi < 0
    result_lo = g_lo >= 0
    active = ~(result_hi | result_lo)
    while np.any(active) and np.max((log_hi - log_lo)[active]) > tolerance:
        mid = 0.5 * (log_lo + log_hi)
        g = gradient(np.exp(mid))
        below = g < 0
        log_lo = np.where(active & below, mid, log_lo)
        log_hi = np.where(active & ~below, mid, log_hi)
    values = np.exp(log_hi)
    values = np.where(result_hi, high, values)
    values = np.where(result_lo, low, values)
    if at_zero is not None:
        values = np.where(at_zero >= 0, 0.0, values)
    return values


class _SecantSearch:
    """
    Per-step safeguarded secant search in log alpha for KL_t(alpha) = eps_t.

    The residual r_t = log(KL_t / eps_t) decreases with alpha_t. Each step keeps a bracket from
    the signs seen so far, takes the secant step (slope -1 until two points are known), clips it
    to +-log(max ratio) and falls back to bisection when the secant leaves the bracket.
    """

    def __init__(self, low, high, max_log_step):
        self.low, self.high, self.max_step = low, high, max_log_step
        self.previous = None

    def step(self, log_alpha, ratio):
        r = np.log(np.maximum(ratio, 1e-12))
        if self.previous is None:
            self.lo = np.full_like(log_alpha, self.low)
            self.hi = np.full_like(log_alpha, self.high)
            slope = np.full_like(log_alpha, -1.0)
        else:
            y0, r0 = self.previous
            dy = log_alpha - y0
            with np.errstate(divide='ignore', invalid='ignore'):
                slope = np.where(np.abs(dy) > 1e-12, (r - r0) / dy, -1.0)
            slope = np.where((slope < -1e-3) & np.isfinite(slope), slope, -1.0)
        self.lo = np.where(r > 0, np.maximum(self.lo, log_alpha), self.lo)
        self.hi = np.where(r <= 0, np.minimum(self.hi, log_alpha), self.hi)
        broken = self.lo >= self.hi
        self.lo = np.where(broken, self.low, self.lo)
        self.hi = np.where(broken, self.high, self.hi)
        self.previous = (log_alpha, r)
        proposal = log_alpha - r / slope
        proposal = log_alpha + np.clip(proposal - log_alpha, -self.max_step, self.max_step)
        outside = (proposal <= self.lo) | (proposal >= self.hi)
        both = (self.lo > self.low) & (self.hi < self.high)
        proposal = np.where(outside & both, 0.5 * (self.lo + self.hi), proposal)
        return np.clip(proposal, self.low, self.high)


def _precision(covs):
    """Return the state precisions (T, d, d) of covariances: the iterate of the block descent."""
    return inverse_and_logdet(covs, 'state guess covariance')[0]


def _covariance(precision, means):
    """Return the Gaussians (means, inverse of ``precision``), or None if one is not PD."""
    precision = 0.5 * (precision + np.swapaxes(precision, -1, -2))
    if not np.all(pd_mask(precision)):
        return None
    cov, _ = inverse_and_logdet(precision, 'state guess precision')
    return means, 0.5 * (cov + np.swapaxes(cov, -1, -2))


def _anderson(history, step):
    """
    Return the next iterate of a damped fixed-point iteration with Anderson mixing.

    ``history`` holds (theta_i, residual_i = G(theta_i) - theta_i); with one entry this is the
    damped step theta + step * residual, with more the residual is extrapolated to zero
    (Anderson 1965, type II, in the least-squares form of Walker and Ni 2011).
    """
    theta, residual = history[-1]
    if len(history) == 1:
        return theta + step * residual
    d_theta = np.stack([(b[0] - a[0]).ravel() for a, b in zip(history[:-1], history[1:])], 1)
    d_res = np.stack([(b[1] - a[1]).ravel() for a, b in zip(history[:-1], history[1:])], 1)
    gamma = np.linalg.lstsq(d_res, residual.ravel(), rcond=1e-10)[0]
    damped = step * residual.ravel()
    change = damped - (d_theta + step * d_res) @ gamma
    if not np.all(np.isfinite(change)) or (np.linalg.norm(change)
                                           > 4.0 * np.linalg.norm(damped)):
        change = damped  # an ill-conditioned history extrapolates too far: plain damped step
    return theta + change.reshape(theta.shape)


def _floor_covariance(cov, floor):
    """Raise every eigenvalue of the policy covariances to at least ``floor``."""
    eigvals, eigvecs = np.linalg.eigh(cov)
    if np.all(eigvals >= floor):
        return cov
    eigvals = np.maximum(eigvals, floor)
    return np.einsum('tij,tj,tkj->tik', eigvecs, eigvals, eigvecs)
