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

"""PI2 (time-dependent form) against a loop over rollouts, steps, DOFs and basis functions."""

import numpy as np
from ps_control.core.dmp import DMP
from ps_control.core.pi2 import PI2
import pytest


def loop_pi2_update(theta, params, costs, basis, psi, h):
    """Apply the update of notes/mirror_descent_search.md (Baselines, PI2) with plain loops."""
    n, T = costs.shape
    D, B = theta.shape
    to_go = np.array([[costs[j, t:].sum() for t in range(T)] for j in range(n)])
    P = np.zeros((n, T))
    for t in range(T):
        s = to_go[:, t]
        spread = s.max() - s.min()
        e = np.exp(-h * (s - s.min()) / spread) if spread > 0 else np.ones(n)
        P[:, t] = e / e.sum()
    dtheta_t = np.zeros((T, D, B))
    for t in range(T):
        b = basis[t]
        bb = b @ b
        for j in range(n):
            for d in range(D):
                eps = params[j, t, d] - theta[d]
                if bb > 0:
                    dtheta_t[t, d] += P[j, t] * b * (b @ eps) / bb
    new = theta.copy()
    for d in range(D):
        for i in range(B):
            w = np.array([(T - t) * psi[t, i] for t in range(T)])
            new[d, i] += np.sum(w * dtheta_t[:, d, i]) / w.sum()
    return new


def test_update_matches_the_loop_form():
    rng = np.random.default_rng(0)
    dmp = DMP(n_basis=5, dt=0.01, duration=0.1)
    theta = rng.standard_normal((3, 5))
    pi2 = PI2(theta, dmp.basis, dmp.psi, sigma=1.0, n_samples=4, h=10.0)
    # Generic (not projected) exploration: the update must project it itself.
    params = theta + rng.standard_normal((4, dmp.T, 3, 5))
    costs = rng.uniform(0.0, 5.0, (4, dmp.T))
    pi2.update(params, costs)
    expected = loop_pi2_update(theta, params, costs, dmp.basis, dmp.psi, 10.0)
    np.testing.assert_allclose(pi2.mean, expected, rtol=1e-10, atol=1e-12)


def test_sampled_noise_lies_along_the_basis_with_variance_sigma_squared():
    dmp = DMP(n_basis=6)
    theta = np.ones((2, 6))
    pi2 = PI2(theta, dmp.basis, dmp.psi, sigma=2.0, n_samples=4000)
    params = pi2.sample(np.random.default_rng(1))
    noise = params - theta
    t = 20
    b = dmp.basis[t] / np.linalg.norm(dmp.basis[t])
    along = noise[:, t] @ b
    # M_t e = e: nothing orthogonal to b_t, and b_t' e / |b_t| ~ N(0, sigma^2).
    np.testing.assert_allclose(noise[:, t], along[..., None] * b, atol=1e-12)
    assert np.std(along) == pytest.approx(2.0, rel=0.05)
    np.testing.assert_allclose(noise[:, 0], 0.0)  # b_0 = 0: noise has no effect there


def test_bad_input():
    dmp = DMP(n_basis=3)
    with pytest.raises(ValueError, match='sigma'):
        PI2(np.zeros((2, 3)), dmp.basis, dmp.psi, sigma=0.0)
    with pytest.raises(ValueError, match='n_samples'):
        PI2(np.zeros((2, 3)), dmp.basis, dmp.psi, n_samples=1)
    with pytest.raises(ValueError, match='shape'):
        PI2(np.zeros((2, 4)), dmp.basis, dmp.psi)
    with pytest.raises(ValueError, match=r'mean must have shape \(D, B\), got \(3,\)'):
        PI2(np.zeros(3), dmp.basis, dmp.psi)
    pi2 = PI2(np.zeros((2, 3)), dmp.basis, dmp.psi, n_samples=3)
    params = pi2.sample(np.random.default_rng(0))
    costs = np.ones((3, dmp.T))
    costs[1, 4] = np.nan
    with pytest.raises(ValueError, match='NaN'):
        pi2.update(params, costs)
    with pytest.raises(ValueError, match='per-step costs'):
        pi2.update(params, np.ones((3, dmp.T - 1)))


def test_all_equal_costs_give_uniform_weights_and_the_mean_noise_step():
    dmp = DMP(n_basis=4, dt=0.01, duration=0.1)
    theta = np.zeros((2, 4))
    pi2 = PI2(theta, dmp.basis, dmp.psi, n_samples=5)
    params = pi2.sample(np.random.default_rng(3))
    costs = np.full((5, dmp.T), 2.0)
    info = pi2.update(params, costs)
    np.testing.assert_allclose(info['weights'], 0.2)
    # Equal costs carry no information: the step is the plain average of the projected noise.
    expected = loop_pi2_update(theta, params, np.zeros((5, dmp.T)), dmp.basis, dmp.psi, 10.0)
    np.testing.assert_allclose(pi2.mean, expected, rtol=1e-10, atol=1e-12)
    assert np.any(pi2.mean != 0.0)


def _held_noise_residual(pi2, params):
    """Return, per rollout, how far the projected noise is from one e held over every step."""
    unit = pi2.unit_basis  # (T, B): b_t / |b_t|, zero where b_t = 0
    residuals = []
    for noise in params - pi2.theta:  # (T, D, B)
        along = np.einsum('tdb,tb->td', noise, unit)  # b_t' e_t / |b_t|
        held, *_ = np.linalg.lstsq(unit, along, rcond=None)  # the one e (B, D) that fits best
        residuals.append(np.abs(unit @ held - along).max() / np.abs(along).max())
    return np.array(residuals)


def test_episode_noise_is_one_draw_projected_at_every_step():
    dmp = DMP(n_basis=6)
    theta = np.ones((2, 6))
    episode = PI2(theta, dmp.basis, dmp.psi, sigma=2.0, n_samples=5, exploration='episode')
    params = episode.sample(np.random.default_rng(2))
    noise = params - theta
    # M_t e: nothing orthogonal to b_t at any step ...
    t = 20
    b = dmp.basis[t] / np.linalg.norm(dmp.basis[t])
    np.testing.assert_allclose(noise[:, t], (noise[:, t] @ b)[..., None] * b, atol=1e-12)
    # ... and the same e at every step; per-step noise is not.
    assert np.all(_held_noise_residual(episode, params) < 1e-10)
    step = PI2(theta, dmp.basis, dmp.psi, sigma=2.0, n_samples=5)
    assert np.all(_held_noise_residual(step, step.sample(np.random.default_rng(2))) > 0.1)


def test_episode_noise_has_the_projected_covariance():
    # b_t' e / |b_t| with e ~ N(0, sigma^2 I): variance sigma^2, covariance sigma^2 u_t' u_s
    # across steps (u_t = b_t / |b_t|), where per-step noise is uncorrelated.
    dmp = DMP(n_basis=6)
    sigma = 1.5
    pi2 = PI2(np.zeros((1, 6)), dmp.basis, dmp.psi, sigma=sigma, n_samples=20000,
              exploration='episode')
    noise = pi2.sample(np.random.default_rng(3))[:, :, 0]  # (N, T, B)
    along = np.einsum('ntb,tb->nt', noise, pi2.unit_basis)
    t, s = 10, 15
    u_t, u_s = pi2.unit_basis[t], pi2.unit_basis[s]
    assert np.var(along[:, t]) == pytest.approx(sigma ** 2, rel=0.03)
    assert np.mean(along[:, t] * along[:, s]) == pytest.approx(sigma ** 2 * u_t @ u_s, abs=0.05)
    assert 0.2 < u_t @ u_s < 0.9  # the two steps share basis functions: a real correlation


def test_unknown_exploration_is_named():
    dmp = DMP(n_basis=3)
    with pytest.raises(ValueError, match='exploration'):
        PI2(np.zeros((2, 3)), dmp.basis, dmp.psi, exploration='constant')


def test_pi2_refuses_a_zero_temperature():
    """H = 0 would weigh all rollouts alike: refused like a negative h."""
    dmp = DMP(n_basis=3)
    for h in (0.0, -1.0):
        with pytest.raises(ValueError, match='temperature'):
            PI2(np.zeros((2, 3)), dmp.basis, dmp.psi, h=h)
