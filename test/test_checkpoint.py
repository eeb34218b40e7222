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

"""Checkpoint files and their checks, entry by entry: what is refused, and what is not."""

import os
import types

import numpy as np
from ps_control import checkpoint
from ps_control.checkpoint import (check_checkpoint_task, check_meta, checked_array,
                                   checkpoint_config, checkpoint_meta, checkpoint_task,
                                   CheckpointMismatch, read_checkpoint, restoring,
                                   write_checkpoint)
from ps_control.learning import load_search, PolicySearch
from ps_control.learning_config import LearningConfig
import pytest
from test_learning import LinearTask


def _meta(**entries):
    """Return the meta record of a fresh GPS run of LinearTask, with ``entries`` set."""
    return checkpoint_meta(LinearTask(), LearningConfig(algorithm='gps', samples=10),
                           **dict({'history': [], 'recent': 0}, **entries))


def test_a_checkpoint_reads_back_the_arrays_and_meta_written(tmp_path):
    """Reading gives exactly the arrays written (no meta among them), the caller's dict kept."""
    arrays = {'K': np.arange(6.0).reshape(1, 2, 3), 'n': np.array([1, 2])}
    meta = _meta()
    path = str(tmp_path / 'c.npz')
    write_checkpoint(path, arrays, meta)
    assert sorted(arrays) == ['K', 'n']
    read, read_meta = read_checkpoint(path)
    assert sorted(read) == ['K', 'n']
    np.testing.assert_array_equal(read['K'], arrays['K'])
    np.testing.assert_array_equal(read['n'], arrays['n'])
    assert read_meta == meta


def test_a_checkpoint_holding_pickled_objects_is_refused_unread(tmp_path):
    """Object arrays are pickles (code on loading): such a file is corrupt, never unpickled."""
    path = str(tmp_path / 'c.npz')
    write_checkpoint(path, {'K': np.array([{'a': 1}], dtype=object)}, _meta())
    with pytest.raises(ValueError, match='is corrupt or not a ps_control checkpoint'):
        read_checkpoint(path)


def test_an_npz_archive_without_meta_is_corrupt(tmp_path):
    """Another program's .npz (no meta entry) is named corrupt, not a KeyError."""
    path = str(tmp_path / 'other.npz')
    np.savez(path, K=np.zeros(3))
    with pytest.raises(ValueError, match='%s is corrupt or not a ps_control checkpoint'
                       % path):
        read_checkpoint(path)


def test_a_checkpoint_removed_while_being_read_is_missing_not_corrupt(tmp_path, monkeypatch):
    """A file that disappears after its zip test raises FileNotFoundError, as a missing one."""
    path = str(tmp_path / 'c.npz')
    write_checkpoint(path, {}, _meta())
    real = checkpoint.zipfile.is_zipfile

    def check_then_remove(handle):
        result = real(handle)
        os.remove(path)
        return result

    monkeypatch.setattr(checkpoint.zipfile, 'is_zipfile', check_then_remove)
    with pytest.raises(FileNotFoundError):
        read_checkpoint(path)


@pytest.mark.parametrize('meta, message', [
    ([1, 2], 'has version None, expected 2'),
    ('text', 'has version None, expected 2'),
    ({'version': 3}, 'has version 3, expected 2'),
    ({'version': '2'}, "has version '2', expected 2"),
])
def test_a_meta_record_of_another_version_or_kind_is_refused(tmp_path, meta, message):
    """Only a version-2 mapping is read: newer files and non-mappings are named, not crashed on."""
    path = str(tmp_path / 'c.npz')
    write_checkpoint(path, {}, meta)
    with pytest.raises(ValueError, match=message):
        read_checkpoint(path)


@pytest.mark.parametrize('entries', [
    {},
    {'horizon': 1, 'recent': 0, 'k': 0},
    {'task': None},
    {'history': [{'iteration': 1, 'expected_reward': -3}]},
    {'history': [{'iteration': 1, 'expected_reward': -0.5},
                 {'iteration': 2, 'expected_reward': 1e300}]},
])
def test_well_formed_meta_records_are_read_back(tmp_path, entries):
    """
    Settings alone are a sound record; so are the lowest integers, no task name, integer rewards.

    Task, horizon, recent, k and history are optional.
    """
    meta = dict({'version': checkpoint.CHECKPOINT_VERSION, 'config': {}}, **entries)
    path = str(tmp_path / 'c.npz')
    write_checkpoint(path, {}, meta)
    assert read_checkpoint(path) == ({}, meta)


@pytest.mark.parametrize('entries, message', [
    ({'horizon': 0}, 'its horizon is 0, not an integer >= 1'),
    ({'horizon': True}, 'its horizon is True, not an integer >= 1'),
    ({'horizon': 2.0}, 'its horizon is 2.0, not an integer >= 1'),
    ({'recent': False}, 'its recent is False, not an integer >= 0'),
    ({'k': -1}, 'its k is -1, not an integer >= 0'),
    ({'task': 3}, 'its task is 3, not a task name'),
    ({'history': 5}, 'its history is a int, not a list of iterations'),
    ({'history': None}, 'its history is a NoneType, not a list of iterations'),
    ({'history': [5]}, 'its history entry 0 is not the record of iteration 1'),
    ({'history': [{'iteration': 2, 'expected_reward': 1.0}]},
     'its history entry 0 is not the record of iteration 1'),
    ({'history': [{'iteration': 1, 'expected_reward': 1.0},
                  {'iteration': 1, 'expected_reward': 1.0}]},
     'its history entry 1 is not the record of iteration 2'),
    ({'history': [{'iteration': True, 'expected_reward': 1.0}]},
     'its history entry 0 is not the record of iteration 1'),
    ({'history': [{'iteration': 1.0, 'expected_reward': 1.0}]},
     'its history entry 0 is not the record of iteration 1'),
    ({'history': [{'iteration': 1, 'expected_reward': True}]},
     'its history entry 0 is not the record of iteration 1'),
    ({'history': [{'iteration': 1, 'expected_reward': '1.0'}]},
     'its history entry 0 is not the record of iteration 1'),
])
def test_malformed_meta_entries_are_named(entries, message):
    with pytest.raises(ValueError, match=message):
        check_meta(dict({'config': {}}, **entries))


def test_checked_arrays_of_integers_are_returned_as_floats():
    """Integer arrays are real numbers: accepted, and handed on as float arrays."""
    array = checked_array({'k': np.array([0, 1, 2])}, 'k', (3,), low=0)
    assert array.dtype == np.float64
    np.testing.assert_array_equal(array, [0.0, 1.0, 2.0])


def test_a_single_non_finite_value_is_named():
    """One NaN among finite values is enough to refuse the array."""
    with pytest.raises(ValueError, match='alpha holds NaN or inf'):
        checked_array({'alpha': np.array([1.0, np.nan, 2.0])}, 'alpha', (3,))


def test_the_lower_bound_is_inclusive_unless_strict():
    """Values at ``low`` pass the plain bound (the default) and fail the strict one."""
    at_bound = {'beta': np.array([0.0, 0.5])}
    np.testing.assert_array_equal(checked_array(at_bound, 'beta', (2,), low=0.0), [0.0, 0.5])
    with pytest.raises(ValueError, match='beta must be > 0'):
        checked_array(at_bound, 'beta', (2,), low=0.0, strict=True)
    with pytest.raises(ValueError, match='beta must be >= 0.5'):
        checked_array({'beta': np.array([0.4999, 0.5])}, 'beta', (2,), low=0.5)


def test_a_task_without_a_name_resumes_its_own_checkpoint():
    """A task object with no name is recorded as null and matches itself on resuming."""
    task = types.SimpleNamespace(horizon=7, fingerprint=lambda: 'f')
    meta = checkpoint_meta(task, LearningConfig(algorithm='gps', samples=10))
    assert meta['task'] is None
    check_meta(meta)
    check_checkpoint_task(meta, task)


def test_a_checkpoint_without_a_task_fingerprint_does_not_match():
    """No fingerprint recorded: another run (CheckpointMismatch), not a missing entry."""
    meta = _meta()
    del meta['task_fingerprint']
    with pytest.raises(CheckpointMismatch, match="another definition of task 'linear'"):
        check_checkpoint_task(meta, LinearTask())


def test_a_checkpoint_of_the_tasks_own_horizon_keeps_the_task(tmp_path):
    """The horizon already right: the task itself, even one that is not a dataclass."""
    task, path = LinearTask(), str(tmp_path / 'linear.npz')
    PolicySearch(task, LearningConfig(algorithm='gps', samples=10)).save(path)
    assert checkpoint_task(read_checkpoint(path), task) is task
    assert load_search(path, task, checkpoint_horizon=True).task is task


@pytest.mark.parametrize('requested', [
    {'seed': 5},
    {'epsilon': 0.0},
    {'step_adaptation': True},
    {'limit_penalty': 0.0},
    {'samples': 12, 'epsilon': 0.25},
    {'iterations': 9, 'samples': 12, 'seed': 1},
])
def test_settings_other_than_iterations_and_samples_cannot_change_on_resuming(requested):
    """Even a false or zero value asked for is compared; so is one asked for after others."""
    meta = _meta()
    meta['config'].update(limit_penalty=1.0)
    with pytest.raises(CheckpointMismatch, match='it holds a run with'):
        checkpoint_config(meta, requested)


def test_settings_asked_for_as_none_are_not_asked_for():
    """None means 'not asked': the checkpoint's own value stays."""
    meta = _meta()
    config = checkpoint_config(meta, {'iterations': None, 'samples': None, 'epsilon': None,
                                      'algorithm': None})
    assert config == LearningConfig(algorithm='gps', samples=10)


def test_a_type_error_while_restoring_is_an_invalid_checkpoint():
    """Any TypeError in a restore (an entry of the wrong kind) is reported as ValueError."""
    with pytest.raises(ValueError, match='checkpoint c.npz is invalid: bad entry') as raised:
        with restoring('c.npz'):
            raise TypeError('bad entry')
    assert type(raised.value) is ValueError
