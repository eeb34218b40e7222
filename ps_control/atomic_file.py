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

import errno
import json
import os
import secrets


def write_bytes_atomically(path, data):
    """
    Write ``data`` (bytes) to ``path`` through a temporary file in the same directory.

    The temporary file is flushed to disk and renamed over ``path`` (``os.replace``, atomic on
    POSIX and Windows); on any failure it is removed and ``path`` is left as it was. Missing
    parent directories are created. The file gets the permissions of any file created with
    ``open``: 0o666 less the umask (``tempfile.mkstemp`` would give 0o600).
    """
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, '.%s-%s.tmp' % (os.path.basename(path), secrets.token_hex(8)))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_BINARY', 0), 0o666)
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
