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
Data types of the LQG machinery.

Time-varying linear-Gaussian dynamics and policies, the quadratic reward of the thesis and
Gaussian state distributions.

Conventions (thesis sec. 1.3.1, DESIGN.md):

* dynamics  x_{t+1} ~ N(A_t x_t + B_t u_t + c_t, cov_t),  t = 0..T-1
* policy    u_t ~ N(K_t x_t + k_t, cov_t)
* reward    R_t(s, a) = (z_t - s)' M_t (z_t - s) + a' H_t a  for t < T, terminal
  R_T(s) = (z_T - s)' M_T (z_T - s); maximised, so M and H are negative (semi)definite.

All constructors copy their inputs to float arrays, check shapes and reject NaN / inf with an error
that names the quantity and the first offending time step.
"""

from dataclasses import dataclass

import numpy as np


class NonFiniteError(ValueError):
    """An input or intermediate quantity holds NaN or inf."""


def check_finite(name, array):
    """
    Raise NonFiniteError naming ``name`` and the first time step holding NaN or inf.

    The leading axis of ``array`` is taken to be time when it has more than one dimension.
    """
    array = np.asarray(array)
    finite = np.isfinite(array)
    if finite.all():
        return array
    if array.ndim == 0:
        raise NonFiniteError('%s is not finite (%r)' % (name, float(array)))
    bad = np.argwhere(~finite.reshape(array.shape[0], -1).all(axis=1))[0, 0]
    raise NonFiniteError('%s holds NaN or inf at time step %d' % (name, bad))


def as_array(name, value, shape):
    """Return ``value`` as a finite float array of exactly ``shape`` (None entries are free)."""
    try:
        array = np.array(value, dtype=float)
    except (TypeError, ValueError) as error:
        raise ValueError('%s is not a numeric array: %s' % (name, error)) from None
    if array.ndim != len(shape) or any(
            want is not None and have != want for have, want in zip(array.shape, shape)):
        pretty = tuple('?' if s is None else s for s in shape)
        raise ValueError('%s has shape %s, expected %s' % (name, array.shape, pretty))
    return check_finite(name, array)


def check_symmetric_psd(name, covs, definite=True, tol=1e-9):
    """
    Check a stack of matrices (..., n, n) is symmetric and positive (semi)definite.

    Raises ValueError naming the quantity and the first failing time step.
    """
    covs = np.asarray(covs)
    stack = covs.reshape((int(np.prod(covs.shape[:-2])),) + covs.shape[-2:])
    scale = max(1.0, float(np.abs(stack).max(initial=0.0)))
    transposed = stack.swapaxes(-1, -2)
    # np.allclose(S, S') per matrix, batched (NaN fails it)
    symmetric = (np.abs(stack - transposed) <= tol * scale + 1e-7 * np.abs(transposed)).all(
        axis=(-1, -2))
    smallest = np.full(len(stack), np.nan if stack.shape[-1] else 0.0)  # 0 x 0: eigenvalue 0
    if stack.shape[-1] and symmetric.any():
        smallest[symmetric] = np.linalg.eigvalsh(0.5 * (stack + transposed)[symmetric])[:, 0]
    failing = ~(smallest >= (1e-300 if definite else -tol * scale))
    if failing.any():
        t = int(np.argmax(failing))
        if not symmetric[t]:
            raise ValueError('%s is not symmetric at time step %d' % (name, t))
        kind = 'positive definite' if definite else 'positive semidefinite'
        raise ValueError('%s is not %s at time step %d (smallest eigenvalue %.3g)'
                         % (name, kind, t, smallest[t]))
    return covs


def symmetrize(matrices):
    """Return 0.5 (S + S') over the last two axes."""
    return 0.5 * (matrices + np.swapaxes(matrices, -1, -2))


class DynamicsShape:
    """The sizes T, dx and du of dynamics with per-step A (T, dx, dx) and B (T, dx, du)."""

    @property
    def T(self):
        return self.A.shape[0]

    @property
    def dx(self):
        return self.A.shape[1]

    @property
    def du(self):
        return self.B.shape[2]


@dataclass(frozen=True, eq=False)
class LinearGaussianDynamics(DynamicsShape):
    """Time-varying linear-Gaussian dynamics x' ~ N(A_t x + B_t u + c_t, cov_t) (thesis 1.3.1)."""

    A: np.ndarray
    B: np.ndarray
    c: np.ndarray
    cov: np.ndarray

    def __post_init__(self):
        A = as_array('dynamics A', self.A, (None, None, None))
        T, dx = A.shape[0], A.shape[1]
        if A.shape[2] != dx:
            raise ValueError('dynamics A has shape %s, expected (T, dx, dx)' % (A.shape,))
        B = as_array('dynamics B', self.B, (T, dx, None))
        c = as_array('dynamics c', self.c, (T, dx))
        cov = as_array('dynamics cov', self.cov, (T, dx, dx))
        check_symmetric_psd('dynamics cov', cov, definite=False)
        object.__setattr__(self, 'A', A)
        object.__setattr__(self, 'B', B)
        object.__setattr__(self, 'c', c)
        object.__setattr__(self, 'cov', symmetrize(cov))


@dataclass(frozen=True, eq=False)
class LinearGaussianPolicy:
    """Time-varying linear-Gaussian policy u_t ~ N(K_t x + k_t, cov_t) (thesis eq. 3.13)."""

    K: np.ndarray
    k: np.ndarray
    cov: np.ndarray

    def __post_init__(self):
        K = as_array('policy K', self.K, (None, None, None))
        T, du, dx = K.shape
        k = as_array('policy k', self.k, (T, du))
        cov = as_array('policy cov', self.cov, (T, du, du))
        check_symmetric_psd('policy cov', cov, definite=True)
        object.__setattr__(self, 'K', K)
        object.__setattr__(self, 'k', k)
        object.__setattr__(self, 'cov', symmetrize(cov))

    @property
    def T(self):
        return self.K.shape[0]

    @property
    def du(self):
        return self.K.shape[1]

    @property
    def dx(self):
        return self.K.shape[2]

    def mean_action(self, t, x):
        """Return K_t x + k_t for a state (dx,) or a batch of states (N, dx)."""
        return np.asarray(x) @ self.K[t].T + self.k[t]

    @classmethod
    def constant(cls, T, K, k, std):
        """Return the time-invariant policy K x + k with isotropic noise std^2 I at every step."""
        K = np.asarray(K, dtype=float)
        du = K.shape[0]
        cov = np.broadcast_to(np.eye(du) * float(std) ** 2, (T, du, du))
        return cls(np.broadcast_to(K, (T,) + K.shape), np.broadcast_to(k, (T, du)), cov)


@dataclass(frozen=True, eq=False)
class QuadraticReward:
    """
    Quadratic reward of the thesis (sec. 1.3.1), written around a goal trajectory z.

    R_t(s, a) = (z_t - s)' M_t (z_t - s) + (y_t - a)' H_t (y_t - a) for t < T and
    (z_T - s)' M_T (z_T - s) at t = T; maximised, so M and H must be negative semidefinite (H
    negative definite). The action targets y (T, du) are zero in the thesis (the default); the
    learner's effort-limit penalty (ps_control.core.action_limits) sets them.
    """

    M: np.ndarray
    H: np.ndarray
    z: np.ndarray
    y: np.ndarray = None

    def __post_init__(self):
        M = as_array('reward M', self.M, (None, None, None))
        T1, dx = M.shape[0], M.shape[1]
        if T1 < 2 or M.shape[2] != dx:
            raise ValueError('reward M has shape %s, expected (T+1, dx, dx)' % (M.shape,))
        H = as_array('reward H', self.H, (T1 - 1, None, None))
        z = as_array('reward z', self.z, (T1, dx))
        shape = (T1 - 1, H.shape[-1])
        y = np.zeros(shape) if self.y is None else as_array('reward y', self.y, shape)
        check_symmetric_psd('reward -M', -M, definite=False)
        check_symmetric_psd('reward -H', -H, definite=True)
        object.__setattr__(self, 'M', symmetrize(M))
        object.__setattr__(self, 'H', symmetrize(H))
        object.__setattr__(self, 'z', z)
        object.__setattr__(self, 'y', y)

    @property
    def T(self):
        return self.H.shape[0]

    def evaluate(self, states, actions):
        """
        Return the total reward of trajectories.

        states (..., T+1, dx), actions (..., T, du) -> (...,) sum_t R_t(s_t, a_t) + R_T(s_T).
        """
        err = self.z - np.asarray(states)
        action_err = self.y - np.asarray(actions)
        state_part = np.einsum('...ti,tij,...tj->...', err, self.M, err)
        action_part = np.einsum('...ti,tij,...tj->...', action_err, self.H, action_err)
        return state_part + action_part


@dataclass(frozen=True, eq=False)
class GaussianState:
    """A Gaussian state distribution N(mean, cov), e.g. the initial state p_1(s) (eq. 3.3e)."""

    mean: np.ndarray
    cov: np.ndarray

    def __post_init__(self):
        mean = as_array('state mean', self.mean, (None,))
        cov = as_array('state cov', self.cov, (mean.shape[0], mean.shape[0]))
        check_symmetric_psd('state cov', cov, definite=False)
        object.__setattr__(self, 'mean', mean)
        object.__setattr__(self, 'cov', symmetrize(cov))
