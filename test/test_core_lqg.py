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
The shared LQG machine checked against brute force: quadrature and Monte Carlo.

And against straightforward step-by-step references of the thesis equations (np.linalg.inv per
step) to 1e-10 relative, including the errors raised for non-PD and non-finite cases.
"""

from core_problems import random_problem
import numpy as np
from ps_control.core import (GaussianState, LinearGaussianDynamics, LinearGaussianPolicy, lqg,
                             QuadraticReward)
from ps_control.core.gaussian import expected_policy_kl, kl_gaussian, NotPositiveDefiniteError
from ps_control.core.linear_gaussian import NonFiniteError
from ps_control.core.lqg import (augment, backward_pass, expected_next_value, expected_reward,
                                 forward_pass, policy_log_density_quadratic, Quadratic,
                                 reward_quadratic, soft_max_action)
import pytest

RTOL = 1e-10


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
    with pytest.raises(ValueError, match='policy K is not a numeric array'):
        LinearGaussianPolicy([[[1.0]], [[1.0, 2.0]]], pol.k, pol.cov)
    with pytest.raises(ValueError, match='dynamics B is not a numeric array'):
        LinearGaussianDynamics(dyn.A, 'B', dyn.c, dyn.cov)
    with pytest.raises(ValueError, match=r'dynamics A has shape \(4, 3, 2\), expected '
                                         r'\(T, dx, dx\)'):
        LinearGaussianDynamics(dyn.A[:, :, :2], dyn.B, dyn.c, dyn.cov)


def test_a_non_finite_scalar_is_named():
    from ps_control.core.linear_gaussian import check_finite
    with pytest.raises(NonFiniteError, match=r'eta is not finite \(nan\)'):
        check_finite('eta', np.nan)


def test_reward_of_a_bad_shape_is_named():
    M = -np.broadcast_to(np.eye(3), (5, 3, 3))
    H, z = -np.broadcast_to(np.eye(2), (4, 2, 2)), np.zeros((5, 3))
    QuadraticReward(M, H, z)
    with pytest.raises(ValueError, match=r'reward M has shape \(5, 3, 2\), expected '
                                         r'\(T\+1, dx, dx\)'):
        QuadraticReward(M[..., :2], H, z)
    with pytest.raises(ValueError, match=r'reward M has shape \(1, 3, 3\)'):
        QuadraticReward(M[:1], H[:0], z[:1])


# -- the implementation against a straightforward reference --------------------------------
def assert_close(actual, expected):
    """Equal to RTOL relative to the largest entry (elementwise relative for the tiny ones)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1e-300)
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=RTOL * scale)


def reference_soft_max(F, f, f0, eta, dx):
    """Eq. 3.4 / 3.7a for one Q, written out with np.linalg.inv: (V, v, v0, K, k, cov)."""
    Qaa, Qas, qa = F[dx:, dx:], F[dx:, :dx], f[dx:]
    P = np.linalg.inv(-Qaa)
    K, k = P @ Qas, P @ qa
    V = F[:dx, :dx] + Qas.T @ K
    v0 = f0 + 0.5 * qa @ k
    if eta > 0:
        v0 += 0.5 * eta * np.log(np.linalg.det(2 * np.pi * eta * P))
    return 0.5 * (V + V.T), f[:dx] + Qas.T @ k, v0, K, k, eta * P


def reference_backward(dyn, step, terminal, eta):
    """Run eq. 3.7a step by step: Q_t = r_t + E[V_{t+1}(A s + B a + c + w)], then eq. 3.4."""
    V, v, v0 = terminal.F, terminal.f, terminal.f0
    values, gains = [(V, v, v0)], []
    for t in range(dyn.T - 1, -1, -1):
        D = np.hstack([dyn.A[t], dyn.B[t]])
        c = dyn.c[t]
        F = step.F[t] + D.T @ V @ D
        f = step.f[t] + D.T @ (V @ c + v)
        f0 = step.f0[t] + 0.5 * c @ V @ c + c @ v + v0 + 0.5 * np.trace(V @ dyn.cov[t])
        V, v, v0, K, k, cov = reference_soft_max(F, f, f0, eta[t], dyn.dx)
        values.append((V, v, v0))
        gains.append((K, k, cov))
    values, gains = values[::-1], gains[::-1]
    return [np.array([x[i] for x in values]) for i in range(3)] + [
        np.array([g[i] for g in gains]) for i in range(3)]


def reference_forward(dyn, K, k, cov, m, S):
    """Eq. 3.7b step by step via the joint Gaussian of [s; a]."""
    means, covs, a_means, a_covs, as_covs = [m], [S], [], [], []
    for t in range(dyn.T):
        a_mean, a_cov, as_cov = K[t] @ m + k[t], K[t] @ S @ K[t].T + cov[t], K[t] @ S
        D = np.hstack([dyn.A[t], dyn.B[t]])
        joint = np.block([[S, as_cov.T], [as_cov, a_cov]])
        m = D @ np.concatenate([m, a_mean]) + dyn.c[t]
        S = D @ joint @ D.T + dyn.cov[t]
        means.append(m)
        covs.append(S)
        a_means.append(a_mean)
        a_covs.append(a_cov)
        as_covs.append(as_cov)
    return [np.array(x) for x in (means, covs, a_means, a_covs, as_covs)]


def augmented_problem(T, dx, du, seed, with_state_terms=False):
    """Return dynamics, a random augmented reward r_t, the terminal reward and x0."""
    dyn, rew, pol, x0 = random_problem(T=T, dx=dx, du=du, seed=seed, noise=0.05)
    rng = np.random.default_rng(seed + 100)
    step, terminal = reward_quadratic(rew)
    state_terms = None
    if with_state_terms:
        state_terms = Quadratic(-0.1 * np.tile(np.eye(dx), (T, 1, 1)),
                                rng.standard_normal((T, dx)), rng.standard_normal(T))
    alpha = rng.uniform(0.2, 3.0, T)
    return dyn, augment(step, alpha, policy_log_density_quadratic(pol), state_terms), terminal, x0


SIZES = [(1, 1, 1), (5, 2, 1), (7, 3, 2), (12, 6, 3), (4, 5, 5)]


@pytest.mark.parametrize('T, dx, du', SIZES)
@pytest.mark.parametrize('eta_kind', ['positive', 'zero', 'mixed'])
def test_backward_pass_matches_reference(T, dx, du, eta_kind):
    dyn, step, terminal, _ = augmented_problem(T, dx, du, seed=T + dx + du,
                                               with_state_terms=eta_kind == 'mixed')
    rng = np.random.default_rng(T * dx * du)
    eta = {'positive': rng.uniform(0.1, 3.0, T), 'zero': np.zeros(T),
           'mixed': np.where(np.arange(T) % 2 == 1, 0.0, rng.uniform(0.1, 3.0, T))}[eta_kind]
    back = backward_pass(dyn, step, terminal, eta)
    ref = reference_backward(dyn, step, terminal, eta)
    for actual, expected in zip([back.value.F, back.value.f, back.value.f0, back.K, back.k,
                                 back.cov], ref):
        assert_close(actual, expected)
    np.testing.assert_array_equal(back.value.F, np.swapaxes(back.value.F, 1, 2))
    np.testing.assert_array_equal(back.cov, np.swapaxes(back.cov, 1, 2))
    # a scalar temperature means the same for every step
    if eta_kind != 'mixed':
        scalar = backward_pass(dyn, step, terminal, float(eta[0]) if T == 1 or eta_kind ==
                               'zero' else eta)
        assert_close(scalar.K, back.K)


@pytest.mark.parametrize('T, dx, du', SIZES)
def test_soft_max_action_batched_and_single_match_reference(T, dx, du):
    dyn, step, terminal, _ = augmented_problem(T, dx, du, seed=2 * T + dx)
    back = backward_pass(dyn, step, terminal, np.ones(T))
    Q = step + expected_next_value(dyn, back.value[1:])
    eta = np.where(np.arange(T) % 3 == 2, 0.0, np.linspace(0.5, 2.0, T))
    batched = soft_max_action(Q, eta, dx)
    for t in range(T):
        ref = reference_soft_max(Q.F[t], Q.f[t], Q.f0[t], eta[t], dx)
        single = soft_max_action(Q[t], eta[t], dx)
        for soft, index in ((batched, t), (single, ())):
            got = [soft.value.F[index], soft.value.f[index], soft.value.f0[index],
                   soft.K[index], soft.k[index], soft.cov[index]]
            for actual, expected in zip(got, ref):
                assert_close(actual, expected)
            chol = soft.neg_Qaa_chol[index]
            assert_close(chol @ chol.T, -Q.F[t, dx:, dx:])
            np.testing.assert_array_equal(np.triu(chol, 1), 0.0)


@pytest.mark.parametrize('T, dx, du', SIZES)
def test_expected_next_value_batched_and_single_match_reference(T, dx, du):
    dyn, step, terminal, _ = augmented_problem(T, dx, du, seed=3 * T + du)
    back = backward_pass(dyn, step, terminal, np.ones(T))
    nxt = expected_next_value(dyn, back.value[1:])
    for t in range(T):
        one = expected_next_value(dyn, back.value[t + 1], t)
        V, v, v0 = back.value.F[t + 1], back.value.f[t + 1], back.value.f0[t + 1]
        D, c = np.hstack([dyn.A[t], dyn.B[t]]), dyn.c[t]
        ref = (D.T @ V @ D, D.T @ (V @ c + v),
               0.5 * c @ V @ c + c @ v + v0 + 0.5 * np.trace(V @ dyn.cov[t]))
        for q in (one, nxt[t]):
            for actual, expected in zip((q.F, q.f, q.f0), ref):
                assert_close(actual, expected)


@pytest.mark.parametrize('T, dx, du', SIZES)
def test_forward_pass_matches_reference(T, dx, du):
    dyn, step, terminal, x0 = augmented_problem(T, dx, du, seed=4 * T + du)
    back = backward_pass(dyn, step, terminal, np.linspace(0.3, 1.5, T))
    marg = forward_pass(dyn, back.K, back.k, back.cov, x0.mean, x0.cov)
    ref = reference_forward(dyn, back.K, back.k, back.cov, x0.mean, x0.cov)
    for actual, expected in zip([marg.state_means, marg.state_covs, marg.action_means,
                                 marg.action_covs, marg.action_state_covs], ref):
        assert_close(actual, expected)
    np.testing.assert_array_equal(marg.state_covs[1:], np.swapaxes(marg.state_covs[1:], 1, 2))


def test_passes_without_actions():
    """Without actions (du = 0, B has no columns) V is the expected reward-to-go."""
    dyn, _, _, x0 = random_problem(T=4, dx=2, du=1, seed=6)
    dyn = LinearGaussianDynamics(dyn.A, dyn.B[:, :, :0], dyn.c, dyn.cov)
    step = Quadratic(-np.tile(np.eye(2), (4, 1, 1)), np.ones((4, 2)), np.zeros(4))
    terminal = Quadratic(-np.eye(2), np.ones(2), 0.5)
    back = backward_pass(dyn, step, terminal, np.ones(4))
    for actual, expected in zip([back.value.F, back.value.f, back.value.f0],
                                reference_backward(dyn, step, terminal, np.ones(4))):
        assert_close(actual, expected)
    assert back.K.shape == (4, 0, 2) and back.cov.shape == (4, 0, 0)
    marg = forward_pass(dyn, back.K, back.k, back.cov, x0.mean, x0.cov)
    assert_close(marg.state_means, reference_forward(dyn, back.K, back.k, back.cov, x0.mean,
                                                     x0.cov)[0])


@pytest.mark.filterwarnings('ignore::RuntimeWarning')
def test_backward_pass_reports_last_failing_step_and_non_finite_values():
    dyn, step, terminal, _ = augmented_problem(8, 3, 2, seed=1)
    F = step.F.copy()
    F[2, 3:, 3:] += 1e4 * np.eye(2)  # Q_aa no longer negative definite at steps 2 and 5
    F[5, 4, 4] += 1e4
    bad = Quadratic(F, step.f, step.f0)
    with pytest.raises(NotPositiveDefiniteError, match='-Q_aa is not positive definite at time '
                       r'step 5 \(multiplier too small\)') as error:
        backward_pass(dyn, bad, terminal, np.ones(8))
    assert error.value.steps == (5,)
    F = step.F.copy()
    F[5, 4, 4] += 1e4
    with pytest.raises(NotPositiveDefiniteError) as error:
        backward_pass(dyn, Quadratic(F, step.f, step.f0), terminal, np.zeros(8))
    assert error.value.steps == (5,)
    F = step.F.copy()
    F[6, :3, :3] = np.inf  # V_6 not finite; -Q_aa of the earlier steps stays finite
    with pytest.raises(NonFiniteError, match='value function V holds NaN or inf at time step 0'):
        backward_pass(dyn, Quadratic(F, step.f, step.f0), terminal, np.ones(8))
    f0 = step.f0.copy()
    f0[3] = np.inf
    with pytest.raises(NonFiniteError, match='value function v0 holds NaN or inf at time step 0'):
        backward_pass(dyn, Quadratic(step.F, step.f, f0), terminal, np.ones(8))
    with pytest.raises(NonFiniteError, match='value function v0'):
        backward_pass(dyn, step, Quadratic(terminal.F, terminal.f, np.nan), np.ones(8))
    # a non-finite linear term or an overflowing constant spoils v0 only, never V or -Q_aa
    for index, value in (((3, 0), np.nan), ((3, 4), np.inf)):
        f = step.f.copy()
        f[index] = value
        with pytest.raises(NonFiniteError, match='value function v0 .* step 0'):
            backward_pass(dyn, Quadratic(step.F, f, step.f0), terminal, np.ones(8))
    far = LinearGaussianDynamics(dyn.A, dyn.B, 1e200 * dyn.c, dyn.cov)
    with pytest.raises(NonFiniteError, match='value function v0 .* step 0'):
        backward_pass(far, step, terminal, np.ones(8))


@pytest.mark.filterwarnings('ignore::RuntimeWarning')
def test_a_constant_that_overflows_only_in_the_batched_pass_is_kept():
    """
    A terminal constant of -1.7e308 is finite, but 2 v0 in the homogeneous form is not.

    The pass redone block-wise keeps V, K, k and cov of the same problem without the constant,
    and v0 is the constant; where -Q_aa is not positive definite that pass names the step.
    """
    dyn, step, terminal, _ = augmented_problem(8, 3, 2, seed=1)
    plain = backward_pass(dyn, step, terminal, np.ones(8))
    huge = Quadratic(terminal.F, terminal.f, -1.7e308)
    shifted = backward_pass(dyn, step, huge, np.ones(8))
    for name in ('K', 'k', 'cov'):
        assert_close(getattr(shifted, name), getattr(plain, name))
    assert_close(shifted.value.F, plain.value.F)
    assert_close(shifted.value.f, plain.value.f)
    np.testing.assert_array_equal(shifted.value.f0, -1.7e308)
    F = step.F.copy()
    F[5, 4, 4] += 1e4
    with pytest.raises(NotPositiveDefiniteError, match='-Q_aa is not positive definite at time '
                       r'step 5 \(multiplier too small\)') as error:
        backward_pass(dyn, Quadratic(F, step.f, step.f0), huge, np.ones(8))
    assert error.value.steps == (5,)


@pytest.mark.filterwarnings('ignore::RuntimeWarning')
def test_nan_reporting_lapack_does_not_turn_a_bad_v0_into_a_pd_error(monkeypatch):
    """Reference LAPACK flags NaN in potrf (OpenBLAS does not): the error must stay the same."""
    dyn, step, terminal, _ = augmented_problem(6, 3, 2, seed=4)
    posv = getattr(lqg, 'dposv', None)

    def nan_reporting_posv(a, b, lower):
        factor, x, info = posv(a, b, lower=lower)  # only called where lqg uses posv
        return factor, x, (1 if np.isnan(a).any() and not info else info)

    monkeypatch.setattr(lqg, 'dposv', nan_reporting_posv, raising=False)
    f = terminal.f.copy()
    f[1] = np.nan
    with pytest.raises(NonFiniteError, match='value function v0 .* step 0'):
        backward_pass(dyn, step, Quadratic(terminal.F, f, terminal.f0), np.ones(6))


def test_soft_max_action_failures_name_batch_indices():
    dyn, step, terminal, _ = augmented_problem(6, 3, 2, seed=2)
    back = backward_pass(dyn, step, terminal, np.ones(6))
    Q = step + expected_next_value(dyn, back.value[1:])
    F = Q.F.copy()
    F[[1, 4], 3, 3] = 10.0 + np.abs(F[[1, 4], 3, 3])
    bad = Quadratic(F, Q.f, Q.f0)
    with pytest.raises(NotPositiveDefiniteError, match=r'-Q_aa is not .* index \[1, 4\]') as err:
        soft_max_action(bad, np.ones(6), 3)
    assert err.value.steps == (1, 4)
    with pytest.raises(NotPositiveDefiniteError, match=r'index \[0\]') as err:
        soft_max_action(bad[4], 1.0, 3)
    assert err.value.steps == (0,)


@pytest.mark.filterwarnings('ignore::RuntimeWarning')
def test_forward_pass_non_finite_inputs_name_quantity():
    dyn, _, pol, x0 = random_problem(T=5, seed=8)
    with pytest.raises(NonFiniteError, match='state means holds NaN or inf at time step 0'):
        forward_pass(dyn, pol.K, pol.k, pol.cov, np.array([np.nan, 0.0, 0.0]), x0.cov)
    cov = pol.cov.copy()
    cov[2, 0, 0] = np.inf
    with pytest.raises(NonFiniteError, match='state covariances holds NaN or inf at time step 3'):
        forward_pass(dyn, pol.K, pol.k, cov, x0.mean, x0.cov)


def test_constant_policy_has_the_noise_variance_std_squared():
    """LinearGaussianPolicy.constant(T, K, k, std): u_t ~ N(K x + k, std^2 I) at every step."""
    K = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, 1.0]])
    policy = LinearGaussianPolicy.constant(4, K, [0.1, -0.2], std=0.3)
    assert policy.K.shape == (4, 2, 3) and np.array_equal(policy.K[3], K)
    assert (policy.T, policy.du, policy.dx) == (4, 2, 3)
    np.testing.assert_allclose(policy.k, np.tile([0.1, -0.2], (4, 1)))
    np.testing.assert_allclose(policy.cov, np.broadcast_to(0.09 * np.eye(2), (4, 2, 2)))


def test_reward_quadratic_is_each_steps_reward():
    """Each step's quadratic (and the terminal one) is R_t(s, a) of that step, constants too."""
    rng = np.random.default_rng(2)
    T, dx, du = 4, 3, 2
    roots = rng.standard_normal((T + 1, dx, dx))
    M = -(roots @ roots.swapaxes(1, 2)) - np.eye(dx)
    H = -np.array([np.diag(rng.uniform(0.5, 2.0, du)) for _ in range(T)])
    z, y = rng.standard_normal((T + 1, dx)), rng.standard_normal((T, du))
    step, terminal = reward_quadratic(QuadraticReward(M, H, z, y))
    s, a = rng.standard_normal((T + 1, dx)), rng.standard_normal((T, du))
    for t in range(T):
        expected = (z[t] - s[t]) @ M[t] @ (z[t] - s[t]) + (y[t] - a[t]) @ H[t] @ (y[t] - a[t])
        got = step[t].evaluate(np.concatenate([s[t], a[t]]))
        assert got == pytest.approx(expected, rel=1e-12)
    expected = (z[T] - s[T]) @ M[T] @ (z[T] - s[T])
    assert terminal.evaluate(s[T]) == pytest.approx(expected, rel=1e-12)
