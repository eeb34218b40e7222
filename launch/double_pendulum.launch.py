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
Double pendulum swing-up (thesis sec. 6.1): simulator, controller and learner nodes.

    ros2 launch ps_control double_pendulum.launch.py algorithm:=saps num_workers:=2 rviz:=true

Arguments and parameters: ps_control/nodes/launch_common.py and config/double_pendulum.yaml.
"""

from ps_control.nodes.launch_common import generate


def generate_launch_description():
    """Return the launch description of the double pendulum task."""
    return generate('double_pendulum')
