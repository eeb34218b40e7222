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
Mirror descent search: MDS (Algorithm 1) and G-MDS (Algorithm 2) of Miyashita et al. 2018.

One update: draw N samples from the search density (the discretisation of eq. 6-10 puts the
uniform weight 1/N on them, since they are drawn from it), take the KL mirror step on the simplex
(eq. 14: p_j proportional to exp(-step g_j), the exponentiated gradient of eq. 27), and estimate
the next density from the weighted samples: moment matching of a Gaussian (eq. 15, G-MDS) or a
weighted kernel density (MDS). g is the normalised cost of sec. 4 and step = h = 10.
"""

import numpy as np

from ps_control.core.search_distribution import (DensitySearch, exponentiated_gradient,
                                                 GaussianDensity, KernelDensity,
                                                 kl_divergence, normalise_costs)


class MirrorDescentSearch(DensitySearch):
    """
    MDS with a pluggable density estimate (Gaussian: G-MDS; kernel density: MDS).

    ``sample(rng)`` returns (N, dim) parameter vectors, ``update(samples, costs)`` takes one
    total cost per sample and returns a dict with the weights and their KL to the uniform prior.
    """

    def __init__(self, density, n_samples=10, step=10.0):
        super().__init__(density, n_samples)
        if not step > 0:
            raise ValueError('step (mirror-descent step size h) must be positive, got %r'
                             % (step,))
        self.step = float(step)

    @classmethod
    def gaussian(cls, mean, sigma=1.0, n_samples=10, step=10.0, adapt_rate=0.0):
        """G-MDS (Algorithm 2): Gaussian search distribution, mean update only by default."""
        return cls(GaussianDensity(mean, sigma, adapt_rate), n_samples, step)

    @classmethod
    def kernel(cls, mean, sigma=1.0, n_samples=10, step=10.0):
        """MDS (Algorithm 1) with a weighted kernel density as the density estimate."""
        return cls(KernelDensity.from_gaussian(mean, sigma), n_samples, step)

    def update(self, samples, costs):
        """One MDS update from the samples (N, dim) and their costs (N,)."""
        costs = self.checked_costs(samples, costs)
        uniform = np.full(costs.shape, 1.0 / costs.size)
        weights = exponentiated_gradient(np.log(uniform), normalise_costs(costs), self.step)
        self.density = self.density.estimate(weights, samples)
        return {'weights': weights, 'kl': float(kl_divergence(weights, uniform))}
