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
Physics of ps_control.sim.Simulator against analytic mechanics.

The expected values come from the link parameters (urdf_gen.LinkSpec) and textbook formulas, not
from PyBullet: pendulum period, energy of a planar chain, exponential decay under viscous
damping, Coulomb friction, torque clipping and joint limits; and that copies of a robot do
not collide and fast joints are not slowed down.
"""

import dataclasses
import math
import os

import numpy as np
from ps_control.sim import urdf_gen
from ps_control.sim.simulator import Simulator
import pytest

G = 9.81
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOUBLE = os.path.join(ROOT, 'urdf', 'double_pendulum.urdf')


def _pendulum(tmp_path, n_links=1, damping=0.0, friction=0.0, effort=10.0, length=1.0,
              last_limits=None):
    """
    Write a pendulum URDF of equal links; return (path, spec).

    ``last_limits``: (lower, upper) of the last joint instead of the documented ones.
    """
    spec = urdf_gen.pendulum_spec('test_pendulum', n_links, 1.0, length, 0.75, damping, friction,
                                  effort)
    if last_limits is not None:
        last = dataclasses.replace(spec.links[-1], lower=last_limits[0], upper=last_limits[1])
        spec = dataclasses.replace(spec, links=spec.links[:-1] + (last,))
    path = tmp_path / ('pendulum_%d_%g_%g_%g_%s.urdf' % (n_links, damping, friction, length,
                                                         last_limits))
    path.write_text(urdf_gen.chain_urdf(spec))
    return str(path), spec


def _joint_inertia(link):
    """Return the inertia of one link about its joint axis (parallel axis theorem)."""
    com, tensor = urdf_gen.link_mass_properties(link)
    return tensor[0, 0] + link.mass * com ** 2


def _chain_energy(spec, x, gravity=G):
    """Return the total energy of a planar pendulum chain (hanging along -z, tip at +x for q>0)."""
    links = spec.links
    n = len(links)
    q, qd = x[:n], x[n:]
    phi, omega = np.cumsum(q), np.cumsum(qd)
    joint_pos, joint_vel = np.zeros(2), np.zeros(2)
    energy = 0.0
    for i, link in enumerate(links):
        com, tensor = urdf_gen.link_mass_properties(link)
        direction = np.array([math.sin(phi[i]), -math.cos(phi[i])])
        d_direction = omega[i] * np.array([math.cos(phi[i]), math.sin(phi[i])])
        position = joint_pos + com * direction
        velocity = joint_vel + com * d_direction
        energy += 0.5 * link.mass * velocity @ velocity + 0.5 * tensor[0, 0] * omega[i] ** 2
        energy += link.mass * gravity * position[1]
        joint_pos = joint_pos + link.length * direction
        joint_vel = joint_vel + link.length * d_direction
    return energy


def _zero(n):
    return lambda t, x: np.zeros((x.shape[0], n))


def test_small_angle_period_matches_analytic(tmp_path):
    path, spec = _pendulum(tmp_path)
    link = spec.links[0]
    com, _ = urdf_gen.link_mass_properties(link)
    period = 2 * math.pi * math.sqrt(_joint_inertia(link) / (link.mass * G * com))
    sim = Simulator(path, dt=0.005, substeps=5)
    amplitude = 0.02
    steps = int(3.5 * period / sim.dt)
    q = sim.rollout(_zero(1), [[amplitude, 0.0]], horizon=steps).states[0, :, 0]
    # Upward zero crossings, interpolated linearly.
    idx = np.flatnonzero((q[:-1] < 0) & (q[1:] >= 0))
    crossings = (idx + q[idx] / (q[idx] - q[idx + 1])) * sim.dt
    assert len(crossings) >= 3
    measured = np.mean(np.diff(crossings))
    assert measured == pytest.approx(period * (1 + amplitude ** 2 / 16), rel=2e-3)
    assert np.abs(q).max() == pytest.approx(amplitude, rel=1e-3)  # no damping: no decay


def test_energy_conserved_without_damping(tmp_path):
    path, spec = _pendulum(tmp_path, n_links=2)
    sim = Simulator(path, dt=0.01, substeps=10)
    states = sim.rollout(_zero(2), [[1.0, -0.5, 0.0, 0.0]], horizon=300).states[0]
    energy = np.array([_chain_energy(spec, x) for x in states])
    swing = np.ptp([_chain_energy(spec, np.r_[x[:2], 0.0, 0.0]) for x in states])
    assert swing > 5.0  # energy really moves between potential and kinetic
    assert np.abs(energy - energy[0]).max() < 0.01 * swing


def test_damping_decay_rate_matches_analytic(tmp_path):
    b = 0.5
    path, spec = _pendulum(tmp_path, damping=b)
    inertia = _joint_inertia(spec.links[0])
    sim = Simulator(path, dt=0.01, substeps=10, gravity=0.0)
    velocity = sim.rollout(_zero(1), [[0.0, 1.0]], horizon=100).states[0, :, 1]
    t = np.arange(101) * sim.dt
    assert velocity == pytest.approx(np.exp(-b * t / inertia), rel=2e-3)


def test_damping_dissipates_the_energy_it_should():
    # The checked-in double pendulum (damping 0.025): the energy lost equals the integral of the
    # damping power sum_i b qd_i^2 (qd_i relative joint velocities).
    # Semi-implicit Euler is first order: 0.125 ms physics steps keep the energy error < 2 %.
    spec = urdf_gen.checked_in_specs()['double_pendulum.urdf']
    sim = Simulator(DOUBLE, dt=0.005, substeps=40)
    states = sim.rollout(_zero(2), [[1.0, 0.3, 0.0, 0.0]], horizon=1000).states[0]
    # Stay clear of the joint limits: an impact on a limit dissipates energy too.
    assert np.all(states[:, :2] > sim.lower_limits + 0.3)
    assert np.all(states[:, :2] < sim.upper_limits - 0.3)
    energy = np.array([_chain_energy(spec, x) for x in states])
    power = 0.025 * np.sum(states[:, 2:] ** 2, axis=1)
    dissipated = np.sum(0.5 * (power[1:] + power[:-1])) * sim.dt
    assert energy[0] - energy[-1] > 0.2
    assert energy[0] - energy[-1] == pytest.approx(dissipated, rel=0.03)


def test_explicit_damping_matches_pybullet_damping(tmp_path):
    policy = lambda t, x: np.tile([3.0 * math.sin(0.2 * t), -2.0], (x.shape[0], 1))  # noqa: E731
    x0 = [[0.3, -0.2, 0.5, 0.0]]
    native = Simulator(DOUBLE, dt=0.05, substeps=10).rollout(policy, x0, horizon=60)
    explicit = Simulator(DOUBLE, dt=0.05, substeps=10, explicit_damping=True).rollout(
        policy, x0, horizon=60)
    assert explicit.states == pytest.approx(native.states, abs=1e-9)
    # Damping matters over this horizon, so the comparison is not vacuous.
    undamped_path, _ = _pendulum(tmp_path, n_links=2, damping=0.0)
    undamped = Simulator(undamped_path, dt=0.05, substeps=10).rollout(policy, x0, horizon=60)
    assert np.abs(undamped.states - native.states).max() > 1e-3


def test_huge_command_gives_exactly_the_limit():
    sim = Simulator(DOUBLE, dt=0.05, substeps=10)
    result = sim.rollout(lambda t, x: np.tile([1e6, -1e6], (x.shape[0], 1)),
                         [[0.0, 0.0, 0.0, 0.0]], horizon=5)
    assert np.all(result.actions == [1e6, -1e6])
    assert np.all(result.torques == [10.0, -10.0])
    exact = sim.rollout(lambda t, x: np.tile([10.0, -10.0], (x.shape[0], 1)),
                        [[0.0, 0.0, 0.0, 0.0]], horizon=5)
    assert np.array_equal(result.states, exact.states)
    assert np.array_equal(sim.clip([[11.0, -3.0]]), [[10.0, -3.0]])


def test_joint_limits_are_enforced():
    sim = Simulator(DOUBLE, dt=0.05, substeps=10)
    lower, upper = sim.lower_limits, sim.upper_limits
    # Drive both joints into their upper, then their lower limits at full torque.
    push = lambda t, x: np.tile([10.0, 10.0] if t < 30 else [-10.0, -10.0],  # noqa: E731
                                (x.shape[0], 1))
    states = sim.rollout(push, [[4.3, 2.0, 6.0, 6.0]], horizon=80).states[0]
    q = states[:, :2]
    assert np.all(q <= upper + 0.05) and np.all(q >= lower - 0.05)
    assert np.all(q.max(axis=0) > upper - 0.05)  # the limits were actually reached
    assert q[:, 1].min() < lower[1] + 0.05


def test_coulomb_friction_holds_and_slides(tmp_path):
    path, spec = _pendulum(tmp_path, friction=0.3)
    inertia = _joint_inertia(spec.links[0])
    sim = Simulator(path, dt=0.01, substeps=10, gravity=0.0)
    held = sim.rollout(lambda t, x: np.full((1, 1), 0.2), [[0.0, 0.0]], horizon=100).states[0]
    assert np.abs(held[:, 1]).max() < 1e-6
    slid = sim.rollout(lambda t, x: np.full((1, 1), 0.5), [[0.0, 0.0]], horizon=100).states[0]
    assert slid[-1, 1] == pytest.approx((0.5 - 0.3) / inertia * 1.0, rel=0.02)


def test_positive_angle_moves_tip_towards_plus_x():
    # Gravity torque sign: from q_1 = +0.5 (tip at +x) the pendulum falls back towards 0.
    sim = Simulator(DOUBLE, dt=0.05, substeps=10)
    sim.reset([0.5, 0.0, 0.0, 0.0])
    x = sim.step([0.0, 0.0])
    assert x[2] < 0
    # Upright (q_1 = pi) with zero velocity is an equilibrium up to round-off.
    sim.reset([math.pi, 0.0, 0.0, 0.0])
    assert np.abs(sim.step([0.0, 0.0]) - [math.pi, 0.0, 0.0, 0.0]).max() < 1e-9


def test_limit_tolerance_is_the_distance_one_substep_can_move():
    """max(0.5, 1.25 bound dt / substeps): a reset beyond it is refused, one within accepted."""
    from ps_control.sim.simulator import LIMIT_TOLERANCE
    from ps_control.tasks import load_task
    sim = load_task('arm_2').make_simulator()
    try:
        assert sim.substeps > 1 and math.isfinite(sim.divergence_bound)
        expected = max(LIMIT_TOLERANCE, 1.25 * sim.divergence_bound * sim.dt / sim.substeps)
        assert sim.limit_tolerance == pytest.approx(expected)
        state = np.zeros(sim.dx)
        state[0] = sim.upper_limits[0] + 1.1 * sim.limit_tolerance
        with pytest.raises(ValueError):
            sim.reset(state)
        state[0] = sim.upper_limits[0] + 0.5 * sim.limit_tolerance
        sim.reset(state)
    finally:
        sim.close()


def test_copies_in_one_place_do_not_collide():
    """Collision shapes are not loaded: overlapping copies move as if alone."""
    x0 = np.array([[0.5, 0.0, 0.0, 0.0], [-0.5, 0.0, 0.0, 0.0]])
    with Simulator(DOUBLE, dt=0.05, substeps=5, world_size=None, spacing=0.0) as sim:
        together = sim.rollout(_zero(2), x0, horizon=20)
    with Simulator(DOUBLE, dt=0.05, substeps=5) as sim:
        for i in range(2):
            alone = sim.rollout(_zero(2), x0[i:i + 1], horizon=20)
            np.testing.assert_allclose(together.states[i], alone.states[0], atol=1e-12)
    # The two swing through each other's place.
    assert together.states[0, :, 0].min() < 0.0 < together.states[1, :, 0].max()


def test_velocities_beyond_100_rad_per_s_are_not_clamped(tmp_path):
    """The default 100 rad/s joint velocity clamp of PyBullet is lifted (runaways stay visible)."""
    path, _ = _pendulum(tmp_path)
    with Simulator(path, dt=0.001, gravity=0.0) as sim:
        sim.reset([0.0, 150.0])
        x = sim.step([0.0])
        assert x[1] == pytest.approx(150.0, rel=1e-9)
        assert x[0] == pytest.approx(0.15, rel=1e-9)
