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
Guided Policy Search update (thesis ch. 3, Alg. 1; Levine and Abbeel 2014).

Maximise the expected reward subject to E_mu_t[KL(pi_t || q_t)] <= epsilon at every step
(eq. 3.3c): the augmented reward is R_t + alpha_t log q_t(a|s) (eq. 3.9), the new policy the
soft-max of Q_t at temperature alpha_t (eq. 3.4), and alpha_t minimises the dual of eq. 3.5/3.8
whose gradient is eps - E KL (eq. 3.6c).
"""

from ps_control.core.kl_update import KLBoundedProblem, POLICY_BOUND


def gps_update(dynamics, reward, policy, initial_state, epsilon, alpha0=None, settings=None):
    """
    Return the GPS update of ``policy`` under linear-Gaussian ``dynamics`` (an UpdateResult).

    ``epsilon`` (scalar or (T,)) bounds E_mu_t KL(pi_t || q_t) per time step; ``alpha0`` warm
    starts the multipliers (e.g. ``previous_result.alpha``). ``res.kl`` is that expected KL.
    """
    problem = KLBoundedProblem(dynamics, reward, policy, initial_state, epsilon, POLICY_BOUND,
                               settings=settings)
    return problem.solve(alpha0=alpha0)


def gps_dual(dynamics, reward, policy, initial_state, epsilon, alpha):
    """
    Return (dual value, gradient) of the GPS dual at multipliers ``alpha`` (eq. 3.8, 3.6c).

    L(alpha) = E_p1[V_1(s)] + sum_t alpha_t eps_t with V from the soft backward pass, and
    dL/dalpha_t = eps_t - E_mu_t KL(pi_t || q_t).
    """
    problem = KLBoundedProblem(dynamics, reward, policy, initial_state, epsilon, POLICY_BOUND)
    back, marginals = problem.passes(alpha, 0.0 * alpha)
    bound_value = problem.constraint_values(back, marginals)[0]
    return problem.dual_value(back, alpha, 0.0 * alpha), problem.epsilon - bound_value
