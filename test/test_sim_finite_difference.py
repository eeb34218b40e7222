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

"""Finite-difference Jacobians of the simulated one-step dynamics against analytic models."""

import math
import os

import numpy as np
from ps_control.sim import urdf_gen
from ps_control.sim.finite_difference import FiniteDifferenceDynamics, make_step_fn
from ps_control.sim.simulator import Simulator
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOUBLE = os.path.join(ROOT, 'urdf', 'double_pendulum.urdf')


def _mass_matrix(spec, q2):
    """Return the joint-space mass matrix of a planar two-link chain (textbook form)."""
    (com1, t1), (com2, t2) = (urdf_gen.link_mass_properties(link) for link in spec.links)
    (m1, l1), (m2, _) = ((link.mass, link.length) for link in spec.links)
    i1, i2 = t1[0, 0], t2[0, 0]
    m11 = i1 + m1 * com1 ** 2 + i2 + m2 * (l1 ** 2 + com2 ** 2 + 2 * l1 * com2 * math.cos(q2))
    m12 = i2 + m2 * (com2 ** 2 + l1 * com2 * math.cos(q2))
    m22 = i2 + m2 * com2 ** 2
    return np.array([[m11, m12], [m12, m22]])


def test_jacobians_match_linear_model_without_gravity_and_damping(tmp_path):
    # Without gravity and damping, at rest and with zero torque, one task step of n semi-implicit
    # Euler sub-steps h = dt / n is exactly linear to first order:
    # A = [[I, dt I], [0, I]], B = [[h^2 n (n + 1) / 2 M^-1], [dt M^-1]].
    spec = urdf_gen.pendulum_spec('free', 2, 1.0, 1.0, 0.75, 0.0, 0.0, 10.0)
    path = tmp_path / 'free.urdf'
    path.write_text(urdf_gen.chain_urdf(spec))
    dt, n = 0.05, 10
    model = FiniteDifferenceDynamics(Simulator(str(path), dt, substeps=n, gravity=0.0))
    x = np.array([0.4, 0.9, 0.0, 0.0])
    A, B = model.jacobians(x, np.zeros(2))
    h = dt / n
    inverse = np.linalg.inv(_mass_matrix(spec, x[1]))
    expected_A = np.block([[np.eye(2), dt * np.eye(2)], [np.zeros((2, 2)), np.eye(2)]])
    expected_B = np.vstack([h * h * n * (n + 1) / 2 * inverse, dt * inverse])
    assert A == pytest.approx(expected_A, abs=1e-7)
    assert B == pytest.approx(expected_B, rel=1e-6, abs=1e-9)


def test_affine_model_predicts_nearby_steps():
    # With gravity and damping, mid-swing: f(x + d, u + e) ~ A (x + d) + B (u + e) + c to second
    # order in (d, e).
    model = FiniteDifferenceDynamics(Simulator(DOUBLE, 0.05, substeps=10))
    x, u = np.array([1.0, -0.6, 2.0, 1.0]), np.array([3.0, -2.0])
    A, B, c = model.linearize(x[None], u[None])
    rng = np.random.default_rng(0)
    direction_x, direction_u = rng.normal(size=4), rng.normal(size=2)
    errors = []
    for scale in (1e-2, 1e-3):
        d, e = scale * direction_x, scale * direction_u
        predicted = A[0] @ (x + d) + B[0] @ (u + e) + c[0]
        errors.append(np.abs(model.step(x + d, u + e) - predicted).max())
    assert errors[1] < 1e-6
    assert errors[1] < errors[0] / 50  # shrinks quadratically (by 100), not linearly (by 10)
    assert np.abs(A[0] @ x + B[0] @ u + c[0] - model.step(x, u)).max() < 1e-12


def test_trajectory_linearization_equals_pointwise_jacobians():
    model = FiniteDifferenceDynamics(Simulator(DOUBLE, 0.05, substeps=5), batch_size=7)
    xs = np.array([[0.0, 0.0, 0.0, 0.0], [0.5, 0.2, 1.0, -1.0], [2.0, -0.3, 0.5, 0.5]])
    us = np.array([[1.0, 0.0], [-2.0, 3.0], [0.5, 0.5]])
    A, B, c = model.linearize(xs, us)
    assert A.shape == (3, 4, 4) and B.shape == (3, 4, 2) and c.shape == (3, 4)
    for t in range(3):
        At, Bt = model.jacobians(xs[t], us[t])
        assert np.allclose(A[t], At, atol=1e-9) and np.allclose(B[t], Bt, atol=1e-9)
    assert not np.allclose(A[0], A[2], atol=1e-3)  # the linearizations really differ


def test_step_fn_batches_and_clips():
    sim = Simulator(DOUBLE, 0.05, substeps=5)
    step_fn = make_step_fn(sim)
    xs = np.array([[0.1, 0.0, 0.0, 0.0], [0.3, -0.2, 0.5, 0.0]])
    us = np.array([[1.0, -1.0], [50.0, 0.0]])
    batched = step_fn(xs, us)
    for i in range(2):
        assert np.array_equal(step_fn(xs[i], us[i]), batched[i])
    assert np.array_equal(step_fn(xs[1], [10.0, 0.0]), batched[1])  # 50 N m clipped to 10
    # Beyond the effort limit a torque has no effect: B's column is 0 there.
    _, B = FiniteDifferenceDynamics(sim).jacobians(xs[1], us[1])
    assert np.abs(B[:, 0]).max() == 0.0 and np.abs(B[:, 1]).max() > 1e-3
    with pytest.raises(ValueError, match='do not match'):
        step_fn(xs, us[:1])


@pytest.mark.parametrize('eps', [{'eps_x': 0.0}, {'eps_u': 0.0}, {'eps_u': -1e-5},
                                 {'eps_u': float('nan')}])
def test_a_step_size_that_is_not_positive_is_refused(eps):
    """eps_u = 0 would give B = 0 silently (a zero width is taken for an effort limit of 0)."""
    with Simulator(DOUBLE, 0.05, substeps=5) as sim:
        with pytest.raises(ValueError, match='eps_x and eps_u must be > 0'):
            FiniteDifferenceDynamics(sim, **eps)


@pytest.mark.parametrize('batch_size', [0, 2.5])
def test_a_batch_size_that_is_no_positive_integer_is_refused(batch_size):
    with Simulator(DOUBLE, 0.05, substeps=5) as sim:
        with pytest.raises(ValueError, match='batch_size must be an integer >= 1, got %r'
                                             % batch_size):
            FiniteDifferenceDynamics(sim, batch_size=batch_size)


def test_linearize_refuses_states_and_actions_that_do_not_match():
    with Simulator(DOUBLE, 0.05, substeps=5) as sim:
        model = FiniteDifferenceDynamics(sim)
        with pytest.raises(ValueError, match=r'linearize: xs \(3, 4\) and us \(2, 2\) do not '
                                             r'match \(T, 4\) and \(T, 2\)'):
            model.linearize(np.zeros((3, 4)), np.zeros((2, 2)))
        with pytest.raises(ValueError, match=r'xs \(1, 3\) and us \(1, 2\)'):
            model.linearize(np.zeros(3), np.zeros(2))


@pytest.mark.parametrize('scheme', ['central', 'forward'])
def test_eps_u_is_the_control_step_of_the_differences(scheme):
    """B is the difference of f over +-eps_u (central) or +eps_u (forward), A over eps_x."""
    x, u = np.array([1.0, -0.6, 2.0, 1.0]), np.array([3.0, -2.0])
    h = 2.0  # far inside the 10 N m limits; f is slightly nonlinear in u over such a step
    with Simulator(DOUBLE, 0.05, substeps=10) as sim:
        model = FiniteDifferenceDynamics(sim, eps_u=h, scheme=scheme)
        _, B = model.jacobians(x, u)
        low = 0.0 if scheme == 'forward' else 1.0
        expected = np.column_stack([(model.step(x, u + e * h) - model.step(x, u - low * e * h))
                                    / ((1.0 + low) * h) for e in np.eye(2)])
        tight = FiniteDifferenceDynamics(sim, scheme=scheme).jacobians(x, u)[1]
    np.testing.assert_allclose(B, expected, rtol=0.0, atol=1e-9 * np.abs(expected).max())
    assert np.abs(tight - expected).max() > 1e-7 * np.abs(expected).max()  # h matters here
