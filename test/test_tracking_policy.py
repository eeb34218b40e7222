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

"""A DMP trajectory as a linear-Gaussian tracking policy, run on a double integrator."""

import numpy as np
from ps_control.core.dmp import DMP
from ps_control.core.linear_gaussian import LinearGaussianPolicy
from ps_control.core.tracking_policy import (dmp_tracking_policy, inertia_scaled_gains,
                                             tracking_policy)
import pytest


def reference(n_dofs=2):
    dmp = DMP(n_basis=8, dt=0.01, duration=0.5)
    theta = 40.0 * np.random.default_rng(0).standard_normal((1, n_dofs, 8))
    traj = dmp.rollout(theta, np.zeros(n_dofs), np.linspace(0.5, 1.0, n_dofs))
    y, yd, ydd = traj.y[0], traj.yd[0], traj.ydd[0]
    return dmp, type(traj)(y, yd, ydd, traj.forcing[0])


def simulate_double_integrator(policy, x0, mass, dt):
    """Simulate q'' = u / mass per joint by explicit Euler (the DMP's own scheme)."""
    n = policy.du
    x = np.array(x0, dtype=float)
    states = [x.copy()]
    for t in range(policy.T):
        u = policy.mean_action(t, x)
        q, qd = x[:n], x[n:]
        x = np.concatenate([q + dt * qd, qd + dt * u / mass])
        states.append(x.copy())
    return np.array(states)


def test_policy_gains_and_offsets():
    q_ref = np.array([[0.0, 1.0], [0.5, 2.0]])
    qd_ref = np.array([[1.0, 0.0], [0.0, -1.0]])
    ff = np.array([[0.1, 0.2], [0.3, 0.4]])
    policy = tracking_policy(q_ref, qd_ref, kp=[10.0, 20.0], kd=2.0, feedforward=ff,
                             action_std=0.1)
    assert isinstance(policy, LinearGaussianPolicy)
    assert policy.K.shape == (2, 2, 4) and policy.k.shape == (2, 2)
    assert policy.cov.shape == (2, 2, 2)
    np.testing.assert_allclose(policy.K[1], [[-10, 0, -2, 0], [0, -20, 0, -2]])
    np.testing.assert_allclose(policy.k[1], [10 * 0.5 + 0 + 0.3, 20 * 2.0 - 2.0 + 0.4])
    np.testing.assert_allclose(policy.cov[0], 0.01 * np.eye(2))
    # At the reference state the policy outputs exactly the feed-forward torque.
    x_ref = np.concatenate([q_ref[1], qd_ref[1]])
    np.testing.assert_allclose(policy.mean_action(1, x_ref), ff[1])


def test_state_dependent_feedforward_enters_to_first_order():
    """feedforward_jacobian: u = u_ff + J_q (q - q_ref) + J_qd (qd - qd_ref) - PD feedback."""
    rng = np.random.default_rng(4)
    T, n = 3, 2
    q_ref, qd_ref, ff = rng.standard_normal((3, T, n))
    J_q, J_qd = rng.standard_normal((2, T, n, n))
    policy = tracking_policy(q_ref, qd_ref, kp=[10.0, 20.0], kd=2.0, feedforward=ff,
                             feedforward_jacobian=(J_q, J_qd))
    np.testing.assert_allclose(policy.K[1], np.hstack([J_q[1] - np.diag([10.0, 20.0]),
                                                       J_qd[1] - 2.0 * np.eye(2)]))
    x_ref = np.concatenate([q_ref[1], qd_ref[1]])
    np.testing.assert_allclose(policy.mean_action(1, x_ref), ff[1])  # unchanged at the reference
    dq, dqd = rng.standard_normal((2, n))
    expected = ff[1] + J_q[1] @ dq + J_qd[1] @ dqd - np.diag([10.0, 20.0]) @ dq - 2.0 * dqd
    np.testing.assert_allclose(policy.mean_action(1, x_ref + np.concatenate([dq, dqd])),
                               expected)
    with pytest.raises(ValueError, match=r'feedforward_jacobian\[1\]'):
        tracking_policy(q_ref, qd_ref, 1.0, 1.0, feedforward_jacobian=(J_q, J_qd[:, :1]))


def test_feedforward_policy_tracks_the_dmp_exactly_on_a_double_integrator():
    dmp, traj = reference()
    mass = np.array([2.0, 0.5])
    policy = dmp_tracking_policy(traj, kp=100.0, kd=20.0, inertia=mass)
    x0 = np.concatenate([traj.y[0], traj.yd[0]])
    states = simulate_double_integrator(policy, x0, mass, dmp.dt)
    np.testing.assert_allclose(states[:, :2], traj.y, atol=1e-10)
    np.testing.assert_allclose(states[:, 2:], traj.yd, atol=1e-8)


def test_pd_feedback_pulls_a_perturbed_start_back_to_the_reference():
    dmp, traj = reference()
    mass = 1.0
    policy = dmp_tracking_policy(traj, kp=900.0, kd=60.0, inertia=mass)
    offset = np.array([0.2, -0.1, 0.0, 0.0])
    x0 = np.concatenate([traj.y[0], traj.yd[0]]) + offset
    states = simulate_double_integrator(policy, x0, mass, dmp.dt)
    error = np.abs(states[:, :2] - traj.y)
    assert error[0].max() == pytest.approx(0.2)
    # Critically damped (omega = 30 rad/s): after 0.5 s the error is a small fraction.
    assert error[-1].max() < 0.01 * 0.2
    # Without feedback the offset stays.
    open_loop = dmp_tracking_policy(traj, kp=0.0, kd=0.0, inertia=mass)
    drift = simulate_double_integrator(open_loop, x0, mass, dmp.dt)
    np.testing.assert_allclose(drift[-1, :2] - traj.y[-1], offset[:2], atol=1e-9)


def test_bad_input():
    q = np.zeros((3, 2))
    with pytest.raises(ValueError, match='q_ref'):
        tracking_policy(q, np.zeros((3, 3)), 1.0, 1.0)
    with pytest.raises(ValueError, match='kp'):
        tracking_policy(q, q, [1.0, 2.0, 3.0], 1.0)
    with pytest.raises(ValueError, match='feedforward'):
        tracking_policy(q, q, 1.0, 1.0, feedforward=np.zeros((2, 2)))
    with pytest.raises(ValueError, match='action_std'):
        tracking_policy(q, q, 1.0, 1.0, action_std=0.0)
    with pytest.raises(ValueError, match='policy k'):
        tracking_policy(q + np.nan, q, 1.0, 1.0)
    with pytest.raises(ValueError, match='kd holds NaN or inf'):
        tracking_policy(q, q, 1.0, [1.0, np.inf])
    dmp, traj = reference()
    batch = type(traj)(traj.y[None], traj.yd[None], traj.ydd[None], traj.forcing[None])
    with pytest.raises(ValueError, match=r'trajectory must hold one rollout.*got \(1, 51, 2\)'):
        dmp_tracking_policy(batch, 1.0, 1.0)


def test_dmp_tracking_policy_takes_its_action_std():
    """action_std sets the policy's exploration: cov_t = action_std^2 I at every step."""
    dmp = DMP(n_basis=4, dt=0.01, duration=0.1)
    theta = np.random.default_rng(0).standard_normal((1, 2, 4))
    traj = dmp.rollout(theta, np.zeros(2), np.ones(2))
    one = type(traj)(traj.y[0], traj.yd[0], traj.ydd[0], traj.forcing[0])
    policy = dmp_tracking_policy(one, kp=100.0, kd=20.0, inertia=1.0, action_std=0.3)
    np.testing.assert_allclose(policy.cov, np.broadcast_to(0.09 * np.eye(2), (dmp.T, 2, 2)))


@pytest.mark.parametrize('zeta', [0.5, 1.0, 2.0])
def test_scaled_gains_give_each_joint_the_frequency_and_damping_ratio(zeta):
    """With Kp, Kd for inertia m, e'' = -(Kp e + Kd e') / m has poles of w and zeta."""
    w, m = 7.0, np.diag([0.5, 3.0])
    kp, kd = inertia_scaled_gains(m, w, zeta)
    # the poles of s^2 + 2 zeta w s + w^2: -w (zeta -+ sqrt(zeta^2 - 1))
    root = np.sqrt(complex(zeta ** 2 - 1.0))
    expected = np.sort_complex(np.array([-w * (zeta - root), -w * (zeta + root)]))
    for j in range(2):
        poles = np.sort_complex(np.roots([1.0, kd[j, j] / m[j, j], kp[j, j] / m[j, j]]))
        np.testing.assert_allclose(poles, expected, rtol=1e-6, atol=1e-9 * w)
    np.testing.assert_array_equal(kp[0, 1], 0.0)  # diagonal inertia: no coupling


BAD_SETTINGS = [(-5.0, 1.0), (5.0, -1.0), (np.inf, 1.0), (5.0, np.nan)]


@pytest.mark.parametrize('frequency, damping_ratio', BAD_SETTINGS)
def test_a_negative_or_non_finite_frequency_or_damping_ratio_is_refused(frequency, damping_ratio):
    """A negative frequency or damping ratio would give unstable (negative) gains."""
    with pytest.raises(ValueError, match='must be finite and >= 0'):
        inertia_scaled_gains(np.eye(2), frequency, damping_ratio)


@pytest.mark.parametrize('inertia', [np.ones(2), np.ones((2, 3)), 1.0])
def test_an_inertia_that_is_no_square_matrix_is_refused(inertia):
    with pytest.raises(ValueError, match=r'inertia must be \(n, n\) or \(T, n, n\)'):
        inertia_scaled_gains(inertia, 5.0)
