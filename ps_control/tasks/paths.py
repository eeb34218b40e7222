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

In the source tree (a checkout, or an editable pip install of one) they sit next to the
ps_control Python package, beside its package.xml. When the package is installed with colcon
they are in share/ps_control/, found through ament_index_python; installed by plain pip
(``pip install .``) they are in <sys.prefix>/share/ps_control/, where setup.py's data_files
put them (<site.USER_BASE>/share/ps_control/ with ``pip install --user``). The source tree
wins when it exists, so a developer's edits are what runs.
"""

import os
import site
import sys

PACKAGE = 'ps_control'
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _source_root():
    """Return the checkout holding this ps_control package, or None (an installed copy)."""
    if os.path.isfile(os.path.join(_PACKAGE_PARENT, 'package.xml')):
        return _PACKAGE_PARENT
    return None


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
    prefixes = [sys.prefix]
    if site.USER_BASE:  # pip install --user; first if this copy of the package is from there
        user_first = _PACKAGE_PARENT.startswith(os.path.join(site.USER_BASE, ''))
        prefixes.insert(0 if user_first else 1, site.USER_BASE)
    roots = [_source_root(), _share_root()] + [os.path.join(prefix, 'share', PACKAGE)
                                               for prefix in prefixes]
    candidates = [os.path.join(root, name) for root in roots if root is not None]
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
