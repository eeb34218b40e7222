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

"""The start-up checks of output paths, and figures saved where the message says."""

import os

from ps_control import mds_experiments, plotting
from ps_control.output_paths import (check_figure_path, check_output_file,
                                     check_output_folder, figure_path)
import pytest


@pytest.fixture
def places(tmp_path):
    (tmp_path / 'file').write_text('')
    (tmp_path / 'folder').mkdir()
    return tmp_path


def test_a_file_may_go_anywhere_not_below_a_file_nor_over_a_folder(places):
    for fine in ('new.json', 'folder/new.json', 'missing/deeper/new.json', 'file'):
        assert check_output_file(str(places / fine), '--x') == str(places / fine)
    with pytest.raises(ValueError, match='--x .*folder is a folder, not a file'):
        check_output_file(str(places / 'folder'), '--x')
    for below in ('file/x.json', 'file/deeper/x.json', 'file/../x.json'):
        with pytest.raises(ValueError, match='%s is a file, not a folder' % (places / 'file')):
            check_output_file(str(places / below), '--x')


def test_a_folder_may_exist_or_be_created_not_be_a_file_or_below_one(places):
    for fine in ('folder', 'new', 'missing/deeper'):
        assert check_output_folder(str(places / fine), '--out') == str(places / fine)
    with pytest.raises(ValueError, match='--out .*file is a file, not a folder'):
        check_output_folder(str(places / 'file'), '--out')
    with pytest.raises(ValueError, match='is a file, not a folder'):
        check_output_folder(str(places / 'file' / 'sub'), '--out')
    assert not (places / 'new').exists()  # the checks create nothing


def test_a_figure_without_suffix_is_saved_and_reported_as_png(places):
    assert figure_path('curve') == 'curve.png' and figure_path('a/b.pdf') == 'a/b.pdf'
    assert figure_path('curve.') == 'curve.png'
    written = plotting.plot_curves(str(places / 'curve'), [1], {'gps': [-3.0]})
    assert written == str(places / 'curve.png') and os.path.getsize(written) > 0
    assert not (places / 'curve').exists()


def test_mds_refuses_an_out_below_a_file_before_running(places, capsys):
    with pytest.raises(SystemExit) as exit_info:
        mds_experiments.main(['point', '--updates', '2', '--trials', '1',
                              '--out', str(places / 'file')])
    assert exit_info.value.code == 2
    assert '--out %s is a file, not a folder' % (places / 'file') in capsys.readouterr().err


def test_a_figure_format_matplotlib_cannot_write_is_refused_before_the_run(places):
    assert check_figure_path(str(places / 'run'), '--plot') == str(places / 'run.png')
    assert check_figure_path(str(places / 'run.svg'), '--plot') == str(places / 'run.svg')
    with pytest.raises(ValueError, match=r'--plot .*run.v2: matplotlib writes no .v2 files '
                                         r'\(.*png'):
        check_figure_path(str(places / 'run.v2'), '--plot')
    with pytest.raises(ValueError, match='is a file, not a folder'):
        check_figure_path(str(places / 'file' / 'run.png'), '--plot')


def test_a_folder_without_write_permission_is_refused(places, monkeypatch):
    """Refuse a folder that may be entered but not written in (stubbed: tests may run as root)."""
    real_access = os.access
    monkeypatch.setattr(os, 'access', lambda path, mode: False if str(path) == str(
        places / 'folder') and mode & os.W_OK else real_access(path, mode))
    with pytest.raises(ValueError, match='no permission to write in .*folder'):
        check_output_file(str(places / 'folder' / 'x.json'), '--json')
    with pytest.raises(ValueError, match='no permission to write in .*folder'):
        check_output_folder(str(places / 'folder' / 'new'), '--out')


def test_a_figure_suffix_in_capitals_is_a_format_matplotlib_writes(tmp_path):
    """run.PNG is a PNG file to matplotlib: accepted, and the figure is written there."""
    for name in ('run.PNG', 'run.Svg'):
        path = str(tmp_path / name)
        assert check_figure_path(path, '--plot') == path
    written = plotting.plot_curves(str(tmp_path / 'curve.PNG'), [1, 2], {'gps': [-3.0, -2.0]})
    assert os.path.getsize(written) > 0
