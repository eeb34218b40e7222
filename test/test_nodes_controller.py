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
The controller node over real DDS: clipping, episodes, policy rejection, safe fallbacks.

The controller runs in real-time mode on the wall clock (as on hardware); a helper node plays
the robot (joint_states in, effort commands out) and the learner (policy, services).
"""

import os

from nodes_support import open_graph
from nodes_support import params
import numpy as np
from ps_control.core import LinearGaussianPolicy
from ps_control.nodes import common
from ps_control.nodes.controller_node import ControllerNode
from ps_control.nodes.messages import fill_transition
from ps_control.nodes.messages import joint_state_to_x
from ps_control.nodes.messages import policy_digest
from ps_control.nodes.messages import policy_to_msg
from ps_control.nodes.messages import STATUS_FALLBACK
from ps_control.nodes.messages import transition_from_msg
from ps_control.nodes.messages import transition_to_msg
import pytest
from rclpy.exceptions import InvalidParameterValueException
from rclpy.publisher import Publisher
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from std_srvs.srv import Trigger


pytestmark = pytest.mark.ros


@pytest.fixture
def graph():
    """Yield a context of its own with an executor, torn down after the test."""
    yield from open_graph()


JOINTS = ['joint_1', 'joint_2']  # double_pendulum, effort limits 10 N m
STATE = [0.3, -0.2, 0.5, 1.0]


class Robot:
    """Helper node: publishes joint states, records commands and transitions."""

    def __init__(self, graph, **controller_params):
        values = {'task_name': 'double_pendulum', 'control_rate': 50.0, 'explore': False,
                  'stale_periods': 1000.0}
        values.update(controller_params)
        self.graph = graph
        self.controller = graph.add(ControllerNode(context=graph.context,
                                                   parameter_overrides=params(**values)))
        node = graph.node('robot')
        self.state_pub = node.create_publisher(JointState, common.JOINT_STATES,
                                               common.STATE_QOS)
        self.policy_pub = node.create_publisher(Float64MultiArray, common.POLICY,
                                                common.LATCHED_QOS)
        self.commands = []
        self.transitions = []
        node.create_subscription(Float64MultiArray, common.COMMANDS,
                                 lambda m: self.commands.append(list(m.data)), 10)
        node.create_subscription(Float64MultiArray, common.TRANSITIONS,
                                 lambda m: self.transitions.append(
                                     transition_from_msg(m, 4, 2)), 100)
        self.start = node.create_client(Trigger, common.START_EPISODE)
        self.stop = node.create_client(Trigger, common.STOP_EPISODE)
        self.node = node

    def publish_state(self, position=STATE[:2], velocity=STATE[2:], names=JOINTS,
                      stamp_ns=None):
        """Publish a joint state stamped now, or at stamp_ns (a lockstep tick's time)."""
        msg = JointState()
        if stamp_ns is None:
            msg.header.stamp = self.node.get_clock().now().to_msg()
        else:
            msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 1000000000)
        msg.name = list(names)
        msg.position = [float(v) for v in position]
        msg.velocity = [float(v) for v in velocity]
        self.state_pub.publish(msg)

    def send_policy(self, policy):
        self.policy_pub.publish(policy_to_msg(policy))

    def ready(self):
        """Spin until the controller has a policy and a joint state."""
        return self.spin_publishing(lambda: self.controller.policy is not None
                                    and self.controller.state is not None)

    def wait_for_log(self, capfd, text, timeout=10.0):
        """Spin, publishing a joint state every spin, until the log holds text; return whether."""
        log = []

        def logged():
            self.publish_state()
            log.append(capfd.readouterr().err)
            return text in ''.join(log)
        return self.graph.spin_until(logged, timeout)

    def spin_publishing(self, predicate, **state):
        """Spin, publishing a fresh joint state every spin, until predicate() holds."""
        def check():
            self.publish_state(**state)
            return predicate()
        return self.graph.spin_until(check)

    def reject_states(self):
        """Publish a joint state holding NaN; spin until the controller has rejected it."""
        self.publish_state(position=[0.3, float('nan')])
        return self.graph.spin_until(lambda: self.controller.state_error is not None)

    def tick_with_stamped_state(self):
        """Tick a lockstep controller and send the state stamped at that tick."""
        self.controller._on_timer()
        pending = self.controller.pending
        assert pending is not None  # the tick waits for its state
        self.publish_state(stamp_ns=pending)
        return self.graph.spin_until(lambda: self.controller.pending is None)


def constant_policy(k, T=5, K=None):
    K = np.zeros((2, 4)) if K is None else np.asarray(K, dtype=float)
    return LinearGaussianPolicy.constant(T, K, np.asarray(k, dtype=float), 0.1)


def test_start_without_a_policy_is_refused(graph):
    robot = Robot(graph)
    response = graph.call(robot.start, Trigger.Request())
    assert not response.success
    assert 'no policy' in response.message


def test_episode_clips_every_torque_and_reports_state_action_and_torque(graph):
    robot = Robot(graph, fallback_damping=2.0)  # hold -2 qdot = [-1, -2] between episodes
    K = np.zeros((2, 4))
    K[1, 0] = 10.0  # u_2 = 10 q_1 - 4 = 3 - 4 = -1 at q_1 = 0.3: inside the limits
    policy = constant_policy([100.0, -4.0], T=6, K=K)
    robot.send_policy(policy)
    assert robot.ready()
    response = graph.call(robot.start, Trigger.Request())
    assert response.success, response.message
    assert response.message == 'episode=1 policy=%s' % policy_digest(policy)
    assert robot.spin_publishing(lambda: len(robot.transitions) >= 7)
    steps = [t[1] for t in robot.transitions]
    assert steps == list(range(7))  # T = 6 steps and the terminal tick
    for episode, step, status, x, u, torque in robot.transitions[:6]:
        assert episode == 1 and status == 0
        np.testing.assert_allclose(x, STATE)
        np.testing.assert_allclose(u, [100.0, -1.0])  # the policy's action, before clipping
        np.testing.assert_allclose(torque, [10.0, -1.0])  # what it applied: the clipped action
    # the terminal tick (lockstep off): the hold command is what was applied
    np.testing.assert_allclose(robot.transitions[6][5], [-1.0, -2.0])
    # the commands went out clipped (100 to the limit, -1 as is); between episodes the hold
    # torque
    assert [10.0, -1.0] in robot.commands
    assert all(abs(c[0]) <= 10.0 and abs(c[1]) <= 10.0 for c in robot.commands)
    n = len(robot.commands)
    assert robot.spin_publishing(lambda: len(robot.commands) >= n + 3)
    np.testing.assert_allclose(robot.commands[-1], [-1.0, -2.0])
    assert robot.controller.mode == 'idle'


def test_lockstep_terminal_tick_reports_the_state_and_applies_nothing(graph):
    """In lockstep the tick after the last step sends no command: action and torque are NaN."""
    robot = Robot(graph, lockstep=True, fallback_damping=2.0)
    robot.send_policy(constant_policy([30.0, 1.0], T=2))
    assert robot.ready()
    assert graph.call(robot.start, Trigger.Request()).success
    commands = len(robot.commands)
    for _ in range(3):  # steps 0 and 1, then the terminal tick (as stamped states would do)
        robot.controller._act(True)
    assert graph.spin_until(lambda: len(robot.transitions) >= 3)
    for _, step, status, x, u, torque in robot.transitions[:2]:
        np.testing.assert_allclose(u, [30.0, 1.0])
        np.testing.assert_allclose(torque, [10.0, 1.0])
    _, step, status, x, u, torque = robot.transitions[2]
    assert step == 2 and status == 0
    np.testing.assert_allclose(x, STATE)
    assert np.isnan(u).all() and np.isnan(torque).all()
    assert graph.spin_until(lambda: len(robot.commands) >= commands + 2)
    assert robot.commands[commands:] == [[10.0, 1.0]] * 2  # and none for the terminal tick


def test_second_start_while_running_is_refused(graph):
    robot = Robot(graph)
    robot.send_policy(constant_policy([1.0, 1.0], T=300))
    assert robot.ready()
    assert graph.call(robot.start, Trigger.Request()).success
    assert robot.spin_publishing(lambda: len(robot.transitions) >= 2)
    response = graph.call(robot.start, Trigger.Request())
    assert not response.success
    assert 'episode 1 is running' in response.message


def test_malformed_policies_are_rejected_and_the_old_one_kept(graph, capfd):
    robot = Robot(graph)
    good = constant_policy([1.0, 2.0])
    robot.send_policy(good)
    assert graph.spin_until(lambda: robot.controller.policy is not None)
    digest = policy_digest(good)

    wrong_shape = policy_to_msg(
        LinearGaussianPolicy.constant(5, np.zeros((3, 6)), np.zeros(3), 1.0))
    nan = policy_to_msg(good)
    data = list(nan.data)
    data[0] = float('nan')
    nan.data = data
    labels = policy_to_msg(good)
    labels.layout.dim[2].label = 'K'
    seen = []
    # one at a time: the policy topic keeps only the newest message (depth 1)
    for count, msg in enumerate([wrong_shape, nan, labels], start=1):
        robot.policy_pub.publish(msg)

        def rejected():
            seen.append(capfd.readouterr().err)
            return ''.join(seen).count('rejected policy') >= count
        assert graph.spin_until(rejected)
    log = ''.join(seen)
    assert '3 actions, this controller drives 2' in log
    assert 'NaN' in log
    assert 'labels' in log
    assert 'keeping the previous policy %s' % digest in log
    assert robot.controller.digest == digest
    assert robot.ready()
    response = graph.call(robot.start, Trigger.Request())
    assert response.message.endswith('policy=%s' % digest)


@pytest.mark.parametrize('lockstep', [False, True])
def test_an_episode_starts_only_with_valid_joint_states_out_of_lockstep(graph, lockstep):
    """A robot whose driver is not up yet: not started (the learner asks again)."""
    robot = Robot(graph, lockstep=lockstep, stale_periods=5.0)
    robot.send_policy(constant_policy([1.0, 2.0]))
    assert graph.spin_until(lambda: robot.controller.policy is not None)
    response = graph.call(robot.start, Trigger.Request())
    if lockstep:  # the state comes with the reset, after the start
        assert response.success
        return
    assert not response.success
    assert response.message == 'not started: no joint states received on joint_states yet'
    assert robot.ready()
    assert graph.call(robot.start, Trigger.Request()).success


@pytest.mark.parametrize('topic, message_type, qos', [
    (common.COMMANDS, Float64MultiArray, common.COMMAND_QOS),
    (common.JOINT_STATES, JointState, common.STATE_QOS),
    (common.POLICY, Float64MultiArray, common.LATCHED_QOS)])
def test_no_episode_starts_while_another_node_publishes_on_its_topics(graph, capfd, topic,
                                                                      message_type, qos):
    """
    A second system in the namespace: its commands would interleave with this one's.

    While the topics are shared the controller commands zero torque (not its hold torque), an
    episode in progress gets fallback ticks (the learner runs it again), and none starts.
    """
    robot = Robot(graph, fallback_damping=2.0)  # hold -2 qdot = [-1, -2] between episodes
    robot.send_policy(constant_policy([1.0, 2.0], T=1000))
    assert robot.ready()
    assert graph.call(robot.start, Trigger.Request()).success
    assert robot.spin_publishing(lambda: len(robot.transitions) >= 2)
    other = graph.node('other_system')
    publisher = other.create_publisher(message_type, topic, qos)
    assert robot.wait_for_log(capfd, 'commanding zero torque, and no episode starts until it '
                                     'is alone')
    n, m = len(robot.commands), len(robot.transitions)
    assert robot.spin_publishing(lambda: len(robot.transitions) >= m + 3)
    assert robot.transitions[-1][2] == STATUS_FALLBACK
    np.testing.assert_allclose(robot.transitions[-1][5], [0.0, 0.0])
    assert robot.commands[-1] == [0.0, 0.0] and len(robot.commands) > n
    stop = robot.node.create_client(Trigger, common.STOP_EPISODE)
    assert graph.call(stop, Trigger.Request()).success
    response = graph.call(robot.start, Trigger.Request())
    assert not response.success
    assert response.message.startswith('not started: 2 publishers of ')
    assert 'on /%s, of the nodes ' % topic in response.message
    assert '/other_system' in response.message
    n = len(robot.commands)
    assert robot.spin_publishing(lambda: len(robot.commands) >= n + 3)
    assert robot.commands[-1] == [0.0, 0.0]  # idle: zero, not the hold torque
    other.destroy_publisher(publisher)
    assert robot.wait_for_log(capfd, "no other publishers on the controller's topics now")
    assert robot.spin_publishing(lambda: robot.commands[-1] == [-1.0, -2.0])
    assert graph.call(robot.start, Trigger.Request()).success


def test_stale_joint_states_give_zero_torque_said_once(graph, capfd):
    robot = Robot(graph, stale_periods=5.0)
    robot.send_policy(constant_policy([5.0, 5.0], T=300))
    assert robot.ready()
    assert graph.call(robot.start, Trigger.Request()).success
    assert robot.spin_publishing(lambda: [5.0, 5.0] in robot.commands)
    assert robot.spin_publishing(lambda: robot.commands[-1] == [5.0, 5.0])
    capfd.readouterr()  # what was logged so far
    # the robot falls silent: within a few periods the commands drop to zero torque
    n = len(robot.commands)
    assert graph.spin_until(lambda: len(robot.commands) > n + 8
                            and robot.commands[-1] == [0.0, 0.0])
    assert robot.commands[-4:] == [[0.0, 0.0]] * 4
    fallback = [t for t in robot.transitions if t[2] == 1]
    assert fallback and all(np.all(t[4] == 0.0) and np.all(t[5] == 0.0) for t in fallback)
    log = capfd.readouterr().err
    assert log.count('stale') == 1, log
    # fresh states again: control resumes, and that is said once too
    assert robot.spin_publishing(lambda: robot.commands[-1] == [5.0, 5.0])
    assert capfd.readouterr().err.count('valid again') == 1


@pytest.mark.parametrize('state, reason', [
    ({'position': [0.3, float('nan')]}, 'NaN'),
    ({'names': ['shoulder', 'elbow']}, 'missing'),
])
def test_malformed_joint_states_give_zero_torque(graph, capfd, state, reason):
    robot = Robot(graph)
    robot.send_policy(constant_policy([5.0, 5.0], T=300))
    assert robot.ready()
    assert graph.call(robot.start, Trigger.Request()).success
    assert robot.spin_publishing(lambda: [5.0, 5.0] in robot.commands)
    n = len(robot.commands)
    assert robot.spin_publishing(lambda: len(robot.commands) > n + 3, **state)
    assert robot.commands[-1] == [0.0, 0.0]
    log = capfd.readouterr().err
    assert 'joint states rejected' in log and reason in log
    assert robot.spin_publishing(lambda: robot.commands[-1] == [5.0, 5.0])


def _joint_state(names, position, velocity):
    msg = JointState()
    msg.name, msg.position, msg.velocity = list(names), list(position), list(velocity)
    return msg


def test_joint_state_decoding_is_the_same_in_order_and_by_lookup():
    # the controller's per-tick decoder has a fast path for the joints first and in order;
    # it must give what the lookup gives for the same joints in another order / among others
    x = np.array([0.1, -0.2, 0.3, -0.4])
    in_order = joint_state_to_x(_joint_state(JOINTS, x[:2], x[2:]), JOINTS)
    swapped = joint_state_to_x(_joint_state(JOINTS[::-1], x[1::-1], x[:1:-1]), JOINTS)
    extra = joint_state_to_x(_joint_state(['other'] + JOINTS, [9.0, *x[:2]], [8.0, *x[2:]]),
                             JOINTS)
    prefix = joint_state_to_x(_joint_state(JOINTS + ['other'], [*x[:2], 9.0], [*x[2:], 8.0]),
                              JOINTS)
    for decoded in (in_order, swapped, extra, prefix):
        assert decoded.dtype == np.float64
        np.testing.assert_array_equal(decoded, x)
    with pytest.raises(ValueError, match='NaN or inf'):
        joint_state_to_x(_joint_state(JOINTS, [0.1, np.nan], [0.0, 0.0]), JOINTS)
    for names in (JOINTS + ['joint_1'], ['joint_1'] + JOINTS):  # which joint_1 holds?
        with pytest.raises(ValueError, match=r"joint state names \['joint_1'\] more than once"):
            joint_state_to_x(_joint_state(names, [0.1, 0.2, 0.3], [0.0] * 3), JOINTS)


def test_refilled_transition_message_decodes_to_the_new_tick():
    # the controller reuses one transition message: refilling it must replace every number
    # and keep the layout transition_to_msg made
    msg = transition_to_msg(1, 0, 0.0, np.zeros(4), np.zeros(2), np.zeros(2))
    layout = [(d.label, d.size, d.stride) for d in msg.layout.dim]
    x, u, torque = np.array([0.5, -1.5, 2.0, 3.0]), np.array([-17.0, 4.0]), np.array([-10.0, 4.0])
    fill_transition(msg, 3, 41, STATUS_FALLBACK, x, u, torque)
    assert [(d.label, d.size, d.stride) for d in msg.layout.dim] == layout
    episode, step, status, x_out, u_out, torque_out = transition_from_msg(msg, 4, 2)
    assert (episode, step, status) == (3, 41, 1)
    np.testing.assert_array_equal(x_out, x)
    np.testing.assert_array_equal(u_out, u)
    np.testing.assert_array_equal(torque_out, torque)


def test_realtime_priority_range_and_scheduling():
    with pytest.raises(ValueError, match='0..99'):
        common.set_realtime_priority(100)
    with pytest.raises(ValueError, match='0..99'):
        common.set_realtime_priority(-1)
    before = os.sched_getscheduler(0)
    assert common.set_realtime_priority(0) is False
    assert os.sched_getscheduler(0) == before
    try:
        applied = common.set_realtime_priority(10)
        # either the thread is now SCHED_FIFO 10, or it was not permitted and nothing changed
        if applied:
            assert os.sched_getscheduler(0) == os.SCHED_FIFO
            assert os.sched_getparam(0).sched_priority == 10
        else:
            assert os.sched_getscheduler(0) == before
    finally:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))


def test_realtime_priority_parameter_is_range_checked(graph):
    controller = graph.add(ControllerNode(context=graph.context, parameter_overrides=params(
        task_name='double_pendulum', realtime_priority=20)))
    assert controller.realtime_priority == 20
    with pytest.raises(InvalidParameterValueException):
        ControllerNode(context=graph.context, parameter_overrides=params(
            task_name='double_pendulum', realtime_priority=120))


@pytest.mark.parametrize('name', ['fallback_damping', 'stale_periods', 'control_rate'])
@pytest.mark.parametrize('value', [float('inf'), float('nan')])
def test_non_finite_float_parameters_are_refused(graph, name, value):
    """Infinite damping times zero velocity is a NaN hold torque: no float may be non-finite."""
    with pytest.raises(InvalidParameterValueException, match=name):
        ControllerNode(context=graph.context, parameter_overrides=params(
            task_name='double_pendulum', **{name: value}))


def test_a_range_is_refused_for_parameters_that_are_not_numbers(graph):
    node = graph.node('range_check')
    with pytest.raises(ValueError, match='bool parameter flag'):
        common.declare(node, 'flag', True, 'a flag', low=0)
    with pytest.raises(ValueError, match='str parameter name'):
        common.declare(node, 'name', 'x', 'a name', high=1)


@pytest.mark.parametrize('joints', [[0, 1], [1]])
def test_a_non_finite_action_gives_zero_torque_and_an_error(graph, capfd, joints):
    """
    Finite but huge gains overflow to inf - inf = NaN: never published, said in the log.

    Also when only one joint's action is NaN: every joint gets zero torque and the tick is a
    fallback.
    """
    robot = Robot(graph)
    K = np.zeros((2, 4))
    K[joints, 0], K[joints, 1] = 1e308, -1e308
    robot.send_policy(constant_policy([0.0, 0.0], T=300, K=K))
    assert robot.spin_publishing(lambda: robot.controller.policy is not None,
                                 position=[2.0, 2.0])
    assert graph.call(robot.start, Trigger.Request()).success
    assert robot.spin_publishing(lambda: len(robot.transitions) >= 3, position=[2.0, 2.0])
    assert robot.commands and all(np.all(np.isfinite(c)) for c in robot.commands)
    assert all(c == [0.0, 0.0] for c in robot.commands)
    assert all(t[2] == STATUS_FALLBACK and np.all(t[4] == 0.0) and np.all(t[5] == 0.0)
               for t in robot.transitions)
    assert 'non-finite action at step 0 of episode 1' in capfd.readouterr().err


@pytest.mark.parametrize('limits, message', [
    ([float('nan'), 10.0], 'joint_1 has limit nan'),
    ([10.0, -10.0], 'joint_2 has limit -10'),
    ([10.0, 0.0], 'joint_2 has limit 0'),
    ([20.0, 10.0], "joint_1 has limit 20, above the URDF's 10$"),
    ([10.0], 'effort_limits: 2 joints but 1 limits'),
])
def test_bad_effort_limits_are_refused_at_start_up(graph, limits, message):
    with pytest.raises(ValueError, match=message):
        ControllerNode(context=graph.context, parameter_overrides=params(
            task_name='double_pendulum', effort_limits=limits))


@pytest.mark.parametrize('joints, limits, message', [
    (['elbow', 'shoulder'], [1000.0, 1000.0],
     r"joint elbow has limit 1000, above the URDF's 10 \(its joint joint_1\)"),
    (['joint_1', ' '], [10.0, 10.0], 'joints: .* holds an empty name'),
    (['joint_1', 'joint_1'], [10.0, 10.0], 'joints: joint_1 listed more than once'),
    (['joint_2', 'joint_1'], [10.0, 10.0], "joints: joint_2 is at position 0, the URDF's "
                                           'joint at 1'),
    (['joint_1'], [10.0], r'joints: 1 given, the task has 2 \(joint_1, joint_2\)'),
])
def test_joints_follow_the_urdf_and_its_limits(graph, joints, limits, message):
    """The robot may name the joints otherwise, in the URDF's order, within its limits."""
    with pytest.raises(ValueError, match=message):
        ControllerNode(context=graph.context, parameter_overrides=params(
            task_name='double_pendulum', joints=joints, effort_limits=limits))
    renamed = graph.add(ControllerNode(context=graph.context, parameter_overrides=params(
        task_name='double_pendulum', joints=['arm/joint_1', 'arm/joint_2'],
        effort_limits=[5.0, 10.0])))
    assert renamed.joints == ['arm/joint_1', 'arm/joint_2']
    assert renamed.limits.tolist() == [5.0, 10.0]


def test_parameters_the_node_does_not_declare_are_named(graph, capfd):
    """ROS ignores them; a misspelt name in a parameter file is said, the task file's not."""
    values = {'task_name': 'double_pendulum', 'stale_period': 2.0, 'task.dt': 0.05,
              'learning.epsilon': 0.5, 'learning.iterations': 3}
    node = common.construct_node(lambda: ControllerNode(
        context=graph.context, parameter_overrides=params(**values)), 'controller_node')
    graph.add(node)
    log = capfd.readouterr().err
    assert 'ignoring parameter(s) stale_period: not parameters of this node' in log
    # the task file's own values (a launch passes the file itself): nothing to say
    assert 'task.dt' not in log and 'learning.epsilon' not in log
    # another value: not used, and said so
    assert 'ignoring parameter learning.iterations = 3: the nodes read the task and learning ' \
           'settings from the task file' in log


def test_lower_effort_limits_are_used(graph):
    robot = Robot(graph, effort_limits=[4.0, 10.0])
    robot.send_policy(constant_policy([100.0, -100.0], T=300))
    assert robot.ready()
    assert graph.call(robot.start, Trigger.Request()).success
    assert robot.spin_publishing(lambda: [4.0, -10.0] in robot.commands)


def test_parameters_cannot_be_changed_at_run_time(graph):
    """Read once at start-up: ROS refuses a change rather than accept one without effect."""
    robot = Robot(graph)
    for name, value in (('effort_limits', [1.0, 1.0]), ('fallback_damping', 2.0),
                        ('control_rate', 100.0), ('joints', ['x'])):
        result = robot.controller.set_parameters([params(**{name: value})[0]])[0]
        assert not result.successful and 'read-only' in result.reason.lower(), name
    assert robot.controller.limits.tolist() == [10.0, 10.0]


def test_a_clock_that_stands_still_is_reported(graph, capfd):
    """use_sim_time without /clock: no tick, so nothing is commanded; the log says why."""
    robot = Robot(graph, use_sim_time=True)
    assert robot.wait_for_log(capfd, 'use_sim_time is true and nothing publishes /clock')
    assert robot.commands == [] and robot.controller.last_tick is None


def test_a_policy_sent_during_an_episode_takes_over_at_the_next_and_stop_aborts(graph, capfd):
    robot = Robot(graph)
    stop = robot.node.create_client(Trigger, common.STOP_EPISODE)
    first, second = constant_policy([1.0, 1.0], T=300), constant_policy([2.0, 2.0], T=300)
    robot.send_policy(first)
    assert robot.ready()
    assert graph.call(robot.start, Trigger.Request()).success
    assert robot.spin_publishing(lambda: [1.0, 1.0] in robot.commands)
    robot.send_policy(second)
    assert robot.spin_publishing(lambda: 'takes over at the next episode'
                                 in capfd.readouterr().err)
    n = len(robot.commands)
    assert robot.spin_publishing(lambda: len(robot.commands) > n + 3)
    assert all(c == [1.0, 1.0] for c in robot.commands[n:])  # the episode keeps its policy
    assert robot.controller.digest == policy_digest(first)
    response = graph.call(stop, Trigger.Request())
    assert response.success and response.message.startswith('episode 1 stopped at step')
    assert robot.spin_publishing(lambda: robot.commands[-1] == [0.0, 0.0])  # the hold torque
    assert not graph.call(stop, Trigger.Request()).success  # nothing left to stop
    response = graph.call(robot.start, Trigger.Request())
    assert response.message == 'episode=2 policy=%s' % policy_digest(second)
    assert robot.spin_publishing(lambda: robot.commands[-1] == [2.0, 2.0])
    assert robot.spin_publishing(lambda: any(t[0] == 2 for t in robot.transitions))
    steps = [t[1] for t in robot.transitions if t[0] == 2]
    assert steps == list(range(len(steps)))  # the second episode counts from step 0 again


def test_the_hold_torque_is_clipped_and_zero_on_stale_states(graph):
    """Between episodes -fallback_damping qdot, within the limits; nothing from a stale state."""
    robot = Robot(graph, fallback_damping=2.0, stale_periods=5.0)
    fast = {'velocity': [50.0, -30.0]}  # hold -100 and 60 N m: beyond the 10 N m limits
    robot.send_policy(constant_policy([0.0, 0.0]))
    assert robot.spin_publishing(lambda: robot.commands and robot.commands[-1] == [-10.0, 10.0],
                                 **fast)
    assert all(abs(c[0]) <= 10.0 and abs(c[1]) <= 10.0 for c in robot.commands)
    n = len(robot.commands)  # the robot falls silent: its last velocities are no ground to act
    assert graph.spin_until(lambda: len(robot.commands) > n + 8
                            and robot.commands[-1] == [0.0, 0.0])


def _destroy(graph, node):
    graph.executor.remove_node(node)
    graph.nodes.remove(node)
    node.destroy_node()


@pytest.mark.parametrize('lockstep', [False, True])
def test_a_destroyed_controller_leaves_zero_torque_out_of_lockstep(graph, lockstep):
    """A forward command controller holds the last command: the last one sent on exit is 0."""
    robot = Robot(graph, fallback_damping=2.0, lockstep=lockstep)
    robot.send_policy(constant_policy([5.0, 5.0], T=200))
    assert robot.ready()
    assert graph.call(robot.start, Trigger.Request()).success
    if lockstep:  # a tick at the state's stamp: one command of the policy
        robot.controller._on_timer()
    assert robot.spin_publishing(lambda: robot.commands and robot.commands[-1] == [5.0, 5.0])
    n = len(robot.commands)
    _destroy(graph, robot.controller)
    graph.spin_for(0.5)
    if lockstep:  # the simulator would step on it: nothing is sent
        assert len(robot.commands) == n
    else:
        assert robot.commands[n:] == [[0.0, 0.0]]


def test_several_controllers_send_their_exit_commands_before_any_waits(graph, monkeypatch):
    """ps-control run stops N controllers in about one acknowledgement wait, not N."""
    controllers = [graph.add(ControllerNode(
        context=graph.context, namespace=namespace,
        parameter_overrides=params(task_name='double_pendulum'))) for namespace in ('a', 'b')]
    events = []
    publish, wait = ControllerNode._publish, Publisher.wait_for_all_acked

    def recording_publish(node, u):
        events.append(('sent', node.get_namespace(), list(u)))
        return publish(node, u)

    def recording_wait(publisher, timeout):
        events.append(('wait', publisher.topic_name))
        return wait(publisher, timeout)
    monkeypatch.setattr(ControllerNode, '_publish', recording_publish)
    monkeypatch.setattr(Publisher, 'wait_for_all_acked', recording_wait)
    for node in controllers:
        graph.executor.remove_node(node)
        graph.nodes.remove(node)
    common.tear_down(None, controllers)
    assert events == [('sent', '/a', [0.0, 0.0]), ('sent', '/b', [0.0, 0.0]),
                      ('wait', '/a/' + common.COMMANDS), ('wait', '/b/' + common.COMMANDS)]


def test_lockstep_acts_when_the_state_stamped_at_the_pending_tick_arrives(graph):
    """Act on the state stamped at the pending tick, also when the clock came first."""
    robot = Robot(graph, lockstep=True, control_rate=0.01)  # its own timer never fires here
    robot.send_policy(constant_policy([1.0, 2.0], T=3))
    assert robot.ready()
    assert graph.call(robot.start, Trigger.Request()).success
    n = len(robot.commands)
    assert robot.tick_with_stamped_state()  # a tick newer than the last state waits for it
    assert graph.spin_until(lambda: len(robot.commands) > n, timeout=5.0)
    assert robot.commands[-1] == [1.0, 2.0]


def test_a_pending_lockstep_tick_whose_state_is_rejected_falls_back(graph):
    """The state a waiting tick asked for holds NaN: zero torque at once, not a wait for ever."""
    robot = Robot(graph, lockstep=True, control_rate=0.01)
    robot.send_policy(constant_policy([1.0, 2.0], T=3))
    assert robot.ready()
    assert graph.call(robot.start, Trigger.Request()).success
    robot.controller._on_timer()  # the clock came first: the tick waits for its state
    pending = robot.controller.pending
    assert pending is not None
    robot.publish_state(position=[0.3, float('nan')], stamp_ns=pending)
    assert graph.spin_until(lambda: robot.transitions and robot.commands, timeout=5.0)
    assert robot.controller.pending is None
    episode, step, status, x, u, torque = robot.transitions[0]
    assert (episode, step, status) == (1, 0, STATUS_FALLBACK) and np.isnan(x).all()
    assert robot.commands == [[0.0, 0.0]]
    robot.publish_state()  # the simulator steps and sends a valid state: step 1 acts on it
    assert graph.spin_until(lambda: robot.controller.state_error is None)
    assert robot.tick_with_stamped_state()
    assert graph.spin_until(lambda: len(robot.commands) >= 2 and len(robot.transitions) >= 2,
                            timeout=5.0)
    assert robot.commands[1] == [1.0, 2.0] and robot.transitions[1][1:3] == (1, 0)


def test_effort_limits_are_checked_joint_by_joint_against_the_urdf():
    """On a task with unequal URDF limits each joint's limit is held to its own."""
    from ps_control.nodes.controller_node import checked_effort_limits
    from ps_control.tasks import load_task
    task = load_task('arm_2')
    urdf = np.asarray(task.effort_limits, dtype=float)
    assert urdf[0] != urdf[1]
    low, high = np.argmin(urdf), np.argmax(urdf)
    limits = urdf.copy()
    np.testing.assert_array_equal(checked_effort_limits(limits, task.joint_names, task), urdf)
    limits[low] = 0.5 * (urdf[low] + urdf[high])  # below the largest, above its own
    with pytest.raises(ValueError, match="joint %s has limit .*above the URDF's"
                                         % task.joint_names[low]):
        checked_effort_limits(limits, task.joint_names, task)


def test_a_start_sent_again_before_the_first_tick_arms_the_next_episode(graph):
    """A repeated start (its first answer lost) while armed succeeds and names a new episode."""
    robot = Robot(graph, lockstep=True, control_rate=0.01)
    policy = constant_policy([1.0, 2.0])
    robot.send_policy(policy)
    assert graph.spin_until(lambda: robot.controller.policy is not None)
    first = graph.call(robot.start, Trigger.Request())
    assert first.success and first.message == 'episode=1 policy=%s' % policy_digest(policy)
    again = graph.call(robot.start, Trigger.Request())
    assert again.success, again.message
    assert again.message == 'episode=2 policy=%s' % policy_digest(policy)


def test_stopping_an_armed_episode_says_that_it_stopped(graph):
    """A stop before the armed episode's first tick succeeds; a second one has nothing left."""
    robot = Robot(graph, lockstep=True, control_rate=0.01)
    robot.send_policy(constant_policy([1.0, 2.0]))
    assert graph.spin_until(lambda: robot.controller.policy is not None)
    assert graph.call(robot.start, Trigger.Request()).success
    response = graph.call(robot.stop, Trigger.Request())
    assert response.success, response.message
    assert response.message == 'episode 1 stopped at step 0'
    assert not graph.call(robot.stop, Trigger.Request()).success


def test_a_lockstep_tick_on_rejected_states_is_a_fallback_at_once(graph):
    """In lockstep a tick with rejected joint states does not wait: zero torque, no state."""
    robot = Robot(graph, lockstep=True, control_rate=0.01)
    robot.send_policy(constant_policy([1.0, 2.0]))
    assert robot.ready()
    assert graph.call(robot.start, Trigger.Request()).success
    assert robot.reject_states()
    robot.controller._on_timer()
    assert robot.controller.pending is None  # it acted: the simulator is not left waiting
    assert graph.spin_until(lambda: robot.transitions and robot.commands, timeout=5.0)
    episode, step, status, x, u, torque = robot.transitions[0]
    assert (episode, step, status) == (1, 0, STATUS_FALLBACK)
    assert np.isnan(x).all()  # the rejected state is not reported as the one acted on
    np.testing.assert_array_equal(u, [0.0, 0.0])
    np.testing.assert_array_equal(torque, [0.0, 0.0])
    assert robot.commands == [[0.0, 0.0]]


def test_a_terminal_tick_on_rejected_states_is_a_fallback(graph):
    """x_T of an episode whose joint states fail at its end: a fallback tick reporting NaN."""
    robot = Robot(graph, lockstep=True, control_rate=0.01)
    robot.send_policy(constant_policy([1.0, 2.0], T=2))
    assert robot.ready()
    assert graph.call(robot.start, Trigger.Request()).success
    for _ in range(2):
        assert robot.tick_with_stamped_state()
    assert robot.reject_states()
    robot.controller._on_timer()  # the terminal tick
    assert graph.spin_until(lambda: len(robot.transitions) >= 3, timeout=5.0)
    assert [t[1] for t in robot.transitions] == [0, 1, 2]
    assert all(t[2] != STATUS_FALLBACK for t in robot.transitions[:2])
    _, step, status, x, u, torque = robot.transitions[2]
    assert status == STATUS_FALLBACK
    assert np.isnan(x).all() and np.isnan(u).all() and np.isnan(torque).all()
    assert robot.controller.mode == 'idle'


def test_a_lockstep_controller_sends_nothing_between_episodes(graph):
    """Ticks between episodes send no hold torque in lockstep: the simulator would step on it."""
    robot = Robot(graph, lockstep=True, control_rate=0.01, fallback_damping=2.0)
    robot.send_policy(constant_policy([1.0, 2.0]))
    assert robot.ready()
    assert robot.tick_with_stamped_state()  # idle: a tick with its state, nothing to send
    assert graph.call(robot.start, Trigger.Request()).success
    assert robot.tick_with_stamped_state()  # step 0 of the episode
    assert graph.spin_until(lambda: robot.commands, timeout=5.0)
    graph.spin_for(0.2)
    assert robot.commands == [[1.0, 2.0]]  # the policy's command only, no hold [-1, -2]


def test_a_lockstep_controller_torn_down_sends_no_exit_command(graph, monkeypatch):
    """tear_down asks every controller for its exit command: none from a lockstep one."""
    controller = graph.add(ControllerNode(context=graph.context, parameter_overrides=params(
        task_name='double_pendulum', lockstep=True)))
    sent = []
    publish = ControllerNode._publish

    def recording_publish(node, u):
        sent.append(list(u))
        return publish(node, u)
    monkeypatch.setattr(ControllerNode, '_publish', recording_publish)
    graph.executor.remove_node(controller)
    graph.nodes.remove(controller)
    common.tear_down(None, [controller])
    assert sent == []


def test_a_state_exactly_stale_periods_old_is_still_valid(graph):
    """Stale means older than stale_periods control periods, not as old."""
    robot = Robot(graph, stale_periods=1.0)
    assert graph.spin_until(lambda: robot.publish_state() or robot.controller.state is not None)
    controller = robot.controller
    received = controller.state_received
    assert controller._check_state(received + controller.period_ns) is None
    assert controller._check_state(received + controller.period_ns + 1)[0] == 'stale'
