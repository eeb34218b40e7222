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
The nodes as separate processes, as ``ros2 launch`` (or several hosts of one domain) run them.

The simulator and the controller run through their console-script main() in processes of their
own; the learner in this process collects its episodes from them over DDS. The processes stop
cleanly on SIGINT (Ctrl-C).
"""

import os
import signal
import subprocess
import sys

from nodes_support import open_graph
from nodes_support import params
from ps_control.nodes.learner_node import LearnerNode
import pytest


pytestmark = pytest.mark.ros

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def graph():
    """Yield a context of its own with an executor, torn down after the test."""
    yield from open_graph()


def start(module, *parameters):
    command = [sys.executable, '-m', module, '--ros-args']
    for parameter in parameters:
        command += ['-p', parameter]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)


def test_learner_collects_episodes_from_node_processes(graph):
    children = [
        start('ps_control.nodes.simulator_node', 'task_name:=double_pendulum',
              'lockstep:=true'),
        start('ps_control.nodes.controller_node', 'task_name:=double_pendulum',
              'lockstep:=true', 'use_sim_time:=true'),
    ]
    try:
        learner = graph.add(LearnerNode(context=graph.context, parameter_overrides=params(
            task_name='double_pendulum', algorithm='gps', iterations=1, samples=2,
            horizon=20, lockstep=True)))
        graph.executor.create_task(learner.run)
        assert graph.spin_until(learner.done.done, timeout=90.0)
        assert learner.done.exception() is None, learner.done.exception()
        history = learner.done.result()
        assert len(history) == 1 and history[0]['samples'] == 2
        for child in children:
            assert child.poll() is None, child.stderr.read().decode()
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        codes = []
        for child in children:
            try:
                codes.append(child.wait(timeout=20))
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                codes.append(child.wait())
            child.stderr.close()
    assert codes == [0, 0]


@pytest.mark.parametrize('module, parameters, reason', [
    ('ps_control.nodes.learner_node', ['algorithm:=esap'], 'algorithm must be one of'),
    ('ps_control.nodes.learner_node', ['iterations:=-3'], 'iterations'),
    ('ps_control.nodes.learner_node', ['iterations:=many'], 'iterations'),
    ('ps_control.nodes.controller_node', ['task_name:=double_pendlum'], 'double_pendlum'),
    ('ps_control.nodes.controller_node', ['effort_limits:=[20.0, 20.0]'], 'above the URDF'),
    ('ps_control.nodes.simulator_node', ['task_name:=no_such_task'], 'no_such_task'),
])
def test_executables_refuse_bad_parameters_in_one_line(module, parameters, reason):
    child = start(module, *(['task_name:=double_pendulum'] + parameters))
    try:
        _, stderr = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    message = stderr.decode().strip()
    program = module.rsplit('.', 1)[1]
    assert child.returncode == 2, message
    assert 'Traceback' not in message, message
    last = message.splitlines()[-1]
    assert last.startswith(program + ': ') and reason in last, message


@pytest.mark.parametrize('stop', [signal.SIGINT, signal.SIGTERM])
def test_a_stopped_controller_process_leaves_zero_torque(graph, stop):
    """Ctrl-C or SIGTERM: the last command the robot's driver got is zero, not the hold."""
    import time
    from ps_control.nodes import common
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Float64MultiArray
    child = start('ps_control.nodes.controller_node', 'task_name:=double_pendulum',
                  'lockstep:=false', 'fallback_damping:=2.0')
    try:
        robot = graph.node('robot')
        commands = []
        robot.create_subscription(Float64MultiArray, common.COMMANDS,
                                  lambda m: commands.append(list(m.data)), 10)
        states = robot.create_publisher(JointState, common.JOINT_STATES, common.STATE_QOS)
        state = JointState(name=['joint_1', 'joint_2'], position=[0.0, 0.0],
                           velocity=[1.0, 1.0])  # hold -2 qdot

        def holding():
            state.header.stamp = robot.get_clock().now().to_msg()
            states.publish(state)
            return bool(commands) and commands[-1] == [-2.0, -2.0]
        assert graph.spin_until(holding, timeout=60.0), child.stderr.read().decode()
        child.send_signal(stop)
        began = time.monotonic()
        while child.poll() is None and time.monotonic() - began < 20.0:
            graph.spin_for(0.1)
        graph.spin_for(0.5)
        code = child.wait(timeout=5)
        assert code == 0, child.stderr.read().decode()
        assert commands[-1] == [0.0, 0.0]
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
        child.stderr.close()
