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
What the node tests share (a helper module, not a test file).

A ``Graph`` is one rclpy Context of its own with an executor and the nodes added to it, torn
down in every case; ``spin_until`` spins it until a condition holds or a deadline passes (the
deadline only bounds a hung test: no test asserts on time).
"""

import os
import time

import pytest


# scripts/test.sh installs rclpy and sets PS_CONTROL_REQUIRE_ROS=1: there a missing or broken
# rclpy fails the run; elsewhere (numpy-only machines) the node tests are skipped.
if os.environ.get('PS_CONTROL_REQUIRE_ROS') == '1':
    import rclpy
else:
    rclpy = pytest.importorskip('rclpy')

from ps_control.nodes.common import make_executor  # noqa: E402,I100
from ps_control.run import build_nodes  # noqa: E402
from rclpy.context import Context  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402

DEADLINE = 20.0  # seconds; only a hung test ever reaches it


class Graph:
    """A context of its own with nodes on one executor."""

    def __init__(self, kind='events'):
        self.context = Context()
        rclpy.init(context=self.context)
        self.executor = make_executor(self.context, kind)
        self.nodes = []

    def add(self, node):
        """Add a node built with context=self.context; return it."""
        self.executor.add_node(node)
        self.nodes.append(node)
        return node

    def node(self, name, **kwargs):
        """Create and add a plain helper node."""
        return self.add(rclpy.create_node(name, context=self.context, **kwargs))

    def spin_until(self, predicate, timeout=DEADLINE):
        """Spin until predicate() is true; return whether it became true before the deadline."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            self.executor.spin_once(timeout_sec=0.01)
        return bool(predicate())

    def spin_for(self, seconds):
        """Spin for a while (to let messages that should NOT arrive have their chance)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.executor.spin_once(timeout_sec=0.01)

    def call(self, client, request, timeout=DEADLINE):
        """Call a service and spin until the answer; return it (AssertionError on time-out)."""
        assert self.spin_until(client.service_is_ready, timeout), (
            'service %s not available' % client.srv_name)
        future = client.call_async(request)
        assert self.spin_until(future.done, timeout), 'service %s did not answer' % (
            client.srv_name)
        return future.result()

    def build(self, task, **kwargs):
        """
        Build a task's nodes (ps_control.run.build_nodes) here, destroyed with the graph.

        Returns (workers, learner node) as build_nodes does. A node left out of the graph would
        stay in the ROS graph after the test (its publishers seen by the next tests' nodes).
        """
        workers, node = build_nodes(task, context=self.context, **kwargs)
        for pair in workers:
            for worker_node in pair:
                self.add(worker_node)
        if node is not None:
            self.add(node)
        return workers, node

    def learn(self, task, learner, num_workers=1, timeout=120.0):
        """
        Build a task's nodes (ps_control.run.build_nodes) here and run the learner to its end.

        ``learner`` holds the learner's parameters. Returns (workers, learner node); fails the
        test if learning does not finish within ``timeout`` or ends in an exception.
        """
        workers, node = self.build(task, num_workers=num_workers, learner=learner)
        self.executor.create_task(node.run)
        assert self.spin_until(node.done.done, timeout), 'learning did not finish'
        assert node.done.exception() is None, node.done.exception()
        return workers, node

    def close(self):
        """Destroy everything, whatever state it is in."""
        try:
            self.executor.shutdown()
        finally:
            for node in self.nodes:
                node.destroy_node()
            rclpy.try_shutdown(context=self.context)


def params(**values):
    """Return a parameter_overrides list from keyword arguments."""
    return [Parameter(name, value=value) for name, value in values.items()]


def open_graph():
    """Yield a Graph and close it afterwards (the body of the test modules' graph fixture)."""
    g = Graph()
    try:
        yield g
    finally:
        g.close()
