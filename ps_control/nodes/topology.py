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
The layout of one system of nodes, shared by ``ps-control run`` and the launch files.

One learner and, per worker, a simulator and a controller: the workers' namespaces, the seeds
every node gets, and which nodes follow which clock. No ROS imports (the launch files load it).
"""

CONTROLLER_SEED_OFFSET = 1000  # controller i's seed: the system's seed + 1000 + i


def worker_namespaces(num_workers):
    """Return the relative namespaces of the workers: [''] for one, worker_<i> for several."""
    if num_workers < 1:
        raise ValueError('num_workers must be >= 1, got %d' % num_workers)
    return [''] if num_workers == 1 else ['worker_%d' % i for i in range(num_workers)]


def system_seed(task_name, seed=None):
    """
    Return the seed of a system: ``seed``, or if None or negative the task's learning.seed.

    The learner runs with it; simulator i with it + i and controller i with it +
    CONTROLLER_SEED_OFFSET + i (``worker_seeds``), so one number in the task file, or one
    ``--seed`` / ``seed:=``, reproduces a fresh run of the whole system. (A resumed learner
    keeps its checkpoint's seed; the nodes' random streams start afresh in any case.)
    """
    if seed is not None and seed >= 0:
        return int(seed)
    from ps_control.learning_config import load_learning_config
    from ps_control.tasks import load_task
    return int(load_learning_config(load_task(task_name)).seed)


def worker_seeds(seed, index):
    """Return the seeds (simulator, controller) of worker ``index`` in a system of ``seed``."""
    return seed + index, seed + CONTROLLER_SEED_OFFSET + index


def clock_remappings(num_workers):
    """
    Return the (from, to) remappings of ``/clock`` for a worker's nodes (and its viewers).

    With several workers each simulator publishes a clock of its own in its namespace
    (``/clock`` -> ``clock``); the learner, which serves them all, then runs on wall time
    (``learner_uses_sim_time``).
    """
    return [('/clock', 'clock')] if num_workers > 1 else []


def learner_uses_sim_time(use_sim_time, num_workers):
    """Return the learner's use_sim_time: the workers' clock if there is one, else wall time."""
    return bool(use_sim_time) and num_workers == 1
