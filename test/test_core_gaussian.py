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

"""The Gaussian helpers against straightforward per-matrix references (np.linalg.inv, det)."""

import numpy as np
from ps_control.core.gaussian import (batched_cholesky, entropy, expected_policy_kl,
                                      gaussian_log_density_quadratic, inverse_and_logdet,
                                      kl_gaussian, LOG_2PI, NotPositiveDefiniteError, pd_mask)
import pytest

RTOL = 1e-10


def assert_close(actual, expected):
    """Equal to RTOL relative to the largest entry (elementwise relative for the tiny ones)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1e-300)
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=RTOL * scale)


def random_spd(rng, shape, d, spread=1.0):
    """Return SPD matrices (shape + (d, d)) with eigenvalues in [0.1, 0.1 + spread]."""
    out = np.empty(shape + (d, d))
    for index in np.ndindex(*shape):
        q, _ = np.linalg.qr(rng.standard_normal((d, d)))
        out[index] = (q * rng.uniform(0.1, 0.1 + spread, d)) @ q.T
    return out


def reference_kl(m1, S1, m2, S2):
    """KL(N(m1, S1) || N(m2, S2)) of one pair, written out with inv and det."""
    P2 = np.linalg.inv(S2)
    d = m2 - m1
    return 0.5 * (np.trace(P2 @ S1) + d @ P2 @ d - m1.size
                  + np.log(np.linalg.det(S2) / np.linalg.det(S1)))


@pytest.mark.parametrize('shape, d', [((), 1), ((), 3), ((7,), 2), ((4, 3), 5), ((2,), 10)])
def test_cholesky_inverse_logdet_entropy_match_reference(shape, d):
    rng = np.random.default_rng(d)
    S = random_spd(rng, shape, d, spread=5.0)
    chol = batched_cholesky(S)
    np.testing.assert_array_equal(np.triu(chol, 1), 0.0)
    assert_close(chol @ np.swapaxes(chol, -1, -2), S)
    assert_close(chol, np.linalg.cholesky(S))
    inv, logdet = inverse_and_logdet(S)
    assert_close(inv, np.linalg.inv(S))
    assert_close(logdet, np.log(np.linalg.det(S)))
    assert_close(entropy(S), 0.5 * np.log(np.linalg.det(2 * np.pi * np.e * S)))


def test_cholesky_reads_the_lower_triangle_and_accepts_integers():
    S = np.array([[4.0, 100.0], [1.0, 3.0]])  # upper triangle ignored, as np.linalg.cholesky
    assert_close(batched_cholesky(S), np.linalg.cholesky(np.tril(S) + np.tril(S, -1).T))
    assert_close(batched_cholesky(np.array([[4, 2], [2, 5]])), [[2.0, 0.0], [1.0, 2.0]])


def test_cholesky_failure_names_matrix_and_indices():
    with pytest.raises(NotPositiveDefiniteError, match=r'prior is not positive definite at index'
                       r' \[0\]') as single:
        batched_cholesky(np.array([[1.0, 2.0], [2.0, 1.0]]), 'prior')
    assert single.value.steps == (0,)
    stack = np.tile(np.eye(2), (5, 1, 1))
    stack[1, 1, 1] = -1.0
    stack[3, 0, 0] = np.nan
    with pytest.raises(NotPositiveDefiniteError, match=r'S is not .* \[1, 3\]') as batched:
        batched_cholesky(stack, 'S')
    assert batched.value.steps == (1, 3)
    with pytest.raises(NotPositiveDefiniteError):
        inverse_and_logdet(stack)
    with pytest.raises(NotPositiveDefiniteError):
        entropy(-np.eye(3))


def test_pd_mask_matches_eigenvalue_reference():
    rng = np.random.default_rng(3)
    S = random_spd(rng, (8,), 3)
    S[1] = -S[1]
    S[2] = np.diag([1.0, 1.0, 1e-14])  # below the relative threshold
    S[3] = np.diag([1.0, 1.0, 1e-10])  # above it
    S[4, 0, 2] = np.inf
    S[5, 1, 1] = np.nan
    S[6, 0, 1] += 0.3  # not symmetric: judged on the symmetric part
    expected = []
    for m in S:
        if not np.all(np.isfinite(m)):
            expected.append(False)
            continue
        eig = np.linalg.eigvalsh(0.5 * (m + m.T))
        expected.append(eig[0] > 1e-12 * np.abs(eig).max())
    mask = pd_mask(S)
    np.testing.assert_array_equal(mask, expected)
    assert mask.tolist() == [True, False, False, True, False, False, True, True]
    assert pd_mask(np.eye(2)).shape == ()


@pytest.mark.parametrize('T, d', [(1, 1), (6, 2), (5, 7)])
def test_kl_and_log_density_match_reference(T, d):
    rng = np.random.default_rng(10 * T + d)
    m1, m2 = rng.standard_normal((T, d)), rng.standard_normal((T, d))
    S1, S2 = random_spd(rng, (T,), d), random_spd(rng, (T,), d)
    assert_close(kl_gaussian(m1, S1, m2, S2),
                 [reference_kl(m1[t], S1[t], m2[t], S2[t]) for t in range(T)])
    # broadcasting one reference Gaussian against the batch
    assert_close(kl_gaussian(m1, S1, m2[0], S2[0]),
                 [reference_kl(m1[t], S1[t], m2[0], S2[0]) for t in range(T)])
    F, f, f0 = gaussian_log_density_quadratic(m1, S1)
    x = rng.standard_normal((T, d))
    log_density = [-0.5 * ((x[t] - m1[t]) @ np.linalg.inv(S1[t]) @ (x[t] - m1[t])
                           + np.log(np.linalg.det(S1[t])) + d * LOG_2PI) for t in range(T)]
    assert_close(0.5 * np.einsum('ti,tij,tj->t', x, F, x) + np.einsum('ti,ti->t', x, f) + f0,
                 log_density)


@pytest.mark.parametrize('T, dx, du', [(1, 1, 1), (6, 3, 2), (4, 8, 5)])
def test_expected_policy_kl_matches_reference(T, dx, du):
    rng = np.random.default_rng(T + dx + du)
    K1, K2 = rng.standard_normal((2, T, du, dx))
    k1, k2 = rng.standard_normal((2, T, du))
    S1, S2 = random_spd(rng, (T,), du), random_spd(rng, (T,), du)
    means, covs = rng.standard_normal((T, dx)), random_spd(rng, (T,), dx)
    expected = []
    for t in range(T):
        P2 = np.linalg.inv(S2[t])
        dK, dm = K1[t] - K2[t], (K1[t] - K2[t]) @ means[t] + k1[t] - k2[t]
        expected.append(0.5 * (np.trace(P2 @ S1[t]) - du
                               + np.log(np.linalg.det(S2[t]) / np.linalg.det(S1[t]))
                               + dm @ P2 @ dm + np.trace(dK.T @ P2 @ dK @ covs[t])))
    assert_close(expected_policy_kl(K1, k1, S1, K2, k2, S2, means, covs), expected)
    # one state Gaussian shared by every step (broadcast over the leading axis)
    shared = expected_policy_kl(K1, k1, S1, K2, k2, S2, means[0], covs[0])
    assert_close(shared[0], expected[0])
    assert shared.shape == (T,)


def test_covariances_are_checked_positive_semidefinite_to_round_off_only():
    """
    Accept a singular covariance, refuse an indefinite one.

    Eigenvalue 0, or -1e-10 of round-off at scale 1, passes; -5e-9 is refused, naming the
    quantity and the step.
    """
    from ps_control.core import LinearGaussianDynamics
    vecs = np.linalg.qr(np.random.default_rng(3).standard_normal((2, 2)))[0]
    T, dx, du = 3, 2, 1
    A, B, c = np.zeros((T, dx, dx)), np.zeros((T, dx, du)), np.zeros((T, dx))
    for smallest in (0.0, -1e-10):
        cov = np.broadcast_to(vecs @ np.diag([1.0, smallest]) @ vecs.T, (T, dx, dx)).copy()
        LinearGaussianDynamics(A, B, c, cov)
    cov[2] = vecs @ np.diag([1.0, -5e-9]) @ vecs.T
    with pytest.raises(ValueError, match='dynamics cov is not positive semidefinite at time '
                                         'step 2'):
        LinearGaussianDynamics(A, B, c, cov)


def test_covariance_check_names_the_first_failing_step_and_its_fault():
    """Asymmetry, NaN and indefiniteness are each reported at the first step that has one."""
    from ps_control.core.linear_gaussian import check_symmetric_psd
    stack = np.broadcast_to(np.eye(3), (6, 3, 3)).copy()
    check_symmetric_psd('cov', stack)
    stack[4, 0, 1] += 1e-3  # not symmetric
    stack[2] = np.diag([1.0, -1.0, 1.0])  # symmetric, indefinite
    with pytest.raises(ValueError, match=r'cov is not positive definite at time step 2 '
                                         r'\(smallest eigenvalue -1\)'):
        check_symmetric_psd('cov', stack)
    stack[2] = np.eye(3)
    with pytest.raises(ValueError, match='cov is not symmetric at time step 4'):
        check_symmetric_psd('cov', stack)
    stack[1, 2, 2] = np.nan
    with pytest.raises(ValueError, match='cov is not symmetric at time step 1'):
        check_symmetric_psd('cov', stack)
    # semidefinite passes only when asked for; an empty matrix has no positive eigenvalue
    singular = np.broadcast_to(np.diag([1.0, 0.0]), (2, 2, 2))
    check_symmetric_psd('cov', singular, definite=False)
    with pytest.raises(ValueError, match='cov is not positive definite at time step 0'):
        check_symmetric_psd('cov', singular)
    check_symmetric_psd('cov', np.zeros((3, 0, 0)), definite=False)
    with pytest.raises(ValueError, match='cov is not positive definite at time step 0'):
        check_symmetric_psd('cov', np.zeros((3, 0, 0)))
