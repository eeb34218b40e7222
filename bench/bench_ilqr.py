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
Benchmark: exact-model iLQR on the torque-limited pendulum swing-up (T = 100, dt = 0.05 s).

    PYTHONPATH=. python3 bench/bench_ilqr.py            # 3 repeats, best wall time reported
    PYTHONPATH=. python3 bench/bench_ilqr.py --repeats 1
    PYTHONPATH=. python3 bench/bench_ilqr.py --reference double_pendulum quad_pendulum

Compares analytic Jacobians with central finite differences, each with a per-sample step
function and a vectorized one (batched finite differences and line search). The pendulum,
its Jacobians and the reward are those of test/test_ilqr.py.

With --reference, instead computes the exact-model iLQR reference of each task
(ps_control.ilqr_reference on PyBullet, no cache: a fresh temporary folder) and prints
its reward, swing-up success, iterations and wall time per screening start and stage.
"""

import argparse
import os
import sys
import tempfile
import time

import ps_control  # noqa: F401 (before numpy: one BLAS thread per process, see there)
import numpy as np  # noqa: I100
from ps_control.core.ilqr import ilqr

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test'))
from test_ilqr import pendulum_jacobians, pendulum_reward, pendulum_step, U_MAX  # noqa: E402


def batched_jacobians(states, actions):
    """Return the analytic Jacobians of a whole trajectory (vectorized jacobian_fn)."""
    pairs = [pendulum_jacobians(x, u) for x, u in zip(states, actions)]
    return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


def count_calls(function):
    """Wrap ``function`` so that its calls and rows (batched inputs) are counted."""
    counts = {'calls': 0, 'rows': 0}

    def wrapped(x, u):
        counts['calls'] += 1
        counts['rows'] += 1 if np.ndim(x) == 1 else len(x)
        return function(x, u)
    return wrapped, counts


def bench_reference(tasks):
    """Compute each task's iLQR reference from scratch; print its stages and wall time."""
    from ps_control.ilqr_reference import ilqr_reference
    for task in tasks:
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            reference = ilqr_reference(task, out, quiet=True)
            wall = time.perf_counter() - start
        print('%s: reward %.6g, swing-up %s (start %s), %d iterations, %.1f s; feedback law '
              'from %d sampled initial states: reward %.6g, success %.0f%%'
              % (task, reference['reward'], 'yes' if reference['success'] else 'no',
                 reference['best_start'], reference['iterations'], wall,
                 reference['settings']['policy_rollouts'], reference['policy_reward'],
                 100 * reference['policy_success_rate']))
        for entry in reference['screening']:
            print('  screening %-8s reward %12.6g  %4d iterations %7.1f s  (%s)'
                  % (entry['start'], entry['reward'], entry['iterations'], entry['seconds'],
                     entry['message']))
        for entry in reference['stages']:
            value = ('reward %12.6g' % entry['reward'] if 'reward' in entry
                     else 'gain   %12.6g' % entry['gain'])
            print('  %-18s %s  %4d iterations %7.1f s  (%s)'
                  % (entry['stage'], value, entry['iterations'], entry['seconds'],
                     entry['message']))


def main():
    """Run each variant, print iterations, wall time, reward and final state."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--reference', nargs='+', metavar='TASK',
                        help="compute these tasks' exact-model iLQR references instead")
    args = parser.parse_args()
    if args.reference:
        bench_reference(args.reference)
        return
    reward = pendulum_reward(100)
    variants = [
        ('analytic', pendulum_jacobians, False),
        ('analytic, vectorized', batched_jacobians, True),
        ('finite differences', None, False),
        ('finite differences, vectorized', None, True),
    ]
    print('pendulum swing-up, T = %d, |u| <= %.1f, x0 = (0, 0), u_init = 0' % (reward.T, U_MAX))
    print('%-32s %5s %9s %11s %10s %9s %12s %16s' % (
        'jacobians', 'iters', 'time [s]', 'ms / iter', 'reward', 'theta_T', 'step calls',
        'step evaluations'))
    for name, jacobian_fn, vectorized in variants:
        best = np.inf
        for _ in range(args.repeats):
            step, counts = count_calls(pendulum_step)
            start = time.perf_counter()
            result = ilqr(step, reward, np.zeros(2), np.zeros((reward.T, 1)),
                          jacobian_fn=jacobian_fn, u_min=-U_MAX, u_max=U_MAX,
                          vectorized=vectorized)
            best = min(best, time.perf_counter() - start)
        print('%-32s %5d %9.3f %11.1f %10.4f %9.4f %12d %16d' % (
            name, result.iterations, best, 1e3 * best / result.iterations, result.reward,
            result.states[-1, 0], counts['calls'], counts['rows']))


if __name__ == '__main__':
    main()
