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

import pytest

try:
    from ament_xmllint.main import main
except ImportError:  # no ros-ament-xmllint wheel on PyPI: see test/ament_lint_fallback.py
    main = None


@pytest.mark.linter
@pytest.mark.xmllint
def test_xmllint():
    if main is not None:
        rc = main(argv=[])
        assert rc == 0, 'Found errors'
        return
    from ament_lint_fallback import check_xml
    errors, checked = check_xml(['.'])
    assert checked > 0, 'No files found'
    assert not errors, 'Found %d invalid XML files:\n' % len(errors) + '\n'.join(errors)
