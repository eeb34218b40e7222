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
The DMP via-point tasks of Miyashita et al. 2018, sec. 4 (costs as in notes/mirror_descent_search).

Both tasks have the per-step cost (t_i = i dt, i = 0..T-1, dt = 0.01, T = 50)

    r_i = sum_d w_d (c_acc yddot_{d,i}^2 + 0.5 ||M_i a_d||^2)
          + [t_i = t_via] W ||p_via - p(y_i)||^2,

with ||M_i a||^2 = (b_i' a)^2 / (b_i' b_i) the squared projection of the executed parameters a
(mean plus exploration) onto the basis vector b_i, p(y) the point (the 2-DOF position) or the end
effector of the planar arm:

* point (sec. 4.1, eq. 19-20): start (0, 0), goal (1, 1), via (0.5, 0.2) at 0.25 s, W = 1e10,
  w_d = 1, c_acc = 0.5 * 1000, 20 basis functions;
* D-DOF arm (sec. 4.2, eq. 21-22): D links of length 1/D, joints start at 0, goals
  q_1 = pi / (2D), q_d = pi / D; via (0.5, 0.5) at 0.3 s, W = 1e8,
  w_d = (D + 1 - d) / sum_l (D + 1 - l), c_acc = 0.1, 100 basis functions.
"""

import numpy as np

from ps_control.core.dmp import DMP


def planar_arm_points(q, link_length=None):
    """
    Forward kinematics of a planar serial arm with its base at the origin.

    q (..., D) joint angles (each relative to the previous link) -> (..., D+1, 2): the base and
    the end of every link; the last row is the end effector. ``link_length``: one length for
    every link or one per link (D,); default 1/D (the paper's arm of total length 1). The URDF
    arm's joint frames are these points too (PlanarArm.joint_positions).
    """
    q = np.asarray(q, dtype=float)
    n = q.shape[-1]
    length = np.asarray(1.0 / n if link_length is None else link_length, dtype=float)
    angles = np.cumsum(q, axis=-1)
    steps = length[..., None] * np.stack([np.cos(angles), np.sin(angles)], axis=-1)
    base = np.zeros(q.shape[:-1] + (1, 2))
    return np.concatenate([base, np.cumsum(steps, axis=-2)], axis=-2)


class ViaPointTask:
    """A DMP task whose cost is acceleration, control and a via-point term (module docstring)."""

    def __init__(self, name, n_basis, start, goal, via_point, via_time, via_weight, dof_weights,
                 acc_weight, control_weight=0.5, dt=0.01, duration=0.5):
        self.name = name
        self.dmp = DMP(n_basis, dt=dt, duration=duration)
        self.start = np.asarray(start, dtype=float)
        self.goal = np.asarray(goal, dtype=float)
        self.via_point = np.asarray(via_point, dtype=float)
        self.via_time = float(via_time)
        self.via_index = int(round(via_time / dt))
        if abs(self.via_index * dt - via_time) > 1e-9 or not 0 <= self.via_index < self.dmp.T:
            raise ValueError('via_time %r is not a time step t_i = i dt < duration' % (via_time,))
        self.via_weight = float(via_weight)
        self.dof_weights = np.asarray(dof_weights, dtype=float)
        self.acc_weight = float(acc_weight)
        self.control_weight = float(control_weight)

    @property
    def n_dofs(self):
        return self.start.size

    @property
    def n_basis(self):
        return self.dmp.n_basis

    @property
    def param_shape(self):
        return (self.n_dofs, self.n_basis)

    def initial_params(self):
        """Return theta = 0: the spring-damper path from start to goal (notes: initial theta)."""
        return np.zeros(self.param_shape)

    def effector(self, y):
        """Map positions (..., D) to the task-space point (..., 2)."""
        raise NotImplementedError

    def rollout(self, params, time_varying=False):
        """Roll out params (N, D, B), or (N, T, D, B) with ``time_varying``."""
        return self.dmp.rollout(params, self.start, self.goal, time_varying)

    def step_costs(self, params, time_varying=False):
        """Return per-step costs (N, T) and the :class:`DMPTrajectory` of params."""
        traj = self.rollout(params, time_varying)
        return self.trajectory_costs(traj.y, traj.ydd, traj.forcing), traj

    def trajectory_costs(self, y, ydd, forcing):
        """
        Return the per-step costs (..., T) of positions y (..., T+1, D), accelerations ydd.

        ydd (..., T, D) moves the state from t_i to t_i+1; forcing (..., T, D) is the forcing
        b(t_i)' a of the executed parameters (its projection is the control cost). The DMP's
        own rollout gives the paper's cost; a robot's measured positions and accelerations give
        the cost of the movement it actually made.
        """
        y, ydd = np.asarray(y, dtype=float), np.asarray(ydd, dtype=float)
        forcing = np.asarray(forcing, dtype=float)
        T, D = self.dmp.T, self.n_dofs
        if y.shape[-2:] != (T + 1, D) or ydd.shape[-2:] != (T, D):
            raise ValueError('y %s and ydd %s must end in (T+1, D) = %s and (T, D) = %s'
                             % (y.shape, ydd.shape, (T + 1, D), (T, D)))
        bb = self.dmp.basis_sqnorm[:, None]
        projected = np.where(bb > 0, forcing ** 2 / np.where(bb > 0, bb, 1.0), 0.0)
        per_dof = self.acc_weight * ydd ** 2 + self.control_weight * projected
        costs = per_dof @ self.dof_weights
        error = self.via_point - self.effector(y[..., self.via_index, :])
        costs[..., self.via_index] += self.via_weight * np.sum(error ** 2, axis=-1)
        return costs

    def cost(self, params):
        """Return the total cost of one noiseless rollout of params (D, B)."""
        costs, _ = self.step_costs(np.asarray(params)[None])
        return float(costs.sum())

    def via_error(self, params):
        """Return the distance of the effector to the via-point at t_via for params (D, B)."""
        traj = self.rollout(np.asarray(params)[None])
        return float(np.linalg.norm(self.via_point
                                    - self.effector(traj.y[0, self.via_index])))


class PointViaPoint(ViaPointTask):
    """The 2-DOF point via-point task (sec. 4.1)."""

    def __init__(self, n_basis=20):
        super().__init__('point', n_basis, start=[0.0, 0.0], goal=[1.0, 1.0],
                         via_point=[0.5, 0.2], via_time=0.25, via_weight=1e10,
                         dof_weights=[1.0, 1.0], acc_weight=0.5 * 1000.0)

    def effector(self, y):
        return np.asarray(y)


class ArmViaPoint(ViaPointTask):
    """
    The D-DOF planar arm via-point task (sec. 4.2).

    dt and duration default to the paper's (0.01 s, 0.5 s); a robot learner integrates the DMP
    at its control period instead (the via-point time must be a multiple of dt).
    """

    def __init__(self, n_dofs=10, n_basis=100, dt=0.01, duration=0.5):
        if int(n_dofs) != n_dofs or n_dofs < 1:
            raise ValueError('n_dofs (arm joints) must be a positive integer, got %r' % (n_dofs,))
        n_dofs = int(n_dofs)
        goal = np.full(n_dofs, np.pi / n_dofs)
        goal[0] = np.pi / (2 * n_dofs)
        weights = np.arange(n_dofs, 0, -1, dtype=float)
        super().__init__('arm%d' % n_dofs, n_basis, start=np.zeros(n_dofs), goal=goal,
                         via_point=[0.5, 0.5], via_time=0.3, via_weight=1e8,
                         dof_weights=weights / weights.sum(), acc_weight=0.1, dt=dt,
                         duration=duration)

    def effector(self, y):
        return planar_arm_points(y)[..., -1, :]


def make_task(name, n_dofs=10, n_basis=None):
    """Return the task 'point' or 'arm' (with ``n_dofs``); n_basis defaults to the paper's."""
    if name == 'point':
        return PointViaPoint(20 if n_basis is None else n_basis)
    if name == 'arm':
        return ArmViaPoint(n_dofs, 100 if n_basis is None else n_basis)
    raise ValueError("unknown task %r: choose 'point' or 'arm'" % (name,))
