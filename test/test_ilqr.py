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
Exact-model iLQR against independent references.

Riccati recursion (linear system), the box-constrained QP over the whole control sequence
(linear system with limits), Tassa 2012's regularised update written out, first-order
optimality checked by finite differences of the total reward (pendulum swing-up, unicycle).
"""

from core_problems import lqr_gains, random_problem
import numpy as np
from ps_control.core import LinearGaussianDynamics, LinearGaussianPolicy, QuadraticReward
from ps_control.core.ilqr import (box_penalty, box_qp, DeviationDynamics,
                                  finite_difference_jacobians, ilqr, regularized_backward_pass)
from ps_control.core.lqg import Quadratic
import pytest
from scipy.optimize import minimize

# --- problems -------------------------------------------------------------------------------

PENDULUM = {'g': 9.81, 'length': 1.0, 'mass': 1.0, 'damping': 0.1, 'dt': 0.05}
U_MAX = 3.0  # below m g l = 9.81: the swing-up needs several swings


def pendulum_step(x, u):
    """
    Semi-implicit Euler step of theta'' = -g/l sin(theta) - b theta' + u / (m l^2).

    theta = 0 hangs down; works on single (2,), (1,) and batched (n, 2), (n, 1) inputs.
    """
    p = PENDULUM
    theta, omega = x[..., 0], x[..., 1]
    acc = (-p['g'] / p['length'] * np.sin(theta) - p['damping'] * omega
           + u[..., 0] / (p['mass'] * p['length'] ** 2))
    omega = omega + p['dt'] * acc
    return np.stack([theta + p['dt'] * omega, omega], axis=-1)


def pendulum_jacobians(x, u):
    """Return the analytic (A, B) of ``pendulum_step``."""
    p = PENDULUM
    dt = p['dt']
    d_theta, d_omega = -p['g'] / p['length'] * np.cos(x[0]), -p['damping']
    A = np.array([[1.0 + dt * dt * d_theta, dt * (1.0 + dt * d_omega)],
                  [dt * d_theta, 1.0 + dt * d_omega]])
    B = np.array([[dt * dt], [dt]]) / (p['mass'] * p['length'] ** 2)
    return A, B


def pendulum_reward(T=100):
    """Reward the upright position theta = pi at rest, mostly at the end."""
    M = np.array([-np.diag([0.1, 0.01])] * T + [-np.diag([100.0, 10.0])])
    H = np.array([-0.01 * np.eye(1)] * T)
    return QuadraticReward(M, H, np.tile([np.pi, 0.0], (T + 1, 1)))


def unicycle_step(x, u, dt=0.1):
    """Unicycle (x, y, heading) driven by speed and turn rate: lateral motion is second order."""
    px, py, heading = x[..., 0], x[..., 1], x[..., 2]
    speed, turn = u[..., 0], u[..., 1]
    return np.stack([px + dt * speed * np.cos(heading), py + dt * speed * np.sin(heading),
                     heading + dt * turn], axis=-1)


def total_reward(step_fn, reward, x0, U):
    """Return the total reward of a batch of open-loop control sequences U (n, T, du)."""
    X = np.broadcast_to(x0, (U.shape[0], x0.size))
    states = [X]
    for t in range(U.shape[1]):
        X = step_fn(X, U[:, t])
        states.append(X)
    return reward.evaluate(np.stack(states, axis=1), U)


def reward_gradient(step_fn, reward, x0, U, h=1e-6):
    """Return dJ/dU (T, du) by central differences of the total reward (batched rollouts)."""
    n = U.size
    E = np.eye(n).reshape((n,) + U.shape) * h
    return ((total_reward(step_fn, reward, x0, U + E) - total_reward(step_fn, reward, x0, U - E))
            / (2 * h)).reshape(U.shape)


def linear_problem(T=8, seed=2):
    """Return a time-invariant linear system (A, B, c) and the random reward of core_problems."""
    dyn, reward, _, x0 = random_problem(T=T, dx=3, du=2, seed=seed)
    A, B, c = dyn.A[0], dyn.B[0], dyn.c[0]

    def step(x, u):
        return x @ A.T + u @ B.T + c
    return A, B, c, step, reward, x0.mean


# --- linear-quadratic: exact references -----------------------------------------------------

@pytest.mark.parametrize('jacobians', ['analytic', 'finite differences'])
def test_linear_system_gives_riccati_solution(jacobians):
    A, B, c, step, reward, x0 = linear_problem()
    T, du = reward.T, B.shape[1]
    tiled = LinearGaussianDynamics(np.tile(A, (T, 1, 1)), np.tile(B, (T, 1, 1)),
                                   np.tile(c, (T, 1)), np.zeros((T, 3, 3)))
    K, k = lqr_gains(tiled, reward)
    x, states, actions = x0, [x0], []
    for t in range(T):
        actions.append(K[t] @ x + k[t])
        x = step(x, actions[-1])
        states.append(x)
    best = reward.evaluate(np.array(states), np.array(actions))
    jacobian_fn = (lambda x, u: (A, B)) if jacobians == 'analytic' else None
    result = ilqr(step, reward, x0, np.zeros((T, du)), jacobian_fn=jacobian_fn)
    assert result.converged
    assert result.iterations <= 3
    np.testing.assert_allclose(result.actions, actions, atol=1e-6)
    np.testing.assert_allclose(result.states, states, atol=1e-6)
    assert result.reward == pytest.approx(best, rel=1e-9)
    # the feedback of the last pass is the LQR feedback around the optimum
    np.testing.assert_allclose(result.K, K, atol=1e-6)


def test_linear_system_with_limits_gives_box_constrained_qp_optimum():
    A, B, c, step, reward, x0 = linear_problem(T=6, seed=5)
    T, dx, du = reward.T, A.shape[0], B.shape[1]
    lower, upper = np.array([-0.4, -0.3]), np.array([0.3, 0.4])
    # X_t = S_t + G_t U for the stacked controls U: J(U) = 1/2 U' P U + U' q + const
    S, G = np.zeros((T + 1, dx)), np.zeros((T + 1, dx, T * du))
    S[0] = x0
    for t in range(T):
        S[t + 1] = A @ S[t] + c
        G[t + 1] = A @ G[t]
        G[t + 1][:, t * du:(t + 1) * du] += B
    P = 2.0 * np.einsum('tia,tij,tjb->ab', G, reward.M, G)
    for t in range(T):
        P[t * du:(t + 1) * du, t * du:(t + 1) * du] += 2.0 * reward.H[t]
    q = -2.0 * np.einsum('tia,tij,tj->a', G, reward.M, reward.z - S)
    best = minimize(lambda U: (-0.5 * U @ P @ U - U @ q, -P @ U - q), np.zeros(T * du), jac=True,
                    method='L-BFGS-B', bounds=[(lower[i % du], upper[i % du])
                                               for i in range(T * du)],
                    options={'ftol': 1e-15, 'gtol': 1e-12, 'maxiter': 10000})
    assert best.success
    unconstrained = np.linalg.solve(-P, q)
    assert np.any(unconstrained < np.tile(lower, T)) and np.any(unconstrained > np.tile(upper, T))
    result = ilqr(step, reward, x0, np.zeros((T, du)), u_min=lower, u_max=upper)
    assert result.converged
    np.testing.assert_allclose(result.actions.ravel(), best.x, atol=1e-5)
    assert np.all(result.actions >= lower) and np.all(result.actions <= upper)


def test_box_qp_satisfies_kkt_and_matches_scipy():
    rng = np.random.default_rng(0)
    for _ in range(20):
        n = 4
        root = rng.standard_normal((n, n))
        H = root @ root.T + 0.1 * np.eye(n)
        g = 3.0 * rng.standard_normal(n)
        lower, upper = -rng.uniform(0.1, 1.0, n), rng.uniform(0.1, 1.0, n)
        x, free = box_qp(H, g, lower, upper)
        grad = H @ x + g
        at_lower, at_upper = np.isclose(x, lower), np.isclose(x, upper)
        assert np.all(x >= lower) and np.all(x <= upper)
        np.testing.assert_allclose(grad[~(at_lower | at_upper)], 0.0, atol=1e-8)
        assert np.all(grad[at_lower] >= -1e-8) and np.all(grad[at_upper] <= 1e-8)
        np.testing.assert_array_equal(free[grad != 0], ~(at_lower | at_upper)[grad != 0])
        ref = minimize(lambda y: (0.5 * y @ H @ y + g @ y, H @ y + g), np.zeros(n), jac=True,
                       method='L-BFGS-B', bounds=list(zip(lower, upper)),
                       options={'ftol': 1e-15, 'gtol': 1e-12})
        np.testing.assert_allclose(x, ref.x, atol=1e-6)


def test_regularized_backward_pass_is_tassa_update():
    """Gains and value against Tassa 2012 / thesis sec. 2.1.2 written out (cost = -reward)."""
    rng = np.random.default_rng(3)
    T, dx, du, mu = 4, 3, 2, 0.7
    A = rng.standard_normal((T, dx, dx))
    B = rng.standard_normal((T, dx, du))
    roots = rng.standard_normal((T + 1, dx + du, dx + du))
    F = -(roots @ np.swapaxes(roots, 1, 2)) - 0.1 * np.eye(dx + du)
    f = rng.standard_normal((T + 1, dx + du))
    step = Quadratic(F[:T], f[:T], np.zeros(T))
    terminal = Quadratic(F[T, :dx, :dx], f[T, :dx], 0.0)
    back = regularized_backward_pass(DeviationDynamics(A, B), step, terminal, mu)
    Vx, Vxx, dV = -f[T, :dx], -F[T, :dx, :dx], 0.0
    for t in range(T - 1, -1, -1):
        lx, lu = -f[t, :dx], -f[t, dx:]
        lxx, luu, lux = -F[t, :dx, :dx], -F[t, dx:, dx:], -F[t, dx:, :dx]
        Qx, Qu = lx + A[t].T @ Vx, lu + B[t].T @ Vx
        Qxx, Quu, Qux = (lxx + A[t].T @ Vxx @ A[t], luu + B[t].T @ Vxx @ B[t],
                         lux + B[t].T @ Vxx @ A[t])
        Quu_reg = luu + B[t].T @ (Vxx + mu * np.eye(dx)) @ B[t]
        Qux_reg = lux + B[t].T @ (Vxx + mu * np.eye(dx)) @ A[t]
        k = -np.linalg.solve(Quu_reg, Qu)
        K = -np.linalg.solve(Quu_reg, Qux_reg)
        dV += 0.5 * k @ Quu @ k + k @ Qu
        Vx = Qx + K.T @ Quu @ k + K.T @ Qu + Qux.T @ k
        Vxx = Qxx + K.T @ Quu @ K + K.T @ Qux + Qux.T @ K
        np.testing.assert_allclose(back.K[t], K, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(back.k[t], k, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(back.value.F[t], -Vxx, rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(back.value.f[t], -Vx, rtol=1e-9, atol=1e-10)
    assert sum(back.expected) == pytest.approx(-dV, rel=1e-9)


# --- nonlinear: pendulum swing-up -----------------------------------------------------------

@pytest.fixture(scope='module')
def swing_up():
    """Analytic-Jacobian swing-up from rest at the bottom, with the callback log."""
    log = []
    reward = pendulum_reward()
    result = ilqr(pendulum_step, reward, np.zeros(2), np.zeros((reward.T, 1)),
                  jacobian_fn=pendulum_jacobians, u_min=-U_MAX, u_max=U_MAX,
                  callback=lambda *args: log.append(args))
    return result, log


def test_pendulum_swing_up_improves_monotonically_and_reaches_top(swing_up):
    result, log = swing_up
    assert result.converged
    history = result.history
    assert len(history) == result.iterations + 1 == len(log) + 1
    assert np.all(np.diff(history) >= 0.0)
    assert history[-1] > history[0] + 100.0
    np.testing.assert_allclose([entry[1] for entry in log], history[1:])
    assert result.reward == pytest.approx(
        pendulum_reward().evaluate(result.states, result.actions), rel=1e-12)
    assert abs(result.states[-1, 0] - np.pi) < 0.05 and abs(result.states[-1, 1]) < 0.1
    assert np.all(np.abs(result.actions) <= U_MAX)
    # the trajectory is the true rollout of the actions
    np.testing.assert_allclose(
        total_reward(pendulum_step, pendulum_reward(), np.zeros(2), result.actions[None]),
        result.reward, rtol=1e-12)


def test_pendulum_swing_up_is_first_order_optimal(swing_up):
    """KKT of max J(U) s.t. |u| <= U_MAX, with dJ/dU from finite differences of rollouts."""
    result, _ = swing_up
    reward, x0 = pendulum_reward(), np.zeros(2)
    scale = np.abs(reward_gradient(pendulum_step, reward, x0, np.zeros((reward.T, 1)))).max()
    grad = reward_gradient(pendulum_step, reward, x0, result.actions)[:, 0]
    u = result.actions[:, 0]
    at_upper, at_lower = u >= U_MAX - 1e-9, u <= -U_MAX + 1e-9
    free = ~(at_upper | at_lower)
    assert free.any() and at_upper.any() and at_lower.any()
    assert np.abs(grad[free]).max() < 1e-3 * scale
    assert grad[at_upper].min() > -1e-3 * scale and grad[at_lower].max() < 1e-3 * scale


def test_finite_difference_jacobians_match_analytic():
    rng = np.random.default_rng(4)
    states = rng.uniform([-4.0, -8.0], [4.0, 8.0], (50, 2))
    actions = rng.uniform(-U_MAX, U_MAX, (50, 1))
    for vectorized in (False, True):
        A, B = finite_difference_jacobians(pendulum_step, states, actions, vectorized=vectorized)
        for t in range(50):
            A_true, B_true = pendulum_jacobians(states[t], actions[t])
            assert np.linalg.norm(A[t] - A_true) < 1e-5 * np.linalg.norm(A_true)
            assert np.linalg.norm(B[t] - B_true) < 1e-5 * np.linalg.norm(B_true)


def test_pendulum_finite_differences_give_the_same_optimum(swing_up):
    exact, _ = swing_up
    reward = pendulum_reward()
    runs = [ilqr(pendulum_step, reward, np.zeros(2), np.zeros((reward.T, 1)), u_min=-U_MAX,
                 u_max=U_MAX, vectorized=vectorized) for vectorized in (False, True)]
    for result in runs:
        assert result.converged
        assert result.reward == pytest.approx(exact.reward, rel=1e-8)
        np.testing.assert_allclose(result.actions, exact.actions, atol=1e-5)
    # batched line search and finite differences choose the same steps as the sequential ones
    # (up to rounding: numpy's batched and scalar sin differ in the last bits)
    np.testing.assert_allclose(runs[1].history, runs[0].history, rtol=1e-9)


def test_policy_reproduces_the_trajectory(swing_up):
    result, _ = swing_up
    policy = result.policy()
    assert isinstance(policy, LinearGaussianPolicy)
    np.testing.assert_allclose(policy.cov, np.broadcast_to(1e-6 * np.eye(1), (100, 1, 1)))
    np.testing.assert_array_equal(policy.K, result.K)
    x = np.zeros(2)
    for t in range(policy.T):
        u = policy.mean_action(t, x)
        np.testing.assert_allclose(u, result.actions[t], atol=1e-9)
        x = pendulum_step(x, u)
    np.testing.assert_allclose(x, result.states[-1], atol=1e-9)
    # the feedback stabilises the swing-up against a small push at the start
    x = np.array([0.02, 0.0])
    for t in range(policy.T):
        x = pendulum_step(x, np.clip(policy.mean_action(t, x), -U_MAX, U_MAX))
    assert abs(x[0] - np.pi) < 0.1


# --- regularisation -------------------------------------------------------------------------

def test_regularisation_rescues_a_failed_unregularised_step():
    """
    Unicycle to a goal beside and behind it, from a slow straight drive.

    The linearisation misses that lateral motion needs turning and driving together, so the
    unregularised step (and its short backtracking) fails: mu must rise before steps succeed.
    """
    T, goal = 40, np.array([-1.0, 0.5, 0.0])
    M = np.array([np.zeros((3, 3))] * T + [-100.0 * np.eye(3)])
    reward = QuadraticReward(M, np.array([-1e-3 * np.eye(2)] * T), np.tile(goal, (T + 1, 1)))
    x0, u0 = np.zeros(3), np.full((T, 2), 0.1)
    settings = {'max_backtracks': 3, 'vectorized': True, 'mu_init': 0.0}
    pinned = ilqr(unicycle_step, reward, x0, u0, mu_max=0.0, **settings)
    assert not pinned.converged and pinned.iterations == 1 and 'mu_max' in pinned.message
    assert pinned.reward == pinned.history[0]
    log = []
    result = ilqr(unicycle_step, reward, x0, u0, callback=lambda *args: log.append(args),
                  **settings)
    assert log[0][3] == 0.0 and log[0][2] > 0.0  # the first (mu = 0) step failed, mu went up
    mus = [0.0] + [entry[2] for entry in log]
    assert any(entry[3] > 0.0 and mus[i] > 0.0 for i, entry in enumerate(log))
    assert result.converged
    assert np.all(np.diff(result.history) >= 0.0)
    np.testing.assert_allclose(result.states[-1], goal, atol=0.02)
    scale = np.abs(reward_gradient(unicycle_step, reward, x0, u0)).max()
    grad = reward_gradient(unicycle_step, reward, x0, result.actions)
    assert np.abs(grad).max() < 1e-3 * scale


# --- bad input ------------------------------------------------------------------------------

def scalar_reward(T=5):
    """Return a reward for a 1-d state and action."""
    return QuadraticReward(-np.ones((T + 1, 1, 1)), -np.ones((T, 1, 1)), np.zeros((T + 1, 1)))


def test_nan_from_step_fn_names_the_time_step():
    def step(x, u):
        nxt = x + u
        return np.where(nxt > 2.5, np.nan, nxt)
    with pytest.raises(ValueError, match='NaN or inf at time step 2'):
        ilqr(step, scalar_reward(), np.zeros(1), np.ones((5, 1)))


def test_nan_in_finite_differences_names_the_time_step():
    def step(x, u):
        return np.where(u > 1.0, np.nan, x + u)
    u_init = np.array([[0.0], [0.0], [0.0], [1.0], [0.0]])
    with pytest.raises(ValueError, match='time step 3 while computing finite-difference'):
        ilqr(step, scalar_reward(), np.zeros(1), u_init)


def test_shape_mismatches_are_reported_with_shapes():
    def step(x, u):
        return x + u
    with pytest.raises(ValueError, match=r'u_init has shape \(5, 2\), expected'):
        ilqr(step, scalar_reward(), np.zeros(1), np.zeros((5, 2)))
    with pytest.raises(ValueError, match=r'x0 has shape \(2,\), expected \(1,\)'):
        ilqr(step, scalar_reward(), np.zeros(2), np.zeros((5, 1)))
    with pytest.raises(ValueError, match=r'step_fn returned shape \(2,\)'):
        ilqr(lambda x, u: np.concatenate([x, u]), scalar_reward(), np.zeros(1), np.zeros((5, 1)))
    with pytest.raises(ValueError, match='jacobian_fn gave A'):
        ilqr(step, scalar_reward(), np.zeros(1), np.zeros((5, 1)),
             jacobian_fn=lambda x, u: (np.eye(2), np.ones((2, 1))))
    with pytest.raises(ValueError, match=r'u_max has shape \(2,\), expected a scalar or \(1,\)'):
        ilqr(step, scalar_reward(), np.zeros(1), np.zeros((5, 1)), u_max=[1.0, 2.0])
    with pytest.raises(ValueError, match='u_min <= u_max'):
        ilqr(step, scalar_reward(), np.zeros(1), np.zeros((5, 1)), u_min=1.0, u_max=-1.0)
    with pytest.raises(ValueError, match=r'vectorized step_fn returned shape \(1, 0\) for X '
                                         r'\(1, 1\)'):
        ilqr(lambda X, U: X[:, :0], scalar_reward(), np.zeros(1), np.zeros((5, 1)),
             vectorized=True)
    with pytest.raises(ValueError, match='jacobian_fn returned NaN or inf at time step 0'):
        ilqr(step, scalar_reward(), np.zeros(1), np.zeros((5, 1)),
             jacobian_fn=lambda x, u: (np.full((1, 1), np.nan), np.ones((1, 1))))
    with pytest.raises(ValueError, match=r'penalty must return value \(6,\), gradient \(6, 1\) '
                                         r'and Hessian \(6, 1, 1\), got \[\(6,\), \(6,\)'):
        ilqr(step, scalar_reward(), np.zeros(1), np.zeros((5, 1)),
             penalty=lambda s: (np.zeros(6), np.zeros(6), np.zeros((6, 1, 1))))
    with pytest.raises(ValueError, match='penalty returned NaN or inf'):
        ilqr(step, scalar_reward(), np.zeros(1), np.zeros((5, 1)),
             penalty=lambda s: (np.full(6, np.nan), np.zeros((6, 1)), np.zeros((6, 1, 1))))
    with pytest.raises(ValueError, match='reward must be a ps_control.core.QuadraticReward, got '
                                         'dict'):
        ilqr(step, {}, np.zeros(1), np.zeros((5, 1)))
    nan_x0, inf_u = (np.array([np.nan]), np.zeros((5, 1))), (np.zeros(1), np.full((5, 1), np.inf))
    for x0, u_init in (nan_x0, inf_u):
        with pytest.raises(ValueError, match='x0 and u_init must be finite'):
            ilqr(step, scalar_reward(), x0, u_init)


def test_a_line_search_step_whose_rollout_diverges_is_cut_not_an_error():
    """Beyond |x| = 3 the system returns NaN: the full steps toward x = 10 are skipped."""
    T = 5
    reward = QuadraticReward(-np.ones((T + 1, 1, 1)), -1e-3 * np.ones((T, 1, 1)),
                             np.full((T + 1, 1), 10.0))
    diverged = []

    def step(x, u):
        nxt = x + u
        diverged.append(np.abs(nxt).max() > 3.0)
        return np.where(np.abs(nxt) > 3.0, np.nan, nxt)
    result = ilqr(step, reward, np.zeros(1), np.zeros((T, 1)), max_iterations=3,
                  jacobian_fn=lambda x, u: (np.eye(1), np.eye(1)))
    assert any(diverged)  # some candidates left the region ...
    assert result.iterations == 3 and np.all(np.diff(result.history) > 0)  # ... others improved
    assert np.all(np.abs(result.states) <= 3.0) and result.states[-1, 0] > 2.9


# --- control limits, state penalty, stopping ------------------------------------------------

def clipped_integrator(x, u):
    """Step x' = x + clip(u, -1, 1): the clipping a torque-limited simulator applies."""
    return x + np.clip(u, -1.0, 1.0)


def test_finite_differences_stay_inside_the_control_bounds():
    states = np.zeros((4, 1))
    actions = np.array([[1.0], [-1.0], [1.0 - 1e-7], [0.3]])
    _, B_plain = finite_difference_jacobians(clipped_integrator, states, actions)
    _, B_box = finite_difference_jacobians(clipped_integrator, states, actions, lower=-1.0,
                                           upper=1.0)
    # across the kink a central difference halves the derivative; from inside it is exact
    np.testing.assert_allclose(B_plain[:2, 0, 0], 0.5, atol=1e-9)
    np.testing.assert_allclose(B_box[:, 0, 0], 1.0, atol=1e-6)
    # beyond a bound the dynamics are flat, and the bounded differences say so too
    _, B_out = finite_difference_jacobians(clipped_integrator, np.zeros((1, 1)), [[2.0]],
                                           lower=-1.0, upper=1.0)
    assert B_out[0, 0, 0] == 0.0


def limited_swing_problem(T=15, u_max=2.5):
    """Pendulum pushed from rest to theta = 0.3 in 0.75 s; unbounded it would start at 3.1."""
    M = np.array([-np.diag([1.0, 0.1])] * T + [-np.diag([1000.0, 10.0])])
    H = np.array([-0.01 * np.eye(1)] * T)
    return QuadraticReward(M, H, np.tile([0.3, 0.0], (T + 1, 1))), u_max


def test_control_limited_ilqr_matches_scipy_on_a_nonlinear_problem():
    reward, u_max = limited_swing_problem()
    T, x0 = reward.T, np.zeros(2)
    result = ilqr(pendulum_step, reward, x0, np.zeros((T, 1)), u_min=-u_max, u_max=u_max,
                  vectorized=True)
    assert result.converged
    assert np.all(np.abs(result.actions) <= u_max)
    saturated = np.abs(result.actions[:, 0]) >= u_max - 1e-9
    assert saturated.any() and not saturated.all()

    def negative(U):
        U = U.reshape(1, T, 1)
        return (-total_reward(pendulum_step, reward, x0, U)[0],
                -reward_gradient(pendulum_step, reward, x0, U[0]).ravel())
    best = minimize(negative, np.zeros(T), jac=True, method='L-BFGS-B',
                    bounds=[(-u_max, u_max)] * T,
                    options={'ftol': 1e-15, 'gtol': 1e-10, 'maxiter': 5000})
    assert -best.fun == pytest.approx(result.reward, rel=1e-7)
    np.testing.assert_allclose(result.actions[:, 0], best.x, atol=1e-4)


def test_feedback_is_off_for_controls_on_a_bound():
    """
    The first-order prediction alpha dV_1 holds for small steps from a saturated nominal.

    A control on a bound that k moves inwards still must not get feedback: the rollout would
    clip the outward half of K dx, a kink at first order. With a large mu (tiny k, strong
    feedback) that made actual / predicted improvement tend to a wrong, often negative, value.
    """
    from ps_control.core.ilqr import _backward, _closed_loop_rollouts, _local_problem, _Objective
    reward = pendulum_reward(40)
    T = reward.T
    t = np.arange(T)
    actions = np.where(np.sin(2 * np.pi * t / 25.0) >= 0, U_MAX, -U_MAX)[:, None]
    states = [np.zeros(2)]
    for u in actions:
        states.append(pendulum_step(states[-1], u))
    states = np.array(states)
    objective = _Objective(reward, None)
    limits = np.full(1, -U_MAX), np.full(1, U_MAX)
    local = _local_problem(pendulum_step, None, objective, states, actions, 1e-6, True, *limits)
    J = objective(states, actions)
    alphas = np.array([1e-4, 1e-5])
    for mu in (1e2, 1e4):
        back = _backward(local, mu, actions, *limits)
        pinned = np.abs(actions[:, 0]) >= U_MAX
        assert np.all(back.K[pinned] == 0.0)
        X, U, _ = _closed_loop_rollouts(pendulum_step, states, actions, back.K, back.k, alphas,
                                        *limits, True)
        dv1, dv2 = back.expected
        for i, alpha in enumerate(alphas):
            ratio = (objective(X[i], U[i]) - J) / (alpha * dv1 + alpha ** 2 * dv2)
            assert ratio == pytest.approx(1.0, abs=0.05)


def test_box_penalty_derivatives_and_effect():
    penalty = box_penalty([-1.0, -np.inf], [2.0, np.inf], [3.0, 5.0], margin=0.5)
    states = np.array([[-0.8, 7.0], [0.0, 0.0], [1.9, -9.0]])
    value, gradient, hessian = penalty(states)
    np.testing.assert_allclose(value, [3.0 * 0.3 ** 2, 0.0, 3.0 * 0.4 ** 2])
    h = 1e-6
    for i in range(2):
        e = np.zeros(2)
        e[i] = h
        numeric = (penalty(states + e)[0] - penalty(states - e)[0]) / (2 * h)
        np.testing.assert_allclose(gradient[:, i], numeric, atol=1e-6)
    np.testing.assert_allclose(hessian[:, 0, 0], [6.0, 0.0, 6.0])
    assert np.all(hessian[:, 1, 1] == 0.0)
    with pytest.raises(ValueError, match='lower <= upper'):
        box_penalty([1.0], [0.0], 1.0)
    for weight, margin in ((-1.0, 0.0), ([1.0, -0.5], 0.0), (1.0, -0.1)):
        with pytest.raises(ValueError, match='box_penalty needs weight >= 0 and margin >= 0'):
            box_penalty([0.0, 0.0], [1.0, 1.0], weight, margin)
    # a double integrator sent to position 1 stops short of a penalised bound at 0.5
    T = 20

    def step(x, u):
        return np.stack([x[..., 0] + 0.1 * x[..., 1], x[..., 1] + 0.1 * u[..., 0]], axis=-1)
    M = np.array([-np.diag([10.0, 0.1])] * (T + 1))
    reward = QuadraticReward(M, np.array([-1e-3 * np.eye(1)] * T),
                             np.tile([1.0, 0.0], (T + 1, 1)))
    free = ilqr(step, reward, np.zeros(2), np.zeros((T, 1)), vectorized=True)
    wall = box_penalty([-np.inf, -np.inf], [0.5, np.inf], 1e4)
    held = ilqr(step, reward, np.zeros(2), np.zeros((T, 1)), vectorized=True, penalty=wall)
    assert free.states[:, 0].max() > 0.9
    assert held.converged and held.states[:, 0].max() < 0.52
    assert held.reward == pytest.approx(reward.evaluate(held.states, held.actions), rel=1e-12)
    assert held.objective == pytest.approx(
        held.reward - wall(held.states)[0].sum(), rel=1e-12)
    assert held.objective == held.history[-1] and free.objective == free.reward


def test_step_band_and_stall_stop():
    reward = pendulum_reward()
    settings = {'jacobian_fn': pendulum_jacobians, 'u_min': -U_MAX, 'u_max': U_MAX}
    banded = ilqr(pendulum_step, reward, np.zeros(2), np.zeros((reward.T, 1)),
                  step_band=(0.1, 0.5), **settings)
    assert banded.converged and np.all(np.diff(banded.history) >= 0.0)
    assert abs(banded.states[-1, 0] - np.pi) < 0.05
    stalled = ilqr(pendulum_step, reward, np.zeros(2), np.zeros((reward.T, 1)),
                   stall_window=2, stall_absolute=1e9, **settings)
    assert stalled.iterations == 2 and stalled.message.startswith('stalled')
    assert not stalled.converged


def test_levenberg_marquardt_schedule_is_tassas():
    """
    Follow Tassa et al. 2012, sec. II-F.

    Delta <- max(Delta_0, Delta Delta_0), mu <- max(mu_min, mu Delta) on increase; Delta <-
    min(1 / Delta_0, Delta / Delta_0), mu <- mu Delta (0 below mu_min) on decrease; so
    repeated failures raise mu ever faster (2, 8, 64 for Delta_0 = 2).
    """
    from ps_control.core.ilqr import _Regularization
    schedule = _Regularization(1.0, 1e-6, 2.0)
    mus = []
    for _ in range(3):
        schedule.increase()
        mus.append(schedule.mu)
    assert mus == [2.0, 8.0, 64.0]
    schedule.decrease()  # Delta = min(1/2, 8 / 2) = 1/2
    assert schedule.mu == 32.0 and schedule.delta == 0.5
    schedule.decrease()  # Delta = 1/4
    assert schedule.mu == 8.0
    schedule.nudge()  # a short step: mu Delta_0, Delta back to 1
    assert schedule.mu == 16.0 and schedule.delta == 1.0
    tiny = _Regularization(1e-6, 1e-6, 2.0)
    tiny.decrease()
    assert tiny.mu == 0.0  # below mu_min: no regularisation
    floor = _Regularization(0.0, 1e-6, 2.0)
    floor.increase()
    assert floor.mu == 1e-6  # from 0, straight to mu_min
