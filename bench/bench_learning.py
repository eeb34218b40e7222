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
Learning-loop speed: seconds per learning iteration per algorithm and task, and the whole figure.

Each (task, algorithm) runs --iterations iterations of one trial through the trainer's own loop
(``ps_control.train.run_trial``: PyBullet rollouts of the task's learning.samples, dynamics fit,
KL-bounded update, checkpoint; in a temporary folder) and prints the median and the maximum
seconds per iteration, the shares of the dynamics fit and of the update (the rest is rollouts,
checks and the checkpoint), and the ratio of the median to GPS's on the same task in the same
run. ``--figure`` then runs the whole double-pendulum figure command (3 algorithms x 10 trials x
25 iterations x 25 rollouts, the iLQR reference included, --jobs processes) and prints its wall
time against the 300 s target. Figures depend on the machine and its load. Run::

    PYTHONPATH=. python3 bench/bench_learning.py                  # both pendulums, 5 iterations
    PYTHONPATH=. python3 bench/bench_learning.py --figure --jobs 2  # + the figure (minutes)
"""

import argparse
import contextlib
import os
import sys
import tempfile
import time

import ps_control  # noqa: F401 (before numpy: one BLAS thread per process, see there)
import numpy as np  # noqa: I100

from ps_control import train
from ps_control.cli_types import int_at_least
from ps_control.learning import PolicySearch
from ps_control.learning_config import ALGORITHMS, load_learning_config
from ps_control.tasks import known_tasks, load_task

FIGURE_ARGS = ['double_pendulum', '--algo', 'gps', 'saps', 'esaps', '--trials', '10',
               '--iterations', '25', '--samples', '25']
FIGURE_TARGET_SECONDS = 300.0


class PhaseTimer(contextlib.AbstractContextManager):
    """Record the seconds of every PolicySearch.fit_dynamics and .improve call while active."""

    PHASES = ('fit_dynamics', 'improve')

    def __enter__(self):
        self.seconds = {phase: [] for phase in self.PHASES}
        self.saved = {phase: getattr(PolicySearch, phase) for phase in self.PHASES}
        for phase, method in self.saved.items():
            setattr(PolicySearch, phase, self._timed(phase, method))
        return self

    def _timed(self, phase, method):
        def timed(search, *args, **kwargs):
            start = time.perf_counter()
            try:
                return method(search, *args, **kwargs)
            finally:
                self.seconds[phase].append(time.perf_counter() - start)
        return timed

    def __exit__(self, *exc_info):
        for phase, method in self.saved.items():
            setattr(PolicySearch, phase, method)
        return False


def time_iterations(task, algorithm, iterations):
    """Return (per-iteration seconds, fit seconds, update seconds) of one fresh trial."""
    with tempfile.TemporaryDirectory() as out, PhaseTimer() as phases:
        samples = load_learning_config(load_task(task)).samples
        history = train.run_trial(task, algorithm, 0, iterations, samples, 0, out,
                                  quiet=True)['history']
    return (np.array([m['seconds'] for m in history]), np.array(phases.seconds['fit_dynamics']),
            np.array(phases.seconds['improve']))


def time_figure(jobs):
    """Run the double-pendulum figure command in a temporary folder; return its wall seconds."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        status = train.main(FIGURE_ARGS + ['--jobs', str(jobs), '--out', out])
        seconds = time.perf_counter() - start
    if status != 0:
        raise RuntimeError('the figure command failed (exit status %d)' % status)
    return seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('--tasks', nargs='+', choices=known_tasks(),
                        default=['double_pendulum', 'quad_pendulum'])
    parser.add_argument('--algorithms', nargs='+', choices=ALGORITHMS,
                        default=['gps', 'saps', 'esaps'])
    parser.add_argument('--iterations', type=int_at_least(1), default=5)
    parser.add_argument('--figure', action='store_true',
                        help='also time the whole double-pendulum figure command')
    parser.add_argument('--jobs', type=int_at_least(1), default=os.cpu_count() or 1,
                        help='processes of the figure run')
    args = parser.parse_args(argv)
    header = ('task', 'algo', 'median s', 'max s', 'fit %', 'update %', 'x GPS')
    print('%-16s %-9s %8s %8s %6s %8s %7s' % header)
    for task in args.tasks:
        baseline = None
        for algorithm in args.algorithms:
            total, fit, update = time_iterations(task, algorithm, args.iterations)
            median = float(np.median(total))
            if algorithm == 'gps':
                baseline = median
            ratio = '%.1f' % (median / baseline) if baseline else '-'
            print('%-16s %-9s %8.2f %8.2f %6.0f %8.0f %7s'
                  % (task, algorithm, median, total.max(), 100 * fit.sum() / total.sum(),
                     100 * update.sum() / total.sum(), ratio), flush=True)
    if args.figure:
        seconds = time_figure(args.jobs)
        print('double-pendulum figure (%s, --jobs %d): %.1f s wall, %.2f x the %.0f s target'
              % (' '.join(FIGURE_ARGS), args.jobs, seconds, seconds / FIGURE_TARGET_SECONDS,
                 FIGURE_TARGET_SECONDS))
    return 0


if __name__ == '__main__':
    sys.exit(main())
