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

"""Episode-based REPS: the dual, its gradient, and the KL bound at the optimum."""

import numpy as np
from ps_control.core.ereps import EpisodicREPS, reps_dual, reps_weights, solve_temperature
import pytest


def direct_dual(eta, costs, epsilon):
    """g(eta) = eta eps + eta log((1/N) sum exp(-J / eta)) written without any shift."""
    return eta * epsilon + eta * np.log(np.mean(np.exp(-costs / eta)))


@pytest.mark.parametrize('eta', [0.05, 0.3, 1.0, 4.0])
def test_dual_gradient_matches_finite_differences(eta):
    costs = np.random.default_rng(0).uniform(0.0, 1.0, 10)
    value, grad = reps_dual(eta, costs, 1.0)
    assert value == pytest.approx(direct_dual(eta, costs, 1.0), rel=1e-12)
    h = 1e-6 * eta
    numeric = (reps_dual(eta + h, costs, 1.0)[0] - reps_dual(eta - h, costs, 1.0)[0]) / (2 * h)
    assert grad == pytest.approx(numeric, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize('epsilon', [0.1, 0.5, 1.0, 2.0])
def test_kl_of_the_weights_equals_the_bound_at_the_optimum(epsilon):
    rng = np.random.default_rng(1)
    costs = rng.uniform(1e8, 3e9, 10)  # raw task-scale costs
    eta = solve_temperature(costs, epsilon)
    p = reps_weights(costs, eta)
    kl = np.sum(p * np.log(10 * p))
    assert kl == pytest.approx(epsilon, rel=1e-6)
    # eta minimises the dual of the raw costs: neighbours are not lower.
    value = direct_dual(eta, costs - costs.min(), epsilon)
    for factor in (0.9, 0.99, 1.01, 1.1):
        assert direct_dual(factor * eta, costs - costs.min(), epsilon) >= value - 1e-9 * eta


def test_unreachable_bound_puts_all_weight_on_the_best_sample():
    costs = np.array([3.0, 1.0, 2.0, 5.0])
    eta = solve_temperature(costs, np.log(4.0) + 0.5)
    np.testing.assert_allclose(reps_weights(costs, eta), [0, 1, 0, 0], atol=1e-12)


def test_update_moment_matches_the_reps_weights():
    rng = np.random.default_rng(2)
    search = EpisodicREPS(np.zeros(3), sigma=1.0, n_samples=6, epsilon=0.8)
    samples = search.sample(rng)
    costs = rng.uniform(size=6)
    info = search.update(samples, costs)
    expected = np.exp(-(costs - costs.min()) / info['eta'])
    expected /= expected.sum()
    np.testing.assert_allclose(info['weights'], expected, rtol=1e-12)
    np.testing.assert_allclose(search.mean, expected @ samples, rtol=1e-12)
    assert info['kl'] == pytest.approx(0.8, rel=1e-6)


def test_equal_costs_and_bad_input():
    assert solve_temperature(np.full(4, 2.0), 1.0) == np.inf
    search = EpisodicREPS(np.zeros(2), n_samples=4)
    samples = search.sample(np.random.default_rng(0))
    info = search.update(samples, np.full(4, 2.0))
    np.testing.assert_allclose(info['weights'], 0.25)
    with pytest.raises(ValueError, match='NaN'):
        search.update(samples, np.array([1.0, 2.0, np.nan, 0.0]))
    with pytest.raises(ValueError, match='epsilon'):
        solve_temperature(np.arange(3.0), 0.0)
    with pytest.raises(ValueError, match='eta'):
        reps_dual(0.0, np.arange(3.0), 1.0)
    with pytest.raises(ValueError, match='sigma'):
        EpisodicREPS(np.zeros(2), sigma=0.0)
    with pytest.raises(ValueError, match='n_samples'):
        EpisodicREPS(np.zeros(2), n_samples=1)
    for epsilon in (0.0, -1.0, float('nan')):
        with pytest.raises(ValueError, match='epsilon .REPS KL bound. must be positive'):
            EpisodicREPS(np.zeros(2), epsilon=epsilon)


def test_an_unattainable_bound_gives_the_smallest_temperature_at_any_cost_scale():
    """For epsilon >= log N the temperature is the lowest one, scaled by the costs' spread."""
    for scale in (1e-9, 1.0, 1e6):
        costs = scale * np.array([0.0, 1.0, 2.0, 3.0])
        eta = solve_temperature(costs, 5.0)  # 5 > log 4: no temperature meets it
        assert eta == pytest.approx(1e-8 * 3.0 * scale, rel=1e-9)  # lowest x (max - min)
        weights = reps_weights(costs, eta)
        np.testing.assert_allclose(weights, [1.0, 0.0, 0.0, 0.0], atol=1e-12)
