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
Simulator speed: batched rollouts against one robot at a time, for the pendulum tasks.

For each task and batch size N, the same N rollouts of a linear-Gaussian policy (PD towards
the hanging state plus exploration noise, the shape of the learners' initial policy) are run

* sequentially: a one-copy Simulator runs them one after the other (the baseline), and
* batched: one Simulator.rollout call with N copies, for each world size asked for (copies per
  PyBullet world; 'all' = every copy in one world).

Figures are robot steps per second (task steps of one robot: substeps physics steps each) and
the batched / sequential ratio, best of --repeats runs each (the machine may be shared). Run::

    PYTHONPATH=. python3 bench/bench_sim.py        # double and quad pendulum, N = 25 and 100
    PYTHONPATH=. python3 bench/bench_sim.py --n 25 --world-sizes 4 8 32 all
"""

import argparse
import sys
import time

import ps_control  # noqa: F401 (before numpy: one BLAS thread per process, see there)
import numpy as np  # noqa: I100

from ps_control.core import LinearGaussianPolicy
from ps_control.sim.simulator import DEFAULT_WORLD_SIZE
from ps_control.tasks import load_task


def initial_policy(task, gain_p=5.0, gain_d=1.0, std=3.0):
    """Return a PD policy towards the mean initial state with isotropic exploration noise."""
    n = task.du
    K = np.hstack([-gain_p * np.eye(n), -gain_d * np.eye(n)])
    k = -K @ np.asarray(task.initial_mean)
    return LinearGaussianPolicy.constant(task.horizon, K, k, std)


def best_time(function, repeats):
    """Return the shortest wall-clock time of repeats calls of function."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_task(name, sizes, world_sizes, repeats, seed=0):
    """Print the figures of one task; return [(n, label, steps per second, ratio)]."""
    task = load_task(name)
    policy = initial_policy(task)
    rows = []
    single = task.make_simulator(n_robots=1)
    for n in sizes:
        x0 = task.sample_initial_states(n, seed)

        def sequential():
            for i in range(n):
                single.rollout(policy, x0[i:i + 1], rng=seed + i)
        base = best_time(sequential, repeats)
        base_rate = n * task.horizon / base
        rows.append((n, 'sequential (1 copy)', base_rate, 1.0))
        for world_size in world_sizes:
            sim = task.make_simulator(n_robots=n, world_size=world_size)
            elapsed = best_time(lambda: sim.rollout(policy, x0, rng=seed), repeats)
            rate = n * task.horizon / elapsed
            label = 'batched, world size %s' % ('all' if world_size is None else world_size)
            rows.append((n, label, rate, rate / base_rate))
            sim.close()
    single.close()
    print('\n%s: T = %d steps of dt = %g s, %d physics sub-steps each, dx = %d'
          % (name, task.horizon, task.dt, task.substeps, task.dx))
    print('%6s  %-26s %16s %12s' % ('N', 'mode', 'robot steps / s', 'vs sequential'))
    for n, label, rate, ratio in rows:
        print('%6d  %-26s %16.0f %11.2fx' % (n, label, rate, ratio))
    return rows


def main(argv=None):
    """Run the benchmark (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--tasks', nargs='+', default=['double_pendulum', 'quad_pendulum'])
    parser.add_argument('--n', nargs='+', type=int, default=[25, 100])
    parser.add_argument('--world-sizes', nargs='+', default=[str(DEFAULT_WORLD_SIZE), 'all'],
                        help="copies per PyBullet world for the batched runs ('all' = one world)")
    parser.add_argument('--repeats', type=int, default=3)
    args = parser.parse_args(argv)
    world_sizes = [None if w == 'all' else int(w) for w in args.world_sizes]
    print('Simulator benchmark, best of %d runs; command: %s'
          % (args.repeats, ' '.join(['PYTHONPATH=. python3 bench/bench_sim.py'] + sys.argv[1:])))
    for name in args.tasks:
        bench_task(name, args.n, world_sizes, args.repeats)
    return 0


if __name__ == '__main__':
    sys.exit(main())
