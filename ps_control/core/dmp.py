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
Dynamic movement primitives (Ijspeert et al. 2003), vectorised over rollouts and DOFs.

The policy parameterisation of the paper's experiments (sec. 4), in the form of the authors'
code (see notes/mirror_descent_search.md):

* canonical system of second order, x(t) = (1 + a t) exp(-a t), a = alpha_x = 12.5, with
  velocity v(t) = dx/dt = -a^2 t exp(-a t);
* B Gaussian kernels psi_i(x) = exp(-0.5 h_i (x - c_i)^2), c_i = x(i duration / B),
  h_i = 1 / (0.55 (c_{i+1} - c_i))^2; forcing basis b_i(t) = v(t) psi_i / sum_l psi_l;
* transformation system z' = alpha_z (beta_z (g - y) - z) + (b(t)' theta) (G - y0), y' = z,
  alpha_z = 25, beta_z = 6.25, with the filtered goal g' = alpha_g (G - g), g(0) = y0,
  alpha_g = 12.5, integrated by explicit Euler with step dt.

All DOFs share the canonical system, so the basis is one (T, B) matrix: the forcing of every
rollout and DOF is one matrix product, and the integration is one loop over the T time steps on
(..., D) arrays. Times are t_i = i dt, i = 0..T, T = duration / dt.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DMPTrajectory:
    """
    Rolled-out DMP trajectories.

    y, yd: positions and velocities at t_0..t_T, shape (..., T+1, D); ydd: accelerations at
    t_0..t_{T-1}, shape (..., T, D) (ydd_i = z'(t_i), which moves the state from t_i to t_i+1);
    forcing: the forcing term b(t_i)' theta, shape (..., T, D).
    """

    y: np.ndarray
    yd: np.ndarray
    ydd: np.ndarray
    forcing: np.ndarray


class DMP:
    """D independent DMPs sharing one canonical system and one basis (module docstring)."""

    def __init__(self, n_basis, dt=0.01, duration=0.5, alpha_z=25.0, beta_z=6.25, alpha_g=12.5,
                 alpha_x=12.5, width_factor=0.55):
        if int(n_basis) != n_basis or n_basis < 1:
            raise ValueError('n_basis must be a positive integer, got %r' % (n_basis,))
        if not dt > 0 or not duration > 0:
            raise ValueError('dt and duration must be positive, got dt=%r duration=%r'
                             % (dt, duration))
        steps = duration / dt
        if abs(steps - round(steps)) > 1e-6 or round(steps) < 1:
            raise ValueError('duration (%r) must be a positive multiple of dt (%r)'
                             % (duration, dt))
        self.n_basis = int(n_basis)
        self.dt = float(dt)
        self.duration = float(duration)
        self.T = int(round(steps))
        self.alpha_z, self.beta_z, self.alpha_g = float(alpha_z), float(beta_z), float(alpha_g)
        self.alpha_x = float(alpha_x)
        self.times = np.arange(self.T) * self.dt
        self.x, self.v = self.canonical(self.times)
        knots, _ = self.canonical(np.arange(self.n_basis + 1) * self.duration / self.n_basis)
        self.centres = knots[:-1]
        self.widths = 1.0 / (width_factor * np.diff(knots)) ** 2
        self.psi = np.exp(-0.5 * self.widths * (self.x[:, None] - self.centres) ** 2)
        self.basis = self.v[:, None] * self.psi / self.psi.sum(axis=1, keepdims=True)
        self.basis_sqnorm = np.sum(self.basis ** 2, axis=1)

    def canonical(self, t):
        """Return the canonical state x(t) = (1 + a t) exp(-a t) and its velocity v(t)."""
        t = np.asarray(t, dtype=float)
        decay = np.exp(-self.alpha_x * t)
        return (1.0 + self.alpha_x * t) * decay, -self.alpha_x ** 2 * t * decay

    def forcing(self, params, time_varying=False):
        """
        Return the forcing b(t_i)' theta, shape (..., T, D).

        ``params``: (..., D, B) held for the whole rollout, or with ``time_varying`` (..., T, D, B)
        redrawn at every step (PI2).
        """
        params = np.asarray(params, dtype=float)
        if params.shape[-1] != self.n_basis:
            raise ValueError('params have %d basis weights per DOF, the DMP has %d'
                             % (params.shape[-1], self.n_basis))
        if time_varying:
            if params.ndim < 3 or params.shape[-3] != self.T:
                raise ValueError('time-varying params must have shape (..., T=%d, D, B), got %s'
                                 % (self.T, params.shape))
            return np.matmul(params, self.basis[:, :, None])[..., 0]
        return np.swapaxes(params @ self.basis.T, -1, -2)

    def filtered_goal(self, start, goal):
        """Return g(t_i), i = 0..T-1, of the Euler-integrated goal filter, shape (T, D)."""
        start, goal = np.asarray(start, dtype=float), np.asarray(goal, dtype=float)
        decay = (1.0 - self.alpha_g * self.dt) ** np.arange(self.T)
        return goal - np.multiply.outer(decay, goal - start)

    def integrate(self, forcing, start, goal):
        """Integrate the transformation system for forcing (..., T, D) from start to goal (D,)."""
        forcing = np.asarray(forcing, dtype=float)
        start = np.broadcast_to(np.asarray(start, dtype=float), forcing.shape[-1:])
        goal = np.broadcast_to(np.asarray(goal, dtype=float), forcing.shape[-1:])
        g = self.filtered_goal(start, goal)
        drive = forcing * (goal - start)
        batch = forcing.shape[:-2]
        y = np.empty(batch + (self.T + 1, forcing.shape[-1]))
        yd = np.empty_like(y)
        ydd = np.empty(forcing.shape)
        y[..., 0, :] = start
        yd[..., 0, :] = 0.0
        az, bz, dt = self.alpha_z, self.beta_z, self.dt
        for i in range(self.T):
            pos, vel = y[..., i, :], yd[..., i, :]
            acc = az * (bz * (g[i] - pos) - vel) + drive[..., i, :]
            ydd[..., i, :] = acc
            y[..., i + 1, :] = pos + dt * vel
            yd[..., i + 1, :] = vel + dt * acc
        return DMPTrajectory(y, yd, ydd, forcing)

    def rollout(self, params, start, goal, time_varying=False):
        """Return the :class:`DMPTrajectory` of params (..., D, B) or (..., T, D, B)."""
        return self.integrate(self.forcing(params, time_varying), start, goal)
