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
Torque-controlled PyBullet simulation of a fixed-base robot, one copy or many side by side.

State x = [q_1..q_n, qd_1..qd_n] (joint positions and velocities, in the URDF's joint order),
action u = one torque per joint (N m). What the simulator does, and why:

* PyBullet in DIRECT mode (``gui=True`` opens the GUI for a person to watch; ``realtime=True``
  then paces the steps at dt). Every simulator owns its PyBullet clients, so several can live in
  one process (but only one GUI).
* The URDF's inertias are used (URDF_USE_INERTIA_FROM_FILE; PyBullet would otherwise recompute
  them from the collision shapes). Collision shapes are not loaded
  (URDF_IGNORE_COLLISION_SHAPES): copies never collide with each other, nor a chain with itself.
* PyBullet's default velocity motors are disabled (VELOCITY_CONTROL with force 0). A joint with
  Coulomb friction f > 0 in the URDF (<dynamics friction>) keeps its velocity motor instead,
  with target velocity 0 and maximum force f: constraint-based Coulomb friction that holds the
  joint at rest without chattering. Every checked-in URDF has friction 0.
* Viscous joint damping b (<dynamics damping>) acts as the torque -b qd. PyBullet 3.2.7 applies
  it itself at every stepSimulation, also with the motors disabled (test_sim_physics.py checks
  the decay rate against the analytic one). ``explicit_damping=True`` switches PyBullet's damping
  off and applies the same torque from Python before every sub-step instead, for PyBullet
  versions that ignore it; the tests check that both give the same motion.
* PyBullet's default link damping (linear and angular 0.04) is set to 0, so only the URDF's joint
  damping dissipates energy, and its joint velocity clamp (100 rad / s) is lifted to 1e4 rad / s
  so that a runaway shows up as a divergence instead of being hidden.
* Torques are clipped to the URDF effort limits. PyBullet forgets a TORQUE_CONTROL command after
  each stepSimulation (and applies it to the first internal sub-step only when numSubSteps > 0),
  so one task step is ``substeps`` calls of stepSimulation with fixedTimeStep = dt / substeps,
  the clipped torque re-applied before each (zero-order hold).
* Joint position limits of revolute joints are enforced by PyBullet's constraint solver. At
  speed a limit is overshot before it pushes back, by up to about the speed times one physics
  step: measured under random full-torque inputs, 0.06 rad on the double pendulum, 0.16 rad on
  the quad pendulum and 0.45 rad on the 2-link arm (0.61 rad at 160 rad/s without a divergence
  bound). ``reset`` accepts states that far outside (``limit_tolerance``).

Batches: N copies of the robot are loaded into PyBullet worlds, at most ``world_size`` copies per
world (placed ``spacing`` apart along x), and each world is stepped by one stepSimulation per
sub-step for all its copies; torques and states go through the per-body array APIs
(setJointMotorControlArray / getJointStates). Measured on PyBullet 3.2.7 (bench/bench_sim.py), the
cost of stepSimulation per copy grows with the number of copies in a world (100 quad pendulums
in one world ran slower than one at a time), so big batches are split over several small
worlds: DEFAULT_WORLD_SIZE = 8 copies each (every PyBullet client costs about 28 MB of memory,
so 100 copies take about 13 worlds, 0.4 GB); ``world_size=None`` puts every copy into one
world. Copies are added on demand and never removed; a step only touches the worlds holding
the copies in use.

Divergence (a state that is NaN or has a component beyond ``divergence_bound`` in absolute value):
``step`` raises DivergenceError; ``rollout`` by default flags the rollout (``Rollouts.diverged``,
``Rollouts.diverged_at``) and fills its states from the diverging step on, and the action and
torque that led there and after, with NaN, so that a diverged rollout can never be fed silently
into a dynamics fit (anything that ignores the flag meets NaN, which the core types reject);
``Rollouts.valid()`` drops them. ``on_divergence='raise'`` raises instead. A diverged copy is
reset to rest and idles with zero torque.
"""

from dataclasses import dataclass
import math
import os
import sys
import time

import numpy as np
from ps_control.sim.policies import action_function
from ps_control.sim.urdf import read_urdf
import pybullet

MAX_JOINT_VELOCITY = 1e4
# A reset state may lie this far (rad or m) outside the joint limits, and further with a
# divergence bound: 1.25 times the bound times one physics step (the overshoot of a limit hit at
# the fastest speed the bound lets pass, with a margin for the constraint's softness), so that
# every state the simulator returns unflagged can be reset to.
LIMIT_TOLERANCE = 0.5
DEFAULT_WORLD_SIZE = 8


class DivergenceError(RuntimeError):
    """
    A simulated state became NaN or left the configured bound.

    ``states`` (n, dx): the states the step reached, of every copy (the diverged ones included).
    """

    def __init__(self, message, states=None):
        super().__init__(message)
        self.states = states


def state_text(x):
    """Return a state for an error message, on one line (numpy wraps arrays at 75 characters)."""
    return np.array2string(np.asarray(x, dtype=float), precision=4, max_line_width=np.inf)


def diverged(states, bound):
    """
    Return which states (..., dx) -> (...) have diverged: a NaN or inf, or |x_i| > ``bound``.

    The one rule for divergence: the simulator's (``Simulator.step``, ``rollout``) and the
    learner node's, which checks the episodes that come back from any robot.
    """
    states = np.asarray(states, dtype=float)
    return ~np.isfinite(states).all(axis=-1) | (np.abs(states) > bound).any(axis=-1)


@dataclass(frozen=True, eq=False)
class Rollouts:
    """
    N simulated rollouts of T steps.

    states (N, T+1, dx), actions (N, T, du) as commanded by the policy (before clipping), torques
    (N, T, du) as applied (after clipping), diverged (N,) bool and diverged_at (N,) int: the
    index t of the first diverged state (-1 if none); for a diverged rollout states[t:] and
    actions / torques [t-1:] are NaN.
    """

    states: np.ndarray
    actions: np.ndarray
    torques: np.ndarray
    diverged: np.ndarray
    diverged_at: np.ndarray

    @property
    def n(self):
        return self.states.shape[0]

    @property
    def T(self):
        return self.actions.shape[1]

    def valid(self):
        """Return the rollouts that did not diverge."""
        keep = ~self.diverged
        return Rollouts(self.states[keep], self.actions[keep], self.torques[keep],
                        self.diverged[keep], self.diverged_at[keep])


def check_display(environ=None, platform=None):
    """
    Raise ValueError if the PyBullet GUI cannot open: on Linux, no X or Wayland display.

    PyBullet's own GUI connection on a machine without a display prints 'cannot connect to X
    server' and ends the whole process; this check refuses first, with a message that says what
    to do. ``environ`` and ``platform`` default to the process's (for tests).
    """
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if platform.startswith('linux') and not (environ.get('DISPLAY')
                                             or environ.get('WAYLAND_DISPLAY')):
        raise ValueError('the PyBullet GUI needs a display, and DISPLAY is not set (on a '
                         'machine without a screen: xvfb-run -a <command>)')


class Simulator:
    """
    PyBullet simulation of n copies of a torque-controlled fixed-base robot.

    Use one step at a time (``reset(x)`` then ``step(u)``; x (dx,) and u (du,) for one copy, or
    (n, dx) and (n, du) for n copies), or run whole batches of rollouts with ``rollout``.
    """

    def __init__(self, urdf_path, dt, substeps=1, n_robots=1, gravity=9.81,
                 divergence_bound=math.inf, gui=False, realtime=False, explicit_damping=False,
                 world_size=DEFAULT_WORLD_SIZE, spacing=5.0):
        self._worlds = []
        if not dt > 0:
            raise ValueError('dt must be > 0, got %r' % (dt,))
        if int(substeps) != substeps or substeps < 1:
            raise ValueError('substeps must be an integer >= 1, got %r' % (substeps,))
        if int(n_robots) != n_robots or n_robots < 1:
            raise ValueError('n_robots must be an integer >= 1, got %r' % (n_robots,))
        if not divergence_bound > 0:
            raise ValueError('divergence_bound must be > 0, got %r' % (divergence_bound,))
        if world_size is not None and (int(world_size) != world_size or world_size < 1):
            raise ValueError('world_size must be None or an integer >= 1, got %r'
                             % (world_size,))
        if gui:
            check_display()
        self.model = read_urdf(urdf_path)
        self.dt = float(dt)
        self.substeps = int(substeps)
        self.gravity = float(gravity)
        self.divergence_bound = float(divergence_bound)
        self.limit_tolerance = LIMIT_TOLERANCE if math.isinf(self.divergence_bound) else max(
            LIMIT_TOLERANCE, 1.25 * self.divergence_bound * self.dt / self.substeps)
        self.gui = bool(gui)
        self.realtime = bool(realtime)
        self.explicit_damping = bool(explicit_damping)
        # Only one GUI connection per process: with the GUI every copy goes into one world.
        self.world_size = math.inf if world_size is None or gui else int(world_size)
        self.spacing = float(spacing)
        joints = self.model.joints
        self.joint_names = self.model.joint_names
        self.effort_limits = np.array([j.effort for j in joints])
        self.lower_limits = np.array([j.lower for j in joints])
        self.upper_limits = np.array([j.upper for j in joints])
        self.damping = np.array([j.damping for j in joints])
        self.friction = np.array([j.friction for j in joints])
        if diverged(self.rest_state(), self.divergence_bound):
            raise ValueError('divergence_bound %g is below the rest state %s (each joint at 0 or '
                             'its nearest limit), where diverged copies are put'
                             % (self.divergence_bound, state_text(self.rest_state())))
        self._copies = []  # (client id, body id) of every copy, in order
        self._indices = None  # PyBullet joint indices of the URDF's actuated joints
        self._active = 0
        self.ensure_copies(int(n_robots))
        self.reset(np.broadcast_to(self.rest_state(), (int(n_robots), self.dx)))

    # Shape of the problem -------------------------------------------------------------------

    @property
    def du(self):
        return self.model.n_joints

    @property
    def dx(self):
        return 2 * self.model.n_joints

    @property
    def n_copies(self):
        return len(self._copies)

    def rest_state(self):
        """Return the state with zero velocities and every joint at 0 (clipped into its limits)."""
        return np.concatenate([np.clip(0.0, self.lower_limits, self.upper_limits),
                               np.zeros(self.du)])

    def clip(self, u):
        """Return the torques u clipped to the effort limits."""
        return np.clip(u, -self.effort_limits, self.effort_limits)

    # World management -------------------------------------------------------------------------

    def _new_world(self):
        cid = pybullet.connect(pybullet.GUI if self.gui else pybullet.DIRECT)
        if cid < 0:
            raise RuntimeError('could not connect to PyBullet (a second GUI?)')
        pybullet.setGravity(0.0, 0.0, -self.gravity, physicsClientId=cid)
        pybullet.setPhysicsEngineParameter(fixedTimeStep=self.dt / self.substeps,
                                           numSubSteps=0, physicsClientId=cid)
        self._worlds.append(cid)
        return cid

    def ensure_copies(self, n):
        """Load copies of the robot until there are at least n."""
        flags = pybullet.URDF_USE_INERTIA_FROM_FILE | pybullet.URDF_IGNORE_COLLISION_SHAPES
        while len(self._copies) < n:
            slot = len(self._copies) % self.world_size if self.world_size != math.inf else None
            cid = self._new_world() if slot == 0 or not self._worlds else self._worlds[-1]
            position = (self.spacing * (len(self._copies) if slot is None else slot), 0.0, 0.0)
            body = pybullet.loadURDF(self.model.path, basePosition=position, useFixedBase=True,
                                     flags=flags, physicsClientId=cid)
            n_links = pybullet.getNumJoints(body, physicsClientId=cid)
            names = {pybullet.getJointInfo(body, j, physicsClientId=cid)[1].decode(): j
                     for j in range(n_links)}
            indices = [names[name] for name in self.joint_names]
            if self._indices is None:
                self._indices = indices
            for link in range(-1, n_links):
                pybullet.changeDynamics(body, link, linearDamping=0.0, angularDamping=0.0,
                                        maxJointVelocity=MAX_JOINT_VELOCITY, physicsClientId=cid)
            if self.explicit_damping:
                for j in indices:
                    pybullet.changeDynamics(body, j, jointDamping=0.0, physicsClientId=cid)
            # Disable the default velocity motors (force 0), or keep them as Coulomb friction.
            pybullet.setJointMotorControlArray(body, indices, pybullet.VELOCITY_CONTROL,
                                               targetVelocities=[0.0] * self.du,
                                               forces=self.friction.tolist(),
                                               physicsClientId=cid)
            self._copies.append((cid, body))

    def close(self):
        """Disconnect from PyBullet."""
        for cid in self._worlds:
            if pybullet.isConnected(physicsClientId=cid):
                pybullet.disconnect(physicsClientId=cid)
        self._worlds = []
        self._copies = []
        self._active = 0

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: B902 (at interpreter exit pybullet may already be gone)
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # One step at a time -----------------------------------------------------------------------

    def check_states(self, x):
        """
        Return x as an (n, dx) float array.

        ValueError if it holds NaN, has a component beyond the divergence bound or a position
        more than ``limit_tolerance`` outside its joint limits.
        """
        x = np.atleast_2d(np.asarray(x, dtype=float))
        if x.ndim != 2 or x.shape[1] != self.dx:
            raise ValueError('state x has shape %s, expected (%d,) or (n, %d)'
                             % (x.shape, self.dx, self.dx))
        if not np.isfinite(x).all():
            raise ValueError('state x holds NaN or inf')
        if np.abs(x).max(initial=0.0) > self.divergence_bound:
            raise ValueError('state x has a component beyond the divergence bound %g: %s'
                             % (self.divergence_bound, state_text(x)))
        q = x[:, :self.du]
        outside = ((q < self.lower_limits - self.limit_tolerance)
                   | (q > self.upper_limits + self.limit_tolerance))
        if outside.any():
            row, j = np.argwhere(outside)[0]
            raise ValueError('state x: position of %s (%.4g) is outside its joint limits '
                             '[%.4g, %.4g]' % (self.joint_names[j], q[row, j],
                                               self.lower_limits[j], self.upper_limits[j]))
        return x

    def reset(self, x):
        """Set the state of the first n copies (x (dx,) or (n, dx)); return the state read back."""
        single = np.ndim(x) == 1
        x = self.check_states(x)
        if not self._worlds:
            raise ValueError('the simulator is closed')
        self.ensure_copies(x.shape[0])
        self._set_states(np.arange(x.shape[0]), x)
        self._active = x.shape[0]
        state = self._read(self._active)
        return state[0] if single else state

    def step(self, u):
        """
        Apply the torques u (clipped) for one task step dt and return the next state.

        u is (du,) for one copy or (n, du) for the n copies set by the last reset. Raises
        DivergenceError if a state becomes NaN or leaves the divergence bound.
        """
        single = np.ndim(u) == 1
        u = np.atleast_2d(np.asarray(u, dtype=float))
        if u.shape != (self._active, self.du):
            raise ValueError('torque u has shape %s, expected (%d,) or (%d, %d) for the %d copies '
                             'set by reset' % (np.shape(u), self.du, self._active, self.du,
                                               self._active))
        if not np.isfinite(u).all():
            raise ValueError('torque u holds NaN or inf')
        x = self._advance(self.clip(u))
        bad = self._diverged(x)
        if bad.any():
            i = int(np.argmax(bad))
            raise DivergenceError('simulation diverged: copy %d reached state %s (bound %g)'
                                  % (i, state_text(x[i]),
                                     self.divergence_bound), x)
        return x[0] if single else x

    # Batched rollouts -------------------------------------------------------------------------

    def rollout(self, policy, x0, rng=None, horizon=None, noise=True, on_divergence='flag'):
        """
        Simulate one rollout per initial state, all side by side, and return Rollouts.

        policy is a time-varying linear-Gaussian policy (any object with K (T, du, dx),
        k (T, du), cov (T, du, du): u_t ~ N(K_t x_t + k_t, cov_t); noise=False uses the mean) or a
        callable policy(t, x_batch (N, dx)) -> u_batch (N, du), which then needs ``horizon``.
        x0 (N, dx) are the initial states; rng a numpy Generator or int seed, the only source of
        randomness (equal seeds give equal rollouts). on_divergence is 'flag' (default) or
        'raise' (see the module docstring).
        """
        if on_divergence not in ('flag', 'raise'):
            raise ValueError("on_divergence must be 'flag' or 'raise', got %r" % (on_divergence,))
        x0 = self.check_states(x0)
        n = x0.shape[0]
        act, T = action_function(policy, n, self.dx, self.du, horizon, noise, rng)
        states = np.full((n, T + 1, self.dx), np.nan)
        actions = np.full((n, T, self.du), np.nan)
        torques = np.full((n, T, self.du), np.nan)
        diverged_at = np.full(n, -1)
        x = self.reset(x0)
        states[:, 0] = x
        alive = np.ones(n, dtype=bool)
        for t in range(T):
            u = act(t, x)
            if not np.isfinite(u[alive]).all():
                row = int(np.argwhere(~np.isfinite(u) & alive[:, None])[0, 0])
                raise ValueError('policy returned NaN or inf for rollout %d at step %d' % (row, t))
            tau = self.clip(u)
            tau[~alive] = 0.0
            actions[alive, t] = u[alive]
            torques[alive, t] = tau[alive]
            x = self._advance(tau)
            bad = self._diverged(x) & alive
            if bad.any():
                if on_divergence == 'raise':
                    i = int(np.argmax(bad))
                    raise DivergenceError(
                        'rollout %d diverged at step %d: state %s (bound %g)'
                        % (i, t + 1, state_text(x[i]), self.divergence_bound),
                        x.copy())
                rows = np.flatnonzero(bad)
                diverged_at[rows] = t + 1
                actions[rows, t] = np.nan
                torques[rows, t] = np.nan
                alive &= ~bad
                rest = np.broadcast_to(self.rest_state(), (rows.size, self.dx))
                self._set_states(rows, rest)
                x[rows] = rest
            states[alive, t + 1] = x[alive]
        return Rollouts(states, actions, torques, diverged_at >= 0, diverged_at)

    # PyBullet plumbing ------------------------------------------------------------------------

    def _set_states(self, rows, x):
        du, indices = self.du, self._indices
        for row, state in zip(rows, x):
            cid, body = self._copies[row]
            pybullet.resetJointStatesMultiDof(
                body, indices, targetValues=[[v] for v in state[:du]],
                targetVelocities=[[v] for v in state[du:]], physicsClientId=cid)

    def _read(self, n):
        indices, get = self._indices, pybullet.getJointStates
        rows = []
        for cid, body in self._copies[:n]:
            joint_states = get(body, indices, physicsClientId=cid)
            rows.append([s[0] for s in joint_states] + [s[1] for s in joint_states])
        return np.array(rows, dtype=float).reshape(n, self.dx)

    def _advance(self, tau):
        """Apply tau (n, du) to the first n copies for one task step; return their states."""
        n, indices, mode = tau.shape[0], self._indices, pybullet.TORQUE_CONTROL
        command, step = pybullet.setJointMotorControlArray, pybullet.stepSimulation
        copies = self._copies[:n]
        worlds = list(dict.fromkeys(cid for cid, _ in copies))
        start = time.monotonic()
        for _ in range(self.substeps):
            applied = tau
            if self.explicit_damping:
                applied = tau - self.damping * self._read(n)[:, self.du:]
            for (cid, body), forces in zip(copies, applied.tolist()):
                command(body, indices, mode, forces=forces, physicsClientId=cid)
            for cid in worlds:
                step(physicsClientId=cid)
        if self.realtime:
            time.sleep(max(0.0, self.dt - (time.monotonic() - start)))
        return self._read(n)

    def _diverged(self, x):
        return diverged(x, self.divergence_bound)
