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

"""Find a task file by name or path and load it into a validated Task."""

import os

from ps_control.tasks.params import read_parameters
from ps_control.tasks.paths import config_dir, urdf_dir
from ps_control.tasks.task import Task


def known_tasks():
    """Return the sorted names of the task files in config/ (file names without .yaml)."""
    directory = config_dir()
    return sorted(name[:-len('.yaml')] for name in os.listdir(directory)
                  if name.endswith('.yaml'))


def task_path(name_or_path):
    """
    Return the path of a task file given a task name ('double_pendulum') or a file path.

    Anything with a path separator or ending in .yaml / .yml is taken as a path. Raises
    ValueError for an unknown name, listing the known ones, or a missing file.
    """
    text = os.fspath(name_or_path)
    if os.sep in text or text.endswith(('.yaml', '.yml')):
        if not os.path.isfile(text):
            raise ValueError('task file not found: %s' % text)
        return os.path.abspath(text)
    path = os.path.join(config_dir(), text + '.yaml')
    if not os.path.isfile(path):
        raise ValueError('unknown task %r; known tasks: %s' % (text, ', '.join(known_tasks())))
    return path


def load_task(name_or_path):
    """Return the validated Task of a task name or file (ValueError naming the bad field)."""
    path = task_path(name_or_path)
    return Task.from_parameters(read_parameters(path), path, urdf_dir())
