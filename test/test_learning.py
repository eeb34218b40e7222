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

"""The learning loop on an exactly linear-Gaussian system: improvement, checkpoints, bad input."""

import os
import types
from types import MappingProxyType

import numpy as np
from ps_control import checkpoint, learning
from ps_control.core import QuadraticReward
from ps_control.core.gaussian import NotPositiveDefiniteError
from ps_control.learning import PolicySearch
from ps_control.learning_config import (learning_config_from_mapping, LearningConfig,
                                        load_learning_config)
import pytest


class LinearTask:
    """A double integrator per joint with a quadratic reward: the task protocol, no PyBullet."""

    name = 'linear'

    def __init__(self, T=20, n=2, dt=0.1, limit=5.0):
        self.horizon, self.du, self.dx = T, n, 2 * n
        self.dt = dt
        self.torque_limits = (limit,) * n
        self.initial_state_mean = np.zeros(2 * n)
        self.goal = np.concatenate([np.ones(n), np.zeros(n)])
        self.learning = MappingProxyType({'algorithm': 'gps', 'samples': 20, 'epsilon': 0.5})
        A = np.eye(2 * n)
        A[:n, n:] = dt * np.eye(n)
        self.A = A
        self.B = np.vstack([0.5 * dt ** 2 * np.eye(n), dt * np.eye(n)])

    def fingerprint(self):
        return 'linear %d %d %g %g' % (self.horizon, self.du, self.dt, self.torque_limits[0])

    def quadratic_reward(self):
        T, dx, du = self.horizon, self.dx, self.du
        M = np.zeros((T + 1, dx, dx))
        M[T // 2:] = -np.diag([10.0] * du + [1.0] * du)
        H = np.broadcast_to(-0.01 * np.eye(du), (T, du, du))
        return QuadraticReward(M, H, np.broadcast_to(self.goal, (T + 1, dx)))

    def reward(self, states, actions):
        return self.quadratic_reward().evaluate(states, actions)

    def success(self, states):
        return np.all(np.abs(states[:, -1, :self.du] - 1.0) < 0.2, axis=1)

    def applied(self, actions):
        """Return the torques the 'true system' applies for the policy's actions (clipped)."""
        limits = np.asarray(self.torque_limits)
        return np.clip(actions, -limits, limits)

    def rollouts(self, policy, n, rng):
        """Sample n rollouts with torque clipping; return states and the policy's actions."""
        x = rng.normal(0.0, 0.05, size=(n, self.dx))
        states, actions = [x], []
        for t in range(self.horizon):
            u = policy.mean_action(t, x) + rng.multivariate_normal(
                np.zeros(self.du), policy.cov[t], size=n)
            x = (x @ self.A.T + self.applied(u) @ self.B.T
                 + rng.normal(0.0, 1e-3, size=(n, self.dx)))
            states.append(x)
            actions.append(u)
        return np.stack(states, 1), np.stack(actions, 1)


def test_learning_improves_reward_on_linear_system():
    task = LinearTask()
    config = load_learning_config(task, {'algorithm': 'gps', 'epsilon': 1.0})
    search = PolicySearch(task, config)
    rng = np.random.default_rng(0)
    first = None
    for _ in range(4):
        states, actions = task.rollouts(search.policy, config.samples, rng)
        metrics = search.update(states, actions)
        first = metrics['expected_reward'] if first is None else first
    states, actions = task.rollouts(search.policy, 50, rng)
    final = task.reward(states, task.applied(actions)).mean()
    assert final > first + 0.5 * abs(first)
    assert [m['iteration'] for m in search.history] == [1, 2, 3, 4]
    assert all(m['max_kl'] <= 1.0 * 1.02 for m in search.history)


def test_update_fits_the_policys_actions_and_scores_the_applied_torques(monkeypatch):
    """The model maps what the policy commands to where the system goes; the reward is real."""
    task = LinearTask(limit=0.5)  # binds: the initial policy's noise alone is 1 N m
    search = PolicySearch(task, load_learning_config(task, {'algorithm': 'gps'}))
    states, actions = task.rollouts(search.policy, 20, np.random.default_rng(3))
    saturated = np.abs(actions) >= 0.5
    assert 0.1 < saturated.mean() < 0.9
    fitted = []
    fit = search.fit_dynamics
    monkeypatch.setattr(search, 'fit_dynamics', lambda s, a: fitted.append(a) or fit(s, a))
    metrics = search.update(states, actions)
    np.testing.assert_array_equal(fitted[0], actions)  # not clipped
    np.testing.assert_array_equal(search.recent[0][1], actions)  # nor in the prior's data
    applied = task.reward(states, task.applied(actions)).mean()
    commanded = task.reward(states, actions).mean()
    assert abs(applied - commanded) > 1e-3 * abs(applied)  # the test tells the two apart
    assert metrics['expected_reward'] == pytest.approx(applied, rel=1e-12)
    assert metrics['saturation'] == pytest.approx(saturated.mean())
    # a controller that clips at 0.3 instead: the metrics are of the torques it applied
    weaker = np.clip(actions, -0.3, 0.3)
    metrics = search.sample_metrics(states, actions, weaker)
    assert metrics['expected_reward'] == pytest.approx(task.reward(states, weaker).mean(),
                                                       rel=1e-12)
    assert metrics['saturation'] == pytest.approx(np.mean(np.abs(actions) > 0.3))
    with pytest.raises(ValueError, match=r'torques have shape \(20, 19, 2\), expected'):
        search.update(states, actions, weaker[:, :-1])


def test_an_update_without_feasible_multipliers_keeps_the_policy_and_goes_on(monkeypatch):
    """A model that admits no update (NotPositiveDefiniteError) costs an iteration, not the run."""
    task = LinearTask()
    search = PolicySearch(task, load_learning_config(task, {'algorithm': 'saps',
                                                            'epsilon': 1.0}))
    rng = np.random.default_rng(0)
    before = search.policy
    _fail_improve(monkeypatch, search, times=2)  # on the fit and on the refit
    kept = search.update(*task.rollouts(search.policy, 20, rng))
    assert search.policy is before and search.alpha is None
    assert kept['max_kl'] == kept['max_policy_kl'] == 0.0 and not kept['dual_converged']
    assert 'policy kept' in kept['update_error'] and 'fixed point' in kept['update_error']
    assert 'refitted with scale floor 0.001' in kept['update_error'] and 'refit' not in kept
    assert np.isfinite(kept['expected_reward'])  # the rollouts were still scored
    moved = search.update(*task.rollouts(search.policy, 20, rng))
    assert search.policy is not before and 'update_error' not in moved
    assert moved['dual_converged'] and moved['max_kl'] > 0.5
    assert [m['iteration'] for m in search.history] == [1, 2]


def _fail_improve(monkeypatch, search, times):
    """Make search.improve raise NotPositiveDefiniteError on its next ``times`` calls."""
    improve, calls = search.improve, []

    def failing(dynamics, x0, multiplier=1.0, reward=None):
        calls.append(dynamics)
        if len(calls) <= times:
            raise NotPositiveDefiniteError('no state-distribution fixed point for any alpha', [3])
        return improve(dynamics, x0, multiplier, reward)
    monkeypatch.setattr(search, 'improve', failing)
    return calls


@pytest.mark.parametrize('floor', [1e-3, 0.0])
def test_an_update_that_fails_is_tried_again_on_a_refit(monkeypatch, floor):
    """refit_scale_floor > 0: a second fit, with the variance floor, and a second try."""
    task = LinearTask()
    search = PolicySearch(task, load_learning_config(task, {'algorithm': 'saps', 'epsilon': 1.0,
                                                            'refit_scale_floor': floor}))
    before = search.policy
    import ps_control.learning as learning_module
    fitters, fits = [], []

    class RecordingFitter(learning_module.DynamicsFitter):
        def __init__(self, **settings):
            super().__init__(**settings)
            fitters.append(self)

        def fit(self, states, actions, scale_floor=0.0):
            fits.append(scale_floor)
            return super().fit(states, actions, scale_floor)

    monkeypatch.setattr(learning_module, 'DynamicsFitter', RecordingFitter)
    calls = _fail_improve(monkeypatch, search, times=1)
    metrics = search.update(*task.rollouts(search.policy, 20, np.random.default_rng(0)))
    assert len(search.recent) == 1  # the refit adds no data to the prior
    assert len(fitters) == 1  # nor fits the prior again
    if floor:
        assert fits == [0.0, floor] and len(calls) == 2
        assert calls[1] is not calls[0]  # the second try ran on the refitted model
        assert search.policy is not before and 'update_error' not in metrics
        assert 'fixed point' in metrics['refit'] and metrics['dual_converged']
    else:
        assert fits == [0.0] and len(calls) == 1
        assert search.policy is before and 'policy kept' in metrics['update_error']


@pytest.mark.parametrize('over, applied', [(3.0, False), (1.05, True)])
def test_an_unconverged_update_far_over_its_bound_is_not_applied(monkeypatch, over, applied):
    """reject_kl_excess 0.1: a search that stopped 3x over epsilon keeps the policy; 1.05x not."""
    import dataclasses
    task = LinearTask()
    search = PolicySearch(task, load_learning_config(task, {'algorithm': 'saps',
                                                            'epsilon': 1.0}))
    before = search.policy
    improve = search.improve

    def unconverged(dynamics, x0, multiplier=1.0, reward=None):
        result = improve(dynamics, x0, multiplier, reward)
        return dataclasses.replace(result, kl=over * result.kl / result.kl.max(),
                                   converged=False)
    monkeypatch.setattr(search, 'improve', unconverged)
    metrics = search.update(*task.rollouts(search.policy, 20, np.random.default_rng(0)))
    assert (search.policy is not before) == applied
    assert ('update_error' in metrics) == (not applied)
    if not applied:
        assert '3 times over the KL bound' in metrics['update_error']
        assert search.alpha is None and metrics['max_kl'] == 0.0


@pytest.mark.parametrize('realised, factor', [
    (0.5, 1.0),    # half the predicted improvement came true: keep the bound
    (1.0, 5.0),    # all of it (or more): grow, at most 5x per update
    (0.8, 2.5),    # predicted / (2 (predicted - actual)) = 1 / 0.4
    (-1.0, 0.25),  # the reward fell by the predicted gain
    (-20.0, 0.1),  # far worse: shrink, at most 10x per update
])
def test_step_adaptation_follows_the_realised_share_of_the_predicted_gain(realised, factor):
    task = LinearTask()
    search = PolicySearch(task, load_learning_config(task, {'step_adaptation': True,
                                                            'step_multiplier_max': 100.0}))
    assert search.next_step_multiplier(-50.0) == 1.0  # nothing to judge yet
    search.history.append({'expected_reward': -100.0, 'model_reward': -90.0,
                           'predicted_reward': -70.0, 'step_multiplier': 2.0})
    # predicted gain 20 (on the model); the true system realised ``realised`` x 20
    assert search.next_step_multiplier(-100.0 + 20.0 * realised) == pytest.approx(2.0 * factor)
    search.history[-1]['predicted_reward'] = -95.0  # the model predicted a loss: no judgement
    assert search.next_step_multiplier(-80.0) == 2.0
    search.history[-1]['predicted_reward'] = -90.0  # nor a gain of exactly 0
    assert search.next_step_multiplier(-120.0) == 2.0
    assert search.next_step_multiplier(-80.0) == 2.0
    search.history.append({'expected_reward': -80.0, 'step_multiplier': 2.0,
                           'update_error': 'no update, policy kept'})
    assert search.next_step_multiplier(-60.0) == 2.0  # a kept policy predicted nothing


def test_step_adaptation_stays_within_its_limits_and_is_off_by_default():
    task = LinearTask()
    off = PolicySearch(task, load_learning_config(task, {}))
    off.history.append({'expected_reward': -100.0, 'model_reward': -90.0,
                        'predicted_reward': -70.0})
    assert off.next_step_multiplier(0.0) == 1.0
    search = PolicySearch(task, load_learning_config(task, {'step_adaptation': True,
                                                            'step_multiplier_min': 0.5,
                                                            'step_multiplier_max': 3.0}))
    search.history.append({'expected_reward': -100.0, 'model_reward': -90.0,
                           'predicted_reward': -70.0, 'step_multiplier': 2.0})
    assert search.next_step_multiplier(0.0) == 3.0
    assert search.next_step_multiplier(-1e6) == 0.5
    with pytest.raises(ValueError, match='step_multiplier_min'):
        load_learning_config(task, {'step_multiplier_min': 2.0, 'step_multiplier_max': 1.0})
    with pytest.raises(ValueError, match='step_multiplier_max'):
        load_learning_config(task, {'step_multiplier_max': 0.0})


def test_step_adaptation_bounds_each_update_by_the_adapted_epsilon(tmp_path):
    task = LinearTask()
    config = load_learning_config(task, {'algorithm': 'saps', 'epsilon': 0.5,
                                         'step_adaptation': True})
    search = PolicySearch(task, config)
    rng = np.random.default_rng(0)
    for _ in range(3):
        search.update(*task.rollouts(search.policy, config.samples, rng))
    multipliers = [m['step_multiplier'] for m in search.history]
    assert multipliers[0] == 1.0 and multipliers[1] != 1.0
    for m in search.history:
        assert m['epsilon'] == pytest.approx(0.5 * m['step_multiplier'])
        assert m['dual_converged']
        assert m['max_kl'] == pytest.approx(m['epsilon'], rel=0.011)  # the adapted bound binds
        assert np.isfinite(m['model_reward'])
    path = tmp_path / 'checkpoint.npz'
    search.save(path)
    restored = PolicySearch.load(path, task)
    assert restored.step_multiplier == search.step_multiplier == multipliers[-1]
    batch = task.rollouts(search.policy, config.samples, np.random.default_rng(5))
    assert search.update(*batch) == restored.update(*batch)


@pytest.mark.parametrize('algorithm', ['gps', 'esaps'])
def test_the_limit_penalty_pulls_saturated_mean_actions_toward_the_limit(algorithm):
    """
    With limit_penalty > 0 the update pulls a saturated joint's mean action toward its limit.

    It maximises the task reward plus the penalty quadratised at the rollouts' mean actions; the
    recorded rewards (sampled, and predicted under the model) stay the task's.
    """
    task = LinearTask(limit=0.5)
    rng = np.random.default_rng(5)
    states, actions = task.rollouts(_pushing_policy(task, 6.0), 20, rng)
    assert np.mean(actions[:, :, 0] > 0.5) > 0.99  # joint 1 saturated (nearly) throughout
    results = {}
    for weight in (0.0, 10.0):
        overrides = {'algorithm': algorithm, 'epsilon': 1.0, 'limit_penalty': weight}
        search = PolicySearch(task, load_learning_config(task, overrides),
                              policy=_pushing_policy(task, 6.0))
        metrics = search.update(states, actions)
        mean_state = states.mean(0)[:task.horizon]
        new_mean = np.einsum('tij,tj->ti', search.policy.K, mean_state) + search.policy.k
        results[weight] = metrics, new_mean[:, 0]
        # predicted_reward is the new policy's task reward under the fitted model
        fresh = PolicySearch(task, load_learning_config(task, overrides), policy=search.policy)
        dynamics = fresh.fit_dynamics(states, actions)
        assert metrics['predicted_reward'] == pytest.approx(
            fresh.model_reward(dynamics, fresh.initial_state(states)), rel=1e-6)
    (plain, plain_mean), (penalised, penalised_mean) = results[0.0], results[10.0]
    assert plain['limit_penalised'] == 0
    assert penalised['limit_penalised'] == task.horizon  # joint 1 at every step
    assert penalised['expected_reward'] == plain['expected_reward']  # the task's, sampled
    assert penalised['dual_converged'] and plain['dual_converged']
    assert np.mean(penalised_mean) < np.mean(plain_mean) - 0.5


def test_the_limit_penalty_is_quadratised_at_the_models_mean_actions(monkeypatch):
    """
    At the current policy's mean actions under the fitted model; if they overflow, sampled.

    The hinge is at the task's torque limits, with the configured weight.
    """
    task = LinearTask(limit=0.5)
    search = PolicySearch(task, load_learning_config(
        task, {'algorithm': 'gps', 'limit_penalty': 1.0}), policy=_pushing_policy(task, 6.0))
    states, actions = task.rollouts(search.policy, 20, np.random.default_rng(6))
    used = []
    penalise = learning.limit_penalised_reward

    def recording(reward, mean_actions, limits, weight):
        used.append(mean_actions)
        np.testing.assert_array_equal(limits, task.torque_limits)
        assert weight == 1.0
        return penalise(reward, mean_actions, limits, weight)
    monkeypatch.setattr(learning, 'limit_penalised_reward', recording)
    dynamics = search.fit_dynamics(states, actions)
    x0 = search.initial_state(states)
    search.update_reward(dynamics, x0, actions)
    expected = search.model_marginals(dynamics, x0).action_means
    np.testing.assert_array_equal(used[-1], expected)
    assert np.abs(expected - actions.mean(0)).max() > 1e-3  # the two are told apart
    monkeypatch.setattr(search, 'model_marginals', lambda dynamics, x0: None)
    search.update_reward(dynamics, x0, actions)
    np.testing.assert_array_equal(used[-1], actions.mean(0))


def test_an_update_runs_the_old_policys_forward_pass_once(monkeypatch):
    """Penalty and step adaptation both ask for the old policy's marginals on the same model."""
    task = LinearTask(limit=0.5)
    search = PolicySearch(task, load_learning_config(
        task, {'algorithm': 'gps', 'limit_penalty': 1.0, 'step_adaptation': True}),
        policy=_pushing_policy(task, 6.0))
    old = search.policy
    passes = []
    forward_pass = learning.forward_pass

    def counting(dynamics, K, *rest):
        passes.append(K is old.K)
        return forward_pass(dynamics, K, *rest)
    monkeypatch.setattr(learning, 'forward_pass', counting)
    metrics = search.update(*task.rollouts(old, 20, np.random.default_rng(6)))
    assert 'refit' not in metrics and np.isfinite(metrics['model_reward'])
    assert passes.count(True) == 1  # the old policy's, shared by the penalty and the adaptation
    assert passes.count(False) == 1  # the new policy's task reward under the model


def _pushing_policy(task, push):
    """Return the initial policy with a constant extra action ``push`` on joint 1."""
    config = load_learning_config(task, {})
    policy = learning.initial_policy(task, config)
    k = policy.k.copy()
    k[:, 0] += push
    return type(policy)(policy.K, k, policy.cov)


def test_reject_kl_excess_must_be_non_negative():
    task = LinearTask()
    with pytest.raises(ValueError, match='reject_kl_excess'):
        load_learning_config(task, {'reject_kl_excess': -0.5})


@pytest.mark.parametrize('name, value', [('prior_max_rollouts', 0), ('prior_max_clusters', 0),
                                         ('prior_min_cluster_samples', 0),
                                         ('prior_strength', 0.0), ('fit_ridge', -1e-6),
                                         ('fit_ridge', float('nan')),
                                         ('refit_scale_floor', -1e-3),
                                         ('limit_penalty', -0.1),
                                         ('limit_penalty', float('inf'))])
def test_bad_dynamics_fit_settings_are_named(name, value):
    with pytest.raises(ValueError, match='learning.%s' % name):
        load_learning_config(LinearTask(), {name: value})


def test_the_dynamics_fit_uses_the_configured_prior(monkeypatch):
    """The learning section's fit settings reach DynamicsFitter; the rollout cap applies."""
    import ps_control.learning as learning_module
    made = []

    class RecordingFitter(learning_module.DynamicsFitter):
        def __init__(self, **settings):
            super().__init__(**settings)
            made.append((settings, self))

    monkeypatch.setattr(learning_module, 'DynamicsFitter', RecordingFitter)
    task = LinearTask()
    settings = {'prior_iterations': 2, 'prior_max_rollouts': 30, 'prior_max_clusters': 3,
                'prior_min_cluster_samples': 7, 'prior_strength': 2.5, 'fit_ridge': 1e-4}
    search = PolicySearch(task, load_learning_config(task, settings))
    rng = np.random.default_rng(0)
    for _ in range(3):
        search.fit_dynamics(*task.rollouts(search.policy, 20, rng))
    kwargs, fitter = made[-1]
    assert (kwargs['max_samples'], kwargs['max_clusters'], kwargs['min_samples_per_cluster'],
            kwargs['strength'], kwargs['ridge']) == (30, 3, 7, 2.5, 1e-4)
    # two iterations of 20 rollouts are offered; the prior keeps the 30 most recent
    assert fitter.prior_rollouts == 30
    assert fitter.gmm.means.shape[0] == 3


def test_separate_bounds_learn_within_both_bounds():
    """The fourth update in the loop: reward improves, policy and state KL both bounded."""
    task = LinearTask()
    config = load_learning_config(task, {'algorithm': 'separate', 'epsilon': 1.0,
                                         'state_epsilon': 0.3})
    search = PolicySearch(task, config)
    rng = np.random.default_rng(0)
    for _ in range(4):
        search.update(*task.rollouts(search.policy, config.samples, rng))
    first, last = search.history[0], search.history[-1]
    assert last['expected_reward'] > first['expected_reward'] + 0.5 * abs(first['expected_reward'])
    assert all(m['dual_converged'] for m in search.history)
    assert all(m['max_kl'] <= 1.0 * 1.02 for m in search.history)
    assert all(m['max_state_kl'] <= 0.3 * 1.02 for m in search.history)
    assert search.gamma is not None and search.gamma.shape == (task.horizon,)


@pytest.mark.parametrize('algorithm', ['gps', 'separate'])
def test_checkpoint_round_trip_resumes_identically(tmp_path, algorithm):
    task = LinearTask()
    config = LearningConfig(algorithm=algorithm, samples=10, epsilon=0.5)
    search = PolicySearch(task, config)
    rng = np.random.default_rng(1)
    search.update(*task.rollouts(search.policy, 10, rng))
    path = tmp_path / 'checkpoint.npz'
    search.save(path)
    restored = PolicySearch.load(path, task)
    np.testing.assert_array_equal(restored.policy.K, search.policy.K)
    if algorithm == 'separate':
        np.testing.assert_array_equal(restored.gamma, search.gamma)
    assert restored.history == search.history
    batch = task.rollouts(search.policy, 10, np.random.default_rng(2))
    a = search.update(*batch)
    b = restored.update(*batch)
    assert a == b  # same data, same state: the resumed run continues exactly


def test_corrupt_checkpoint_is_a_clear_error_and_old_file_survives(tmp_path):
    task = LinearTask()
    search = PolicySearch(task, LearningConfig(algorithm='gps', samples=10))
    path = tmp_path / 'ckpt.npz'
    search.save(path)
    good = path.read_bytes()
    (tmp_path / 'broken.npz').write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match='corrupt'):
        PolicySearch.load(tmp_path / 'broken.npz', task)
    with pytest.raises(ValueError, match='cannot resume a run of gps as saps'):
        PolicySearch.load(path, task, {'algorithm': 'saps'})
    with pytest.raises(ValueError, match="another definition of task 'linear'"):
        PolicySearch.load(path, LinearTask(limit=4.0))  # the task file changed since
    arrays, meta = checkpoint.read_checkpoint(path)
    checkpoint.write_checkpoint(tmp_path / 'old.npz', arrays, dict(meta, version=1))
    with pytest.raises(ValueError, match='version 1, expected 2.*another version of ps_control'):
        PolicySearch.load(tmp_path / 'old.npz', task)
    assert path.read_bytes() == good


def test_bad_rollouts_and_config_are_named():
    task = LinearTask()
    search = PolicySearch(task, LearningConfig(algorithm='gps', samples=10))
    states, actions = task.rollouts(search.policy, 5, np.random.default_rng(3))
    states[2, 7, 1] = np.nan
    with pytest.raises(ValueError, match=r'states hold NaN or inf \(rollout 2, time step 7\)'):
        search.update(states, actions)
    with pytest.raises(ValueError, match='actions have shape'):
        search.update(states[:, :], actions[:, :-1])
    assert search.history == []  # nothing was recorded from bad data
    with pytest.raises(ValueError, match='learning.algorithm must be one of'):
        learning_config_from_mapping({'algorithm': 'ppo'})
    with pytest.raises(ValueError, match='unknown learning parameter.*learning.epsilom'):
        learning_config_from_mapping({'epsilom': 0.1})
    with pytest.raises(ValueError, match='learning.samples must be an integer'):
        learning_config_from_mapping({'samples': 2.5})
    for bad in ('many', [25], float('inf'), float('nan'), None, True):
        with pytest.raises(ValueError, match=r'learning.iterations must be an integer, got '):
            learning_config_from_mapping({'iterations': bad})
    with pytest.raises(ValueError, match=r'learning.epsilon must be a float, got \[1\]'):
        learning_config_from_mapping({'epsilon': [1]})


def _fake_trial(task_name, algorithm, trial, iterations, samples, seed, out_dir, overrides=None,
                quiet=False, final_rollouts=None):
    """Stand-in for train.run_trial: trial 1 fails, the others return a short record."""
    if trial == 1:
        raise RuntimeError('simulated failure of trial 1')
    final = {'sampled': {'expected_reward': -1.0 - trial, 'success_rate': 0.5 * trial},
             'mean_action': {'expected_reward': -0.5, 'success_rate': 1.0}}
    return {'history': [{'expected_reward': -10.0 + i, 'success_rate': 0.0,
                         'max_policy_kl': 0.5} for i in range(iterations)],
            'final_policy': final}


def test_a_failed_trial_keeps_the_others_results(tmp_path, monkeypatch, capsys):
    import json
    from ps_control import train
    monkeypatch.setattr(train, 'run_trial', _fake_trial)
    status = train.main(['double_pendulum', '--algo', 'gps', '--trials', '3', '--iterations',
                         '2', '--jobs', '1', '--no-ilqr', '--out', str(tmp_path)])
    assert status == 1  # the failure is reported in the exit status ...
    assert 'gps trial 1: RuntimeError: simulated failure' in capsys.readouterr().err
    results = json.loads((tmp_path / 'double_pendulum_results.json').read_text())
    assert len(results['histories']['gps']) == 2  # ... and the other trials are written
    # the final policies' evaluations (trials 0 and 2) are averaged over the trials
    assert len(results['final_policies']['gps']) == 2
    summary = results['summary']['gps']
    assert summary['final_policy_success_rate'] == pytest.approx(0.5)
    assert summary['final_policy_reward_mean'] == pytest.approx(-2.0)
    assert summary['final_policy_mean_action_success_rate'] == pytest.approx(1.0)
    assert summary['final_success_rate'] == 0.0  # the last iteration's rollouts, unchanged
    assert results['summary']['failed_trials'] == [
        'gps trial 1: RuntimeError: simulated failure of trial 1']
    assert (tmp_path / 'double_pendulum_reward.png').exists()


def _seed_recording_trial(task_name, algorithm, trial, iterations, samples, seed, out_dir,
                          overrides=None, quiet=False, final_rollouts=None):
    """Stand-in for train.run_trial (run in a worker process) that records its seed."""
    record = _fake_trial(task_name, algorithm, 0, iterations, samples, seed, out_dir)
    for metrics in record['history']:
        metrics['seed'] = seed
    return record


def test_train_seeds_trials_from_the_task_file_unless_given(tmp_path, monkeypatch):
    import json
    from ps_control import train
    from ps_control.tasks import task_path
    text = open(task_path('double_pendulum')).read()
    assert '  seed: 0' in text
    seeded = tmp_path / 'seeded.yaml'
    seeded.write_text(text.replace('  seed: 0', '  seed: 7'))
    monkeypatch.setattr(train, 'run_trial', _seed_recording_trial)
    for extra, expected in (([], 7), (['--seed', '3'], 3)):
        out = tmp_path / ('out%d' % expected)
        assert train.main([str(seeded), '--algo', 'gps', '--trials', '2', '--iterations', '1',
                           '--jobs', '1', '--no-ilqr', '--out', str(out)] + extra) == 0
        results = json.loads((out / 'double_pendulum_results.json').read_text())
        # each trial gets the base seed (it adds its index itself)
        assert [h[0]['seed'] for h in results['histories']['gps']] == [expected, expected]


def test_train_resumes_a_trial_with_its_own_settings_or_refuses(tmp_path):
    """Only iterations and samples may change on resuming; another algorithm is refused."""
    import shutil
    from ps_control import train
    run = {'task_name': 'double_pendulum', 'trial': 0, 'seed': 0, 'out_dir': str(tmp_path),
           'quiet': True, 'final_rollouts': 2}
    train.run_trial(algorithm='gps', iterations=1, samples=3, **run)
    gps_checkpoint, _ = train.trial_paths(str(tmp_path), 'double_pendulum', 'gps', 0)
    with pytest.raises(train.CheckpointError, match='does not match this run: it holds a run '
                                                    'with epsilon 1.0, not 0.05'):
        train.run_trial(algorithm='gps', iterations=2, samples=3,
                        overrides={'epsilon': 0.05}, **run)
    esaps_checkpoint, _ = train.trial_paths(str(tmp_path), 'double_pendulum', 'esaps', 0)
    os.makedirs(os.path.dirname(esaps_checkpoint))
    shutil.copy(gps_checkpoint, esaps_checkpoint)
    with pytest.raises(train.CheckpointError, match='cannot resume a run of gps as esaps'):
        train.run_trial(algorithm='esaps', iterations=2, samples=3, **run)
    record = train.run_trial(algorithm='gps', iterations=2, samples=4, **run)
    assert [m['samples'] for m in record['history']] == [3, 4]
    from ps_control.tasks import load_task
    assert PolicySearch.load(gps_checkpoint, load_task('double_pendulum')).config.samples == 4


def test_train_says_when_a_trial_has_more_iterations_than_asked_for(tmp_path, capsys):
    from ps_control import train
    run = {'task_name': 'double_pendulum', 'algorithm': 'gps', 'trial': 0, 'seed': 0,
           'samples': 3, 'out_dir': str(tmp_path), 'final_rollouts': 2}
    train.run_trial(iterations=2, quiet=True, **run)
    record = train.run_trial(iterations=1, **run)
    assert len(record['history']) == 2  # nothing learnt, nothing dropped
    assert ('[double_pendulum gps   trial  0] the checkpoint has 2 iterations, more than the 1 '
            'asked for: its results are those of all 2' in capsys.readouterr().out)


def _failing_reference(task_name, out_dir):
    raise RuntimeError('simulated iLQR failure')


def test_a_failed_ilqr_reference_keeps_the_trials_results(tmp_path, monkeypatch, capsys):
    import json
    from ps_control import train
    monkeypatch.setattr(train, 'run_trial', _fake_trial)
    monkeypatch.setattr(train, 'ilqr_reference', _failing_reference)
    status = train.main(['double_pendulum', '--algo', 'gps', '--trials', '1', '--iterations',
                         '2', '--jobs', '1', '--out', str(tmp_path)])
    assert status == 1
    assert 'iLQR reference: RuntimeError: simulated iLQR failure' in capsys.readouterr().err
    results = json.loads((tmp_path / 'double_pendulum_results.json').read_text())
    assert len(results['histories']['gps']) == 1 and results['summary']['ilqr_reward'] is None
    assert (tmp_path / 'double_pendulum_reward.png').exists()


@pytest.mark.parametrize('option, message', [
    (['--iterations', '0'], 'argument --iterations: must be >= 1'),
    (['--iterations', '-2'], 'argument --iterations: must be >= 1'),
    (['--samples', '1'], 'argument --samples: must be >= 2'),
    (['--epsilon', '-1'], 'argument --epsilon: must be a finite number > 0'),
    (['--epsilon', 'nan'], 'argument --epsilon: must be a finite number > 0'),
    (['--algo', 'ppo', 'gps', 'trpo'], 'unknown algorithm(s) ppo, trpo; choose from gps, saps, '
                                       'esaps, separate'),
])
def test_train_rejects_bad_numbers_before_running(tmp_path, option, message, capsys):
    from ps_control import train
    with pytest.raises(SystemExit) as exit_info:
        train.main(['double_pendulum', '--algo', 'gps', '--no-ilqr',
                    '--out', str(tmp_path / 'out')] + option)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / 'out').exists()


def test_train_rejects_an_out_that_is_a_file(tmp_path, capsys):
    from ps_control import train
    (tmp_path / 'file').write_text('')
    with pytest.raises(SystemExit):
        train.main(['double_pendulum', '--out', str(tmp_path / 'file')])
    assert 'is a file, not a folder' in capsys.readouterr().err


@pytest.mark.parametrize('line, message', [
    ("      algorithm: 'foo'", 'learning.algorithm must be one of'),
    ('      prior_strength: -1.0', 'learning.prior_strength must be a finite number > 0'),
    ("      initial_policy_std: 'big'", 'learning.initial_policy_std must be a float'),
    ('      samples: 1', 'learning.samples must be'),  # even where --samples replaces it
])
def test_train_names_a_bad_learning_value_of_the_task_file(tmp_path, line, message, capsys):
    """Checked for every algorithm before any trial starts: exit status 2, file named."""
    from ps_control import train
    from ps_control.tasks import task_path
    text = open(task_path('double_pendulum')).read()
    key = line.split(':')[0]
    lines = [line if (raw.startswith(key + ':') and raw.index(':') == len(key)) else raw
             for raw in text.split('\n')]
    assert lines != text.split('\n')
    broken = tmp_path / 'broken.yaml'
    broken.write_text('\n'.join(lines))
    status = train.main([str(broken), '--algo', 'gps', '--trials', '1', '--iterations', '1',
                         '--samples', '4', '--jobs', '1', '--no-ilqr',
                         '--out', str(tmp_path / 'o')])
    err = capsys.readouterr().err
    assert status == 2 and message in err and str(broken) in err
    assert not (tmp_path / 'o').exists()


def test_train_says_how_to_get_past_a_corrupt_checkpoint(tmp_path, capsys):
    from ps_control import train
    path, _ = train.trial_paths(str(tmp_path), 'double_pendulum', 'gps', 0)
    os.makedirs(os.path.dirname(path))
    with open(path, 'wb') as handle:
        handle.write(b'PK\x03\x04 truncated')
    status = train.main(['double_pendulum', '--algo', 'gps', '--trials', '1', '--iterations',
                         '1', '--samples', '4', '--jobs', '1', '--no-ilqr', '--out',
                         str(tmp_path)])
    err = capsys.readouterr().err
    assert status == 1
    assert 'is corrupt' in err and 'delete %s to run this trial afresh' % path in err
    assert 'rerun the command' not in err  # rerunning cannot help
    with open(path, 'rb') as handle:
        assert handle.read() == b'PK\x03\x04 truncated'  # left for the user to look at


class _DivergingSim:
    """Stand-in simulator: rollout 0 diverges, the others stay at their initial state."""

    def __init__(self, task):
        self.task = task
        self.effort_limits = np.asarray(task.torque_limits, dtype=float)
        self.noise = []

    def rollout(self, policy, x0, rng, noise=True):
        from ps_control.sim.simulator import Rollouts
        self.noise.append(noise)
        n, T = x0.shape[0], self.task.horizon
        states = np.repeat(x0[:, None, :], T + 1, axis=1)
        actions = np.zeros((n, T, self.task.du))
        diverged = np.arange(n) == 0
        states[0, 3:] = np.nan
        return Rollouts(states, actions, actions.copy(), diverged, np.where(diverged, 3, -1))


def test_the_final_policy_evaluation_counts_a_diverged_rollout_as_a_failure():
    from ps_control.learning import evaluate_policy
    task = LinearTask()
    search = PolicySearch(task, LearningConfig(algorithm='gps', samples=4))
    task.success = lambda states: np.ones(states.shape[0], dtype=bool)  # every finite one
    task.sample_initial_states = lambda n, rng: rng.normal(0.0, 0.05, size=(n, task.dx))
    sim = _DivergingSim(task)
    final = evaluate_policy(search, sim, 4, np.random.default_rng(0))
    assert sim.noise == [True, False]  # sampled, then the mean action
    for mode in ('sampled', 'mean_action'):
        assert final[mode]['diverged'] == 1
        assert final[mode]['success_rate'] == pytest.approx(0.75)  # 3 of 4, not 3 of 3
        assert np.isfinite(final[mode]['expected_reward'])


def test_train_takes_the_settings_of_the_algorithms_it_runs(tmp_path, capsys):
    """
    Run the arm's GPS with the file's GPS settings, not those of its default learner.

    config/arm.yaml's default algorithm is G-AMDS (1000 x 10); GPS there is 50 x 25, and its
    zero-mean initial exploration diverges: the trial fails at once, named, with no hint to
    resume a checkpoint that does not exist.
    """
    from ps_control import train
    status = train.main(['arm', '--algo', 'gps', '--trials', '1', '--jobs', '1', '--no-ilqr',
                         '--out', str(tmp_path / 'o')])
    captured = capsys.readouterr()
    assert status == 1
    assert 'arm: gps x 1 trials x 50 iterations x 25 rollouts' in captured.out
    assert 'of 25 rollouts diverged' in captured.err and 'the fit needs 12' in captured.err
    assert 'rerun the command' not in captured.err


def test_the_dynamics_model_itself_is_fitted_to_the_unclipped_actions(monkeypatch):
    """test_learning spies on fit_dynamics' input; this spies on what reaches the fitter."""
    from ps_control.core.dynamics_fit import DynamicsFitter
    from ps_control.learning import PolicySearch
    from ps_control.learning_config import load_learning_config
    task = LinearTask(limit=0.5)
    search = PolicySearch(task, load_learning_config(task, {'algorithm': 'gps'}))
    states, actions = task.rollouts(search.policy, 20, np.random.default_rng(3))
    assert (np.abs(actions) > 0.5).any()
    seen = []
    fit, prior = DynamicsFitter.fit, DynamicsFitter.update_prior
    monkeypatch.setattr(DynamicsFitter, 'fit', lambda self, s, a, *r, **k:
                        seen.append(np.array(a)) or fit(self, s, a, *r, **k))
    monkeypatch.setattr(DynamicsFitter, 'update_prior', lambda self, s, a, *r, **k:
                        seen.append(np.array(a)) or prior(self, s, a, *r, **k))
    search.update(states, actions)
    assert len(seen) >= 2 and all(np.array_equal(a, actions) for a in seen)


def _search(monkeypatch=None, **overrides):
    from ps_control.learning import PolicySearch
    from ps_control.learning_config import load_learning_config
    task = LinearTask()
    return task, PolicySearch(task, load_learning_config(task, dict({'algorithm': 'gps'},
                                                                    **overrides)))


def test_an_unconverged_update_1_2_times_over_its_bound_is_not_applied(monkeypatch):
    import dataclasses
    task, search = _search(algorithm='saps', epsilon=1.0)
    before, improve = search.policy, search.improve

    def unconverged(dynamics, x0, multiplier=1.0, reward=None):
        result = improve(dynamics, x0, multiplier, reward)
        return dataclasses.replace(result, kl=1.2 * result.kl / result.kl.max(),
                                   converged=False)
    monkeypatch.setattr(search, 'improve', unconverged)
    metrics = search.update(*task.rollouts(search.policy, 20, np.random.default_rng(0)))
    assert search.policy is before and '1.2 times over the KL bound' in metrics['update_error']


def test_the_separate_bounds_reject_an_unconverged_state_kl_excess():
    _, search = _search(algorithm='separate', epsilon=0.5, state_epsilon=0.5)
    result = types.SimpleNamespace(kl=np.array([0.2, 0.5]), state_kl=np.array([0.1, 1.5]),
                                   converged=False)
    assert search.kl_excess(result) == pytest.approx(2.0)
    assert '3 times over the KL bound' in search.rejection(result)


def test_the_initial_state_is_fitted_to_the_first_states():
    task, search = _search()
    states, _ = task.rollouts(search.policy, 20, np.random.default_rng(1))
    x0 = search.initial_state(states)
    np.testing.assert_allclose(x0.mean, states[:, 0].mean(0))
    np.testing.assert_allclose(x0.cov, np.cov(states[:, 0].T) + 1e-6 * np.eye(task.dx))


def test_the_prior_keeps_prior_iterations_batches():
    task, search = _search(prior_iterations=2)
    rng = np.random.default_rng(2)
    batches = [task.rollouts(search.policy, 20, rng) for _ in range(4)]
    for states, actions in batches:
        search.fit_dynamics(states, actions)
    assert len(search.recent) == 2
    assert search.recent[0][0] is batches[2][0] and search.recent[1][0] is batches[3][0]


def test_an_update_on_one_rollout_is_refused():
    task, search = _search()
    states, actions = task.rollouts(search.policy, 1, np.random.default_rng(0))
    with pytest.raises(ValueError, match='at least 2 rollouts'):
        search.update(states, actions)
    assert search.recent == [] and search.history == []  # refused before touching the prior


def test_a_task_or_policy_the_pd_policy_does_not_fit_is_refused():
    """The initial PD policy needs x = [q, qd]; a given policy must have the task's shape."""
    task, search = _search()
    other = LinearTask(T=task.horizon + 1)
    with pytest.raises(ValueError, match=r'policy K has shape \(20, 2, 4\), the task needs '
                                         r'\(21, 2, 4\)'):
        PolicySearch(other, search.config, policy=search.policy)
    task.dx = 5
    with pytest.raises(ValueError, match=r'needs x = \[q, qd\] with dx = 2 du; task has dx = 5, '
                                         r'du = 2'):
        learning.initial_policy(task, search.config)


def test_episodes_beyond_the_iterations_count_are_refused():
    task, search = _search(samples=4)
    assert search.episode_policy(3) is search.policy
    for index in (4, -1):
        with pytest.raises(IndexError, match='episode %d of 4' % index):
            search.episode_policy(index)


def test_the_model_reward_is_nan_where_the_models_marginals_overflow():
    """A model that blows the closed loop up gives no marginals and a NaN expected reward."""
    from ps_control.core import GaussianState, LinearGaussianDynamics
    task, search = _search()
    T, dx, du = task.horizon, task.dx, task.du
    x0 = GaussianState(np.ones(dx), np.eye(dx))
    B, c = np.broadcast_to(task.B, (T, dx, du)), np.zeros((T, dx))
    cov = np.broadcast_to(1e-6 * np.eye(dx), (T, dx, dx))
    stable = LinearGaussianDynamics(np.broadcast_to(task.A, (T, dx, dx)), B, c, cov)
    assert np.isfinite(search.model_reward(stable, x0))
    exploding = LinearGaussianDynamics(np.broadcast_to(1e30 * np.eye(dx), (T, dx, dx)), B, c,
                                       cov)
    assert search.model_marginals(exploding, x0) is None
    assert np.isnan(search.model_reward(exploding, x0))


def test_the_success_rate_is_the_share_of_successful_rollouts():
    task, search = _search()
    states = np.zeros((4, task.horizon + 1, task.dx))
    states[0, -1, :task.du] = 1.0   # rollout 0 ends at the goal, the others do not
    metrics = search.sample_metrics(states, np.zeros((4, task.horizon, task.du)))
    assert metrics['success_rate'] == 0.25


@pytest.mark.parametrize('name, value', [
    ('epsilon', 0.0), ('epsilon', -0.5),
    ('search_adapt_rate', 1.5),
    ('mirror_r', 1.5),
    ('tracking_frequency', -1.0), ('tracking_damping_ratio', float('nan')),
    ('tracking_feedforward', float('inf')),
])
def test_learning_values_out_of_range_are_refused(name, value):
    from ps_control.learning_config import LearningConfig
    with pytest.raises(ValueError, match='learning.%s' % name):
        LearningConfig(**{name: value})


def test_overrides_win_over_the_algorithm_section():
    from ps_control.learning_config import learning_config_from_mapping
    config = learning_config_from_mapping({'algorithm': 'gps', 'epsilon': 0.1,
                                           'gps': {'epsilon': 0.3}}, {'epsilon': 0.7})
    assert config.epsilon == 0.7


def test_train_asks_for_the_samples_when_its_algorithms_differ_in_them(tmp_path, capsys):
    from ps_control import train
    from ps_control.tasks import task_path
    text = open(task_path('double_pendulum')).read()
    assert '      saps:\n        epsilon: 20.0\n' in text
    copy = tmp_path / 'more_samples.yaml'
    copy.write_text(text.replace('      saps:\n        epsilon: 20.0\n',
                                 '      saps:\n        epsilon: 20.0\n        samples: 30\n'))
    status = train.main([str(copy), '--algo', 'gps', 'saps', '--trials', '1', '--no-ilqr',
                         '--out', str(tmp_path / 'o')])
    assert status == 2
    assert ('the task file gives gps/saps different samples (25, 30): choose with --samples'
            in capsys.readouterr().err)
    assert not (tmp_path / 'o').exists()


def test_ctrl_c_stops_train_and_its_workers_at_once(tmp_path):
    """Ctrl-C (SIGINT to the process group, twice): one line, status 130, no worker left."""
    from interrupt_support import Command, ended
    command = Command('ps_control.cli', 'train', 'double_pendulum', '--algo', 'gps', '--trials',
                      '3', '--iterations', '500', '--samples', '3', '--no-ilqr', '--jobs', '2',
                      '--out', str(tmp_path))
    try:
        def both_checkpointed(lines):
            return all(any('trial  %d] iter   2' % trial in line for line in lines)
                       for trial in (0, 1))
        assert command.wait_for(both_checkpointed)
        workers = command.group()
        assert len(workers) == 3  # the command and its two workers
        status, err = command.interrupt()
        assert status == 130
        assert 'interrupted; every trial keeps its last checkpoint' in err
        assert 'Traceback' not in err
        assert ended(workers)
    finally:
        command.close()
    # the trials resume from their checkpoints
    from ps_control import train
    checkpoint, _ = train.trial_paths(str(tmp_path), 'double_pendulum', 'gps', 0)
    from ps_control.tasks import load_task
    assert PolicySearch.load(checkpoint, load_task('double_pendulum')).iteration >= 1


def test_equal_step_multiplier_bounds_pin_the_multiplier():
    """step_multiplier_min may equal step_multiplier_max (must not exceed it)."""
    config = LearningConfig(step_adaptation=True, step_multiplier_min=1.0,
                            step_multiplier_max=1.0)
    assert config.step_multiplier_min == config.step_multiplier_max == 1.0
    with pytest.raises(ValueError, match='learning.step_multiplier_min .* must not exceed'):
        LearningConfig(step_multiplier_min=1.5, step_multiplier_max=1.0)


def test_the_smallest_averaging_rate_of_accelerated_mirror_descent_is_accepted():
    """mirror_r must be >= 2: 2 itself is allowed, below is refused."""
    assert LearningConfig(algorithm='g_amds', mirror_r=2.0).mirror_r == 2.0
    with pytest.raises(ValueError, match='learning.mirror_r'):
        LearningConfig(algorithm='g_amds', mirror_r=1.999)


@pytest.mark.parametrize('value', [float('nan'), float('inf'), float('-inf')])
def test_a_non_finite_entropy_delta_is_refused(value):
    """The entropy_delta of ESAPS must be finite; the error names it."""
    with pytest.raises(ValueError, match='learning.entropy_delta must be finite'):
        learning_config_from_mapping({'algorithm': 'esaps', 'entropy_delta': value})


@pytest.mark.parametrize('value', [0.0, -0.5, float('nan'), float('inf')])
def test_the_separate_bounds_state_epsilon_must_be_positive_and_finite(value):
    """A state KL bound of 0, below 0 or not finite is refused, naming learning.state_epsilon."""
    with pytest.raises(ValueError, match='learning.state_epsilon must be a finite number > 0'):
        learning_config_from_mapping({'algorithm': 'separate', 'state_epsilon': value})
