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
The exact-model iLQR reference of a task: the limit the learnt policies approach.

``ilqr_reference`` runs iLQR (ps_control.core.ilqr) on the PyBullet dynamics by finite
differences, in stages from several starts, and caches the result in <out>/<task>/ilqr.json;
``ps-control train`` draws it on the reward figures (thesis Fig. 6.1 / 6.3) and reports each
learner's final reward as a ratio of it.
"""

import json
import os
import time

import numpy as np

from ps_control.atomic_file import write_json_atomically
from ps_control.tasks import load_task


# Settings of the exact-model iLQR reference (``ilqr_reference``). Part of the cache key: a
# cached <out>/<task>/ilqr.json computed with other settings is recomputed.
ILQR_REFERENCE = {
    'version': 2,
    # initial control sequences (ilqr_initial_controls); each is screened, the best refined
    'starts': ('zero', 'pump', 'random'),
    'seed': 0,  # of the 'random' start and of the sampled initial states of the policy check
    # joint position limits: quadratic penalty weight (per rad^2 and step) within margin (rad)
    'limit_weight': 1e6,
    'limit_margin': 0.4,
    # iteration budgets of the stages (see ilqr_reference)
    'screen_iterations': 60,
    'penalised_iterations': 100,
    'exact_iterations': 100,
    'rounds': 2,
    'tail_iterations': 60,
    'final_iterations': 30,
    # the tail starts where the state reward's time weight first reaches this share of its peak
    'tail_weight': 0.01,
    'max_backtracks': 20,
    'step_band': (0.1, 0.5),
    # a stage stops once stall_window iterations together gained at most stall_tolerance |J|
    # + stall_scale |J_down|, J_down the reward of hanging down without torque
    'stall_window': 20,
    'stall_tolerance': 1e-3,
    'stall_scale': 1e-6,
    'fd_scheme': 'forward',
    'policy_rollouts': 25,  # sampled initial states for the feedback law's reward
}


def ilqr_initial_controls(task, model, start, seed=0):
    """
    Return the initial controls (T, du) of one iLQR start, within the torque limits.

    'zero': no torque. 'pump': the rollout (on ``model``, a FiniteDifferenceDynamics) of a
    bang-bang energy pump: full torque on joint 1 in the direction of its velocity, the other
    joints held straight by a saturated PD law (2 tau_max / rad, 0.2 tau_max s / rad).
    'random': piecewise-linear torques through 11 knots drawn uniformly from half the limits
    (numpy Generator with ``seed``).
    """
    T, du = task.horizon, task.du
    limit = np.asarray(task.torque_limits, dtype=float)
    if start == 'zero':
        return np.zeros((T, du))
    if start == 'random':
        knots = np.random.default_rng(seed).uniform(-0.5, 0.5, (11, du)) * limit
        where = np.linspace(0.0, 10.0, T)
        return np.stack([np.interp(where, np.arange(11), knots[:, j]) for j in range(du)],
                        axis=1)
    if start == 'pump':
        x = np.asarray(task.initial_state_mean, dtype=float)
        controls = np.zeros((T, du))
        for t in range(T):
            q, qd = x[:du], x[du:]
            controls[t, 0] = limit[0] if qd[0] >= 0.0 else -limit[0]
            controls[t, 1:] = np.clip(-limit[1:] * (2.0 * q[1:] + 0.2 * qd[1:]), -limit[1:],
                                      limit[1:])
            x = model.step(x, controls[t])
        return controls
    raise ValueError('unknown iLQR start %r (zero, pump or random)' % (start,))


class _ReferenceStages:
    """
    The stages of ``ilqr_reference`` on one task, each an ``ilqr`` run that records itself.

    penalised: the task reward minus a joint-limit penalty (ilqr.box_penalty), so that the
    swing-up stays off the simulator's joint limits, where the limit constraint makes f
    non-smooth and a trajectory pinned against a limit gets no useful gradient. exact: the task
    reward alone. tail: only the controls from the step where the state reward's time weight
    becomes noticeable (``tail_weight``) to T, on the reward of those steps from the state
    reached there, a block-coordinate step: the early swing is so sensitive that full-horizon
    steps must be tiny, which starves the hold at the top. All run on the same true dynamics
    and start from the previous stage's controls, so the reward never decreases (the
    penalised stage maximises reward minus penalty).
    """

    def __init__(self, task, model, settings):
        from ps_control.core.ilqr import box_penalty

        self.task, self.model, self.settings = task, model, settings
        limit = np.asarray(task.torque_limits, dtype=float)
        self.x0 = np.asarray(task.initial_state_mean, dtype=float)
        self.reward = task.quadratic_reward()
        free = np.full(task.du, np.inf)
        self.penalty = box_penalty(np.concatenate([task.joint_lower, -free]),
                                   np.concatenate([task.joint_upper, free]),
                                   settings['limit_weight'], settings['limit_margin'])
        hanging = self.reward.evaluate(np.tile(self.x0, (task.horizon + 1, 1)),
                                       np.zeros((task.horizon, task.du)))
        self.options = {
            'jacobian_fn': lambda X, U: model.linearize(X, U)[:2], 'vectorized': True,
            'u_min': -limit, 'u_max': limit, 'max_backtracks': settings['max_backtracks'],
            'step_band': tuple(settings['step_band']), 'stall_window': settings['stall_window'],
            'stall_tolerance': settings['stall_tolerance'],
            'stall_absolute': settings['stall_scale'] * abs(float(hanging))}
        weights = task.time_weights()
        first = np.flatnonzero(weights >= settings['tail_weight'] * weights.max())[0]
        self.tail_start = int(min(first, task.horizon - 1))
        self.log = []

    def run(self, stage, controls, iterations):
        """Run a 'penalised' or 'exact' stage over the whole horizon; return the ILQRResult."""
        from ps_control.core.ilqr import ilqr

        began = time.time()
        penalty = self.penalty if stage == 'penalised' else None
        result = ilqr(self.model.step, self.reward, self.x0, controls, penalty=penalty,
                      max_iterations=iterations, **self.options)
        self.log.append({'stage': stage, 'reward': float(result.reward),
                         'objective': float(result.objective),
                         'iterations': int(result.iterations), 'message': result.message,
                         'converged': bool(result.converged),
                         'seconds': round(time.time() - began, 2)})
        return result

    def tail(self, result):
        """Run the tail stage from ``result``; return the whole horizon's new controls."""
        from ps_control.core import QuadraticReward
        from ps_control.core.ilqr import ilqr

        began, t = time.time(), self.tail_start
        reward = QuadraticReward(self.reward.M[t:], self.reward.H[t:], self.reward.z[t:],
                                 self.reward.y[t:])
        end = ilqr(self.model.step, reward, result.states[t], result.actions[t:],
                   max_iterations=self.settings['tail_iterations'], **self.options)
        self.log.append({'stage': 'tail', 'from_step': t, 'iterations': int(end.iterations),
                         'gain': float(end.reward - end.history[0]), 'message': end.message,
                         'converged': bool(end.converged),
                         'seconds': round(time.time() - began, 2)})
        return np.concatenate([result.actions[:t], end.actions])

    def take_log(self):
        """Return the stages recorded since the last call."""
        log, self.log = self.log, []
        return log


def _ilqr_policy_rollouts(task, result, n, seed):
    """Return (mean reward, success rate) of the iLQR feedback law from n sampled x0."""
    sim = task.make_simulator(n_robots=n)
    try:
        x0 = task.sample_initial_states(n, np.random.default_rng(seed))
        rollouts = sim.rollout(result.policy(), x0, noise=False)
    finally:
        sim.close()
    rewards = task.reward(rollouts.states, rollouts.torques)
    return float(np.mean(rewards)), float(np.mean(task.success(rollouts.states)))


def ilqr_reference(task_name, out_dir, quiet=False, settings=None):
    """
    Return the exact-model iLQR optimum of the task's reward (cached in <out>/<task>/ilqr.json).

    iLQR (ps_control.core.ilqr: control-limited box-QP backward pass, finite differences from
    inside the torque box) runs on the PyBullet dynamics (ps_control.sim.finite_difference)
    from the mean initial state. A swing-up has many local optima, and iLQR from rest does not
    reach one that swings up without help, so (``_ReferenceStages``, ``ILQR_REFERENCE``):

    1. screening: every start of ``starts`` (``ilqr_initial_controls``) gets a penalised
       stage of ``screen_iterations``; the one with the best penalised objective goes on;
    2. refinement of that one: penalised (``penalised_iterations``), exact
       (``exact_iterations``), then ``rounds`` times a tail stage and an exact stage of
       ``final_iterations``.

    The result is the limit a learnt policy approaches (a local optimum of the exact problem:
    a lower bound on the true optimum). Deterministic.

    The dict (and file) holds 'reward' (of the trajectory from the mean initial state),
    'success' (the task's swing-up test on it), 'best_start', 'screening' (each start's
    penalised result), 'stages' of the refinement, 'iterations', 'converged' (the last stage
    stopped on its tolerance), the trajectory ('states', 'actions', 'final_state'), the
    feedback law's mean reward and success rate from ``policy_rollouts`` sampled initial
    states ('policy_reward', 'policy_success_rate'), 'seconds', 'settings' and
    'task_fingerprint'. A cached file is reused only if it was computed with the same settings
    for the same task definition (``Task.fingerprint``).
    """
    from ps_control.sim.finite_difference import FiniteDifferenceDynamics
    from ps_control.sim.simulator import DivergenceError

    settings = dict(ILQR_REFERENCE, **(settings or {}))
    key = json.loads(json.dumps(settings))  # tuples as lists, as read back from the file
    task = load_task(task_name)
    path = os.path.join(out_dir, task.name, 'ilqr.json')
    begin = time.time()

    def report(text):
        if not quiet:
            print('[%s iLQR, %.0f s] %s' % (task.name, time.time() - begin, text), flush=True)

    if os.path.exists(path):
        try:
            with open(path) as handle:
                cached = json.load(handle)
            if (cached.get('settings') == key
                    and cached.get('task_fingerprint') == task.fingerprint()):
                return cached
        except (OSError, ValueError, AttributeError) as error:  # a cache: recompute it
            report('cached reference %s is unreadable (%s): recomputing it' % (path, error))

    sim = task.make_simulator(n_robots=1)
    try:
        stages = _ReferenceStages(task, FiniteDifferenceDynamics(sim, scheme=settings[
            'fd_scheme']), settings)
        screening, diverged = [], []
        for start in settings['starts']:
            try:  # the pump start spins a horizontal arm until it diverges: skip such a start
                controls = ilqr_initial_controls(task, stages.model, start, settings['seed'])
                result = stages.run('penalised', controls, settings['screen_iterations'])
            except DivergenceError as error:
                stages.take_log()
                diverged.append('%s (%s)' % (start, error))
                report('screening start %s: %s; skipped' % (start, error))
                continue
            screening.append((result, dict(stages.take_log()[0], start=start)))
            report('screening start %s: reward %.6g, objective %.6g'
                   % (start, result.reward, result.objective))
        if not screening:
            raise DivergenceError('every iLQR start diverged: %s' % '; '.join(diverged))
        result, best = max(screening, key=lambda item: item[0].objective)
        result = stages.run('penalised', result.actions, settings['penalised_iterations'])
        result = stages.run('exact', result.actions, settings['exact_iterations'])
        for _ in range(settings['rounds']):
            result = stages.run('exact', stages.tail(result), settings['final_iterations'])
        log = stages.take_log()
    finally:
        sim.close()
    success = bool(task.success(result.states[None])[0])
    report('start %s refined: reward %.6g, swing-up %s'
           % (best['start'], result.reward, 'yes' if success else 'no'))
    policy_reward, policy_success = _ilqr_policy_rollouts(
        task, result, settings['policy_rollouts'], settings['seed'])
    reference = {'reward': float(result.reward), 'success': success,
                 'best_start': best['start'],
                 'iterations': int(sum(s['iterations'] for s in log)
                                   + sum(s['iterations'] for _, s in screening)),
                 'converged': log[-1]['converged'], 'final_state': result.states[-1].tolist(),
                 'policy_reward': policy_reward, 'policy_success_rate': policy_success,
                 'seconds': round(time.time() - begin, 1),
                 'screening': [entry for _, entry in screening], 'stages': log,
                 'states': result.states.tolist(), 'actions': result.actions.tolist(),
                 'settings': key, 'task_fingerprint': task.fingerprint()}
    write_json_atomically(path, reference, indent=1)
    report('reference reward %.6g, swing-up %s; feedback law from %d sampled initial states: '
           'reward %.6g, success %.0f%%' % (reference['reward'], 'yes' if success else 'no',
                                            settings['policy_rollouts'], policy_reward,
                                            100 * policy_success))
    return reference
