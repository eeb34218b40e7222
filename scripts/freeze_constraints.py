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
Regenerate requirements/constraints.txt: the versions scripts/setup_venv.sh installs.

For every Python interpreter given (default: each of python3.10 ... python3.14 that runs here)
pip resolves ``ps_control[ros,test]`` plus the build tools from the configured index, without
installing anything (``pip install --dry-run --ignore-installed --report``). The pins of all
interpreters are merged into one file; where they differ, environment markers select the pin by
Python version. Review the diff, then run ``bash scripts/test.sh`` in a fresh clone.

    python3 scripts/freeze_constraints.py [--python python3.11 ...] [--output FILE]
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUTPUT = os.path.join(ROOT, 'requirements', 'constraints.txt')
DEFAULT_PYTHONS = ['python3.10', 'python3.11', 'python3.12', 'python3.13', 'python3.14']
# Installed before the package (scripts/setup_venv.sh builds it without build isolation).
BUILD_TOOLS = ['pip', 'setuptools', 'wheel']
EXTRAS = 'ros,test'


def python_version(python):
    """Return 'X.Y' of an interpreter, or None if it does not run."""
    try:
        out = subprocess.run(
            [python, '-c', 'import sys; print("%d.%d" % sys.version_info[:2])'],
            capture_output=True, text=True, check=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def resolve(python):
    """Return {distribution name: version} that pip would install for ps_control[ros,test]."""
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, 'report.json')
        cmd = [python, '-m', 'pip', 'install', '--disable-pip-version-check', '--quiet',
               '--dry-run', '--ignore-installed', '--report', report]
        cmd += BUILD_TOOLS + ['%s[%s]' % (ROOT, EXTRAS)]
        subprocess.run(cmd, check=True)
        with open(report, encoding='utf-8') as f:
            data = json.load(f)
    pins = {}
    for item in data['install']:
        name = item['metadata']['name']
        if name.replace('_', '-').lower() == 'ps-control':
            continue
        pins[name] = item['metadata']['version']
    return pins


def _key(version):
    return tuple(int(part) for part in version.split('.'))


def merge(pins_by_python):
    """Merge per-interpreter pins into constraint lines with python_version markers."""
    versions = sorted(pins_by_python, key=_key)
    names = sorted({n for pins in pins_by_python.values() for n in pins}, key=str.lower)
    lines = []
    for name in names:
        pins = [pins_by_python[v].get(name) for v in versions]
        if len(set(pins)) == 1:
            lines.append('%s==%s' % (name, pins[0]))
            continue
        # runs of consecutive interpreters with the same pin (None: not needed there)
        runs = []
        for version, pin in zip(versions, pins):
            if runs and runs[-1][1] == pin:
                runs[-1][0].append(version)
            else:
                runs.append(([version], pin))
        for index, (run_versions, pin) in enumerate(runs):
            if pin is None:
                continue
            marker = 'python_version >= "%s"' % run_versions[0]
            if index + 1 < len(runs):
                marker += ' and python_version < "%s"' % runs[index + 1][0][0]
            lines.append('%s==%s; %s' % (name, pin, marker))
    return lines


def main(argv=None):
    """Resolve with every interpreter and write the merged constraints file."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--python', action='append', dest='pythons',
                        help='interpreter to resolve with (repeatable)')
    parser.add_argument('--output', default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)

    pins_by_python = {}
    for python in args.pythons or DEFAULT_PYTHONS:
        version = python_version(python)
        if version is None:
            print('skipping %s: not found' % python, file=sys.stderr)
            continue
        if _key(version) < (3, 10):
            print('skipping %s: Python %s < 3.10' % (python, version), file=sys.stderr)
            continue
        print('resolving with %s (Python %s) ...' % (python, version), file=sys.stderr)
        pins_by_python[version] = resolve(python)
    if not pins_by_python:
        print('no usable interpreter', file=sys.stderr)
        return 1

    tested = ', '.join(sorted(pins_by_python, key=_key))
    header = [
        '# Versions known to work together, used as pip constraints (-c) by',
        '# scripts/setup_venv.sh, that is by both README commands (scripts/quickstart.sh and',
        '# scripts/test.sh).',
        '# Generated by scripts/freeze_constraints.py on %s from Python %s.' % (
            datetime.date.today().isoformat(), tested),
        '# Edit by re-running it, not by hand; a constraint installs nothing by itself.',
        '',
    ]
    with open(args.output, 'w', encoding='utf-8') as f:
        f.write('\n'.join(header + merge(pins_by_python)) + '\n')
    print('wrote %s' % args.output, file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
