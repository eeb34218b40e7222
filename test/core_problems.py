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

"""Random small LQG problems shared by the core tests (a helper module, not a test file)."""

import numpy as np

from ps_control.core import (GaussianState, LinearGaussianDynamics, LinearGaussianPolicy,
                             QuadraticReward)


def random_problem(T=6, dx=3, du=2, seed=0, noise=0.01, policy_std=1.0):
    """Return (dynamics, reward, policy, initial state) of a random stable LQG problem."""
    rng = np.random.default_rng(seed)
    A = np.array([0.95 * np.eye(dx) + 0.1 * rng.standard_normal((dx, dx)) for _ in range(T)])
    B = 0.3 * rng.standard_normal((T, dx, du))
    c = 0.05 * rng.standard_normal((T, dx))
    cov = np.array([noise * np.eye(dx) for _ in range(T)])
    M = np.array([-np.diag(rng.uniform(0.5, 2.0, dx)) for _ in range(T + 1)])
    H = np.array([-0.1 * np.eye(du) for _ in range(T)])
    z = rng.standard_normal((T + 1, dx))
    K = 0.1 * rng.standard_normal((T, du, dx))
    k = 0.1 * rng.standard_normal((T, du))
    policy_cov = np.array([policy_std ** 2 * np.eye(du) for _ in range(T)])
    return (LinearGaussianDynamics(A, B, c, cov), QuadraticReward(M, H, z),
            LinearGaussianPolicy(K, k, policy_cov),
            GaussianState(rng.standard_normal(dx), 0.1 * np.eye(dx)))


def lqr_gains(dynamics, reward):
    """
    Return the deterministic optimal (K, k) by an independent Riccati recursion.

    Written directly from the Bellman equation for the maximised reward, with V_{t+1}(s) =
    s' P s + p' s + const, without the ps_control.core machinery: the reference the updates are
    checked against.
    """
    T, dx, du = dynamics.T, dynamics.dx, dynamics.du
    P = reward.M[T].copy()
    p = -2.0 * reward.M[T] @ reward.z[T]
    gains, offsets = np.zeros((T, du, dx)), np.zeros((T, du))
    for t in range(T - 1, -1, -1):
        A, B, c = dynamics.A[t], dynamics.B[t], dynamics.c[t]
        H, M, z, y = reward.H[t], reward.M[t], reward.z[t], reward.y[t]
        Qaa = H + B.T @ P @ B
        K = -np.linalg.solve(Qaa, B.T @ P @ A)
        k = -np.linalg.solve(Qaa, B.T @ P @ c + 0.5 * B.T @ p - H @ y)
        gains[t], offsets[t] = K, k
        G, e = A + B @ K, B @ k + c
        P, p = (M + K.T @ H @ K + G.T @ P @ G,
                -2.0 * M @ z + 2.0 * K.T @ H @ (k - y) + 2.0 * G.T @ P @ e + G.T @ p)
    return gains, offsets
