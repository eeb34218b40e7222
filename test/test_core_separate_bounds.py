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

"""Separate policy and state bounds (thesis 7.1): dual, SAPS limit, constraints, limits."""

from core_problems import lqr_gains, random_problem
import numpy as np
from ps_control.core import saps_update, separate_bounds_update
from ps_control.core.kl_update import (KLBoundedProblem, SEPARATE_BOUNDS, STATE_ACTION_BOUND)
from ps_control.core.separate_bounds import separate_bounds_dual
import pytest
from test_core_updates import _central_difference


def _kkt(value, bound, multiplier, multiplier_min=1e-8):
    """At the bound within 1 %, or slack with the multiplier at its minimum or negligible."""
    at_bound = np.abs(value - bound) <= 0.01 * bound
    negligible = multiplier * (bound - value) <= 0.01 * bound * multiplier.mean()
    at_min = multiplier <= multiplier_min * (1 + 1e-6)
    return np.all(at_bound | ((value < bound) & (negligible | at_min)))


@pytest.mark.parametrize('gamma_scale', [0.5, 2.0])  # beta = alpha - gamma > 0 and < 0
def test_dual_gradients_match_finite_differences(gamma_scale):
    dyn, rew, pol, x0 = random_problem(T=5, seed=3)
    alpha = np.linspace(3.0, 6.0, 5)
    gamma = gamma_scale * alpha[::-1]

    def dual(a, g):
        return separate_bounds_dual(dyn, rew, pol, x0, 0.3, 0.2, a, g)

    _, g_alpha, g_gamma = dual(alpha, gamma)
    fd_alpha = _central_difference(lambda a: dual(a, gamma)[0], alpha)
    fd_gamma = _central_difference(lambda g: dual(alpha, g)[0], gamma)
    np.testing.assert_allclose(g_alpha, fd_alpha, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(g_gamma, fd_gamma, rtol=1e-4, atol=1e-6)


def test_equal_multipliers_give_the_saps_fixed_point():
    """gamma_t = alpha_t is SAPS's Lagrangian: the same fixed point and policy."""
    dyn, rew, pol, x0 = random_problem(T=6, seed=8)
    alpha = np.linspace(2.0, 5.0, 6)
    separate = KLBoundedProblem(dyn, rew, pol, x0, 0.5, SEPARATE_BOUNDS, state_epsilon=0.5)
    saps = KLBoundedProblem(dyn, rew, pol, x0, 0.5, STATE_ACTION_BOUND)
    back_sep, marg_sep, _ = separate.fixed_point(alpha, alpha)
    back_saps, marg_saps, _ = saps.fixed_point(alpha, np.zeros(6))
    for name in ('K', 'k', 'cov'):
        np.testing.assert_allclose(getattr(back_sep, name), getattr(back_saps, name),
                                   rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(marg_sep.state_covs, marg_saps.state_covs, rtol=1e-8)


@pytest.mark.parametrize('seed, epsilon, state_epsilon', [(0, 0.5, 0.05), (1, 0.05, 0.5),
                                                          (2, 0.3, 0.3), (4, 0.2, 0.02)])
def test_both_bounds_hold_at_the_optimum(seed, epsilon, state_epsilon):
    dyn, rew, pol, x0 = random_problem(T=8, dx=3, du=2, seed=seed)
    res = separate_bounds_update(dyn, rew, pol, x0, epsilon, state_epsilon)
    assert res.converged
    assert _kkt(res.policy_kl, epsilon, res.alpha), res.policy_kl
    assert _kkt(res.state_kl, state_epsilon, res.gamma), res.state_kl
    np.testing.assert_array_equal(res.kl, res.policy_kl)
    assert np.all(res.beta == 0)


def test_a_tight_state_bound_moves_the_states_less_than_saps():
    """SAPS at eps spends it on policy and state together; a separate state bound caps mu."""
    dyn, rew, pol, x0 = random_problem(T=8, seed=2)
    saps = saps_update(dyn, rew, pol, x0, epsilon=0.5)
    res = separate_bounds_update(dyn, rew, pol, x0, epsilon=0.5, state_epsilon=0.01)
    assert res.converged
    assert res.state_kl.max() <= 0.0101 < saps.state_kl.max()


def test_huge_bounds_recover_lqr():
    dyn, rew, pol, x0 = random_problem(T=8, seed=6)
    K, k = lqr_gains(dyn, rew)
    res = separate_bounds_update(dyn, rew, pol, x0, epsilon=1e6, state_epsilon=1e6)
    assert res.converged
    np.testing.assert_allclose(res.policy.K, K, atol=1e-4)
    np.testing.assert_allclose(res.policy.k, k, atol=1e-4)


def test_tiny_bounds_leave_the_policy_unchanged():
    dyn, rew, pol, x0 = random_problem(T=8, seed=5)
    res = separate_bounds_update(dyn, rew, pol, x0, epsilon=1e-8, state_epsilon=1e-8)
    np.testing.assert_allclose(res.policy.K, pol.K, atol=1e-3)
    np.testing.assert_allclose(res.policy.k, pol.k, atol=1e-3)
    np.testing.assert_allclose(res.policy.cov, pol.cov, atol=1e-3)


def test_bad_bounds_are_rejected():
    dyn, rew, pol, x0 = random_problem(T=4, seed=1)
    with pytest.raises(ValueError, match='state_epsilon'):
        separate_bounds_update(dyn, rew, pol, x0, 0.5, -1.0)
    with pytest.raises(ValueError, match='state_epsilon'):
        KLBoundedProblem(dyn, rew, pol, x0, 0.5, SEPARATE_BOUNDS)
    with pytest.raises(ValueError, match='state_epsilon'):
        KLBoundedProblem(dyn, rew, pol, x0, 0.5, STATE_ACTION_BOUND, state_epsilon=0.1)
    with pytest.raises(ValueError, match='state_epsilon'):
        separate_bounds_update(dyn, rew, pol, x0, 0.5, np.full(3, 0.1))


@pytest.mark.parametrize('bound', [STATE_ACTION_BOUND, SEPARATE_BOUNDS])
def test_retreat_raises_the_multipliers_to_a_fixed_point(monkeypatch, bound):
    """_retreat: alpha (and gamma for the separate bounds) x10, x100, ... until a fixed point."""
    dyn, rew, pol, x0 = random_problem(T=6, dx=3, du=2, seed=2)
    extra = {'state_epsilon': 0.5} if bound == SEPARATE_BOUNDS else {}
    problem = KLBoundedProblem(dyn, rew, pol, x0, 0.5, bound, **extra)
    fixed_point = KLBoundedProblem.fixed_point
    tried = []

    def fail_once(self, alpha, beta, *args):
        tried.append((alpha.copy(), beta.copy()))
        if len(tried) == 1:
            raise RuntimeError('state distribution fixed point not reached')
        return fixed_point(self, alpha, beta, *args)
    monkeypatch.setattr(KLBoundedProblem, 'fixed_point', fail_once)
    alpha, second = np.full(6, 2.0), np.full(6, 3.0)
    new_alpha, new_second, (back, marginals, gap) = problem._retreat(alpha, second)
    np.testing.assert_allclose([a for a, _ in tried], [20.0 * np.ones(6), 200.0 * np.ones(6)])
    np.testing.assert_allclose(new_alpha, 200.0)
    raised = 300.0 if bound == SEPARATE_BOUNDS else 3.0  # SAPS / ESAPS keep their beta
    np.testing.assert_allclose(new_second, raised)
    assert gap <= problem.gap_tolerance

    def never(self, alpha, beta, *args):
        raise RuntimeError('state distribution fixed point not reached')
    monkeypatch.setattr(KLBoundedProblem, 'fixed_point', never)
    assert problem._retreat(alpha, second) is None  # none up to max_backtracks powers of 10


def test_warm_start_takes_both_multipliers():
    """Started at its own solution (alpha0 and gamma0), the search has nothing left to do."""
    dyn, rew, pol, x0 = random_problem(T=10, seed=3)
    cold = separate_bounds_update(dyn, rew, pol, x0, 0.3, 0.2)
    warm = separate_bounds_update(dyn, rew, pol, x0, 0.3, 0.2, alpha0=cold.alpha,
                                  gamma0=cold.gamma)
    assert cold.iterations > 0 and warm.iterations == 0 and warm.converged
    np.testing.assert_allclose(warm.gamma, cold.gamma, rtol=1e-9)
    np.testing.assert_allclose(warm.alpha, cold.alpha, rtol=1e-9)
