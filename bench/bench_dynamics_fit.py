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
Time of linearization by sampling: one dynamics fit with and without the GMM prior.

    PYTHONPATH=. python3 bench/bench_dynamics_fit.py [--sizes 25,100,4,2 100,200,8,4]
        [--systems linear pendulums] [--iterations 3] [--repeats 3]

Per system and size (N rollouts, T steps, dx, du): ``iterations`` rounds of N rollouts (open-
loop sinusoid plus unit noise, a larger sinusoid each round) feed ``update_prior`` (EM,
warm-started after the first round); the last round is then fitted with the prior and without.
Systems: ``linear``, a random stable linear system whose A_t, B_t, c_t drift with t (the state
space GMM prior cannot tell time steps apart: its worst case), and ``pendulums``, dx/2 damped
pendulums coupled by springs (time-invariant and nonlinear: the case the prior is built for).
Prints the best-of-repeats time of each fit, the EM time and iterations of the last prior
update, and the held-out one-step error of both fits (mean squared, whitened by the true
noise: 1.0 = noise level; the pendulums add linearization error on top). The thread setting
of OpenBLAS is printed: on a shared, loaded machine threaded BLAS timings are erratic.
"""

import argparse
import os
import time

import ps_control  # noqa: F401 (before numpy: one BLAS thread per process, see there)
import numpy as np  # noqa: I100
from ps_control.core.dynamics_fit import DynamicsFitter


def linear_system(T, dx, du, seed=0):
    """Return a sampler of a random stable linear system whose A_t, B_t, c_t drift with t."""
    rng = np.random.default_rng(seed)
    skew = [rng.standard_normal((dx, dx)) for _ in range(2)]
    phase = np.linspace(0.0, np.pi, T)[:, None, None]
    A = np.eye(dx) + 0.05 * (np.cos(phase) * (skew[0] - skew[0].T)
                             + np.sin(phase) * (skew[1] - skew[1].T)) - 0.02 * np.eye(dx)
    B = 0.1 * rng.standard_normal((dx, du)) * (1.0 + 0.3 * np.cos(phase))
    c = 0.02 * np.sin(np.arange(T)[:, None] / 10.0 + np.arange(dx))
    root = 0.05 * np.eye(dx) + 0.01 * rng.standard_normal((dx, dx))

    def step(t, x, u, noise):
        return x @ A[t].T + u @ B[t].T + c[t] + noise @ root.T
    return step, root


def pendulum_chain(T, dx, du, seed=0, dt=0.05):
    """Return a sampler of dx/2 damped pendulums coupled by springs (time-invariant, nonlinear)."""
    q = dx // 2
    drive = np.random.default_rng(seed).standard_normal((q, du))
    root = 0.01 * np.eye(dx)

    def step(t, x, u, noise):
        pos, vel = x[:, :q], x[:, q:]
        spring = np.roll(pos, 1, axis=1) - 2.0 * pos + np.roll(pos, -1, axis=1)
        vel = vel + dt * (-9.81 * np.sin(pos) - 0.5 * vel + 2.0 * spring + u @ drive.T)
        return np.hstack([pos + dt * vel, vel]) + noise @ root.T
    return step, root


SYSTEMS = {'linear': linear_system, 'pendulums': pendulum_chain}


def rollouts(system, n, T, du, seed, offset):
    step, root = system
    dx = root.shape[0]
    rng = np.random.default_rng(seed)
    states, actions = np.empty((n, T + 1, dx)), np.empty((n, T, du))
    states[:, 0] = 1.0 + 0.3 * rng.standard_normal((n, dx))
    plan = offset * np.sin(0.1 * np.arange(T)[:, None] + np.arange(du))
    for t in range(T):
        actions[:, t] = plan[t] + rng.standard_normal((n, du))
        states[:, t + 1] = step(t, states[:, t], actions[:, t], rng.standard_normal((n, dx)))
    return states, actions


def held_out_error(dynamics, system, states, actions):
    pred = (np.einsum('tij,ntj->nti', dynamics.A, states[:, :-1])
            + np.einsum('tij,ntj->nti', dynamics.B, actions) + dynamics.c)
    white = np.linalg.solve(system[1], (states[:, 1:] - pred)[..., None])[..., 0]
    return float(np.mean(white ** 2))


def best_time(function, repeats):
    best, result = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def bench(kind, n, T, dx, du, iterations, repeats):
    system = SYSTEMS[kind](T, dx, du)
    fitter = DynamicsFitter(prior='gmm', seed=0)
    plain = DynamicsFitter(prior=None)
    for iteration in range(iterations):
        offset = 1.0 + 0.3 * iteration
        states, actions = rollouts(system, n, T, du, seed=iteration, offset=offset)
        start = time.perf_counter()
        fitter.update_prior(states, actions)
        em_time = time.perf_counter() - start
    prior_time, with_prior = best_time(lambda: fitter.fit(states, actions), repeats)
    plain_time, without = best_time(lambda: plain.fit(states, actions), repeats)
    held = rollouts(system, 200, T, du, seed=99, offset=offset)
    print('%-9s N=%3d T=%3d dx=%d du=%d | fit with prior %6.1f ms, without %5.1f ms | last '
          'update_prior %5.2f s (%2d EM its, K=%d, %d tuples) | held-out error with prior '
          '%.3f, without %.3f'
          % (kind, n, T, dx, du, 1e3 * prior_time, 1e3 * plain_time, em_time,
             fitter.gmm.n_iterations, fitter.gmm.n_clusters, fitter.gmm.n_points,
             held_out_error(with_prior, system, *held), held_out_error(without, system, *held)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--sizes', nargs='+', default=['25,100,4,2', '100,200,8,4'],
                        help='N,T,dx,du per case')
    parser.add_argument('--systems', nargs='+', default=sorted(SYSTEMS), choices=sorted(SYSTEMS))
    parser.add_argument('--iterations', type=int, default=3)
    parser.add_argument('--repeats', type=int, default=3)
    args = parser.parse_args()
    print('OPENBLAS_NUM_THREADS=%s' % os.environ.get('OPENBLAS_NUM_THREADS', '(unset)'))
    for kind in args.systems:
        for size in args.sizes:
            n, T, dx, du = (int(v) for v in size.split(','))
            bench(kind, n, T, dx, du, args.iterations, args.repeats)


if __name__ == '__main__':
    main()
