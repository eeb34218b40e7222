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
The controller node: runs the current time-varying linear-Gaussian policy at a fixed rate.

Every tick of a timer on the node clock (sim time with use_sim_time, so it follows ``/clock``)
it reads the newest ``joint_states``, samples u_t ~ N(K_t x + k_t, cov_t) (the mean with
``explore: false``), clips every torque to the effort limits, publishes the torques on
``effort_controller/commands`` (std_msgs/Float64MultiArray in joint order, the ros2_control
forward_command_controller convention) and, on ``ps_control/transitions``, the state it used,
the policy's action u_t before clipping and the torque it sent (ps_control.nodes.messages). The
learner fits its dynamics model to the policy's actions (ps_control.learning explains why).

Episodes: ``ps_control/start_episode`` (std_srvs/Trigger) arms the controller; the next tick is
step 0 and the episode ends after the policy's T steps with a terminal tick that reports x_T.
The response message reads ``episode=<n> policy=<digest>`` so the learner knows which episode
number its transitions carry and that the controller has its newest policy. Out of lockstep a
start is refused while the joint states are missing, stale or rejected (a robot's driver not up
yet); the learner asks again until its ``service_timeout``. While another node also publishes
commands, joint states or policies on the controller's topics (a second system in the same
namespace and ROS domain, whose commands would interleave with this one's on the robot; checked
every SHARING_WATCH_SECONDS), the controller logs an error once, commands zero torque (ticks of
an episode in progress are fallbacks) and refuses to start episodes.
``ps_control/stop_episode`` aborts. Policies arrive on ``ps_control/policy`` (transient local);
one of the wrong shape or with NaN is rejected with an error and the old one kept; a policy
arriving during an episode takes over at the next episode.

Safety: when the joint states are stale (none arrived for ``stale_periods`` control periods of
the node clock; the header stamps are compared only in lockstep), contain NaN or lack one of the
joints, or the policy gives a non-finite action, the controller commands zero torque and says
so in the log (a joint-state fault once, and once when the states are valid again). The effort
limits must be finite, positive and no larger than the URDF's. Out of lockstep, a warning says
when the node clock stands still (use_sim_time without ``/clock``), since nothing is commanded
then. Between episodes it commands the hold torque
``-fallback_damping * qdot`` (zero by default): a forward command controller keeps applying the
last command it got, so falling silent is not safe on hardware. For the same reason, out of
lockstep, the node sends zero torque once when it is destroyed (Ctrl-C or SIGTERM to
``controller_node``, ``ros2 launch`` stopping, the end of ``ps-control run --real-time``) and
waits up to STOP_ACK_SECONDS for its subscribers to acknowledge it (about 3 s across
processes). A killed process (SIGKILL, a crash in native code) cannot; the driver's own command
time-out must cover that.

Lockstep (``lockstep: true``, with the simulator in lockstep): a tick waits for the joint state
stamped at the tick time (the simulator publishes state and clock together, in either order;
if that state is rejected, the tick is a fallback), and between episodes the controller sends
nothing, so the simulator, which steps once per command, waits. The result is deterministic and
runs as fast as the processes allow.
"""

from collections import deque
import time

import numpy as np
from ps_control.nodes import common
from ps_control.nodes.messages import fill_transition
from ps_control.nodes.messages import joint_state_to_x
from ps_control.nodes.messages import policy_digest
from ps_control.nodes.messages import policy_from_msg
from ps_control.nodes.messages import stamp_to_ns
from ps_control.nodes.messages import STATUS_FALLBACK
from ps_control.nodes.messages import STATUS_OK
from ps_control.nodes.messages import transition_to_msg
from ps_control.sim.policies import action_function
from ps_control.sim.urdf import repeated_names
from rclpy.clock import Clock
from rclpy.clock import ClockType
from rclpy.duration import Duration
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from std_srvs.srv import Trigger


IDLE, ARMED, RUNNING = 'idle', 'armed', 'running'
CLOCK_WATCH_SECONDS = 2.0  # wall seconds without a tick before the controller warns
# wall seconds between checks for other publishers on its topics (a check takes about 0.1 ms)
SHARING_WATCH_SECONDS = 0.5
SHARED = 'shared'  # the fault of a controller whose topics another node publishes on
# wall seconds to wait for the zero torque sent on exit to be acknowledged: Fast DDS acknowledges
# on its writer heartbeat, every 3 s by default (measured: exit 3.3 s after SIGINT), and ros2
# launch escalates to SIGTERM after 5 s
STOP_ACK_SECONDS = 4.0


class ControllerNode(Node):
    """Fixed-rate linear-Gaussian policy execution with torque clipping and safe fallbacks."""

    def __init__(self, **kwargs):
        super().__init__('controller', **kwargs)
        task = common.declare_task(self)
        self.joints = list(common.declare(
            self, 'joints', list(task.joint_names),
            "The robot's names of the task's joints, in the URDF's order (default: the URDF's "
            'names).'))
        limits = common.declare(
            self, 'effort_limits', [float(v) for v in task.effort_limits],
            'Torque limit of each joint (N m); every command is clipped to it. At most the '
            "URDF's limit of the joint (default: the URDF's).")
        self.limits = checked_effort_limits(limits, self.joints, task)
        self.du = len(self.joints)
        self.dx = 2 * self.du
        self.rate = common.declare(
            self, 'control_rate', 1.0 / float(task.dt),
            'Control rate (Hz) on the node clock; one policy time step per tick.',
            low=1e-3, high=1e5)
        self.period_ns = int(round(1e9 / self.rate))
        self.lockstep = common.declare(
            self, 'lockstep', False,
            'Simulation in lockstep: a tick waits for the state stamped at the tick time and '
            'nothing is sent between episodes.')
        damping = common.declare(
            self, 'fallback_damping', 0.0,
            'Hold torque between episodes: -fallback_damping * qdot (N m s / rad); faults '
            'always command zero torque.', low=0.0)
        self.damping = float(damping)
        self.stale_ns = int(common.declare(
            self, 'stale_periods', 2.0,
            'Joint states older than this many control periods are stale.', low=0.0)
            * self.period_ns)
        self.explore = common.declare(
            self, 'explore', True,
            'Sample u ~ N(K x + k, cov) (true) or apply the mean K x + k (false).')
        seed = common.declare(self, 'seed', 0, 'Seed of the exploration noise.', low=0)
        self.rng = np.random.default_rng(seed)
        self.realtime_priority = common.declare(
            self, 'realtime_priority', 0,
            'Standalone controller process: run its executor thread SCHED_FIFO at this priority '
            '(1-99; 0 = normal scheduling). Needs CAP_SYS_NICE or an rtprio limit; ignored '
            'with a warning when not permitted.', low=0, high=99)

        self.policy = None
        self.digest = ''
        self.next_policy = None
        self.act = None
        self.mode = IDLE
        self.episode = 0
        self.step = 0
        self.state = None          # newest valid state (dx,)
        self.state_stamp = -1      # its header stamp (ns)
        self.state_received = -1   # node-clock time it arrived (ns)
        self.state_error = None    # why the newest joint state message was rejected
        self.fault = None          # the fault last reported in the log
        self.pending = None        # lockstep: tick time waiting for its state
        self.last_tick = None
        self.tick_wall = deque(maxlen=100000)  # perf_counter of every tick (bench/diagnostics)
        self.clock_warned = False
        self.exit_command_sent = False  # the zero torque of send_exit_command

        # one command and one transition message, refilled every tick (publish serializes them)
        self.command_msg = Float64MultiArray()
        self.transition_msg = transition_to_msg(0, 0, STATUS_OK, np.zeros(self.dx),
                                                np.zeros(self.du), np.zeros(self.du))
        self.command_pub = self.create_publisher(Float64MultiArray, common.COMMANDS,
                                                 common.COMMAND_QOS)
        self.transition_pub = self.create_publisher(Float64MultiArray, common.TRANSITIONS,
                                                    common.TRANSITIONS_QOS)
        self.state_sub = self.create_subscription(JointState, common.JOINT_STATES,
                                                  self._on_joint_state, common.STATE_QOS)
        self.policy_sub = self.create_subscription(Float64MultiArray, common.POLICY,
                                                   self._on_policy, common.LATCHED_QOS)
        self.create_service(Trigger, common.START_EPISODE, self._on_start)
        self.create_service(Trigger, common.STOP_EPISODE, self._on_stop)
        self.timer = self.create_timer(self.period_ns * 1e-9, self._on_timer)
        steady = Clock(clock_type=ClockType.STEADY_TIME)
        if not self.lockstep:  # in lockstep the clock rightly stands still between episodes
            self.create_timer(CLOCK_WATCH_SECONDS, self._watch_clock, clock=steady)
        self.sharing = None  # what _watch_sharing found shared last: a fault while not None
        self.create_timer(SHARING_WATCH_SECONDS, self._watch_sharing, clock=steady)
        self.get_logger().info(
            'controller for joints %s at %.1f Hz%s, effort limits %s'
            % (self.joints, self.rate, ' (lockstep)' if self.lockstep else '',
               self.limits.tolist()))

    # Inputs -----------------------------------------------------------------------------------

    def _on_policy(self, msg):
        try:
            policy = policy_from_msg(msg, self.dx, self.du)
        except ValueError as error:
            kept = 'the previous policy %s' % self.digest if self.policy is not None else 'none'
            self.get_logger().error('rejected policy: %s; keeping %s' % (error, kept))
            return
        if self.mode == RUNNING:
            self.next_policy = policy
            self.get_logger().info('policy %s received; it takes over at the next episode'
                                   % policy_digest(policy))
        else:
            self._set_policy(policy)

    def _set_policy(self, policy):
        self.policy = policy
        self.digest = policy_digest(policy)
        self.next_policy = None
        self.act, _ = action_function(policy, 1, self.dx, self.du, None, self.explore,
                                      self.rng)
        self.get_logger().info('policy %s with %d steps' % (self.digest, policy.T))

    def _on_joint_state(self, msg):
        stamp = stamp_to_ns(msg.header.stamp)
        now = self.get_clock().now().nanoseconds
        try:
            x = joint_state_to_x(msg, self.joints)
        except ValueError as error:
            self.state_error = str(error)
        else:
            self.state_error = None
            self.state = x
            self.state_stamp = stamp
            self.state_received = now
        if self.pending is not None and stamp >= self.pending:
            # the state the waiting lockstep tick asked for: act on it, or fall back if it was
            # rejected (waiting on would leave the simulator, which steps once per command,
            # waiting for ever)
            self.pending = None
            fault = self._check_state(now)
            self._act(fault is None, fault)

    def _on_start(self, request, response):
        if self.policy is None and self.next_policy is None:
            response.success = False
            response.message = 'no policy received yet on %s' % common.POLICY
            return response
        if self.mode == RUNNING:
            response.success = False
            response.message = 'episode %d is running (step %d)' % (self.episode, self.step)
            return response
        sharing = self._shared_topics()
        if sharing is not None:
            response.success = False
            response.message = 'not started: %s' % sharing
            return response
        fault = None if self.lockstep else self._check_state(self.get_clock().now().nanoseconds)
        if fault is not None:  # a robot whose joint states are not up (yet): not started
            response.success = False  # (in lockstep the state comes with the reset, after this)
            response.message = 'not started: %s' % fault[1]
            return response
        if self.next_policy is not None:
            self._set_policy(self.next_policy)
        self.episode += 1
        self.mode = ARMED
        response.success = True
        response.message = 'episode=%d policy=%s' % (self.episode, self.digest)
        return response

    def _on_stop(self, request, response):
        response.success = self.mode != IDLE
        response.message = ('episode %d stopped at step %d' % (self.episode, self.step)
                            if response.success else 'no episode running')
        self.mode = IDLE
        self.pending = None
        return response

    # The control loop -------------------------------------------------------------------------

    def _watch_clock(self):
        """Warn once when no tick came for CLOCK_WATCH_SECONDS of wall time (no /clock?)."""
        silent = not self.tick_wall or time.perf_counter() - self.tick_wall[-1] > \
            CLOCK_WATCH_SECONDS
        if silent and not self.clock_warned:
            sim_time = self.get_parameter('use_sim_time').value
            self.get_logger().warning(
                'no control tick for %.0f s of wall time: the node clock stands still%s; '
                'nothing is commanded' % (CLOCK_WATCH_SECONDS, (
                    ' (use_sim_time is true and nothing publishes /clock? on hardware set '
                    'use_sim_time false)' if sim_time else '')))
        elif not silent and self.clock_warned:
            self.get_logger().info('control ticks again')
        self.clock_warned = silent

    def _shared_topics(self):
        """
        Return which of the controller's topics other nodes also publish on, or None.

        The commands, the joint states and the policies each have one publisher in a system (this
        controller, the simulator or robot driver, the learner). More means a second system in
        the same namespace and ROS domain, or a simulator beside a robot driver: commands from
        two controllers would interleave on the robot, and a state or policy could come from the
        other system.
        """
        shared = []
        for what, topic in (('commands', self.command_pub.topic_name),
                            ('joint states', self.state_sub.topic_name),
                            ('policies', self.policy_sub.topic_name)):
            publishers = sorted(
                '%s/%s' % (info.node_namespace.rstrip('/'), info.node_name)
                for info in self.get_publishers_info_by_topic(topic))
            if len(publishers) > 1:
                shared.append('%d publishers of %s on %s, of the nodes %s'
                              % (len(publishers), what, topic, ', '.join(publishers)))
        if not shared:
            return None
        return ('%s; run one system per namespace and ROS domain (a process killed a moment ago '
                'stays in the graph until its DDS lease runs out, 20 s by default)'
                % '; '.join(shared))

    def _watch_sharing(self):
        """Check the topics for other publishers; log an error when they appear, info after."""
        sharing = self._shared_topics()
        if sharing != self.sharing:
            if sharing is not None:
                self.get_logger().error('%s; commanding zero torque, and no episode starts until '
                                        'it is alone' % sharing)
            else:
                self.get_logger().info("no other publishers on the controller's topics now; "
                                       'resuming control')
        self.sharing = sharing

    def _on_timer(self):
        now = self.get_clock().now().nanoseconds
        self.tick_wall.append(time.perf_counter())
        self.last_tick = now
        fault = self._check_state(now)
        if fault is None and self.lockstep and self.state_stamp < now:
            self.pending = now  # act when the state stamped `now` arrives
            return
        self.pending = None
        self._act(fault is None, fault)

    def _check_state(self, now):
        """Return None if the newest joint state is usable, else (kind, explanation)."""
        if self.sharing is not None:  # its topics are shared: commands would interleave
            return SHARED, self.sharing
        if self.state_error is not None:
            return 'rejected', 'joint states rejected: %s' % self.state_error
        if self.state is None:
            return 'missing', 'no joint states received on %s yet' % common.JOINT_STATES
        if now - self.state_received > self.stale_ns:
            return 'stale', ('joint states are stale (newest is %.3f s old, limit %.3f s)'
                             % ((now - self.state_received) * 1e-9, self.stale_ns * 1e-9))
        return None

    def _report(self, fault):
        """
        Log a fault once when it appears (or changes kind) and once when it clears.

        Shared topics are logged by ``_watch_sharing``, also between episodes in lockstep.
        """
        kind = None if fault is None else fault[0]
        if kind == self.fault:
            return
        if SHARED in (kind, self.fault):
            pass
        elif fault is None:
            self.get_logger().info('joint states valid again; resuming control')
        else:
            self.get_logger().warning('%s; commanding zero torque' % fault[1])
        self.fault = kind

    def _act(self, valid, fault=None):
        self._report(fault)
        if self.mode == ARMED:
            self.mode = RUNNING
            self.step = 0
        if self.mode != RUNNING:
            if not self.lockstep:
                self._publish(self._hold(valid))
            return
        x = self.state if valid else np.full(self.dx, np.nan)
        if self.step >= self.policy.T:
            # terminal tick: report x_T; in lockstep nothing is applied
            u = np.full(self.du, np.nan) if self.lockstep else self._hold(valid)
            torque = u if self.lockstep else self._publish(u)
            status = STATUS_OK if valid else STATUS_FALLBACK
            self._publish_transition(status, x, u, torque)
            self.mode = IDLE
            if self.next_policy is not None:
                self._set_policy(self.next_policy)
            return
        if valid:
            with np.errstate(over='ignore', invalid='ignore'):  # checked just below
                action = self.act(self.step, x[None])[0]
            status = STATUS_OK
            if not np.all(np.isfinite(action)):
                self.get_logger().error(  # at most once a second: it may recur every tick
                    'policy %s gave a non-finite action at step %d of episode %d (state %s); '
                    'commanding zero torque' % (self.digest, self.step, self.episode,
                                                np.round(x, 4).tolist()),
                    throttle_duration_sec=1.0)
                valid, action, status = False, np.zeros(self.du), STATUS_FALLBACK
        else:
            action = np.zeros(self.du)
            status = STATUS_FALLBACK
        torque = self._publish(action)
        self._publish_transition(status, x, action, torque)
        self.step += 1

    def _hold(self, valid):
        """Return the hold torque -fallback_damping qdot (unclipped); zero with no valid state."""
        if valid and self.damping > 0.0:
            return -self.damping * self.state[self.du:]
        return np.zeros(self.du)

    def send_exit_command(self):
        """
        Out of lockstep, send the zero torque of the node's exit (once; destroy_node waits).

        A process with several controllers sends every one's first, so that their
        acknowledgements (about 3 s each across processes) are waited for together.
        """
        if not self.lockstep and not self.exit_command_sent and self.context.ok():
            self._publish(np.zeros(self.du))
            self.exit_command_sent = True

    def destroy_node(self):
        """Out of lockstep, send zero torque once and wait for it to be acknowledged; destroy."""
        if not self.lockstep and self.context.ok():
            self.send_exit_command()
            try:
                if not self.command_pub.wait_for_all_acked(Duration(seconds=STOP_ACK_SECONDS)):
                    self.get_logger().warning('the zero torque sent on exit was not '
                                              'acknowledged within %g s' % STOP_ACK_SECONDS)
            except KeyboardInterrupt:  # a second Ctrl-C: sent, not waited for
                pass
        super().destroy_node()

    def _publish(self, u):
        """
        Send the effort command u clipped to the effort limits; return what was sent.

        Every command leaves through here, so the limits hold whatever a caller computed. A
        non-finite u (the policy's action is checked before, and the damping is a finite
        parameter: a last guard only) sends zero torque.
        """
        u = (np.clip(u, -self.limits, self.limits) if np.all(np.isfinite(u))
             else np.zeros(self.du))
        self.command_msg.data = u.tolist()
        self.command_pub.publish(self.command_msg)
        return u

    def _publish_transition(self, status, x, u, torque):
        self.transition_pub.publish(fill_transition(self.transition_msg, self.episode,
                                                    self.step, status, x, u, torque))


def checked_effort_limits(limits, joints, task):
    """
    Return the effort limits (du,) as an array after checking joints and limits (ValueError).

    ``joints`` are the robot's names of the task's joints, in the URDF's order (the policy's):
    one per URDF joint, no name twice, and a URDF joint name only at its own position (a robot
    may name its joints otherwise, e.g. with a prefix). Each limit must be finite and > 0 and
    at most the effort limit of the URDF joint at its position: the policy was learnt under
    those limits, and the robot's are no larger.
    """
    joints = list(joints)
    urdf_joints = list(task.joint_names)
    if len(joints) != len(urdf_joints):
        raise ValueError('joints: %d given, the task has %d (%s)'
                         % (len(joints), len(urdf_joints), ', '.join(urdf_joints)))
    if not all(isinstance(joint, str) and joint.strip() for joint in joints):
        raise ValueError('joints: %s holds an empty name' % joints)
    repeated = repeated_names(joints)
    if repeated:
        raise ValueError('joints: %s listed more than once' % ', '.join(repeated))
    for position, joint in enumerate(joints):
        if joint in urdf_joints and urdf_joints.index(joint) != position:
            raise ValueError("joints: %s is at position %d, the URDF's joint at %d: give the "
                             "joints in the URDF's order (%s)"
                             % (joint, position, urdf_joints.index(joint),
                                ', '.join(urdf_joints)))
    limits = np.asarray(limits, dtype=float)
    if limits.shape != (len(joints),):
        raise ValueError('effort_limits: %d joints but %d limits' % (len(joints), limits.size))
    urdf_limits = np.asarray(task.effort_limits, dtype=float)
    for joint, urdf_joint, limit, urdf_limit in zip(joints, urdf_joints, limits, urdf_limits):
        if not (np.isfinite(limit) and limit > 0):
            raise ValueError('effort_limits: joint %s has limit %r; it must be finite and > 0'
                             % (joint, float(limit)))
        if limit > urdf_limit * (1 + 1e-12):
            raise ValueError("effort_limits: joint %s has limit %g, above the URDF's %g%s"
                             % (joint, limit, urdf_limit, '' if joint == urdf_joint
                                else ' (its joint %s)' % urdf_joint))
    return limits


def main(args=None):
    """Run the controller node (SCHED_FIFO if its realtime_priority parameter asks for it)."""
    def setup(node):
        common.set_realtime_priority(node.realtime_priority, node.get_logger())
    return common.run_node(ControllerNode, args, setup, 'controller_node')


if __name__ == '__main__':
    raise SystemExit(main())
