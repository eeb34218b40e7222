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
G-AMDS through the three nodes over real DDS, on the 2-link PyBullet arm.

Every episode runs its own sampled DMP movement as a tracking policy published to the
controller; the learner scores the movement the controller measured; the via-point cost falls
as in the batch loop; a checkpoint resumes; a task that is no arm is refused.
"""

import os
import subprocess
import sys

from nodes_support import Graph
from nodes_support import open_graph
import numpy as np
from ps_control import learning
from ps_control.mds_learning import ArmViaPointSearch
from ps_control.mds_learning import run_batch
from ps_control.nodes import common
from ps_control.nodes.messages import policy_digest
from ps_control.nodes.messages import policy_from_msg
from ps_control.run import build_nodes
from ps_control.tasks import load_task
import pytest
from std_msgs.msg import Float64
from std_msgs.msg import Float64MultiArray


pytestmark = pytest.mark.ros

TASK = 'arm_2'
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def graph():
    """Yield a context of its own with an executor, torn down after the test."""
    yield from open_graph()


def run_learning(graph, iterations, algorithm='g_amds', **learner):
    """Build the arm's nodes in the graph's context, run G-AMDS (G-MDS); return the learner."""
    values = {'algorithm': algorithm, 'iterations': iterations}
    values.update(learner)
    return graph.learn(TASK, values, timeout=240.0)[1]


@pytest.mark.parametrize('algorithm', ['g_amds', 'g_mds'])
def test_mirror_descent_through_the_nodes_reduces_the_measured_via_point_cost(
        graph, tmp_path, algorithm):
    probe = graph.node('policy_and_metrics_probe')
    policies, plotted = [], []
    task = load_task(TASK)
    probe.create_subscription(
        Float64MultiArray, common.POLICY,
        lambda m: policies.append(policy_digest(policy_from_msg(m, task.dx, task.du))),
        common.LATCHED_QOS)
    probe.create_subscription(Float64, 'ps_control/metrics/via_error',
                              lambda m: plotted.append(m.data), common.METRICS_QOS)
    checkpoint = str(tmp_path / 'arm.ckpt')
    learner = run_learning(graph, 6, algorithm, checkpoint=checkpoint)
    history = learner.done.result()
    search = learner.search
    assert isinstance(search, ArmViaPointSearch) and search.episode_count == 11
    assert search.config.algorithm == algorithm
    assert [m['iteration'] for m in history] == list(range(1, 7))
    # the measured movement of the mean gets closer to the via-point, and cheaper (batch runs
    # of config/arm_2.yaml, mean of updates 5 and 6: G-AMDS cost x 0.47 and distance x 0.69,
    # G-MDS x 0.31 and x 0.56)
    first, last = history[0], history[-2:]
    assert np.mean([m['mean_cost'] for m in last]) < 0.6 * first['mean_cost']
    assert np.mean([m['via_error'] for m in last]) < 0.8 * first['via_error']
    # every episode ran a policy of its own (10 samples and the mean per iteration)
    assert graph.spin_until(lambda: len(plotted) >= 6)
    assert plotted == [m['via_error'] for m in history]
    assert len(set(policies)) >= 6 * 10
    # the checkpoint holds the run
    saved = learning.load_search(checkpoint, learner.task)
    assert isinstance(saved, ArmViaPointSearch) and saved.history == history
    np.testing.assert_array_equal(saved.mean, search.mean)
    # the first iteration scores theta = 0 as the batch loop does on the same arm
    batch = ArmViaPointSearch(task, search.config)
    simulator = task.make_simulator(n_robots=batch.episode_count)
    try:
        run_batch(batch, simulator, 1, seed=0)
    finally:
        simulator.close()
    assert first['mean_cost'] == pytest.approx(batch.history[0]['mean_cost'], rel=0.1)


def test_g_amds_resumes_from_its_checkpoint(tmp_path):
    checkpoint = str(tmp_path / 'arm.ckpt')
    graph = Graph()
    try:
        first = run_learning(graph, 2, checkpoint=checkpoint).done.result()
    finally:
        graph.close()
    graph = Graph()
    try:
        learner = run_learning(graph, 4, checkpoint=checkpoint, resume=True)
        history = learner.done.result()
    finally:
        graph.close()
    assert [m['iteration'] for m in history] == [1, 2, 3, 4]
    assert history[:2] == first
    assert len(learning.load_search(checkpoint, load_task(TASK)).history) == 4
    graph = Graph()
    try:
        with pytest.raises(ValueError, match='cannot resume a run of g_amds as gps'):
            build_nodes(TASK, learner={'algorithm': 'gps', 'iterations': 5, 'resume': True,
                                       'checkpoint': checkpoint}, context=graph.context)
    finally:
        graph.close()


def test_g_amds_on_a_task_that_is_no_arm_is_refused():
    graph = Graph()
    try:
        with pytest.raises(ValueError, match='g_amds learns the via-point task of a planar '
                                             'arm.*double_pendulum'):
            build_nodes('double_pendulum', learner={'algorithm': 'g_amds', 'iterations': 1},
                        context=graph.context)
        with pytest.raises(ValueError, match='g_mds learns the via-point task of a planar '
                                             'arm.*double_pendulum'):
            build_nodes('double_pendulum', learner={'algorithm': 'g_mds', 'iterations': 1},
                        context=graph.context)
        with pytest.raises(ValueError, match='algorithm must be one of'):
            build_nodes(TASK, learner={'algorithm': 'amds', 'iterations': 1},
                        context=graph.context)
    finally:
        graph.close()
    command = [sys.executable, '-m', 'ps_control.cli', 'run', 'double_pendulum',
               '--algorithm', 'g_amds', '--iterations', '1']
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert 'not a planar serial arm' in result.stderr
