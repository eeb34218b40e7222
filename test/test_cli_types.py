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


"""The command line: the numbers it accepts, the errors it gives, its sub-commands' usage."""

import argparse

from ps_control import cli
from ps_control.cli_types import int_at_least, positive_float
import pytest


def test_int_at_least_accepts_the_bound_and_above():
    parse = int_at_least(2)
    assert parse('2') == 2 and parse('17') == 17
    assert int_at_least(0)('0') == 0


@pytest.mark.parametrize('text, message', [
    ('1', 'must be >= 2, got 1'), ('-3', 'must be >= 2, got -3'),
    ('2.5', "must be an integer, got '2.5'"), ('', "must be an integer, got ''"),
])
def test_int_at_least_names_what_is_wrong(text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        int_at_least(2)(text)


def test_positive_float_accepts_finite_positive_numbers():
    assert positive_float('0.5') == 0.5 and positive_float('1e-300') == 1e-300


@pytest.mark.parametrize('text', ['0', '-1', 'nan', 'inf', '-inf', 'x'])
def test_positive_float_refuses_the_rest(text):
    with pytest.raises(argparse.ArgumentTypeError, match='must be a'):
        positive_float(text)


def test_a_parser_reports_the_argument_and_exits_with_status_2(capsys):
    parser = argparse.ArgumentParser(prog='demo')
    parser.add_argument('--samples', type=int_at_least(2))
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(['--samples', '1'])
    assert exit_info.value.code == 2
    assert 'argument --samples: must be >= 2, got 1' in capsys.readouterr().err


def test_no_sub_command_prints_the_usage_with_status_2(capsys):
    """Without arguments: the usage and exit status 2 (a usage error), as with argparse."""
    assert cli.main([]) == 2
    out = capsys.readouterr().out
    assert out.startswith('usage: ps-control {')
    for name in ('train', 'mds', 'run', 'evaluate'):
        assert name in out


@pytest.mark.parametrize('option', ['-h', '--help'])
def test_help_prints_the_usage_with_status_0(option, capsys):
    """-h and --help both print the usage and succeed."""
    assert cli.main([option]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith('usage: ps-control {') and captured.err == ''


def test_an_unknown_sub_command_is_named_with_status_2(capsys):
    """An unknown sub-command is reported (no traceback) with the usage and status 2."""
    assert cli.main(['trian', 'double_pendulum']) == 2
    err = capsys.readouterr().err
    assert "unknown sub-command 'trian'" in err and 'usage: ps-control' in err
