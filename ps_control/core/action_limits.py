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
A learner-side penalty on actions beyond the effort limits (not in the thesis).

The dynamics are fitted to the policy's actions before the motors clip them (ps_control.learning
says why), so where a joint saturates in every rollout the fitted model learns that its action
does nothing there. The quadratic reward then gives the update no reason to bring the action
back, and commanded actions drift to many times the limit (on the quad pendulum, final ESAPS and
GPS policies command 5 to 35 times the limit, 12 to 23 % of the (step, joint) pairs saturated in
every rollout: README, Algorithms), where neither the model nor the exploration noise
can tell the update anything about that joint.

The penalty P_t(a) = -w sum_i max(0, |a_i| - l_i)^2 is not quadratic. As iLQR treats such terms
(thesis sec. 2.1.2), it is quadratised at the mean actions abar_t of the policy being improved:
for each (t, i) with |abar_ti| > l_i the term -w (a_i - sign(abar_ti) l_i)^2, which equals P_t and
its gradient at abar_t, and nothing where abar_t is within the limits. The sum with the task
reward is again a QuadraticReward (with action targets y), so GPS, SAPS and ESAPS take it as it
is.
"""

import numpy as np

from ps_control.core.linear_gaussian import as_array, QuadraticReward


def limit_penalised_reward(reward, mean_actions, limits, weight):
    """
    Return (reward with the quadratised limit penalty, penalised (T, du) bool mask).

    reward: the task's QuadraticReward; mean_actions (T, du): abar_t, the mean actions of the
    policy being improved (e.g. under the fitted model); limits (du,) > 0: the effort limits l;
    weight w >= 0 (reward per squared action unit beyond the limit).

    With W_t = diag(w [|abar_ti| > l_i]) and c_t = sign(abar_t) l, the penalised reward
    R_t(s, a) - (a - c_t)' W_t (a - c_t) is, up to a constant per step, (z_t - s)' M_t (z_t - s)
    + (y'_t - a)' H'_t (y'_t - a) with H' = H - W and y' = H'^-1 (H y - W c); the constant does
    not change any update (only the reward's value). Returns ``reward`` itself when nothing is
    penalised (w = 0 or every mean action within its limit).
    """
    weight = float(weight)
    if not np.isfinite(weight) or weight < 0:
        raise ValueError('the limit penalty weight must be a finite number >= 0, got %r'
                         % (weight,))
    T, du = reward.H.shape[0], reward.H.shape[-1]
    mean_actions = as_array('mean actions', mean_actions, (T, du))
    limits = as_array('effort limits', limits, (du,))
    if np.any(limits <= 0):
        raise ValueError('effort limits must be > 0, got %s' % (limits,))
    penalised = (np.abs(mean_actions) > limits) if weight > 0 else np.zeros((T, du), bool)
    if not penalised.any():
        return reward, penalised
    w = np.where(penalised, weight, 0.0)
    target = np.sign(mean_actions) * limits
    H = reward.H.copy()
    H[:, np.arange(du), np.arange(du)] -= w
    rhs = np.einsum('tij,tj->ti', reward.H, reward.y) - w * target
    y = np.linalg.solve(H, rhs[..., None])[..., 0]
    return QuadraticReward(reward.M, H, reward.z, y), penalised
