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
Linearization by sampling: time-varying linear-Gaussian dynamics fitted to rollouts.

The thesis presupposes the linearized dynamics P_t(s' | s, a) of its algorithms (sec. 3.4:
"linearization is done by sampling full trajectories ... and fitting linear-Gaussian dynamics
at each time step"). The fit follows Guided Policy Search (Levine & Abbeel 2014; Levine, Finn,
Darrell, Abbeel 2016, appendix A.3; cbfinn/gps ``DynamicsLRPrior`` and ``DynamicsPriorGMM``):

* per step t, a Gaussian over y = (x_t, u_t, x_{t+1}) is fitted to the N rollouts, optionally
  as the posterior under a normal-inverse-Wishart prior (``fit_linear_gaussian``), and
  conditioned on (x_t, u_t) to give x_{t+1} ~ N(A_t x_t + B_t u_t + c_t, cov_t);
* the prior at step t comes from a Gaussian mixture over all (x, u, x') tuples of the recent
  rollouts (``ps_control.core.gmm``), its cluster weights averaged over the step's samples and
  moment-matched to one Gaussian (mu0, Phi), worth ``strength`` pseudo-samples.
"""

from dataclasses import dataclass

import numpy as np
from ps_control.core.gmm import GaussianMixture
from ps_control.core.linear_gaussian import LinearGaussianDynamics, NonFiniteError, symmetrize


@dataclass(frozen=True, eq=False)
class NIWPrior:
    """
    Normal-inverse-Wishart prior on the joint Gaussian of (x, u, x'), batched over leading axes.

    mu0 (..., D) prior mean, Phi (..., D, D) prior scatter (covariance times pseudo-count),
    m pseudo-count of the mean, n0 pseudo-count of the covariance (cbfinn/gps naming).
    """

    mu0: np.ndarray
    Phi: np.ndarray
    m: float
    n0: float


def fit_linear_gaussian(xu, x_next, prior=None, ridge=1e-6, variance_floor=None):
    """
    Fit x' ~ N(F [x; u] + f, cov) by conditioning a joint Gaussian of (x, u, x'), batched.

    xu (..., N, p) and x_next (..., N, dx) hold N >= 2 samples per leading index. The joint
    covariance is the empirical one (1/N scatter) without a prior, or the normal-inverse-Wishart
    posterior (cbfinn/gps ``gauss_fit_joint_prior``)

        Sigma = (N S + Phi + N m / (N + m) (ybar - mu0)(ybar - mu0)') / (N + n0)

    with S the empirical covariance and mean ybar. Dimensions of (x, u) that are constant over
    the N samples lose their cross-covariances (they carry no information; the constant goes
    into f). A ridge ``ridge * Sigma_ii`` (Sigma_ii floored at 1e-6 times the mean variance and
    at 1e-12) is added to the (x, u) block, and ``variance_floor`` (p,), if given, to its
    diagonal; then F = Sigma_yx Sigma_xx^-1, f = ybar_y - F ybar_x, cov = Sigma_yy - F Sigma_xx
    F', symmetrised with negative eigenvalues set to zero. The floor is absolute, unlike the
    ridge: a dimension whose variance at a step is far below it (a joint resting against its
    stop in every rollout) gets gains near zero, not gains fitted to its round-off-level spread,
    which can be in the hundreds and make the model explode in closed loop.
    Returns (F (..., dx, p), f (..., dx), cov (..., dx, dx)).
    """
    xu = np.asarray(xu, dtype=float)
    x_next = np.asarray(x_next, dtype=float)
    if xu.ndim < 2 or x_next.shape[:-1] != xu.shape[:-1]:
        raise ValueError('xu has shape %s and x_next %s: expected (..., N, p) and (..., N, dx)'
                         % (xu.shape, x_next.shape))
    n, p = xu.shape[-2], xu.shape[-1]
    if n < 2:
        raise ValueError('fitting a linear-Gaussian model needs at least 2 samples, got %d' % n)
    joint = np.concatenate([xu, x_next], axis=-1)
    mean = joint.mean(axis=-2)
    diff = joint - mean[..., None, :]
    scatter = np.swapaxes(diff, -1, -2) @ diff
    empirical_var = np.diagonal(scatter, axis1=-2, axis2=-1) / n
    if prior is None:
        sigma = scatter / n
    else:
        shift = mean - prior.mu0
        sigma = (scatter + prior.Phi
                 + (n * prior.m / (n + prior.m)) * shift[..., :, None] * shift[..., None, :]
                 ) / (n + prior.n0)
    sigma = symmetrize(sigma)
    sigma_xx = sigma[..., :p, :p].copy()
    sigma_yx = sigma[..., p:, :p].copy()
    # Constant inputs: variance at rounding level of their magnitude and of the data scale.
    var_xu = empirical_var[..., :p]
    level = 1e-20 * (mean[..., :p] ** 2 + var_xu.mean(axis=-1, keepdims=True))
    constant = var_xu <= level
    keep = ~constant
    sigma_xx *= keep[..., :, None] & keep[..., None, :] | np.eye(p, dtype=bool)
    sigma_yx *= keep[..., None, :]
    diag = np.diagonal(sigma_xx, axis1=-2, axis2=-1)
    floor = np.maximum(1e-6 * diag.mean(axis=-1, keepdims=True), 1e-12)
    sigma_xx += ridge * np.maximum(diag, floor)[..., None, :] * np.eye(p)
    if variance_floor is not None:
        sigma_xx += np.asarray(variance_floor, dtype=float)[..., None, :] * np.eye(p)
    gain = np.swapaxes(np.linalg.solve(sigma_xx, np.swapaxes(sigma_yx, -1, -2)), -1, -2)
    offset = mean[..., p:] - np.einsum('...ij,...j->...i', gain, mean[..., :p])
    cov = sigma[..., p:, p:] - gain @ sigma_xx @ np.swapaxes(gain, -1, -2)
    return gain, offset, floor_eigenvalues(cov)


def floor_eigenvalues(covs, floor=0.0):
    """Return symmetrised covariances (..., d, d) with eigenvalues below ``floor`` raised to it."""
    vals, vecs = np.linalg.eigh(symmetrize(covs))
    if vals.size and vals.min() >= floor:
        return symmetrize(covs)
    vals = np.maximum(vals, floor)
    return symmetrize((vecs * vals[..., None, :]) @ np.swapaxes(vecs, -1, -2))


def check_rollouts(states, actions, min_rollouts=1):
    """
    Return states (N, T+1, dx), actions (N, T, du) as float arrays, or raise ValueError.

    Errors name the array and the shapes, or the first rollout and time step holding NaN/inf
    (NonFiniteError, a ValueError).
    """
    states = np.asarray(states, dtype=float)
    actions = np.asarray(actions, dtype=float)
    if (states.ndim != 3 or actions.ndim != 3 or states.shape[0] != actions.shape[0]
            or states.shape[1] != actions.shape[1] + 1 or actions.shape[1] < 1):
        raise ValueError('states has shape %s and actions %s: expected (N, T+1, dx) and '
                         '(N, T, du) with T >= 1' % (states.shape, actions.shape))
    if states.shape[0] < min_rollouts:
        raise ValueError('need at least %d rollouts, got %d' % (min_rollouts, states.shape[0]))
    for name, array in (('states', states), ('actions', actions)):
        bad = np.argwhere(~np.isfinite(array))
        if bad.size:
            raise NonFiniteError('%s holds NaN or inf at rollout %d, time step %d'
                                 % (name, bad[0, 0], bad[0, 1]))
    return states, actions


def transition_tuples(states, actions):
    """Return y = (x_t, u_t, x_{t+1}) stacked as (N, T, 2 dx + du)."""
    return np.concatenate([states[:, :-1], actions, states[:, 1:]], axis=-1)


class DynamicsFitter:
    """
    Per-step linear-Gaussian dynamics from rollouts, with an optional global GMM prior.

    With prior='gmm' call ``update_prior`` with each iteration's rollouts before ``fit``
    (as cbfinn/gps does: the current samples are part of the prior's data set).
    """

    def __init__(self, prior='gmm', max_clusters=20, min_samples_per_cluster=20,
                 max_samples=100, strength=1.0, ridge=1e-6, seed=0,
                 em_iterations=100):
        """
        Configure the fit.

        max_samples caps the rollouts kept for the prior (most recent first); strength is the
        prior's pseudo-count, ridge the relative regularisation of the (x, u) covariance. (The
        learning loop builds a fitter per iteration from its own window of recent iterations,
        ``learning.prior_iterations``.)
        """
        if prior not in (None, 'gmm'):
            raise ValueError("prior must be None or 'gmm', got %r" % (prior,))
        if max_clusters < 1 or min_samples_per_cluster < 1 or max_samples < 1:
            raise ValueError('max_clusters, min_samples_per_cluster, max_samples must be >= 1')
        if strength <= 0 or ridge < 0:
            raise ValueError('need strength > 0 and ridge >= 0')
        self.prior = prior
        self.max_clusters = int(max_clusters)
        self.min_samples_per_cluster = int(min_samples_per_cluster)
        self.max_samples = int(max_samples)
        self.strength = float(strength)
        self.ridge = float(ridge)
        self.gmm = GaussianMixture(max_iterations=em_iterations, seed=seed)
        self._buffer = []  # one (n_i, T_i, D) array of transition tuples per update_prior call

    @property
    def prior_rollouts(self):
        """Return the number of rollouts in the prior's data set."""
        return sum(block.shape[0] for block in self._buffer)

    def update_prior(self, states, actions):
        """
        Add rollouts to the prior's data set and refit the GMM (EM warm-started).

        The data set keeps the most recent ``max_samples`` rollouts; the number of clusters is
        max(1, min(max_clusters, floor(n_tuples / min_samples_per_cluster))) (cbfinn/gps).
        """
        states, actions = check_rollouts(states, actions)
        tuples = transition_tuples(states, actions)
        if self._buffer and self._buffer[0].shape[-1] != tuples.shape[-1]:
            raise ValueError('rollouts have %d-dim transitions, the prior holds %d-dim ones'
                             % (tuples.shape[-1], self._buffer[0].shape[-1]))
        self._buffer.append(tuples)
        excess = self.prior_rollouts - self.max_samples
        while excess > 0:
            drop = min(excess, self._buffer[0].shape[0])
            self._buffer[0] = self._buffer[0][drop:]
            if not self._buffer[0].shape[0]:
                self._buffer.pop(0)
            excess -= drop
        data = np.concatenate([b.reshape(-1, b.shape[-1]) for b in self._buffer])
        clusters = max(1, min(self.max_clusters, data.shape[0] // self.min_samples_per_cluster))
        self.gmm.fit(data, clusters)

    def prior_at(self, states, actions):
        """
        Return the NIW prior per time step (batched over T) for these rollouts.

        Cluster weights are averaged over the step's samples and the mixture moment-matched
        (cbfinn/gps GMM.inference); m = strength, n0 = strength (n - 2 - D) / n (floored at 0)
        for the n tuples of the GMM fit, Phi = m * moment-matched covariance.
        """
        if self.gmm.means is None:
            raise RuntimeError('the dynamics prior has no data: call update_prior first')
        states, actions = check_rollouts(states, actions)
        tuples = transition_tuples(states, actions)
        n, T, dim = tuples.shape
        if dim != self.gmm.means.shape[1]:
            raise ValueError('rollouts have %d-dim transitions, the prior holds %d-dim ones'
                             % (dim, self.gmm.means.shape[1]))
        resp = np.exp(self.gmm.log_responsibilities(tuples.reshape(-1, dim)))
        weights = resp.reshape(n, T, -1).mean(axis=0)
        mu0, cov = self.gmm.moment_match(weights)
        points = self.gmm.n_points
        n0 = self.strength * max(0.0, (points - 2.0 - dim) / points)
        return NIWPrior(mu0, self.strength * cov, self.strength, n0)

    def fit(self, states, actions, scale_floor=0.0):
        """
        Fit LinearGaussianDynamics (A, B, c, cov per step) to states (N, T+1, dx), actions.

        ``scale_floor`` > 0 adds scale_floor times each (x, u) dimension's variance over all
        steps and rollouts to its variance at every step (``fit_linear_gaussian``'s
        ``variance_floor``): the fit then ignores variations far below a dimension's usual
        spread, such as a joint held at its stop.
        """
        if scale_floor < 0:
            raise ValueError('scale_floor must be >= 0, got %r' % (scale_floor,))
        states, actions = check_rollouts(states, actions, min_rollouts=2)
        dx = states.shape[-1]
        prior = None if self.prior is None else self.prior_at(states, actions)
        xu = np.swapaxes(np.concatenate([states[:, :-1], actions], axis=-1), 0, 1)
        floor = None
        if scale_floor > 0:
            floor = scale_floor * xu.reshape(-1, xu.shape[-1]).var(axis=0)
        gain, offset, cov = fit_linear_gaussian(xu, np.swapaxes(states[:, 1:], 0, 1), prior,
                                                self.ridge, floor)
        return LinearGaussianDynamics(gain[..., :dx], gain[..., dx:], offset, cov)
