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

import contextlib
from dataclasses import asdict, replace
import io
import json
import os
import zipfile

import numpy as np

from ps_control.atomic_file import write_bytes_atomically
from ps_control.learning_config import learning_config_from_mapping

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
    try:
        check_meta(meta)
    except ValueError as error:
        raise ValueError('checkpoint %s is invalid: %s' % (path, error)) from None
    return arrays, meta


def _is_integer(value, low):
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def check_meta(meta):
    """
    Raise ValueError naming the entry if a checkpoint's ``meta`` record is malformed.

    config: a mapping; task: a name (or null); horizon (if recorded): an integer >= 1; recent
    and k (if recorded): integers >= 0; history: a list of per-iteration records, the i-th
    with iteration i + 1 and a real expected_reward (what plots and resumed runs read).
    """
    if not isinstance(meta.get('config'), dict):
        raise ValueError('its config is %r, not a mapping of settings' % (meta.get('config'),))
    if meta.get('task') is not None and not isinstance(meta['task'], str):
        raise ValueError('its task is %r, not a task name' % (meta['task'],))
    for name, low in (('horizon', 1), ('recent', 0), ('k', 0)):
        if name in meta and not _is_integer(meta[name], low):
            raise ValueError('its %s is %r, not an integer >= %d' % (name, meta[name], low))
    history = meta.get('history', [])
    if not isinstance(history, list):
        raise ValueError('its history is a %s, not a list of iterations'
                         % type(history).__name__)
    for index, record in enumerate(history):
        entries = record if isinstance(record, dict) else {}
        iteration, reward = entries.get('iteration'), entries.get('expected_reward')
        if (not _is_integer(iteration, 1) or iteration != index + 1
                or isinstance(reward, bool) or not isinstance(reward, (int, float))):
            raise ValueError('its history entry %d is not the record of iteration %d (with '
                             'its expected_reward)' % (index, index + 1))


def checked_array(arrays, name, shape, low=None, strict=False):
    """
    Return checkpoint array ``name`` if real, of ``shape`` and finite (and >= or > ``low``).

    ValueError naming the array otherwise (``strict``: > low).
    """
    array = arrays[name]
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise ValueError('%s holds %s values, not real numbers' % (name, array.dtype))
    if array.shape != tuple(shape):
        raise ValueError('%s has shape %s, the task needs %s'
                         % (name, array.shape, tuple(shape)))
    array = array.astype(float)
    if not np.isfinite(array).all():
        raise ValueError('%s holds NaN or inf' % name)
    if low is not None and (np.any(array <= low) if strict else np.any(array < low)):
        raise ValueError('%s must be %s %g' % (name, '>' if strict else '>=', low))
    return array


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


class CheckpointMismatch(ValueError):
    """A sound checkpoint of another run: another task, horizon or learning settings."""


def check_checkpoint_task(meta, task):
    """Raise CheckpointMismatch if ``meta`` was written for another task or its definition."""
    name = getattr(task, 'name', None)
    if meta.get('task') != name:
        raise CheckpointMismatch('it holds a run of task %r, not %r' % (meta.get('task'), name))
    if 'horizon' in meta and meta['horizon'] != task.horizon:
        raise CheckpointMismatch(
            'it holds a run of %d time steps, not %d (the horizon it ran with is kept: give '
            'that horizon, or none)' % (meta['horizon'], task.horizon))
    if meta.get('task_fingerprint') != task.fingerprint():
        raise CheckpointMismatch(
            'it was written for another definition of task %r (its robot, reward, limits, '
            'horizon, dt or initial state have changed since)' % (meta.get('task'),))


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
    policy_steps = arrays['K'].shape[0] if 'K' in arrays and arrays['K'].ndim == 3 else None
    horizon = meta.get('horizon', policy_steps)
    if horizon is None or horizon == task.horizon:
        return task
    return replace(task, horizon=int(horizon))


RESUMABLE_SETTINGS = ('iterations', 'samples')  # what a resumed run may change


def checkpoint_config(meta, requested=None):
    """
    Return the LearningConfig that the run of checkpoint ``meta`` resumes with: its own.

    ``requested``: the settings the caller asks for explicitly (None values: not asked).
    Iterations and samples replace the checkpoint's (RESUMABLE_SETTINGS: more iterations,
    another number of rollouts per iteration); any other setting must equal the checkpoint's,
    or CheckpointMismatch names it. Every resuming command (``ps-control train``, ``run``,
    ``mds``, the learner node) goes through here. The saved settings are checked as a task
    file's are (``learning_config_from_mapping``: unknown or ill-typed ones are named); one the
    checkpoint lacks (written before the setting existed) takes its default.
    """
    saved = learning_config_from_mapping(meta['config'])
    changes = {}
    for name, value in (requested or {}).items():
        if value is None:
            continue
        if name in RESUMABLE_SETTINGS:
            changes[name] = value
        elif name == 'algorithm' and value != saved.algorithm:
            raise CheckpointMismatch('cannot resume a run of %s as %s'
                                     % (saved.algorithm, value))
        elif value != getattr(saved, name):
            raise CheckpointMismatch(
                'it holds a run with %s %r, not %r (a run resumes with its own settings; only '
                '%s may change)' % (name, getattr(saved, name), value,
                                    ' and '.join(RESUMABLE_SETTINGS)))
    return replace(saved, **changes)


@contextlib.contextmanager
def restoring(path):
    """
    Turn any fault met while restoring a learner from checkpoint ``path`` into one ValueError.

    It names the file, and says whether the checkpoint is of another run (CheckpointMismatch:
    'does not match this run') or unusable ('is invalid'; a missing entry is named).
    """
    try:
        yield
    except KeyError as error:
        raise ValueError('checkpoint %s is invalid: it has no entry %s' % (path, error)) from None
    except (TypeError, ValueError) as error:
        raise ValueError('checkpoint %s %s: %s'
                         % (path, 'does not match this run'
                            if isinstance(error, CheckpointMismatch) else 'is invalid',
                            error)) from None
