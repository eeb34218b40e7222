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
Entropy State-Action bound Policy Search update (thesis ch. 5, Alg. 5).

SAPS plus a lower bound on the policy entropy (eq. 5.1d). The thesis writes the bound on the
expected negative entropy, E_mu_t[int pi_t log pi_t] <= delta_t, i.e. H(pi_t) >= -delta_t. The
policy is the soft-max at temperature alpha_t + beta_t of the SAPS-augmented Q (eq. 5.2, 5.6).
"""

import numpy as np

from ps_control.core.gaussian import entropy
from ps_control.core.kl_update import KLBoundedProblem, STATE_ACTION_BOUND
from ps_control.core.saps import _EXACT, state_action_dual


def entropy_bound(previous_policy, decrease=0.0):
    """
    Return delta_t = -(H(q_t) - decrease): keep at least the previous entropy minus ``decrease``.

    ``decrease`` = 0 keeps the previous policy's entropy (nats per step); a positive value lets
    it shrink by that much per update, a negative one forces it to grow.
    """
    return -(entropy(previous_policy.cov) - float(decrease))


def esaps_update(dynamics, reward, policy, initial_state, epsilon, delta=None, alpha0=None,
                 beta0=None, settings=None):
    """
    Return the ESAPS update of ``policy`` (an UpdateResult).

    ``delta`` (scalar or (T,)) bounds the expected negative entropy of the new policy
    (eq. 5.1d): the result satisfies H(pi_t) >= -delta_t. ``delta=None`` uses
    ``entropy_bound(policy)``, i.e. -H(q_t): the new policy keeps at least the previous
    policy's entropy at every step. ``res.kl`` is the state-action KL of eq. 4.1c,
    ``res.beta`` the entropy multipliers.
    """
    if delta is None:
        delta = entropy_bound(policy)
    problem = KLBoundedProblem(dynamics, reward, policy, initial_state, epsilon,
                               STATE_ACTION_BOUND, delta=delta, settings=settings)
    return problem.solve(alpha0=alpha0, beta0=beta0)


def esaps_dual(dynamics, reward, policy, initial_state, epsilon, delta, alpha, beta):
    """Return (dual value, d/dalpha, d/dbeta) of the ESAPS dual (eq. 5.5, 5.4c-d)."""
    problem = KLBoundedProblem(dynamics, reward, policy, initial_state, epsilon,
                               STATE_ACTION_BOUND, delta=delta, settings=_EXACT)
    return state_action_dual(problem, np.asarray(alpha, float), np.asarray(beta, float))
