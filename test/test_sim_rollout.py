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

"""The Simulator: construction, copies and worlds, reset and step, batched rollouts, divergence."""

import math
import os
import types

import numpy as np
from ps_control.core import LinearGaussianPolicy
from ps_control.sim import simulator as simulator_module
from ps_control.sim.policies import action_function, as_rng
from ps_control.sim.simulator import (diverged, DivergenceError, LIMIT_TOLERANCE, Rollouts,
                                      Simulator, state_text)
import pybullet
import pytest
from test_sim_physics import _pendulum

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
    # Rollout 1 is pushed hard (its velocity passes 4 rad/s), rollout 0 is left alone.
    policy = lambda t, x: np.array([[0.0, 0.0], [10.0, 10.0]])  # noqa: E731
    result = sim.rollout(policy, np.zeros((2, 4)), horizon=30)
    assert list(result.diverged) == [False, True]
    t = result.diverged_at[1]
    assert 1 <= t <= 30 and result.diverged_at[0] == -1
    assert np.isfinite(result.states[1, :t]).all() and np.isnan(result.states[1, t:]).all()
    assert np.isnan(result.actions[1, t - 1:]).all()
    assert np.isfinite(result.actions[1, :t - 1]).all()
    assert np.isnan(result.torques[1, t - 1:]).all()
    assert np.isfinite(result.states[0]).all()
    valid = result.valid()
    assert valid.n == 1 and np.array_equal(valid.states[0], result.states[0])
    with pytest.raises(DivergenceError, match='rollout 1 diverged at step') as error:
        sim.rollout(policy, np.zeros((2, 4)), horizon=30, on_divergence='raise')
    states = error.value.states  # of every copy, the diverged one included
    assert states.shape == (2, 4) and np.abs(states[1]).max() > sim.divergence_bound


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
    # A reset of fewer copies than before: step takes that many torques.
    sim.reset([0.1, 0.0, 0.0, 0.0])
    assert sim.step([0.0, 0.0]).shape == (4,)
    with pytest.raises(ValueError, match='torque u has shape'):
        sim.step(np.zeros((3, 2)))


def test_step_divergence_names_the_copy_and_carries_all_states():
    """The DivergenceError of step names the copy that left the bound and holds every state."""
    with Simulator(DOUBLE, dt=0.05, substeps=5, divergence_bound=3.0) as sim:
        sim.reset(np.zeros((2, 4)))
        with pytest.raises(DivergenceError, match=r'copy 1 reached .* \(bound 3\)') as error:
            for _ in range(40):
                sim.step([[0.0, 0.0], [10.0, 10.0]])
    states = error.value.states
    assert states.shape == (2, 4)
    assert np.abs(states[1]).max() > 3.0 and np.abs(states[0]).max() < 1e-9


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


def test_bad_rollout_inputs_are_named():
    sim = Simulator(DOUBLE, dt=0.05)
    with pytest.raises(ValueError, match='horizon'):
        sim.rollout(_pd_policy, np.zeros((1, 4)))
    with pytest.raises(ValueError, match='policy K has shape'):
        sim.rollout(_lg_policy(5, 3, 4), np.zeros((1, 4)))
    with pytest.raises(ValueError, match='policy returned NaN or inf for rollout 1'):
        sim.rollout(lambda t, x: np.array([[0.0, 0.0], [np.nan, 0.0]]), np.zeros((2, 4)),
                    horizon=3)
    with pytest.raises(ValueError, match='policy returned shape'):
        sim.rollout(lambda t, x: np.zeros((1, 3)), np.zeros((1, 4)), horizon=3)
    for mode in ('Raise', 'stop', None):  # a typo must not silently mean 'flag'
        with pytest.raises(ValueError, match='on_divergence'):
            sim.rollout(_pd_policy, np.zeros((1, 4)), horizon=2, on_divergence=mode)


@pytest.mark.parametrize('kwargs, message', [
    ({'dt': 0.0}, 'dt must be > 0'),
    ({'substeps': 0}, 'substeps'),
    ({'substeps': 2.5}, 'substeps'),
    ({'n_robots': 0}, 'n_robots'),
    ({'n_robots': 1.5}, 'n_robots'),
    ({'divergence_bound': 0.0}, 'divergence_bound'),
    ({'divergence_bound': math.nan}, 'divergence_bound'),
    ({'world_size': 0}, 'world_size'),
    ({'world_size': 2.5}, 'world_size'),
])
def test_bad_constructor_arguments_are_named(kwargs, message):
    """Fractional or too small counts, and a dt or bound that is not > 0, are refused by name."""
    with pytest.raises(ValueError, match=message):
        Simulator(DOUBLE, **dict({'dt': 0.05}, **kwargs))


def test_states_that_cannot_be_reset_to_are_refused():
    """NaN, inf, a negative component beyond the bound, and positions beyond the tolerance."""
    with Simulator(DOUBLE, dt=0.05, divergence_bound=100.0) as sim:
        for bad in (math.nan, math.inf, -math.inf):
            with pytest.raises(ValueError, match='NaN or inf'):
                sim.reset([0.0, 0.0, bad, 0.0])
        with pytest.raises(ValueError, match='beyond the divergence bound'):
            sim.reset([0.0, 0.0, 0.0, -150.0])
        for shape in ((2,), (2, 2, 4)):  # too short; a batch of batches
            with pytest.raises(ValueError, match='state x has shape'):
                sim.reset(np.zeros(shape))
        x = sim.reset([0.0, 0.0, 100.0, -100.0])  # on the bound: not beyond it
        assert np.array_equal(x, [0.0, 0.0, 100.0, -100.0])
        low = sim.lower_limits - 1.1 * sim.limit_tolerance
        with pytest.raises(ValueError, match='position of joint_1'):
            sim.reset([low[0], 0.0, 0.0, 0.0])
        # Every row is checked, and the message names the joint that is out, not the row.
        with pytest.raises(ValueError, match='position of joint_2'):
            sim.reset([[0.0, 0.0, 0.0, 0.0], [0.0, low[1], 0.0, 0.0]])
        with pytest.raises(ValueError, match='position of joint_2'):
            sim.reset([0.0, sim.upper_limits[1] + 1.1 * sim.limit_tolerance, 0.0, 0.0])


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


def test_reset_accepts_states_within_the_limit_tolerance():
    """
    Without a divergence bound a reset may lie LIMIT_TOLERANCE (0.5 rad) outside the limits.

    With a bound the tolerance is 1.25 bound dt / substeps (here 2.5 rad).
    """
    with Simulator(DOUBLE, dt=0.05) as sim:
        assert sim.limit_tolerance == LIMIT_TOLERANCE == 0.5
        for q in (sim.upper_limits + 0.45, sim.lower_limits - 0.45):
            x = np.r_[q, 0.0, 0.0]
            assert np.array_equal(sim.reset(x), x)
    with Simulator(DOUBLE, dt=0.02, divergence_bound=100.0) as sim:
        assert sim.limit_tolerance == pytest.approx(2.5)
        x = np.zeros(4)
        x[0] = sim.upper_limits[0] + 1.0   # 1 rad over: beyond LIMIT_TOLERANCE, within 2.5
        assert np.array_equal(sim.reset(x), x)


def test_a_diverged_copy_is_presented_at_rest_to_a_callable_policy():
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


def test_the_package_names_an_attribute_it_does_not_export():
    import ps_control.sim as package
    assert package.Simulator is Simulator
    with pytest.raises(AttributeError, match="module 'ps_control.sim' has no attribute "
                                             "'Simulater'"):
        package.Simulater
    assert not hasattr(package, 'Simulater')


@pytest.mark.parametrize('policy, message', [
    (_lg(np.zeros((3, 2, 4)), np.zeros((3, 1)), np.ones((3, 2, 2))),
     r'policy k has shape \(3, 1\), expected \(3, 2\)'),
    (_lg(np.zeros((3, 2, 4)), np.zeros((3, 2)), np.ones((3, 2))),
     r'policy cov has shape \(3, 2\), expected \(3, 2, 2\)'),
    (np.zeros((3, 2)), "policy must be callable or have K, k and cov attributes, got 'ndarray'"),
])
def test_policies_of_a_bad_shape_or_kind_are_named(policy, message):
    with pytest.raises(ValueError, match=message):
        action_function(policy, 1, 4, 2, horizon=3)


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


def test_divergence_rule_at_its_edges():
    """A NaN or inf diverges even with an infinite bound; |x| equal to the bound does not."""
    assert diverged([[math.inf, 0.0]], math.inf).tolist() == [True]
    assert diverged([[0.0, -math.inf]], math.inf).tolist() == [True]
    assert diverged([[0.0, math.nan]], math.inf).tolist() == [True]
    assert diverged([[1.0, -1.0]], 1.0).tolist() == [False]  # on the bound: not beyond it
    assert diverged([[0.0, -1.5]], 1.0).tolist() == [True]  # beyond it on the negative side
    # One verdict per state (the last axis), for any batch shape.
    states = np.zeros((2, 2))
    states[0, 1] = math.nan
    assert diverged(states, 1.0).tolist() == [True, False]
    assert diverged(np.zeros((3, 2, 4)), 1.0).shape == (3, 2)


def test_state_text_stays_on_one_line():
    """A long state is printed on one line (numpy would wrap it at 75 characters)."""
    text = state_text(np.linspace(-123.456, 123.456, 40))
    assert '\n' not in text and text.count('e+') + text.count('.') >= 40


def test_valid_rollouts_keep_their_fields_aligned():
    """Rollouts.valid drops the diverged rollouts from every field, diverged_at included."""
    n, T = 3, 4
    states = np.arange(n * (T + 1) * 2, dtype=float).reshape(n, T + 1, 2)
    actions = np.arange(n * T, dtype=float).reshape(n, T, 1)
    result = Rollouts(states, actions, actions.copy(), np.array([False, True, False]),
                      np.array([-1, 2, -1]))
    assert result.n == 3 and result.T == T
    valid = result.valid()
    assert valid.n == 2 and valid.T == T
    assert valid.diverged_at.tolist() == [-1, -1] and not valid.diverged.any()
    assert np.array_equal(valid.states, states[[0, 2]])
    assert np.array_equal(valid.actions, actions[[0, 2]])


def test_rest_state_is_zero_clipped_into_the_joint_limits(tmp_path):
    """
    A joint whose limits exclude 0 rests at its nearest limit, also after a divergence.

    A divergence bound that the rest state is beyond is refused.
    """
    path, _ = _pendulum(tmp_path, last_limits=(1.0, 2.0))
    with pytest.raises(ValueError, match=r'divergence_bound 0.9 is below the rest state \[1'):
        Simulator(path, dt=0.05, divergence_bound=0.9)
    with Simulator(path, dt=0.05, gravity=0.0, divergence_bound=3.0) as sim:
        assert np.array_equal(sim.rest_state(), [1.0, 0.0])
        assert np.array_equal(sim.step([0.0]), [1.0, 0.0])  # the constructor's reset
        result = sim.rollout(lambda t, x: np.full((1, 1), 10.0), [[1.5, 0.0]], horizon=20)
        assert result.diverged.tolist() == [True]
        assert np.array_equal(sim.step([0.0]), [1.0, 0.0])  # the diverged copy idles at rest


def test_copies_are_made_at_rest_on_demand_and_never_removed():
    """
    The constructor loads n_robots copies at rest (step works without a reset).

    ensure_copies and reset load exactly as many more as needed, and keep them.
    """
    with Simulator(DOUBLE, dt=0.05, n_robots=2, gravity=0.0) as sim:
        assert sim.n_copies == 2
        assert np.array_equal(sim.step(np.zeros((2, 2))), np.zeros((2, 4)))
        sim.ensure_copies(5)
        assert sim.n_copies == 5
        sim.reset(np.zeros((2, 4)))
        assert sim.n_copies == 5
        sim.reset(np.zeros((7, 4)))
        assert sim.n_copies == 7


@pytest.mark.parametrize('world_size, sizes', [(3, [3, 3, 1]), (1, [1] * 7), (None, [7])])
def test_copies_fill_worlds_of_world_size_spaced_along_x(world_size, sizes):
    """At most world_size copies per PyBullet world, each world's copies spacing apart on x."""
    with Simulator(DOUBLE, dt=0.05, n_robots=7, world_size=world_size, spacing=2.0) as sim:
        worlds = [cid for cid, _ in sim._copies]
        order = list(dict.fromkeys(worlds))
        assert [worlds.count(cid) for cid in order] == sizes
        assert worlds == sorted(worlds, key=order.index)  # each world filled before the next
        for cid in order:
            assert pybullet.getNumBodies(physicsClientId=cid) == worlds.count(cid)
            bodies = [body for c, body in sim._copies if c == cid]
            xs = [pybullet.getBasePositionAndOrientation(body, physicsClientId=cid)[0][0]
                  for body in bodies]
            assert xs == pytest.approx(2.0 * np.arange(len(bodies)))


def test_a_step_only_steps_the_worlds_of_the_copies_in_use(monkeypatch):
    """After a reset of fewer copies, step runs only the worlds that hold them, substeps times."""
    stepped = []
    step = simulator_module.pybullet.stepSimulation

    def counting_step(physicsClientId):
        stepped.append(physicsClientId)
        return step(physicsClientId=physicsClientId)
    monkeypatch.setattr(simulator_module.pybullet, 'stepSimulation', counting_step)
    with Simulator(DOUBLE, dt=0.05, substeps=4, n_robots=7, world_size=3) as sim:
        worlds = list(dict.fromkeys(cid for cid, _ in sim._copies))
        sim.reset(np.zeros((4, 4)))  # copies 0-2 in the first world, copy 3 in the second
        sim.step(np.zeros((4, 2)))
        assert sorted(stepped) == sorted(worlds[:2] * 4)
        stepped.clear()
        sim.rollout(lambda t, x: np.zeros((2, 2)), np.zeros((2, 4)), horizon=3)
        assert stepped == [worlds[0]] * 12


def test_a_failed_connection_is_reported(monkeypatch):
    """A connect that returns -1 (e.g. a second GUI) raises instead of using client -1."""
    monkeypatch.setattr(simulator_module.pybullet, 'connect', lambda *args, **kwargs: -1)
    with pytest.raises(RuntimeError, match='could not connect'):
        Simulator(DOUBLE, dt=0.05)


def test_a_closed_simulator_refuses_to_reset_and_step():
    """After close, reset and step raise ValueError instead of reviving or half-working."""
    sim = Simulator(DOUBLE, dt=0.05, n_robots=2)
    sim.close()
    assert sim.n_copies == 0
    with pytest.raises(ValueError, match='the simulator is closed'):
        sim.reset([0.0, 0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match='torque u has shape'):
        sim.step(np.zeros((2, 2)))
    sim.close()  # a second close is harmless
    with Simulator(DOUBLE, dt=0.05) as sim:
        assert sim.n_copies == 1
    assert sim.n_copies == 0  # leaving the with block closed it
    with pytest.raises(ValueError, match='the simulator is closed'):
        sim.reset([0.0, 0.0, 0.0, 0.0])


def test_close_tolerates_a_world_disconnected_from_outside():
    """A world already gone (say, its GUI window was closed) does not make close fail."""
    sim = Simulator(DOUBLE, dt=0.05, n_robots=2, world_size=1)
    pybullet.disconnect(physicsClientId=sim._copies[0][0])
    sim.close()
    assert sim.n_copies == 0


def test_actions_for_a_diverged_rollout_are_not_checked():
    """A NaN action for a rollout that already diverged is ignored (the copy idles at rest)."""
    push = np.array([[0.0, 0.0], [10.0, 10.0]])
    with Simulator(DOUBLE, dt=0.05, divergence_bound=3.0) as sim:
        first = sim.rollout(lambda t, x: push, np.zeros((2, 4)), horizon=40)
        t_div = int(first.diverged_at[1])
        assert first.diverged.tolist() == [False, True] and t_div < 39

        def policy(t, x):
            u = push.copy()
            if t >= t_div:
                u[1] = math.nan
            return u
        second = sim.rollout(policy, np.zeros((2, 4)), horizon=40)
    np.testing.assert_array_equal(second.states, first.states)
    np.testing.assert_array_equal(second.diverged_at, first.diverged_at)


def test_diverged_at_stays_the_first_divergence_of_an_idling_copy(tmp_path):
    """An idle copy whose rest is not an equilibrium may leave the bound again; that is ignored."""
    # The last joint's limits exclude 0: at rest the short chain is bent and swings faster than
    # the bound (3.5 rad/s > 2).
    path, _ = _pendulum(tmp_path, n_links=2, length=0.1, last_limits=(1.5, 2.0))
    zero = lambda t, x: np.zeros((x.shape[0], 2))  # noqa: E731
    with Simulator(path, dt=0.01, substeps=5, divergence_bound=2.0) as sim:
        rest = sim.rest_state()
        assert rest[1] == 1.5
        sim.reset(rest)
        first = 0
        with pytest.raises(DivergenceError):
            while first < 100:
                first += 1
                sim.step([0.0, 0.0])
        result = sim.rollout(zero, [rest], horizon=4 * first)
    assert result.diverged_at.tolist() == [first]
    assert np.isnan(result.states[0, first:]).all()


def _fake_clock(monkeypatch):
    """Replace the simulator's time module with a frozen clock; return the sleeps recorded."""
    sleeps = []
    monkeypatch.setattr(simulator_module, 'time', types.SimpleNamespace(
        monotonic=lambda: 100.0, sleep=sleeps.append))
    return sleeps


def test_realtime_paces_each_step_at_dt(monkeypatch):
    """With realtime each step (all its sub-steps) sleeps out the rest of one dt."""
    sleeps = _fake_clock(monkeypatch)
    with Simulator(DOUBLE, dt=0.05, substeps=5, realtime=True) as sim:
        sim.step([0.0, 0.0])
        sim.rollout(lambda t, x: np.zeros((1, 2)), np.zeros((1, 4)), horizon=3)
    assert sleeps == [0.05] * 4


def test_no_sleeping_without_realtime(monkeypatch):
    """Without realtime the simulator never sleeps."""
    sleeps = _fake_clock(monkeypatch)
    with Simulator(DOUBLE, dt=0.05, substeps=5) as sim:
        sim.step([0.0, 0.0])
        sim.rollout(lambda t, x: np.zeros((1, 2)), np.zeros((1, 4)), horizon=3)
    assert sleeps == []
