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
Where the package's data directories (config/, urdf/) are.

In the source tree they sit next to the ps_control Python package; when the package is installed
with colcon they are in share/ps_control/, found through ament_index_python when it is
importable. The source tree wins when both exist, so a developer's edits are what runs.
"""

import os

PACKAGE = 'ps_control'
_SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _share_root():
    try:
        from ament_index_python.packages import get_package_share_directory
        return get_package_share_directory(PACKAGE)
    except (ImportError, LookupError, OSError, ValueError):
        return None


def data_dir(name):
    """
    Return the absolute path of the package's data directory name ('config' or 'urdf').

    Raises ValueError if neither the source tree nor the installed share directory has it.
    """
    candidates = [os.path.join(_SOURCE_ROOT, name)]
    share = _share_root()
    if share is not None:
        candidates.append(os.path.join(share, name))
    for path in candidates:
        if os.path.isdir(path):
            return path
    raise ValueError('cannot find the %s directory of %s (looked in %s)'
                     % (name, PACKAGE, ', '.join(candidates)))


def config_dir():
    """Return the directory of the task configuration files (config/)."""
    return data_dir('config')


def urdf_dir():
    """Return the directory of the URDF models (urdf/)."""
    return data_dir('urdf')
