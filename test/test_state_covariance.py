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

"""The separated SAPS / ESAPS fixed point: LQR means and Newton covariances (Alg. 2)."""

from core_problems import random_problem
import numpy as np
from ps_control.core import state_covariance
from ps_control.core.gaussian import kl_gaussian
from ps_control.core.kl_update import KLBoundedProblem, STATE_ACTION_BOUND
from ps_control.core.lqg import augment
from ps_control.core.state_covariance import (_HalfVectorisation, BANDED_MAX_BLOCK,
                                              BandedCholesky, BandedLU, BlockTridiagonalLU,
                                              ChordCache, CovarianceProblem,
                                              factorise_block_tridiagonal,
                                              right_preconditioned_gmres, stationary_precision,
                                              SymmetricBlockBand)
import pytest


def _problem(seed, beta_scale):
    dyn, rew, pol, x0 = random_problem(T=6, dx=3, du=2, seed=seed)
    delta = None if beta_scale == 0 else np.zeros(6)
    problem = KLBoundedProblem(dyn, rew, pol, x0, 0.5, STATE_ACTION_BOUND, delta=delta)
    alpha = np.full(6, 5.0)
    return problem, alpha, beta_scale * alpha


def _covariance_problem(problem, alpha, beta):
    G = augment(problem.step_reward, alpha, problem.log_q, problem.log_q_state).F
    dyn = problem.dynamics
    D = np.concatenate([dyn.A, dyn.B], axis=2)
    return CovarianceProblem(G, problem.terminal_reward.F, D, dyn.cov, problem.x0.cov,
                             alpha, beta)


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_pinned_means_are_reproduced_by_the_pass(seed):
    """The LQR means are stationary for the surrogate whatever the covariance guess."""
    problem, alpha, beta = _problem(seed, 0.0)
    means = problem.optimal_means(alpha)
    _, marginals = problem.passes(alpha, beta, (means, problem.q_state_covs))
    np.testing.assert_allclose(marginals.state_means[:6], means, atol=1e-9)


@pytest.mark.parametrize('seed,beta_scale', [(0, 0.0), (1, 0.0), (2, 0.5), (3, 2.0)])
def test_newton_covariances_are_the_block_descent_fixed_point(seed, beta_scale):
    """With the Newton covariances as guess, one pass returns the guess (gap ~ 0)."""
    problem, alpha, beta = _problem(seed, beta_scale)
    means = problem.optimal_means(alpha)
    back, marginals = problem.passes(alpha, beta, (means, problem.q_state_covs))
    start_gap = kl_gaussian(means, problem.q_state_covs, marginals.state_means[:6],
                            marginals.state_covs[:6]).max()
    covs = problem.stationary_covariances(alpha, beta, back.value.F[:6])
    _, marginals = problem.passes(alpha, beta, (means, covs))
    gap = kl_gaussian(means, covs, marginals.state_means[:6], marginals.state_covs[:6]).max()
    assert start_gap > 1e-6
    assert gap < 1e-12


def _start_of_newton(beta_scale):
    """Return (problem, alpha, beta, U): U the value functions of one pass (Newton's start)."""
    problem, alpha, beta = _problem(4, beta_scale)
    back, _ = problem.passes(alpha, beta, (problem.optimal_means(alpha), problem.q_state_covs))
    return problem, alpha, beta, back.value.F[:6]


def _directional_derivative(cov_problem, U, dU, h=1e-6):
    """Return the central difference of the residuals at U along dU."""
    return (cov_problem.system(U + h * dU)[2] - cov_problem.system(U - h * dU)[2]) / (2 * h)


@pytest.mark.parametrize('beta_scale', [0.0, 0.7])
def test_newton_step_uses_the_exact_jacobian(beta_scale):
    """J dU from the assembled blocks matches finite differences of the residuals."""
    problem, alpha, beta, U = _start_of_newton(beta_scale)
    cov_problem = _covariance_problem(problem, alpha, beta)
    M, C, residual, _ = cov_problem.system(U)
    step = cov_problem.newton_step(M, C, residual)
    directional = _directional_derivative(cov_problem, U, step)
    np.testing.assert_allclose(directional, -residual, rtol=1e-4, atol=1e-7 * np.abs(
        residual).max())


@pytest.mark.parametrize('beta_scale', [0.0, 0.7])
def test_matrix_free_jacobian_product_matches_finite_differences(beta_scale):
    """J dU without the blocks equals the residuals' central difference along a random dU."""
    problem, alpha, beta, U = _start_of_newton(beta_scale)
    cov_problem = _covariance_problem(problem, alpha, beta)
    M, C, _, _ = cov_problem.system(U)
    dU = np.random.default_rng(0).standard_normal(U.shape)
    dU = dU + np.swapaxes(dU, 1, 2)
    directional = _directional_derivative(cov_problem, U, dU)
    product = cov_problem.jacobian_product(M, C, dU)
    np.testing.assert_allclose(product, directional, rtol=1e-5,
                               atol=1e-8 * np.abs(directional).max())


@pytest.mark.parametrize('seed,beta_scale', [(0, 0.0), (1, 0.0), (2, 0.7), (3, 2.0)])
def test_jacobian_is_self_adjoint_and_negative_definite(seed, beta_scale):
    """In orthonormal vech coordinates J is symmetric negative definite (beta >= 0)."""
    problem, alpha, beta = _problem(seed, beta_scale)
    back, _ = problem.passes(alpha, beta, (problem.optimal_means(alpha), problem.q_state_covs))
    cov_problem = _covariance_problem(problem, alpha, beta)
    M, C, _, _ = cov_problem.system(back.value.F[:6])
    half = _HalfVectorisation(cov_problem.dx)
    T, k = cov_problem.T, half.size
    columns = []
    for unit in np.eye(T * k):
        dU = half.symmetric(unit.reshape(T, k))
        columns.append(cov_problem.jacobian_product(M, C, dU).reshape(T, -1)[:, half.upper])
    dense = np.stack(columns, axis=-1).reshape(T * k, T * k)
    scale = np.tile(half.scale, T)
    orthonormal = scale[:, None] * dense / scale
    np.testing.assert_allclose(orthonormal, orthonormal.T, atol=1e-12 * np.abs(dense).max())
    assert np.linalg.eigvalsh(orthonormal).max() < 0.0
    # and the factorised Jacobian (banded Cholesky) inverts the same matrix
    jacobian = cov_problem.jacobian(M, C)
    assert isinstance(jacobian.factors, BandedCholesky)
    rhs = np.random.default_rng(seed).standard_normal((T, k))
    np.testing.assert_allclose(dense @ jacobian.solve(rhs).ravel(), rhs.ravel(), rtol=1e-9,
                               atol=1e-9)


def _block_tridiagonal_dense(lower, diag, upper):
    T, m = diag.shape[0], diag.shape[1]
    dense = np.zeros((T * m, T * m))
    for t in range(T):
        dense[t * m:(t + 1) * m, t * m:(t + 1) * m] = diag[t]
        if t + 1 < T:
            dense[t * m:(t + 1) * m, (t + 1) * m:(t + 2) * m] = upper[t]
            dense[(t + 1) * m:(t + 2) * m, t * m:(t + 1) * m] = lower[t]
    return dense


def test_banded_cholesky_matches_a_dense_solve_and_rejects_indefinite_matrices():
    rng = np.random.default_rng(4)
    T, m = 5, 4
    diag = rng.standard_normal((T, m, m))
    diag = diag @ np.swapaxes(diag, 1, 2) + 4.0 * np.eye(m)
    upper = rng.standard_normal((T - 1, m, m))
    dense = _block_tridiagonal_dense(np.swapaxes(upper, 1, 2), diag, upper)
    assert np.linalg.eigvalsh(dense).min() > 0.0

    def factorise(diag):
        band = SymmetricBlockBand(T, m)
        band.diagonal[...] += diag * band.diagonal_mask
        band.upper[...] = upper
        return band.cholesky()

    factors = factorise(diag)
    for _ in range(2):
        rhs = rng.standard_normal((T, m))
        np.testing.assert_allclose(factors.solve(rhs).ravel(),
                                   np.linalg.solve(dense, rhs.ravel()), rtol=1e-10,
                                   atol=1e-12)
    with pytest.raises(np.linalg.LinAlgError, match='not positive definite'):
        factorise(diag - 20.0 * np.eye(m))


@pytest.mark.parametrize('beta_scale', [0.0, 0.7])
def test_single_precision_factorisations_reach_the_same_solution(beta_scale, monkeypatch):
    """Single-precision preconditioners (large blocks; here forced) change only the path."""
    problem, alpha, beta = _problem(8, beta_scale)
    back, _ = problem.passes(alpha, beta, (problem.optimal_means(alpha), problem.q_state_covs))
    U0 = back.value.F[:6]
    cov_problem = _covariance_problem(problem, alpha, beta)
    double_U, _, _ = cov_problem.solve(U0, tolerance=1e-12, chord=ChordCache())
    M, C, _, _ = cov_problem.system(U0)
    monkeypatch.setattr(state_covariance, 'SINGLE_PRECISION_MIN_BLOCK', 1)
    single_jacobian = cov_problem.jacobian(M, C, single=True)
    assert single_jacobian.single and single_jacobian.factors.factor.dtype == np.float32
    chord = ChordCache()
    U, _, _ = cov_problem.solve(U0, tolerance=1e-12, chord=chord)
    assert chord.factorised >= 1 and chord.jacobian.single
    np.testing.assert_allclose(U, double_U, rtol=1e-9, atol=1e-11 * np.abs(double_U).max())


def test_single_precision_failure_factorises_in_double(monkeypatch):
    problem, alpha, beta, U = _start_of_newton(0.7)
    cov_problem = _covariance_problem(problem, alpha, beta)
    M, C, residual, _ = cov_problem.system(U)
    double_step = cov_problem.newton_step(M, C, residual)
    cholesky = SymmetricBlockBand.cholesky

    def fail_in_single(self):
        if self.columns.dtype == np.float32:
            raise np.linalg.LinAlgError('not positive definite')
        return cholesky(self)

    monkeypatch.setattr(SymmetricBlockBand, 'cholesky', fail_in_single)
    jacobian = cov_problem.jacobian(M, C, single=True)
    assert not jacobian.single and isinstance(jacobian.factors, BandedCholesky)
    np.testing.assert_allclose(jacobian.step(residual), double_step, rtol=1e-12,
                               atol=1e-14 * np.abs(double_step).max())


def test_recycled_jacobian_memory_gives_the_same_factorisation():
    """A factorisation built in the memory of an earlier one (not zeroed by the caller)."""
    problem, alpha, beta, U = _start_of_newton(0.7)
    cov_problem = _covariance_problem(problem, alpha, beta)
    M, C, residual, _ = cov_problem.system(U)
    fresh_step = cov_problem.newton_step(M, C, residual)
    other = _covariance_problem(problem, 1.3 * alpha, 1.3 * beta)
    old = other.jacobian(*other.system(U)[:2])
    jacobian = cov_problem.jacobian(M, C, recycle=old)
    assert np.shares_memory(jacobian.factors.factor, old.factors.buffer)
    np.testing.assert_allclose(jacobian.step(residual), fresh_step, rtol=1e-12,
                               atol=1e-14 * np.abs(fresh_step).max())


@pytest.mark.parametrize('beta_scale', [0.0, 0.7])
def test_lu_serves_where_the_banded_cholesky_fails(beta_scale, monkeypatch):
    """If -J were not positive definite (beta < 0 can do that) the LU gives the same step."""
    problem, alpha, beta, U = _start_of_newton(beta_scale)
    cov_problem = _covariance_problem(problem, alpha, beta)
    M, C, residual, _ = cov_problem.system(U)
    cholesky_step = cov_problem.newton_step(M, C, residual)

    def fail(self):
        raise np.linalg.LinAlgError('not positive definite')

    monkeypatch.setattr(SymmetricBlockBand, 'cholesky', fail)
    jacobian = cov_problem.jacobian(M, C)
    assert not isinstance(jacobian.factors, BandedCholesky)
    np.testing.assert_allclose(jacobian.step(residual), cholesky_step, rtol=1e-8,
                               atol=1e-10 * np.abs(cholesky_step).max())
    directional = _directional_derivative(cov_problem, U, cholesky_step)
    np.testing.assert_allclose(directional, -residual, rtol=1e-4,
                               atol=1e-7 * np.abs(residual).max())


@pytest.mark.parametrize('beta_scale', [0.0, 0.7])
def test_krylov_step_with_a_stale_preconditioner_meets_its_forcing_term(beta_scale):
    """GMRES preconditioned by another iterate's Jacobian solves J dU = -r to the forcing term."""
    problem, alpha, beta, U = _start_of_newton(beta_scale)
    stale_problem = _covariance_problem(problem, 1.3 * alpha, 1.3 * beta)
    stale = stale_problem.jacobian(*stale_problem.system(U)[:2])
    cov_problem = _covariance_problem(problem, alpha, beta)
    M, C, residual, _ = cov_problem.system(U)
    assert cov_problem.krylov_step(M, C, residual, stale, 1e-10, 1) is None
    step = cov_problem.krylov_step(M, C, residual, stale, 1e-6, 30)
    linear = cov_problem.jacobian_product(M, C, step) + residual
    assert np.linalg.norm(linear) <= 2e-6 * np.linalg.norm(residual)


def test_right_preconditioned_gmres_solves_to_tolerance_or_returns_none():
    rng = np.random.default_rng(1)
    n = 40
    A = np.eye(n) + 0.3 * rng.standard_normal((n, n)) / np.sqrt(n)
    b = rng.standard_normal(n)
    exact = np.linalg.solve(A, b)
    # the exact preconditioner: one iteration
    x = right_preconditioned_gmres(lambda v: A @ v, lambda v: exact_inverse(A, v), b, 1e-12, 1)
    np.testing.assert_allclose(x, exact, rtol=1e-10)
    # a perturbed preconditioner: a few iterations reach the tolerance
    P = A + 0.05 * rng.standard_normal((n, n)) / np.sqrt(n)
    x = right_preconditioned_gmres(lambda v: A @ v, lambda v: exact_inverse(P, v), b, 1e-9, 20)
    assert np.linalg.norm(A @ x - b) <= 1e-9 * np.linalg.norm(b)
    # no preconditioner and too few iterations: None, not a wrong answer
    assert right_preconditioned_gmres(lambda v: A @ v, lambda v: v, b, 1e-9, 3) is None
    assert not np.any(right_preconditioned_gmres(lambda v: A @ v, lambda v: v, 0 * b, 1e-9, 3))


def exact_inverse(matrix, vector):
    return np.linalg.solve(matrix, vector)


def test_inexact_newton_returns_the_unconverged_iterate():
    """exact=False: one Newton step, residual reduced but above tolerance, no error."""
    problem, alpha, beta = _problem(5, 0.0)
    back, _ = problem.passes(alpha, beta, (problem.optimal_means(alpha), problem.q_state_covs))
    cov_problem = _covariance_problem(problem, alpha, beta)
    U0 = back.value.F[:6]
    start = cov_problem.system(U0)[2]
    with pytest.raises(RuntimeError, match='stalled'):
        cov_problem.solve(U0, tolerance=1e-14, max_iterations=1, stall_tolerance=1e-14)
    U, _, steps = cov_problem.solve(U0, tolerance=1e-14, max_iterations=1, exact=False)
    after = cov_problem.system(U)[2]
    assert steps == 1
    assert 1e-14 < np.abs(after).max() < 0.5 * np.abs(start).max()


@pytest.mark.parametrize('factorisation', [BlockTridiagonalLU, BandedLU])
def test_block_tridiagonal_lu_matches_a_dense_solve(factorisation):
    rng = np.random.default_rng(3)
    T, m = 5, 4
    diag = rng.standard_normal((T, m, m)) + 4.0 * np.eye(m)
    upper, lower = rng.standard_normal((2, T - 1, m, m))
    dense = _block_tridiagonal_dense(lower, diag, upper)
    lu = factorisation(lower, diag, upper)
    for _ in range(2):  # the factors serve several right-hand sides
        rhs = rng.standard_normal((T, m))
        np.testing.assert_allclose(lu.solve(rhs).ravel(), np.linalg.solve(dense, rhs.ravel()),
                                   rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize('m, factorisation', [
    (BANDED_MAX_BLOCK, BandedLU), (BANDED_MAX_BLOCK + 1, BlockTridiagonalLU)])
def test_large_blocks_are_factorised_block_by_block(m, factorisation):
    """Blocks up to BANDED_MAX_BLOCK go to the banded LU, larger ones block by block."""
    rng = np.random.default_rng(4)
    T = 3
    diag = rng.standard_normal((T, m, m)) + 2.0 * m * np.eye(m)
    upper, lower = rng.standard_normal((2, T - 1, m, m))
    lu = factorise_block_tridiagonal(lower, diag, upper)
    assert type(lu) is factorisation
    rhs = rng.standard_normal((T, m))
    np.testing.assert_allclose(lu.solve(rhs).ravel(), np.linalg.solve(
        _block_tridiagonal_dense(lower, diag, upper), rhs.ravel()), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize('beta_scale', [0.0, 0.7])
def test_chord_steps_with_a_stale_jacobian_reach_the_same_solution(beta_scale):
    """A Jacobian of other multipliers is reused while it contracts; the answer is unchanged."""
    problem, alpha, beta = _problem(6, beta_scale)
    back, _ = problem.passes(alpha, beta, (problem.optimal_means(alpha), problem.q_state_covs))
    U0 = back.value.F[:6]
    plain_U, _, _ = _covariance_problem(problem, alpha, beta).solve(U0, tolerance=1e-12)
    chord = ChordCache()
    stale = _covariance_problem(problem, 1.2 * alpha, 1.2 * beta)
    stale.solve(U0, tolerance=1e-12, chord=chord)
    assert chord.factorised >= 1
    factorised = chord.factorised
    U, _, _ = _covariance_problem(problem, alpha, beta).solve(U0, tolerance=1e-12, chord=chord)
    assert chord.reused >= 1
    np.testing.assert_allclose(U, plain_U, rtol=1e-8, atol=1e-10 * np.abs(plain_U).max())
    assert chord.factorised - factorised <= 1


@pytest.mark.parametrize('factorisation', [BlockTridiagonalLU, BandedLU])
def test_singular_block_tridiagonal_matrix_raises(factorisation):
    T, m = 4, 3
    diag = np.broadcast_to(np.eye(m), (T, m, m)).copy()
    diag[2] = 0.0  # block row 2 is zero: the matrix is singular
    zeros = np.zeros((T - 1, m, m))
    with pytest.raises(np.linalg.LinAlgError, match='singular'):
        factorisation(zeros, diag, zeros)


def test_congruence_blocks_map_half_vectorisations():
    """add_congruence adds the matrix of y -> s vech(w L Y L'), y = s vech(Y), Y symmetric."""
    rng = np.random.default_rng(7)
    T, dx = 3, 4
    half = _HalfVectorisation(dx)
    L, w = rng.standard_normal((T, dx, dx)), rng.standard_normal(T)
    start = rng.standard_normal((T, half.size, half.size))
    blocks = start.copy()
    half.add_congruence(blocks, w, L)
    Y = rng.standard_normal((T, dx, dx))
    Y = Y + np.swapaxes(Y, 1, 2)
    coordinates = half.scale * Y.reshape(T, -1)[:, half.upper]
    mapped = w[:, None, None] * (L @ Y @ np.swapaxes(L, 1, 2))
    np.testing.assert_allclose(np.einsum('tij,tj->ti', blocks - start, coordinates),
                               half.scale * mapped.reshape(T, -1)[:, half.upper], rtol=1e-12,
                               atol=1e-12)
    # the coordinates are orthonormal: their dot product is the Frobenius one
    X = rng.standard_normal((T, dx, dx))
    X = X + np.swapaxes(X, 1, 2)
    np.testing.assert_allclose(np.sum(coordinates * half.scale * X.reshape(T, -1)[:, half.upper],
                                      axis=1), np.sum(X * Y, axis=(1, 2)), rtol=1e-12)


TV_T, TV_DX, TV_DU = 6, 3, 2  # the time-varying problem below


def _negative_definite(rng, n, low=0.5, high=2.0):
    Q = np.linalg.qr(rng.standard_normal((n, n)))[0]
    return -(Q * rng.uniform(low, high, n)) @ Q.T


def _time_varying_problem(seed, beta_scale):
    """
    Return a CovarianceProblem with time-varying W, alpha and beta (beta_0 = 0), and U = 0.

    G_t and F_T are negative definite, so M_t is at U = 0 and every precision is PD.
    """
    rng = np.random.default_rng(seed)
    n = TV_DX + TV_DU
    G = np.array([_negative_definite(rng, n) for _ in range(TV_T)])
    F_T = _negative_definite(rng, TV_DX)
    D = np.concatenate([0.9 * np.eye(TV_DX) + 0.1 * rng.standard_normal((TV_T, TV_DX, TV_DX)),
                        0.3 * rng.standard_normal((TV_T, TV_DX, TV_DU))], axis=2)
    W = np.array([s * np.eye(TV_DX) for s in np.linspace(0.01, 0.5, TV_T)])
    S0 = 0.1 * np.eye(TV_DX)
    alpha = np.linspace(2.0, 8.0, TV_T)
    beta = beta_scale * alpha * (np.arange(TV_T) % 2)  # zero at even steps
    return CovarianceProblem(G, F_T, D, W, S0, alpha, beta), np.zeros((TV_T, TV_DX, TV_DX))


def test_predicted_state_covariances_use_each_steps_dynamics_noise():
    """S_{t+1} = D_t C_t D_t' + W_t, with W_t of step t (not t + 1), and r_t = E' C_t E - S_t."""
    problem, U = _time_varying_problem(0, 0.0)
    _, C, residual, predicted = problem.system(U)
    np.testing.assert_allclose(predicted[0], problem.S0)
    for t in range(TV_T - 1):
        expected = problem.D[t] @ C[t] @ problem.D[t].T + problem.W[t]
        np.testing.assert_allclose(predicted[t + 1], expected, rtol=1e-12)
    np.testing.assert_allclose(residual, C[:, :TV_DX, :TV_DX] - predicted, atol=1e-12)


def test_stationary_precision_is_per_step_when_only_some_betas_are_zero():
    """Each step's precision is the one of that step alone: beta_t = 0 at some steps only."""
    problem, U = _time_varying_problem(1, 0.7)
    M = problem.system(U)[0]
    together = stationary_precision(M, problem.alpha, problem.beta, TV_DX)
    for t in range(TV_T):
        alone = stationary_precision(M[t:t + 1], problem.alpha[t:t + 1], problem.beta[t:t + 1],
                                     TV_DX)
        np.testing.assert_allclose(together[t], alone[0], rtol=1e-12)


@pytest.mark.parametrize('beta_scale', [0.0, 0.7])
def test_newton_step_is_exact_for_time_varying_multipliers(beta_scale):
    """The factorised Newton step solves J dU = -r, J by central differences of the residuals."""
    problem, U = _time_varying_problem(2, beta_scale)
    M, C, residual, _ = problem.system(U)
    step = problem.newton_step(M, C, residual)
    h = 1e-6
    directional = (problem.system(U + h * step)[2] - problem.system(U - h * step)[2]) / (2 * h)
    np.testing.assert_allclose(directional, -residual, rtol=1e-4,
                               atol=1e-7 * np.abs(residual).max())


def _relative_residuals(problem, U):
    """Return ||r_t|| / ||S_t|| (Frobenius) for every t."""
    _, _, residual, predicted = problem.system(U)
    return np.linalg.norm(residual, axis=(1, 2)) / np.linalg.norm(predicted, axis=(1, 2))


def test_solve_accepts_the_tolerance_reached_on_its_last_allowed_step():
    """A solve whose last allowed Newton step reaches the tolerance returns, not raises."""
    problem, U = _time_varying_problem(3, 0.5)
    _, _, steps = problem.solve(U, tolerance=1e-10)
    assert steps >= 2
    solution, _, iterations = problem.solve(U, tolerance=1e-10, max_iterations=steps,
                                            stall_tolerance=0.0)
    assert iterations == steps
    assert _relative_residuals(problem, solution).max() <= 1e-10


def test_solve_needs_every_steps_residual_within_the_tolerance():
    """The convergence test is the largest relative residual over t, not an average."""
    problem, U = _time_varying_problem(4, 0.5)
    relative = _relative_residuals(problem, U)
    assert relative.mean() < relative.max()
    between = 0.5 * (relative.mean() + relative.max())
    with pytest.raises(RuntimeError, match='stalled'):
        problem.solve(U, tolerance=between, max_iterations=0, stall_tolerance=0.0)
    returned, _, _ = problem.solve(U, tolerance=relative.max(), max_iterations=0,
                                   stall_tolerance=0.0)
    np.testing.assert_array_equal(returned, U)
