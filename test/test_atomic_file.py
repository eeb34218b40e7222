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


"""ps_control.atomic_file: a write is whole or not at all, and leaves no temporary file."""

import json
import os

from ps_control import atomic_file
from ps_control.atomic_file import write_bytes_atomically, write_json_atomically
import pytest


def test_writes_the_bytes_and_creates_missing_directories(tmp_path):
    path = str(tmp_path / 'a' / 'b' / 'file.bin')
    write_bytes_atomically(path, b'\x00payload')
    with open(path, 'rb') as handle:
        assert handle.read() == b'\x00payload'
    assert os.listdir(os.path.dirname(path)) == ['file.bin']


def test_replaces_an_existing_file_whole(tmp_path):
    path = str(tmp_path / 'file.json')
    write_json_atomically(path, {'long': 'x' * 1000})
    write_json_atomically(path, [1, 2], indent=1)
    with open(path) as handle:
        assert json.load(handle) == [1, 2]
    assert os.listdir(str(tmp_path)) == ['file.json']


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary_one(tmp_path, monkeypatch):
    path = str(tmp_path / 'file.json')
    write_json_atomically(path, {'old': True})

    def failing_replace(source, target):
        raise OSError('disk full')

    monkeypatch.setattr(atomic_file.os, 'replace', failing_replace)
    with pytest.raises(OSError, match='disk full'):
        write_json_atomically(path, {'new': True})
    with open(path) as handle:
        assert json.load(handle) == {'old': True}
    assert os.listdir(str(tmp_path)) == ['file.json']


def test_a_value_json_cannot_hold_is_refused_before_anything_is_written(tmp_path):
    path = str(tmp_path / 'file.json')
    with pytest.raises(TypeError):
        write_json_atomically(path, {'value': object()})
    assert os.listdir(str(tmp_path)) == []


def test_the_file_has_the_permissions_open_would_give(tmp_path):
    """0o666 less the umask, as for any file a program creates, not mkstemp's owner-only 0o600."""
    old = os.umask(0o022)
    try:
        write_json_atomically(str(tmp_path / 'shared.json'), [1])
        os.umask(0o077)
        write_bytes_atomically(str(tmp_path / 'private.bin'), b'x')
    finally:
        os.umask(old)
    assert os.stat(str(tmp_path / 'shared.json')).st_mode & 0o777 == 0o644
    assert os.stat(str(tmp_path / 'private.bin')).st_mode & 0o777 == 0o600


def test_a_folder_in_the_way_is_named_without_the_temporary_file(tmp_path):
    (tmp_path / 'taken').mkdir()
    with pytest.raises(IsADirectoryError) as error:
        write_bytes_atomically(str(tmp_path / 'taken'), b'x')
    assert str(tmp_path / 'taken') in str(error.value) and '.tmp' not in str(error.value)
    assert os.listdir(tmp_path) == ['taken']


def test_the_whole_data_is_synced_to_disk_before_the_file_is_renamed(tmp_path, monkeypatch):
    """The temporary file is synced whole (every byte flushed), then renamed."""
    path = str(tmp_path / 'result.json')
    data = b'{"reward": -1.5}'  # small: it would sit in the file object's buffer unflushed
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(('fsync', os.fstat(fd).st_size))
        return real_fsync(fd)

    def replace(source, target):
        events.append(('replace', target))
        return real_replace(source, target)
    monkeypatch.setattr(atomic_file.os, 'fsync', fsync)
    monkeypatch.setattr(atomic_file.os, 'replace', replace)
    write_bytes_atomically(path, data)
    assert events == [('fsync', len(data)), ('replace', path)]
    with open(path, 'rb') as handle:
        assert handle.read() == data


def test_ctrl_c_while_writing_keeps_the_old_file_and_leaves_no_temporary_one(
        tmp_path, monkeypatch):
    """A KeyboardInterrupt in the middle of a write cleans up as any other failure does."""
    path = str(tmp_path / 'file.json')
    write_json_atomically(path, {'old': True})

    def interrupted_replace(source, target):
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic_file.os, 'replace', interrupted_replace)
    with pytest.raises(KeyboardInterrupt):
        write_json_atomically(path, {'new': True})
    with open(path) as handle:
        assert json.load(handle) == {'old': True}
    assert os.listdir(str(tmp_path)) == ['file.json']
