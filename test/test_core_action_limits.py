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

"""The reward's action targets and the learner's effort-limit penalty (core.action_limits)."""

from core_problems import lqr_gains, random_problem
import numpy as np
from ps_control.core import (GaussianState, gps_update, limit_penalised_reward,
                             LinearGaussianDynamics, LinearGaussianPolicy, QuadraticReward)
from ps_control.core.lqg import forward_pass, reward_quadratic
import pytest


def _random_reward(T=4, dx=3, du=2, seed=0, targets=True):
    """Return a reward with full negative definite M and H (and, if asked, action targets)."""
    rng = np.random.default_rng(seed)

    def negative_definite(n, count):
        X = rng.standard_normal((count, n, n))
        return -(X @ np.swapaxes(X, 1, 2) + 0.5 * np.eye(n))
    y = rng.standard_normal((T, du)) if targets else None
    return QuadraticReward(negative_definite(dx, T + 1), negative_definite(du, T),
                           rng.standard_normal((T + 1, dx)), y)


def _step_values(reward, states, actions):
    """Return R_t(s, a) per step (n, T) through lqg.reward_quadratic, the form the updates use."""
    step, _ = reward_quadratic(reward)
    v = np.concatenate([states, actions], axis=-1)  # (n, T, dx + du)
    return (0.5 * np.einsum('nti,tij,ntj->nt', v, step.F, v)
            + np.einsum('ti,nti->nt', step.f, v) + step.f0)


def test_action_targets_enter_evaluate_and_the_quadratic_form():
    reward = _random_reward()
    rng = np.random.default_rng(1)
    T, dx, du = 4, 3, 2
    states, actions = rng.standard_normal((5, T + 1, dx)), rng.standard_normal((5, T, du))
    err, action_err = reward.z - states, reward.y - actions
    expected = (np.einsum('nti,tij,ntj->n', err, reward.M, err)
                + np.einsum('nti,tij,ntj->n', action_err, reward.H, action_err))
    np.testing.assert_allclose(reward.evaluate(states, actions), expected, rtol=1e-12)
    _, terminal = reward_quadratic(reward)
    by_steps = (_step_values(reward, states[:, :T], actions).sum(1)
                + terminal.evaluate(states[:, T]))
    np.testing.assert_allclose(by_steps, expected, rtol=1e-10)
    plain = QuadraticReward(reward.M, reward.H, reward.z)  # the thesis form: y = 0
    np.testing.assert_array_equal(plain.y, np.zeros((T, du)))
    with pytest.raises(ValueError, match='reward y has shape'):
        QuadraticReward(reward.M, reward.H, reward.z, np.zeros((T, du + 1)))
    with pytest.raises(ValueError, match='reward y'):
        QuadraticReward(reward.M, reward.H, reward.z, np.full((T, du), np.nan))


def test_huge_epsilon_recovers_the_lqr_with_action_targets():
    """GPS with an inactive bound is the LQR optimum of the reward, targets included."""
    dyn, rew, pol, x0 = random_problem(T=8, seed=6)
    targeted = QuadraticReward(rew.M, rew.H, rew.z,
                               np.random.default_rng(2).standard_normal((8, dyn.du)))
    K, k = lqr_gains(dyn, targeted)
    res = gps_update(dyn, targeted, pol, x0, epsilon=1e6)
    np.testing.assert_allclose(res.policy.K, K, atol=1e-5)
    np.testing.assert_allclose(res.policy.k, k, atol=1e-5)
    assert np.abs(k - lqr_gains(dyn, rew)[1]).max() > 0.1  # the targets moved the optimum


def _hinge_penalty(actions, limits, weight):
    return -weight * np.sum(np.maximum(0.0, np.abs(actions) - limits) ** 2, axis=-1)


def test_penalty_is_the_gauss_newton_quadratisation_of_the_hinge():
    """
    R' - R = -w sum over penalised (t, i) of (a_i - sign(abar) l_i)^2 + a constant per step.

    So at abar_t the quadratic equals the hinge penalty -w max(0, |a| - l)^2 in value (up to the
    constant) and gradient (finite differences), and it does not depend on the state.
    """
    T, dx, du, weight = 4, 3, 2, 0.7
    reward = _random_reward(T, dx, du)
    limits = np.array([1.0, 2.0])
    mean_actions = np.array([[1.5, 0.0], [-3.0, 2.5], [0.2, -1.9], [0.0, 0.0]])
    penalised_reward, penalised = limit_penalised_reward(reward, mean_actions, limits, weight)
    np.testing.assert_array_equal(penalised, np.abs(mean_actions) > limits)
    rng = np.random.default_rng(3)
    states = 3.0 * rng.standard_normal((50, T + 1, dx))
    actions = 3.0 * rng.standard_normal((50, T, du))
    difference = (_step_values(penalised_reward, states[:, :T], actions)
                  - _step_values(reward, states[:, :T], actions))
    target = np.sign(mean_actions) * limits
    quadratic = -weight * np.sum(penalised * (actions - target) ** 2, axis=-1)
    constant = difference - quadratic  # (n, T): the same for every sample
    np.testing.assert_allclose(constant, np.broadcast_to(constant[0], constant.shape),
                               atol=1e-9 * np.abs(difference).max())
    # at abar_t: the quadratic's gradient in a is the hinge's (finite differences of both)
    h = 1e-6
    for t in range(T):
        for i in range(du):
            bump = np.zeros(du)
            bump[i] = h
            s = np.broadcast_to(states[0, t], (2, dx))[:, None]
            a = np.stack([mean_actions[t] + bump, mean_actions[t] - bump])[:, None]

            def at_t(r):  # R_t at (s, abar_t + h e_i) and (s, abar_t - h e_i)
                values = _step_values(QuadraticReward(r.M[t:t + 2], r.H[t:t + 1], r.z[t:t + 2],
                                                      r.y[t:t + 1]), s, a)
                return values[:, 0]
            added = at_t(penalised_reward) - at_t(reward)
            hinge = _hinge_penalty(a[:, 0], limits, weight)
            assert (added[0] - added[1]) / (2 * h) == pytest.approx(
                (hinge[0] - hinge[1]) / (2 * h), abs=1e-5)


def test_nothing_to_penalise_returns_the_reward_itself():
    reward = _random_reward(targets=False)
    limits = np.array([1.0, 1.0])
    inside = np.full((4, 2), 0.5)
    assert limit_penalised_reward(reward, inside, limits, 1.0)[0] is reward
    outside = np.full((4, 2), 5.0)
    same, penalised = limit_penalised_reward(reward, outside, limits, 0.0)
    assert same is reward and not penalised.any()


@pytest.mark.parametrize('weight, limits, match', [
    (-1.0, [1.0, 1.0], 'weight'), (float('nan'), [1.0, 1.0], 'weight'),
    (1.0, [1.0, 0.0], 'effort limits must be > 0'), (1.0, [1.0], 'effort limits has shape')])
def test_bad_penalty_input_is_named(weight, limits, match):
    with pytest.raises(ValueError, match=match):
        limit_penalised_reward(_random_reward(), np.zeros((4, 2)), limits, weight)


def test_the_penalty_brings_an_action_the_model_cannot_see_back_to_its_limit():
    """
    A joint saturated in every rollout is pulled back toward its limit by the penalty.

    Its fitted B column is zero, so the task reward gives the update no reason to change its mean
    action (only the small action cost pulls); with the penalty the KL-bounded step moves it.
    """
    T, dx, du, limit = 10, 2, 2, 1.0
    rng = np.random.default_rng(4)
    A = np.broadcast_to(np.eye(dx), (T, dx, dx))
    B = np.zeros((T, dx, du))
    B[:, :, 0] = 0.1 * rng.standard_normal((T, dx))  # joint 1 acts; joint 2 is saturated
    noise = np.broadcast_to(1e-4 * np.eye(dx), (T, dx, dx))
    dyn = LinearGaussianDynamics(A, B, np.zeros((T, dx)), noise)
    reward = QuadraticReward(np.broadcast_to(-np.eye(dx), (T + 1, dx, dx)),
                             np.broadcast_to(-1e-4 * np.eye(du), (T, du, du)),
                             np.ones((T + 1, dx)))
    policy = LinearGaussianPolicy(np.zeros((T, du, dx)), np.tile([0.0, 10.0], (T, 1)),
                                  np.broadcast_to(np.eye(du), (T, du, du)))
    x0 = GaussianState(np.zeros(dx), 1e-2 * np.eye(dx))

    def mean_actions(p):
        m = forward_pass(dyn, p.K, p.k, p.cov, x0.mean, x0.cov).state_means[:T]
        return np.einsum('tij,tj->ti', p.K, m) + p.k
    before = mean_actions(policy)
    penalised, mask = limit_penalised_reward(reward, before, [limit, limit], 1.0)
    assert mask[:, 1].all() and not mask[:, 0].any()
    plain = gps_update(dyn, reward, policy, x0, epsilon=0.5)
    moved = gps_update(dyn, penalised, policy, x0, epsilon=0.5)
    assert plain.converged and moved.converged
    assert np.all(moved.kl <= 0.5 * 1.01) and np.all(plain.kl <= 0.5 * 1.01)
    plain_2, moved_2 = mean_actions(plain.policy)[:, 1], mean_actions(moved.policy)[:, 1]
    assert np.all(np.abs(plain_2 - 10.0) < 0.05)  # stays where it is
    assert np.all(moved_2 < 10.0 - 0.5)  # ... a KL-bounded step toward the limit
    assert np.all(moved_2 > limit)


def test_a_mean_action_exactly_on_its_limit_is_not_penalised():
    """|abar| = l is within the limits: no term, and the reward itself comes back."""
    T, dx, du = 3, 2, 2
    reward = QuadraticReward(np.broadcast_to(-np.eye(dx), (T + 1, dx, dx)),
                             np.broadcast_to(-np.eye(du), (T, du, du)), np.ones((T + 1, dx)))
    limits = np.array([2.0, 0.5])
    on_limit = np.tile([-2.0, 0.5], (T, 1))
    same, penalised = limit_penalised_reward(reward, on_limit, limits, 10.0)
    assert same is reward and not penalised.any()
    beyond = on_limit.copy()
    beyond[1, 0] = -2.0 - 1e-9
    _, penalised = limit_penalised_reward(reward, beyond, limits, 10.0)
    assert penalised.tolist() == [[False, False], [True, False], [False, False]]
