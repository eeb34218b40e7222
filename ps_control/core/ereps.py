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
Episode-based REPS (Deisenroth, Neumann and Peters 2013, sec. 2.4.2): a baseline of sec. 4.

maximise -sum_j p_j J_j subject to KL(p || uniform) <= eps_KL on the simplex of the N samples.
The solution is p_j proportional to exp(-J_j / eta) with eta the minimiser of the dual

    g(eta) = eta eps_KL + eta log((1/N) sum_j exp(-(J_j - min J) / eta)) - min J,
    g'(eta) = eps_KL + log((1/N) sum_j exp(-(J_j - min J) / eta)) + sum_j p_j (J_j - min J) / eta,

and at the optimum KL(p || uniform) = eps_KL (when eps_KL < log N, the KL of a one-hot p). The
dual is convex in eta: its minimiser is the root of the analytic gradient, found by Brent's method
on log eta in [1e-8, 1e8]; the costs are first normalised
to [0, 1] (the weights are invariant to that affine map, eta scales with it). Unlike the authors'
code, eta is not bounded below by a fixed temperature. The new Gaussian is moment-matched as in
G-MDS (paper eq. 15).
"""

import numpy as np
from ps_control.core.search_distribution import (check_costs, DensitySearch,
                                                 GaussianDensity, kl_divergence,
                                                 normalise_costs)
from scipy.optimize import brentq
from scipy.special import logsumexp

LOG_ETA_BOUNDS = (np.log(1e-8), np.log(1e8))


def reps_dual(eta, costs, epsilon):
    """Return the dual g(eta) and its derivative dg/deta (module docstring) for costs (N,)."""
    costs = np.asarray(costs, dtype=float)
    if not eta > 0:
        raise ValueError('eta (REPS temperature) must be positive, got %r' % (eta,))
    low = costs.min()
    delta = costs - low
    # The largest logit is 0, so the plain sum of exponentials is in [1, N]: no overflow.
    unnormalised = np.exp(-delta / eta)
    total = unnormalised.sum()
    log_mean = np.log(total / costs.size)
    p = unnormalised / total
    value = eta * epsilon + eta * log_mean - low
    grad = epsilon + log_mean + p @ delta / eta
    return value, grad


def reps_weights(costs, eta):
    """Return p_j proportional to exp(-(J_j - min J) / eta)."""
    logits = -(np.asarray(costs, dtype=float) - np.min(costs)) / eta
    return np.exp(logits - logsumexp(logits))


def solve_temperature(costs, epsilon):
    """
    Return eta minimising the REPS dual for ``costs`` (N,) and the KL bound ``epsilon``.

    All-equal costs give eta = inf (uniform weights). When eps_KL >= log(N / m), m the number of
    samples sharing the lowest cost, no eta attains the bound (the dual decreases towards eta = 0)
    and the smallest eta of the search range is returned: all weight on the best samples.
    """
    costs = check_costs(costs)
    if not epsilon > 0:
        raise ValueError('epsilon (REPS KL bound) must be positive, got %r' % (epsilon,))
    spread = costs.max() - costs.min()
    if spread == 0:
        return np.inf
    g = normalise_costs(costs)

    def slope(log_eta):
        return reps_dual(np.exp(log_eta), g, epsilon)[1]

    low, high = LOG_ETA_BOUNDS
    if slope(low) >= 0:
        return float(np.exp(low) * spread)
    log_eta = brentq(slope, low, high, xtol=1e-12, rtol=1e-12)
    return float(np.exp(log_eta) * spread)


class EpisodicREPS(DensitySearch):
    """Episode-based REPS with a Gaussian search distribution (mean update, like G-MDS)."""

    def __init__(self, mean, sigma=1.0, n_samples=10, epsilon=1.0, adapt_rate=0.0):
        super().__init__(GaussianDensity(mean, sigma, adapt_rate), n_samples)
        if not epsilon > 0:
            raise ValueError('epsilon (REPS KL bound) must be positive, got %r' % (epsilon,))
        self.epsilon = float(epsilon)

    def update(self, samples, costs):
        """One REPS update from samples (N, dim) and costs (N,)."""
        costs = self.checked_costs(samples, costs)
        eta = solve_temperature(costs, self.epsilon)
        if np.isinf(eta):
            weights = np.full(costs.shape, 1.0 / costs.size)
        else:
            weights = reps_weights(costs, eta)
        self.density = self.density.estimate(weights, samples)
        uniform = np.full(costs.shape, 1.0 / costs.size)
        return {'weights': weights, 'eta': eta, 'kl': float(kl_divergence(weights, uniform))}
