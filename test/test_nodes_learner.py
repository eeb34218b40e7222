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
Learning through the three nodes over real DDS.

A short double-pendulum run (GPS, 5 episodes of 30 steps per iteration) improves the expected
reward and follows the batch loop's learning curve; two namespaced workers share the episodes;
a checkpoint survives a killed learner process and training resumes from it.
"""

import dataclasses
import os
import re
import signal
import subprocess
import sys
import time

from nodes_support import Graph
from nodes_support import open_graph
from nodes_support import params
import numpy as np
from ps_control import learning, learning_config, run
from ps_control.nodes import common
from ps_control.nodes.learner_node import format_metrics, LearnerNode, metrics_status
from ps_control.nodes.messages import policy_digest
from ps_control.nodes.messages import policy_from_msg
from ps_control.nodes.simulator_node import SimulatorNode
from ps_control.run import build_nodes
from ps_control.tasks import load_task
import pytest
from rclpy.exceptions import InvalidHandle
from std_msgs.msg import Float64
from std_msgs.msg import Float64MultiArray
from std_srvs.srv import Trigger


pytestmark = pytest.mark.ros


@pytest.fixture
def graph():
    """Yield a context of its own with an executor, torn down after the test."""
    yield from open_graph()


TASK = 'double_pendulum'
SHORT = {'algorithm': 'gps', 'samples': 5, 'horizon': 30}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_learning(graph, iterations, num_workers=1, **learner):
    """Build the nodes in the graph's context, run the learner; return (workers, learner)."""
    values = dict(SHORT, iterations=iterations)
    values.update(learner)
    return graph.learn(TASK, values, num_workers=num_workers, timeout=120.0)


def batch_curve(iterations, seed=0):
    """Return the expected rewards of the same loop run in batch (no ROS), as ps-control train."""
    task = dataclasses.replace(load_task(TASK), horizon=SHORT['horizon'])
    config = learning_config.load_learning_config(
        task, {'algorithm': SHORT['algorithm'], 'samples': SHORT['samples'],
               'iterations': iterations, 'seed': seed})
    search = learning.PolicySearch(task, config)
    simulator = task.make_simulator(n_robots=SHORT['samples'])
    rng = np.random.default_rng(seed)
    for _ in range(iterations):
        rollouts = simulator.rollout(search.policy,
                                     task.sample_initial_states(SHORT['samples'], rng), rng)
        search.update(rollouts.states, rollouts.actions)
    simulator.close()
    return [m['expected_reward'] for m in search.history]


def task_copy(tmp_path, old, new):
    """Write config/<TASK>.yaml with ``old`` replaced by ``new``; return its path."""
    from ps_control.tasks import task_path
    text = open(task_path(TASK)).read()
    assert old in text
    copy = tmp_path / 'task_copy.yaml'
    copy.write_text(text.replace(old, new))
    return str(copy)


def learn_recording_updates(graph, task_file):
    """Run one iteration of a task file's nodes in ``graph``; return (learner, update args)."""
    _, node = graph.build(task_file, learner=dict(SHORT, iterations=1))
    updates = []
    real_update = node.search.update
    node.search.update = lambda *args: updates.append(args) or real_update(*args)
    graph.executor.create_task(node.run)
    assert graph.spin_until(node.done.done, 120.0)
    return node, updates


def test_learning_through_the_nodes_improves_like_the_batch_loop(graph, tmp_path):
    probe = graph.node('rqt_plot_stand_in')
    plotted = []
    probe.create_subscription(Float64, 'ps_control/metrics/expected_reward',
                              lambda m: plotted.append(m.data), common.METRICS_QOS)
    checkpoint = str(tmp_path / 'dp.ckpt')
    _, learner = run_learning(graph, 4, checkpoint=checkpoint)
    history = learner.done.result()
    rewards = [m['expected_reward'] for m in history]
    assert [m['iteration'] for m in history] == [1, 2, 3, 4]
    assert all(m['samples'] == 5 for m in history)
    assert rewards[-1] > rewards[0]
    # the metrics topics carry what the learner computed (what rqt_plot draws)
    assert graph.spin_until(lambda: len(plotted) >= 4)
    assert plotted == rewards
    # the checkpoint holds the last iteration
    saved = learning.PolicySearch.load(checkpoint, learner.task)
    assert len(saved.history) == 4
    assert policy_digest(saved.policy) == policy_digest(learner.search.policy)
    # same learning curve as the batch loop, within the sampling noise (other random streams)
    batch = batch_curve(4)
    relative = np.abs(np.array(rewards) - batch) / np.abs(batch)
    assert relative.max() < 0.15, (rewards, batch)


def test_two_namespaced_workers_share_the_episodes(graph):
    workers, learner = run_learning(graph, 1, num_workers=2, samples=4)
    assert len(learner.done.result()) == 1
    namespaces = [sim.get_namespace() for sim, _ in workers]
    assert namespaces == ['/worker_0', '/worker_1']
    # each controller ran two episodes on its own simulator, on a clock of its own
    assert [controller.episode for _, controller in workers] == [2, 2]
    assert all(sim.steps == 2 * 30 for sim, _ in workers)
    subscribed = {name for name, _ in workers[1][1].get_subscriber_names_and_types_by_node(
        'controller', '/worker_1')}
    assert '/worker_1/clock' in subscribed and '/worker_1/joint_states' in subscribed


def test_the_learner_scores_the_torques_the_controller_applied(graph, tmp_path):
    """A controller with effort limits below the task's: reward and saturation are of its."""
    marker = '    fallback_damping: 0.0'
    node, updates = learn_recording_updates(graph, task_copy(
        tmp_path, marker, '    effort_limits: [3.0, 3.0]\n' + marker))
    assert node.done.exception() is None
    (states, actions, torques), = updates
    np.testing.assert_allclose(torques, np.clip(actions, -3.0, 3.0))
    assert 0.0 < np.mean(np.abs(actions) > 3.0) < np.mean(np.abs(actions) > 0.0)
    metrics = node.search.history[0]
    assert metrics['saturation'] == pytest.approx(np.mean(np.abs(actions) > 3.0))
    task = node.search.task
    applied = task.reward(states, torques).mean()
    assert metrics['expected_reward'] == pytest.approx(applied, rel=1e-12)
    # (the action term is small beside the state term, but the two are told apart)
    commanded = task.reward(states, np.clip(actions, -10.0, 10.0)).mean()
    assert abs(commanded - applied) > 1e-9 * abs(applied)


def test_resume_needs_an_existing_checkpoint(tmp_path):
    graph = Graph()
    try:
        with pytest.raises(ValueError, match='existing checkpoint'):
            build_nodes(TASK, learner=dict(SHORT, iterations=1, resume=True,
                                           checkpoint=str(tmp_path / 'none.ckpt')),
                        context=graph.context)
    finally:
        graph.close()


def test_an_existing_checkpoint_is_not_overwritten_without_resume(tmp_path):
    checkpoint = tmp_path / 'kept.ckpt'
    checkpoint.write_bytes(b'an earlier run')
    graph = Graph()
    try:
        with pytest.raises(ValueError, match='exists: set resume: true'):
            build_nodes(TASK, learner=dict(SHORT, iterations=1, checkpoint=str(checkpoint)),
                        context=graph.context)
    finally:
        graph.close()
    assert checkpoint.read_bytes() == b'an earlier run'


@pytest.mark.parametrize('path, message', [
    ('folder', 'checkpoint .*folder is a folder, not a file'),
    ('file/run.ckpt', 'checkpoint .*: .*file is a file, not a folder'),
])
def test_a_checkpoint_path_that_cannot_be_written_is_refused_at_start(tmp_path, path, message):
    (tmp_path / 'folder').mkdir()
    (tmp_path / 'file').write_text('')
    graph = Graph()
    try:
        with pytest.raises(ValueError, match=message):
            build_nodes(TASK, learner=dict(SHORT, iterations=1,
                                           checkpoint=str(tmp_path / path)),
                        context=graph.context)
    finally:
        graph.close()


@pytest.mark.parametrize('option, message', [
    (['--iterations', '0'], 'argument --iterations: must be >= 1'),
    (['--samples', '1'], 'argument --samples: must be >= 2'),
    (['--horizon', '0'], 'argument --horizon: must be >= 1'),
    (['--algorithm', ''], 'invalid choice'),
])
def test_run_rejects_zero_and_empty_settings(option, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run.parse_args([TASK] + option)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize('old, new, message', [
    ('    stale_periods: 2.0', '    stale_period: 2.0',
     'the controller node has no parameter.s. stale_period \\(it has: '),
    ('    stale_periods: 2.0', '    stale_periods: -1.0',
     'task_copy.yaml, the controller node: .*stale_periods'),
    ('    fallback_damping: 0.0', '    fallback_damping: .nan',
     'task_copy.yaml, the controller node: .*fallback_damping'),
    ('    fallback_damping: 0.0', '    fallback_damping: 0',
     "task_copy.yaml, the controller node: .*'fallback_damping'.*INTEGER"),
    ('/**/controller:', '/**/controler:',
     r'task_copy.yaml: section\(s\) /\*\*/controler are for no node of the system'),
    ('    stale_periods: 2.0', '    stale_periods: 2.0\n    stale_periods: 3.0',
     "key 'stale_periods' given twice in one mapping"),
])
def test_run_refuses_a_bad_node_section_in_one_line(tmp_path, capsys, old, new, message):
    import signal
    path = task_copy(tmp_path, old, new)
    handlers = [signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)]
    assert run.main([path, '--iterations', '1', '--samples', '2', '--horizon', '5']) == 2
    # the process's own Ctrl-C and SIGTERM handling is back as it was
    assert [signal.getsignal(n) for n in (signal.SIGINT, signal.SIGTERM)] == handlers
    assert not common.STOP_REQUESTED.is_set()
    err = capsys.readouterr().err
    assert re.search(message, err) and err.startswith('ps-control run: '), err
    assert 'Traceback' not in err


@pytest.mark.parametrize('ros_args', [['-p', 'stale_periods:=5.0'],
                                      ['--params-file', 'x.yaml'], ['--param', 'seed:=3']])
def test_run_refuses_parameters_after_ros_args(capsys, ros_args):
    """The task file's node sections would override them unseen (rclpy's order)."""
    assert run.main([TASK, '--iterations', '1', '--ros-args'] + ros_args) == 2
    err = capsys.readouterr().err
    assert err.startswith('ps-control run: node parameters cannot be given after --ros-args')


def test_run_takes_a_task_file_like_train(tmp_path):
    """A copy of a task file gives the same node parameters as the task's name."""
    from ps_control.tasks import task_path
    copy = tmp_path / 'copy.yaml'
    copy.write_text(open(task_path(TASK)).read())
    for node in run.NODE_SECTIONS:
        assert run.node_parameters(str(copy), node) == run.node_parameters(TASK, node)
    assert run.node_parameters(TASK, 'learner')  # the section is there: the test compares
    status = run.main([str(tmp_path / 'missing.yaml')])
    assert status == 2


def test_run_refuses_a_plot_below_a_file_before_learning(tmp_path, capsys):
    (tmp_path / 'file').write_text('')
    assert run.main([TASK, '--plot', str(tmp_path / 'file' / 'curve.png')]) == 2
    assert 'ps-control run: --plot %s' % (tmp_path / 'file' / 'curve.png') \
        in capsys.readouterr().err


class SilentWorker:
    """A worker whose services answer but whose robot never moves: no transitions arrive."""

    def __init__(self, graph, namespace):
        node = graph.node('silent_worker', namespace=namespace)
        self.policy = None
        self.episodes = 0
        self.stops = 0
        node.create_subscription(Float64MultiArray, common.POLICY, self._on_policy,
                                 common.LATCHED_QOS)
        node.create_service(Trigger, common.START_EPISODE, self._start)
        node.create_service(Trigger, common.STOP_EPISODE, self._stop)
        node.create_service(Trigger, common.RESET, self._answer)

    def _on_policy(self, msg):
        self.policy = policy_from_msg(msg)

    def _start(self, request, response):
        self.episodes += 1
        response.success = self.policy is not None
        response.message = 'episode=%d policy=%s' % (
            self.episodes, policy_digest(self.policy) if self.policy is not None else '')
        return response

    def _stop(self, request, response):
        self.stops += 1
        return self._answer(request, response)

    def _answer(self, request, response):
        response.success = True
        return response


def test_episodes_that_time_out_are_retried_then_stop_the_learner(graph, capfd):
    namespace = '/silent_worker_test'  # no other test's controller can answer here
    worker = SilentWorker(graph, namespace)
    values = dict(SHORT, task_name=TASK, iterations=1, samples=2, episode_timeout=0.3,
                  retries=2)
    learner = graph.add(LearnerNode(context=graph.context, namespace=namespace,
                                    parameter_overrides=params(**values)))
    graph.executor.create_task(learner.run)
    assert graph.spin_until(learner.done.done)
    error = learner.done.exception()
    assert error is not None and 'timed out after 0.3 s with 0 of 31 steps' in str(error)
    assert 'failure 2 of 2 allowed on this worker' in str(error)
    assert worker.episodes == 2  # the first failure was run again, the second ended it
    assert worker.stops == 2  # each episode that timed out was disarmed on its controller
    assert 'running it again' in capfd.readouterr().err


@pytest.mark.parametrize('reset, settle, slept', [
    (False, 2.5, [2.5]), (False, 0.0, []), (True, 2.5, [0.1])])  # 0.1: the state after a reset
def test_without_a_reset_each_episode_waits_for_the_robot_to_settle(graph, reset, settle,
                                                                    slept):
    """Hardware (reset: false): settle_seconds before each episode; with a reset, none."""
    from rclpy.task import Future
    _, node = graph.build(TASK, lockstep=False,
                          learner=dict(SHORT, reset=reset, settle_seconds=settle))
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        future = Future()
        future.set_result(None)
        return future

    async def start(worker):
        return 1

    async def reset_worker(worker):
        return None
    node.sleep, node.start, node._reset = sleep, start, reset_worker
    begun = graph.executor.create_task(node.begin(node.workers[0]))
    assert graph.spin_until(begun.done) and begun.exception() is None
    assert waits == slept


def test_lockstep_without_a_reset_is_refused(graph, monkeypatch):
    """In lockstep the reset publishes the first state: without one no episode would start."""
    from rclpy.exceptions import InvalidHandle
    built = []
    construct = run._construct

    def recording(*args, **kwargs):
        built.append(construct(*args, **kwargs))
        return built[-1]
    monkeypatch.setattr(run, '_construct', recording)
    with pytest.raises(ValueError, match='lockstep: true needs reset: true'):
        build_nodes(TASK, lockstep=True, context=graph.context,
                    learner=dict(SHORT, reset=False))
    # the simulator and controller built before the learner was refused are destroyed (left in
    # the graph, their publishers would be taken for a second system's)
    assert len(built) == 2
    for node in built:
        with pytest.raises(InvalidHandle):
            node.get_name()


def test_a_robot_whose_joint_states_come_late_is_waited_for(graph, capfd):
    """Hardware start-up: the learner asks the controller again until the states are up."""
    from ps_control.nodes.controller_node import ControllerNode
    from sensor_msgs.msg import JointState
    namespace = '/late_robot_test'
    graph.add(ControllerNode(context=graph.context, namespace=namespace,
                             parameter_overrides=params(task_name=TASK, lockstep=False,
                                                        control_rate=50.0)))
    learner = graph.add(LearnerNode(context=graph.context, namespace=namespace,
                                    parameter_overrides=params(**dict(
                                        SHORT, task_name=TASK, iterations=1, samples=2,
                                        horizon=5, lockstep=False, reset=False))))
    robot = graph.node('late_robot', namespace=namespace)
    states = robot.create_publisher(JointState, common.JOINT_STATES, common.STATE_QOS)
    graph.executor.create_task(learner.run)
    began = time.monotonic()

    def publish_after_a_while():
        if time.monotonic() - began > 2.0:  # the driver comes up 2 s late
            states.publish(JointState(name=['joint_1', 'joint_2'], position=[0.0, 0.0],
                                      velocity=[0.0, 0.0]))
        return learner.done.done()
    assert graph.spin_until(publish_after_a_while, timeout=60.0)
    assert learner.done.exception() is None, learner.done.exception()
    assert len(learner.done.result()) == 1
    assert capfd.readouterr().err.count(  # said once per episode start, not per attempt
        'controller of worker (own namespace) refused to start an episode (not started: no joint '
        'states received on joint_states yet); asking again for up to') == 1


@pytest.mark.parametrize('lockstep', [False, True])
def test_a_reset_is_sent_again_only_out_of_lockstep(graph, lockstep):
    """Out of lockstep a simulator restarted after a crash never got the first request."""
    from rclpy.task import Future
    _, node = graph.build(TASK, lockstep=lockstep, with_learner=True)
    repeats = []

    def call(client, repeat=True):
        repeats.append((client.srv_name, repeat))
        future = Future()
        future.set_result(Trigger.Response(success=True))
        return future
    node.call = call
    done = graph.executor.create_task(node._reset(node.workers[0]))
    assert graph.spin_until(done.done) and done.exception() is None
    assert repeats == [(node.workers[0].reset.srv_name, not lockstep)]


def test_missing_worker_services_stop_the_learner_with_their_names(graph):
    values = dict(SHORT, task_name=TASK, iterations=1, service_timeout=0.5)
    learner = graph.add(LearnerNode(context=graph.context, namespace='/no_workers_test',
                                    parameter_overrides=params(**values)))
    graph.executor.create_task(learner.run)
    assert graph.spin_until(learner.done.done)
    message = str(learner.done.exception())
    assert 'services not available after 0.5 s' in message
    assert common.START_EPISODE in message and common.RESET in message


def test_a_checkpoint_with_no_iterations_left_is_served_without_learning(tmp_path, capfd):
    """How a learnt policy is run on its own: resume with the iterations already done."""
    checkpoint = str(tmp_path / 'served.ckpt')
    graph = Graph()
    try:
        _, learner = run_learning(graph, 1, checkpoint=checkpoint)
        learnt = learner.search.policy
    finally:
        graph.close()
    graph = Graph()
    try:
        # without its horizon parameter: the run's (30 steps, not the task file's) is taken
        workers, learner = run_learning(graph, 1, checkpoint=checkpoint, resume=True, horizon=0)
        assert learner.task.horizon == SHORT['horizon'] < load_task(TASK).horizon
        controller = workers[0][1]
        assert graph.spin_until(lambda: controller.digest == policy_digest(learnt))
        assert len(learner.done.result()) == 1  # nothing learnt
        assert ('nothing to learn: the checkpoint has 1 iterations of the 1 asked for; serving '
                'its policy' in capfd.readouterr().err)
        assert controller.episode == 0  # and no episode run: the user starts them
        # a setting other than iterations and samples that differs from the run's is refused
        with pytest.raises(ValueError, match='does not match this run: it holds a run with '
                                             'seed 0, not 5'):
            build_nodes(TASK, learner=dict(SHORT, iterations=1, checkpoint=checkpoint,
                                           resume=True, seed=5), context=graph.context)
    finally:
        graph.close()


def test_mean_action_reaches_every_controller(graph):
    workers, _ = graph.build(TASK, num_workers=2, with_learner=False, explore=False)
    default, _ = graph.build(TASK, with_learner=False)
    assert [ctl.explore for _, ctl in workers] == [False, False]
    assert default[0][1].explore is True  # the task file's controller section
    assert run.parse_args([TASK, '--mean-action']).mean_action


def test_gui_opens_the_first_workers_pybullet_gui_only(graph, monkeypatch):
    """One PyBullet GUI per process, so the first worker only; without a display, recorded."""
    requested = []
    original = common.make_simulator

    def recording(task, urdf=None, gui=False):
        requested.append(gui)
        return original(task, urdf)

    monkeypatch.setattr(common, 'make_simulator', recording)
    workers, _ = graph.build(TASK, num_workers=2, with_learner=False, gui=True)
    default, _ = graph.build(TASK, with_learner=False)
    assert requested == [True, False, False]
    assert [sim.get_parameter('gui').value for sim, _ in workers] == [True, False]
    assert run.parse_args([TASK, '--gui']).gui and not run.parse_args([TASK]).gui


def test_training_resumes_from_the_checkpoint_of_a_killed_learner(tmp_path, spare_domain_env):
    checkpoint = str(tmp_path / 'run.ckpt')
    command = [sys.executable, '-m', 'ps_control.cli', 'run', TASK, '--algorithm', 'gps',
               '--samples', '5', '--horizon', '30', '--iterations', '50',
               '--checkpoint', checkpoint, '--plot', str(tmp_path / 'curve.png')]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, start_new_session=True,
                               env=spare_domain_env)
    try:
        deadline = time.monotonic() + 60.0
        done = 0
        while done < 2 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.1)
            if os.path.exists(checkpoint):
                done = _iterations(checkpoint)
        assert done >= 2, process.stderr.read().decode() if process.poll() is not None else ''
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the learner dies mid-run, without warning
        process.wait()
        process.stderr.close()
    task = dataclasses.replace(load_task(TASK), horizon=30)
    saved = learning.PolicySearch.load(checkpoint, task)
    done = len(saved.history)
    graph = Graph()
    try:
        _, learner = run_learning(graph, done + 2, checkpoint=checkpoint, resume=True)
        assert policy_digest(saved.policy) != policy_digest(learner.search.policy)
        history = learner.done.result()
    finally:
        graph.close()
    assert [m['iteration'] for m in history] == list(range(1, done + 3))
    assert history[:done] == saved.history
    assert len(learning.PolicySearch.load(checkpoint, task).history) == done + 2


@pytest.mark.parametrize('stop, status', [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stopped_run_exits_with_the_signal_status_and_keeps_its_checkpoint(
        tmp_path, stop, status):
    checkpoint = str(tmp_path / 'run.ckpt')
    command = [sys.executable, '-m', 'ps_control.cli', 'run', TASK, '--algorithm', 'gps',
               '--samples', '3', '--horizon', '30', '--iterations', '50',
               '--checkpoint', checkpoint, '--plot', str(tmp_path / 'curve.png')]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 60.0
        while (_iterations(checkpoint) < 1 and time.monotonic() < deadline
               and process.poll() is None):
            time.sleep(0.1)
        assert process.poll() is None, process.stderr.read().decode()
        process.send_signal(stop)
        code = process.wait(timeout=60)
        stderr = process.stderr.read().decode()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        process.stderr.close()
    assert code == status, stderr
    assert 'Traceback' not in stderr, stderr
    assert _iterations(checkpoint) >= 1
    assert not os.path.exists(tmp_path / 'curve.png')  # stopped, not finished


def _iterations(path):
    """Return the number of iterations in a checkpoint (0 while it cannot be read)."""
    task = dataclasses.replace(load_task(TASK), horizon=30)
    try:
        return len(learning.PolicySearch.load(path, task).history)
    except (OSError, ValueError):
        return 0


def test_progress_line_shows_the_adapted_bound_only_with_step_adaptation():
    metrics = {'iteration': 3, 'expected_reward': -512.0, 'max_kl': 2.4, 'mean_entropy': 1.5,
               'success_rate': 0.25, 'collect_seconds': 1.0, 'update_seconds': 0.5,
               'episodes': 10}
    line = format_metrics(metrics)
    assert 'iteration 3' in line and 'max KL 2.4,' in line and 'bound' not in line
    assert '(10 episodes in 1.00 s, update 0.50 s)' in line
    assert 'max KL 2.4 (bound 2.5),' in format_metrics(dict(metrics, epsilon=2.5))


def test_diagnostics_warn_when_the_policy_was_kept_and_name_a_refit():
    from diagnostic_msgs.msg import DiagnosticStatus
    assert metrics_status({'iteration': 4}) == (DiagnosticStatus.OK, 'iteration 4')
    kept = metrics_status({'iteration': 4, 'update_error': 'no update, policy kept: x'})
    assert kept == (DiagnosticStatus.WARN, 'iteration 4: no update, policy kept: x')
    level, message = metrics_status({'iteration': 5, 'refit': 'no fixed point'})
    assert level == DiagnosticStatus.OK
    assert message == 'iteration 5: updated on a refit (on the first fit: no fixed point)'
    assert metrics_status({'iteration': 6, 'diverged': 0}) == (DiagnosticStatus.OK,
                                                               'iteration 6')
    assert metrics_status({'iteration': 6, 'diverged': 2}) == (
        DiagnosticStatus.WARN, 'iteration 6: 2 episodes diverged and were run again')


def test_a_diverged_episode_is_refused_naming_the_step(graph):
    from ps_control.nodes.learner_node import DivergedEpisodeError, Worker
    worker = Worker(graph.node('probe'), '', 2, 1, divergence_bound=4.0)
    horizon = 5
    worker.expect(episode=3, horizon=horizon)
    for step in range(horizon + 1):
        x = np.full(2, 5.0 if step >= 2 else 0.1)  # beyond the bound from step 2
        worker.rows[step] = (0.0, x, np.zeros(1), np.zeros(1))
    with pytest.raises(DivergedEpisodeError, match='episode 3 .* diverged: its state at step '
                                                   '2 is beyond .*divergence_bound 4'):
        worker.arrays()
    for step in range(horizon + 1):
        worker.rows[step] = (0.0, np.full(2, 0.1), np.zeros(1), np.zeros(1))
    states, actions, _ = worker.arrays()  # within the bound: used
    assert states.shape == (horizon + 1, 2) and actions.shape == (horizon, 1)


def test_episodes_that_diverge_are_never_fitted(tmp_path):
    """Every episode leaves a bound of 0.5: each is run again, then the iteration fails."""
    graph = Graph()
    try:
        node, updates = learn_recording_updates(graph, task_copy(
            tmp_path, 'divergence_bound: 100.0', 'divergence_bound: 0.5'))
        error = node.done.exception()
        assert error is not None and 'diverged' in str(error), error
        assert 'failure 3 of 3' in str(error) and node.diverged == 3 and not updates
    finally:
        graph.close()


def test_divergence_is_refused_for_fitted_learners_and_once_only_without_a_reset(tmp_path):
    """
    Refuse diverged episodes where dynamics are fitted; on hardware, stop at the first.

    G-(A)MDS score a diverged episode as a costly sample (as their batch runs): no bound. With
    ``reset: false`` a diverged episode is not run again, the iteration fails at once.
    """
    import math
    from ps_control.nodes.learner_node import DivergedEpisodeError, EpisodeError
    graph = Graph()
    try:
        _, gps = graph.build(TASK, learner=dict(SHORT, iterations=1))
        assert gps.workers[0].divergence_bound == load_task(TASK).divergence_bound
        gps._failed(0, [0], DivergedEpisodeError('episode 0 diverged'))  # run again
        gps.use_reset = False
        with pytest.raises(EpisodeError, match='episode 0 diverged; not run again without a '
                                               'reset'):
            gps._failed(0, [0], DivergedEpisodeError('episode 0 diverged'))
        assert gps.diverged == 2
        _, amds = graph.build('arm_2', learner={'algorithm': 'g_amds', 'iterations': 1})
        assert amds.workers[0].divergence_bound == math.inf
    finally:
        graph.close()


def _worker(graph, horizon=3):
    from ps_control.nodes.learner_node import Worker
    worker = Worker(graph.node('probe'), '', 2, 1, divergence_bound=100.0)
    worker.expect(episode=2, horizon=horizon)
    return worker


def _tick(episode, step, x, u=0.0, status=0.0, torque=None):
    from ps_control.nodes.messages import transition_to_msg
    return transition_to_msg(episode, step, status, np.asarray(x, float), np.array([u]),
                             np.array([u if torque is None else torque]))


def test_transitions_of_another_episode_are_ignored(graph):
    worker = _worker(graph)
    for step in range(3):
        worker._on_transition(_tick(2, step, [step, 0.0]))
    worker._on_transition(_tick(1, 3, [9.0, 9.0]))   # a late tick of the previous episode
    assert not worker.done.done()
    worker._on_transition(_tick(2, 3, [3.0, 0.0]))
    assert worker.done.done()
    worker._on_transition(_tick(1, 1, [9.0, 9.0]))
    states, _, _ = worker.arrays()
    np.testing.assert_array_equal(states[:, 0], [0.0, 1.0, 2.0, 3.0])


def test_the_episode_arrays_are_the_reported_states_actions_and_torques(graph):
    worker = _worker(graph)
    for step in range(4):
        worker._on_transition(_tick(2, step, [step, -step], u=10.0 + step, torque=-step))
    states, actions, torques = worker.arrays()
    np.testing.assert_array_equal(states, [[t, -t] for t in range(4)])
    np.testing.assert_array_equal(actions[:, 0], [10.0, 11.0, 12.0])
    np.testing.assert_array_equal(torques[:, 0], [0.0, -1.0, -2.0])


def test_a_nan_action_is_an_episode_error(graph):
    from ps_control.nodes.learner_node import EpisodeError
    worker = _worker(graph)
    for step in range(4):
        worker._on_transition(_tick(2, step, [0.1, 0.1], u=np.nan if step == 1 else 0.0))
    with pytest.raises(EpisodeError, match='holds NaN'):
        worker.arrays()


def test_a_fallback_terminal_tick_is_a_fallback_not_a_divergence(graph):
    """The controller reports x_T as NaN when its joint states failed at the terminal tick."""
    from ps_control.nodes.learner_node import DivergedEpisodeError, EpisodeError
    worker = _worker(graph)
    for step in range(3):
        worker._on_transition(_tick(2, step, [0.1, 0.1]))
    worker._on_transition(_tick(2, 3, [np.nan, np.nan], u=0.0, status=1.0))
    with pytest.raises(EpisodeError, match='safe-fallback ticks at steps \\[3\\]') as error:
        worker.arrays()
    assert not isinstance(error.value, DivergedEpisodeError)


class _StaleController:
    """start answers with an older policy digest twice, then with the newest."""

    def __init__(self, graph, namespace, digest):
        from ps_control.nodes import common
        from std_srvs.srv import Trigger
        node = graph.node('stale_controller', namespace=namespace)
        self.digest, self.starts, self.stops = digest, 0, 0
        node.create_service(Trigger, common.START_EPISODE, self._start)
        node.create_service(Trigger, common.STOP_EPISODE, self._stop)

    def _start(self, request, response):
        self.starts += 1
        response.success = True
        response.message = 'episode=%d policy=%s' % (
            self.starts, 'old' if self.starts < 3 else self.digest)
        return response

    def _stop(self, request, response):
        self.stops += 1
        response.success = True
        return response


def test_a_controller_armed_with_an_older_policy_is_asked_again(graph):
    from nodes_support import params
    from ps_control.nodes.learner_node import LearnerNode
    namespace = '/stale_controller_test'
    controller = _StaleController(graph, namespace, 'newest')
    learner = graph.add(LearnerNode(context=graph.context, namespace=namespace,
                                    parameter_overrides=params(
                                        task_name='double_pendulum', algorithm='gps',
                                        samples=5, horizon=30, service_timeout=10.0)))
    worker = learner.workers[0]
    worker.digest = 'newest'
    assert graph.spin_until(worker.start.service_is_ready)
    task = graph.executor.create_task(learner.start, worker)
    assert graph.spin_until(task.done)
    assert task.result() == 3 and controller.stops == 2


RUN_ARGS = ['--algorithm', 'gps', '--samples', '3', '--horizon', '5']  # a short run


def test_run_learns_checkpoints_resumes_and_plots(tmp_path, monkeypatch):
    """The command line's samples and resume reach the learner; the curve is drawn."""
    checkpoint, plot = str(tmp_path / 'run.ckpt'), tmp_path / 'curve.png'
    task = dataclasses.replace(load_task(TASK), horizon=5)
    options = RUN_ARGS + ['--checkpoint', checkpoint, '--plot', str(plot)]
    assert run.main([TASK, '--iterations', '1'] + options) == 0
    first = learning.PolicySearch.load(checkpoint, task).history
    assert [m['samples'] for m in first] == [3]
    assert plot.exists()
    assert run.main([TASK, '--iterations', '2', '--resume'] + options) == 0
    history = learning.PolicySearch.load(checkpoint, task).history
    assert [m['iteration'] for m in history] == [1, 2] and history[0] == first[0]


def test_run_keeps_the_task_files_explore_setting(tmp_path, monkeypatch):
    """Without --mean-action the controllers explore as the task file says (here: not)."""
    path = task_copy(tmp_path, '    explore: true', '    explore: false')
    explored = []
    build = run.build_nodes

    def recording(*args, **kwargs):
        workers, learner = build(*args, **kwargs)
        explored.extend(controller.explore for _, controller in workers)
        return workers, learner
    monkeypatch.setattr(run, 'build_nodes', recording)
    assert run.main([path, '--iterations', '1', '--plot', str(tmp_path / 'c.png')] + RUN_ARGS) == 0
    assert explored == [False]


def test_a_node_with_an_unknown_parameter_is_destroyed(tmp_path):
    """A node refused for a misspelt parameter does not stay in the ROS graph."""
    graph = Graph()
    built = []

    def factory(**kwargs):
        built.append(SimulatorNode(**kwargs))
        return built[-1]
    try:
        with pytest.raises(ValueError, match='has no parameter.s. stale_period'):
            run._construct(factory, 'simulator', TASK,
                           {'task_name': TASK, 'stale_period': 1.0}, context=graph.context)
        with pytest.raises(InvalidHandle):
            built[0].get_name()
    finally:
        graph.close()
