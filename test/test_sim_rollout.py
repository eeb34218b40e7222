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

"""Batched rollouts, the step API, determinism and divergence handling of the Simulator."""

import math
import os
import types

import numpy as np
from ps_control.core import LinearGaussianPolicy
from ps_control.sim.policies import action_function, as_rng
from ps_control.sim.simulator import DivergenceError, Simulator
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOUBLE = os.path.join(ROOT, 'urdf', 'double_pendulum.urdf')
QUAD = os.path.join(ROOT, 'urdf', 'quad_pendulum.urdf')


def _pd_policy(t, x):
    """Return a deterministic state-dependent torque: PD towards a moving target."""
    n = x.shape[1] // 2
    target = 1.5 * math.sin(0.15 * t)
    return -8.0 * (x[:, :n] - target) - 1.0 * x[:, n:]


def _lg_policy(T, du, dx, std=2.0):
    rng = np.random.default_rng(7)
    K = rng.normal(0.0, 1.0, (T, du, dx))
    k = rng.normal(0.0, 3.0, (T, du))
    return LinearGaussianPolicy(K, k, np.broadcast_to(np.eye(du) * std ** 2, (T, du, du)))


def test_shapes_and_applied_torques_are_clipped_commands():
    sim = Simulator(DOUBLE, dt=0.05, substeps=5)
    x0 = np.zeros((4, 4))
    result = sim.rollout(_lg_policy(20, 2, 4, std=8.0), x0, rng=0)
    assert result.states.shape == (4, 21, 4)
    assert result.actions.shape == (4, 20, 2) and result.torques.shape == (4, 20, 2)
    assert np.array_equal(result.states[:, 0], x0)
    assert np.array_equal(result.torques, np.clip(result.actions, -10.0, 10.0))
    assert np.any(np.abs(result.actions) > 10.0)  # some commands were really clipped
    assert not result.diverged.any() and np.all(result.diverged_at == -1)


def test_deterministic_under_a_seed():
    policy = _lg_policy(30, 2, 4)
    x0 = np.tile([0.1, -0.1, 0.0, 0.0], (5, 1))
    sim = Simulator(DOUBLE, dt=0.05, substeps=5)
    first = sim.rollout(policy, x0, rng=42)
    sim.rollout(policy, x0, rng=1)  # something else in between
    again = sim.rollout(policy, x0, rng=42)
    fresh = Simulator(DOUBLE, dt=0.05, substeps=5, n_robots=3).rollout(
        policy, x0, rng=np.random.default_rng(42))
    for other in (again, fresh):
        assert np.array_equal(first.states, other.states)
        assert np.array_equal(first.actions, other.actions)
    different = sim.rollout(policy, x0, rng=43)
    assert not np.allclose(first.states, different.states)


@pytest.mark.parametrize('world_size', [1, 3, None])
def test_batched_equals_one_at_a_time(world_size):
    rng = np.random.default_rng(3)
    x0 = np.column_stack([rng.uniform(-1, 1, (6, 4)), rng.normal(0, 1, (6, 4))])
    batched = Simulator(QUAD, dt=0.05, substeps=5, world_size=world_size).rollout(
        _pd_policy, x0, horizon=40)
    single = Simulator(QUAD, dt=0.05, substeps=5)
    for i in range(6):
        alone = single.rollout(_pd_policy, x0[i:i + 1], horizon=40)
        assert batched.states[i] == pytest.approx(alone.states[0], abs=1e-12, rel=1e-12)
        assert batched.torques[i] == pytest.approx(alone.torques[0], abs=1e-12, rel=1e-12)
    assert np.ptp(batched.states[:, -1, 0]) > 0.01  # the rollouts differ from each other


def test_linear_gaussian_mean_and_noise():
    T, du, dx = 10, 2, 4
    policy = _lg_policy(T, du, dx, std=0.5)
    sim = Simulator(DOUBLE, dt=0.05, substeps=1, divergence_bound=1e6)
    x0 = np.zeros((100, 4))
    mean_run = sim.rollout(policy, x0, noise=False)
    expected = np.einsum('tij,ntj->nti', policy.K, mean_run.states[:, :-1]) + policy.k
    assert mean_run.actions == pytest.approx(expected, abs=1e-12)
    noisy = sim.rollout(policy, x0, rng=5)
    residual = noisy.actions - (np.einsum('tij,ntj->nti', policy.K, noisy.states[:, :-1])
                                + policy.k)
    flat = residual.reshape(-1, du)
    assert np.abs(flat.mean(axis=0)).max() < 0.05  # 1000 draws: standard error 0.016
    assert np.cov(flat.T) == pytest.approx(0.25 * np.eye(du), abs=0.04)


def test_divergence_is_flagged_and_filled_with_nan():
    sim = Simulator(DOUBLE, dt=0.05, substeps=5, divergence_bound=4.0)
    # Rollout 0 is pushed hard (its velocity passes 4 rad/s), rollout 1 is left alone.
    policy = lambda t, x: np.array([[10.0, 10.0], [0.0, 0.0]])  # noqa: E731
    result = sim.rollout(policy, np.zeros((2, 4)), horizon=30)
    assert list(result.diverged) == [True, False]
    t = result.diverged_at[0]
    assert 1 <= t <= 30 and result.diverged_at[1] == -1
    assert np.isfinite(result.states[0, :t]).all() and np.isnan(result.states[0, t:]).all()
    assert np.isnan(result.actions[0, t - 1:]).all()
    assert np.isfinite(result.actions[0, :t - 1]).all()
    assert np.isnan(result.torques[0, t - 1:]).all()
    assert np.isfinite(result.states[1]).all()
    valid = result.valid()
    assert valid.n == 1 and np.array_equal(valid.states[0], result.states[1])
    with pytest.raises(DivergenceError, match='rollout 0 diverged at step') as error:
        sim.rollout(policy, np.zeros((2, 4)), horizon=30, on_divergence='raise')
    states = error.value.states  # of every copy, the diverged one included
    assert states.shape == (2, 4) and np.abs(states[0]).max() > sim.divergence_bound


def test_step_api_single_and_batched():
    sim = Simulator(DOUBLE, dt=0.05, substeps=5)
    x = sim.reset([0.2, 0.0, 0.0, 0.0])
    assert x.shape == (4,) and np.array_equal(x, [0.2, 0.0, 0.0, 0.0])
    x1 = sim.step([1.0, 0.0])
    assert x1.shape == (4,)
    # The same transition through a rollout of one step.
    result = sim.rollout(lambda t, x: np.array([[1.0, 0.0]]), [[0.2, 0.0, 0.0, 0.0]], horizon=1)
    assert np.array_equal(result.states[0, 1], x1)
    xs = sim.reset(np.zeros((3, 4)))
    assert xs.shape == (3, 4)
    assert sim.step(np.zeros((3, 2))).shape == (3, 4)
    with pytest.raises(ValueError, match='torque u has shape'):
        sim.step(np.zeros(2))
    with pytest.raises(ValueError, match='NaN'):
        sim.step(np.full((3, 2), np.nan))


def test_step_raises_on_divergence():
    sim = Simulator(DOUBLE, dt=0.05, substeps=5, divergence_bound=1.0)
    sim.reset([0.0, 0.0, 0.0, 0.0])
    with pytest.raises(DivergenceError, match='bound 1'):
        for _ in range(10):
            sim.step([10.0, 10.0])


def test_every_state_a_bounded_simulator_returns_can_be_reset_to():
    """Full-torque bang-bang on the 2-link arm overshoots its joint limits at speed."""
    from ps_control.tasks import load_task
    task = load_task('arm_2')
    sim = task.make_simulator(n_robots=8)
    try:
        rng = np.random.default_rng(0)
        limits = np.asarray(task.torque_limits)
        result = sim.rollout(lambda t, x: limits * rng.choice([-1.0, 1.0], size=x.shape[0:1]
                                                              + limits.shape),
                             np.zeros((8, task.dx)), horizon=task.horizon)
        valid = result.valid()
        q = valid.states[..., :task.du]
        overshoot = np.maximum(q - sim.upper_limits, sim.lower_limits - q).max()
        assert overshoot > 0.1  # the case the tolerance is for
        assert overshoot <= sim.limit_tolerance
        sim.reset(valid.states.reshape(-1, task.dx))  # no error
        worst = np.zeros(task.dx)
        worst[0] = sim.upper_limits[0] + sim.limit_tolerance + 0.01
        with pytest.raises(ValueError, match='outside its joint limits'):
            sim.reset(worst)
        with pytest.raises(ValueError, match='beyond the divergence bound 100'):
            sim.reset([0.0, 0.0, 150.0, 0.0])
    finally:
        sim.close()


def test_bad_inputs_are_named():
    sim = Simulator(DOUBLE, dt=0.05)
    with pytest.raises(ValueError, match='joint_1'):
        sim.reset([-math.pi, 0.0, 0.0, 0.0])  # beyond joint_1's lower limit -pi/2
    with pytest.raises(ValueError, match='state x has shape'):
        sim.reset([0.0, 0.0])
    with pytest.raises(ValueError, match='horizon'):
        sim.rollout(_pd_policy, np.zeros((1, 4)))
    with pytest.raises(ValueError, match='policy K has shape'):
        sim.rollout(_lg_policy(5, 3, 4), np.zeros((1, 4)))
    with pytest.raises(ValueError, match='policy returned NaN or inf for rollout 1'):
        sim.rollout(lambda t, x: np.array([[0.0, 0.0], [np.nan, 0.0]]), np.zeros((2, 4)),
                    horizon=3)
    with pytest.raises(ValueError, match='policy returned shape'):
        sim.rollout(lambda t, x: np.zeros((1, 3)), np.zeros((1, 4)), horizon=3)
    with pytest.raises(ValueError, match='dt must be > 0'):
        Simulator(DOUBLE, dt=0.0)
    with pytest.raises(ValueError, match='substeps'):
        Simulator(DOUBLE, dt=0.05, substeps=0)


def test_the_gui_is_refused_plainly_without_a_display(monkeypatch):
    """Refuse the GUI before connecting: without a display PyBullet ends the process."""
    from ps_control.sim.simulator import check_display
    with pytest.raises(ValueError, match='needs a display.*xvfb-run'):
        check_display({}, 'linux')
    check_display({'DISPLAY': ':99'}, 'linux')
    check_display({'WAYLAND_DISPLAY': 'wayland-0'}, 'linux')
    check_display({}, 'darwin')  # no X server needed there
    monkeypatch.delenv('DISPLAY', raising=False)
    monkeypatch.delenv('WAYLAND_DISPLAY', raising=False)
    monkeypatch.setattr('sys.platform', 'linux')
    with pytest.raises(ValueError, match='needs a display'):
        Simulator(DOUBLE, dt=0.05, gui=True)  # before any PyBullet connection


def test_reset_accepts_states_within_the_bound_dependent_tolerance():
    """With a divergence bound the tolerance is 1.25 bound dt / substeps (here 2.5 rad)."""
    from ps_control.sim.simulator import Simulator
    with Simulator(DOUBLE, dt=0.02, divergence_bound=100.0) as sim:
        assert sim.limit_tolerance == pytest.approx(2.5)
        x = np.zeros(4)
        x[0] = sim.upper_limits[0] + 1.0   # 1 rad over: beyond LIMIT_TOLERANCE, within 2.5
        sim.reset(x)


def test_a_diverged_copy_is_presented_at_rest_to_a_callable_policy():
    from ps_control.sim.simulator import Simulator
    seen = []

    def policy(t, x):
        seen.append(x.copy())
        u = np.zeros((2, 2))
        u[1] = 10.0  # copy 1 swings up fast and leaves the (small) bound
        return u
    with Simulator(DOUBLE, dt=0.05, n_robots=2, divergence_bound=3.0) as sim:
        r = sim.rollout(policy, np.zeros((2, 4)), horizon=40)
        assert r.diverged.tolist() == [False, True]
        t = int(r.diverged_at[1])
        # from the step after the divergence on, the policy sees copy 1 at rest, idling there
        rest = sim.rest_state()
        assert len(seen) == 40 and t < 39
        for x in seen[t:]:
            np.testing.assert_allclose(x[1], rest, atol=1e-9)
        assert np.abs(seen[t - 1][1] - rest).max() > 1.0  # it was swinging before


def _lg(K, k, cov):
    return types.SimpleNamespace(K=np.asarray(K, float), k=np.asarray(k, float),
                                 cov=np.asarray(cov, float))


def test_sampled_actions_have_the_policy_covariance_when_correlated():
    from ps_control.sim.policies import action_function
    cov = np.array([[1.0, 0.8], [0.8, 1.0]])
    policy = _lg(np.zeros((1, 2, 4)), np.zeros((1, 2)), cov[None])
    act, T = action_function(policy, 40000, 4, 2, noise=True, rng=0)
    u = act(0, np.zeros((40000, 4)))
    np.testing.assert_allclose(np.cov(u.T), cov, atol=0.05)


def test_noise_factors_of_a_singular_covariance():
    from ps_control.sim.policies import noise_factors
    cov = np.array([[[1.0, 1.0], [1.0, 1.0]], [[4.0, 0.0], [0.0, 0.0]]])
    L = noise_factors(cov)
    np.testing.assert_allclose(L @ np.swapaxes(L, -1, -2), cov, atol=1e-12)
    stacked = np.stack([cov, 2.0 * cov, np.broadcast_to(np.eye(2), cov.shape)])  # (3, T, 2, 2)
    L = noise_factors(stacked)  # as the mirror-descent episodes draw theirs
    np.testing.assert_allclose(L @ np.swapaxes(L, -1, -2), stacked, atol=1e-12)


def _policy(T, du=2, dx=4):
    """Return a zero linear-Gaussian policy of T steps with unit covariance."""
    return _lg(np.zeros((T, du, dx)), np.zeros((T, du)), np.broadcast_to(np.eye(du), (T, du, du)))


def test_a_bool_is_not_taken_for_a_seed():
    """A bool (e.g. noise=True passed where rng goes) is refused, not used as seed 1."""
    with pytest.raises(ValueError, match='rng must be'):
        as_rng(True)
    with Simulator(DOUBLE, dt=0.05) as sim:
        with pytest.raises(ValueError, match='rng must be'):
            sim.rollout(_policy(3), np.zeros((1, 4)), True)  # rng given positionally


def test_a_numpy_integer_seed_is_the_same_seed_as_the_int():
    """A seed read from a numpy array (np.int64) gives the stream of the equal int seed."""
    seed = np.arange(10)[7]
    assert isinstance(seed, np.integer) and not isinstance(seed, int)
    np.testing.assert_array_equal(as_rng(seed).standard_normal(5),
                                  np.random.default_rng(7).standard_normal(5))


@pytest.mark.parametrize('horizon', [3, 4, 6, 7])
def test_a_horizon_other_than_the_policys_is_refused_shorter_or_longer(horizon):
    """A horizon shorter than the linear-Gaussian policy's is refused as a longer one is."""
    with pytest.raises(ValueError, match='horizon %d differs' % horizon):
        action_function(_policy(5), 1, 4, 2, horizon=horizon)
    with Simulator(DOUBLE, dt=0.05) as sim:
        with pytest.raises(ValueError, match='differs from the policy horizon'):
            sim.rollout(_policy(5), np.zeros((1, 4)), rng=0, horizon=horizon)
        assert sim.rollout(_policy(5), np.zeros((1, 4)), rng=0, horizon=5).actions.shape[1] == 5


@pytest.mark.parametrize('horizon', [0, -1, 2.5, None])
def test_a_callable_policy_needs_a_horizon_of_at_least_one_step(horizon):
    """A callable policy with no horizon, 0, a negative or a fractional one is refused."""
    with pytest.raises(ValueError, match='horizon must be an integer >= 1'):
        action_function(lambda t, x: np.zeros((1, 2)), 1, 4, 2, horizon=horizon)
