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
Benchmark: updates per second of G-AMDS, G-MDS, PI2 and eREPS on the three via-point tasks.

    PYTHONPATH=. python3 bench/bench_mds.py          # all tasks, then a full 50-DOF G-AMDS run
    PYTHONPATH=. python3 bench/bench_mds.py --quick  # fewer updates, no full run

An update is what the experiments time: 10 sampled rollouts, the optimiser update and the
noiseless evaluation rollout. The baseline, measured in the same run, is the same G-MDS update
written the way the authors' code runs it (one rollout, one time step and one DOF at a time in
Python); the authors report about 3 s per update on the 50-DOF arm. Target: a whole 1000-update
50-DOF G-AMDS run in under 30 s.
"""

import argparse
import time

import ps_control  # noqa: F401 (before numpy: one BLAS thread per process, see there)
import numpy as np  # noqa: I100
from ps_control.mds_experiments import learning_step, make_optimizer, METHODS
from ps_control.tasks.via_point import make_task

TASKS = (('point', 2), ('arm', 10), ('arm', 50))


def loop_update(task, theta, rng, n_rollouts=10, h=10.0):
    """One G-MDS update and evaluation with per-rollout, per-step, per-DOF Python loops."""
    dmp = task.dmp
    D, B = theta.shape
    weights = task.dof_weights

    def rollout_cost(params):
        y = task.start.copy()
        z = np.zeros(D)
        g = task.start.copy()
        total = 0.0
        for i in range(dmp.T):
            b = dmp.basis[i]
            bb = float(b @ b)
            acc = np.zeros(D)
            step = 0.0
            for d in range(D):
                f = float(b @ params[d])
                acc[d] = (dmp.alpha_z * (dmp.beta_z * (g[d] - y[d]) - z[d])
                          + f * (task.goal[d] - task.start[d]))
                control = f * f / bb if bb > 0 else 0.0
                step += weights[d] * (task.acc_weight * acc[d] ** 2
                                      + task.control_weight * control)
            if i == task.via_index:
                error = task.via_point - task.effector(y)
                step += task.via_weight * float(error @ error)
            total += step
            y, z = y + dmp.dt * z, z + dmp.dt * acc
            g = g + dmp.dt * dmp.alpha_g * (task.goal - g)
        return total

    samples = [theta + rng.standard_normal(theta.shape) for _ in range(n_rollouts)]
    costs = np.array([rollout_cost(s) for s in samples])
    span = costs.max() - costs.min()
    p = np.exp(-h * (costs - costs.min()) / span) if span > 0 else np.ones(n_rollouts)
    p /= p.sum()
    new = sum(w * s for w, s in zip(p, samples))
    return new, rollout_cost(new)


def time_method(task, method, updates, seed=0):
    """Return updates per second of ``method`` on ``task`` (with the evaluation rollout)."""
    rng = np.random.default_rng(seed)
    optimizer = make_optimizer(method, task)
    learning_step(optimizer, task, rng)  # warm-up
    began = time.perf_counter()
    for _ in range(updates):
        learning_step(optimizer, task, rng)
        task.cost(np.reshape(optimizer.mean, task.param_shape))
    return updates / (time.perf_counter() - began)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0].strip())
    parser.add_argument('--quick', action='store_true', help='fewer updates, no full run')
    args = parser.parse_args()
    methods = ('gamds', 'gmds', 'pi2', 'ereps')
    print('updates per second (10 rollouts + update + evaluation rollout per update)')
    print('%-14s' % 'task' + ''.join('%10s' % METHODS[m] for m in methods))
    for name, dof in TASKS:
        task = make_task(name, dof)
        updates = (20 if args.quick else 100) if dof == 50 else (50 if args.quick else 300)
        rates = [time_method(task, m, updates) for m in methods]
        label = 'point' if name == 'point' else 'arm %d-DOF' % dof
        print('%-14s' % label + ''.join('%10.1f' % r for r in rates), flush=True)

    task = make_task('arm', 50)
    rng = np.random.default_rng(0)
    theta = task.initial_params()
    loops = 2
    began = time.perf_counter()
    for _ in range(loops):
        theta, _ = loop_update(task, theta, rng)
    baseline = (time.perf_counter() - began) / loops
    vectorised = 1.0 / time_method(task, 'gmds', 20 if args.quick else 100)
    print()
    print('50-DOF arm, G-MDS: loop baseline %.3f s / update, vectorised %.4f s / update: '
          '%.0fx faster' % (baseline, vectorised, baseline / vectorised))
    print('(the authors report about 3 s / update on this task on a 2-core machine)')

    if not args.quick:
        task = make_task('arm', 50)
        rng = np.random.default_rng(1)
        optimizer = make_optimizer('gamds', task)
        began = time.perf_counter()
        for _ in range(1000):
            learning_step(optimizer, task, rng)
            cost = task.cost(np.reshape(optimizer.mean, task.param_shape))
        seconds = time.perf_counter() - began
        print()
        print('full 1000-update 50-DOF G-AMDS run: %.1f s (target < 30 s; final cost %.4g; '
              'loop baseline would take about %.0f s)' % (seconds, cost, 1000 * baseline))


if __name__ == '__main__':
    main()
