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
The learning loop shared by the batch trainer (ps-control train) and the learner node.

One iteration of model-based policy search (thesis sec. 3.4, "linearization by sampling"):

1. the caller runs N rollouts of ``search.policy`` on the true system (PyBullet or a robot) and
   hands over the visited states (N, T+1, dx) and the policy's actions (N, T, du) as sampled,
   before the effort limits clip them, and optionally the torques applied (default: the
   actions clipped to the task's effort limits);
2. ``update`` records the sampled expected reward (of the applied torques), success
   rate and torque saturation of those rollouts, fits time-varying linear-Gaussian dynamics to
   them (with the GMM prior over recent iterations), fits the initial state distribution, and
   improves the policy with GPS, SAPS or ESAPS under the task's quadratic reward,
   warm-starting the multipliers from the last update.

The dynamics are fitted to the policy's actions, not to the applied torques: the torque limits
are part of the system the policy acts on, so the fitted model maps what the policy commands to
where the system goes, and where a joint saturates it learns that commanding more does nothing.
Fitted to the clipped torques, the model credits the policy with torques the motors never apply:
the update (eq. 3.7b, 4.9) assumes a distribution over actions that the motors cannot realise,
and plans on it. On the double pendulum, whose swing-up saturates on about half of its steps,
this decides whether the learners swing up (docs/experiments.md). cbfinn/gps does the
same: its samples store the policy's actions (agent_mjc.py) and any clipping is left to the
simulator.

No ROS, no PyBullet: the caller owns the system. ``save`` / ``PolicySearch.load`` write and read
an atomic, validated checkpoint (ps_control.checkpoint) so long runs resume exactly where they
stopped. The settings come from the task file's ``learning:`` section
(ps_control.learning_config).

G-MDS and G-AMDS (``g_mds``, ``g_amds``: mirror descent search on DMP parameters) are the other
kind of learner: it runs one policy per rollout (each a sampled DMP tracked by a linear-Gaussian
policy) and scores the measured movement, see ps_control.mds_learning. ``make_search`` /
``load_search`` return the right learner for the configured algorithm; both kinds offer
``policy`` (the policy to keep running), ``episode_count`` and ``episode_policy(j)`` (what each
rollout of an iteration runs), ``update(states, actions)``, ``history``, ``save`` and ``load``.
"""

import numpy as np

from ps_control.checkpoint import (check_checkpoint_task, checked_array, checkpoint_config,
                                   checkpoint_meta, checkpoint_task, read_checkpoint, restoring,
                                   write_checkpoint)
from ps_control.core import (entropy_bound, esaps_update, GaussianState, gps_update,
                             limit_penalised_reward, LinearGaussianPolicy, saps_update,
                             separate_bounds_update)
from ps_control.core.dynamics_fit import DynamicsFitter
from ps_control.core.gaussian import entropy, NotPositiveDefiniteError
from ps_control.core.lqg import expected_reward, forward_pass
from ps_control.learning_config import ALGORITHMS, MIRROR_DESCENT_ALGORITHMS


def initial_policy(task, config):
    """
    Return the initial policy: PD control around the initial mean posture plus noise.

    u = Kp (q_0 - q) - Kd qd, i.e. K = [-Kp I, -Kd I], k = Kp q_0, cov = std^2 I, for the state
    x = [q, qd] of the task (n joints, dx = 2n).
    """
    n = task.du
    if task.dx != 2 * n:
        raise ValueError('the PD initial policy needs x = [q, qd] with dx = 2 du; task has '
                         'dx = %d, du = %d' % (task.dx, task.du))
    q0 = np.asarray(task.initial_state_mean, dtype=float)[:n]
    gain = np.hstack([-config.initial_policy_gain_p * np.eye(n),
                      -config.initial_policy_gain_d * np.eye(n)])
    return LinearGaussianPolicy.constant(task.horizon, gain, config.initial_policy_gain_p * q0,
                                         config.initial_policy_std)


class PolicySearch:
    """
    GPS / SAPS / ESAPS on a task, one iteration per ``update`` call.

    ``policy`` is the policy to run next; ``history`` the metrics of every update so far.

    With ``learning.step_adaptation`` the KL bounds are epsilon (and state_epsilon) times a
    multiplier adapted after every applied update as cbfinn/gps does
    (algorithm_traj_opt._update_step_size; ../shared/notes/reference_implementations.md, "Initial
    controller and step size"): with the model's predicted improvement of the last
    update, predicted = R_model(new policy) - R_model(old policy) on the model fitted then, and
    the improvement the true system realised, actual = R_samples(now) - R_samples(then), the
    multiplier is multiplied by predicted / (2 (predicted - actual)), clipped to [0.1, 5]: kept
    when half the prediction came true, grown when more did, shrunk when less did, and clipped
    to [step_multiplier_min, step_multiplier_max] (0.1 and 10 by default; cbfinn/gps allows
    down to 0.01). The thesis bounds every update by the same epsilon, so the thesis
    experiments run without it.
    """

    ADAPTATION_FACTOR_RANGE = (0.1, 5.0)  # cbfinn/gps's clip of one adaptation factor

    def __init__(self, task, config, policy=None):
        if config.algorithm not in ALGORITHMS:
            raise ValueError('PolicySearch runs %s, not %s (use learning.make_search)'
                             % (', '.join(ALGORITHMS), config.algorithm))
        self.task = task
        self.config = config
        self.policy = policy if policy is not None else initial_policy(task, config)
        if self.policy.K.shape != (task.horizon, task.du, task.dx):
            raise ValueError('policy K has shape %s, the task needs %s'
                             % (self.policy.K.shape, (task.horizon, task.du, task.dx)))
        self.reward = task.quadratic_reward()
        self.history = []
        self.alpha = None
        self.beta = None
        self.gamma = None  # the state-KL multipliers of the separate bounds
        self.recent = []  # (states, actions) of the last prior_iterations updates
        self.fitter = None  # the last fit's DynamicsFitter (fit_dynamics)
        self._marginals = None  # ((policy, model, x0), marginals) of model_marginals' last call

    @property
    def step_multiplier(self):
        """Return the multiplier of the last update's KL bounds (1 without step adaptation)."""
        return float(self.history[-1].get('step_multiplier', 1.0)) if self.history else 1.0

    def next_step_multiplier(self, sampled_reward):
        """
        Return the multiplier for this iteration's update, given its rollouts' mean reward.

        The rule is in the class docstring. Without a last applied update to judge (the first
        iteration, or a kept policy), or with a non-positive or non-finite predicted improvement,
        the last multiplier stays.
        """
        config, multiplier = self.config, self.step_multiplier
        if not config.step_adaptation or not self.history:
            return multiplier
        last = self.history[-1]
        if 'predicted_reward' not in last or 'model_reward' not in last:
            return multiplier
        predicted = last['predicted_reward'] - last['model_reward']
        actual = sampled_reward - last['expected_reward']
        if not np.isfinite(predicted) or not np.isfinite(actual) or predicted <= 0:
            return multiplier
        low, high = self.ADAPTATION_FACTOR_RANGE
        factor = predicted / (2.0 * max(predicted - actual, predicted / (2.0 * high)))
        return float(np.clip(multiplier * max(factor, low), config.step_multiplier_min,
                             config.step_multiplier_max))

    @property
    def iteration(self):
        return len(self.history)

    @property
    def episode_count(self):
        """Return the number of rollouts an iteration needs (learning.samples)."""
        return int(self.config.samples)

    def episode_policy(self, index):
        """Return the policy rollout ``index`` of this iteration runs: the same for all."""
        if not 0 <= index < self.episode_count:
            raise IndexError('episode %r of %d' % (index, self.episode_count))
        return self.policy

    def initial_state(self, states):
        """Fit the initial state Gaussian to the rollouts' first states (with a floor)."""
        x0 = states[:, 0]
        cov = np.cov(x0.T, bias=False) if x0.shape[0] > 1 else np.zeros((x0.shape[1],) * 2)
        cov = np.atleast_2d(cov) + self.config.state_covariance_floor * np.eye(x0.shape[1])
        return GaussianState(x0.mean(0), cov)

    def sample_metrics(self, states, actions, torques=None):
        """
        Return the true-system metrics of rollouts of the current policy.

        The reward is that of the applied ``torques`` (what the motors did; default the
        policy's ``actions`` clipped to the task's effort limits); saturation is the share of
        action components the limits clipped (``saturation_share``). A robot or controller
        with other effort limits (``ps-control evaluate --on``, a controller node's
        ``effort_limits``) passes the torques it applied.
        """
        actions = np.asarray(actions, dtype=float)
        torques = applied_torques(self.task, actions, torques)
        rewards = np.asarray(self.task.reward(states, torques), dtype=float)
        return {
            'expected_reward': float(rewards.mean()),
            'reward_std': float(rewards.std()),
            'success_rate': float(np.mean(self.task.success(states))),
            'saturation': saturation_share(actions, torques),
        }

    def fit_dynamics(self, states, actions):
        """
        Fit per-step linear-Gaussian dynamics with the GMM prior over recent iterations.

        ``actions`` are the policy's actions before clipping (see the module docstring). The
        fitter, its GMM prior fitted to ``recent``, stays in ``fitter`` for a refit of the same
        rollouts (``update``). Deterministic: the GMM's seed depends on the iteration only.
        """
        self.recent.append((states, actions))
        del self.recent[:-self.config.prior_iterations]
        config = self.config
        self.fitter = DynamicsFitter(prior='gmm', max_clusters=config.prior_max_clusters,
                                     min_samples_per_cluster=config.prior_min_cluster_samples,
                                     max_samples=config.prior_max_rollouts,
                                     strength=config.prior_strength, ridge=config.fit_ridge,
                                     seed=config.seed + self.iteration)
        self.fitter.update_prior(np.concatenate([s for s, _ in self.recent]),
                                 np.concatenate([a for _, a in self.recent]))
        return self.fitter.fit(states, actions)

    def model_marginals(self, dynamics, x0):
        """
        Return the current policy's state-action marginals under a fitted model (eq. 3.7b).

        None where they overflow (a closed loop the model makes unstable). The last result is
        kept for the same (policy, model, initial state) objects: an update asks for the old
        policy's marginals twice with the effort-limit penalty and step adaptation both on.
        """
        policy = self.policy
        key = (policy, dynamics, x0)
        if self._marginals is not None and all(
                a is b for a, b in zip(self._marginals[0], key)):
            return self._marginals[1]
        with np.errstate(over='ignore', invalid='ignore'):
            try:
                marginals = forward_pass(dynamics, policy.K, policy.k, policy.cov, x0.mean,
                                         x0.cov)
            except ValueError:
                marginals = None
        self._marginals = (key, marginals)
        return marginals

    def model_reward(self, dynamics, x0):
        """
        Return the current policy's expected reward under a fitted model (eq. 3.7b).

        NaN where its state distribution under the model overflows: the next step adaptation
        then keeps its multiplier.
        """
        marginals = self.model_marginals(dynamics, x0)
        if marginals is None:
            return float('nan')
        with np.errstate(over='ignore', invalid='ignore'):
            return float(expected_reward(self.reward, marginals))

    def bounds(self, multiplier=1.0):
        """Return the KL bounds, epsilon and state_epsilon, each times ``multiplier``."""
        return self.config.epsilon * multiplier, self.config.state_epsilon * multiplier

    def update_reward(self, dynamics, x0, actions):
        """
        Return (the reward the update maximises, how many (step, joint) pairs are penalised).

        The task's reward, plus with ``limit_penalty`` > 0 the effort-limit penalty
        (ps_control.core.action_limits) quadratised at the current policy's mean actions under
        the fitted model, the model the update plans on (as iLQR quadratises at its nominal
        trajectory); where the model's marginals overflow, at the mean of the sampled
        ``actions`` (N, T, du). (Quadratised at the sampled means throughout, the pendulum
        figures came out within their trial-to-trial spread: docs/experiments.md.)
        """
        if self.config.limit_penalty == 0:
            return self.reward, 0
        marginals = self.model_marginals(dynamics, x0)
        if marginals is None or not np.all(np.isfinite(marginals.action_means)):
            mean_actions = actions.mean(axis=0)
        else:
            mean_actions = marginals.action_means
        reward, penalised = limit_penalised_reward(self.reward, mean_actions,
                                                   self.task.torque_limits,
                                                   self.config.limit_penalty)
        return reward, int(penalised.sum())

    def improve(self, dynamics, x0, multiplier=1.0, reward=None):
        """
        Run the configured KL-bounded update on the fitted model (thesis Alg. 1, 4, 5).

        The bounds are :meth:`bounds` at ``multiplier`` (step adaptation); ``reward`` is the
        task's unless given (:meth:`update_reward`).
        """
        algorithm = self.config.algorithm
        reward = self.reward if reward is None else reward
        eps, state_eps = self.bounds(multiplier)
        if algorithm == 'gps':
            return gps_update(dynamics, reward, self.policy, x0, eps, alpha0=self.alpha)
        if algorithm == 'saps':
            return saps_update(dynamics, reward, self.policy, x0, eps, alpha0=self.alpha)
        if algorithm == 'separate':
            return separate_bounds_update(dynamics, reward, self.policy, x0, eps, state_eps,
                                          alpha0=self.alpha, gamma0=self.gamma)
        delta = entropy_bound(self.policy, self.config.entropy_delta)
        return esaps_update(dynamics, reward, self.policy, x0, eps, delta=delta,
                            alpha0=self.alpha, beta0=self.beta)

    def update(self, states, actions, torques=None):
        """
        Run one iteration on rollouts of ``self.policy``; return and record its metrics.

        states (N, T+1, dx) visited states, actions (N, T, du) the policy's actions as sampled,
        before the effort limits clip them (passing the applied torques instead fits the model
        to them, which misleads the update wherever the torques saturate: see the module
        docstring). ``torques``: the torques applied, which the metrics score (default the
        actions clipped to the task's effort limits; see :meth:`sample_metrics`).

        If the update on the fitted model cannot be applied (:meth:`attempt`), the model is fitted
        again with ``refit_scale_floor`` and the update tried once more; metrics['refit'] then
        says why the first model's update failed. If the second fails too, the policy is kept
        (:meth:`kept_policy_metrics`). With ``limit_penalty`` the update maximises
        :meth:`update_reward`; metrics['limit_penalised'] counts its penalised (step, joint) pairs.
        """
        states, actions, torques = check_rollouts(self.task, states, actions, torques)
        metrics = {'iteration': self.iteration + 1, 'samples': int(states.shape[0])}
        metrics.update(self.sample_metrics(states, actions, torques))
        multiplier = self.next_step_multiplier(metrics['expected_reward'])
        if self.config.step_adaptation:
            metrics.update({'step_multiplier': multiplier,
                            'epsilon': self.bounds(multiplier)[0]})
        dynamics = self.fit_dynamics(states, actions)
        x0 = self.initial_state(states)
        reward, metrics['limit_penalised'] = self.update_reward(dynamics, x0, actions)
        result, rejection = self.attempt(dynamics, x0, multiplier, reward)
        if rejection is not None and self.config.refit_scale_floor > 0:
            floor = self.config.refit_scale_floor
            dynamics = self.fitter.fit(states, actions, floor)  # on the same prior
            result, second = self.attempt(dynamics, x0, multiplier, reward)
            if second is None:
                metrics['refit'] = str(rejection)  # why the first model's update was not used
                rejection = None
            else:
                rejection = '%s; refitted with scale floor %g: %s' % (rejection, floor, second)
        if rejection is not None:
            metrics.update(self.kept_policy_metrics(rejection))
            self.history.append(metrics)
            return metrics
        if self.config.step_adaptation:  # the old policy on the same model, for the next step
            metrics['model_reward'] = self.model_reward(dynamics, x0)
        self.policy = result.policy
        self.alpha, self.beta, self.gamma = result.alpha, result.beta, result.gamma
        # the new policy's task reward under the model (result's is of the penalised reward)
        predicted = (result.expected_reward if reward is self.reward
                     else self.model_reward(dynamics, x0))
        metrics.update({
            'predicted_reward': float(predicted),
            'max_kl': float(np.max(result.kl)),
            'max_policy_kl': float(np.max(result.policy_kl)),
            'max_state_kl': float(np.max(result.state_kl)),
            'mean_entropy': float(np.mean(result.entropy)),
            'dual_iterations': int(result.iterations),
            'dual_converged': bool(result.converged),
        })
        self.history.append(metrics)
        return metrics

    @staticmethod
    def update_note(metrics):
        """
        Return what an iteration's metrics say about its update beyond the numbers, or None.

        The reason the policy was kept ('update_error', :meth:`kept_policy_metrics`), or that the
        update was made on a refit ('refit', :meth:`update`). The trainer's progress lines and
        the learner node's log and diagnostics show it.
        """
        if 'update_error' in metrics:
            return metrics['update_error']
        if 'refit' in metrics:
            return 'updated on a refit (on the first fit: %s)' % metrics['refit']
        return None

    def attempt(self, dynamics, x0, multiplier=1.0, reward=None):
        """
        Return (UpdateResult or None, why it is not applied or None) of ``improve``.

        The reason is the NotPositiveDefiniteError when no update exists on the model, else
        :meth:`rejection`.
        """
        try:
            result = self.improve(dynamics, x0, multiplier, reward)
        except NotPositiveDefiniteError as error:
            return None, error
        return result, self.rejection(result, multiplier)

    def rejection(self, result, multiplier=1.0):
        """Return why an UpdateResult is not applied (``reject_kl_excess``), or None."""
        excess = self.kl_excess(result, multiplier)
        if result.converged or excess <= self.config.reject_kl_excess:
            return None
        return 'the dual search stopped unconverged %.3g times over the KL bound' % (1.0 + excess)

    def kl_excess(self, result, multiplier=1.0):
        """
        Return max_t (bound value_t / bound - 1) of an UpdateResult: how far it oversteps.

        The bounds are :meth:`bounds` at ``multiplier`` (step adaptation).

        The bound value is res.kl against epsilon (the state-action KL for SAPS / ESAPS), and
        for the separate bounds also the state KL against state_epsilon. A converged update
        oversteps by at most the core's tolerance (1 %); an update whose search stopped early
        may overstep far: before the search's retreat (ps_control.core.kl_update) three
        double-pendulum updates of one figure run stopped at 1.49, 28.6 and 462 times the bound,
        and applying such a policy is a jump the trust region exists to prevent.
        """
        epsilon, state_epsilon = self.bounds(multiplier)
        excess = float(np.max(result.kl)) / epsilon - 1.0
        if self.config.algorithm == 'separate':
            excess = max(excess, float(np.max(result.state_kl)) / state_epsilon - 1.0)
        return excess

    def kept_policy_metrics(self, error):
        """
        Return the update metrics of an iteration whose update is not applied.

        ``error`` says why: no update exists, or the one found oversteps its bound
        (``kl_excess``).

        The update raises NotPositiveDefiniteError when no multiplier gives a feasible solution
        on the fitted model (measured once in 500 quad-pendulum ESAPS updates: in closed loop
        with the previous policy the fitted model had spectral radii up to 25.9, the previous
        state covariances under it reached 1e10, and no state-distribution fixed point was
        found for any alpha).
        The policy and the multipliers are kept, the KLs are 0 and ``update_error`` says why;
        the next iteration samples afresh (its random stream depends on the iteration number)
        and fits a new model. Any other error (bad data) still stops the run.
        """
        return {'max_kl': 0.0, 'max_policy_kl': 0.0, 'max_state_kl': 0.0,
                'mean_entropy': float(np.mean(entropy(self.policy.cov))),
                'dual_iterations': 0, 'dual_converged': False,
                'update_error': 'no update, policy kept: %s' % error}

    # -- checkpoints -----------------------------------------------------------------------
    def save(self, path):
        """Write policy, multipliers, recent samples and history to ``path`` atomically."""
        arrays = {'K': self.policy.K, 'k': self.policy.k, 'cov': self.policy.cov}
        if self.alpha is not None:
            arrays['alpha'] = self.alpha
            arrays['beta'] = self.beta
        if self.gamma is not None:
            arrays['gamma'] = self.gamma
        for i, (s, a) in enumerate(self.recent):
            arrays['recent_states_%d' % i] = s
            arrays['recent_actions_%d' % i] = a
        write_checkpoint(path, arrays, checkpoint_meta(self.task, self.config,
                                                       history=self.history,
                                                       recent=len(self.recent)))

    @classmethod
    def load(cls, path, task, requested=None, contents=None):
        """
        Restore a PolicySearch from a checkpoint written by ``save``.

        A missing, truncated or inconsistent file raises ValueError naming the file and the
        problem; one of another run (task, horizon, settings) says it does not match.
        ``requested``: the learning settings asked for (``checkpoint.checkpoint_config``: only
        iterations and samples may differ from the checkpoint's).
        ``contents``: the file's ``read_checkpoint`` pair, if already read.
        """
        arrays, meta = read_checkpoint(path) if contents is None else contents
        with restoring(path):
            check_checkpoint_task(meta, task)
            config = checkpoint_config(meta, requested)
            if config.algorithm not in ALGORITHMS:
                raise ValueError('it holds a %s run, not one of %s'
                                 % (config.algorithm, ', '.join(ALGORITHMS)))
            T, dx, du = task.horizon, task.dx, task.du
            policy = LinearGaussianPolicy(checked_array(arrays, 'K', (T, du, dx)),
                                          checked_array(arrays, 'k', (T, du)),
                                          checked_array(arrays, 'cov', (T, du, du)))
            search = cls(task, config, policy)
            search.history = list(meta['history'])
            if 'alpha' in arrays:
                search.alpha = checked_array(arrays, 'alpha', (T,), low=0.0, strict=True)
                search.beta = checked_array(arrays, 'beta', (T,), low=0.0)
            if 'gamma' in arrays:
                search.gamma = checked_array(arrays, 'gamma', (T,), low=0.0)
            for i in range(meta['recent']):
                rollouts = arrays['recent_states_%d' % i].shape[:1]  # any number
                states = checked_array(arrays, 'recent_states_%d' % i, rollouts + (T + 1, dx))
                actions = checked_array(arrays, 'recent_actions_%d' % i, (len(states), T, du))
                search.recent.append((states, actions))
        return search


def check_rollouts(task, states, actions, torques=None, count=None, count_note=''):
    """
    Return rollouts as float arrays if they fit ``task``, else raise ValueError naming the fault.

    states (N, T+1, dx), actions and, if given, torques (N, T, du), all finite (a diverged
    rollout must never reach a dynamics fit or a score); N is ``count`` if given (then
    ``count_note`` says why, in the error), else at least 2.
    """
    states = np.asarray(states, dtype=float)
    T, dx, du = task.horizon, task.dx, task.du
    if states.ndim != 3 or states.shape[1:] != (T + 1, dx) or (
            count is not None and states.shape[0] != count):
        raise ValueError('states have shape %s, expected %s%s'
                         % (states.shape, ('N' if count is None else count, T + 1, dx),
                            count_note))
    n = states.shape[0]
    if count is None and n < 2:
        raise ValueError('need at least 2 rollouts, got %d' % n)
    arrays = {'states': states}
    for name, array in (('actions', actions), ('torques', torques)):
        if array is not None:
            arrays[name] = np.asarray(array, dtype=float)
            if arrays[name].shape != (n, T, du):
                raise ValueError('%s have shape %s, expected %s'
                                 % (name, arrays[name].shape, (n, T, du)))
    for name, array in arrays.items():
        bad = np.argwhere(~np.isfinite(array))
        if bad.size:
            raise ValueError('%s hold NaN or inf (rollout %d, time step %d): a diverged '
                             'rollout must not be fitted or scored' % (name, bad[0, 0], bad[0, 1]))
    return states, arrays['actions'], arrays.get('torques')


def applied_torques(task, actions, torques=None):
    """Return ``torques`` if given (what a robot applied), else the actions clipped to limits."""
    if torques is not None:
        return np.asarray(torques, dtype=float)
    limits = np.asarray(task.torque_limits, dtype=float)
    return np.clip(actions, -limits, limits)


def saturation_share(actions, torques):
    """Return the share of action components the effort limits clipped (torque != action)."""
    actions = np.asarray(actions, dtype=float)
    clipped = np.abs(actions - torques) > 1e-9 * np.maximum(1.0, np.abs(actions))
    return float(np.mean(clipped))


# -- every kind of learner ------------------------------------------------------------------------
def evaluate_policy(search, sim, n, rng, return_rollouts=False, start=None):
    """
    Return the true-system metrics of ``search.policy`` on fresh rollouts: sampled and mean.

    Iteration i's rollouts are of the policy before update i, so the history never shows the
    policy a run ends with. Here it runs ``n`` times from initial states drawn with ``rng``:
    'sampled', u ~ pi_t (the controller node with explore true), and 'mean_action', u = K_t x
    + k_t (explore false), from the same initial states. ``ps-control train`` passes the
    generator the iteration after the last would use, so with n = samples the 'sampled'
    rollouts are that iteration's. Each is a dict of the learner's ``sample_metrics`` over the
    rollouts that stayed finite, 'diverged' (how many did not) and 'success_rate' over all n (a
    diverged rollout does not succeed). Works for every learner (``make_search``). With
    ``return_rollouts`` it returns (that dict, the simulator's Rollouts by the same names).
    ``start``: the task whose initial state distribution is sampled (default the learner's; with
    ``sim`` another robot's, see ``ps-control evaluate --on``). The scores are the learner's
    (its reward and success test) of the torques ``sim`` applied, within its effort limits.
    """
    x0 = (search.task if start is None else start).sample_initial_states(n, rng)
    result, runs = {}, {}
    for name, noise in (('sampled', True), ('mean_action', False)):
        rollouts = runs[name] = sim.rollout(search.policy, x0, rng, noise=noise)
        valid = rollouts.valid()
        metrics = search.sample_metrics(valid.states, valid.actions,
                                        valid.torques) if valid.n else {
            'expected_reward': float('nan'), 'success_rate': 0.0}
        metrics['success_rate'] *= valid.n / rollouts.n
        metrics['diverged'] = int(rollouts.n - valid.n)
        result[name] = metrics
    return (result, runs) if return_rollouts else result


def make_search(task, config):
    """Return a new learner for ``config.algorithm``: PolicySearch or ArmViaPointSearch."""
    if config.algorithm in MIRROR_DESCENT_ALGORITHMS:
        from ps_control.mds_learning import ArmViaPointSearch
        return ArmViaPointSearch(task, config)
    return PolicySearch(task, config)


def load_search(path, task, requested=None, checkpoint_horizon=False):
    """
    Restore the learner of a checkpoint, whichever algorithm it ran (see ``make_search``).

    The file is read once. ``checkpoint_horizon``: restore it on ``task`` with the horizon the
    checkpoint ran with (``checkpoint.checkpoint_task``); otherwise ``task``'s horizon must be
    that one. The restored learner's ``task`` is the task it runs.
    """
    contents = read_checkpoint(path)
    if checkpoint_horizon:
        task = checkpoint_task(contents, task)
    algorithm = (contents[1].get('config') or {}).get('algorithm')
    if algorithm in MIRROR_DESCENT_ALGORITHMS:
        from ps_control.mds_learning import ArmViaPointSearch
        return ArmViaPointSearch.load(path, task, requested, contents)
    return PolicySearch.load(path, task, requested, contents)
