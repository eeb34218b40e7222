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
Atomic file writes: a reader sees the old file or the whole new one, never a truncated file.

Used for everything a run may be stopped in the middle of writing and later reads back:
checkpoints, cached iLQR references, trial results.
"""

import json
import os
import tempfile


def write_bytes_atomically(path, data):
    """
    Write ``data`` (bytes) to ``path`` through a temporary file in the same directory.

    The temporary file is flushed to disk and renamed over ``path`` (``os.replace``, atomic on
    POSIX and Windows); on any failure it is removed and ``path`` is left as it was. Missing
    parent directories are created.
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.%s-' % os.path.basename(path),
                               suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json_atomically(path, value, indent=None):
    """Write ``value`` as JSON to ``path`` with ``write_bytes_atomically``."""
    write_bytes_atomically(path, json.dumps(value, indent=indent).encode())
