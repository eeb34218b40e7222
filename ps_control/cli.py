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
The ``ps-control`` command: one entry point, one sub-command per job.

Sub-commands are imported lazily so that ``ps-control mds`` never needs PyBullet and only
``ps-control run`` needs rclpy:

* ``ps-control train TASK ...``  thesis experiments (GPS / SAPS / ESAPS), ps_control.train
* ``ps-control mds TASK ...``    mirror descent search experiments, ps_control.mds_experiments
* ``ps-control run TASK ...``    simulator, controller and learner nodes in one process,
  ps_control.run
* ``ps-control evaluate TASK CHECKPOINT``  a learnt policy on the simulated robot,
  ps_control.evaluate
"""

import importlib
import sys

SUBCOMMANDS = {
    'train': ('ps_control.train', 'Thesis experiments: GPS, SAPS, ESAPS on pendulum swing-ups.'),
    'mds': ('ps_control.mds_experiments', 'Mirror descent search experiments (G-AMDS, ...).'),
    'run': ('ps_control.run', 'Simulator, controller and learner nodes in one process.'),
    'evaluate': ('ps_control.evaluate', "A checkpoint's policy on the simulated robot."),
}


def _usage():
    lines = ['usage: ps-control {%s} ...' % ','.join(SUBCOMMANDS), '']
    for name, (_, text) in SUBCOMMANDS.items():
        lines.append('  %-8s %s' % (name, text))
    return '\n'.join(lines)


def main(argv=None):
    """Run the sub-command named by the first argument with the remaining arguments."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ('-h', '--help'):
        print(_usage())
        return 0 if argv else 2
    name = argv[0]
    if name not in SUBCOMMANDS:
        print('ps-control: unknown sub-command %r\n\n%s' % (name, _usage()), file=sys.stderr)
        return 2
    module = importlib.import_module(SUBCOMMANDS[name][0])
    return module.main(argv[1:])


if __name__ == '__main__':
    sys.exit(main())
