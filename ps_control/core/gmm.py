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
Gaussian mixture model fitted by (MAP) expectation maximisation, warm-startable.

This is the global model behind the dynamics prior of Guided Policy Search (Levine, Finn,
Darrell, Abbeel 2016, "End-to-end training of deep visuomotor policies", appendix A.3;
cbfinn/gps ``python/gps/utility/gmm.py``). It differs from cbfinn/gps in three ways, all so
that EM provably never decreases its objective (cbfinn/gps stops when its log-likelihood drops,
"Why does log-likelihood decrease sometimes?"):

* the covariance regularisation is a fixed inverse-Wishart-like penalty, so the M-step is the
  exact maximiser:  Sigma_k = (S_k + nu Sigma_reg) / (N_k + nu), with S_k the responsibility-
  weighted scatter around mu_k, N_k = sum_n r_nk, nu = 1 pseudo-point and
  Sigma_reg = reg diag(per-dimension data variance) (cbfinn/gps adds 1e-6 I after the M-step);
* the mixture weights carry a Dirichlet penalty of ``weight_prior`` pseudo-counts per cluster,
  pi_k = (N_k + a) / (N + K a), instead of "rebooting" small clusters inside EM;
* clusters are seeded by k-means++ on standardised data (cbfinn/gps: random assignment).

EM maximises  L = sum_n log sum_k pi_k N(x_n | mu_k, Sigma_k)
              + sum_k [a log pi_k - nu/2 (tr(Sigma_reg Sigma_k^-1) + log|Sigma_k|)],
and ``history`` records L (``log_likelihood`` the first sum alone) after every E-step.
"""

import numpy as np
from ps_control.core.gaussian import batched_cholesky, LOG_2PI, logdet_from_cholesky


class GaussianMixture:
    """
    Full-covariance Gaussian mixture, fitted by MAP-EM and warm-started from the previous fit.

    Attributes after ``fit``: ``weights`` (K,), ``means`` (K, D), ``covs`` (K, D, D),
    ``n_points`` (points of the last fit), ``history`` (EM objective per iteration),
    ``log_likelihood`` (data log-likelihood per iteration), ``n_iterations``.
    """

    def __init__(self, max_iterations=100, tol=1e-3, reg=1e-6, weight_prior=1.0, seed=0,
                 warm_start=True):
        """
        Configure EM.

        tol is the convergence threshold on the objective gain per data point (nats);
        reg scales the covariance regularisation relative to each dimension's variance.
        """
        if max_iterations < 1:
            raise ValueError('max_iterations must be >= 1, got %r' % (max_iterations,))
        if reg <= 0 or weight_prior < 0 or tol < 0:
            raise ValueError('need reg > 0, weight_prior >= 0, tol >= 0')
        self.max_iterations = int(max_iterations)
        self.tol = float(tol)
        self.reg = float(reg)
        self.weight_prior = float(weight_prior)
        self.warm_start = warm_start
        self.rng = np.random.default_rng(seed)
        self.weights = self.means = self.covs = None
        self.n_points = 0
        self.history = []
        self.log_likelihood = []
        self.n_iterations = 0

    @property
    def n_clusters(self):
        return 0 if self.means is None else self.means.shape[0]

    def fit(self, data, n_clusters):
        """
        Run EM on data (n, D) with n_clusters components; warm start if K and D are unchanged.

        Returns self. Cold start: k-means++ seeds, then one hard-assignment M-step.
        """
        data = np.asarray(data, dtype=float)
        if data.ndim != 2 or data.shape[0] < 1:
            raise ValueError('GMM data must have shape (n >= 1, D), got %s' % (data.shape,))
        if not np.isfinite(data).all():
            raise ValueError('GMM data holds NaN or inf')
        n, dim = data.shape
        n_clusters = int(min(max(1, n_clusters), n))
        sigma_reg = self._regularisation(data)
        warm = (self.warm_start and self.means is not None
                and self.means.shape == (n_clusters, dim))
        # EM runs on centred data (the second-moment sums of the E- and M-steps then do not
        # cancel, and constant dimensions are exactly 0); the means are shifted back at the end
        centre = data.mean(axis=0)
        data = data - centre
        if warm:
            self.means = self.means - centre
        else:
            self._initialise(data, n_clusters, sigma_reg)
        try:
            self._expectation_maximisation(data, sigma_reg)
        finally:
            self.means = self.means + centre
        return self

    def _expectation_maximisation(self, data, sigma_reg):
        n = data.shape[0]
        self.n_points = n
        self.history, self.log_likelihood = [], []
        outer = _outer_products(data)
        for iteration in range(self.max_iterations):
            chol = batched_cholesky(self.covs, 'GMM cluster covariance')
            log_joint = self._log_joint(data, chol, outer)
            log_norm, resp = _normalise_rows(log_joint)
            loglik = float(log_norm.sum())
            objective = loglik + self._log_penalty(chol, sigma_reg)
            self.log_likelihood.append(loglik)
            self.history.append(objective)
            self.n_iterations = iteration + 1
            if iteration > 0 and objective - self.history[-2] < self.tol * n:
                break
            if iteration + 1 == self.max_iterations:
                break
            self._m_step(data, resp, sigma_reg, outer)

    def log_responsibilities(self, data):
        """Return log p(cluster k | x_n) for data (n, D) -> (n, K)."""
        data = np.asarray(data, dtype=float)
        centre = data.mean(axis=0)  # centred, as in ``fit``
        log_joint = self._log_joint(data - centre,
                                    batched_cholesky(self.covs, 'GMM cluster covariance'),
                                    means=self.means - centre)
        return log_joint - _normalise_rows(log_joint)[0]

    def moment_match(self, weights):
        """
        Return mean (..., D), covariance (..., D, D) of the mixture with cluster weights (..., K).

        sum_k w_k [Sigma_k + (mu_k - mu)(mu_k - mu)'] with mu = sum_k w_k mu_k
        (cbfinn/gps GMM.moments).
        """
        weights = np.asarray(weights, dtype=float)
        mean = weights @ self.means
        diff = self.means - mean[..., None, :]
        spread = np.einsum('...k,...ki,...kj->...ij', weights, diff, diff)
        cov = np.einsum('...k,kij->...ij', weights, self.covs) + spread
        return mean, 0.5 * (cov + np.swapaxes(cov, -1, -2))

    def _regularisation(self, data):
        """Return Sigma_reg = reg diag(var_d), with var_d floored for constant dimensions."""
        var = data.var(axis=0)
        floor = max(1e-6 * float(var.mean()), 1e-12)
        return self.reg * np.maximum(var, floor)

    def _log_joint(self, data, chol, outer=None, means=None):
        """
        Return log pi_k + log N(x_n | mu_k, Sigma_k), shape (n, K).

        The Mahalanobis terms for all clusters come from two products: with P_k = Sigma_k^-1,
        (x - mu_k)' P_k (x - mu_k) = vec(x x') . vec(P_k) - 2 x' P_k mu_k + mu_k' P_k mu_k,
        ``outer`` holding vec(x_n x_n') (n, D^2). ``means`` defaults to the clusters' means.
        """
        dim = data.shape[1]
        means = self.means if means is None else means
        outer = _outer_products(data) if outer is None else outer
        inv_chol = _inverse_cholesky(chol)
        precision = np.swapaxes(inv_chol, 1, 2) @ inv_chol
        linear = np.einsum('kij,kj->ki', precision, means)
        const = -0.5 * (dim * LOG_2PI + logdet_from_cholesky(chol)
                        + np.einsum('ki,ki->k', linear, means))
        with np.errstate(divide='ignore'):
            const = const + np.log(self.weights)
        quadratic = outer @ precision.reshape(-1, dim * dim).T
        return const + data @ linear.T - 0.5 * quadratic

    def _log_penalty(self, chol, sigma_reg):
        """Return sum_k [a log pi_k - nu/2 (tr(Sigma_reg Sigma_k^-1) + log|Sigma_k|)], nu = 1."""
        inv_chol = _inverse_cholesky(chol)
        trace = np.einsum('kij,j,kij->', inv_chol, sigma_reg, inv_chol)
        weight_term = self.weight_prior * float(np.log(self.weights).sum()) \
            if self.weight_prior > 0 else 0.0
        return weight_term - 0.5 * (trace + float(logdet_from_cholesky(chol).sum()))

    def _m_step(self, data, resp, sigma_reg, outer=None):
        """
        Exact maximiser of the penalised expected complete-data log-likelihood.

        The scatter around mu_k is sum_n r_nk x_n x_n' - 2 mu_k s_k' + N_k mu_k mu_k' (s_k =
        sum_n r_nk x_n), from the per-point outer products ``outer`` (n, D^2) of the data.
        """
        n, dim = data.shape
        outer = _outer_products(data) if outer is None else outer
        counts = resp.sum(axis=0)
        k = counts.size
        self.weights = (counts + self.weight_prior) / (n + k * self.weight_prior)
        alive = counts > 1e-12 * n
        sums = resp.T @ data
        # An empty cluster keeps its mean (any mean is optimal for it).
        self.means[alive] = sums[alive] / counts[alive, None]
        second = (resp.T @ outer).reshape(k, dim, dim)
        cross = sums[:, :, None] * self.means[:, None, :]
        scatter = (second - cross - np.swapaxes(cross, 1, 2)
                   + counts[:, None, None] * self.means[:, :, None] * self.means[:, None, :])
        self.covs = (scatter + np.diag(sigma_reg)) / (counts[:, None, None] + 1.0)
        self.covs = 0.5 * (self.covs + np.swapaxes(self.covs, -1, -2))

    def _initialise(self, data, n_clusters, sigma_reg):
        """Seed means by k-means++ on standardised data, then one hard-assignment M-step."""
        n = data.shape[0]
        scaled = (data - data.mean(axis=0)) / np.sqrt(np.maximum(data.var(axis=0), 1e-300))
        centres = [int(self.rng.integers(n))]
        dist = ((scaled - scaled[centres[0]]) ** 2).sum(axis=1)
        for _ in range(1, n_clusters):
            total = dist.sum()
            pick = (int(self.rng.choice(n, p=dist / total)) if total > 0
                    else int(self.rng.integers(n)))
            centres.append(pick)
            dist = np.minimum(dist, ((scaled - scaled[pick]) ** 2).sum(axis=1))
        seeds = scaled[centres]
        sq = (seeds ** 2).sum(axis=1) - 2.0 * scaled @ seeds.T
        resp = np.zeros((n, n_clusters))
        resp[np.arange(n), sq.argmin(axis=1)] = 1.0
        self.means = data[centres].copy()
        self.covs = np.empty((n_clusters, data.shape[1], data.shape[1]))
        self.weights = np.full(n_clusters, 1.0 / n_clusters)
        self._m_step(data, resp, sigma_reg)


def _outer_products(data):
    """Return the per-point outer products x_n x_n' of data (n, D), flattened to (n, D^2)."""
    return (data[:, :, None] * data[:, None, :]).reshape(data.shape[0], -1)


def _normalise_rows(log_joint):
    """
    Return log sum_k exp(log_joint[n, k]) (n, 1) and the responsibilities (n, K).

    Responsibilities below 1e-100 are set to 0: with small data products they would make
    subnormal numbers (< 1e-308) inside the M-step's matrix products, which are then ten times
    slower on x86, and they weigh nothing next to the others.
    """
    peak = log_joint.max(axis=1, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0.0)
    shifted = log_joint - peak
    negligible = shifted < _LOG_NEGLIGIBLE
    np.maximum(shifted, _LOG_NEGLIGIBLE, out=shifted)
    weights = np.exp(shifted, out=shifted)
    weights[negligible] = 0.0
    total = weights.sum(axis=1, keepdims=True)
    with np.errstate(divide='ignore', invalid='ignore'):
        weights /= total
        return np.log(total) + peak, weights


_LOG_NEGLIGIBLE = -230.0  # log 1e-100


def _inverse_cholesky(chol):
    """Return L^-1 for a stack of lower Cholesky factors (K, D, D)."""
    return np.linalg.solve(chol, np.broadcast_to(np.eye(chol.shape[-1]), chol.shape))
