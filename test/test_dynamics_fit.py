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
Linearization by sampling checked against known linear-Gaussian systems.

Tolerances come from the sampling distribution of least squares: standard errors
sqrt(Sigma_ii [(Z'Z)^-1]_jj) of the coefficients, the Wishart spread of the noise covariance, and
the expected out-of-sample error 1 + 1/N + k/(N - k - 2) of ordinary least squares with k
Gaussian regressors (whitened, per state dimension).
"""

import numpy as np
from ps_control.core.dynamics_fit import (DynamicsFitter, fit_linear_gaussian, floor_eigenvalues,
                                          NIWPrior)
from ps_control.core.gmm import GaussianMixture
import pytest


def make_system(T, dx, du, seed, noise=0.05, dt=0.05):
    """Return (A, B, c, cov) of coupled damped oscillators with time-varying stiffness."""
    rng = np.random.default_rng(seed)
    q = dx // 2
    stiff = rng.standard_normal((q, q))
    stiff = stiff @ stiff.T / q + np.eye(q)
    drive = rng.standard_normal((q, du))
    A, B, c = np.empty((T, dx, dx)), np.empty((T, dx, du)), np.empty((T, dx))
    for t in range(T):
        phase = 2.0 * np.pi * t / T
        cont = np.block([[np.zeros((q, q)), np.eye(q)],
                         [-(1.0 + 0.5 * np.sin(phase)) * stiff, -0.3 * np.eye(q)]])
        A[t] = np.eye(dx) + dt * cont
        B[t] = dt * np.vstack([np.zeros((q, du)), drive * (1.0 + 0.3 * np.cos(phase))])
        c[t] = dt * np.concatenate([np.zeros(q), 0.5 * np.sin(np.arange(q) + 3.0 * t / T)])
    root = rng.standard_normal((dx, dx)) * noise
    cov = np.broadcast_to(root @ root.T + noise ** 2 * np.eye(dx), (T, dx, dx)).copy()
    return A, B, c, cov


def rollouts(system, n, seed, offset=1.0, u_std=1.0, x0_std=0.3):
    """Sample n rollouts of open-loop actions offset * sin(0.1 t + i) plus white noise."""
    A, B, c, cov = system
    T, dx, du = B.shape
    rng = np.random.default_rng(seed)
    states, actions = np.empty((n, T + 1, dx)), np.empty((n, T, du))
    states[:, 0] = 1.0 + x0_std * rng.standard_normal((n, dx))
    plan = offset * np.sin(0.1 * np.arange(T)[:, None] + np.arange(du))
    vals, vecs = np.linalg.eigh(cov)
    roots = vecs * np.sqrt(np.maximum(vals, 0.0))[:, None, :]
    for t in range(T):
        actions[:, t] = plan[t] + u_std * rng.standard_normal((n, du))
        states[:, t + 1] = (states[:, t] @ A[t].T + actions[:, t] @ B[t].T + c[t]
                            + rng.standard_normal((n, dx)) @ roots[t].T)
    return states, actions


def relative_error(dynamics, system):
    """Return ||(A, B) - (A*, B*)||_F / ||(A*, B*)||_F over all steps."""
    A, B = system[:2]
    err = np.sum((dynamics.A - A) ** 2) + np.sum((dynamics.B - B) ** 2)
    return np.sqrt(err / (np.sum(A ** 2) + np.sum(B ** 2)))


def whitened_error(dynamics, system, states, actions, dims=None):
    """Return the mean of e' cov^-1 e / dx of the one-step prediction error e (true cov)."""
    dims = slice(None) if dims is None else dims
    pred = (np.einsum('tij,ntj->nti', dynamics.A, states[:, :-1])
            + np.einsum('tij,ntj->nti', dynamics.B, actions) + dynamics.c)
    err = (states[:, 1:] - pred)[..., dims]
    prec = np.linalg.inv(system[3][:, dims, dims])
    return np.einsum('nti,tij,ntj->', err, prec, err) / err.size


def ols_expected_error(n, k):
    """Return the whitened out-of-sample error expected of OLS with k Gaussian regressors."""
    return 1.0 + 1.0 / n + k / (n - k - 2.0)


def assert_psd(covs):
    sym = 0.5 * (covs + np.swapaxes(covs, -1, -2))
    assert np.allclose(covs, sym)
    assert np.linalg.eigvalsh(sym).min() >= -1e-12 * max(1.0, np.abs(covs).max())


@pytest.mark.parametrize('prior', [None, 'gmm'])
def test_recovers_time_varying_system(prior):
    """Many samples: A, B, c within 5 standard errors, noise cov within 5 Wishart spreads."""
    T, dx, du, n = 6, 4, 2, 3000
    system = make_system(T, dx, du, seed=1)
    states, actions = rollouts(system, n, seed=2)
    fitter = DynamicsFitter(prior=prior, seed=0)
    if prior:
        fitter.update_prior(states, actions)
    dyn = fitter.fit(states, actions)
    A, B, c, cov = system
    k = dx + du
    for t in range(T):
        design = np.column_stack([states[:, t], actions[:, t], np.ones(n)])
        spread = np.diag(np.linalg.inv(design.T @ design))
        truth = np.column_stack([A[t], B[t], c[t]])
        fitted = np.column_stack([dyn.A[t], dyn.B[t], dyn.c[t]])
        se = np.sqrt(np.outer(np.diag(cov[t]), spread))
        assert np.abs((fitted - truth) / se).max() < 5.0
        # ML noise covariance: mean Sigma (n - k - 1) / n, entry variance (S_ij^2 + S_ii S_jj) / n
        var = np.diag(cov[t])
        cov_se = np.sqrt((cov[t] ** 2 + np.outer(var, var)) / n)
        expected = cov[t] * (n - k - 1) / n
        assert np.abs((dyn.cov[t] - expected) / cov_se).max() < 5.0
    assert relative_error(dyn, system) < 0.02


def test_few_samples_finite_without_prior_and_prior_much_better():
    """N = 5 < dx + du + 1: ridge keeps the fit finite; the GMM prior cuts the error in A, B."""
    T, dx, du, n = 60, 4, 2, 5
    system = make_system(T, dx, du, seed=3)
    fitter = DynamicsFitter(prior='gmm', seed=0)
    for iteration, offset in enumerate([0.6, 0.8, 1.0]):  # earlier iterations feed the prior
        fitter.update_prior(*rollouts(system, n, seed=10 + iteration, offset=offset))
    states, actions = rollouts(system, n, seed=20, offset=1.2)
    fitter.update_prior(states, actions)
    with_prior = fitter.fit(states, actions)
    plain = DynamicsFitter(prior=None).fit(states, actions)
    for dyn in (plain, with_prior):
        for array in (dyn.A, dyn.B, dyn.c, dyn.cov):
            assert np.isfinite(array).all()
        assert_psd(dyn.cov)
    plain_err, prior_err = relative_error(plain, system), relative_error(with_prior, system)
    assert prior_err < 0.3 * plain_err


@pytest.mark.parametrize('dx, du, n', [(4, 2, 25), (8, 4, 100)])
def test_held_out_prediction_near_noise_level(dx, du, n):
    """25 rollouts (4 states) / 100 (8 states) per iteration: held-out error near the noise."""
    T = 30
    system = make_system(T, dx, du, seed=4)
    fitter = DynamicsFitter(prior='gmm', seed=0)
    for iteration, offset in enumerate([0.5, 0.8, 1.1]):
        states, actions = rollouts(system, n, seed=30 + iteration, offset=offset)
        fitter.update_prior(states, actions)
    with_prior = fitter.fit(states, actions)
    plain = DynamicsFitter(prior=None).fit(states, actions)
    held_states, held_actions = rollouts(system, 400, seed=99, offset=1.1)
    prior_ratio = whitened_error(with_prior, system, held_states, held_actions)
    plain_ratio = whitened_error(plain, system, held_states, held_actions)
    ols = ols_expected_error(n, dx + du)
    assert 1.0 < prior_ratio < 1.0 + 1.5 * (ols - 1.0)
    assert prior_ratio < plain_ratio * 1.01
    assert_psd(with_prior.cov)


def test_zero_variance_dimensions():
    """A constant state and a constant action: finite fit, exact prediction, c holds it."""
    T, n = 20, 40
    base = make_system(T, 4, 2, seed=5)
    dx, du = 5, 3
    A, B = np.zeros((T, dx, dx)), np.zeros((T, dx, du))
    c, cov = np.zeros((T, dx)), np.zeros((T, dx, dx))
    A[:, :4, :4], B[:, :4, :2], c[:, :4], cov[:, :4, :4] = base
    A[:, 4, 4] = 1.0  # x_4' = x_4, no noise
    B[:, :4, 2] = 0.2  # the constant action u_2 drives the state: c must absorb it
    system = (A, B, c, cov)

    def sample(count, seed):
        rng = np.random.default_rng(seed)
        states, actions = np.empty((count, T + 1, dx)), np.empty((count, T, du))
        states[:, 0, :4] = 1.0 + 0.3 * rng.standard_normal((count, 4))
        states[:, 0, 4] = 0.1
        actions[..., 2] = 0.3
        root = np.linalg.cholesky(cov[0, :4, :4])
        for t in range(T):
            actions[:, t, :2] = np.sin(0.1 * t + np.arange(2)) + rng.standard_normal((count, 2))
            states[:, t + 1] = states[:, t] @ A[t].T + actions[:, t] @ B[t].T + c[t]
            states[:, t + 1, :4] += rng.standard_normal((count, 4)) @ root.T
        return states, actions

    states, actions = sample(n, 6)
    assert np.all(states[..., 4] == 0.1) and np.all(actions[..., 2] == 0.3)
    held = sample(400, 7)
    fitter = DynamicsFitter(prior='gmm', seed=0)
    fitter.update_prior(states, actions)
    for dyn in (DynamicsFitter(prior=None).fit(states, actions), fitter.fit(states, actions)):
        for array in (dyn.A, dyn.B, dyn.c, dyn.cov):
            assert np.isfinite(array).all()
        assert_psd(dyn.cov)
        assert np.abs(dyn.A[:, :, 4]).max() == 0.0 and np.abs(dyn.B[:, :, 2]).max() == 0.0
        assert dyn.c[:, 4] == pytest.approx(0.1, abs=1e-9)
        assert np.abs(dyn.cov[:, 4, :]).max() < 1e-12
        pred = (np.einsum('tij,ntj->nti', dyn.A, held[0][:, :-1])
                + np.einsum('tij,ntj->nti', dyn.B, held[1]) + dyn.c)
        assert np.abs(pred[..., 4] - 0.1).max() < 1e-9
        ratio = whitened_error(dyn, system, *held, dims=slice(0, 4))
        assert ratio < 1.0 + 1.5 * (ols_expected_error(n, 6) - 1.0)


def test_scale_floor_keeps_a_joint_at_its_stop_from_getting_huge_gains():
    """
    A state held (up to 1e-7) at a stop during a few steps: the plain fit fits its spread.

    The round-off-level spread correlates with the next state's noise by chance, so the plain
    fit's gains on it are large; the scale floor (a share of the dimension's variance over the
    batch) takes them to ~0 and leaves the other steps' fit as it was.
    """
    T, n = 30, 100
    system = make_system(T, 4, 2, seed=8)
    states, actions = rollouts(system, n, seed=9)
    held = slice(10, 14)  # x_0 rests at 2.0 at the start of steps 10-13
    rng = np.random.default_rng(10)
    states[:, held, 0] = 2.0 + 1e-7 * rng.standard_normal((n, 4))
    plain = DynamicsFitter(prior=None).fit(states, actions)
    floored = DynamicsFitter(prior=None).fit(states, actions, scale_floor=1e-3)
    assert np.abs(plain.A[held, :, 0]).max() > 100.0
    assert np.abs(floored.A[held, :, 0]).max() < 0.01
    free = np.r_[0:9, 14:T]  # steps whose inputs and targets are the system's
    truth = np.concatenate([system[0][free], system[1][free]], axis=-1)
    fitted = np.concatenate([floored.A[free], floored.B[free]], axis=-1)
    assert np.linalg.norm(fitted - truth) < 0.15 * np.linalg.norm(truth)
    shift = np.linalg.norm(floored.A[free] - plain.A[free])
    assert shift < 0.02 * np.linalg.norm(plain.A[free])  # the floor is small where data vary
    again = DynamicsFitter(prior=None).fit(states, actions, scale_floor=0.0)
    np.testing.assert_array_equal(again.A, plain.A)
    with pytest.raises(ValueError, match='scale_floor must be >= 0'):
        DynamicsFitter(prior=None).fit(states, actions, scale_floor=-1e-3)


def test_fit_with_own_gaussian_as_prior_equals_plain_fit():
    """NIW posterior with mu0 = mean, Phi = n0 S, m = n0 = N is the empirical Gaussian again."""
    rng = np.random.default_rng(8)
    xu = rng.standard_normal((30, 3))
    x_next = xu @ rng.standard_normal((3, 2)) + 0.1 * rng.standard_normal((30, 2))
    joint = np.column_stack([xu, x_next])
    emp = np.cov(joint.T, bias=True)
    prior = NIWPrior(joint.mean(axis=0), 30 * emp, 30.0, 30.0)
    for plain, posterior in zip(fit_linear_gaussian(xu, x_next),
                                fit_linear_gaussian(xu, x_next, prior)):
        assert posterior == pytest.approx(plain, rel=1e-9, abs=1e-12)


def test_strong_prior_gives_prior_regression():
    """A prior of 1e9 pseudo-samples pins F to Sigma0_yx Sigma0_xx^-1, cov to the Schur one."""
    rng = np.random.default_rng(9)
    root = rng.standard_normal((5, 5))
    sigma0 = root @ root.T + np.eye(5)
    mu0 = rng.standard_normal(5)
    strength = 1e9
    prior = NIWPrior(mu0, strength * sigma0, strength, strength)
    xu = rng.standard_normal((4, 3))  # fewer samples than dimensions
    x_next = rng.standard_normal((4, 2))
    F, f, cov = fit_linear_gaussian(xu, x_next, prior, ridge=0.0)
    gain = np.linalg.solve(sigma0[:3, :3], sigma0[:3, 3:]).T
    assert F == pytest.approx(gain, rel=1e-6, abs=1e-6)
    assert cov == pytest.approx(sigma0[3:, 3:] - gain @ sigma0[:3, 3:], rel=1e-6, abs=1e-6)
    # the offset goes through the sample means, as in cbfinn/gps
    assert f == pytest.approx(x_next.mean(0) - gain @ xu.mean(0), rel=1e-6, abs=1e-6)


def test_floor_eigenvalues_projects_onto_psd_cone():
    """Negative eigenvalues become zero, the eigenvectors and the other eigenvalues stay."""
    rng = np.random.default_rng(16)
    vecs = np.linalg.qr(rng.standard_normal((3, 3)))[0]
    matrix = vecs @ np.diag([2.0, 0.5, -1e-3]) @ vecs.T
    floored = floor_eigenvalues(np.stack([matrix, vecs @ np.diag([1.0, 2.0, 3.0]) @ vecs.T]))
    assert floored[0] == pytest.approx(vecs @ np.diag([2.0, 0.5, 0.0]) @ vecs.T, abs=1e-12)
    assert floored[1] == pytest.approx(vecs @ np.diag([1.0, 2.0, 3.0]) @ vecs.T, abs=1e-12)


def clustered_data(seed):
    """Return data from two well-separated 2-D Gaussians and their (weights, means, covs)."""
    rng = np.random.default_rng(seed)
    means = np.array([[0.0, 0.0], [12.0, -6.0]])
    covs = np.array([[[0.5, 0.0], [0.0, 0.5]], [[1.0, 0.5], [0.5, 1.0]]])
    counts = (1200, 800)
    data = np.vstack([rng.multivariate_normal(m, s, size=k)
                      for m, s, k in zip(means, covs, counts)])
    labels = np.repeat([0, 1], counts)
    return data, labels, np.array(counts) / sum(counts), means, covs


def overlapping_data(seed):
    """Return two separated clusters plus a broad overlapping one (EM needs many iterations)."""
    data = clustered_data(seed)[0]
    rng = np.random.default_rng(seed + 1)
    return np.vstack([data, rng.standard_normal((500, 2)) * 3.0 + [5.0, 5.0]])


def test_gmm_em_objective_never_decreases():
    """Every EM iteration raises the MAP objective (log-likelihood plus penalties)."""
    gmm = GaussianMixture(max_iterations=60, tol=0.0, seed=3).fit(overlapping_data(10), 6)
    history = np.array(gmm.history)
    assert history.size == 60
    assert np.all(np.diff(history) >= -1e-9 * np.abs(history[1:]))
    assert history[-1] > history[0] + 1.0


def test_gmm_responsibilities_match_the_gaussian_densities():
    """The expanded Mahalanobis terms equal scipy's log densities, far from the origin too."""
    from scipy.special import logsumexp
    from scipy.stats import multivariate_normal
    data = overlapping_data(4) + 1e3  # tight clusters far from the origin: no cancellation
    gmm = GaussianMixture(max_iterations=5, seed=1).fit(data, 3)
    log_joint = np.stack([np.log(w) + multivariate_normal(m, c).logpdf(data)
                          for w, m, c in zip(gmm.weights, gmm.means, gmm.covs)], axis=1)
    expected = log_joint - logsumexp(log_joint, axis=1, keepdims=True)
    np.testing.assert_allclose(gmm.log_responsibilities(data), expected, atol=1e-8)
    np.testing.assert_allclose(gmm.log_likelihood[-1], logsumexp(log_joint, axis=1).sum(),
                               rtol=1e-10)


def test_gmm_recovers_two_separated_clusters():
    """Weights, means, covariances within 5 standard errors; every point assigned right."""
    data, labels, weights, means, covs = clustered_data(12)
    gmm = GaussianMixture(seed=0).fit(data, 2)
    order = np.argsort(gmm.means[:, 0])  # truth: cluster 0 has the smaller first coordinate
    n = data.shape[0]
    counts = weights * n
    assert np.abs(gmm.weights[order] - weights).max() < 5.0 * np.sqrt(
        weights * (1 - weights) / n).max()
    for k in range(2):
        j = order[k]
        mean_se = np.sqrt(np.diag(covs[k]) / counts[k])
        assert np.abs(gmm.means[j] - means[k]).max() < 5.0 * mean_se.max()
        var = np.diag(covs[k])
        cov_se = np.sqrt((covs[k] ** 2 + np.outer(var, var)) / counts[k])
        assert np.abs((gmm.covs[j] - covs[k]) / cov_se).max() < 5.0
    assigned = order.argsort()[gmm.log_responsibilities(data).argmax(axis=1)]
    assert np.all(assigned == labels)


def test_gmm_warm_start_resumes_from_previous_fit():
    """A second fit on the same data starts converged: at most 2 EM iterations."""
    data = overlapping_data(13)
    gmm = GaussianMixture(seed=0).fit(data, 6)
    cold = gmm.n_iterations
    gmm.fit(data, 6)
    assert gmm.n_iterations <= 2 < cold


def test_bad_input_is_rejected_with_names_and_indices():
    system = make_system(5, 4, 2, seed=14)
    states, actions = rollouts(system, 6, seed=15)
    fitter = DynamicsFitter(prior=None)
    bad = states.copy()
    bad[3, 4, 1] = np.nan
    with pytest.raises(ValueError, match='states .*rollout 3, time step 4'):
        fitter.fit(bad, actions)
    bad = actions.copy()
    bad[2, 1, 0] = np.inf
    with pytest.raises(ValueError, match='actions .*rollout 2, time step 1'):
        fitter.fit(states, bad)
    with pytest.raises(ValueError, match=r'\(6, 6, 4\).*\(6, 4, 2\)'):
        fitter.fit(states, actions[:, :4])
    with pytest.raises(ValueError, match='at least 2 rollouts'):
        fitter.fit(states[:1], actions[:1])
    with pytest.raises(RuntimeError, match='update_prior'):
        DynamicsFitter(prior='gmm').fit(states, actions)
    prior_fitter = DynamicsFitter(prior='gmm')
    prior_fitter.update_prior(states, actions)
    with pytest.raises(ValueError, match='8-dim transitions'):
        prior_fitter.fit(states[..., :3], actions)
    with pytest.raises(ValueError, match='rollouts have 8-dim transitions, the prior holds '
                                         '10-dim ones'):
        prior_fitter.update_prior(states[..., :3], actions)


@pytest.mark.parametrize('settings, message', [
    ({'prior': 'gaussian'}, "prior must be None or 'gmm', got 'gaussian'"),
    ({'max_clusters': 0}, 'max_clusters, min_samples_per_cluster, max_samples must be >= 1'),
    ({'min_samples_per_cluster': 0}, 'min_samples_per_cluster'),
    ({'max_samples': 0}, 'max_samples must be >= 1'),
    ({'strength': 0.0}, 'strength > 0'),
    ({'ridge': -1e-6}, 'ridge >= 0'),
])
def test_fitter_settings_out_of_range_are_named(settings, message):
    with pytest.raises(ValueError, match=message):
        DynamicsFitter(**settings)


def test_fit_linear_gaussian_rejects_mismatched_or_too_few_samples():
    xu, x_next = np.zeros((5, 3)), np.zeros((5, 2))
    with pytest.raises(ValueError, match=r'xu has shape \(5, 3\) and x_next \(4, 2\)'):
        fit_linear_gaussian(xu, x_next[:4])
    with pytest.raises(ValueError, match=r'xu has shape \(3,\)'):
        fit_linear_gaussian(xu[0], x_next[0])
    with pytest.raises(ValueError, match='needs at least 2 samples, got 1'):
        fit_linear_gaussian(xu[:1], x_next[:1])


def test_niw_posterior_with_a_second_data_sets_statistics_is_the_pooled_fit():
    """
    Fit A under a prior of B's statistics as the plain fit of A and B together.

    The NIW posterior (conjugate update, cbfinn/gps's) of data A under a prior made of data set
    B's statistics (mu0 its mean, Phi its scatter, m = n0 = |B|) is the pooled fit. A is
    shifted away from B, so the posterior's (n m / (n + m)) (ybar - mu0) term counts.
    """
    rng = np.random.default_rng(0)
    xu = rng.standard_normal((40, 3)) + 2.0
    x_next = xu @ rng.standard_normal((3, 2)) + 0.3 * rng.standard_normal((40, 2))
    a, b = slice(0, 25), slice(25, 40)
    joint_b = np.column_stack([xu[b], x_next[b]])
    mean_b = joint_b.mean(axis=0)
    prior = NIWPrior(mean_b, (joint_b - mean_b).T @ (joint_b - mean_b), 15.0, 15.0)
    posterior = fit_linear_gaussian(xu[a] + 1.0, x_next[a], prior, ridge=0.0)
    pooled = fit_linear_gaussian(np.vstack([xu[a] + 1.0, xu[b]]), np.vstack([x_next[a],
                                                                             x_next[b]]),
                                 ridge=0.0)
    for name, got, expected in zip(('F', 'f', 'cov'), posterior, pooled):
        if name != 'f':  # the offset goes through the step's own sample means (cbfinn/gps)
            np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-10, err_msg=name)


def test_the_prior_per_step_is_the_moment_matched_mixture_at_the_set_strength():
    """
    Give each step's NIW prior at the configured strength (DynamicsFitter.prior_at).

    mu0 and Phi / m from GMM.moment_match; m = strength, n0 as cbfinn/gps, strength (n - 2 -
    D) / n for the n tuples the mixture was fitted to.
    """
    rng = np.random.default_rng(4)
    states = rng.standard_normal((12, 6, 2))
    actions = rng.standard_normal((12, 5, 1))
    priors = {}
    for strength in (1.0, 7.0):
        fitter = DynamicsFitter(max_clusters=3, min_samples_per_cluster=5, strength=strength)
        fitter.update_prior(states, actions)
        prior = priors[strength] = fitter.prior_at(states, actions)
        points, dim = fitter.gmm.n_points, fitter.gmm.means.shape[1]
        assert prior.m == strength
        assert prior.n0 == pytest.approx(strength * (points - 2.0 - dim) / points)
    np.testing.assert_allclose(priors[7.0].mu0, priors[1.0].mu0)
    np.testing.assert_allclose(priors[7.0].Phi / 7.0, priors[1.0].Phi, rtol=1e-12)


def test_gmm_moment_match_adds_the_spread_of_the_cluster_means():
    """
    Moment-match a mixture: sum_k w_k [Sigma_k + (mu_k - mu)(mu_k - mu)'].

    For two clusters of weight 1/2: the mean covariance plus d d' / 4, d the difference of
    the means.
    """
    gmm = GaussianMixture()
    gmm.means = np.array([[0.0, 0.0], [2.0, 4.0]])
    gmm.covs = np.array([np.eye(2), 2.0 * np.eye(2)])
    mean, cov = gmm.moment_match(np.array([0.5, 0.5]))
    d = gmm.means[1] - gmm.means[0]
    np.testing.assert_allclose(mean, [1.0, 2.0])
    np.testing.assert_allclose(cov, 1.5 * np.eye(2) + np.outer(d, d) / 4.0)


def test_gmm_weights_sum_to_one_under_a_dirichlet_prior():
    """M-step weights (N_k + a) / (n + K a): a distribution whatever the prior count a."""
    data = np.random.default_rng(1).standard_normal((60, 2))
    for prior_count in (0.0, 1.0, 5.0):
        gmm = GaussianMixture(seed=0, weight_prior=prior_count).fit(data, 4)
        assert gmm.weights.sum() == pytest.approx(1.0, abs=1e-12)


def test_gmm_em_objective_never_decreases_with_strong_regularisation():
    """
    Keep the M-step the exact maximiser where the penalties weigh.

    Covariance regulariser 3, weight prior 2, clusters of a few points.
    """
    rng = np.random.default_rng(2)
    data = np.vstack([rng.standard_normal((15, 2)), rng.standard_normal((10, 2)) + 3.0])
    gmm = GaussianMixture(max_iterations=40, tol=0.0, reg=3.0, weight_prior=2.0,
                          seed=0).fit(data, 4)
    history = np.array(gmm.history)
    assert np.all(np.diff(history) >= -1e-9 * np.abs(history[1:]))


def test_gmm_objective_is_the_penalised_log_likelihood_of_its_parameters():
    """
    Record the MAP objective of EM's parameters in ``history``.

    sum_n log sum_k pi_k N(x_n | mu_k, Sigma_k) + sum_k [a log pi_k - 1/2 (tr(Sigma_reg
    Sigma_k^-1) + log|Sigma_k|)], recomputed here with scipy at the returned parameters (the
    last entry is theirs: EM stops at its iteration limit before another M-step).
    """
    from scipy.stats import multivariate_normal
    rng = np.random.default_rng(5)
    data = np.vstack([rng.standard_normal((20, 2)), rng.standard_normal((15, 2)) + 4.0])
    gmm = GaussianMixture(max_iterations=6, tol=0.0, reg=0.5, weight_prior=2.0,
                          seed=1).fit(data, 3)
    assert gmm.n_iterations == 6
    density = sum(w * multivariate_normal(m, c).pdf(data)
                  for w, m, c in zip(gmm.weights, gmm.means, gmm.covs))
    sigma_reg = np.diag(gmm._regularisation(data))
    penalty = sum(2.0 * np.log(w)
                  - 0.5 * (np.trace(sigma_reg @ np.linalg.inv(c)) + np.linalg.slogdet(c)[1])
                  for w, c in zip(gmm.weights, gmm.covs))
    assert gmm.history[-1] == pytest.approx(np.log(density).sum() + penalty, rel=1e-10)
    assert gmm.log_likelihood[-1] == pytest.approx(np.log(density).sum(), rel=1e-10)


def test_each_steps_prior_weights_the_clusters_by_that_steps_samples():
    """
    Give step t the mixture moment-matched at the mean responsibilities of step t's tuples.

    The rollouts drift with t, so steps fall in different clusters and a prior built from
    the wrong steps' samples (e.g. a time-major reshape of the responsibilities) differs.
    """
    rng = np.random.default_rng(5)
    N, T = 8, 12
    states = np.cumsum(0.5 + 0.1 * rng.standard_normal((N, T + 1, 2)), axis=1)
    actions = rng.standard_normal((N, T, 1))
    fitter = DynamicsFitter(max_clusters=4, min_samples_per_cluster=10, strength=2.0)
    fitter.update_prior(states, actions)
    prior = fitter.prior_at(states, actions)
    for t in range(T):
        tuples = np.column_stack([states[:, t], actions[:, t], states[:, t + 1]])
        weights = np.exp(fitter.gmm.log_responsibilities(tuples)).mean(axis=0)
        mean, cov = fitter.gmm.moment_match(weights)
        np.testing.assert_allclose(prior.mu0[t], mean, rtol=1e-9, atol=1e-12, err_msg=t)
        np.testing.assert_allclose(prior.Phi[t], 2.0 * cov, rtol=1e-9, atol=1e-12, err_msg=t)
    # the steps' priors do differ: the test can tell them apart
    assert np.abs(prior.mu0[0] - prior.mu0[T - 1]).max() > 1.0


def test_niw_posterior_covariance_follows_its_formula_when_n0_differs_from_m():
    """
    Sigma = (N S + Phi + N m / (N + m) (ybar - mu0)(ybar - mu0)') / (N + n0), n0 != m.

    With ridge 0 the fit conditions Sigma exactly: F = Sigma_yx Sigma_xx^-1, cov = Sigma_yy -
    F Sigma_xx F'.
    """
    rng = np.random.default_rng(6)
    n, p = 10, 3
    xu = rng.standard_normal((n, p))
    x_next = xu @ rng.standard_normal((p, 2)) + 0.2 * rng.standard_normal((n, 2))
    root = rng.standard_normal((p + 2, p + 2))
    prior = NIWPrior(rng.standard_normal(p + 2), root @ root.T + np.eye(p + 2), 1.0, 0.0)
    F, _, cov = fit_linear_gaussian(xu, x_next, prior, ridge=0.0)
    joint = np.column_stack([xu, x_next])
    ybar = joint.mean(axis=0)
    shift = ybar - prior.mu0
    sigma = ((joint - ybar).T @ (joint - ybar) + prior.Phi
             + n * prior.m / (n + prior.m) * np.outer(shift, shift)) / (n + prior.n0)
    expected_F = sigma[p:, :p] @ np.linalg.inv(sigma[:p, :p])
    np.testing.assert_allclose(F, expected_F, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(cov, sigma[p:, p:] - expected_F @ sigma[:p, :p] @ expected_F.T,
                               rtol=1e-10, atol=1e-12)


def test_ridge_is_relative_to_each_inputs_variance_and_bounds_collinear_gains():
    """
    Add ridge * Sigma_ii to the (x, u) diagonal: a ridge regression on nearly collinear inputs.

    The actions are a linear feedback of the state plus noise 1e-7: without a ridge the gains
    along that direction are fitted to the noise; the relative ridge of 1e-6 keeps them bounded.
    """
    rng = np.random.default_rng(0)
    n = 20
    x = rng.standard_normal((n, 3))
    u = x @ rng.standard_normal((3, 1)) + 1e-7 * rng.standard_normal((n, 1))
    xu = np.column_stack([x, u])
    x_next = x @ np.diag([0.9, 0.8, 0.7]) + u @ np.array([[0.5, -0.2, 0.1]]) \
        + 0.01 * rng.standard_normal((n, 3))
    ridge = 1e-6
    F, f, _ = fit_linear_gaussian(xu, x_next, ridge=ridge)
    joint = np.column_stack([xu, x_next])
    centred = joint - joint.mean(axis=0)
    sigma = centred.T @ centred / n
    sigma_xx = sigma[:4, :4] + ridge * np.diag(np.diag(sigma[:4, :4]))
    np.testing.assert_allclose(F, sigma[4:, :4] @ np.linalg.inv(sigma_xx), rtol=1e-8)
    assert np.abs(F).max() < 2.0
    unregularised, _, _ = fit_linear_gaussian(xu, x_next, ridge=0.0)
    assert np.abs(unregularised).max() > 10.0  # what the ridge prevents


def test_gmm_refuses_a_negative_tolerance():
    """Each of reg, weight_prior and tol out of range raises."""
    for settings in ({'reg': 0.0}, {'weight_prior': -1.0}, {'tol': -1e-3}):
        with pytest.raises(ValueError, match='tol >= 0'):
            GaussianMixture(**settings)
    with pytest.raises(ValueError, match='max_iterations must be >= 1, got 0'):
        GaussianMixture(max_iterations=0)


def test_gmm_refuses_data_of_a_bad_shape_or_non_finite():
    gmm = GaussianMixture(seed=0)
    with pytest.raises(ValueError, match=r'GMM data must have shape \(n >= 1, D\), got \(4,\)'):
        gmm.fit(np.zeros(4), 1)
    with pytest.raises(ValueError, match=r'got \(0, 3\)'):
        gmm.fit(np.zeros((0, 3)), 1)
    data = np.random.default_rng(0).standard_normal((10, 3))
    data[4, 1] = np.nan
    with pytest.raises(ValueError, match='GMM data holds NaN or inf'):
        gmm.fit(data, 2)


def test_gmm_has_at_most_one_cluster_per_point():
    """Asking for more clusters than points fits one cluster per point."""
    data = np.random.default_rng(0).standard_normal((3, 2))
    gmm = GaussianMixture(seed=0).fit(data, 5)
    assert gmm.n_clusters == 3
    assert gmm.weights.shape == (3,) and gmm.covs.shape == (3, 2, 2)


def separated_clusters(rng, k, per_cluster=40):
    """Return k tight clusters (std 0.1) with centres (10 i, 10 i), and the centres."""
    centres = np.stack([10.0 * np.arange(k), 10.0 * np.arange(k)], axis=1)
    data = np.concatenate([c + 0.1 * rng.standard_normal((per_cluster, 2)) for c in centres])
    return data, centres


@pytest.mark.parametrize('seed', range(5))
def test_gmm_cold_start_seeds_one_cluster_in_each_separated_group(seed):
    """
    The cold start alone (one EM iteration: no M-step after it) splits separated groups.

    k-means++ seeds (each seed far from all earlier ones) with every point assigned to its
    nearest seed put one seed in each of K groups much further apart than their width, so the
    first M-step's means are the group means.
    """
    rng = np.random.default_rng(seed)
    data, _ = separated_clusters(rng, 5)
    gmm = GaussianMixture(max_iterations=1, seed=seed).fit(data, 5)
    group_means = data.reshape(5, -1, 2).mean(axis=1)
    order = np.argsort(gmm.means[:, 0])
    np.testing.assert_allclose(gmm.means[order], group_means, atol=1e-6)


def test_gmm_without_warm_start_refits_from_fresh_seeds():
    """warm_start=False: a refit with K and D unchanged starts cold, as a first fit does."""
    rng = np.random.default_rng(3)
    first = np.concatenate([rng.standard_normal((200, 2)), 4.0 + rng.standard_normal((200, 2))])
    second = first + rng.standard_normal(first.shape)
    cold = GaussianMixture(max_iterations=2, seed=7, warm_start=False)
    cold.fit(first, 4).fit(second, 4)
    # the same generator state, and no previous fit to start from
    reference = GaussianMixture(max_iterations=2, seed=7)
    reference.fit(first, 4)
    reference.means = None
    reference.fit(second, 4)
    np.testing.assert_allclose(cold.means, reference.means, rtol=1e-12)
    np.testing.assert_allclose(cold.covs, reference.covs, rtol=1e-12)


def test_gmm_fit_is_equivariant_to_the_data_scale_with_a_constant_dimension():
    """
    Scaling the data by c scales means by c and covariances by c^2, a constant dimension too.

    The regularisation is relative to the data's variance, so no absolute scale enters: the
    log-likelihood of every iteration drops by n D log c.
    """
    rng = np.random.default_rng(0)
    data = np.column_stack([rng.standard_normal(300), rng.standard_normal(300) + 3.0,
                            np.full(300, 2.0)])
    scale = 1e3
    small = GaussianMixture(seed=0).fit(data, 3)
    large = GaussianMixture(seed=0).fit(scale * data, 3)
    np.testing.assert_allclose(large.means, scale * small.means, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(large.covs, scale ** 2 * small.covs, rtol=1e-6,
                               atol=1e-9 * scale ** 2 * np.abs(small.covs).max())
    shift = data.size * np.log(scale)
    np.testing.assert_allclose(large.log_likelihood, np.array(small.log_likelihood) - shift,
                               rtol=1e-6)
