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

"""What the nodes share: the transitions' QoS and the real-time priority range."""

import os

from nodes_support import open_graph
import numpy as np
from ps_control.nodes import common
from ps_control.nodes.messages import transition_to_msg
import pytest
from rclpy.duration import Duration
from std_msgs.msg import Float64MultiArray


pytestmark = pytest.mark.ros


@pytest.fixture
def graph():
    """Yield a context of its own with an executor, torn down after the test."""
    yield from open_graph()


def test_a_learner_busy_for_an_episode_loses_none_of_its_transitions(graph):
    """Ticks of a 200-step episode published while the learner does not spin all arrive."""
    controller = graph.node('controller_side')
    learner = graph.node('learner_side')
    publisher = controller.create_publisher(Float64MultiArray, common.TRANSITIONS,
                                            common.TRANSITIONS_QOS)
    received = []
    learner.create_subscription(Float64MultiArray, common.TRANSITIONS,
                                lambda msg: received.append(msg.data[1]), common.TRANSITIONS_QOS)
    assert graph.spin_until(lambda: publisher.get_subscription_count() == 1)
    steps = 201
    for step in range(steps):
        publisher.publish(transition_to_msg(1, step, 0.0, np.zeros(4), np.zeros(2),
                                            np.zeros(2)))
    # delivered into the learner's history (acknowledged) before it takes any of them
    assert publisher.wait_for_all_acked(Duration(seconds=10.0))
    assert graph.spin_until(lambda: len(received) >= steps, timeout=5.0), len(received)
    assert received == [float(step) for step in range(steps)]


@pytest.mark.parametrize('permitted', [True, False])
def test_realtime_priorities_1_to_99_are_requested_and_others_refused(monkeypatch, permitted):
    """0 leaves scheduling alone, 1 and 99 ask for SCHED_FIFO, -1 and 100 are errors."""
    requests = []

    def sched_setscheduler(pid, policy, param):
        requests.append((pid, policy, param.sched_priority))
        if not permitted:
            raise PermissionError(1, 'Operation not permitted')
    monkeypatch.setattr(os, 'sched_setscheduler', sched_setscheduler)
    assert common.set_realtime_priority(0) is False
    for priority in (1, 99):
        assert common.set_realtime_priority(priority) is permitted
    assert requests == [(0, os.SCHED_FIFO, 1), (0, os.SCHED_FIFO, 99)]
    for priority in (-1, 100):
        with pytest.raises(ValueError, match='realtime priority must be within 0..99'):
            common.set_realtime_priority(priority)
