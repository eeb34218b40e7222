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
Reaching with the planar arm: simulator, controller and learner nodes.

    ros2 launch ps_control arm.launch.py dof:=10 rviz:=true

The argument dof picks the task file: config/arm.yaml is the 10-link arm, config/arm_2.yaml and
config/arm_50.yaml the 2- and 50-link arms; another number of links needs its own task file
config/arm_<dof>.yaml (with urdf/planar_arm_<dof>.urdf). The 10-link arm learns the paper's
via-point task with G-AMDS by default (algorithm:=g_mds: G-MDS); the 2- and 50-link arms run GPS
by default (algorithm:=g_amds for the via-point task): the learning.mirror_descent and
learning.g_amds (learning.g_mds) sections of the task file. No learner learns the 50-link arm
yet (README): its light outer links whip round, the episodes diverge and learning stops.
Arguments and parameters: ps_control/nodes/launch_common.py.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch.substitutions import LaunchConfiguration

from ps_control.nodes.launch_common import generate

# dof -> task file (config/<task>.yaml) of the arms shipped with the package
TASKS = {'2': 'arm_2', '10': 'arm', '50': 'arm_50'}
EXTRA_ARGUMENTS = (
    ('dof', '10', 'Number of arm links: 2, 10 (config/arm.yaml) or 50 (no learner learns the '
                  '50-link arm yet: its episodes diverge).'),
)


def arm_task(context):
    """Return the task name for the dof launch argument (ValueError if it has no task file)."""
    dof = LaunchConfiguration('dof').perform(context).strip()
    name = TASKS.get(dof, 'arm_%s' % dof)
    config = os.path.join(get_package_share_directory('ps_control'), 'config', name + '.yaml')
    if not os.path.isfile(config):
        raise ValueError('no arm task with dof %s: %s does not exist (known dof: %s)'
                         % (dof, config, ', '.join(sorted(TASKS))))
    return name


def generate_launch_description():
    """Return the launch description of the arm task."""
    return generate(arm_task, EXTRA_ARGUMENTS)
