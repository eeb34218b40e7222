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
    safe = np.where(finite[..., None, None], matrices, 0.0)
    sym = 0.5 * (safe + np.swapaxes(safe, -1, -2))
    eig = np.linalg.eigvalsh(sym)
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
    return 2.0 * np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(-1)


def inverse_and_logdet(covs, name='covariance'):
    """Return (inverse, log-determinant) of a stack of SPD matrices via Cholesky."""
    chol = batched_cholesky(covs, name)
    eye = np.broadcast_to(np.eye(covs.shape[-1]), covs.shape)
    inv_chol = np.linalg.solve(chol, eye)
    return np.swapaxes(inv_chol, -1, -2) @ inv_chol, logdet_from_cholesky(chol)


def gaussian_log_density_quadratic(means, covs):
    """
    Return log N(x | m, S) as a quadratic form (F, f, f0) in x (batched).

    log N = -1/2 (x - m)' S^-1 (x - m) - 1/2 log|2 pi S|, so F = -S^-1, f = S^-1 m,
    f0 = -1/2 m' S^-1 m - 1/2 log|2 pi S|.
    """
    prec, logdet = inverse_and_logdet(covs, 'Gaussian covariance')
    f = np.einsum('...ij,...j->...i', prec, means)
    f0 = -0.5 * np.einsum('...i,...i->...', means, f) - 0.5 * (means.shape[-1] * LOG_2PI + logdet)
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
    return 0.5 * (np.einsum('...ij,...ji->...', prec2, S1)
                  + np.einsum('...i,...ij,...j->...', diff, prec2, diff)
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
    dmean = np.einsum('...ij,...j->...i', dK, state_means) + k1 - k2
    quad = np.einsum('...i,...ij,...j->...', dmean, prec2, dmean)
    spread = np.einsum('...ji,...jk,...kl,...li->...', dK, prec2, dK, state_covs)
    return 0.5 * (np.einsum('...ij,...ji->...', prec2, S1) - K1.shape[-2] + logdet2 - logdet1
                  + quad + spread)


def expected_log_density(F, f, f0, means, covs):
    """Return E_{x ~ N(m, S)}[1/2 x' F x + x' f + f0] (batched)."""
    return (0.5 * np.einsum('...i,...ij,...j->...', means, F, means)
            + 0.5 * np.einsum('...ij,...ji->...', F, covs)
            + np.einsum('...i,...i->...', means, f) + f0)
