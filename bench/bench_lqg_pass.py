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
Time per LQG backward and forward pass against the original implementation (prints, no asserts).

    PYTHONPATH=. python3 bench/bench_lqg_pass.py [--sizes 10,4,2 100,4,2 100,8,4 200,20,10]
        [--repeats 5] [--min-time 0.2] [--wall]

The baseline is the implementation ps_control.core.lqg had before its LAPACK fast path
(per step: a Quadratic, np.linalg on (1, n, n) stacks, broadcast identities), copied below with
only its error reporting trimmed, so that both are timed in the same run on the same problem:
a random stable LQG problem (bench_core.stable_problem) with the GPS-augmented reward at
alpha = 1. Rows: one backward pass, one forward pass, and soft_max_action batched over T (as
the per-step duals in kl_update call it). Reports ms per call (best of --repeats batches; CPU
time of this process unless --wall), the speed-up and the largest difference of the results
relative to the largest baseline entry.
"""

import argparse
import time

from bench_core import stable_problem
import numpy as np
from ps_control.core.gaussian import LOG_2PI, NotPositiveDefiniteError
from ps_control.core.linear_gaussian import check_finite
from ps_control.core.lqg import (backward_pass, expected_next_value, forward_pass,
                                 policy_log_density_quadratic, Quadratic, reward_quadratic,
                                 soft_max_action)


# -- baseline: the original implementation ---------------------------------------------------
def _baseline_cholesky(matrices, name='matrix'):
    matrices = np.asarray(matrices)
    try:
        return np.linalg.cholesky(matrices)
    except np.linalg.LinAlgError:
        pass
    raise NotPositiveDefiniteError('%s is not positive definite' % name, [])


def _baseline_logdet(chol):
    return 2.0 * np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(-1)


def _baseline_expected_next_value(dynamics, value, t=None):
    if t is None:
        A, B, c, cov = dynamics.A, dynamics.B, dynamics.c, dynamics.cov
    else:
        A, B, c, cov = dynamics.A[t], dynamics.B[t], dynamics.c[t], dynamics.cov[t]
    D = np.concatenate([A, B], axis=-1)
    Dt = np.swapaxes(D, -1, -2)
    F = Dt @ value.F @ D
    Vc = (value.F @ c[..., None])[..., 0]
    f = (Dt @ (Vc + value.f)[..., None])[..., 0]
    f0 = (0.5 * (c * Vc).sum(-1) + (c * value.f).sum(-1) + value.f0
          + 0.5 * (value.F * cov).sum((-1, -2)))
    return Quadratic(F, f, f0)


def baseline_soft_max_action(Q, eta, dx):
    """Return (V, K, k, cov, chol) as the original soft_max_action computed them."""
    Qss, Qas = Q.F[..., :dx, :dx], Q.F[..., dx:, :dx]
    Qaa, qs, qa = Q.F[..., dx:, dx:], Q.f[..., :dx], Q.f[..., dx:]
    du = Qaa.shape[-1]
    chol = _baseline_cholesky(-Qaa, '-Q_aa')
    inv_chol = np.linalg.solve(chol, np.broadcast_to(np.eye(du), Qaa.shape))
    inv_neg_qaa = np.swapaxes(inv_chol, -1, -2) @ inv_chol
    K = inv_neg_qaa @ Qas
    k = (inv_neg_qaa @ qa[..., None])[..., 0]
    Vss = Qss + np.swapaxes(Qas, -1, -2) @ K
    Vss = 0.5 * (Vss + np.swapaxes(Vss, -1, -2))
    vs = qs + (np.swapaxes(Qas, -1, -2) @ k[..., None])[..., 0]
    v0 = Q.f0 + 0.5 * (qa * k).sum(-1)
    eta = np.asarray(eta, dtype=float)
    cov = eta[..., None, None] * inv_neg_qaa
    positive = eta > 0
    if np.any(positive):
        log_norm = 0.5 * eta * (du * (LOG_2PI + np.log(np.where(positive, eta, 1.0)))
                                - _baseline_logdet(chol))
        v0 = v0 + np.where(positive, log_norm, 0.0)
    return Quadratic(Vss, vs, v0), K, k, 0.5 * (cov + np.swapaxes(cov, -1, -2)), chol


def baseline_backward_pass(dynamics, step_reward, terminal_reward, eta):
    """Return (value, K, k, cov) as the original backward_pass computed them."""
    T, dx, du = dynamics.T, dynamics.dx, dynamics.du
    eta = np.broadcast_to(np.asarray(eta, dtype=float), (T,))
    VF = np.empty((T + 1, dx, dx))
    vf = np.empty((T + 1, dx))
    v0 = np.empty(T + 1)
    K = np.empty((T, du, dx))
    k = np.empty((T, du))
    cov = np.empty((T, du, du))
    VF[T], vf[T], v0[T] = terminal_reward.F, terminal_reward.f, terminal_reward.f0
    for t in range(T - 1, -1, -1):
        next_value = Quadratic(VF[t + 1], vf[t + 1], v0[t + 1])
        Q = step_reward[t] + _baseline_expected_next_value(dynamics, next_value, t)
        value, K[t], k[t], cov[t], _ = baseline_soft_max_action(Q, eta[t], dx)
        VF[t], vf[t], v0[t] = value.F, value.f, value.f0
    check_finite('value function V', VF)
    check_finite('value function v0', v0)
    return Quadratic(VF, vf, v0), K, k, cov


def baseline_forward_pass(dynamics, K, k, cov, x0_mean, x0_cov):
    """Return (means, covs, action means, action covs, action-state covs) as the original."""
    T, dx, du = dynamics.T, dynamics.dx, dynamics.du
    means = np.empty((T + 1, dx))
    covs = np.empty((T + 1, dx, dx))
    a_means = np.empty((T, du))
    a_covs = np.empty((T, du, du))
    as_covs = np.empty((T, du, dx))
    means[0], covs[0] = x0_mean, x0_cov
    A, B, c, dyn_cov = dynamics.A, dynamics.B, dynamics.c, dynamics.cov
    for t in range(T):
        KS = K[t] @ covs[t]
        as_covs[t] = KS
        a_means[t] = K[t] @ means[t] + k[t]
        a_covs[t] = KS @ K[t].T + cov[t]
        G = A[t] + B[t] @ K[t]
        means[t + 1] = A[t] @ means[t] + B[t] @ a_means[t] + c[t]
        nxt = G @ covs[t] @ G.T + B[t] @ cov[t] @ B[t].T + dyn_cov[t]
        covs[t + 1] = 0.5 * (nxt + nxt.T)
    check_finite('state means', means)
    check_finite('state covariances', covs)
    return means, covs, a_means, a_covs, as_covs


# -- timing ----------------------------------------------------------------------------------
def best_time(fn, repeats, min_time, clock):
    """Return the best mean seconds per call over ``repeats`` batches of >= ``min_time`` s."""
    fn()
    number = 1
    while True:
        start = clock()
        for _ in range(number):
            fn()
        elapsed = clock() - start
        if elapsed >= min_time / 10 or number >= 1 << 20:
            break
        number *= 2
    number = max(1, int(number * min_time / max(elapsed, 1e-9) / 10))
    best = np.inf
    for _ in range(repeats):
        start = clock()
        for _ in range(number):
            fn()
        best = min(best, (clock() - start) / number)
    return best


def rel_diff(new, old):
    """Return the largest |new - old| relative to the largest |old| over paired arrays."""
    return max(float(np.max(np.abs(np.asarray(a) - np.asarray(b)))
                     / max(float(np.max(np.abs(b))), 1e-300)) for a, b in zip(new, old))


def pass_problem(T, dx, du):
    """Return the dynamics, GPS-augmented reward (alpha = 1), terminal reward, eta and x0."""
    dyn, reward, policy, x0 = stable_problem(T, dx, du)
    step, terminal = reward_quadratic(reward)
    eta = np.ones(T)
    return dyn, step + policy_log_density_quadratic(policy), terminal, eta, x0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('--sizes', nargs='+', default=['10,4,2', '100,4,2', '100,8,4',
                                                       '200,20,10'])
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--min-time', type=float, default=0.2,
                        help='seconds per timed batch (best of --repeats batches)')
    parser.add_argument('--wall', action='store_true',
                        help='time wall-clock instead of process CPU time (the default, which is '
                        'less disturbed by other processes on shared cores)')
    args = parser.parse_args()
    clock = time.perf_counter if args.wall else time.process_time
    print('%-13s %-9s %12s %12s %9s %10s' % ('(T,dx,du)', 'pass', 'baseline ms', 'ms', 'speed-up',
                                             'rel diff'))
    for size in args.sizes:
        T, dx, du = (int(v) for v in size.split(','))
        dyn, step, terminal, eta, x0 = pass_problem(T, dx, du)
        back = backward_pass(dyn, step, terminal, eta)
        old_back = baseline_backward_pass(dyn, step, terminal, eta)
        marg = forward_pass(dyn, back.K, back.k, back.cov, x0.mean, x0.cov)
        old_marg = baseline_forward_pass(dyn, back.K, back.k, back.cov, x0.mean, x0.cov)
        Q = step + expected_next_value(dyn, back.value[1:])
        soft = soft_max_action(Q, eta, dx)
        old_soft = baseline_soft_max_action(Q, eta, dx)
        cases = [
            ('backward', lambda: baseline_backward_pass(dyn, step, terminal, eta),
             lambda: backward_pass(dyn, step, terminal, eta),
             rel_diff([back.value.F, back.value.f, back.value.f0, back.K, back.k, back.cov],
                      [old_back[0].F, old_back[0].f, old_back[0].f0] + list(old_back[1:]))),
            ('forward', lambda: baseline_forward_pass(dyn, back.K, back.k, back.cov, x0.mean,
                                                      x0.cov),
             lambda: forward_pass(dyn, back.K, back.k, back.cov, x0.mean, x0.cov),
             rel_diff([marg.state_means, marg.state_covs, marg.action_means, marg.action_covs,
                       marg.action_state_covs], old_marg)),
            ('soft-max', lambda: baseline_soft_max_action(Q, eta, dx),
             lambda: soft_max_action(Q, eta, dx),
             rel_diff([soft.value.F, soft.value.f, soft.value.f0, soft.K, soft.k, soft.cov],
                      [old_soft[0].F, old_soft[0].f, old_soft[0].f0] + list(old_soft[1:4]))),
        ]
        for name, old, new, diff in cases:
            t_old = best_time(old, args.repeats, args.min_time, clock)
            t_new = best_time(new, args.repeats, args.min_time, clock)
            print('%-13s %-9s %12.3f %12.3f %8.1fx %10.1e'
                  % ((T, dx, du), name, 1e3 * t_old, 1e3 * t_new, t_old / t_new, diff),
                  flush=True)


if __name__ == '__main__':
    main()
