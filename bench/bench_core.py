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
Time per GPS / SAPS / ESAPS update on random stable LQG problems (prints figures, no asserts).

    PYTHONPATH=. python3 bench/bench_core.py [--sizes 100,4,2 200,8,4 200,20,10]
        [--algorithms gps saps esaps separate] [--repeats 3] [--seeds 1] [--task double_pendulum]

``separate`` is the update with separate policy and state bounds, both at ``--epsilon``.
Reports wall time per update (best of repeats), outer dual iterations, whether every step met
its bound, and each algorithm's time as a ratio to GPS on the same problem. With ``--seeds N``
each size is N random problems (seeds 0 .. N-1): the time is the mean over them of each
problem's best time, the ratio that of the means (the number of dual iterations, and with it
the time, differs from problem to problem by tens of percent). ``--task`` adds
the first update of that task's learning loop: dynamics fitted (GMM prior) to
learning.samples rollouts of its initial policy in PyBullet, the problem the trainer solves.
"""

import argparse
import time

import ps_control  # noqa: F401 (before numpy: one BLAS thread per process, see there)
import numpy as np  # noqa: I100
from ps_control.cli_types import int_at_least, positive_float
from ps_control.core import (entropy_bound, esaps_update, GaussianState, gps_update,
                             LinearGaussianDynamics, LinearGaussianPolicy, QuadraticReward,
                             saps_update, separate_bounds_update)
from ps_control.tasks import known_tasks


def stable_problem(T, dx, du, seed=0):
    """Return a random LQG problem whose open-loop dynamics are stable over T steps."""
    rng = np.random.default_rng(seed)
    A = []
    for _ in range(T):
        a = rng.standard_normal((dx, dx))
        A.append(np.eye(dx) + 0.05 * (a - a.T) - 0.02 * np.eye(dx))
    B = 0.1 * rng.standard_normal((T, dx, du))
    dyn = LinearGaussianDynamics(np.array(A), B, 0.01 * rng.standard_normal((T, dx)),
                                 np.broadcast_to(1e-3 * np.eye(dx), (T, dx, dx)))
    M = np.broadcast_to(-np.eye(dx), (T + 1, dx, dx))
    H = np.broadcast_to(-1e-2 * np.eye(du), (T, du, du))
    reward = QuadraticReward(M, H, np.broadcast_to(rng.standard_normal(dx), (T + 1, dx)))
    policy = LinearGaussianPolicy.constant(T, np.zeros((du, dx)), np.zeros(du), 1.0)
    return dyn, reward, policy, GaussianState(np.zeros(dx), 0.01 * np.eye(dx))


def task_problem(name):
    """Return the first learning update's (dynamics, reward, policy, x0) of a task."""
    from ps_control.learning import PolicySearch
    from ps_control.learning_config import load_learning_config
    from ps_control.tasks import load_task
    task = load_task(name)
    search = PolicySearch(task, load_learning_config(task, {'algorithm': 'gps'}))
    samples = search.episode_count
    sim = task.make_simulator(n_robots=samples)
    try:
        rng = np.random.default_rng(0)
        rollouts = sim.rollout(search.policy, task.sample_initial_states(samples, rng), rng)
    finally:
        sim.close()
    states, actions = search._check_rollouts(rollouts.states, rollouts.actions)
    dynamics = search.fit_dynamics(states, actions)
    return dynamics, search.reward, search.policy, search.initial_state(states)


def run(algorithm, problem, epsilon):
    dyn, reward, policy, x0 = problem
    if algorithm == 'gps':
        return gps_update(dyn, reward, policy, x0, epsilon)
    if algorithm == 'saps':
        return saps_update(dyn, reward, policy, x0, epsilon)
    if algorithm == 'separate':
        return separate_bounds_update(dyn, reward, policy, x0, epsilon, epsilon)
    return esaps_update(dyn, reward, policy, x0, epsilon, delta=entropy_bound(policy))


ALGORITHMS = ('gps', 'saps', 'esaps', 'separate')


def problem_size(text):
    """Parse a problem size 'T,dx,du' (three positive integers)."""
    try:
        size = tuple(int(v) for v in text.split(','))
    except ValueError:
        size = ()
    if len(size) != 3 or min(size) < 1:
        raise argparse.ArgumentTypeError('a size is T,dx,du (three positive integers), not %r'
                                         % (text,))
    return size


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('--sizes', nargs='*', type=problem_size,
                        default=[(100, 4, 2), (200, 8, 4), (200, 20, 10)])
    parser.add_argument('--algorithms', nargs='+', choices=ALGORITHMS,
                        default=['gps', 'saps', 'esaps'])
    parser.add_argument('--repeats', type=int_at_least(1), default=3)
    parser.add_argument('--epsilon', type=positive_float, default=0.5)
    parser.add_argument('--seeds', type=int_at_least(1), default=1,
                        help='random problems per size (their mean is reported)')
    parser.add_argument('--task', nargs='*', default=[], choices=known_tasks(),
                        help='also time the first learning update of these tasks')
    args = parser.parse_args()
    print('%-12s %-8s %10s %8s %10s %10s' % ('(T,dx,du)', 'algo', 'ms/update', 'dual it',
                                             'converged', 'x GPS'))
    problems = [(shape, [stable_problem(*shape, seed=seed) for seed in range(args.seeds)])
                for shape in args.sizes]
    problems += [(name, [task_problem(name)]) for name in args.task]
    for label, instances in problems:
        base = None
        for algorithm in args.algorithms:
            times, iterations, converged = [], [], True
            for problem in instances:
                best = np.inf
                for _ in range(args.repeats):
                    start = time.perf_counter()
                    result = run(algorithm, problem, args.epsilon)
                    best = min(best, time.perf_counter() - start)
                times.append(best)
                iterations.append(result.iterations)
                converged &= bool(result.converged)
            mean = float(np.mean(times))
            base = mean if algorithm == 'gps' else base
            ratio = '%.1f' % (mean / base) if base else '-'
            print('%-12s %-8s %10.1f %8.1f %10s %10s' % (label, algorithm, 1e3 * mean,
                                                         np.mean(iterations), converged, ratio),
                  flush=True)


if __name__ == '__main__':
    main()
