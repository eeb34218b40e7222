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
Build script of the ament_python package ps_control.

Two ways in, one file:

* colcon (ROS 2 Jazzy / Kilted): ``colcon build`` runs this script; dependencies come from
  package.xml through rosdep, and the data files below land in share/ps_control.
* pip (no ROS distribution): ``pip install -e '.[ros,test]'`` (what scripts/setup_venv.sh does)
  also pulls rclpy, the message packages and Fast DDS from the ``ros-*`` wheels on PyPI.
  Versions known to work together are pinned in requirements/constraints.txt.
"""

from glob import glob
import os

from setuptools import find_packages
from setuptools import setup

package_name = 'ps_control'
here = os.path.abspath(os.path.dirname(__file__))


def _files(pattern):
    """Return the files (not folders) matching a glob relative to this folder, sorted."""
    return sorted(
        os.path.relpath(path, here)
        for path in glob(os.path.join(here, pattern))
        if os.path.isfile(path))


def _share(subdir):
    """Return a data_files entry that installs the files of a folder under share/ps_control."""
    files = [path for path in _files(os.path.join(subdir, '*')) if not path.endswith('.pyc')]
    return (os.path.join('share', package_name, subdir), files)


# rclpy and the messages the nodes use, as PyPI wheels (ros-rclpy is Kilted's rclpy 9.x, built
# for Fast DDS). A ROS 2 install provides the same modules from the distribution instead: never
# install this extra into a sourced ROS environment.
ros_wheels = [
    'ros-rclpy',
    'ros-rmw-fastrtps-cpp',
    'ros-std-msgs',
    'ros-std-srvs',
    'ros-sensor-msgs',
    'ros-rosgraph-msgs',
    'ros-diagnostic-msgs',
]

# The ament linters the tests in test/ use (ament_copyright and ament_xmllint have no wheel:
# the tests fall back to equivalent checks of their own), the flake8 plugins ament_flake8
# depends on, pytest and a per-test timeout against hung DDS tests, and colcon, with which
# test/test_install.py builds the package as a ROS 2 user does.
test_requires = [
    'pytest',
    'pytest-timeout',
    'colcon-common-extensions',
    'ros-ament-lint',
    'ros-ament-flake8',
    'ros-ament-pep257',
    'flake8',
    'flake8-builtins',
    'flake8-comprehensions',
    'flake8-docstrings',
    'flake8-import-order',
    'flake8-quotes',
    'pydocstyle',
    'lxml',
]

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*', 'bench', 'bench.*']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        _share('launch'),
        _share('config'),
        _share('urdf'),
        _share('rviz'),
    ],
    python_requires='>=3.10',
    install_requires=[
        'setuptools',
        'numpy',
        'scipy',
        'transforms3d',
        'pybullet',
        'matplotlib',
        'PyYAML',
    ],
    extras_require={
        'ros': ros_wheels,
        'test': test_requires,
    },
    zip_safe=True,
    maintainer='ps_control maintainers',
    maintainer_email='maintainers@ps-control.invalid',
    description='Model-based policy search (GPS, SAPS, ESAPS, G-AMDS) with ROS 2 nodes.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'simulator_node = ps_control.nodes.simulator_node:main',
            'controller_node = ps_control.nodes.controller_node:main',
            'learner_node = ps_control.nodes.learner_node:main',
            'ps-control = ps_control.cli:main',
        ],
    },
)
