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
The simulator node: the task's PyBullet simulator behind the ros2_control topic interface.

It loads the task's URDF (parameter ``urdf``, default the task's own), publishes
``joint_states`` (sensor_msgs/JointState: names, positions, velocities and the applied efforts),
``/clock`` (rosgraph_msgs/Clock, the simulated time) and the URDF on ``robot_description``
(std_msgs/String, transient local, for RViz and robot_state_publisher). It subscribes to
``effort_controller/commands`` (std_msgs/Float64MultiArray, one torque per joint in joint order,
as a ros2_control forward_command_controller with the effort interface); the simulator clips
every torque to the URDF effort limits. ``ps_control/reset`` (std_srvs/Trigger) samples the
task's initial state.

Two modes:

* lockstep (``lockstep: true``): one step per command received; nothing else advances the
  clock. Deterministic and as fast as the processes allow. A reset also takes one step of
  simulated time, so that the state it publishes carries a stamp of its own. Idle for
  REPEAT_SECONDS of wall time, it sends the unchanged state and time again: a subscriber that
  matched after the last publish (a controller just started in another process) gets them.
  Without that, two-process test runs on a loaded machine lost their first episode to the 60 s
  episode time-out in 3 of 12 and 4 of 10 runs; with it, in 0 of 10.
* real time: a wall-clock timer steps the simulation every dt / real_time_factor with the newest
  command (zero torque when none came within ``command_timeout`` seconds).

A step that diverges (a state beyond the task's ``divergence_bound``, or NaN) is logged, and
the state it reached is published at every tick until the next reset, so that the controller and
the learner see it (the learner does not fit such an episode); the robot waits at rest.

The physics is ps_control.sim's Simulator, the same class the batch trainer uses.
"""

import time

import numpy as np
from ps_control.nodes import common
from ps_control.nodes.messages import fill_joint_state
from ps_control.nodes.messages import joint_state_to_msg
from ps_control.sim.simulator import DivergenceError
from rclpy.clock import Clock
from rclpy.clock import ClockType
from rclpy.node import Node
from rosgraph_msgs.msg import Clock as ClockMsg
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from std_msgs.msg import String
from std_srvs.srv import Trigger

# lockstep: wall seconds without a publish after which the state and time are sent again
REPEAT_SECONDS = 0.5


class SimulatorNode(Node):
    """PyBullet simulation stepped by effort commands, in lockstep or in real time."""

    def __init__(self, **kwargs):
        super().__init__('simulator', **kwargs)
        self.task = common.declare_task(self)
        urdf = common.declare(self, 'urdf', '',
                              'URDF file to simulate (empty: the task URDF).')
        self.lockstep = common.declare(
            self, 'lockstep', False,
            'Step once per command received (deterministic, faster than real time) instead of '
            'at real time.')
        self.rtf = common.declare(self, 'real_time_factor', 1.0,
                                  'Real-time mode: simulated seconds per wall second.',
                                  low=1e-3, high=1e3)
        self.command_timeout = common.declare(
            self, 'command_timeout', 0.5,
            'Real-time mode: apply zero torque when the newest command is older (s).', low=0.0)
        self.publish_clock = common.declare(self, 'publish_clock', True,
                                            'Publish the simulated time on /clock.')
        seed = common.declare(self, 'seed', 0, 'Seed of the initial-state sampling.', low=0)
        self.rng = np.random.default_rng(seed)
        gui = common.declare(self, 'gui', False,
                             'Show the robot in the PyBullet GUI for a person to watch (needs a '
                             'display; one GUI per process).')

        self.sim = common.make_simulator(self.task, urdf or None, gui=gui)
        self.joints = list(self.sim.joint_names)
        self.dt_ns = int(round(self.sim.dt * 1e9))
        self.now_ns = 0
        self.steps = 0
        self.effort = np.zeros(self.sim.du)
        self.command = np.zeros(self.sim.du)
        self.command_wall = -np.inf
        self.command_error = None
        self.x = self.sim.reset(self.sim.rest_state())
        self.diverged = None  # the state a diverged step reached, held until the next reset

        # the joint state and clock messages, refilled at every step (publish serializes them)
        self.clock_msg = ClockMsg()
        self.state_msg = joint_state_to_msg(self.clock_msg.clock, self.joints, self.x,
                                            self.effort)
        self.state_pub = self.create_publisher(JointState, common.JOINT_STATES, common.STATE_QOS)
        self.clock_pub = self.create_publisher(ClockMsg, common.CLOCK, common.STATE_QOS)
        self.description_pub = self.create_publisher(String, common.ROBOT_DESCRIPTION,
                                                     common.LATCHED_QOS)
        with open(self.sim.model.path) as stream:
            self.description_pub.publish(String(data=stream.read()))
        self.create_subscription(Float64MultiArray, common.COMMANDS, self._on_command,
                                 common.COMMAND_QOS)
        self.create_service(Trigger, common.RESET, self._on_reset)
        wall = Clock(clock_type=ClockType.STEADY_TIME)
        self.published_wall = time.monotonic()
        if not self.lockstep:
            self.timer = self.create_timer(self.sim.dt / self.rtf, self._on_timer, clock=wall)
        else:
            self.timer = self.create_timer(REPEAT_SECONDS, self._repeat_when_idle, clock=wall)
        self._publish()
        self.get_logger().info('simulating %s (%s), dt %.4f s, %s'
                               % (self.sim.model.path, ', '.join(self.joints), self.sim.dt,
                                  'lockstep' if self.lockstep else
                                  'real time x%.3g' % self.rtf))

    def _on_command(self, msg):
        u = np.array(msg.data, dtype=float)
        error = None
        if u.shape != (self.sim.du,):
            error = ('command has %d values, expected %d (one per joint: %s)'
                     % (u.size, self.sim.du, ', '.join(self.joints)))
        elif not np.isfinite(u).all():
            error = 'command holds NaN or inf: %s' % u.tolist()
        if error is not None:
            if error != self.command_error:
                self.get_logger().error('rejected %s; %s' % (
                    error, 'not stepping' if self.lockstep else 'applying zero torque'))
            self.command_error = error
            self.command_wall = -np.inf
            return
        self.command_error = None
        if self.lockstep:
            self._step(u)
        else:
            self.command = u
            self.command_wall = time.monotonic()

    def _repeat_when_idle(self):
        """
        Lockstep: publish the unchanged state and time again after REPEAT_SECONDS without one.

        Nothing steps and the time stays; but a controller whose /clock or joint_states
        subscription matched after the last publish (other processes, just started) gets them
        now, instead of waiting for a step that waits for its command.
        """
        if time.monotonic() - self.published_wall >= REPEAT_SECONDS:
            self._publish()

    def _on_timer(self):
        fresh = time.monotonic() - self.command_wall <= self.command_timeout
        self._step(self.command if fresh else np.zeros(self.sim.du))

    def _step(self, u):
        self.effort = self.sim.clip(u)
        if self.diverged is not None:  # no physics until the next reset: keep reporting it
            self.x = self.diverged
        else:
            try:
                self.x = self.sim.step(self.effort)
            except DivergenceError as error:
                # the state it reached is what the learner must see (every tick, so that no
                # controller misses it); the robot itself waits at rest for the reset
                self.get_logger().error('%s; holding that state until the next reset' % error)
                self.sim.reset(self.sim.rest_state())
                self.x = self.diverged = error.states[0]
        self.steps += 1
        self.now_ns += self.dt_ns
        self._publish()

    def _on_reset(self, request, response):
        try:
            x0 = np.asarray(self.task.sample_initial_states(1, self.rng), dtype=float)[0]
            self.x = self.sim.reset(x0)
            self.diverged = None
        except ValueError as error:
            response.success = False
            response.message = 'reset failed: %s' % error
            return response
        self.effort = np.zeros(self.sim.du)
        if self.lockstep:
            self.now_ns += self.dt_ns
        self._publish()
        response.success = True
        response.message = 't=%.6f x=%s' % (self.now_ns * 1e-9,
                                            np.array2string(self.x, precision=6,
                                                            separator=','))
        return response

    def _publish(self):
        self.published_wall = time.monotonic()
        stamp = self.clock_msg
        stamp.clock.sec, stamp.clock.nanosec = divmod(self.now_ns, 1000000000)
        self.state_pub.publish(fill_joint_state(self.state_msg, stamp.clock, self.x,
                                                self.effort))
        if self.publish_clock:
            self.clock_pub.publish(stamp)

    def destroy_node(self):
        """Close the PyBullet connection (if construction got that far), then destroy the node."""
        sim = getattr(self, 'sim', None)
        if sim is not None:
            sim.close()
        return super().destroy_node()


def main(args=None):
    """Run the simulator node."""
    return common.run_node(SimulatorNode, args, program='simulator_node')


if __name__ == '__main__':
    raise SystemExit(main())
