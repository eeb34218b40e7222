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
The sampling / weighting / density-estimation layer shared by MDS, AMDS, eREPS and PI2.

Mirror descent search (Miyashita et al. 2018, sec. 3) has three steps, each one function or
class here:

1. discretise the search distribution on N samples (eq. 6-10): :meth:`GaussianDensity.sample`,
   :meth:`KernelDensity.sample` and :func:`importance_log_prior` (a distribution q that was not
   sampled from is put on the samples of p with the self-normalised weights q / p);
2. a mirror step on the simplex of the samples: :func:`exponentiated_gradient` (KL / RKL
   Bregman divergence, eq. 14 and 27) and :func:`perturbed_entropy_projection` (the
   epsilon-perturbed entropy of accelerated mirror descent, Krichene et al. 2015);
3. density estimation from the weighted samples: :meth:`GaussianDensity.estimate` (moment
   matching, eq. 15: G-MDS / G-AMDS) or :meth:`KernelDensity.estimate` (a weighted kernel density,
   the non-parametric MDS / AMDS of Algorithms 1 and 3).

Costs are minimised. All weights are computed in log space.
"""

import numpy as np
from scipy.special import logsumexp


def check_costs(costs, min_samples=2, name='costs'):
    """Return ``costs`` as a float array whose last axis (the samples) has >= ``min_samples``."""
    costs = np.asarray(costs, dtype=float)
    if costs.ndim == 0:
        raise ValueError('%s must be an array of one cost per sample, got a scalar' % name)
    if costs.shape[-1] < min_samples:
        raise ValueError('%s holds %d samples, at least %d are needed'
                         % (name, costs.shape[-1], min_samples))
    if not np.all(np.isfinite(costs)):
        raise ValueError('%s holds NaN or inf (%d of %d entries)'
                         % (name, np.count_nonzero(~np.isfinite(costs)), costs.size))
    return costs


def check_sample_count(n_samples):
    """Return ``n_samples`` as an int, rejecting fewer than two rollouts."""
    if int(n_samples) != n_samples or n_samples < 2:
        raise ValueError('n_samples (rollouts per update) must be an integer >= 2, got %r'
                         % (n_samples,))
    return int(n_samples)


class DensitySearch:
    """
    Base of the episode-based searches over a density (MDS, AMDS, episodic REPS).

    ``sample(rng)`` returns (N, dim) parameter vectors from :attr:`density`; each update takes one
    total cost per sample (:meth:`checked_costs`).
    """

    per_step_costs = False

    def __init__(self, density, n_samples):
        self.density = density
        self.n_samples = check_sample_count(n_samples)

    @property
    def mean(self):
        return self.density.mean

    def sample(self, rng):
        return self.density.sample(self.n_samples, rng)

    @staticmethod
    def checked_costs(samples, costs):
        """Return ``costs`` (N,) checked by :func:`check_costs`, one per row of ``samples``."""
        costs = check_costs(costs)
        if samples.shape[0] != costs.shape[0]:
            raise ValueError('samples (%d) and costs (%d) differ in number'
                             % (samples.shape[0], costs.shape[0]))
        return costs


def check_positive(name, value):
    """Return ``value`` as a float array, rejecting non-positive or non-finite entries."""
    array = np.asarray(value, dtype=float)
    if array.size == 0 or not np.all(np.isfinite(array)) or np.any(array <= 0):
        raise ValueError('%s must be positive and finite, got %r' % (name, value))
    return array


def normalise_costs(costs, axis=-1):
    """
    Map costs to [0, 1] along ``axis``: g = (J - min J) / (max J - min J).

    The PI2 normalisation the paper's experiments use (sec. 4, the authors' code). When all costs
    along the axis are equal the samples carry no information and g = 0 (uniform weights).
    NaN or inf raise ValueError.
    """
    costs = np.asarray(costs, dtype=float)
    if not np.all(np.isfinite(costs)):
        raise ValueError('costs hold NaN or inf (%d of %d entries)'
                         % (np.count_nonzero(~np.isfinite(costs)), costs.size))
    low = costs.min(axis=axis, keepdims=True)
    spread = costs.max(axis=axis, keepdims=True) - low
    safe = np.where(spread > 0, spread, 1.0)
    return np.where(spread > 0, (costs - low) / safe, 0.0)


def exponentiated_gradient(log_prior, g, step, axis=-1):
    """
    Mirror step with the (reverse) KL divergence on the simplex (eq. 14, 27).

    argmin_p step <g, p> + KL(p || prior) = prior * exp(-step g) / Z, computed in log space.
    ``log_prior`` may be unnormalised; it broadcasts against ``g``.
    """
    logits = np.asarray(log_prior, dtype=float) - step * np.asarray(g, dtype=float)
    return np.exp(logits - logsumexp(logits, axis=axis, keepdims=True))


def perturbed_entropy_projection(prior, g, step, eps):
    """
    Mirror step with the epsilon-perturbed entropy (sec. 3.3.2, Krichene et al. 2015).

    Returns argmin_{x in simplex} step <g, x> + D_psi(x, prior) for
    psi(x) = sum_j (x_j + eps) log(x_j + eps): with y_j = (prior_j + eps) exp(-step g_j), the
    smallest y are dropped while (1 + eps n) y_(j) - eps S <= 0 (n, S: count and sum of the kept
    y including y_(j)); then x_j = max(0, (1 + eps n) y_j / S - eps). Vectorised over leading
    axes (the last axis is the simplex). eps = 0 is the exponentiated gradient.
    """
    if eps < 0:
        raise ValueError('eps (entropy perturbation) must be >= 0, got %r' % (eps,))
    prior = np.asarray(prior, dtype=float)
    g = np.broadcast_to(np.asarray(g, dtype=float), prior.shape)
    shifted = step * (g - g.min(axis=-1, keepdims=True))
    y = (prior + eps) * np.exp(-shifted)
    n = y.shape[-1]
    ascending = np.sort(y, axis=-1)
    suffix_sum = np.cumsum(ascending[..., ::-1], axis=-1)[..., ::-1]
    kept = n - np.arange(n)
    dropped = (1.0 + eps * kept) * ascending - eps * suffix_sum <= 0
    # The largest y always stays ((1 + eps) y - eps y = y > 0): the first False is the cut.
    first = np.argmin(dropped, axis=-1)[..., None]
    total = np.take_along_axis(suffix_sum, first, axis=-1)
    count = n - first
    return np.maximum(0.0, (1.0 + eps * count) * y / total - eps)


def kl_divergence(p, q):
    """Return KL(p || q) = sum p log(p / q) of discrete distributions (last axis), 0 log 0 = 0."""
    p = np.asarray(p, dtype=float)
    q = np.broadcast_to(np.asarray(q, dtype=float), p.shape)
    ratio = np.where(p > 0, p / np.where(p > 0, q, 1.0), 1.0)
    return np.sum(np.where(p > 0, p * np.log(ratio), 0.0), axis=-1)


def importance_log_prior(target, proposal, samples):
    """
    Discretise ``target`` on samples drawn from ``proposal`` (eq. 6-10).

    Returns unnormalised log weights log q(theta_j) - log p(theta_j): self-normalised importance
    sampling, uniform when target == proposal.
    """
    return target.log_density(samples) - proposal.log_density(samples)


def _squared_mahalanobis(samples, centre, std):
    return np.sum(((samples - centre) / std) ** 2, axis=-1)


class GaussianDensity:
    """
    N(mean, diag(std^2)), the search distribution of G-MDS / G-AMDS / eREPS (eq. 15).

    ``std`` is a scalar (the paper: unit covariance, never adapted) or one value per parameter.
    With ``adapt_rate`` > 0 :meth:`estimate` also moment-matches a diagonal covariance (the
    covariance adaptation the paper leaves as future work, sec. 3.2.2 and 6):
    var' = (1 - rate) var + rate sum_j p_j (theta_j - mean)^2, floored at ``min_std``^2.
    """

    def __init__(self, mean, std=1.0, adapt_rate=0.0, min_std=1e-3):
        self.mean = np.array(mean, dtype=float).ravel()
        if not np.all(np.isfinite(self.mean)):
            raise ValueError('mean holds NaN or inf')
        std = check_positive('sigma (sampling standard deviation)', std)
        self.std = float(std) if std.ndim == 0 else np.broadcast_to(std, self.mean.shape).copy()
        if not 0.0 <= adapt_rate <= 1.0:
            raise ValueError('adapt_rate (covariance adaptation) must be in [0, 1], got %r'
                             % (adapt_rate,))
        self.adapt_rate = float(adapt_rate)
        self.min_std = float(check_positive('min_std', min_std))

    @property
    def dim(self):
        return self.mean.size

    def sample(self, n, rng):
        """Draw ``n`` parameter vectors (n, dim): theta_j = mean + std * e_j."""
        return self.mean + self.std * rng.standard_normal((n, self.dim))

    def log_density(self, samples):
        """Log density at samples (n, dim) up to a constant shared by densities of equal std."""
        log_det = np.sum(np.log(np.broadcast_to(self.std, self.mean.shape)))
        return -0.5 * _squared_mahalanobis(samples, self.mean, self.std) - log_det

    def estimate(self, weights, samples):
        """Return the Gaussian matching the weighted samples' mean (and variance if adapting)."""
        mean = weights @ samples
        std = self.std
        if self.adapt_rate > 0:
            spread = weights @ (samples - self.mean) ** 2
            var = (1.0 - self.adapt_rate) * np.broadcast_to(self.std, mean.shape) ** 2
            std = np.maximum(np.sqrt(var + self.adapt_rate * spread), self.min_std)
        return GaussianDensity(mean, std, self.adapt_rate, self.min_std)

    def with_std(self, std):
        """Return the same mean with another standard deviation."""
        return GaussianDensity(self.mean, std, self.adapt_rate, self.min_std)


class KernelDensity:
    """
    A weighted Gaussian kernel density sum_j w_j N(centre_j, std^2 I): MDS density estimation.

    Algorithm 1 of the paper without the Gaussian restriction: the posterior on the samples is
    turned back into a continuous density by one isotropic kernel (width = the sampling std) per
    sample. ``mean`` is the mixture mean, used for the noiseless evaluation rollout.
    """

    def __init__(self, centres, weights, std=1.0):
        self.centres = np.atleast_2d(np.asarray(centres, dtype=float))
        self.weights = np.asarray(weights, dtype=float).ravel()
        if self.weights.shape[0] != self.centres.shape[0]:
            raise ValueError('kernel weights (%d) and centres (%d) differ in number'
                             % (self.weights.shape[0], self.centres.shape[0]))
        if np.any(self.weights < 0) or not np.isclose(self.weights.sum(), 1.0):
            raise ValueError('kernel weights must be a probability vector')
        self.std = float(check_positive('sigma (kernel width)', std))

    @classmethod
    def from_gaussian(cls, mean, std=1.0):
        """Return the one-kernel density N(mean, std^2 I)."""
        return cls(np.asarray(mean, dtype=float).ravel()[None], [1.0], std)

    @property
    def dim(self):
        return self.centres.shape[1]

    @property
    def mean(self):
        return self.weights @ self.centres

    def sample(self, n, rng):
        """Pick a kernel j with probability w_j, then add N(0, std^2 I)."""
        index = rng.choice(self.weights.size, size=n, p=self.weights)
        return self.centres[index] + self.std * rng.standard_normal((n, self.dim))

    def log_density(self, samples):
        """Log density at samples (n, dim), up to a constant shared by densities of equal std."""
        sq = (np.sum(samples ** 2, axis=1)[:, None] - 2.0 * samples @ self.centres.T
              + np.sum(self.centres ** 2, axis=1)[None, :])
        with np.errstate(divide='ignore'):
            log_w = np.log(self.weights)
        return logsumexp(log_w - 0.5 * np.maximum(sq, 0.0) / self.std ** 2, axis=1)

    def estimate(self, weights, samples):
        """Return the kernel density with one kernel per weighted sample."""
        keep = weights > 0
        w = weights[keep]
        return KernelDensity(samples[keep], w / w.sum(), self.std)
