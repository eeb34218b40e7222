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

"""The shared LQG machine checked against brute force: quadrature and Monte Carlo."""

from core_problems import random_problem
import numpy as np
from ps_control.core import GaussianState, LinearGaussianDynamics, LinearGaussianPolicy
from ps_control.core.gaussian import expected_policy_kl, kl_gaussian
from ps_control.core.linear_gaussian import NonFiniteError
from ps_control.core.lqg import (backward_pass, expected_reward, forward_pass, Quadratic,
                                 reward_quadratic, soft_max_action)
import pytest


def test_soft_max_matches_quadrature():
    """V(s) = eta log int exp(Q(s, a) / eta) da and pi ~ exp(Q / eta) against quadrature."""
    rng = np.random.default_rng(1)
    dx, eta = 2, 0.7
    F = rng.standard_normal((3, 3))
    F = F @ F.T
    F[2, 2] = -abs(F[2, 2]) - 2.0  # Q concave in the action
    F[:2, :2] = rng.standard_normal((2, 2))
    F = 0.5 * (F + F.T)
    Q = Quadratic(F, rng.standard_normal(3), 0.3)
    soft = soft_max_action(Q, np.array(eta), dx)
    grid = np.linspace(-40.0, 40.0, 200001)
    for s in rng.standard_normal((4, dx)):
        x = np.column_stack([np.tile(s, (grid.size, 1)), grid])
        q = np.einsum('ni,ij,nj->n', x, F, x) / 2 + x @ Q.f + Q.f0
        peak = q.max()
        weights = np.exp((q - peak) / eta)
        integral = np.trapezoid(weights, grid)
        v_brute = peak + eta * np.log(integral)
        mean_brute = np.trapezoid(weights * grid, grid) / integral
        var_brute = np.trapezoid(weights * (grid - mean_brute) ** 2, grid) / integral
        assert soft.value.evaluate(s) == pytest.approx(v_brute, rel=1e-8, abs=1e-8)
        assert soft.K @ s + soft.k == pytest.approx(mean_brute, rel=1e-7, abs=1e-9)
        assert soft.cov[0, 0] == pytest.approx(var_brute, rel=1e-6)


def test_backward_pass_value_matches_monte_carlo_return():
    """With eta -> 0 the value V_0 is the expected return of the greedy policy (Monte Carlo)."""
    dyn, rew, _, x0 = random_problem(T=5, dx=2, du=1, seed=3, noise=0.05)
    step, terminal = reward_quadratic(rew)
    back = backward_pass(dyn, step, terminal, np.zeros(dyn.T))
    rng = np.random.default_rng(0)
    n = 200000
    s = rng.multivariate_normal(x0.mean, x0.cov, size=n)
    states, actions = [s], []
    for t in range(dyn.T):
        a = s @ back.K[t].T + back.k[t]
        actions.append(a)
        noise = rng.multivariate_normal(np.zeros(dyn.dx), dyn.cov[t], size=n)
        s = s @ dyn.A[t].T + a @ dyn.B[t].T + dyn.c[t] + noise
        states.append(s)
    returns = rew.evaluate(np.stack(states, 1), np.stack(actions, 1))
    predicted = back.value[0].expectation(x0.mean, x0.cov)
    assert predicted == pytest.approx(returns.mean(), abs=4 * returns.std() / np.sqrt(n))


def test_forward_pass_matches_monte_carlo():
    dyn, rew, pol, x0 = random_problem(T=6, dx=3, du=2, seed=4, noise=0.05)
    marg = forward_pass(dyn, pol.K, pol.k, pol.cov, x0.mean, x0.cov)
    rng = np.random.default_rng(5)
    n = 100000
    s = rng.multivariate_normal(x0.mean, x0.cov, size=n)
    states, actions = [s], []
    for t in range(dyn.T):
        a = s @ pol.K[t].T + pol.k[t] + rng.multivariate_normal(np.zeros(2), pol.cov[t], n)
        actions.append(a)
        s = (s @ dyn.A[t].T + a @ dyn.B[t].T + dyn.c[t]
             + rng.multivariate_normal(np.zeros(3), dyn.cov[t], size=n))
        states.append(s)
    states, actions = np.stack(states, 1), np.stack(actions, 1)
    assert np.abs(states.mean(0) - marg.state_means).max() < 0.02
    assert np.abs(actions.mean(0) - marg.action_means).max() < 0.03
    for t in (1, 3, 6):
        assert np.abs(np.cov(states[:, t].T) - marg.state_covs[t]).max() < 0.03
    joint_means, joint_covs = marg.joint()
    emp = np.cov(np.concatenate([states[:, 2], actions[:, 2]], 1).T)
    assert np.abs(emp - joint_covs[2]).max() < 0.05
    returns = rew.evaluate(states, actions)
    assert expected_reward(rew, marg) == pytest.approx(
        returns.mean(), abs=4 * returns.std() / np.sqrt(n))


def test_kl_helpers_match_monte_carlo():
    rng = np.random.default_rng(7)
    m1, m2 = rng.standard_normal(2), rng.standard_normal(2)
    S1, S2 = np.diag([0.5, 1.5]), np.array([[1.0, 0.3], [0.3, 0.8]])
    x = rng.multivariate_normal(m1, S1, size=400000)

    def logpdf(x, m, S):
        d = x - m
        return -0.5 * (np.einsum('ni,ij,nj->n', d, np.linalg.inv(S), d)
                       + np.log(np.linalg.det(2 * np.pi * S)))

    mc = np.mean(logpdf(x, m1, S1) - logpdf(x, m2, S2))
    assert kl_gaussian(m1, S1, m2, S2) == pytest.approx(mc, abs=0.01)
    # expected conditional KL of two linear-Gaussian policies under a state Gaussian
    K1, K2 = rng.standard_normal((1, 2)), rng.standard_normal((1, 2))
    k1, k2 = np.array([0.2]), np.array([-0.1])
    P1, P2 = np.array([[0.4]]), np.array([[0.9]])
    per_state = np.array([kl_gaussian(K1 @ s + k1, P1, K2 @ s + k2, P2) for s in x[:20000]])
    closed = expected_policy_kl(K1, k1, P1, K2, k2, P2, m1, S1)
    assert closed == pytest.approx(per_state.mean(), abs=4 * per_state.std() / np.sqrt(20000))


def test_non_finite_inputs_name_quantity_and_step():
    dyn, _, pol, _ = random_problem(T=4)
    A = dyn.A.copy()
    A[2, 0, 1] = np.nan
    with pytest.raises(NonFiniteError, match='dynamics A .* time step 2'):
        LinearGaussianDynamics(A, dyn.B, dyn.c, dyn.cov)
    cov = pol.cov.copy()
    cov[1] = -np.eye(2)
    with pytest.raises(ValueError, match='policy cov is not positive definite at time step 1'):
        LinearGaussianPolicy(pol.K, pol.k, cov)
    with pytest.raises(ValueError, match='policy k has shape'):
        LinearGaussianPolicy(pol.K, pol.k[:, :1], pol.cov)
    with pytest.raises(ValueError, match='state cov'):
        GaussianState(np.zeros(2), np.eye(3))
