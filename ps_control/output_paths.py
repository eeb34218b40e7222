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
Checks of the output paths the command lines and the learner node are given, made at start-up.

A run that learns for minutes and then cannot write its checkpoint, plot or results because a
path component is a file (``--out results.json/...``) or the path is a folder loses that work;
these checks refuse such a path before anything runs, with a message naming the option. They
do not create anything: the writers create missing folders when they write.
"""

import os


def figure_path(path):
    """Return the file a figure saved at ``path`` goes to: '.png' added without a suffix."""
    suffix = os.path.splitext(path)[1]
    return path if suffix not in ('', '.') else path.rstrip('.') + '.png'


def check_figure_path(path, what):
    """
    Return ``figure_path(path)`` if matplotlib can write that format there, else raise.

    As :func:`check_output_file`, and the suffix must be a format matplotlib writes (png, pdf,
    svg, ...): an unknown one would only fail once the figure is saved, after the run.
    """
    from matplotlib.backend_bases import FigureCanvasBase
    path = figure_path(path)
    formats = FigureCanvasBase.get_supported_filetypes()
    suffix = os.path.splitext(path)[1][1:].lower()
    if suffix not in formats:
        raise ValueError('%s %s: matplotlib writes no .%s files (%s)'
                         % (what, path, suffix, ', '.join(sorted(formats))))
    return check_output_file(path, what)


def check_output_file(path, what):
    """
    Return ``path`` if a file may be created or replaced there, else raise ValueError.

    ``what`` names the path in the message (e.g. '--plot'). Refused: an existing folder, a path
    below an existing file, and a folder this process may not write in. Missing folders on the
    way are fine (the writer creates them).
    """
    if os.path.isdir(path):
        raise ValueError('%s %s is a folder, not a file' % (what, path))
    _check_existing_ancestor(path, what)
    return path


def check_output_folder(path, what):
    """Return ``path`` if it is or can become a folder, else raise ValueError naming ``what``."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError('%s %s is a file, not a folder' % (what, path))
    _check_existing_ancestor(path, what)
    return path


def _check_existing_ancestor(path, what):
    """
    Raise ValueError if the nearest existing path above ``path`` is a file or not writable.

    The path is not normalised (``file/../x`` goes through ``file``, as the system takes it).
    """
    parent = os.path.dirname(os.path.join(os.getcwd(), path))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):  # (``file/..`` does not exist: the loop stops at ``file``)
        raise ValueError('%s %s: %s is a file, not a folder' % (what, path, parent))
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError('%s %s: no permission to write in %s' % (what, path, parent))
