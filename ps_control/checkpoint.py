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
Learner checkpoints: one atomic, versioned .npz file per learner, checked on reading.

Shared by every kind of learner (ps_control.learning.PolicySearch,
ps_control.mds_learning.ArmViaPointSearch): named arrays plus a JSON ``meta`` record with the
format version, the learning settings and the task's fingerprint, so that a run resumes only
on the task definition and algorithm it was started with.
"""

from dataclasses import asdict, replace
import io
import json
import os
import zipfile

import numpy as np

from ps_control.atomic_file import write_bytes_atomically
from ps_control.learning_config import LearningConfig

CHECKPOINT_VERSION = 2  # 2: the task's fingerprint is recorded and checked


def write_checkpoint(path, arrays, meta):
    """Write named arrays and a JSON-able ``meta`` dict to ``path`` atomically (.npz)."""
    arrays = dict(arrays)
    arrays['meta'] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_bytes_atomically(path, buffer.getvalue())


def read_checkpoint(path):
    """
    Return (arrays, meta) of a checkpoint written by ``write_checkpoint``.

    OSError (FileNotFoundError, PermissionError, ...) if it cannot be read; ValueError naming
    the file if it is a folder, corrupt or of another version.
    """
    if os.path.isdir(path):
        raise ValueError('checkpoint %s is a folder, not a checkpoint file' % (path,))
    with open(path, 'rb') as handle:  # OSError (missing, unreadable) as it is
        if not zipfile.is_zipfile(handle):
            raise ValueError('checkpoint %s is corrupt or not a ps_control checkpoint (not an '
                             '.npz archive)' % (path,))
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        meta = json.loads(arrays.pop('meta').tobytes().decode())
    except FileNotFoundError:
        raise
    except Exception as error:  # noqa: B902 (any decoding failure means a corrupt file)
        raise ValueError('checkpoint %s is corrupt or not a ps_control checkpoint: %s'
                         % (path, error)) from None
    if not isinstance(meta, dict) or meta.get('version') != CHECKPOINT_VERSION:
        raise ValueError('checkpoint %s has version %r, expected %d (written by another '
                         'version of ps_control)'
                         % (path, meta.get('version') if isinstance(meta, dict) else None,
                            CHECKPOINT_VERSION))
    return arrays, meta


def checkpoint_meta(task, config, **entries):
    """
    Return the ``meta`` of a learner checkpoint: version, settings, task, and ``entries``.

    The task is recorded by name, horizon (a run may shorten the task file's: ``ps-control
    run --horizon``) and ``task.fingerprint()`` (the robot, reward, limits, horizon, dt and
    initial state), which ``check_checkpoint_task`` compares on resuming.
    """
    return dict({'version': CHECKPOINT_VERSION, 'config': asdict(config),
                 'task': getattr(task, 'name', None), 'horizon': int(task.horizon),
                 'task_fingerprint': task.fingerprint()}, **entries)


def check_checkpoint_task(meta, task):
    """Raise ValueError if checkpoint ``meta`` was written for another task or its definition."""
    name = getattr(task, 'name', None)
    if meta.get('task') != name:
        raise ValueError('it holds a run of task %r, not %r' % (meta.get('task'), name))
    if 'horizon' in meta and meta['horizon'] != task.horizon:
        raise ValueError('it holds a run of %d time steps, not %d (the horizon it ran with is '
                         'kept: give that horizon, or none)' % (meta['horizon'], task.horizon))
    if meta.get('task_fingerprint') != task.fingerprint():
        raise ValueError('it was written for another definition of task %r (its robot, reward, '
                         'limits, horizon, dt or initial state have changed since)'
                         % (meta.get('task'),))


def checkpoint_task(contents, task):
    """
    Return ``task`` with the horizon of the checkpoint ``contents`` (``read_checkpoint``'s pair).

    For restoring a run without knowing the horizon it was given (``ps-control evaluate``, a
    resumed learner node without its ``horizon`` parameter; see ``learning.load_search``);
    everything else about the task is still checked against the checkpoint when the learner is
    restored. A checkpoint written before the horizon was recorded gives it by its policy's
    length, if it holds a policy.
    """
    arrays, meta = contents
    horizon = meta.get('horizon', arrays['K'].shape[0] if 'K' in arrays else None)
    if horizon is None or horizon == task.horizon:
        return task
    return replace(task, horizon=int(horizon))


def checkpoint_config(meta, overrides=None):
    """Return the LearningConfig of checkpoint ``meta`` with ``overrides`` (same algorithm)."""
    saved = LearningConfig(**meta['config'])
    config = replace(saved, **(overrides or {}))
    if config.algorithm != saved.algorithm:
        raise ValueError('cannot resume a run of %s as %s' % (saved.algorithm, config.algorithm))
    return config
