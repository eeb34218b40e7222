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

"""G-MDS / G-AMDS / MDS weights and moment matching against their closed forms; bad input."""

import numpy as np
from ps_control.core.amds import AcceleratedMirrorDescentSearch, matched_step
from ps_control.core.ereps import EpisodicREPS
from ps_control.core.mds import MirrorDescentSearch
from ps_control.core.search_distribution import (GaussianDensity, KernelDensity,
                                                 normalise_costs)
import pytest
from scipy.stats import norm


def test_gmds_weights_are_the_exponentiated_gradient():
    rng = np.random.default_rng(0)
    search = MirrorDescentSearch.gaussian(np.zeros(5), sigma=1.0, n_samples=8, step=10.0)
    samples = search.sample(rng)
    costs = rng.uniform(1e6, 5e6, 8)
    info = search.update(samples, costs)
    g = (costs - costs.min()) / (costs.max() - costs.min())
    closed_form = np.exp(-10.0 * g) / np.sum(np.exp(-10.0 * g))
    np.testing.assert_allclose(info['weights'], closed_form, rtol=1e-12)
    np.testing.assert_allclose(search.mean, closed_form @ samples, rtol=1e-12)
    assert search.density.std == 1.0  # the paper's setting: the covariance is not updated
    kl = np.sum(closed_form * np.log(8 * closed_form))
    assert info['kl'] == pytest.approx(kl)


def test_samples_come_from_the_search_gaussian():
    rng = np.random.default_rng(1)
    density = GaussianDensity(np.array([1.0, -2.0]), std=0.5)
    samples = density.sample(20000, rng)
    np.testing.assert_allclose(samples.mean(axis=0), [1.0, -2.0], atol=0.02)
    np.testing.assert_allclose(samples.std(axis=0), [0.5, 0.5], atol=0.02)


def test_gamds_first_update_mixes_z_and_x_steps():
    rng = np.random.default_rng(2)
    search = AcceleratedMirrorDescentSearch.gaussian(np.zeros(4), n_samples=6, step=10.0, r=3.0,
                                                     eps=0.3)
    samples = search.sample(rng)
    costs = rng.uniform(size=6)
    info = search.update(samples, costs)
    g = (costs - costs.min()) / (costs.max() - costs.min())
    # z == x at the start, so the z prior is uniform; z-step size k s / r with k = 1.
    z = np.exp(-10.0 / 3.0 * g) / np.sum(np.exp(-10.0 / 3.0 * g))
    np.testing.assert_allclose(info['z_weights'], z, rtol=1e-12)
    lam = 3.0 / (3.0 + 1.0)
    assert info['lambda'] == pytest.approx(lam)
    x = info['x_weights']
    assert abs(x.sum() - 1.0) < 1e-12 and x.min() >= 0
    np.testing.assert_allclose(search.mean, (lam * z + (1 - lam) * x) @ samples, rtol=1e-12)
    np.testing.assert_allclose(search.z.mean, z @ samples, rtol=1e-12)


def test_matched_step_gives_the_x_step_that_temperature():
    step = matched_step(10.0, n_samples=10, eps=0.3)
    assert step == pytest.approx(10.0 * (1 + 10 * 0.3) / 0.3)
    search = AcceleratedMirrorDescentSearch.gaussian(np.zeros(3), n_samples=10, step=step)
    assert search.x_step == pytest.approx(10.0)
    # The reference code's s = 10 leaves a nearly uniform x-step (temperature 0.75).
    assert AcceleratedMirrorDescentSearch.gaussian(np.zeros(3)).x_step == pytest.approx(0.75)
    with pytest.raises(ValueError, match='temperature'):
        matched_step(0.0, 10)
    with pytest.raises(ValueError, match='n_samples'):
        matched_step(10.0, 1)


def test_gamds_z_prior_is_the_importance_ratio_of_the_two_gaussians():
    rng = np.random.default_rng(3)
    search = AcceleratedMirrorDescentSearch.gaussian(np.zeros(3), sigma=0.7, n_samples=5)
    for _ in range(3):
        samples = search.sample(rng)
        search.update(samples, rng.uniform(size=5))
    mu, mu_z = search.mean.copy(), search.z.mean.copy()
    k = search.k
    samples = search.sample(rng)
    costs = rng.uniform(size=5)
    info = search.update(samples, costs)
    ratio = (norm.pdf(samples, mu_z, 0.7).prod(axis=1) / norm.pdf(samples, mu, 0.7).prod(axis=1))
    g = (costs - costs.min()) / (costs.max() - costs.min())
    z = ratio * np.exp(-k * 10.0 / 3.0 * g)
    np.testing.assert_allclose(info['z_weights'], z / z.sum(), rtol=1e-9)
    assert info['lambda'] == pytest.approx(3.0 / (3.0 + k))


def test_kernel_mds_keeps_one_kernel_per_weighted_sample():
    rng = np.random.default_rng(4)
    search = MirrorDescentSearch.kernel(np.zeros(3), sigma=0.5, n_samples=6)
    samples = search.sample(rng)
    info = search.update(samples, rng.uniform(size=6))
    np.testing.assert_allclose(search.density.centres, samples)
    np.testing.assert_allclose(search.density.weights, info['weights'])
    np.testing.assert_allclose(search.mean, info['weights'] @ samples)
    # The mixture density at a point, against a direct sum of Gaussian kernels.
    point = rng.standard_normal((1, 3))
    direct = np.sum(info['weights'] * np.exp(-0.5 * np.sum((point - samples) ** 2, axis=1)
                                             / 0.25))
    assert search.density.log_density(point)[0] == pytest.approx(np.log(direct))


def test_covariance_adaptation_is_off_by_default_and_moment_matches_when_on():
    rng = np.random.default_rng(5)
    samples = rng.standard_normal((10, 3))
    weights = rng.dirichlet(np.ones(10))
    fixed = GaussianDensity(np.zeros(3), 1.0).estimate(weights, samples)
    assert fixed.std == 1.0
    adapted = GaussianDensity(np.zeros(3), 1.0, adapt_rate=1.0).estimate(weights, samples)
    np.testing.assert_allclose(adapted.std, np.sqrt(weights @ samples ** 2))
    half = GaussianDensity(np.zeros(3), 1.0, adapt_rate=0.5).estimate(weights, samples)
    np.testing.assert_allclose(half.std, np.sqrt(0.5 + 0.5 * weights @ samples ** 2))


def test_gamds_z_sequence_keeps_the_adapted_search_std():
    """
    Keep z_k (eq. 16's second sequence) at x_k's adapted std.

    Only its mean is a separate estimate, so the importance ratio of eq. 15 compares means.
    """
    rng = np.random.default_rng(3)
    search = AcceleratedMirrorDescentSearch.gaussian(np.zeros(3), 1.0, n_samples=6,
                                                     adapt_rate=0.5)
    for _ in range(2):
        samples = search.sample(rng)
        search.update(samples, (samples ** 2).sum(axis=1))
        assert not np.allclose(search.density.std, 1.0)  # adapted
        np.testing.assert_allclose(search.z.std, search.density.std)


def test_normalised_costs_span_zero_to_one():
    """Normalise g = (J - min J) / (max J - min J): cheapest 0, dearest 1, order kept."""
    costs = np.array([[4.0, -2.0, 10.0, 1.0], [3.0, 3.5, 2.0, 2.5]])
    g = normalise_costs(costs)
    np.testing.assert_allclose(g[0], [0.5, 0.0, 1.0, 0.25])
    np.testing.assert_allclose(g.min(axis=1), 0.0)
    np.testing.assert_allclose(g.max(axis=1), 1.0)
    assert np.array_equal(np.argsort(g, axis=1), np.argsort(costs, axis=1))


def test_all_equal_costs_give_uniform_weights():
    assert np.all(normalise_costs(np.full(5, 3.0)) == 0.0)
    rng = np.random.default_rng(6)
    for search in (MirrorDescentSearch.gaussian(np.zeros(2), n_samples=4),
                   AcceleratedMirrorDescentSearch.gaussian(np.zeros(2), n_samples=4)):
        samples = search.sample(rng)
        info = search.update(samples, np.full(4, 7.0))
        np.testing.assert_allclose(info['weights'], 0.25)
        np.testing.assert_allclose(search.mean, samples.mean(axis=0))


@pytest.mark.parametrize('factory', [MirrorDescentSearch.gaussian,
                                     AcceleratedMirrorDescentSearch.gaussian,
                                     MirrorDescentSearch.kernel, EpisodicREPS])
def test_bad_input_is_rejected(factory):
    with pytest.raises(ValueError, match='sigma'):
        factory(np.zeros(2), sigma=0.0)
    with pytest.raises(ValueError, match='sigma'):
        factory(np.zeros(2), sigma=-1.0)
    with pytest.raises(ValueError, match='n_samples'):
        factory(np.zeros(2), n_samples=1)
    search = factory(np.zeros(2), n_samples=3)
    samples = search.sample(np.random.default_rng(0))
    with pytest.raises(ValueError, match='NaN'):
        search.update(samples, np.array([1.0, np.nan, 2.0]))
    with pytest.raises(ValueError, match=r'samples \(3\) and costs \(2\) differ'):
        search.update(samples, np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match='at least 2'):
        search.update(samples[:1], np.array([1.0]))


@pytest.mark.parametrize('factory, settings, message', [
    (MirrorDescentSearch.gaussian, {'step': 0.0}, 'step .mirror-descent step size h. must be'),
    (MirrorDescentSearch.kernel, {'step': float('nan')}, 'step .mirror-descent step size h.'),
    (AcceleratedMirrorDescentSearch.gaussian, {'step': -1.0},
     'step .mirror-descent step size s. must be positive'),
    (AcceleratedMirrorDescentSearch.gaussian, {'r': 1.5}, 'r .averaging rate .*>= 2, got 1.5'),
    (AcceleratedMirrorDescentSearch.kernel, {'eps': 0.0}, 'eps .entropy perturbation. must be'),
    (MirrorDescentSearch.gaussian, {'mean': [0.0, np.inf]}, 'mean holds NaN or inf'),
    (MirrorDescentSearch.gaussian, {'adapt_rate': 1.5}, r'adapt_rate .* \[0, 1\], got 1.5'),
    (AcceleratedMirrorDescentSearch.gaussian, {'adapt_rate': -0.1}, 'adapt_rate'),
])
def test_bad_settings_are_rejected_by_name(factory, settings, message):
    """Each step size, rate and mean out of range is refused, naming the setting."""
    settings = {'mean': np.zeros(2), **settings}
    with pytest.raises(ValueError, match=message):
        factory(**settings)


def test_scalar_costs_are_rejected():
    search = MirrorDescentSearch.gaussian(np.zeros(2), n_samples=3)
    samples = search.sample(np.random.default_rng(0))
    with pytest.raises(ValueError, match='one cost per sample, got a scalar'):
        search.update(samples, 1.0)


def test_normalise_costs_rejects_non_finite_costs():
    with pytest.raises(ValueError, match=r'costs hold NaN or inf \(2 of 4 entries\)'):
        normalise_costs([1.0, np.nan, 2.0, -np.inf])


def test_kernel_density_rejects_bad_weights():
    with pytest.raises(ValueError, match='probability'):
        KernelDensity(np.zeros((2, 3)), [0.5, 0.6])
    with pytest.raises(ValueError, match=r'kernel weights \(3\) and centres \(2\) differ'):
        KernelDensity(np.zeros((2, 3)), [0.2, 0.3, 0.5])


def test_an_adapted_spread_of_zero_is_floored_at_min_std():
    """All weight on a sample at the old mean, fully adapted: std min_std, not an error."""
    density = GaussianDensity([0.0, 1.0], 1.0, adapt_rate=1.0, min_std=1e-3)
    new = density.estimate(np.array([1.0, 0.0]), np.array([[0.0, 1.0], [2.0, 3.0]]))
    np.testing.assert_array_equal(new.mean, [0.0, 1.0])
    np.testing.assert_array_equal(new.std, [1e-3, 1e-3])
