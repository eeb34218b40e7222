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
Timing of the ROS 2 nodes: controller jitter, state-to-command latency, lockstep throughput.

* jitter: the controller in real-time mode at 100, 500 and 1000 Hz, running a policy on a
  loopback robot (a helper node that answers every command with a joint state); the tick
  period deviation |dt - 1/rate| (p50, p99, max). Target: p99 <= 0.5 ms at 500 Hz. Measured
  with normal scheduling and, at 500 Hz, with the controller's ``realtime_priority`` (SCHED_FIFO,
  as the standalone controller process applies it; skipped with a note where not permitted).
* latency: lockstep simulation, wall time from the simulator publishing joint_states to it
  receiving the command computed from them (p50, p99, max).
* throughput: lockstep episodes (simulator + controller + a collector of the transitions, as
  the learner), in one process (executor composition) and with the simulator and the
  controller in processes of their own. Target: >= 2,000 steps per second.
* floor: what one rclpy call costs here: publish of a 2-number Float64MultiArray with no
  subscriber, publish + take with a subscriber in the same process, and a publish -> callback
  -> publish round trip with an echo node in another process (the least a lockstep step across
  processes needs).

    python3 bench/bench_nodes.py [--seconds 3] [--steps 2000] [--executor events]
                                 [--realtime-priority 50]

Runs on its own ROS domain (ROS_DOMAIN_ID from the environment, else one derived from the
process id) with localhost-only discovery. Figures depend on the machine and its load.
"""

import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault('ROS_DOMAIN_ID', str(60 + os.getpid() % 40))
os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')

import ps_control  # noqa: E402, F401 (before numpy: one BLAS thread per process)
import numpy as np  # noqa: E402, I100
from ps_control.core import LinearGaussianPolicy  # noqa: E402
from ps_control.nodes import common  # noqa: E402
from ps_control.nodes.controller_node import ControllerNode  # noqa: E402
from ps_control.nodes.messages import joint_state_to_msg  # noqa: E402
from ps_control.nodes.messages import policy_to_msg  # noqa: E402
from ps_control.nodes.messages import transition_from_msg  # noqa: E402
from ps_control.nodes.simulator_node import SimulatorNode  # noqa: E402
import rclpy  # noqa: E402
from rclpy.context import Context  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.task import Future  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402
from std_msgs.msg import Float64MultiArray  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

TASK = 'double_pendulum'
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def overrides(**values):
    return [Parameter(name, value=value) for name, value in values.items()]


def percentiles(values_ms):
    values = np.asarray(values_ms)
    return 'p50 %7.3f ms  p99 %7.3f ms  max %7.3f ms  (n=%d)' % (
        np.percentile(values, 50), np.percentile(values, 99), values.max(), values.size)


def spin_until(executor, predicate, timeout):
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.01)
    return predicate()


def jitter(rate, seconds, kind, priority=0):
    """
    Return the controller's tick period deviations (ms) at ``rate`` Hz in real time.

    priority > 0: the controller's realtime_priority, applied to the spinning thread as the
    controller's main() does; None if that is not permitted here.
    """
    context = Context()
    rclpy.init(context=context)
    executor = common.make_executor(context, kind)
    controller = ControllerNode(context=context, parameter_overrides=overrides(
        task_name=TASK, control_rate=float(rate), explore=True, stale_periods=1e6,
        realtime_priority=priority))
    robot = rclpy.create_node('loopback_robot', context=context)
    joints = controller.joints
    state_pub = robot.create_publisher(JointState, common.JOINT_STATES, common.STATE_QOS)
    x = np.array([0.1, -0.1, 0.0, 0.0])

    def answer(msg):
        state_pub.publish(joint_state_to_msg(robot.get_clock().now().to_msg(), joints, x,
                                             msg.data))
    robot.create_subscription(Float64MultiArray, common.COMMANDS, answer, common.COMMAND_QOS)
    policy_pub = robot.create_publisher(Float64MultiArray, common.POLICY, common.LATCHED_QOS)
    start = robot.create_client(Trigger, common.START_EPISODE)
    for node in (controller, robot):
        executor.add_node(node)
    realtime = common.set_realtime_priority(controller.realtime_priority,
                                            controller.get_logger())
    try:
        if priority and not realtime:
            return None
        steps = int(rate * (seconds + 2))
        policy_pub.publish(policy_to_msg(LinearGaussianPolicy.constant(
            steps, -np.eye(2, 4), np.zeros(2), 0.1)))
        spin_until(executor, lambda: controller.policy is not None and start.service_is_ready(),
                   10.0)
        future = start.call_async(Trigger.Request())
        spin_until(executor, future.done, 10.0)
        spin_until(executor, lambda: False, 0.5)  # warm up
        controller.tick_wall.clear()
        spin_until(executor, lambda: False, seconds)
        ticks = np.array(controller.tick_wall)
    finally:
        if realtime:
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
        executor.shutdown()
        controller.destroy_node()
        robot.destroy_node()
        rclpy.try_shutdown(context=context)
    return np.abs(np.diff(ticks) - 1.0 / rate) * 1e3


def echo(kind):
    """Echo node (the --echo child of floor()): republish every ``ping`` on ``pong``."""
    rclpy.init()
    node = rclpy.create_node('echo')
    pong = node.create_publisher(Float64MultiArray, 'pong', common.COMMAND_QOS)
    node.create_subscription(Float64MultiArray, 'ping', pong.publish, common.COMMAND_QOS)
    executor = common.make_executor(kind=kind)
    executor.add_node(node)
    try:
        common.spin(executor)
    except KeyboardInterrupt:
        pass
    finally:
        common.tear_down(executor, [node])


def floor(kind, calls=5000):
    """
    Return microseconds per call of three rclpy operations.

    (publish with no subscriber, publish + take with the subscriber in this process, round trip
    to an echo node in another process).
    """
    child = subprocess.Popen([sys.executable, os.path.abspath(__file__), '--echo',
                              '--executor', kind], cwd=ROOT, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    context = Context()
    rclpy.init(context=context)
    executor = common.make_executor(context, kind)
    node = rclpy.create_node('floor', context=context)
    msg = Float64MultiArray(data=[0.25, -0.5])
    try:
        alone = node.create_publisher(Float64MultiArray, 'floor_alone', common.COMMAND_QOS)
        began = time.perf_counter()
        for _ in range(calls):
            alone.publish(msg)
        publish = (time.perf_counter() - began) / calls
        local = node.create_publisher(Float64MultiArray, 'floor_local', common.COMMAND_QOS)
        handle = node.create_subscription(Float64MultiArray, 'floor_local', lambda m: None,
                                          common.COMMAND_QOS).handle
        began = time.perf_counter()
        for _ in range(calls):
            local.publish(msg)
            handle.take_message(Float64MultiArray, False)
        publish_take = (time.perf_counter() - began) / calls
        ping = node.create_publisher(Float64MultiArray, 'ping', common.COMMAND_QOS)
        count, done = [0], Future()

        def on_pong(_):
            count[0] += 1
            if count[0] < calls:
                ping.publish(msg)
            else:
                done.set_result(True)
        node.create_subscription(Float64MultiArray, 'pong', on_pong, common.COMMAND_QOS)
        executor.add_node(node)
        assert spin_until(executor, lambda: ping.get_subscription_count() > 0
                          and node.count_publishers('pong') > 0, 20.0), 'no echo node'
        spin_until(executor, lambda: False, 1.0)  # let discovery settle
        began = time.perf_counter()
        ping.publish(msg)
        executor.spin_until_future_complete(done, timeout_sec=60.0)
        assert done.done(), 'echo stopped answering after %d round trips' % count[0]
        round_trip = (time.perf_counter() - began) / calls
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=context)
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    return publish * 1e6, publish_take * 1e6, round_trip * 1e6


class Collector:
    """Learner stand-in: policy, start + reset, counts the transitions of an episode."""

    def __init__(self, context, steps):
        self.node = rclpy.create_node('collector', context=context)
        self.policy_pub = self.node.create_publisher(Float64MultiArray, common.POLICY,
                                                     common.LATCHED_QOS)
        self.start = self.node.create_client(Trigger, common.START_EPISODE)
        self.reset = self.node.create_client(Trigger, common.RESET)
        self.steps = steps
        self.count = 0
        self.done = Future()
        self.node.create_subscription(Float64MultiArray, common.TRANSITIONS, self._on,
                                      common.TRANSITIONS_QOS)
        self.policy_pub.publish(policy_to_msg(LinearGaussianPolicy.constant(
            steps, -np.eye(2, 4), np.zeros(2), 0.5)))

    def _on(self, msg):
        transition_from_msg(msg, 4, 2)
        self.count += 1
        if self.count == self.steps + 1:
            self.done.set_result(True)

    def episode(self, executor):
        """Run one lockstep episode; return its steps per second."""
        assert spin_until(executor, lambda: self.start.service_is_ready()
                          and self.reset.service_is_ready(), 20.0), 'services missing'
        spin_until(executor, lambda: False, 1.0)  # let discovery settle (response channels)
        for _ in range(200):
            future = self.start.call_async(Trigger.Request())
            if spin_until(executor, future.done, 2.0) and future.result().success:
                break
            spin_until(executor, lambda: False, 0.05)  # the policy is still on its way
        began = time.perf_counter()
        future = self.reset.call_async(Trigger.Request())
        executor.spin_until_future_complete(self.done, timeout_sec=120.0)
        assert self.done.done(), 'episode incomplete: %d of %d' % (self.count, self.steps + 1)
        return self.steps / (time.perf_counter() - began)


def one_process(steps, kind):
    """Return (steps per second, latencies ms) of a lockstep episode in one process."""
    context = Context()
    rclpy.init(context=context)
    executor = common.make_executor(context, kind)
    sim = SimulatorNode(context=context, parameter_overrides=overrides(
        task_name=TASK, lockstep=True))
    controller = ControllerNode(context=context, parameter_overrides=overrides(
        task_name=TASK, lockstep=True, use_sim_time=True))
    collector = Collector(context, steps)
    published, latencies = [], []
    publish, on_command = sim._publish, sim._on_command

    def timed_publish():
        published.append(time.perf_counter())
        publish()

    def timed_command(msg):
        latencies.append(time.perf_counter() - published[-1])
        on_command(msg)
    sim._publish = timed_publish
    for subscription in sim.subscriptions:
        if subscription.topic_name.endswith(common.COMMANDS):
            subscription.callback = timed_command
    for node in (sim, controller, collector.node):
        executor.add_node(node)
    try:
        rate = collector.episode(executor)
    finally:
        executor.shutdown()
        for node in (sim, controller, collector.node):
            node.destroy_node()
        rclpy.try_shutdown(context=context)
    return rate, np.array(latencies) * 1e3


def across_processes(steps, kind):
    """Return steps per second with simulator and controller in processes of their own."""
    env = dict(os.environ)
    children = [
        subprocess.Popen([sys.executable, '-m', 'ps_control.nodes.simulator_node', '--ros-args',
                          '-p', 'task_name:=%s' % TASK, '-p', 'lockstep:=true'],
                         cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL),
        subprocess.Popen([sys.executable, '-m', 'ps_control.nodes.controller_node',
                          '--ros-args', '-p', 'task_name:=%s' % TASK, '-p', 'lockstep:=true',
                          '-p', 'use_sim_time:=true'],
                         cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL),
    ]
    context = Context()
    rclpy.init(context=context)
    executor = common.make_executor(context, kind)
    collector = Collector(context, steps)
    executor.add_node(collector.node)
    try:
        return collector.episode(executor)
    finally:
        executor.shutdown()
        collector.node.destroy_node()
        rclpy.try_shutdown(context=context)
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--seconds', type=float, default=3.0, help='per jitter measurement')
    parser.add_argument('--steps', type=int, default=2000, help='steps of a lockstep episode')
    parser.add_argument('--executor', default='events', choices=('events', 'single'))
    parser.add_argument('--realtime-priority', type=int, default=50,
                        help='SCHED_FIFO priority of the extra 500 Hz jitter run (0: skip it)')
    parser.add_argument('--skip-processes', action='store_true')
    parser.add_argument('--echo', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.echo:
        echo(args.executor)
        return 0

    def load():
        return '  [load %.2f]' % os.getloadavg()[0]
    print('ROS_DOMAIN_ID=%s, executor %s, %d cores, load average %.2f'
          % (os.environ['ROS_DOMAIN_ID'], args.executor, os.cpu_count(), os.getloadavg()[0]))
    for rate in (100, 500, 1000):
        print('controller jitter at %4d Hz: %s%s' % (rate, percentiles(
            jitter(rate, args.seconds, args.executor)), load()))
    if args.realtime_priority:
        deviations = jitter(500, args.seconds, args.executor, args.realtime_priority)
        print('controller jitter at  500 Hz, SCHED_FIFO %d: %s%s' % (
            args.realtime_priority, 'not permitted here' if deviations is None
            else percentiles(deviations), load()))
    rate, latencies = one_process(args.steps, args.executor)
    print('state-to-command latency (lockstep, one process): %s%s'
          % (percentiles(latencies), load()))
    print('lockstep throughput, one process:       %8.0f steps/s%s' % (rate, load()))
    if not args.skip_processes:
        print('lockstep throughput, three processes:   %8.0f steps/s%s'
              % (across_processes(args.steps, args.executor), load()))
        print('floor: publish %.1f us (no subscriber), publish + take %.1f us (same process), '
              'round trip to another process %.1f us%s' % (floor(args.executor) + (load(),)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
