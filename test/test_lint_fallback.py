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

"""The copyright and xmllint stand-ins catch what ament_copyright and ament_xmllint catch."""

import os

from ament_lint_fallback import check_copyright
from ament_lint_fallback import check_xml
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

GOOD_MANIFEST = """<?xml version="1.0"?>
<package format="3">
  <name>demo_pkg</name>
  <version>1.2.3</version>
  <description>Demo.</description>
  <maintainer email="someone@example.com">Someone</maintainer>
  <license>Apache-2.0</license>
  <exec_depend condition="$ROS_VERSION == 2">rclpy</exec_depend>
  <test_depend>python3-pytest</test_depend>
  <export><build_type>ament_python</build_type></export>
</package>
"""


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding='utf-8')
    return str(path)


def _header(comment='#'):
    with open(os.path.join(ROOT, 'HEADER.txt'), encoding='utf-8') as f:
        return f.read().replace('#', comment)


def test_good_manifest_passes(tmp_path):
    pytest.importorskip('lxml')
    errors, checked = check_xml([_write(tmp_path, 'package.xml', GOOD_MANIFEST)])
    assert checked == 1
    assert errors == []


@pytest.mark.parametrize('old, new, expected', [
    ('format="3"', 'format="2"', 'format="3"'),
    ('<name>demo_pkg</name>', '<name>Demo-Pkg</name>', 'invalid package name'),
    ('<version>1.2.3</version>', '<version>1.2</version>', 'MAJOR.MINOR.PATCH'),
    ('someone@example.com', 'someone', 'invalid email'),
    ('  <license>Apache-2.0</license>\n', '', '<license> appears 0 times'),
    ('<test_depend>python3-pytest</test_depend>', '<test_depend></test_depend>', 'empty'),
    ('<exec_depend condition', '<exec_depend bogus="1" condition', 'unknown attribute'),
    ('<license>Apache-2.0</license>', '<license>Apache-2.0</license><frobnicate/>',
     'unknown element'),
    ('  <maintainer email="someone@example.com">Someone</maintainer>\n  <license>Apache-2.0'
     '</license>\n', '  <license>Apache-2.0</license>\n  <maintainer email="someone@example.com">'
     'Someone</maintainer>\n', 'out of order'),
    ('</package>', '', 'not well-formed'),
])
def test_bad_manifest_fails(tmp_path, old, new, expected):
    pytest.importorskip('lxml')
    assert old in GOOD_MANIFEST
    errors, _ = check_xml([_write(tmp_path, 'package.xml', GOOD_MANIFEST.replace(old, new))])
    assert errors and expected in '\n'.join(errors), errors


def test_copyright_header(tmp_path):
    good = _write(tmp_path, 'pkg/good.py', '#!/usr/bin/env python3\n' + _header() + '\nx = 1\n')
    empty = _write(tmp_path, 'pkg/empty.py', '')
    _write(tmp_path, 'pkg/bad.py', '"""No header."""\n')
    _write(tmp_path, 'pkg/other.py', '# Copyright 2026 Someone\n# All rights reserved.\n')
    _write(tmp_path, 'pkg/_private/skipped.py', 'x = 1\n')
    errors, checked = check_copyright([str(tmp_path / 'pkg')])
    assert checked == 4  # good, empty, bad, other; the '_' folder is skipped
    text = '\n'.join(errors)
    assert 'bad.py: could not find copyright notice' in text
    assert 'other.py: copyright notice found, but not the Apache' in text
    assert good not in text and empty not in text


def test_repository_root_needs_license_files(tmp_path):
    (tmp_path / '.git').mkdir()
    errors, _ = check_copyright([str(tmp_path)])
    assert any(e.endswith('LICENSE: file not found') for e in errors)
    assert any(e.endswith('CONTRIBUTING.md: file not found') for e in errors)
    with open(os.path.join(ROOT, 'LICENSE'), encoding='utf-8') as f:
        _write(tmp_path, 'LICENSE', f.read())
    with open(os.path.join(ROOT, 'CONTRIBUTING.md'), encoding='utf-8') as f:
        _write(tmp_path, 'CONTRIBUTING.md', f.read())
    assert check_copyright([str(tmp_path)]) == ([], 2)
