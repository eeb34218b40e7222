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

"""The learner node's episode bookkeeping, retries, service calls, parameters and metrics."""

import dataclasses

from diagnostic_msgs.msg import DiagnosticArray
from diagnostic_msgs.msg import DiagnosticStatus
from nodes_support import Graph
from nodes_support import open_graph
from nodes_support import params
import numpy as np
from ps_control import learning, learning_config
from ps_control.nodes import common, learner_node
from ps_control.nodes.learner_node import DivergedEpisodeError
from ps_control.nodes.learner_node import EpisodeError
from ps_control.nodes.learner_node import LearnerNode
from ps_control.nodes.learner_node import Worker
from ps_control.nodes.messages import policy_digest
from ps_control.nodes.messages import transition_to_msg
from ps_control.run import build_nodes
from ps_control.tasks import load_task, task_path
import pytest
from rclpy.task import Future
from std_srvs.srv import Trigger


pytestmark = pytest.mark.ros

TASK = 'double_pendulum'
SHORT = {'algorithm': 'gps', 'samples': 5, 'horizon': 30}


@pytest.fixture
def graph():
    """Yield a context of its own with an executor, torn down after the test."""
    yield from open_graph()


def _tick(episode, step, x, u=0.0, torque=None, status=0.0):
    return transition_to_msg(episode, step, status, np.asarray(x, float), np.array([u]),
                             np.array([u if torque is None else torque]))


def _worker(graph, bound=100.0):
    return Worker(graph.node('probe'), '', 2, 1, divergence_bound=bound)


def _checkpoint(path, seed=0, horizon=30):
    """Write the checkpoint of a fresh GPS run of TASK (no iteration yet); return its path."""
    task = dataclasses.replace(load_task(TASK), horizon=horizon)
    config = learning_config.load_learning_config(
        task, {'algorithm': 'gps', 'samples': 5, 'seed': seed})
    learning.make_search(task, config).save(str(path))
    return str(path)


def test_a_new_episode_keeps_no_step_of_the_previous_one(graph):
    """Steps of the last episode never fill the gaps of the next one."""
    worker = _worker(graph)
    worker.expect(episode=2, horizon=3)
    for step in range(4):
        worker._on_transition(_tick(2, step, [0.1, 0.1]))
    worker.arrays()
    worker.expect(episode=3, horizon=3)
    worker._on_transition(_tick(3, 3, [0.2, 0.2]))  # only the terminal tick arrives
    assert worker.done.done()
    with pytest.raises(EpisodeError, match='misses steps \\[0, 1, 2\\]'):
        worker.arrays()


def test_a_missing_terminal_step_is_an_episode_error(graph):
    """A tick beyond the horizon ends the episode; the missing terminal step is named."""
    worker = _worker(graph)
    worker.expect(episode=2, horizon=3)
    for step in (0, 1, 2, 4):
        worker._on_transition(_tick(2, step, [0.1, 0.1]))
    assert worker.done.done()
    with pytest.raises(EpisodeError, match='misses steps \\[3\\]'):
        worker.arrays()


def test_a_nan_torque_is_an_episode_error(graph):
    """The applied torques are scored: a NaN among them makes the episode unusable."""
    worker = _worker(graph)
    worker.expect(episode=2, horizon=3)
    for step in range(4):
        worker._on_transition(_tick(2, step, [0.1, 0.1], torque=np.nan if step == 1 else 0.0))
    with pytest.raises(EpisodeError, match='holds NaN'):
        worker.arrays()


def test_a_state_beyond_the_bound_at_the_last_step_only_is_a_divergence(graph):
    """One state beyond the divergence bound, the terminal one, is enough to refuse it."""
    worker = _worker(graph, bound=4.0)
    worker.expect(episode=2, horizon=3)
    for step in range(4):
        worker._on_transition(_tick(2, step, [5.0 if step == 3 else 0.1, 0.1]))
    with pytest.raises(DivergedEpisodeError, match='at step 3'):
        worker.arrays()


class _LosingClient:
    """A Trigger client whose first request is lost (never answered); later ones succeed."""

    srv_name = 'lossy/start_episode'

    def __init__(self):
        self.requests = 0

    def call_async(self, request):
        self.requests += 1
        future = Future()
        if self.requests > 1:
            future.set_result(Trigger.Response(success=True, message='answered'))
        return future


def test_a_lost_service_response_is_asked_for_again_before_the_time_out(graph, monkeypatch):
    """Idempotent calls are sent again every ATTEMPT_SECONDS, within service_timeout."""
    monkeypatch.setattr(learner_node, 'ATTEMPT_SECONDS', 0.1)
    node = graph.add(LearnerNode(context=graph.context, namespace='/lossy_test',
                                 parameter_overrides=params(task_name=TASK, service_timeout=2.0,
                                                            **SHORT)))
    client = _LosingClient()

    async def call():
        # (a task ending in an exception crashes rclpy's EventsExecutor: return it instead)
        try:
            return await node.call(client)
        except EpisodeError as error:
            return error
    task = graph.executor.create_task(call)
    assert graph.spin_until(task.done)
    assert isinstance(task.result(), Trigger.Response), task.result()
    assert task.result().message == 'answered' and client.requests == 2


def test_in_lockstep_an_episode_is_reset_once_after_its_start(graph):
    """In lockstep the reset (one simulated step) follows the start; no reset comes before."""
    _, node = graph.build(TASK, lockstep=True, learner=dict(SHORT))
    calls = []

    async def start(worker):
        calls.append('start')
        return 1

    async def reset(worker):
        calls.append('reset')

    def sleep(seconds):
        future = Future()
        future.set_result(None)
        return future
    node.start, node._reset, node.sleep = start, reset, sleep
    begun = graph.executor.create_task(node.begin(node.workers[0]))
    assert graph.spin_until(begun.done) and begun.exception() is None
    assert calls == ['start', 'reset']


def test_failed_episodes_are_run_again_and_reported(graph):
    """A refused start and a diverged episode are run again; the iteration counts them."""
    _, node = graph.build(TASK, learner=dict(SHORT, samples=2, horizon=5, iterations=1))
    real_begin, worker = node.begin, node.workers[0]
    real_arrays = worker.arrays
    failures = {'begin': 1, 'arrays': 1}

    async def begin(worker):
        if failures['begin']:
            failures['begin'] -= 1
            raise EpisodeError('refused once')
        return await real_begin(worker)

    def arrays():
        if failures['arrays']:
            failures['arrays'] -= 1
            real_arrays()
            raise DivergedEpisodeError('diverged once')
        return real_arrays()
    node.begin, worker.arrays = begin, arrays
    reported = []
    node.on_iteration.append(reported.append)
    graph.executor.create_task(node.run)
    assert graph.spin_until(node.done.done, 60.0)
    assert node.done.exception() is None, node.done.exception()
    metrics, = reported
    assert metrics['episodes'] == 2 and metrics['diverged'] == 1
    assert metrics_level(metrics) == 'WARN'


def metrics_level(metrics):
    """Return the name of the diagnostic level of an iteration's metrics."""
    level, _ = learner_node.metrics_status(metrics)
    return {DiagnosticStatus.OK: 'OK', DiagnosticStatus.WARN: 'WARN'}[level]


def test_the_learnt_policy_reaches_the_controller_after_the_last_iteration(graph):
    """Learning done, the controller serves the learner's newest policy."""
    workers, node = graph.learn(TASK, dict(SHORT, samples=2, horizon=5, iterations=1))
    controller = workers[0][1]
    newest = policy_digest(node.search.policy)
    assert graph.spin_until(lambda: controller.digest == newest, 10.0)


def test_seed_zero_overrides_the_task_files_seed(graph, tmp_path):
    """seed: 0 is a seed like any other, not 'as the learning config says'."""
    text = open(task_path(TASK)).read()
    assert text.count('      seed: 0\n') == 1
    copy = tmp_path / 'seed_5.yaml'
    copy.write_text(text.replace('      seed: 0\n', '      seed: 5\n'))
    node = graph.add(LearnerNode(context=graph.context, parameter_overrides=params(
        task_name=str(copy), seed=0, **SHORT)))
    assert node.config.seed == 0
    other = graph.add(LearnerNode(context=graph.context, parameter_overrides=params(
        task_name=str(copy), **SHORT)))
    assert other.config.seed == 5


def test_resuming_with_another_horizon_is_refused(tmp_path):
    """A horizon given on resume must be the checkpoint's: it is never silently replaced."""
    checkpoint = _checkpoint(tmp_path / 'h30.ckpt', horizon=30)
    graph = Graph()
    try:
        _, node = graph.build(TASK, learner=dict(SHORT, iterations=1, resume=True,
                                                 checkpoint=checkpoint, horizon=30))
        assert node.task.horizon == 30
        with pytest.raises(ValueError, match='holds a run of 30 time steps, not 40'):
            build_nodes(TASK, context=graph.context, learner=dict(
                SHORT, iterations=1, resume=True, checkpoint=checkpoint, horizon=40))
    finally:
        graph.close()


def test_zero_retries_are_refused(graph):
    """A retries parameter below one (no failed episode allowed) is refused."""
    with pytest.raises(ValueError, match='retries'):
        graph.build(TASK, learner=dict(SHORT, retries=0))


def test_only_numbers_are_published_as_metrics(graph):
    """A flag among the metrics (dual_converged) is neither a topic nor a diagnostic value."""
    node = graph.add(LearnerNode(context=graph.context, namespace='/metrics_test',
                                 parameter_overrides=params(task_name=TASK, **SHORT)))
    probe = graph.node('diagnostics_probe', namespace='/metrics_test')
    received = []
    probe.create_subscription(DiagnosticArray, 'diagnostics', received.append,
                              common.METRICS_QOS)
    assert graph.spin_until(lambda: node.diagnostics_pub.get_subscription_count() > 0)
    node.publish_metrics({'iteration': 1, 'expected_reward': -3.0, 'dual_converged': True})
    assert graph.spin_until(lambda: received)
    keys = [value.key for value in received[0].status[0].values]
    assert keys == ['iteration', 'expected_reward']
    assert 'dual_converged' not in node.metric_pubs
