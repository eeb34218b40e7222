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
Turn a policy into a batched action function act(t, x (N, dx)) -> u (N, du).

Two kinds of policy are accepted: a time-varying linear-Gaussian policy (any object with K
(T, du, dx), k (T, du) and cov (T, du, du), e.g. ps_control.core.LinearGaussianPolicy):
u_t ~ N(K_t x_t + k_t, cov_t); and any callable policy(t, x_batch) -> u_batch.
"""

import numpy as np


def as_rng(rng):
    """Return a numpy Generator from a Generator, an int seed or None (fresh entropy)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise ValueError('rng must be a numpy Generator, an int seed or None, got %r' % (rng,))


def noise_factors(cov):
    """
    Return L (..., du, du) with L L' = cov for a stack of covariances (..., du, du).

    Cholesky; the eigen-decomposition if one is singular (a policy without noise on some input).
    """
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        values, vectors = np.linalg.eigh(0.5 * (cov + np.swapaxes(cov, -1, -2)))
        return vectors * np.sqrt(np.clip(values, 0.0, None))[..., None, :]


def is_linear_gaussian(policy):
    """Return True if policy has the K, k and cov of a linear-Gaussian policy."""
    return all(hasattr(policy, name) for name in ('K', 'k', 'cov'))


def action_function(policy, n, dx, du, horizon=None, noise=True, rng=None):
    """
    Return (act, T): act(t, x (n, dx)) -> u (n, du) for t = 0..T-1.

    For a linear-Gaussian policy T is its horizon (``horizon``, if given, must equal it) and
    noise=False gives the mean action; the noise of all n rollouts is drawn at every step from
    ``rng``, so the random stream never depends on which rollouts are still running. A callable
    needs ``horizon`` and is called with a copy of the batch; its output shape is checked.
    """
    if is_linear_gaussian(policy):
        K, k, cov = (np.asarray(policy.K, dtype=float), np.asarray(policy.k, dtype=float),
                     np.asarray(policy.cov, dtype=float))
        T = K.shape[0] if K.ndim == 3 else -1
        if K.shape != (T, du, dx):
            raise ValueError('policy K has shape %s, expected (T, %d, %d)' % (K.shape, du, dx))
        if k.shape != (T, du):
            raise ValueError('policy k has shape %s, expected (%d, %d)' % (k.shape, T, du))
        if cov.shape != (T, du, du):
            raise ValueError('policy cov has shape %s, expected (%d, %d, %d)'
                             % (cov.shape, T, du, du))
        if horizon is not None and horizon != T:
            raise ValueError('horizon %r differs from the policy horizon %d' % (horizon, T))
        factors = noise_factors(cov) if noise else None
        rng = as_rng(rng)

        def act(t, x):
            u = x @ K[t].T + k[t]
            if factors is not None:
                u = u + rng.standard_normal((n, du)) @ factors[t].T
            return u
        return act, T
    if not callable(policy):
        raise ValueError('policy must be callable or have K, k and cov attributes, got %r'
                         % (type(policy).__name__,))
    if horizon is None or int(horizon) != horizon or horizon < 1:
        raise ValueError('horizon must be an integer >= 1 for a callable policy, got %r'
                         % (horizon,))

    def act(t, x):
        u = np.array(policy(t, x.copy()), dtype=float)
        if u.shape != (n, du):
            raise ValueError('policy returned shape %s at step %d, expected (%d, %d)'
                             % (u.shape, t, n, du))
        return u
    return act, int(horizon)
