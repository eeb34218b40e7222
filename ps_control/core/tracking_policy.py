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
A DMP joint trajectory as a time-varying linear-Gaussian policy for a torque-controlled arm.

The DMPs of the mirror-descent experiments (Miyashita et al. 2018, sec. 4) produce joint
references q_ref, qd_ref, qdd_ref. A PD tracking controller with feed-forward,

    u_t = Kp (q_ref,t - q_t) + Kd (qd_ref,t - qd_t) + u_ff,t,

is linear in the state x_t = [q_t, qd_t], so it is the policy u_t ~ N(K_t x_t + k_t, cov_t)
(thesis eq. 3.13, DESIGN.md) with K_t = [-Kp, -Kd] and k_t = Kp q_ref,t + Kd qd_ref,t + u_ff,t:
any controller that runs linear-Gaussian policies runs the learnt movement. Gains and the inertia
of the feed-forward may vary along the reference ((T, n, n) arrays): for a robot arm,
:func:`inertia_scaled_gains` scales a natural frequency and a damping ratio by the joint-space
inertia at the reference posture, so every joint tracks with the same bandwidth.
"""

import numpy as np

from ps_control.core.linear_gaussian import LinearGaussianPolicy


def _gain_matrix(name, gain, n, T=None):
    """Return ``gain`` as (n, n), or as (T, n, n) when it varies over the T time steps."""
    gain = np.asarray(gain, dtype=float)
    if gain.ndim == 0:
        gain = np.full(n, float(gain))
    if gain.ndim == 1:
        if gain.shape != (n,):
            raise ValueError('%s has %d entries, the trajectory has %d joints'
                             % (name, gain.shape[0], n))
        gain = np.diag(gain)
    shapes = [(n, n)] + ([(T, n, n)] if T is not None else [])
    if gain.shape not in shapes:
        raise ValueError('%s must be a scalar, (%d,), (%d, %d)%s array, got shape %s'
                         % (name, n, n, n, '' if T is None else ' or (T, n, n) = %s'
                            % ((T, n, n),), gain.shape))
    if not np.all(np.isfinite(gain)):
        raise ValueError('%s holds NaN or inf' % name)
    return gain


def _apply(gain, vectors):
    """Return gain_t @ v_t for v (T, n) and a constant (n, n) or time-varying (T, n, n) gain."""
    return np.einsum('...ij,...j->...i', gain, vectors)


def tracking_policy(q_ref, qd_ref, kp, kd, feedforward=None, action_std=1e-6,
                    feedforward_jacobian=None):
    """
    Return the PD + feed-forward tracking controller of q_ref, qd_ref (T, n) as a policy.

    kp, kd: scalars, per-joint (n,), full (n, n) or time-varying (T, n, n) gains; feedforward:
    optional torques (T, n); action_std: the policy's exploration standard deviation
    (cov_t = action_std^2 I, > 0). The state is x = [q, qd] (dx = 2n), the action the joint
    torques (du = n).

    feedforward_jacobian: optional (d u_ff / d q, d u_ff / d qd), each (T, n, n), for a
    feed-forward that depends on the state, such as the inverse dynamics tau_ID(q, qd, qdd_ref).
    The policy then holds its first-order expansion about the reference,
    u_ff + J_q (q - q_ref) + J_qd (qd - qd_ref): K_t = [J_q - Kp, J_qd - Kd]. With Kp, Kd =
    M(q_ref) [w^2, 2 zeta w] that is computed torque, M(q) (qdd_ref - w^2 e - 2 zeta w e') +
    C(q, qd) qd, to first order in the error e.
    """
    q_ref = np.asarray(q_ref, dtype=float)
    qd_ref = np.asarray(qd_ref, dtype=float)
    if q_ref.ndim != 2 or qd_ref.shape != q_ref.shape:
        raise ValueError('q_ref %s and qd_ref %s must both have shape (T, n)'
                         % (q_ref.shape, qd_ref.shape))
    T, n = q_ref.shape
    Kp, Kd = _gain_matrix('kp', kp, n, T), _gain_matrix('kd', kd, n, T)
    u_ff = np.zeros((T, n)) if feedforward is None else np.asarray(feedforward, dtype=float)
    if u_ff.shape != (T, n):
        raise ValueError('feedforward has shape %s, expected (T, n) = %s'
                         % (u_ff.shape, (T, n)))
    if not action_std > 0:
        raise ValueError('action_std must be positive, got %r' % (action_std,))
    if feedforward_jacobian is not None:
        J_q, J_qd = (_gain_matrix(name, J, n, T) for name, J in
                     zip(('feedforward_jacobian[0]', 'feedforward_jacobian[1]'),
                         feedforward_jacobian))
        Kp, Kd = Kp - J_q, Kd - J_qd
    K = np.broadcast_to(np.concatenate(np.broadcast_arrays(-Kp, -Kd), axis=-1), (T, n, 2 * n))
    k = _apply(Kp, q_ref) + _apply(Kd, qd_ref) + u_ff
    cov = np.broadcast_to(np.eye(n) * action_std ** 2, (T, n, n))
    return LinearGaussianPolicy(K, k, cov)


def dmp_tracking_policy(trajectory, kp, kd, inertia=None, action_std=1e-6):
    """
    Return the tracking policy of one rolled-out DMP (a DMPTrajectory with y (T+1, n)).

    The references are y and yd at t_0..t_{T-1}; with ``inertia`` (scalar, (n,), (n, n) or
    (T, n, n), e.g. the joint-space inertia M(y_t) of an arm) the feed-forward torque is
    inertia_t @ ydd_t (exact for a double integrator). kp, kd as in :func:`tracking_policy`.
    """
    y, yd, ydd = trajectory.y, trajectory.yd, trajectory.ydd
    if y.ndim != 2:
        raise ValueError('trajectory must hold one rollout, y of shape (T+1, n); got %s'
                         % (y.shape,))
    T, n = ydd.shape
    feedforward = None
    if inertia is not None:
        feedforward = _apply(_gain_matrix('inertia', inertia, n, T), ydd)
    return tracking_policy(y[:T], yd[:T], kp, kd, feedforward, action_std)


def inertia_scaled_gains(inertia, frequency, damping_ratio=1.0):
    """
    Return PD gains (Kp, Kd) = (w^2 I, 2 zeta w I) for the inertia I (n, n) or (T, n, n).

    A joint of inertia I under u = Kp e + Kd ed tracks as e'' + 2 zeta w e' + w^2 e = 0: every
    joint gets the natural frequency w (rad / s) and the damping ratio zeta whatever its inertia.
    """
    inertia = np.asarray(inertia, dtype=float)
    if inertia.ndim < 2 or inertia.shape[-1] != inertia.shape[-2]:
        raise ValueError('inertia must be (n, n) or (T, n, n), got shape %s' % (inertia.shape,))
    if not np.isfinite(frequency) or frequency < 0:
        raise ValueError('frequency must be finite and >= 0, got %r' % (frequency,))
    if not np.isfinite(damping_ratio) or damping_ratio < 0:
        raise ValueError('damping_ratio must be finite and >= 0, got %r' % (damping_ratio,))
    return frequency ** 2 * inertia, 2.0 * damping_ratio * frequency * inertia
