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

"""Tests of the vectorised DMP against scalar integration and its closed forms."""

import numpy as np
from ps_control.core.dmp import DMP
import pytest


def scalar_rollout(dmp, weights_at, y0, goal):
    """Integrate one DOF of one rollout with plain Python floats (the reference code's form)."""
    y, z, g = y0, 0.0, y0
    ys, zs, accs = [y], [z], []
    for i in range(dmp.T):
        t = i * dmp.dt
        a = dmp.alpha_x
        x = (1 + a * t) * np.exp(-a * t)
        v = -a * a * t * np.exp(-a * t)
        psi = [np.exp(-0.5 * h * (x - c) ** 2) for h, c in zip(dmp.widths, dmp.centres)]
        f = sum(v * p / sum(psi) * w for p, w in zip(psi, weights_at(i)))
        zd = 25.0 * (6.25 * (g - y) - z) + f * (goal - y0)
        y, z = y + dmp.dt * z, z + dmp.dt * zd
        g = g + dmp.dt * 12.5 * (goal - g)
        ys.append(y)
        zs.append(z)
        accs.append(zd)
    return np.array(ys), np.array(zs), np.array(accs)


def test_zero_weights_reach_the_goal():
    dmp = DMP(n_basis=10, dt=0.01, duration=3.0)
    start, goal = np.array([0.0, 0.3, -1.0]), np.array([1.0, -0.2, 2.0])
    traj = dmp.rollout(np.zeros((1, 3, 10)), start, goal)
    np.testing.assert_allclose(traj.y[0, 0], start)
    np.testing.assert_allclose(traj.yd[0, 0], 0.0)
    np.testing.assert_allclose(traj.y[0, -1], goal, atol=1e-6)
    np.testing.assert_allclose(traj.yd[0, -1], 0.0, atol=1e-4)
    # A critically damped approach: no overshoot past the goal.
    progress = (traj.y[0] - start) / (goal - start)
    assert progress.max() <= 1.0 + 1e-9


def test_vectorised_rollout_matches_scalar_integration():
    rng = np.random.default_rng(3)
    dmp = DMP(n_basis=6, dt=0.01, duration=0.5)
    start, goal = np.array([0.2, -0.4]), np.array([1.0, 0.5])
    theta = 30.0 * rng.standard_normal((3, 2, 6))
    traj = dmp.rollout(theta, start, goal)
    assert traj.y.shape == (3, dmp.T + 1, 2) and traj.ydd.shape == (3, dmp.T, 2)
    for r in range(3):
        for d in range(2):
            y, yd, ydd = scalar_rollout(dmp, lambda i: theta[r, d], start[d], goal[d])
            np.testing.assert_allclose(traj.y[r, :, d], y, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(traj.yd[r, :, d], yd, rtol=1e-12, atol=1e-10)
            np.testing.assert_allclose(traj.ydd[r, :, d], ydd, rtol=1e-12, atol=1e-9)


def test_time_varying_rollout_matches_scalar_integration():
    rng = np.random.default_rng(4)
    dmp = DMP(n_basis=4, dt=0.01, duration=0.2)
    start, goal = np.zeros(2), np.ones(2)
    theta = 20.0 * rng.standard_normal((2, dmp.T, 2, 4))
    traj = dmp.rollout(theta, start, goal, time_varying=True)
    for r in range(2):
        for d in range(2):
            y, _, _ = scalar_rollout(dmp, lambda i: theta[r, i, d], start[d], goal[d])
            np.testing.assert_allclose(traj.y[r, :, d], y, rtol=1e-12, atol=1e-12)


def test_canonical_system_solves_its_ode():
    dmp = DMP(n_basis=5)
    t = np.linspace(0.0, 0.5, 2001)
    x, v = dmp.canonical(t)
    h = t[1] - t[0]
    acc = np.gradient(v, h)
    # x'' + 2a x' + a^2 x = 0 with a = 12.5, x(0) = 1, x'(0) = 0.
    residual = acc + 25.0 * v + 156.25 * x
    assert np.abs(residual[5:-5]).max() < 1e-2 * np.abs(acc).max()
    np.testing.assert_allclose(np.gradient(x, h)[5:-5], v[5:-5], rtol=1e-3, atol=1e-4)
    assert x[0] == 1.0 and v[0] == 0.0


def test_basis_layout():
    dmp = DMP(n_basis=20)
    assert dmp.basis.shape == (50, 20) and dmp.psi.shape == (50, 20)
    assert np.all(np.diff(dmp.centres) < 0)  # x(t) decreases from 1
    assert dmp.centres[0] == 1.0
    np.testing.assert_allclose(dmp.basis[0], 0.0)  # v(0) = 0
    knots = dmp.canonical(np.arange(21) * 0.5 / 20)[0]
    np.testing.assert_allclose(dmp.widths, 1.0 / (0.55 * np.diff(knots)) ** 2)


def test_bad_input():
    with pytest.raises(ValueError, match='n_basis'):
        DMP(n_basis=0)
    with pytest.raises(ValueError, match='multiple of dt'):
        DMP(n_basis=3, dt=0.03, duration=0.5)
    for dt, duration in ((0.0, 0.5), (0.01, -0.5), (float('nan'), 0.5)):
        with pytest.raises(ValueError, match='dt and duration must be positive'):
            DMP(n_basis=3, dt=dt, duration=duration)
    dmp = DMP(n_basis=3)
    with pytest.raises(ValueError, match='basis weights'):
        dmp.forcing(np.zeros((2, 2, 4)))
    with pytest.raises(ValueError, match='time-varying'):
        dmp.forcing(np.zeros((2, 7, 2, 3)), time_varying=True)
