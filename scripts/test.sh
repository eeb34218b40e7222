#!/usr/bin/env bash
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

# README command (b): set up .venv as scripts/quickstart.sh does (plus the test tools), then
# run the whole test suite (test/, linters included) with pytest. Exits non-zero when a test
# fails, errors, or when no test ran at all (nothing collected, or everything skipped).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k dds -x`.
#
# Environment: PS_CONTROL_TEST_TIMEOUT seconds per test (default 600, 0 = none).

set -euo pipefail
# shellcheck source=scripts/setup_venv.sh
source "$(dirname "${BASH_SOURCE[0]}")/setup_venv.sh"
ps_control_setup_venv ros,test

cd "$PS_CONTROL_ROOT"
export MPLBACKEND="${MPLBACKEND:-Agg}"
# rclpy is installed here: tests that need it must not skip themselves
export PS_CONTROL_REQUIRE_ROS=1
junit="$(mktemp "${TMPDIR:-/tmp}/ps_control-pytest.XXXXXX")"
trap 'rm -f "$junit"' EXIT

start=$SECONDS
set +e
"$PS_CONTROL_PYTHON" -m pytest --timeout="${PS_CONTROL_TEST_TIMEOUT:-600}" \
  --junitxml="$junit" "$@"
rc=$?
set -e
echo "[ps_control test] pytest finished in $((SECONDS - start)) s with exit code $rc"

if [ "$rc" -eq 5 ]; then
  echo "[ps_control test] error: pytest collected no tests" >&2
  exit 1
fi
if [ "$rc" -ne 0 ]; then
  exit "$rc"
fi
# pytest passed: make sure something actually ran (all-skipped counts as nothing)
executed="$("$PS_CONTROL_PYTHON" - "$junit" <<'PY'
import sys
import xml.etree.ElementTree as ET

root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == 'testsuite' else root.findall('testsuite')
total = sum(int(s.get('tests', 0)) for s in suites)
skipped = sum(int(s.get('skipped', 0)) for s in suites)
print(total - skipped)
PY
)"
if [ "${executed:-0}" -le 0 ]; then
  echo "[ps_control test] error: no test was executed (all skipped or none collected)" >&2
  exit 1
fi
