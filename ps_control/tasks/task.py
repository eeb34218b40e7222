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
A task: robot, horizon, time step, reward, initial state distribution and limits, from config/.

Conventions: state x = [q_1..q_n, qd_1..qd_n], torques u (N m), one per joint. Pendulums: q = 0
hanging down, upright is q_1 = pi, q_i = 0 for i > 1 (angles relative to the parent link).

Reward (thesis sec. 1.3.1, maximised): R_t(s, a) = (z - s)' M_t (z - s) + a' H a for t < T and
R_T(s) = (z - s)' M_T (z - s), with the constant goal z = task.goal,
M_t = -w_t diag(task.reward.state_weights), M_T = -terminal_scale w_T diag(state_weights) and
H = -diag(task.reward.action_weights). The time weight w_t is 1 ('uniform') or the sigmoid
w_t = 1 / (1 + exp(-(t / T - sigmoid_center) / sigmoid_width)) ('sigmoid'), which puts the state
reward on the end of the horizon, as swing-up set-ups do.

Angles are NOT wrapped: the state is Euclidean, as in the thesis. The pendulums' joint limits
(urdf_gen.py: q_1 in [-pi/2, 3 pi/2], q_i in [-3 pi/4, 3 pi/4] for i > 1) prevent full turns,
so the upright goal q_1 = pi is the only upright configuration the pendulum can reach.

Which actions to score is the caller's choice: the torques actually applied (Rollouts.torques)
give the reward the true system collected; the commanded actions (Rollouts.actions) score what
the policy asked for. They differ only where a command exceeded an effort limit.
"""

from dataclasses import dataclass, field, fields
import functools
import hashlib
import json
import math
import types

import numpy as np

from ps_control.core import GaussianState, QuadraticReward
from ps_control.sim.policies import as_rng
from ps_control.tasks.validation import task_fields


@dataclass(frozen=True)
class Task:
    """
    A validated task definition (see the module docstring and config/*.yaml).

    Build one with load_task or Task.from_parameters; the constructor itself does not validate.
    ``learning`` is the file's read-only ``learning:`` mapping, passed through unchecked.
    """

    name: str
    description: str
    source: str
    urdf_path: str
    joint_names: tuple
    joint_lower: tuple
    joint_upper: tuple
    horizon: int
    dt: float
    substeps: int
    gravity: float
    torque_limits: tuple
    divergence_bound: float
    goal: tuple
    initial_mean: tuple
    initial_std: tuple
    state_weights: tuple
    action_weights: tuple
    time_weighting: str
    sigmoid_center: float
    sigmoid_width: float
    terminal_scale: float
    success_tolerance: float
    success_fraction: float
    learning: types.MappingProxyType = field(compare=False, repr=False)

    # Sizes ------------------------------------------------------------------------------------

    @property
    def du(self):
        return len(self.joint_names)

    @property
    def dx(self):
        return 2 * len(self.joint_names)

    @property
    def effort_limits(self):
        """Return the URDF effort limits (equal to torque_limits, validation checks that)."""
        return self.torque_limits

    @property
    def initial_state_mean(self):
        """Return the mean of the initial state distribution (same as initial_mean)."""
        return self.initial_mean

    # Identity ---------------------------------------------------------------------------------

    # fields that do not change the problem: labels, file locations, the learner's settings
    _NOT_FINGERPRINTED = ('name', 'description', 'source', 'urdf_path', 'learning')

    @functools.cached_property
    def _fingerprint(self):
        problem = {f.name: getattr(self, f.name) for f in fields(self)
                   if f.name not in self._NOT_FINGERPRINTED}
        digest = hashlib.sha256(json.dumps(problem, sort_keys=True).encode())
        with open(self.urdf_path, 'rb') as handle:
            digest.update(handle.read())
        return digest.hexdigest()[:16]

    def fingerprint(self):
        """
        Return a digest (16 hex digits) of the problem the task poses.

        It covers the robot (the URDF file's bytes), joint and torque limits, horizon, dt,
        substeps, gravity, goal, reward, initial state distribution, divergence bound and
        success test; not the name, description, file locations or the ``learning`` section
        (learning checkpoints record their settings themselves). Checkpoints and the cached
        iLQR reference store it, so that a run is never resumed, nor a reference reused, on a
        task whose file or URDF has changed since.
        """
        return self._fingerprint

    # Reward -----------------------------------------------------------------------------------

    def time_weights(self):
        """Return w (T+1,), the time weight of the state reward at t = 0..T (before scaling)."""
        t = np.arange(self.horizon + 1) / self.horizon
        if self.time_weighting == 'uniform':
            return np.ones_like(t)
        return 1.0 / (1.0 + np.exp(-(t - self.sigmoid_center) / self.sigmoid_width))

    @functools.cached_property
    def _reward(self):
        w = self.time_weights()
        w[-1] *= self.terminal_scale
        M = -w[:, None, None] * np.diag(self.state_weights)
        H = -np.broadcast_to(np.diag(self.action_weights), (self.horizon, self.du, self.du))
        z = np.broadcast_to(np.asarray(self.goal, dtype=float), (self.horizon + 1, self.dx))
        return QuadraticReward(M, H, z)

    def quadratic_reward(self):
        """Return the task reward as ps_control.core.QuadraticReward(M, H, z)."""
        return self._reward

    def reward(self, states, actions):
        """
        Return the total reward of rollouts: states (N, T+1, dx), actions (N, T, du) -> (N,).

        Exactly the quadratic_reward() function: sum_t R_t(s_t, a_t) + R_T(s_T). A rollout
        holding NaN (a diverged one) gets NaN.
        """
        states = np.asarray(states, dtype=float)
        actions = np.asarray(actions, dtype=float)
        T, dx, du = self.horizon, self.dx, self.du
        if states.ndim < 2 or states.shape[-2:] != (T + 1, dx):
            raise ValueError('states have shape %s, expected (N, %d, %d)'
                             % (states.shape, T + 1, dx))
        if actions.shape != states.shape[:-2] + (T, du):
            raise ValueError('actions have shape %s, expected %s'
                             % (actions.shape, states.shape[:-2] + (T, du)))
        return self._reward.evaluate(states, actions)

    def success(self, states):
        """
        Return (N,) bool: did each rollout end at the goal.

        True when every joint is within success_tolerance of its goal position at every step of
        the last success_fraction of the horizon (the last ceil(fraction T) states), and the
        rollout holds no NaN (a diverged rollout never succeeds).
        """
        states = np.asarray(states, dtype=float)
        if states.ndim < 2 or states.shape[-2:] != (self.horizon + 1, self.dx):
            raise ValueError('states have shape %s, expected (N, %d, %d)'
                             % (states.shape, self.horizon + 1, self.dx))
        k = max(1, math.ceil(self.success_fraction * self.horizon - 1e-9))
        tail = states[..., -k:, :self.du] - np.asarray(self.goal[:self.du])
        close = np.abs(tail) <= self.success_tolerance * (1 + 1e-12)  # pi + 0.2 - pi > 0.2
        return close.all(axis=(-2, -1)) & np.isfinite(states).all(axis=(-2, -1))

    # Initial states and simulation ------------------------------------------------------------

    def initial_distribution(self):
        """Return the initial state distribution p_1(s) = N(mean, diag(std^2)) as GaussianState."""
        return GaussianState(np.array(self.initial_mean), np.diag(np.square(self.initial_std)))

    def sample_initial_states(self, n, rng=None):
        """Return n initial states (n, dx) ~ N(mean, diag(std^2)), positions clipped to limits."""
        if int(n) != n or n < 1:
            raise ValueError('n must be an integer >= 1, got %r' % (n,))
        rng = as_rng(rng)
        x = np.asarray(self.initial_mean) + np.asarray(self.initial_std) * rng.standard_normal(
            (int(n), self.dx))
        x[:, :self.du] = np.clip(x[:, :self.du], self.joint_lower, self.joint_upper)
        return x

    def make_simulator(self, n_robots=1, gui=False, **options):
        """Return a ps_control.sim.simulator.Simulator for this task (options are passed on)."""
        from ps_control.sim.simulator import Simulator
        return Simulator(self.urdf_path, self.dt, substeps=self.substeps, n_robots=n_robots,
                         gravity=self.gravity, divergence_bound=self.divergence_bound, gui=gui,
                         **options)

    # Construction -----------------------------------------------------------------------------

    @classmethod
    def from_parameters(cls, parameters, source, urdf_dir):
        """
        Return the validated Task of a ros__parameters mapping (with 'task' and 'learning').

        source names the file (for messages); a relative task.urdf is looked up in urdf_dir.
        Raises ValueError naming the first missing or invalid field.
        """
        return cls(**task_fields(parameters, source, urdf_dir))
