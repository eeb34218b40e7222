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
The package as a ROS 2 user installs it: ``colcon build``, then ``source install/setup.bash``.

colcon (colcon-common-extensions, a test requirement) builds a copy of the package's files into
a workspace of the test's own. The install tree must hold what ``ros2 run`` and ``ros2 launch``
look for, and the installed package must find its task files and URDFs in its share directory,
not in this checkout.
"""

import os
import shlex
import shutil
import stat
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = 'ps_control'
# what the package's build reads: setup.py and the folders its data_files install
SOURCES = ('setup.py', 'setup.cfg', 'package.xml', 'resource', 'ps_control', 'launch', 'config',
           'urdf', 'rviz')
EXECUTABLES = ('simulator_node', 'controller_node', 'learner_node', 'ps-control')


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    """Build the package with colcon in a workspace of its own; return the workspace path."""
    root = tmp_path_factory.mktemp('colcon_ws')
    source = root / 'src' / PACKAGE
    for name in SOURCES:
        path = os.path.join(ROOT, name)
        if os.path.isdir(path):
            shutil.copytree(path, source / name,
                            ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        else:
            source.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, source / name)
    colcon = [sys.executable, '-m', 'colcon', '--log-base', str(root / 'log'), 'build',
              '--base-paths', str(root / 'src'), '--build-base', str(root / 'build'),
              '--install-base', str(root / 'install')]
    result = subprocess.run(colcon, cwd=str(root), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return root


def _relative_files(top):
    return sorted(os.path.relpath(os.path.join(folder, name), top)
                  for folder, _, names in os.walk(top) for name in names
                  if '__pycache__' not in folder)


def test_the_install_tree_holds_the_executables_and_every_data_file(workspace):
    prefix = workspace / 'install' / PACKAGE
    for name in EXECUTABLES:  # ros2 run ps_control <name>
        path = prefix / 'lib' / PACKAGE / name
        assert path.is_file() and os.stat(path).st_mode & stat.S_IXUSR, name
    assert (prefix / 'share' / 'ament_index' / 'resource_index' / 'packages' / PACKAGE).is_file()
    share = prefix / 'share' / PACKAGE
    assert (share / 'package.xml').read_bytes() == open(os.path.join(ROOT, 'package.xml'),
                                                        'rb').read()
    for folder in ('launch', 'config', 'urdf', 'rviz'):  # ros2 launch ps_control <file>
        files = _relative_files(os.path.join(ROOT, folder))
        assert files and files == _relative_files(str(share / folder)), folder
        for name in files:
            with open(os.path.join(ROOT, folder, name), 'rb') as original:
                assert (share / folder / name).read_bytes() == original.read(), name


def _in_installed_environment(workspace, command):
    """Run a shell command after ``source install/setup.bash``, outside this checkout."""
    script = 'source %s && %s' % (workspace / 'install' / 'setup.bash', command)
    return subprocess.run(['bash', '-c', script], cwd=str(workspace), capture_output=True,
                          text=True, timeout=240)


def test_the_installed_package_finds_its_files_in_its_share_directory(workspace):
    probe = ('import ps_control\n'
             'from ps_control.tasks import load_task, task_path\n'
             'print(ps_control.__file__)\n'
             'print(task_path("quad_pendulum"))\n'
             'print(load_task("arm").urdf_path)\n')
    result = _in_installed_environment(workspace, '%s -c %s' % (
        sys.executable, shlex.quote(probe)))
    assert result.returncode == 0, result.stderr
    module, config, urdf = result.stdout.split()
    install = str(workspace / 'install' / PACKAGE)
    assert module.startswith(install + os.sep)  # the installed copy, not this checkout
    share = os.path.join(install, 'share', PACKAGE)
    assert config == os.path.join(share, 'config', 'quad_pendulum.yaml')
    assert urdf == os.path.join(share, 'urdf', 'planar_arm_10.urdf')


def test_the_installed_command_runs_the_nodes(workspace, tmp_path):
    """ps-control run from the install tree: one GPS iteration of the double pendulum."""
    plot = tmp_path / 'curve.png'
    command = '%s %s run double_pendulum --algorithm gps --iterations 1 --samples 2 ' \
              '--horizon 10 --plot %s' % (sys.executable,
                                          workspace / 'install' / PACKAGE / 'lib' / PACKAGE /
                                          'ps-control', plot)
    result = _in_installed_environment(workspace, command)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'install/ps_control/share/ps_control/urdf/double_pendulum.urdf' in result.stderr
    assert 'iteration 1: expected reward' in result.stdout and plot.is_file()
    assert 'iteration 1: expected reward' not in result.stderr  # printed once, not logged too


def test_data_is_found_in_the_checkout_the_ament_index_or_the_pip_prefixes(tmp_path,
                                                                           monkeypatch):
    """In this order; a stray config/ beside an installed package is not taken for its own."""
    from ps_control.tasks import paths
    assert paths.data_dir('config') == os.path.join(ROOT, 'config')  # this checkout
    site_packages = tmp_path / 'site-packages'
    (site_packages / 'config').mkdir(parents=True)  # another distribution's, no package.xml
    index, prefix, user = (tmp_path / name / 'share' / PACKAGE
                           for name in ('ament', 'prefix', 'user'))
    for share in (index, prefix, user):
        (share / 'config').mkdir(parents=True)
    monkeypatch.setattr(paths, '_PACKAGE_PARENT', str(site_packages))
    monkeypatch.setattr(paths, '_share_root', lambda: str(index))
    monkeypatch.setattr(paths.sys, 'prefix', str(tmp_path / 'prefix'))
    monkeypatch.setattr(paths.site, 'USER_BASE', str(tmp_path / 'user'))
    assert paths.data_dir('config') == str(index / 'config')  # colcon, ament index
    monkeypatch.setattr(paths, '_share_root', lambda: None)
    assert paths.data_dir('config') == str(prefix / 'config')  # pip install
    monkeypatch.setattr(paths, '_PACKAGE_PARENT', str(tmp_path / 'user' / 'lib'))
    assert paths.data_dir('config') == str(user / 'config')  # this copy is from --user
    monkeypatch.setattr(paths, '_PACKAGE_PARENT', str(site_packages))
    (prefix / 'config').rmdir()
    assert paths.data_dir('config') == str(user / 'config')  # pip install --user only
    with pytest.raises(ValueError, match='cannot find the urdf directory of ps_control'):
        paths.data_dir('urdf')
