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

"""The layout of a system of nodes: namespaces, seeds and clocks, for run and the launch files."""

from ps_control.nodes import topology
from ps_control.tasks import task_path
import pytest


def _task_with_seed(tmp_path, seed):
    text = open(task_path('double_pendulum')).read()
    assert '  seed: 0' in text
    path = tmp_path / 'seeded.yaml'
    path.write_text(text.replace('  seed: 0', '  seed: %d' % seed))
    return str(path)


def test_the_task_files_seed_is_the_default(tmp_path):
    task = _task_with_seed(tmp_path, 7)
    assert topology.system_seed(task) == 7
    assert topology.system_seed(task, -1) == 7  # the launch argument's default
    assert topology.system_seed(task, 3) == 3
    assert topology.system_seed(task, 0) == 0
    assert topology.worker_seeds(7, 2) == (9, 7 + topology.CONTROLLER_SEED_OFFSET + 2)


def test_namespaces_and_clocks():
    assert topology.worker_namespaces(1) == ['']
    assert topology.worker_namespaces(3) == ['worker_0', 'worker_1', 'worker_2']
    with pytest.raises(ValueError, match='num_workers must be >= 1, got 0'):
        topology.worker_namespaces(0)
    assert topology.clock_remappings(1) == []
    assert topology.clock_remappings(2) == [('/clock', 'clock')]
    assert topology.learner_uses_sim_time(True, 1) is True
    assert topology.learner_uses_sim_time(True, 2) is False
    assert topology.learner_uses_sim_time(False, 1) is False


@pytest.mark.ros
def test_run_seeds_every_node_from_the_task_file(tmp_path):
    from nodes_support import Graph
    from ps_control.run import parse_args
    assert parse_args(['double_pendulum']).seed is None
    graph = Graph()
    try:
        workers, learner = graph.build(_task_with_seed(tmp_path, 7), num_workers=2)
        nodes = [node for pair in workers for node in pair] + [learner]
        assert [node.get_parameter('seed').value for node in nodes] == [
            7, 7 + topology.CONTROLLER_SEED_OFFSET, 8, 8 + topology.CONTROLLER_SEED_OFFSET, -1]
        assert learner.search.config.seed == 7  # -1: the task file's (or a checkpoint's)
    finally:
        graph.close()
