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
Separate bounds on the state distribution and the policy (thesis 7.1, beyond the thesis).

Maximise the expected reward subject to, at every step,

    E_mu_t KL(pi_t || q_t) <= epsilon_t          (the GPS bound, eq. 3.3c, multiplier alpha_t)
    KL(mu_t || q_t(s))     <= state_epsilon_t    (the state part of eq. 4.1c, multiplier gamma_t)

with q_t(s) the previous policy's state distribution under the same dynamics. SAPS bounds the
sum of the two with one multiplier; here each has its own, so the policy change and the state
change are set independently. The Lagrangian has alpha_t log q_t(a|s) + gamma_t log q_t(s) +
alpha_t E_mu H(pi_t) + gamma_t H(mu_t): the SAPS machinery with the policy at temperature
alpha_t and the state terms weighted by gamma_t (``KLBoundedProblem.coefficients``); the
covariance fixed point is that of ESAPS with beta_t = alpha_t - gamma_t, which may be negative.
The dual is V_0 + sum_t alpha_t epsilon_t + gamma_t (state_epsilon_t + 1), with gradients
epsilon_t - E_mu KL(pi_t || q_t) and state_epsilon_t - KL(mu_t || q_t(s)).
"""

import numpy as np

from ps_control.core.kl_update import KLBoundedProblem, SEPARATE_BOUNDS
from ps_control.core.saps import _EXACT


def separate_bounds_update(dynamics, reward, policy, initial_state, epsilon, state_epsilon,
                           alpha0=None, gamma0=None, settings=None):
    """
    Return the update of ``policy`` under separate policy and state bounds (an UpdateResult).

    ``epsilon`` bounds E_mu_t KL(pi_t || q_t) (``res.kl`` = ``res.policy_kl``),
    ``state_epsilon`` bounds KL(mu_t || q_t(s)) (``res.state_kl``); both per step, scalars or
    (T,). ``res.alpha`` and ``res.gamma`` are their multipliers (``res.beta`` is zero).
    """
    problem = KLBoundedProblem(dynamics, reward, policy, initial_state, epsilon,
                               SEPARATE_BOUNDS, settings=settings, state_epsilon=state_epsilon)
    return problem.solve(alpha0=alpha0, beta0=gamma0)


def separate_bounds_dual(dynamics, reward, policy, initial_state, epsilon, state_epsilon, alpha,
                         gamma):
    """Return (dual value, d/dalpha, d/dgamma) at the block-descent fixed point."""
    problem = KLBoundedProblem(dynamics, reward, policy, initial_state, epsilon,
                               SEPARATE_BOUNDS, settings=_EXACT, state_epsilon=state_epsilon)
    alpha, gamma = np.asarray(alpha, float), np.asarray(gamma, float)
    back, marginals, gap = problem.fixed_point(alpha, gamma)
    if gap > problem.settings.state_tolerance:
        raise RuntimeError('block descent did not reach the fixed point (KL gap %.3g)' % gap)
    policy_kl, _, state_kl, _ = problem.constraint_values(back, marginals)
    return (problem.dual_value(back, alpha, gamma), problem.epsilon - policy_kl,
            problem.state_epsilon - state_kl)
