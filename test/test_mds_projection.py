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

"""The epsilon-perturbed Bregman projection is the argmin of its mirror-step problem."""

import numpy as np
from ps_control.core.search_distribution import perturbed_entropy_projection
import pytest
from scipy.optimize import minimize


def bregman_objective(x, prior, g, step, eps):
    """Return step <g, x> + D_psi(x, prior) with psi(x) = sum (x + eps) log(x + eps)."""
    def psi(v):
        return np.sum((v + eps) * np.log(v + eps))
    grad_prior = np.log(prior + eps) + 1.0
    return step * g @ x + psi(x) - psi(prior) - grad_prior @ (x - prior)


def bregman_gradient(x, prior, g, step, eps):
    return step * g + np.log(x + eps) - np.log(prior + eps)


def direct_minimiser(prior, g, step, eps):
    n = prior.size
    result = minimize(bregman_objective, np.full(n, 1.0 / n), args=(prior, g, step, eps),
                      jac=bregman_gradient, method='SLSQP', bounds=[(0.0, 1.0)] * n,
                      constraints=[{'type': 'eq', 'fun': lambda x: x.sum() - 1.0,
                                    'jac': lambda x: np.ones_like(x)}],
                      options={'ftol': 1e-12, 'maxiter': 500})
    assert result.success, result.message
    return result.x


@pytest.mark.parametrize('case', range(6))
def test_projection_is_the_argmin_over_the_simplex(case):
    rng = np.random.default_rng(case)
    n = 10
    prior = rng.dirichlet(np.ones(n))
    g = rng.uniform(0.0, 1.0, n)
    eps = [0.3, 0.05, 1.0, 0.3, 0.01, 0.3][case]
    step = [0.75, 8.0, 3.0, 20.0, 2.0, 0.1][case]
    x = perturbed_entropy_projection(prior, g, step, eps)
    expected = direct_minimiser(prior, g, step, eps)
    np.testing.assert_allclose(x, expected, atol=2e-5)
    assert abs(x.sum() - 1.0) < 1e-12 and x.min() >= 0.0
    value = bregman_objective(x, prior, g, step, eps)
    assert value <= bregman_objective(expected, prior, g, step, eps) + 1e-10


def test_some_cases_clip_coordinates_to_zero():
    # The cases above must exercise the active non-negativity constraint, not only the interior.
    prior = np.full(10, 0.1)
    g = np.linspace(0.0, 1.0, 10)
    x = perturbed_entropy_projection(prior, g, 20.0, 0.3)
    assert np.count_nonzero(x == 0.0) >= 3
    np.testing.assert_allclose(x, direct_minimiser(prior, g, 20.0, 0.3), atol=2e-5)


def test_zero_eps_is_the_exponentiated_gradient():
    rng = np.random.default_rng(7)
    prior = rng.dirichlet(np.ones(6))
    g = rng.uniform(size=6)
    expected = prior * np.exp(-4.0 * g) / np.sum(prior * np.exp(-4.0 * g))
    np.testing.assert_allclose(perturbed_entropy_projection(prior, g, 4.0, 0.0), expected)


def test_batched_rows_equal_single_projections():
    rng = np.random.default_rng(8)
    prior = rng.dirichlet(np.ones(7), size=(3, 4))
    g = rng.uniform(size=(3, 4, 7))
    batched = perturbed_entropy_projection(prior, g, 5.0, 0.3)
    for i in range(3):
        for j in range(4):
            np.testing.assert_allclose(batched[i, j],
                                       perturbed_entropy_projection(prior[i, j], g[i, j], 5.0,
                                                                    0.3))


def test_negative_eps_is_rejected():
    with pytest.raises(ValueError, match='eps'):
        perturbed_entropy_projection(np.full(3, 1 / 3), np.zeros(3), 1.0, -0.1)
