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
The simulator as an exact one-step model x' = f(x, u), with finite-difference Jacobians.

For an exact-model reference optimum (iLQR on the simulator itself). f resets a copy of the robot
to x, applies the torque u (clipped to the effort limits, as the simulator always does) for one
task step and reads x'. Jacobians A = df/dx and B = df/du are central differences; all perturbed
copies of a step (and of many steps, for a whole trajectory) are simulated side by side in the
batched world, one stepSimulation per sub-step for all of them.

Non-smooth spots: where u +- eps crosses an effort limit the corresponding column of B is about
halved, beyond the limit it is 0; near a joint position limit the limit constraint makes f
non-smooth. Away from those f is smooth (PyBullet uses double precision), and eps = 1e-5 gives
Jacobians accurate to about 1e-9 relative.
"""

import numpy as np


class FiniteDifferenceDynamics:
    """
    One-step dynamics of a Simulator, x' = f(x, u), and its finite-difference Jacobians.

    sim is a Simulator (its copies are reset and stepped freely); batch_size caps how many
    copies are stepped together (the world grows to that many on first use).
    """

    def __init__(self, sim, eps_x=1e-5, eps_u=1e-5, batch_size=128):
        if not eps_x > 0 or not eps_u > 0:
            raise ValueError('eps_x and eps_u must be > 0, got %r, %r' % (eps_x, eps_u))
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError('batch_size must be an integer >= 1, got %r' % (batch_size,))
        self.sim = sim
        self.eps_x = float(eps_x)
        self.eps_u = float(eps_u)
        self.batch_size = int(batch_size)

    @property
    def dx(self):
        return self.sim.dx

    @property
    def du(self):
        return self.sim.du

    def step(self, x, u):
        """Return f(x, u): x (dx,) and u (du,) -> (dx,), or batches (M, dx), (M, du) -> (M, dx)."""
        single = np.ndim(x) == 1
        x = np.atleast_2d(np.asarray(x, dtype=float))
        u = np.atleast_2d(np.asarray(u, dtype=float))
        if x.shape[0] != u.shape[0] or x.shape[1] != self.dx or u.shape[1] != self.du:
            raise ValueError('step: x %s and u %s do not match (M, %d) and (M, %d)'
                             % (x.shape, u.shape, self.dx, self.du))
        out = np.empty_like(x)
        for start in range(0, x.shape[0], self.batch_size):
            stop = min(start + self.batch_size, x.shape[0])
            self.sim.reset(x[start:stop])
            out[start:stop] = self.sim.step(u[start:stop])
        return out[0] if single else out

    def _perturbed(self, x, u):
        """Return the 2 (dx + du) central-difference inputs around each (x_t, u_t), stacked."""
        dx, du = self.dx, self.du
        ex = np.concatenate([np.eye(dx), -np.eye(dx)]) * self.eps_x
        eu = np.concatenate([np.eye(du), -np.eye(du)]) * self.eps_u
        n = 2 * (dx + du)
        xs = np.repeat(x, n, axis=0).reshape(len(x), n, dx)
        us = np.repeat(u, n, axis=0).reshape(len(u), n, du)
        xs[:, :2 * dx] += ex
        us[:, 2 * dx:] += eu
        return xs.reshape(-1, dx), us.reshape(-1, du)

    def linearize(self, xs, us):
        """
        Return A (T, dx, dx), B (T, dx, du), c (T, dx) of f around the pairs (x_t, u_t).

        xs (T, dx), us (T, du): f(x, u) ~ A_t x + B_t u + c_t near (x_t, u_t), with
        c_t = f(x_t, u_t) - A_t x_t - B_t u_t.
        """
        xs = np.atleast_2d(np.asarray(xs, dtype=float))
        us = np.atleast_2d(np.asarray(us, dtype=float))
        if xs.shape[0] != us.shape[0] or xs.shape[1] != self.dx or us.shape[1] != self.du:
            raise ValueError('linearize: xs %s and us %s do not match (T, %d) and (T, %d)'
                             % (xs.shape, us.shape, self.dx, self.du))
        T, dx, du = xs.shape[0], self.dx, self.du
        px, pu = self._perturbed(xs, us)
        nominal_and_perturbed = self.step(np.concatenate([xs, px]), np.concatenate([us, pu]))
        nominal = nominal_and_perturbed[:T]
        out = nominal_and_perturbed[T:].reshape(T, 2 * (dx + du), dx)
        A = ((out[:, :dx] - out[:, dx:2 * dx]) / (2.0 * self.eps_x)).transpose(0, 2, 1)
        B = ((out[:, 2 * dx:2 * dx + du] - out[:, 2 * dx + du:]) / (2.0 * self.eps_u))
        B = B.transpose(0, 2, 1)
        c = nominal - np.einsum('tij,tj->ti', A, xs) - np.einsum('tij,tj->ti', B, us)
        return A, B, c

    def jacobians(self, x, u):
        """Return A (dx, dx) = df/dx and B (dx, du) = df/du at one pair (x (dx,), u (du,))."""
        x = np.asarray(x, dtype=float)[None]
        A, B, _ = self.linearize(x, np.asarray(u, dtype=float)[None])
        return A[0], B[0]


def make_step_fn(sim):
    """Return step_fn(x, u) -> x' of a Simulator (see FiniteDifferenceDynamics.step)."""
    return FiniteDifferenceDynamics(sim).step
