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
Gaussian helpers shared by every update: log-densities as quadratic forms, KL, entropy.

Everything is batched over leading axes (usually time). Quadratic forms use the convention
f(x) = 1/2 x' F x + x' f + f0 throughout ps_control.core.
"""

import numpy as np
from scipy.linalg.lapack import dpotrf

LOG_2PI = np.log(2.0 * np.pi)


class NotPositiveDefiniteError(np.linalg.LinAlgError):
    """A matrix that must be positive definite is not; ``steps`` lists the failing indices."""

    def __init__(self, message, steps=()):
        super().__init__(message)
        self.steps = tuple(int(s) for s in steps)


def batched_cholesky(matrices, name='matrix'):
    """
    Return lower Cholesky factors of a stack of symmetric positive definite matrices.

    Raises NotPositiveDefiniteError naming ``name`` and the failing indices (never a bare
    LinAlgError), so callers can treat it as "multiplier too small".
    """
    matrices = np.asarray(matrices)
    if matrices.ndim == 2 and matrices.dtype == np.float64 and matrices.size:
        # one matrix: LAPACK directly (np.linalg's per-call overhead dominates at this size);
        # potrf reads the lower triangle, as np.linalg.cholesky does
        chol, info = dpotrf(matrices, lower=1, clean=1)
        if info == 0:
            return chol
    else:
        try:
            return np.linalg.cholesky(matrices)
        except np.linalg.LinAlgError:
            pass
    flat = matrices.reshape((-1,) + matrices.shape[-2:])
    bad = [i for i, m in enumerate(flat) if not _is_pd(m)]
    raise NotPositiveDefiniteError('%s is not positive definite at index %s' % (name, bad), bad)


def pd_mask(matrices):
    """Return a boolean mask (leading axes) of which matrices in a stack are positive definite."""
    matrices = np.asarray(matrices)
    finite = np.isfinite(matrices).all(axis=(-1, -2))
    safe = matrices if finite.all() else np.where(finite[..., None, None], matrices, 0.0)
    eig = np.linalg.eigvalsh(0.5 * (safe + safe.mT))
    scale = np.maximum(np.abs(eig).max(axis=-1), 1e-300)
    return finite & (eig[..., 0] > 1e-12 * scale)


def _is_pd(matrix):
    if not np.all(np.isfinite(matrix)):
        return False
    try:
        np.linalg.cholesky(matrix)
        return True
    except np.linalg.LinAlgError:
        return False


def logdet_from_cholesky(chol):
    """Return log|S| from the Cholesky factor of S (batched)."""
    return 2.0 * np.log(chol.diagonal(0, -2, -1)).sum(-1)


def inverse_from_cholesky(chol):
    """Return S^-1 = L^-T L^-1 from the lower Cholesky factor L of S (batched)."""
    inv_chol = np.linalg.inv(chol)
    return inv_chol.mT @ inv_chol


def inverse_and_logdet(covs, name='covariance'):
    """Return (inverse, log-determinant) of a stack of SPD matrices via Cholesky."""
    chol = batched_cholesky(covs, name)
    return inverse_from_cholesky(chol), logdet_from_cholesky(chol)


def gaussian_log_density_quadratic(means, covs):
    """
    Return log N(x | m, S) as a quadratic form (F, f, f0) in x (batched).

    log N = -1/2 (x - m)' S^-1 (x - m) - 1/2 log|2 pi S|, so F = -S^-1, f = S^-1 m,
    f0 = -1/2 m' S^-1 m - 1/2 log|2 pi S|.
    """
    prec, logdet = inverse_and_logdet(covs, 'Gaussian covariance')
    f = (prec @ means[..., None])[..., 0]
    f0 = -0.5 * (means * f).sum(-1) - 0.5 * (means.shape[-1] * LOG_2PI + logdet)
    return -prec, f, f0


def entropy(covs):
    """Differential entropy 1/2 log|2 pi e S| of Gaussians with covariances ``covs`` (batched)."""
    d = covs.shape[-1]
    return 0.5 * (d * (LOG_2PI + 1.0) + logdet_from_cholesky(batched_cholesky(covs, 'covariance')))


def kl_gaussian(m1, S1, m2, S2):
    """KL(N(m1, S1) || N(m2, S2)), batched over leading axes."""
    prec2, logdet2 = inverse_and_logdet(S2, 'KL reference covariance')
    logdet1 = logdet_from_cholesky(batched_cholesky(S1, 'KL covariance'))
    diff = m2 - m1
    return 0.5 * (_trace_of_product(prec2, S1) + _quadratic_form(diff, prec2)
                  - m1.shape[-1] + logdet2 - logdet1)


def expected_policy_kl(K1, k1, S1, K2, k2, S2, state_means, state_covs):
    """
    Return E_{s ~ N(m, S)} KL(N(K1 s + k1, S1) || N(K2 s + k2, S2)), batched over time.

    This is the per-step GPS bound of thesis eq. 3.3c for linear-Gaussian policies:
    1/2 [tr(P2 S1) - du + log|S2|/|S1| + d(m)' P2 d(m) + tr(dK' P2 dK S)] with
    d(m) = (K1 - K2) m + k1 - k2, dK = K1 - K2, P2 = S2^-1.
    """
    prec2, logdet2 = inverse_and_logdet(S2, 'previous policy covariance')
    logdet1 = logdet_from_cholesky(batched_cholesky(S1, 'policy covariance'))
    dK = K1 - K2
    dmean = (dK @ np.asarray(state_means)[..., None])[..., 0] + k1 - k2
    quad = _quadratic_form(dmean, prec2)
    spread = _trace_of_product(dK.mT @ prec2 @ dK, state_covs)
    return 0.5 * (_trace_of_product(prec2, S1) - K1.shape[-2] + logdet2 - logdet1
                  + quad + spread)


def _trace_of_product(X, Y):
    """Return tr(X Y) (batched) as sum_ij X_ij Y_ji."""
    return (X * np.asarray(Y).mT).sum((-1, -2))


def _quadratic_form(x, P):
    """Return x' P x (batched)."""
    return (x * (P @ x[..., None])[..., 0]).sum(-1)
