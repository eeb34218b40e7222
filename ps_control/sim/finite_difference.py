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

Non-smooth spots. f clips u to the effort limits, so it has a kink at each limit. A torque at or
within eps of a limit (the usual case for a torque-limited optimum, whose saturated controls sit
exactly on the limit) is differenced on the feasible side only, between u - eps (or the lower
limit) and u + eps (or the upper limit): B is the derivative from inside the box, the one a
control-limited optimiser needs (a plain central difference across the limit would halve it).
Beyond a limit f does not depend on u and that column of B is 0. Near a joint position limit
the limit constraint makes f non-smooth. Away from those f is smooth (PyBullet uses double
precision), and eps = 1e-5 gives Jacobians accurate to about 1e-9 relative.
"""

import numpy as np


class FiniteDifferenceDynamics:
    """
    One-step dynamics of a Simulator, x' = f(x, u), and its finite-difference Jacobians.

    sim is a Simulator (its copies are reset and stepped freely); batch_size caps how many
    copies are stepped together (the world grows to that many on first use). scheme 'central'
    (default: 2 (dx + du) steps per pair, error O(eps^2)) or 'forward' (dx + du + 1 steps per
    pair, error O(eps), about 1e-5 relative at the default eps: half the simulation for an
    optimiser that needs the Jacobians but not to 9 digits).
    """

    def __init__(self, sim, eps_x=1e-5, eps_u=1e-5, batch_size=128, scheme='central'):
        if not eps_x > 0 or not eps_u > 0:
            raise ValueError('eps_x and eps_u must be > 0, got %r, %r' % (eps_x, eps_u))
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError('batch_size must be an integer >= 1, got %r' % (batch_size,))
        if scheme not in ('central', 'forward'):
            raise ValueError("scheme must be 'central' or 'forward', got %r" % (scheme,))
        self.sim = sim
        self.eps_x = float(eps_x)
        self.eps_u = float(eps_u)
        self.batch_size = int(batch_size)
        self.scheme = scheme

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

    def _control_steps(self, u):
        """
        Return the upward and downward control steps (T, du) of the differences around u.

        eps_u each way, shortened to end on an effort limit that u lies on or within eps_u of
        (differences from inside the box; see the module docstring). A control outside the
        limits keeps the full steps (f, and the difference, are flat there).
        """
        limit = np.asarray(self.sim.effort_limits, dtype=float)
        up = np.full(u.shape, self.eps_u)
        down = np.full(u.shape, self.eps_u)
        inside = (u >= -limit) & (u <= limit)
        up = np.where(inside, np.minimum(up, limit - u), up)
        down = np.where(inside, np.minimum(down, u + limit), down)
        return up, down

    def _probes(self, x, u):
        """
        Return the perturbed inputs around each (x_t, u_t) and the step sizes.

        Returns xs (T, m, dx), us (T, m, du), plus and minus (T, dx + du): with m = 2 (dx + du)
        (central) the points x + plus e_i, then x - minus e_i; with m = dx + du (forward) the
        points x + plus e_i, plus negative (a step down) for a control on or within eps_u / 2 of
        its upper limit.
        """
        T, dx, du = len(x), self.dx, self.du
        n = dx + du
        up, down = self._control_steps(u)
        plus = np.concatenate([np.full((T, dx), self.eps_x), up], axis=1)
        minus = np.concatenate([np.full((T, dx), self.eps_x), down], axis=1)
        if self.scheme == 'forward':
            # on or just below an upper limit: step down (a tiny step up would be all rounding)
            plus = np.where(plus >= 0.5 * np.concatenate([np.full(dx, self.eps_x),
                                                          np.full(du, self.eps_u)]),
                            plus, -minus)
            shifts = [plus]
        else:
            shifts = [plus, -minus]
        points = np.concatenate([x, u], axis=1)
        probes = np.concatenate([points[:, None] + np.eye(n) * h[:, :, None] for h in shifts],
                                axis=1)
        return probes[..., :dx], probes[..., dx:], plus, minus

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
        n = dx + du
        px, pu, plus, minus = self._probes(xs, us)
        m = px.shape[1]
        f = self.step(np.concatenate([xs, px.reshape(-1, dx)]),
                      np.concatenate([us, pu.reshape(-1, du)]))
        nominal, out = f[:T], f[T:].reshape(T, m, dx)
        if self.scheme == 'forward':
            difference, width = out - nominal[:, None], plus
        else:
            # > 0 unless an effort limit is 0 (then B's column is 0)
            difference, width = out[:, :n] - out[:, n:], plus + minus
        jac = difference / np.where(width != 0, width, 1.0)[:, :, None]
        A = jac[:, :dx].transpose(0, 2, 1)
        B = jac[:, dx:].transpose(0, 2, 1)
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
