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
The simulator node over real DDS: lockstep stepping, reset, robot_description, real time.

Its physics must be the task simulator's own: the same command from the same state gives the
same next state as ps_control.sim used directly.
"""

import os
import subprocess
import sys

from nodes_support import open_graph
from nodes_support import params
import numpy as np
from ps_control.nodes import common
from ps_control.nodes.messages import stamp_to_ns
from ps_control.nodes.simulator_node import SimulatorNode
from ps_control.tasks import load_task
import pytest
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from std_msgs.msg import String
from std_srvs.srv import Trigger


pytestmark = pytest.mark.ros


@pytest.fixture
def graph():
    """Yield a context of its own with an executor, torn down after the test."""
    yield from open_graph()


TASK = 'double_pendulum'


class Bench:
    """A simulator node and a helper node that commands it and records what it publishes."""

    def __init__(self, graph, **sim_params):
        values = {'task_name': TASK, 'lockstep': True, 'seed': 7}
        values.update(sim_params)
        self.graph = graph
        self.sim = graph.add(SimulatorNode(context=graph.context,
                                           parameter_overrides=params(**values)))
        node = graph.node('probe')
        self.states = []
        self.clock = []
        node.create_subscription(JointState, common.JOINT_STATES, self.states.append,
                                 common.STATE_QOS)
        node.create_subscription(Clock, '/clock', lambda m: self.clock.append(
            stamp_to_ns(m.clock)), common.STATE_QOS)
        self.command_pub = node.create_publisher(Float64MultiArray, common.COMMANDS,
                                                 common.COMMAND_QOS)
        self.reset = node.create_client(Trigger, common.RESET)
        self.node = node

    def command(self, values):
        self.command_pub.publish(Float64MultiArray(data=[float(v) for v in values]))

    def connected(self):
        """Spin until the simulator subscribes to the commands."""
        return self.graph.spin_until(lambda: self.command_pub.get_subscription_count() > 0)


def x_of(msg):
    return np.array(list(msg.position) + list(msg.velocity))


def test_lockstep_steps_once_per_command_with_the_task_physics(graph):
    bench = Bench(graph)
    assert bench.connected()
    task = load_task(TASK)
    reference = task.make_simulator()
    dt_ns = int(round(task.dt * 1e9))
    response = graph.call(bench.reset, Trigger.Request())
    assert response.success, response.message
    assert graph.spin_until(lambda: len(bench.states) >= 1)
    start = bench.states[-1]
    assert list(start.name) == list(task.joint_names)
    x = reference.reset(x_of(start))
    t0 = stamp_to_ns(start.header.stamp)
    for i, u in enumerate([[3.0, -2.0], [25.0, 0.5], [-1.0, -40.0]], start=1):
        n = len(bench.states)
        bench.command(u)
        assert graph.spin_until(lambda: len(bench.states) == n + 1)
        msg = bench.states[-1]
        x = reference.step(reference.clip(np.array(u)))
        np.testing.assert_allclose(x_of(msg), x, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(msg.effort, np.clip(u, -10.0, 10.0))
        assert stamp_to_ns(msg.header.stamp) == t0 + i * dt_ns
    assert graph.spin_until(lambda: bench.clock and bench.clock[-1] == t0 + 3 * dt_ns)
    # no command, no step: the state and time may only be sent again, unchanged
    n = len(bench.states)
    graph.spin_for(1.2)  # more than REPEAT_SECONDS
    assert len(bench.states) > n
    for msg in bench.states[n:]:
        assert stamp_to_ns(msg.header.stamp) == t0 + 3 * dt_ns
        np.testing.assert_array_equal(x_of(msg), x_of(bench.states[n - 1]))
    assert bench.clock[-1] == t0 + 3 * dt_ns


def test_reset_samples_the_task_initial_state_and_takes_one_step(graph):
    bench = Bench(graph, seed=11)
    task = load_task(TASK)
    expected = task.sample_initial_states(2, np.random.default_rng(11))
    assert graph.spin_until(lambda: len(bench.clock) >= 1 or bench.reset.service_is_ready())
    for i in range(2):
        n = len(bench.states)
        before = bench.sim.now_ns
        response = graph.call(bench.reset, Trigger.Request())
        assert response.success
        assert graph.spin_until(lambda: len(bench.states) > n)
        np.testing.assert_allclose(x_of(bench.states[-1]), expected[i], atol=1e-9)
        assert stamp_to_ns(bench.states[-1].header.stamp) == before + int(round(task.dt * 1e9))


def test_robot_description_reaches_a_late_subscriber(graph):
    bench = Bench(graph)
    assert bench.connected()
    late = graph.node('late_rviz')
    received = []
    late.create_subscription(String, common.ROBOT_DESCRIPTION, received.append,
                             common.LATCHED_QOS)
    assert graph.spin_until(lambda: received)
    with open(load_task(TASK).urdf_path) as stream:
        assert received[0].data == stream.read()


@pytest.mark.parametrize('command, reason', [
    ([1.0], 'command has 1 values, expected 2'),
    ([1.0, 2.0, 3.0], 'command has 3 values, expected 2'),
    ([1.0, float('nan')], 'NaN'),
    ([float('inf'), 0.0], 'NaN or inf'),
])
def test_malformed_command_is_rejected_without_a_step(graph, capfd, command, reason):
    bench = Bench(graph)
    assert bench.connected()
    graph.spin_for(0.1)
    n = len(bench.states)
    bench.command(command)
    assert graph.spin_until(lambda: reason in capfd.readouterr().err)
    graph.spin_for(0.1)
    assert len(bench.states) == n
    assert bench.sim.steps == 0
    bench.command([0.0, 0.0])  # a good command still works
    assert graph.spin_until(lambda: bench.sim.steps == 1)


def test_real_time_mode_runs_by_itself_and_holds_the_newest_command(graph):
    bench = Bench(graph, lockstep=False, real_time_factor=5.0, command_timeout=100.0)
    assert graph.spin_until(lambda: len(bench.states) >= 3)
    assert all(list(m.effort) == [0.0, 0.0] for m in bench.states)
    stamps = [stamp_to_ns(m.header.stamp) for m in bench.states]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    bench.command([50.0, -3.0])
    assert graph.spin_until(lambda: list(bench.states[-1].effort) == [10.0, -3.0])
    n = len(bench.states)
    assert graph.spin_until(lambda: len(bench.states) >= n + 3)
    assert all(list(m.effort) == [10.0, -3.0] for m in bench.states[n:])


def test_a_failed_start_reports_its_own_error_only():
    """A simulator node that cannot start says why, last, with no follow-up error."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run(
        [sys.executable, '-m', 'ps_control.nodes.simulator_node', '--ros-args', '-p',
         'urdf:=/nonexistent.urdf'], cwd=root, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert 'URDF file not found: /nonexistent.urdf' in result.stderr
    assert 'AttributeError' not in result.stderr, result.stderr


def test_a_diverging_step_publishes_the_state_it_reached_until_the_next_reset(graph, tmp_path):
    from ps_control.tasks import task_path
    copy = tmp_path / 'low_bound.yaml'
    text = open(task_path(TASK)).read()
    assert 'divergence_bound: 100.0' in text
    copy.write_text(text.replace('divergence_bound: 100.0', 'divergence_bound: 4.0'))
    bench = Bench(graph, task_name=str(copy))
    assert bench.connected()
    reference = load_task(str(copy)).make_simulator()
    assert graph.call(bench.reset, Trigger.Request()).success
    assert graph.spin_until(lambda: len(bench.states) >= 1)
    reached = None
    for _ in range(40):  # full torque: a joint velocity passes 4 rad/s within a few steps
        n = len(bench.states)
        bench.command([10.0, 10.0])
        assert graph.spin_until(lambda: len(bench.states) == n + 1)
        x = x_of(bench.states[-1])
        if np.abs(x).max() > 4.0:
            reached = x
            break
    assert reached is not None, 'the robot never left the bound'
    assert np.isfinite(reached).all()  # what the step reached, not a placeholder
    for _ in range(2):  # held at every tick, so that no controller misses it
        n = len(bench.states)
        bench.command([0.0, 0.0])
        assert graph.spin_until(lambda: len(bench.states) == n + 1)
        np.testing.assert_array_equal(x_of(bench.states[-1]), reached)
    assert graph.call(bench.reset, Trigger.Request()).success  # the reset ends it
    assert graph.spin_until(lambda: np.abs(x_of(bench.states[-1])).max() < 4.0)
    n = len(bench.states)
    bench.command([0.0, 0.0])
    assert graph.spin_until(lambda: len(bench.states) == n + 1)
    reference.reset(x_of(bench.states[-2]))
    np.testing.assert_allclose(x_of(bench.states[-1]), reference.step(np.zeros(2)), atol=1e-12)


def test_real_time_mode_drops_a_command_older_than_the_timeout(graph):
    bench = Bench(graph, lockstep=False, real_time_factor=5.0, command_timeout=0.2)
    assert bench.connected()
    bench.command([5.0, -3.0])
    assert graph.spin_until(lambda: bench.states and list(bench.states[-1].effort) == [5.0, -3.0])
    assert graph.spin_until(lambda: list(bench.states[-1].effort) == [0.0, 0.0], timeout=3.0)


def test_real_time_mode_applies_zero_torque_after_a_rejected_command(graph):
    bench = Bench(graph, lockstep=False, real_time_factor=5.0, command_timeout=100.0)
    assert bench.connected()
    bench.command([5.0, -3.0])
    assert graph.spin_until(lambda: bench.states and list(bench.states[-1].effort) == [5.0, -3.0])
    bench.command([1.0, float('nan')])
    assert graph.spin_until(lambda: list(bench.states[-1].effort) == [0.0, 0.0], timeout=3.0)


def test_the_state_after_a_reset_reports_no_effort(graph):
    """A reset starts from rest: the torque of the last episode is not reported with it."""
    bench = Bench(graph)
    assert bench.connected()
    bench.command([5.0, -3.0])
    assert graph.spin_until(lambda: bench.states and list(bench.states[-1].effort) == [5.0, -3.0])
    n = len(bench.states)
    assert graph.call(bench.reset, Trigger.Request()).success
    assert graph.spin_until(lambda: len(bench.states) > n)
    assert list(bench.states[n].effort) == [0.0, 0.0]


def test_without_publish_clock_no_clock_is_published(graph):
    """publish_clock: false leaves /clock to another node (a real robot's)."""
    bench = Bench(graph, publish_clock=False)
    assert bench.connected()
    for _ in range(3):
        n = len(bench.states)
        bench.command([0.0, 0.0])
        assert graph.spin_until(lambda: len(bench.states) > n)
    graph.spin_for(0.2)
    assert bench.clock == []


@pytest.mark.parametrize('name, value', [('real_time_factor', 0.0),
                                         ('command_timeout', -1.0)])
def test_a_real_time_setting_out_of_range_is_refused(graph, name, value):
    """A zero real-time factor or a negative command time-out is a parameter error."""
    with pytest.raises(common.PARAMETER_ERRORS):
        graph.add(SimulatorNode(context=graph.context, parameter_overrides=params(
            task_name=TASK, lockstep=True, **{name: value})))
