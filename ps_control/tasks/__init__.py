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
Task definitions: horizon, dt, reward, initial state, limits, read from config/*.yaml.

``load_task('double_pendulum')`` reads config/double_pendulum.yaml (source tree, or the installed
share/ps_control/config); ``load_task('/some/file.yaml')`` reads that file. Importing this
package does not import PyBullet; Task.make_simulator does.
"""

from ps_control.tasks.loader import known_tasks, load_task, task_path
from ps_control.tasks.task import Task

__all__ = ['Task', 'known_tasks', 'load_task', 'task_path']
