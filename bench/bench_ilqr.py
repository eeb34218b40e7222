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

Compares analytic Jacobians with central finite differences, each with a per-sample step
function and a vectorized one (batched finite differences and line search). The pendulum,
its Jacobians and the reward are those of test/test_ilqr.py.
"""

import argparse
import os
import sys
import time

import numpy as np
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


def main():
    """Run each variant, print iterations, wall time, reward and final state."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('--repeats', type=int, default=3)
    args = parser.parse_args()
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
