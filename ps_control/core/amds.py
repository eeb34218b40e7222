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
Accelerated mirror descent search: AMDS (Algorithm 3) and G-AMDS (Algorithm 4).

Accelerated mirror descent (Krichene et al. 2015; paper eq. 16-18 and App. C) on the simplex of
the current samples. The samples theta_j are drawn from the mixture x^(k) (the search density),
so x^(k) discretises to the uniform prior; the z sequence, a density that was not sampled from,
is discretised by self-normalised importance weights z(theta_j) / x^(k)(theta_j). With g the
normalised costs, at update k = 1, 2, ...:

* z-step (eq. 17, KL mirror step with the growing step k s / r):
  z~_j proportional to z_j exp(-(k s / r) g_j);
* x-step (eq. 18, mirror step from x^(k) with the epsilon-perturbed entropy and step
  s eps / (1 + N eps)): the Bregman projection of
  :func:`~ps_control.core.search_distribution.perturbed_entropy_projection`;
* mixture (eq. 16): x^(k+1) = lambda_k z~ + (1 - lambda_k) x~ with lambda_k = r / (r + k).

The densities z and x^(k+1) are then estimated from their weights on the samples: by moment
matching a Gaussian (G-AMDS, whose next sampling mean is lambda_k mean(z~) + (1 - lambda_k)
mean(x~)) or by a weighted kernel density (AMDS). Constants of the reference code: r = 3,
eps = 0.3, s = 10. The counter starts at k = 1 (the authors' code starts at 0, which makes its
first update ignore the costs). z shares the covariance of the sampling density.

The step s sets two temperatures: the z-step's k s / r and the x-step's s eps / (1 + N eps). As
lambda_k -> 0 the mean follows the x-step, whose temperature at s = 10, N = 10 is 0.75: the
weights stay nearly uniform and late updates barely use the costs (G-MDS weighs the same
normalised costs at temperature 10). :func:`matched_step` gives the s whose x-step temperature
equals a given one.
"""

import numpy as np

from ps_control.core.search_distribution import (check_sample_count, DensitySearch,
                                                 exponentiated_gradient, GaussianDensity,
                                                 importance_log_prior, KernelDensity,
                                                 kl_divergence, normalise_costs,
                                                 perturbed_entropy_projection)


def matched_step(temperature, n_samples, eps=0.3):
    """Return s with x-step temperature s eps / (1 + N eps) equal to ``temperature``."""
    if not temperature > 0 or not eps > 0:
        raise ValueError('temperature and eps must be positive, got %r and %r'
                         % (temperature, eps))
    return float(temperature) * (1.0 + check_sample_count(n_samples) * eps) / eps


class AcceleratedMirrorDescentSearch(DensitySearch):
    """
    AMDS with a pluggable density estimate (Gaussian: G-AMDS; kernel density: AMDS).

    ``density`` is the sampling density x^(k); the z sequence starts equal to it.
    """

    def __init__(self, density, n_samples=10, step=10.0, r=3.0, eps=0.3):
        super().__init__(density, n_samples)
        self.z = density
        if not step > 0:
            raise ValueError('step (mirror-descent step size s) must be positive, got %r'
                             % (step,))
        if not r >= 2:
            raise ValueError('r (averaging rate of accelerated mirror descent) must be >= 2, '
                             'got %r' % (r,))
        if not eps > 0:
            raise ValueError('eps (entropy perturbation) must be positive, got %r' % (eps,))
        self.step = float(step)
        self.r = float(r)
        self.eps = float(eps)
        self.k = 1

    @classmethod
    def gaussian(cls, mean, sigma=1.0, n_samples=10, step=10.0, r=3.0, eps=0.3,
                 adapt_rate=0.0):
        """G-AMDS (Algorithm 4): Gaussian densities, mean update only by default."""
        return cls(GaussianDensity(mean, sigma, adapt_rate), n_samples, step, r, eps)

    @classmethod
    def kernel(cls, mean, sigma=1.0, n_samples=10, step=10.0, r=3.0, eps=0.3):
        """AMDS (Algorithm 3) with weighted kernel densities."""
        return cls(KernelDensity.from_gaussian(mean, sigma), n_samples, step, r, eps)

    @property
    def mixture_weight(self):
        """lambda_k = r / (r + k) of eq. 16 for the next update."""
        return self.r / (self.r + self.k)

    @property
    def x_step(self):
        """Return the x-step size s eps / (1 + N eps) (Krichene et al. 2015, sec. 4)."""
        return self.step * self.eps / (1.0 + self.n_samples * self.eps)

    def update(self, samples, costs):
        """One AMDS update from the samples (N, dim) drawn by :meth:`sample` and costs (N,)."""
        costs = self.checked_costs(samples, costs)
        n = costs.shape[0]
        g = normalise_costs(costs)
        uniform = np.full(n, 1.0 / n)
        log_z = importance_log_prior(self.z, self.density, samples)
        z_prior = exponentiated_gradient(log_z, 0.0, 0.0)
        z_new = exponentiated_gradient(log_z, g, self.k * self.step / self.r)
        x_new = perturbed_entropy_projection(uniform, g, self.x_step, self.eps)
        lam = self.mixture_weight
        mixture = lam * z_new + (1.0 - lam) * x_new
        self.density = self.density.estimate(mixture, samples)
        self.z = self.z.estimate(z_new, samples)
        if isinstance(self.z, GaussianDensity):
            self.z = self.z.with_std(self.density.std)
        self.k += 1
        return {'weights': mixture, 'z_weights': z_new, 'x_weights': x_new, 'lambda': lam,
                'z_prior_kl': float(kl_divergence(z_prior, uniform)),
                'kl': float(kl_divergence(mixture, uniform))}
