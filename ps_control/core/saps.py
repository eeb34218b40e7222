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
State-Action bound Policy Search update (thesis ch. 4, Alg. 2-4).

Maximise the expected reward subject to KL(mu_t pi_t || q_t(s) q_t(a|s)) <= epsilon at every
step (eq. 4.1c), q_t(s) being the previous policy's state distribution under the same dynamics.
The augmented reward (eq. 4.7/4.8) depends on the new state distribution mu_t; the circularity
is resolved by the block descent of Alg. 2 inside the coordinate descent of Alg. 4 (see
ps_control.core.kl_update).
"""

import numpy as np

from ps_control.core.kl_update import DualSettings, KLBoundedProblem, STATE_ACTION_BOUND


def saps_update(dynamics, reward, policy, initial_state, epsilon, alpha0=None, settings=None):
    """
    Return the SAPS update of ``policy`` (an UpdateResult).

    ``res.kl`` is the state-action KL of eq. 4.1c per step (``res.state_kl`` and
    ``res.policy_kl`` its two parts); ``epsilon`` bounds it per step.
    """
    problem = KLBoundedProblem(dynamics, reward, policy, initial_state, epsilon,
                               STATE_ACTION_BOUND, settings=settings)
    return problem.solve(alpha0=alpha0)


def state_action_dual(problem, alpha, beta):
    """
    Return (dual value, d/dalpha, d/dbeta or None) at the block-descent fixed point (Alg. 2).

    At the fixed point p_t = mu_t of the multipliers (``KLBoundedProblem.fixed_point``) the dual
    of eq. 4.6 (5.5 with the entropy bound) and its gradients eps - KL_t (eq. 4.4c) and
    delta + H(pi_t) (eq. 5.4d) are evaluated. Raises RuntimeError if the fixed point is not
    reached.
    """
    back, marginals, gap = problem.fixed_point(alpha, beta)
    if gap > problem.settings.state_tolerance:
        raise RuntimeError('block descent did not reach the fixed point (KL gap %.3g)' % gap)
    bound_value, _, _, ent = problem.constraint_values(back, marginals)
    grad_beta = problem.delta + ent if problem.uses_entropy else None
    return problem.dual_value(back, alpha, beta), problem.epsilon - bound_value, grad_beta


_EXACT = DualSettings(state_tolerance=1e-13, newton_tolerance=1e-13)


def saps_dual(dynamics, reward, policy, initial_state, epsilon, alpha):
    """Return (dual value, gradient) of the SAPS dual (eq. 4.6, 4.4c) at ``alpha``."""
    problem = KLBoundedProblem(dynamics, reward, policy, initial_state, epsilon,
                               STATE_ACTION_BOUND, settings=_EXACT)
    alpha = np.asarray(alpha, float)
    value, grad, _ = state_action_dual(problem, alpha, 0.0 * alpha)
    return value, grad
