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
G-MDS and G-AMDS on a robot arm: the arm via-point task of Miyashita et al. 2018 (sec. 4.2).

The learning loop of the ``g_mds`` and ``g_amds`` algorithms, shared by the learner node and
batch runs (same interface as ps_control.learning.PolicySearch, built by
``learning.make_search``). One iteration:

1. ``episode_policy(j)``: the search distribution N(mu_k, sigma^2 I) over the DMP weights (D
   joints x B basis functions) gives N samples, drawn from the seed and the iteration number
   (so a resumed run draws the same ones). Sample j's DMP joint trajectory becomes a
   time-varying linear-Gaussian policy (ps_control.core.tracking_policy): computed-torque
   control,

       u = c tau_ID(q, qd, ydd_t) + M(y_t) (w^2 (y_t - q) + 2 zeta w (yd_t - qd)),

   linearised about the DMP reference (y_t, yd_t): the feed-forward to first order,
   c [tau_ID(y_t, yd_t, ydd_t) + J_q (q - y_t) + J_qd (qd - yd_t)] with J the Jacobians of the
   inverse dynamics, so K_t = [c J_q - w^2 M(y_t), c J_qd - 2 zeta w M(y_t)] and k_t from the
   reference. M is the joint-space inertia and tau_ID = M(q) qdd + C(q, qd) qd the inverse
   dynamics of the arm (ps_control.tasks.planar_arm, recursive Newton-Euler), c =
   tracking_feedforward, w = tracking_frequency, zeta = tracking_damping_ratio (Siciliano et
   al., Robotics: Modelling, Planning and Control, 2009, sec. 8.5.2: inverse dynamics control).
   Every joint's tracking error then obeys e'' + 2 zeta w e' + w^2 e = 0 near the reference,
   whatever the inertia of the chain beyond it; the light distal links need this (gains on
   each joint's own inertia alone let the arm drift off the reference), and the 50-link arm
   also the J terms (at 200 Hz control its first mean movement diverges without them, not with
   them; config/arm_50.yaml). The arm's effort limits (urdf_gen.py) leave room for the paper's
   movement plus the feedback. Rollout N (with ``evaluate_mean``)
   runs the mean mu_k: the paper's evaluation rollout, not used by the update.
2. The caller runs each episode's policy on the robot (any controller that runs linear-Gaussian
   policies: the controller node, or the batched simulator) and hands back the measured states
   (N(+1), T+1, dx) and the policies' actions (before clipping; only their saturation is used).
3. ``update``: the paper's arm via-point cost (ps_control.tasks.via_point.ArmViaPoint, the same
   code as ``ps-control mds arm``) of the MEASURED movement: joint positions q_t, accelerations
   (qd_t+1 - qd_t) / dt, the end effector by the forward kinematics of the arm at the via-point
   time, and the control cost of each sample's DMP weights; then the G-MDS update
   (ps_control.core.mds, Algorithm 2: the mirror step of eq. 14 and the moment matching of
   eq. 15) or the G-AMDS update
   (ps_control.core.amds) with one total cost per sample.

The DMP is integrated at the task's control period dt over its horizon (the paper: 0.01 s, 50
steps); the via-point time (0.3 s) must be a multiple of dt within the horizon. The task must be
the paper's arm: a planar serial arm of D equal links of length 1/D starting straight (q = 0).
"""

import numpy as np

from ps_control.checkpoint import (check_checkpoint_task, checked_array, checkpoint_config,
                                   checkpoint_meta, read_checkpoint, restoring,
                                   write_checkpoint)
from ps_control.core.amds import AcceleratedMirrorDescentSearch
from ps_control.core.mds import MirrorDescentSearch
from ps_control.core.search_distribution import GaussianDensity
from ps_control.core.tracking_policy import inertia_scaled_gains, tracking_policy
from ps_control.learning import applied_torques, check_rollouts, saturation_share
from ps_control.learning_config import MIRROR_DESCENT_ALGORITHMS
from ps_control.sim.policies import noise_factors
from ps_control.tasks.planar_arm import PlanarArm
from ps_control.tasks.via_point import ArmViaPoint

DEFAULT_ALGORITHM = 'g_amds'  # of the command line
ROLLOUT_STREAM = 1  # run_batch: rollouts of update i draw from (seed, i, 1), samples (seed, i)


def arm_model(task, algorithm=DEFAULT_ALGORITHM):
    """
    Return the PlanarArm of ``task``, or raise ValueError if the task cannot run ``algorithm``.

    The via-point cost uses the paper's arm kinematics (D links of length 1/D from the origin,
    q = 0 straight along x), so the task's robot must be that arm and start straight.
    """
    name = getattr(task, 'name', '?')
    prefix = ('%s learns the via-point task of a planar arm (config/arm*.yaml); task %s '
              'cannot run it: ' % (algorithm, name))
    try:
        arm = PlanarArm.from_urdf(task.urdf_path)
    except ValueError as error:
        raise ValueError(prefix + str(error)) from None
    n = task.du
    if arm.n_joints != n:
        raise ValueError(prefix + 'its URDF has %d joints, the task %d' % (arm.n_joints, n))
    if not np.allclose(arm.offsets, 1.0 / n, rtol=1e-6, atol=1e-12):
        raise ValueError(prefix + "its links are %s m long, the paper's arm has %d links of "
                         '1/%d m' % (np.round(arm.offsets, 6).tolist(), n, n))
    start = np.asarray(task.initial_state_mean, dtype=float)
    if np.any(np.abs(start) > 1e-9):
        raise ValueError(prefix + 'its initial state mean is not the straight arm at rest '
                         '(q = 0, qd = 0)')
    return arm


def via_point_task(task, config):
    """Return the ArmViaPoint cost of ``task``: its joints, dt and horizon, config.dmp_basis."""
    try:
        return ArmViaPoint(task.du, config.dmp_basis, dt=task.dt,
                           duration=task.horizon * task.dt)
    except ValueError as error:
        raise ValueError('%s on task %s (%d steps of %g s): %s'
                         % (config.algorithm, getattr(task, 'name', '?'), task.horizon, task.dt,
                            error)) from None


class ArmViaPointSearch:
    """G-MDS or G-AMDS on the arm via-point task, one iteration per ``update`` (module doc)."""

    def __init__(self, task, config):
        if config.algorithm not in MIRROR_DESCENT_ALGORITHMS:
            raise ValueError('ArmViaPointSearch runs %s, not %s'
                             % (' or '.join(MIRROR_DESCENT_ALGORITHMS), config.algorithm))
        self.task = task
        self.config = config
        self.arm = arm_model(task, config.algorithm)
        self.via = via_point_task(task, config)
        start = self.via.initial_params().ravel()
        if config.algorithm == 'g_mds':
            self.optimizer = MirrorDescentSearch.gaussian(
                start, config.search_std, config.samples, config.mirror_step,
                adapt_rate=config.search_adapt_rate)
        else:
            self.optimizer = AcceleratedMirrorDescentSearch.gaussian(
                start, config.search_std, config.samples, config.mirror_step, config.mirror_r,
                config.mirror_eps, adapt_rate=config.search_adapt_rate)
        self.history = []
        self._cache = None  # (iteration, parameters (episodes, D, B), policies)

    # -- what to run ---------------------------------------------------------------------------
    @property
    def iteration(self):
        return len(self.history)

    @property
    def n_samples(self):
        return int(self.config.samples)

    @property
    def episode_count(self):
        """Return the rollouts of an iteration: the samples, plus the mean with evaluate_mean."""
        return self.n_samples + (1 if self.config.evaluate_mean else 0)

    @property
    def mean(self):
        """Return the mean DMP weights (D, B) of the search distribution."""
        return np.reshape(self.optimizer.mean, self.via.param_shape)

    def samples(self):
        """Return this iteration's sampled DMP weights (N, D*B), drawn from (seed, iteration)."""
        return self._episodes()[1][:self.n_samples].reshape(self.n_samples, -1)

    def _episodes(self):
        if self._cache is None or self._cache[0] != self.iteration:
            rng = np.random.default_rng([self.config.seed, self.iteration])
            params = self.optimizer.sample(rng).reshape((-1,) + self.via.param_shape)
            if self.config.evaluate_mean:
                params = np.concatenate([params, self.mean[None]])
            self._cache = (self.iteration, params, self.tracking_policies(params))
        return self._cache

    def tracking_policies(self, params):
        """Return the tracking policies of DMP weights (M, D, B): one per row (module doc)."""
        traj = self.via.rollout(params)
        T = self.via.dmp.T
        y, yd, ydd = traj.y[:, :T], traj.yd[:, :T], traj.ydd
        kp, kd = inertia_scaled_gains(self.arm.mass_matrix(y), self.config.tracking_frequency,
                                      self.config.tracking_damping_ratio)
        share = self.config.tracking_feedforward
        feedforward = share * self.arm.inverse_dynamics(y, yd, ydd)
        jacobians = [None] * params.shape[0]  # no feed-forward, nothing to linearise
        if share != 0.0:  # 4 n inverse-dynamics evaluations per sample: skipped when unused
            J_q, J_qd = self.arm.inverse_dynamics_jacobians(y, yd, ydd)
            jacobians = [(share * J_q[j], share * J_qd[j]) for j in range(params.shape[0])]
        return [tracking_policy(y[j], yd[j], kp[j], kd[j], feedforward[j],
                                self.config.tracking_action_std, jacobians[j])
                for j in range(params.shape[0])]

    def episode_policy(self, index):
        """Return the policy rollout ``index`` of this iteration runs (sample j, or the mean)."""
        if not 0 <= index < self.episode_count:
            raise IndexError('episode %r of %d' % (index, self.episode_count))
        return self._episodes()[2][index]

    @property
    def policy(self):
        """Return the tracking policy of the search mean (what to run once learning is done)."""
        if self.config.evaluate_mean:
            return self.episode_policy(self.n_samples)
        return self.tracking_policies(self.mean[None])[0]

    # -- scoring and the update ----------------------------------------------------------------
    def measured_costs(self, states, params):
        """
        Return (costs (M,), via errors (M,)) of measured states (M, T+1, dx) of params (M, D, B).

        The paper's cost (ArmViaPoint.trajectory_costs) of the movement the robot made: its
        joint positions, its accelerations (qd_t+1 - qd_t) / dt and the forcing of the weights
        it ran; the via error is the distance of its end effector from the via-point at t_via.
        """
        n, dt = self.task.du, self.task.dt
        q, qd = states[..., :n], states[..., n:]
        acceleration = np.diff(qd, axis=-2) / dt
        forcing = self.via.dmp.forcing(params)
        costs = self.via.trajectory_costs(q, acceleration, forcing).sum(axis=-1)
        effector = self.via.effector(q[..., self.via.via_index, :])
        return costs, np.linalg.norm(self.via.via_point - effector, axis=-1)

    def sample_metrics(self, states, actions, torques=None):
        """
        Return the true-system metrics of rollouts (M, T+1, dx), (M, T, du) of ``policy``.

        ``policy`` runs the search mean's DMP, so each rollout is scored as the mean's: the
        paper's cost of the measured movement (expected_reward is minus its mean), via_error
        (the mean distance of the end effector from the via-point), success_rate (the share
        within via_tolerance) and saturation (of the applied ``torques``, default the actions
        clipped to the task's effort limits; ``learning.saturation_share``), as ``update``
        scores an iteration's rollouts.
        """
        states, actions = np.asarray(states, dtype=float), np.asarray(actions, dtype=float)
        params = np.broadcast_to(self.mean, (states.shape[0],) + self.via.param_shape)
        costs, errors = self.measured_costs(states, params)
        metrics = self._rollout_summary(costs, errors, actions, torques)
        metrics['via_error'] = float(errors.mean())
        return metrics

    def _rollout_summary(self, costs, errors, actions, torques=None):
        """Return expected_reward, reward_std, success_rate and saturation of scored rollouts."""
        torques = applied_torques(self.task, actions, torques)
        return {
            'expected_reward': -float(costs.mean()),
            'reward_std': float(costs.std()),
            'success_rate': float(np.mean(errors <= self.config.via_tolerance)),
            'saturation': saturation_share(actions, torques),
        }

    def update(self, states, actions, torques=None):
        """
        Run one G-MDS or G-AMDS update on the rollouts of this iteration's episode policies.

        states (M, T+1, dx), actions (M, T, du) before clipping: rollout j ran
        ``episode_policy(j)``; ``torques`` the torques applied (default the actions clipped to
        the task's effort limits). Returns and records the metrics: expected_reward (minus the mean
        cost of the sampled rollouts), mean_cost and via_error (the mean's rollout, with
        evaluate_mean), saturation (over all rollouts run, the mean's included), max_kl (KL of the
        update's weights on the samples to the uniform prior), mean_entropy (of the search
        distribution per parameter, nats), success_rate (sampled rollouts within via_tolerance),
        and for G-AMDS mixture_weight (lambda_k of eq. 16).
        """
        states, actions, torques = check_rollouts(
            self.task, states, actions, torques, count=self.episode_count,
            count_note=': one rollout per episode policy (%d samples%s)'
            % (self.n_samples, ' + the mean' if self.episode_count > self.n_samples else ''))
        _, params, _ = self._episodes()
        costs, errors = self.measured_costs(states, params)
        n = self.n_samples
        metrics = {'iteration': self.iteration + 1, 'samples': n,
                   **self._rollout_summary(costs[:n], errors[:n], actions, torques),
                   'sample_via_error': float(errors[:n].mean())}
        if self.config.evaluate_mean:
            metrics.update({'mean_cost': float(costs[n]), 'via_error': float(errors[n])})
        info = self.optimizer.update(params[:n].reshape(n, -1), costs[:n])
        std = np.broadcast_to(self.optimizer.density.std, self.optimizer.mean.shape)
        metrics.update({
            'max_kl': float(info['kl']),
            'mean_entropy': float(np.mean(0.5 * np.log(2.0 * np.pi * np.e * std ** 2))),
        })
        if 'lambda' in info:
            metrics['mixture_weight'] = float(info['lambda'])
        self.history.append(metrics)
        return metrics

    # -- checkpoints ---------------------------------------------------------------------------
    def _densities(self):
        """Return the optimiser's Gaussians by checkpoint prefix: density '', G-AMDS's z 'z_'."""
        densities = {'': self.optimizer.density}
        if isinstance(self.optimizer, AcceleratedMirrorDescentSearch):
            densities['z_'] = self.optimizer.z
        return densities

    def save(self, path):
        """Write the search distribution (G-AMDS: also z and k) and the history atomically."""
        densities, arrays = self._densities(), {}
        for prefix, density in densities.items():
            arrays[prefix + 'mean'] = density.mean
            arrays[prefix + 'std'] = np.broadcast_to(density.std, density.mean.shape)
        extra = {'k': int(self.optimizer.k)} if 'z_' in densities else {}
        write_checkpoint(path, arrays, checkpoint_meta(self.task, self.config,
                                                       history=self.history, **extra))

    @classmethod
    def load(cls, path, task, requested=None, contents=None):
        """
        Restore a g_mds or g_amds run from ``save`` (ValueError naming the file if unusable).

        ``requested``: the settings asked for (see ``PolicySearch.load``); ``contents``: the
        file's ``read_checkpoint`` pair, if already read.
        """
        arrays, meta = read_checkpoint(path) if contents is None else contents
        with restoring(path):
            check_checkpoint_task(meta, task)
            config = checkpoint_config(meta, requested)
            if config.algorithm not in MIRROR_DESCENT_ALGORITHMS:
                raise ValueError('it holds a %s run, not %s'
                                 % (config.algorithm, ' or '.join(MIRROR_DESCENT_ALGORITHMS)))
            search = cls(task, config)
            dim = search.optimizer.mean.size
            rate, floor = config.search_adapt_rate, search.optimizer.density.min_std
            restored = {}
            for prefix in search._densities():
                restored[prefix] = GaussianDensity(
                    checked_array(arrays, prefix + 'mean', (dim,)),
                    checked_array(arrays, prefix + 'std', (dim,), low=0.0, strict=True),
                    rate, floor)
            search.optimizer.density = restored['']
            if 'z_' in restored:
                search.optimizer.z = restored['z_']
                search.optimizer.k = int(meta['k'])
            search.history = list(meta['history'])
        return search


def rollout_episodes(search, simulator, x0, rng=None):
    """
    Run every episode policy of the search's iteration side by side; return (states, actions).

    ``simulator`` is a ps_control.sim.simulator.Simulator (or anything with its ``rollout``
    taking a callable policy); x0 (episode_count, dx) are the initial states. Each rollout j
    samples u_t ~ N(K_t x + k_t, cov_t) of ``episode_policy(j)``, as the controller node does.
    A rollout that diverges (a state beyond the task's divergence bound: the light distal links
    whipped round) is recorded at rest from then on with zero torque: the jump gives it a very
    high acceleration cost. (Through the nodes the simulator holds the state it reached instead,
    which costs as much; either way such a sample gets next to no weight.) The actions are the
    policies' before clipping, as the controller node reports them.
    """
    policies = [search.episode_policy(j) for j in range(search.episode_count)]
    K = np.stack([p.K for p in policies])
    k = np.stack([p.k for p in policies])
    factors = noise_factors(np.stack([p.cov for p in policies]))  # (episodes, T, du, du)
    rng = np.random.default_rng(rng)

    def act(t, x):
        noise = np.einsum('nij,nj->ni', factors[:, t], rng.standard_normal(k[:, t].shape))
        return np.einsum('nij,nj->ni', K[:, t], x) + k[:, t] + noise
    rollouts = simulator.rollout(act, x0, rng=rng, horizon=search.task.horizon)
    states, actions = rollouts.states, rollouts.actions
    if rollouts.diverged.any():
        rest = np.broadcast_to(simulator.rest_state(), states.shape)
        states = np.where(np.isnan(states), rest, states)
        actions = np.where(np.isnan(actions), 0.0, actions)
    return states, actions


def run_batch(search, simulator, iterations, seed=0, checkpoint=None, progress=None):
    """
    Run ``search`` to ``iterations`` updates on a batched simulator (no ROS); return its history.

    Initial states come from the task's distribution. Update i's rollouts draw from the generator
    of (seed, i, ROLLOUT_STREAM) alone (the search samples from (seed, i)), so a search restored
    from its checkpoint continues exactly as the uninterrupted run would. ``checkpoint`` (a path)
    is written after every update; ``progress(metrics)`` is called after every update.
    """
    task = search.task
    while search.iteration < iterations:
        rng = np.random.default_rng([seed, search.iteration, ROLLOUT_STREAM])
        x0 = task.sample_initial_states(search.episode_count, rng)
        states, actions = rollout_episodes(search, simulator, x0, rng)
        metrics = search.update(states, actions)
        if checkpoint:
            search.save(checkpoint)
        if progress is not None:
            progress(metrics)
    return search.history


def main(argv=None):
    """
    Command line: G-AMDS or G-MDS on an arm task with the batched simulator, no ROS.

    ``python -m ps_control.mds_learning arm [--algorithm g_mds]`` runs the same
    ArmViaPointSearch the learner node runs (the task's learning.mirror_descent and
    learning.<algorithm> sections) and prints the mean's measured cost and via-point distance
    every --report updates, then the wall time.
    """
    import argparse
    import os
    import sys
    import time

    from ps_control.cli_types import int_at_least
    from ps_control.learning import make_search
    from ps_control.learning_config import load_learning_config
    from ps_control.tasks import load_task

    parser = argparse.ArgumentParser(prog='python -m ps_control.mds_learning',
                                     description=main.__doc__.strip().splitlines()[0])
    parser.add_argument('task', help='arm task: arm, arm_2, arm_50 or a task YAML file')
    parser.add_argument('--algorithm', choices=MIRROR_DESCENT_ALGORITHMS,
                        help="default: %s, or the checkpoint's" % DEFAULT_ALGORITHM)
    parser.add_argument('--iterations', type=int_at_least(1),
                        help="default: the task's learning settings (learning.mirror_descent, "
                             "learning.<algorithm>), or resuming, the checkpoint's")
    parser.add_argument('--seed', type=int_at_least(0), help='default: learning.seed')
    parser.add_argument('--report', type=int_at_least(1), default=50, help='print every N updates')
    parser.add_argument('--checkpoint', help='checkpoint file written after every update; an '
                                             'existing one is resumed (to --iterations)')
    args = parser.parse_args(argv)
    overrides = {'algorithm': args.algorithm or DEFAULT_ALGORITHM}
    for name in ('iterations', 'seed'):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    try:
        task = load_task(args.task)
        config = load_learning_config(task, overrides)
        if args.checkpoint and os.path.exists(args.checkpoint):
            search = ArmViaPointSearch.load(args.checkpoint, task, {
                'algorithm': args.algorithm, 'iterations': args.iterations, 'seed': args.seed})
            config = search.config
            print('resuming %s after %d updates' % (args.checkpoint, search.iteration),
                  flush=True)
            if search.iteration >= config.iterations:
                print('nothing to do: the run has %d updates of the %d asked for (give more '
                      'with --iterations)' % (search.iteration, config.iterations), flush=True)
        else:
            search = make_search(task, config)
    except ValueError as error:
        parser.exit(2, '%s: error: %s\n' % (parser.prog, error))
    simulator = task.make_simulator(n_robots=search.episode_count)
    began = time.perf_counter()

    def progress(metrics):
        k = metrics['iteration']
        if k == 1 or k % args.report == 0 or k == config.iterations:
            print('update %4d  mean cost %.4g  via-point distance %.4f m  saturated %.3f  '
                  '%.1f s' % (k, metrics.get('mean_cost', -metrics['expected_reward']),
                              metrics.get('via_error', metrics['sample_via_error']),
                              metrics['saturation'], time.perf_counter() - began), flush=True)
    try:
        run_batch(search, simulator, config.iterations, seed=config.seed,
                  checkpoint=args.checkpoint, progress=progress)
    except KeyboardInterrupt:
        if args.checkpoint:
            kept = ('the checkpoint %s keeps the updates saved before: rerun the command to '
                    'resume' % args.checkpoint)
        else:
            kept = 'nothing is kept without --checkpoint'
        print('%s: interrupted; %s' % (parser.prog, kept), file=sys.stderr, flush=True)
        return 130
    finally:
        simulator.close()
    return 0


if __name__ == '__main__':
    import sys
    sys.exit(main())
