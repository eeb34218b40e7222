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
Shared pytest set-up of ps_control's tests.

DDS isolation: this runs at import time, before any test module imports rclpy (pytest imports
conftest.py first). Every test run gets a ROS_DOMAIN_ID of its own and localhost-only
discovery, so two test runs on one machine (two clones, CI beside a developer, parallel
workers) never see each other's nodes, and nothing leaves the machine:

* ROS_DOMAIN_ID: kept if the caller set it explicitly for the run; otherwise one in 1..101
  (the range that keeps Fast DDS ports out of Linux's ephemeral range), starting from the
  process id, claimed with an exclusive lock file so that concurrent runs never share it.
* ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST unless the caller set a range explicitly.

Tests read the values through the ``ros_domain_id`` fixture.
"""

import fcntl
import os
import tempfile

import pytest

PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Set by this file when it chose the domain itself, so that a process started by a test run
# (inheriting the environment) picks its own domain instead of taking ours for an explicit one.
_AUTO_MARK = 'PS_CONTROL_TEST_DOMAIN_AUTO'
_DOMAIN_MIN, _DOMAIN_MAX = 1, 101
_domain_locks = []  # the open lock files; closing them (process exit) frees the domains


def _claim_domain_id():
    """Return a domain id in [1, 101] that no other test run on this machine holds."""
    span = _DOMAIN_MAX - _DOMAIN_MIN + 1
    start = os.getpid() % span
    lock_dir = os.path.join(tempfile.gettempdir(), 'ps_control-ros-domains')
    os.makedirs(lock_dir, exist_ok=True)
    for offset in range(span):
        domain = _DOMAIN_MIN + (start + offset) % span
        handle = open(os.path.join(lock_dir, '%d.lock' % domain), 'a')
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        _domain_locks.append(handle)
        return domain
    # every domain is held: fall back to the pid-derived one (isolation is then best effort)
    return _DOMAIN_MIN + start


def _isolate_dds():
    explicit = 'ROS_DOMAIN_ID' in os.environ and not os.environ.get(_AUTO_MARK)
    if not explicit:
        os.environ['ROS_DOMAIN_ID'] = str(_claim_domain_id())
        os.environ[_AUTO_MARK] = '1'
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    # Plots in tests never need a display.
    os.environ.setdefault('MPLBACKEND', 'Agg')


_isolate_dds()


def pytest_configure(config):
    """Register the markers used in test/, with or without the ament pytest plugins."""
    for name, text in [
        ('linter', 'ament linter test (flake8, pep257, copyright, xmllint)'),
        ('flake8', 'checks flake8 compliance'),
        ('pep257', 'checks docstrings against PEP 257'),
        ('copyright', 'checks copyright and license headers'),
        ('xmllint', 'checks XML files'),
        ('ros', 'needs rclpy and a DDS middleware'),
    ]:
        config.addinivalue_line('markers', '%s: %s' % (name, text))


def pytest_collection_modifyitems(session, config, items):
    """
    Run the linter tests first.

    flake8 forks worker processes; forking after a test has started DDS threads (any rclpy
    node) risks a deadlock in the child (Python 3.12 warns about it). Linters first also
    report style problems before the slow tests run.
    """
    items.sort(key=lambda item: item.get_closest_marker('linter') is None)


def pytest_report_header(config):
    """Show the DDS isolation settings at the top of the run."""
    return 'ROS_DOMAIN_ID=%s ROS_AUTOMATIC_DISCOVERY_RANGE=%s' % (
        os.environ.get('ROS_DOMAIN_ID'), os.environ.get('ROS_AUTOMATIC_DISCOVERY_RANGE'))


@pytest.fixture
def ros_domain_id():
    """Return the ROS_DOMAIN_ID this test run uses."""
    return int(os.environ['ROS_DOMAIN_ID'])


@pytest.fixture
def spare_domain_env():
    """
    Return the environment with a ROS_DOMAIN_ID of its own, for a process a test kills.

    A process killed with SIGKILL leaves its DDS endpoints in the graph until their lease runs
    out; in the run's domain the next tests' controllers would take them for a second system.
    """
    return dict(os.environ, ROS_DOMAIN_ID=str(_claim_domain_id()))


@pytest.fixture(autouse=True)
def _linters_run_from_package_root(request, monkeypatch):
    """Run linter tests from the package root, as colcon does, whatever the caller's cwd."""
    if request.node.get_closest_marker('linter') is not None:
        monkeypatch.chdir(PACKAGE_ROOT)
