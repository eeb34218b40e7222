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
Exact-model iLQR on the one LQG machine: the reference optimum for the learnt policies.

Thesis sec. 2.1.2; Tassa, Erez and Todorov 2012, "Synthesis and stabilization of complex
behaviors through online trajectory optimization" (IROS); control limits by the projected-Newton
box-QP of Tassa, Mansard and Todorov 2014, "Control-limited differential dynamic programming"
(ICRA). The equations are those of thesis sec. 2.1.2 (unnumbered there), named by topic.

The task reward R_t(s, a) = (z_t - s)' M_t (z_t - s) + a' H_t a of ps_control is maximised for
deterministic dynamics x' = f(x, u). Each iteration linearises f around the nominal trajectory
(given or central-difference Jacobians) and solves the local LQ problem in deviation coordinates
(``DeviationDynamics``: zero-noise linear dynamics with c = 0; the reward, already quadratic,
shifted to the nominal) with lqg's pieces: ``expected_next_value`` gives Q_t,
``soft_max_action`` at eta = 0 the gains. Differences to ``lqg.backward_pass``, all from
Tassa 2012:

* regularisation: the gains come from Q regularised through V_{t+1}:
  Q_aa = R_aa + B'(V_ss - mu I) B, Q_as = R_as + B'(V_ss - mu I) A (the sign of mu is flipped
  because the reward is maximised);
* improved value update: the value is that of the resulting policy under the unregularised Q,
  V(s) = Q(s, K s + k), valid for any (K, k);
* schedule and line search: mu and its factor Delta follow the Levenberg-Marquardt rule; a
  backtracking line search over the feed-forward step alpha k accepts when the actual
  improvement is more than ``min_ratio`` of the expected one, alpha dV_1 + alpha^2 dV_2.

With limits u_min <= u <= u_max, k is the box-QP solution (Tassa 2014), the rows of K of the
clamped controls are zero, and rollouts clip every control to the limits. Beyond those papers,
for problems as non-linear as the multi-link swing-ups (found on them, each checked by a test):

* no feedback either for a control whose nominal lies on a bound (the rollout's clipping would
  act on one side of K ds only: a first-order kink that made the predicted improvement wrong,
  even in sign, for every step size);
* the expected improvement is that of the LQ model for every alpha (one forward pass of the
  model), not Tassa's sum of k' Q_a, which is exact only at alpha = 1;
* finite differences stay inside the control box (one-sided on a bound);
* options for the staged exact-model reference (ps_control.ilqr_reference): a state
  penalty (``box_penalty``, e.g. to keep off joint limits), a trust-region-like mu schedule
  steered by the accepted step (``step_band``), a stop on stalled progress (``stall_window``),
  and line searches down to alpha = 2^-``max_backtracks``.
"""

from dataclasses import dataclass

import numpy as np

from ps_control.core.gaussian import batched_cholesky, NotPositiveDefiniteError
from ps_control.core.linear_gaussian import DynamicsShape, LinearGaussianPolicy, QuadraticReward
from ps_control.core.lqg import expected_next_value, Quadratic, reward_quadratic, soft_max_action


@dataclass(frozen=True, eq=False)
class _AffineMap:
    """
    Deterministic map y -> A y + c in the form ``expected_next_value`` reads.

    With no action part (B has zero columns) and zero noise, expected_next_value(map, q) is the
    composition q(A y + c) as a quadratic over y.
    """

    A: np.ndarray
    c: np.ndarray

    @property
    def B(self):
        return np.zeros(self.A.shape[:-1] + (0,))

    @property
    def cov(self):
        n = self.A.shape[-2]
        return np.zeros(self.A.shape[:-2] + (n, n))


def compose_affine(q, A, c):
    """Return y -> q(A y + c) as a Quadratic over y (batched like ``q``)."""
    return expected_next_value(_AffineMap(A, c), q)


def box_qp(H, g, lower, upper, x0=None, max_iterations=100, min_grad=1e-8,
           min_rel_improve=1e-8, step_factor=0.6, min_step=1e-22, armijo=0.1):
    """
    Minimise 1/2 x' H x + g' x subject to lower <= x <= upper (H positive definite).

    Projected-Newton method of Tassa, Mansard, Todorov 2014: Newton steps on the free
    subspace, clamped set {x_i at a bound with the gradient pushing outwards}, projected Armijo
    line search. Returns (x, free) with ``free`` the boolean mask of unclamped coordinates at
    the solution. Raises NotPositiveDefiniteError if H on the free subspace is not positive
    definite.
    """
    H, g = np.asarray(H, dtype=float), np.asarray(g, dtype=float)
    lower, upper = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    x = np.clip(np.zeros_like(g) if x0 is None else np.asarray(x0, dtype=float), lower, upper)
    value = x @ g + 0.5 * x @ H @ x
    clamped, chol, old_value = None, None, None
    for _ in range(max_iterations):
        if old_value is not None and old_value - value < min_rel_improve * abs(old_value):
            break
        old_value = value
        grad = g + H @ x
        now_clamped = ((x == lower) & (grad > 0)) | ((x == upper) & (grad < 0))
        if now_clamped.all():
            break
        free = ~now_clamped
        if clamped is None or np.any(now_clamped != clamped):
            chol = batched_cholesky(H[np.ix_(free, free)], 'box-QP Hessian')
        clamped = now_clamped
        if np.linalg.norm(grad[free]) < min_grad:
            break
        # Newton step on the free subspace with the clamped coordinates held
        grad_clamped = g + H @ (x * clamped)
        search = np.zeros_like(x)
        search[free] = -_chol_solve(chol, grad_clamped[free]) - x[free]
        slope = search @ grad
        if slope >= 0:
            break
        step = 1.0
        while True:
            candidate = np.clip(x + step * search, lower, upper)
            candidate_value = candidate @ g + 0.5 * candidate @ H @ candidate
            if (candidate_value - value) / (step * slope) >= armijo:
                break
            step *= step_factor
            if step < min_step:
                break
        if step < min_step:
            break
        x, value = candidate, candidate_value
    grad = g + H @ x
    return x, ~(((x == lower) & (grad > 0)) | ((x == upper) & (grad < 0)))


def _chol_solve(chol, b):
    """Solve (L L') y = b for a lower Cholesky factor L."""
    return np.linalg.solve(chol.T, np.linalg.solve(chol, b))


@dataclass(frozen=True, eq=False)
class DeviationDynamics(DynamicsShape):
    """
    The linearisation around a nominal trajectory in deviation coordinates.

    ds' = A_t ds + B_t da: LinearGaussianDynamics with c = 0 (the nominal satisfies
    x_{t+1} = f(x_t, u_t)) and zero noise, without its per-step validation.
    """

    A: np.ndarray
    B: np.ndarray

    @property
    def c(self):
        return np.zeros(self.A.shape[:-1])

    @property
    def cov(self):
        return np.zeros(self.A.shape)


@dataclass(frozen=True, eq=False)
class ILQRBackward:
    """
    One regularised backward pass in deviation coordinates (thesis sec. 2.1.2, Tassa 2012).

    value: V_t(delta s), t = 0..T; K (T,du,dx), k (T,du): delta a = K delta s + alpha k;
    expected (dV_1, dV_2): the predicted improvement of step alpha is alpha dV_1 + alpha^2 dV_2
    (exact in the local LQ model for every alpha; see regularized_backward_pass).
    """

    value: Quadratic
    K: np.ndarray
    k: np.ndarray
    expected: tuple


def regularized_backward_pass(dynamics, step_reward, terminal_reward, mu, lower=None,
                              upper=None):
    """
    Run the hard-max (eta = 0) backward recursion with Tassa's regularisation of V_ss.

    ``dynamics`` and the rewards are in deviation coordinates (c = 0, zero noise). Per step:
    Q_t = r_t + E[V_{t+1}] (lqg.expected_next_value); the gains maximise the regularised
    Q_t - mu/2 |A ds + B da|^2 (the regularised Q_aa, Q_as of thesis sec. 2.1.2, via
    lqg.soft_max_action), or, with bounds ``lower``/``upper`` (T, du) on delta a, the box-QP of
    Tassa 2014 with zero gains for the clamped controls; V_t(s) = Q_t(s, K s + k) (the improved
    value update). Raises NotPositiveDefiniteError naming the time step when the regularised
    -Q_aa is not positive definite.

    Expected improvement: in the LQ model the deviations of the step alpha are alpha times
    those of the full step (ds_0 = 0, da = K ds + k, ds' = A ds + B da), so with the reward
    quadratics q_t(y) = 1/2 y' F_t y + f_t' y + f0_t of y = [ds; da] the improvement is exactly
    alpha sum f_t' y_t + alpha^2 / 2 sum y_t' F_t y_t (+ the terminal terms): dV_1 and dV_2,
    from one forward pass of the model. Tassa 2012's dV_1 = sum k' Q_a, dV_2 = sum 1/2 k' Q_aa k
    has the same sum (alpha = 1) but its Q_a already holds the later k, so alpha dV_1 is not the
    first-order change (it is wrong by a constant factor for small alpha), which misleads a
    line search that must go to small steps.
    """
    T, dx, du = dynamics.T, dynamics.dx, dynamics.du
    penalty = Quadratic(-mu * np.eye(dx), np.zeros(dx), 0.0)
    K = np.zeros((T, du, dx))
    k = np.zeros((T, du))
    values = [None] * (T + 1)
    values[T] = terminal_reward
    dv1 = dv2 = 0.0
    for t in range(T - 1, -1, -1):
        Q = step_reward[t] + expected_next_value(dynamics, values[t + 1], t)
        Q_reg = Q + expected_next_value(dynamics, penalty, t) if mu > 0 else Q
        try:
            if lower is None:
                gains = soft_max_action(Q_reg, 0.0, dx)
                K[t], k[t] = gains.K, gains.k
            else:
                K[t], k[t] = _box_gains(Q_reg, dx, lower[t], upper[t])
        except NotPositiveDefiniteError:
            raise NotPositiveDefiniteError(
                'regularised -Q_aa is not positive definite at time step %d (mu = %g)'
                % (t, mu), [t]) from None
        closed_loop = np.concatenate([np.eye(dx), K[t]])
        values[t] = compose_affine(Q, closed_loop, np.concatenate([np.zeros(dx), k[t]]))
    ds = np.zeros(dx)
    for t in range(T):
        y = np.concatenate([ds, K[t] @ ds + k[t]])
        dv1 += step_reward.f[t] @ y
        dv2 += 0.5 * y @ step_reward.F[t] @ y
        ds = dynamics.A[t] @ ds + dynamics.B[t] @ y[dx:]
    dv1 += terminal_reward.f @ ds
    dv2 += 0.5 * ds @ terminal_reward.F @ ds
    value = Quadratic(np.array([v.F for v in values]), np.array([v.f for v in values]),
                      np.array([v.f0 for v in values]))
    return ILQRBackward(value, K, k, (float(dv1), float(dv2)))


def _box_gains(Q, dx, lower, upper):
    """
    Return (K, k) maximising Q(s, a) over lower <= a <= upper (Tassa 2014, box-QP).

    k is the unconstrained maximiser at s = 0 if that is feasible, otherwise the box-QP
    solution (started from the clipped unconstrained one). Feedback: the clamped controls (on a
    bound, pushed outwards) get none, as in Tassa 2014; nor do the controls whose nominal lies
    on a bound (a bound of 0 in these deviation coordinates), even when k moves them inwards:
    the rollout clips them, so feedback on them would act one-sidedly, a kink at first order
    that makes the predicted improvement wrong for every step size (with a large mu, k is tiny
    and the clipped feedback dominates). The other controls follow the maximiser of Q with
    those held at k (soft_max_action on that restriction).
    """
    free_gains = soft_max_action(Q, 0.0, dx)
    pinned = (lower >= 0.0) | (upper <= 0.0)
    feasible = np.all((free_gains.k >= lower) & (free_gains.k <= upper))
    if feasible and not pinned.any():
        return free_gains.K, free_gains.k
    du = Q.F.shape[-1] - dx
    if feasible:
        k, free = free_gains.k, np.ones(du, dtype=bool)
    else:
        k, free = box_qp(-Q.F[dx:, dx:], -Q.f[dx:], lower, upper, free_gains.k)
    free = free & ~pinned
    K = np.zeros((du, dx))
    if free.any():
        # [s; a_free] -> [s; a] with the other controls fixed at k
        select = np.zeros((dx + du, dx + free.sum()))
        select[:dx, :dx] = np.eye(dx)
        select[dx + np.flatnonzero(free), dx + np.arange(free.sum())] = 1.0
        offset = np.concatenate([np.zeros(dx), np.where(free, 0.0, k)])
        K[free] = soft_max_action(compose_affine(Q, select, offset), 0.0, dx).K
    return K, k


def finite_difference_jacobians(step_fn, states, actions, fd_step=1e-5, vectorized=False,
                                lower=None, upper=None):
    """
    Return A (T,dx,dx) = df/dx and B (T,dx,du) = df/du at each (x_t, u_t) by central differences.

    Coordinate j is perturbed by h_j = fd_step * max(1, |v_j|) each way. With control bounds
    ``lower``/``upper`` (du,) a control inside them is perturbed only inside them: a step that
    would cross a bound ends on it (a one-sided difference for a control on its bound), so B is
    the derivative from inside the box even where f clips the controls there (Tassa 2014's
    clamped controls sit exactly on a bound). With ``vectorized`` all 2 T (dx + du) perturbed
    points go to ``step_fn`` in one call. Raises ValueError naming the time step where f is not
    finite.
    """
    states, actions = np.asarray(states, dtype=float), np.asarray(actions, dtype=float)
    T, dx = states.shape
    n = dx + actions.shape[1]
    points = np.concatenate([states, actions], axis=1)
    h = fd_step * np.maximum(1.0, np.abs(points))
    up, down = h.copy(), h.copy()
    if lower is not None:
        u = actions
        inside = (u >= lower) & (u <= upper)
        up[:, dx:] = np.where(inside, np.minimum(h[:, dx:], upper - u), h[:, dx:])
        down[:, dx:] = np.where(inside, np.minimum(h[:, dx:], u - lower), h[:, dx:])
    eye = np.eye(n)[None]
    probes = np.concatenate([points[:, None] + eye * up[:, :, None],
                             points[:, None] - eye * down[:, :, None]], axis=1)
    probes = probes.reshape(-1, n)
    out = _evaluate(step_fn, probes[:, :dx], probes[:, dx:], vectorized, dx)
    out = out.reshape(T, 2 * n, dx)
    bad = ~np.isfinite(out).all(axis=(1, 2))
    if bad.any():
        raise ValueError('step_fn returned NaN or inf at time step %d while computing '
                         'finite-difference Jacobians' % np.flatnonzero(bad)[0])
    width = up + down  # 0 only for a control with equal bounds: its column of B is 0
    jac = ((out[:, :n] - out[:, n:]) / np.where(width > 0, width, 1.0)[:, :, None])
    jac = jac.transpose(0, 2, 1)
    return jac[:, :, :dx], jac[:, :, dx:]


def _evaluate(step_fn, X, U, vectorized, dx):
    """Return f at the rows of X (n,dx), U (n,du) as (n,dx), checking the output shape."""
    if vectorized:
        out = np.asarray(step_fn(X, U), dtype=float)
        if out.shape != X.shape:
            raise ValueError('vectorized step_fn returned shape %s for X %s and U %s, expected %s'
                             % (out.shape, X.shape, U.shape, X.shape))
        return out
    out = np.empty_like(X)
    for i, (x, u) in enumerate(zip(X, U)):
        value = np.asarray(step_fn(x, u), dtype=float)
        if value.shape != (dx,):
            raise ValueError('step_fn returned shape %s for x %s and u %s, expected (%d,)'
                             % (value.shape, x.shape, u.shape, dx))
        out[i] = value
    return out


def _jacobians(jacobian_fn, step_fn, states, actions, fd_step, vectorized, lower, upper):
    """Return A (T,dx,dx), B (T,dx,du) from ``jacobian_fn`` or by finite differences."""
    T, dx = states.shape
    du = actions.shape[1]
    if jacobian_fn is None:
        return finite_difference_jacobians(step_fn, states, actions, fd_step, vectorized, lower,
                                           upper)
    if vectorized:
        A, B = (np.asarray(m, dtype=float) for m in jacobian_fn(states, actions))
    else:
        pairs = [jacobian_fn(x, u) for x, u in zip(states, actions)]
        A = np.array([np.asarray(p[0], dtype=float) for p in pairs])
        B = np.array([np.asarray(p[1], dtype=float) for p in pairs])
    if A.shape != (T, dx, dx) or B.shape != (T, dx, du):
        raise ValueError('jacobian_fn gave A %s and B %s, expected (%d, %d) and (%d, %d) per step'
                         % (A.shape[1:], B.shape[1:], dx, dx, dx, du))
    bad = ~(np.isfinite(A).all(axis=(1, 2)) & np.isfinite(B).all(axis=(1, 2)))
    if bad.any():
        raise ValueError('jacobian_fn returned NaN or inf at time step %d'
                         % np.flatnonzero(bad)[0])
    return A, B


def _rollout(step_fn, x0, actions, vectorized):
    """Return the states (T+1,dx) of the open-loop actions; ValueError names a non-finite step."""
    T, dx = actions.shape[0], x0.shape[0]
    states = np.empty((T + 1, dx))
    states[0] = x0
    for t in range(T):
        states[t + 1] = _evaluate(step_fn, states[t][None], actions[t][None], vectorized, dx)[0]
        if not np.isfinite(states[t + 1]).all():
            raise ValueError('step_fn returned NaN or inf at time step %d (x = %s, u = %s)'
                             % (t, states[t], actions[t]))
    return states


def _closed_loop_rollouts(step_fn, states, actions, K, k, alphas, lower, upper, vectorized):
    """
    Roll out u_t = clip(u_t + alpha k_t + K_t (x - x_t)) for each alpha (Tassa 2012).

    Returns states (n,T+1,dx), actions (n,T,du) and a mask of the finite rollouts; a diverged
    rollout is frozen at its last finite state (so step_fn never sees NaN) and masked out.
    """
    T, dx = actions.shape[0], states.shape[1]
    n = len(alphas)
    X = np.empty((n, T + 1, dx))
    U = np.empty((n, T, actions.shape[1]))
    X[:, 0] = states[0]
    finite = np.ones(n, dtype=bool)
    for t in range(T):
        u = actions[t] + alphas[:, None] * k[t] + (X[:, t] - states[t]) @ K[t].T
        U[:, t] = u if lower is None else np.clip(u, lower, upper)
        U[~finite, t] = actions[t]
        if vectorized:
            X[:, t + 1] = _evaluate(step_fn, X[:, t], U[:, t], True, dx)
        else:
            for i in np.flatnonzero(finite):
                X[i, t + 1] = _evaluate(step_fn, X[i, t][None], U[i, t][None], False, dx)[0]
        ok = np.isfinite(X[:, t + 1]).all(axis=1) & np.isfinite(U[:, t]).all(axis=1)
        finite &= ok
        X[~finite, t + 1] = X[~finite, t]
    return X, U, finite


def _line_search(step_fn, objective, nominal, backward, alphas, lower, upper, vectorized,
                 min_ratio, batch):
    """
    Return (alpha, states, actions, objective) of the largest accepted step, or None.

    Accept when (J(alpha) - J) / (alpha dV_1 + alpha^2 dV_2) > min_ratio (Tassa 2012, line
    search); with a non-positive expected improvement any actual improvement is accepted.
    Tries the alphas largest first, ``batch`` at a time in one batched rollout (vectorized
    dynamics) or one at a time.
    """
    states, actions, J = nominal
    dv1, dv2 = backward.expected
    size = batch if vectorized else 1
    batches = [alphas[i:i + size] for i in range(0, len(alphas), size)]
    for batch in batches:
        X, U, finite = _closed_loop_rollouts(step_fn, states, actions, backward.K, backward.k,
                                             batch, lower, upper, vectorized)
        for i, alpha in enumerate(batch):
            if not finite[i]:
                continue
            J_new = objective(X[i], U[i])
            expected = alpha * dv1 + alpha ** 2 * dv2
            actual = J_new - J
            ratio = actual / expected if expected > 0 else np.sign(actual)
            if ratio > min_ratio:
                return alpha, X[i], U[i], J_new
    return None


def _local_problem(step_fn, jacobian_fn, objective, states, actions, fd_step, vectorized,
                   lower, upper):
    """
    Return the LQ problem around a nominal trajectory in deviation coordinates.

    dynamics: DeviationDynamics(A_t, B_t); rewards: R_t(x_t + ds, u_t + da) as quadratics in
    [ds; da] (lqg.reward_quadratic shifted to the nominal), minus the second-order expansion of
    the state penalty (if any) around the nominal states.
    """
    A, B = _jacobians(jacobian_fn, step_fn, states[:-1], actions, fd_step, vectorized, lower,
                      upper)
    T, dx = A.shape[0], A.shape[1]
    du = B.shape[2]
    n = dx + du
    dynamics = DeviationDynamics(A, B)
    step, terminal = reward_quadratic(objective.reward)
    nominal = np.concatenate([states[:T], actions], axis=1)
    step = compose_affine(step, np.broadcast_to(np.eye(n), (T, n, n)), nominal)
    terminal = compose_affine(terminal, np.eye(dx), states[T])
    if objective.penalty is not None:
        value, gradient, hessian = objective.penalty_terms(states)
        expansion = Quadratic(-hessian, -gradient, -value).embed_state(du)
        step = step + expansion[:T]
        terminal = terminal + Quadratic(-hessian[T], -gradient[T], -value[T])
    return dynamics, step, terminal


class _Objective:
    """Task reward minus an optional state penalty; evaluates one trajectory."""

    def __init__(self, reward, penalty):
        self.reward, self.penalty = reward, penalty

    def penalty_terms(self, states):
        """Return the penalty's (value (T+1,), gradient (T+1,dx), Hessian (T+1,dx,dx))."""
        T1, dx = states.shape
        terms = self.penalty(states)
        shapes = ((T1,), (T1, dx), (T1, dx, dx))
        terms = tuple(np.asarray(term, dtype=float) for term in terms)
        if len(terms) != 3 or any(term.shape != shape for term, shape in zip(terms, shapes)):
            raise ValueError('penalty must return value %s, gradient %s and Hessian %s, got %s'
                             % (shapes + ([np.shape(term) for term in terms],)))
        if not all(np.isfinite(term).all() for term in terms):
            raise ValueError('penalty returned NaN or inf')
        return terms

    def task_reward(self, states, actions):
        """Return the total task reward of one trajectory."""
        return float(self.reward.evaluate(states, actions))

    def __call__(self, states, actions):
        """Return the task reward minus the total penalty of one trajectory."""
        value = self.task_reward(states, actions)
        if self.penalty is not None:
            value -= float(self.penalty_terms(states)[0].sum())
        return value


def box_penalty(lower, upper, weight, margin=0.0):
    """
    Return a state penalty for ``ilqr``: weight times the squared distance beyond a box.

    Per state component i and time step: weight_i (s_i - (upper_i - margin))^2 above
    upper_i - margin, weight_i ((lower_i + margin) - s_i)^2 below lower_i + margin, 0 between
    (once continuously differentiable; the Hessian is 2 weight_i on the penalised side).
    ``lower``, ``upper`` (dx,) may hold -inf / inf for unbounded components; ``weight`` and
    ``margin`` are scalars or (dx,). Keeps an iLQR away from joint position limits, where a
    simulator's limit constraint makes the dynamics non-smooth.
    """
    lower, upper = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    weight, margin = np.asarray(weight, dtype=float), np.asarray(margin, dtype=float)
    if lower.ndim != 1 or upper.shape != lower.shape or np.any(lower > upper):
        raise ValueError('box_penalty needs lower <= upper of one shape (dx,), got %s and %s'
                         % (lower, upper))
    if np.any(weight < 0) or np.any(margin < 0):
        raise ValueError('box_penalty needs weight >= 0 and margin >= 0')

    def penalty(states):
        above = np.maximum(states - (upper - margin), 0.0)
        below = np.maximum((lower + margin) - states, 0.0)
        excess = above - below
        value = (weight * excess ** 2).sum(axis=-1)
        gradient = 2.0 * weight * excess
        curvature = 2.0 * weight * ((above > 0) | (below > 0))
        hessian = curvature[..., None] * np.eye(states.shape[-1])
        return value, gradient, hessian
    return penalty


@dataclass(frozen=True, eq=False)
class ILQRResult:
    """
    Result of ``ilqr``.

    states (T+1,dx), actions (T,du): the final trajectory; K (T,du,dx), k (T,du): the gains of
    the last backward pass around it (delta u = K delta x + k); reward: total task reward of
    the trajectory; objective: the maximised objective, the reward minus the total state
    penalty (equal to reward without a penalty); history: objective before the first and after
    every iteration; iterations: backward passes run; converged: stopped on the tolerance (not
    on mu > mu_max or the iteration limit); mu: final regularisation; message: why it stopped.
    """

    states: np.ndarray
    actions: np.ndarray
    K: np.ndarray
    k: np.ndarray
    reward: float
    iterations: int
    history: np.ndarray
    converged: bool
    mu: float
    message: str
    objective: float

    def policy(self, covariance=1e-6):
        """
        Return the feedback law around the trajectory as a LinearGaussianPolicy.

        u = K_t x + k_t with k_t = u_t - K_t x_t reproduces the trajectory from its initial
        state; the policy covariance is ``covariance`` I (a scalar, or (du, du)).
        """
        T, du = self.actions.shape
        cov = np.broadcast_to(np.eye(du) * np.asarray(covariance, dtype=float), (T, du, du))
        k = self.actions - np.einsum('tij,tj->ti', self.K, self.states[:T])
        return LinearGaussianPolicy(self.K, k, cov)


class _Regularization:
    """The Levenberg-Marquardt schedule of mu (Tassa 2012)."""

    def __init__(self, mu, mu_min, factor):
        self.mu, self.mu_min, self.factor, self.delta = float(mu), mu_min, factor, 1.0

    def increase(self):
        """Delta <- max(Delta_0, Delta Delta_0); mu <- max(mu_min, mu Delta)."""
        self.delta = max(self.factor, self.delta * self.factor)
        self.mu = max(self.mu_min, self.mu * self.delta)

    def nudge(self):
        """Raise mu gently after a short step: mu <- max(mu_min, mu Delta_0), Delta <- 1."""
        self.delta = 1.0
        self.mu = max(self.mu_min, self.mu * self.factor)

    def decrease(self):
        """Delta <- min(1 / Delta_0, Delta / Delta_0); mu <- mu Delta, or 0 below mu_min."""
        self.delta = min(1.0 / self.factor, self.delta / self.factor)
        self.mu = self.mu * self.delta if self.mu * self.delta > self.mu_min else 0.0


def _check_inputs(reward, x0, u_init, u_min, u_max):
    """Validate shapes; return x0, u_init (clipped to the limits) and the limits as arrays."""
    if not isinstance(reward, QuadraticReward):
        raise ValueError('reward must be a ps_control.core.QuadraticReward, got %s'
                         % type(reward).__name__)
    x0 = np.asarray(x0, dtype=float)
    u_init = np.asarray(u_init, dtype=float)
    T, dx = reward.T, reward.M.shape[-1]
    du = reward.H.shape[-1]
    if x0.shape != (dx,):
        raise ValueError('x0 has shape %s, expected (%d,) to match the reward' % (x0.shape, dx))
    if u_init.shape != (T, du):
        raise ValueError('u_init has shape %s, expected (T, du) = (%d, %d) to match the reward'
                         % (u_init.shape, T, du))
    if not (np.isfinite(x0).all() and np.isfinite(u_init).all()):
        raise ValueError('x0 and u_init must be finite')
    if u_min is None and u_max is None:
        return x0, u_init, None, None
    limits = []
    for name, value, default in (('u_min', u_min, -np.inf), ('u_max', u_max, np.inf)):
        value = np.asarray(default if value is None else value, dtype=float)
        if value.shape not in ((), (du,)):
            raise ValueError('%s has shape %s, expected a scalar or (%d,)'
                             % (name, value.shape, du))
        limits.append(np.broadcast_to(value, (du,)))
    lower, upper = limits
    if np.any(lower > upper) or np.isnan(lower).any() or np.isnan(upper).any():
        raise ValueError('control limits need u_min <= u_max, got %s and %s' % (lower, upper))
    return x0, np.clip(u_init, lower, upper), lower, upper


def ilqr(step_fn, reward, x0, u_init, jacobian_fn=None, u_min=None, u_max=None,
         max_iterations=100, tolerance=1e-6, fd_step=1e-5, callback=None, vectorized=False,
         mu_init=0.0, mu_min=1e-6, mu_max=1e10, mu_factor=2.0, min_ratio=1e-4,
         max_backtracks=10, penalty=None, line_search_batch=4, step_band=None,
         stall_window=0, stall_tolerance=1e-3, stall_absolute=0.0):
    """
    Maximise the task reward of x_{t+1} = step_fn(x_t, u_t) over the controls by iLQR.

    Thesis sec. 2.1.2 and Tassa 2012 (see the module docstring). ``reward`` is a
    QuadraticReward with horizon T; ``u_init`` (T,du) the initial controls. ``jacobian_fn(x, u)``
    returns (A, B) = (df/dx, df/du); without it central differences with step ``fd_step`` are
    used. With ``vectorized`` step_fn maps (n,dx), (n,du) -> (n,dx) and jacobian_fn (T,dx),
    (T,du) -> (T,dx,dx), (T,dx,du); finite differences and the line search then batch their
    calls (``line_search_batch`` step sizes per batched rollout, largest first: most accepted
    steps are among the first few). ``u_min``/``u_max`` (scalar or (du,)) bound the controls
    (box-QP of Tassa 2014); the finite differences then stay inside the bounds (see
    finite_difference_jacobians).
    ``penalty(states (T+1,dx))`` -> (value (T+1,), gradient (T+1,dx), Hessian (T+1,dx,dx)),
    optional, is a state cost subtracted from the reward (e.g. ``box_penalty``): the objective
    maximised is the task reward minus its sum, expanded to second order like the reward.

    Regularisation: mu starts at ``mu_init``, grows by the factor schedule (Delta_0 =
    ``mu_factor``) when the regularised -Q_aa is not positive definite or the line search over
    alpha = 0.5^j, j = 0..``max_backtracks``, finds no step, and shrinks after an accepted
    step. With ``step_band`` = (low, high) the accepted step alpha steers mu like a trust
    region instead: alpha < low raises mu by the factor Delta_0 (the local model held only
    for a short step, so the next step should be more conservative), low <= alpha < high keeps
    it, only alpha >= high lowers it. On strongly non-linear problems (a chaotic multi-link
    swing-up) Tassa's rule drives mu to 0 after every success and then accepts steps of
    alpha ~ 1e-3; a mu that keeps the accepted step near 1 gains far more per iteration.
    Stops (converged) when an accepted full step (alpha = 1) improves the objective by
    less than ``tolerance`` relative, or when with mu = 0 the predicted improvement is that small;
    stops (not converged) when mu exceeds ``mu_max``, after ``max_iterations``, or, with a
    ``stall_window`` > 0, when the last ``stall_window`` iterations together improved the
    objective by at most ``stall_tolerance`` |J| + ``stall_absolute`` (the slow creep of a
    far-from-quadratic problem, where a fixed budget is better spent elsewhere).
    ``callback(iteration, objective, mu, alpha)`` is called after each iteration with the
    objective of the nominal, the updated mu and the accepted step (alpha = 0 when none was
    taken).
    Raises ValueError on shape mismatches and when step_fn gives NaN or inf on the initial
    rollout or in the Jacobians (naming the time step); a line-search trial that diverges is
    just rejected.
    """
    x0, actions, lower, upper = _check_inputs(reward, x0, u_init, u_min, u_max)
    states = _rollout(step_fn, x0, actions, vectorized)
    objective = _Objective(reward, penalty)
    J = objective(states, actions)
    alphas = 0.5 ** np.arange(max_backtracks + 1)
    schedule = _Regularization(mu_init, mu_min, mu_factor)
    history = [J]
    local = _local_problem(step_fn, jacobian_fn, objective, states, actions, fd_step, vectorized,
                           lower, upper)
    backward, current = None, False
    converged, message = False, 'reached max_iterations = %d' % max_iterations
    iteration = 0
    while iteration < max_iterations:
        iteration += 1
        alpha = 0.0
        trial = _backward(local, schedule.mu, actions, lower, upper)
        if trial is None:
            schedule.increase()
        elif _flat(trial, J, tolerance) and (
                schedule.mu == 0.0
                or _flat(_backward(local, 0.0, actions, lower, upper), J, tolerance)):
            # nothing left to gain even for the unregularised (Newton) step
            converged = True
            message = 'predicted improvement %.3g below tolerance' % sum(trial.expected)
            backward, current = trial, True
        else:
            backward, current = trial, True
            found = _line_search(step_fn, objective, (states, actions, J), backward, alphas,
                                 lower, upper, vectorized, min_ratio, line_search_batch)
            if found is None:
                schedule.increase()
            else:
                alpha, states, actions, J_new = found
                improvement, J = J_new - J, J_new
                if step_band is not None and alpha < step_band[0]:
                    schedule.nudge()
                elif step_band is None or alpha >= step_band[1]:
                    schedule.decrease()
                local = _local_problem(step_fn, jacobian_fn, objective, states, actions,
                                       fd_step, vectorized, lower, upper)
                current = False
                if improvement < tolerance * abs(J) and alpha == alphas[0]:
                    # a full step gained next to nothing (a cut step that gains little only
                    # says that the local model is poor there)
                    converged = True
                    message = 'relative improvement %.3g below tolerance' % (
                        improvement / abs(J))
        history.append(J)
        if callback is not None:
            callback(iteration, J, schedule.mu, alpha)
        if converged:
            break
        if schedule.mu > mu_max:
            message = 'mu = %.3g exceeded mu_max = %.3g' % (schedule.mu, mu_max)
            break
        if stall_window and iteration >= stall_window and (
                J - history[-1 - stall_window] <= stall_tolerance * abs(J) + stall_absolute):
            message = 'stalled: gained %.3g relative over the last %d iterations' % (
                (J - history[-1 - stall_window]) / abs(J), stall_window)
            break
    if not current:
        backward = _backward(local, schedule.mu, actions, lower, upper) or backward
    T, du, dx = actions.shape[0], actions.shape[1], x0.shape[0]
    K = backward.K if backward is not None else np.zeros((T, du, dx))
    k = backward.k if backward is not None else np.zeros((T, du))
    return ILQRResult(states, actions, K, k, objective.task_reward(states, actions), iteration,
                      np.array(history), converged, schedule.mu, message, J)


def _backward(local, mu, actions, lower, upper):
    """
    Run the regularised backward pass, limits moved to deviation coordinates.

    Returns None when the regularised -Q_aa is not positive definite (mu too small).
    """
    dynamics, step, terminal = local
    bounds = () if lower is None else (lower - actions, upper - actions)
    try:
        return regularized_backward_pass(dynamics, step, terminal, mu, *bounds)
    except NotPositiveDefiniteError:
        return None


def _flat(backward, J, tolerance):
    """Return whether the predicted improvement dV_1 + dV_2 is below ``tolerance`` |J|."""
    return backward is not None and sum(backward.expected) <= tolerance * abs(J)
