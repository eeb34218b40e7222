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
``ps-control train``: the thesis experiments (ch. 6, Fig. 6.1-6.4) as a batch job, no ROS.

For each algorithm and trial a PolicySearch (ps_control.learning) runs on the task's PyBullet
model: every iteration samples N rollouts of the current policy in one batched simulation,
updates the policy, prints a progress line and checkpoints the trial, so an interrupted run
resumes where it stopped (rerun the same command). Trials run in parallel processes. At the end
it writes results JSON and two figures like the thesis's: the expected reward per iteration
(mean and spread over trials, the exact-model iLQR optimum as a dashed line) and the maximum
per-step policy KL per iteration.

    ps-control train double_pendulum --algo gps saps esaps --trials 10 --iterations 25
    (--samples defaults to learning.samples of config/<task>.yaml: 25 here)
    ps-control train quad_pendulum --algo gps esaps --trials 10 --iterations 50 --samples 100
"""

import argparse
from concurrent.futures import as_completed, ProcessPoolExecutor
import json
import os
import sys
import time

import numpy as np

from ps_control import plotting
from ps_control.learning import ALGORITHMS, load_learning_config, PolicySearch
from ps_control.tasks import known_tasks, load_task


def trial_paths(out_dir, task_name, algorithm, trial):
    """Return (checkpoint, result JSON) paths of one trial."""
    base = os.path.join(out_dir, task_name, algorithm, 'trial_%02d' % trial)
    return base + '.npz', base + '.json'


def run_trial(task_name, algorithm, trial, iterations, samples, seed, out_dir, overrides=None,
              quiet=False):
    """
    Run (or resume) one trial and return its metric history (a list of dicts).

    The trial's random stream is derived from (seed, trial) only, so a trial gives the same
    numbers whichever process runs it; the checkpoint holds everything needed to continue.
    """
    task = load_task(task_name)
    values = dict(overrides or {})
    values.update({'algorithm': algorithm, 'iterations': iterations, 'samples': samples,
                   'seed': seed + trial})
    config = load_learning_config(task, values)
    checkpoint, result_path = trial_paths(out_dir, task.name, algorithm, trial)
    if os.path.exists(checkpoint):
        search = PolicySearch.load(checkpoint, task, {'iterations': iterations})
    else:
        search = PolicySearch(task, config)
    sim = task.make_simulator(n_robots=samples)
    try:
        while search.iteration < config.iterations:
            rng = np.random.default_rng([seed, trial, search.iteration])
            start = time.time()
            rollouts = sim.rollout(search.policy, task.sample_initial_states(samples, rng), rng)
            valid = rollouts.valid()
            if valid.n < max(2, samples // 2):
                raise RuntimeError('%s %s trial %d iteration %d: %d of %d rollouts diverged'
                                   % (task.name, algorithm, trial, search.iteration + 1,
                                      rollouts.n - valid.n, rollouts.n))
            metrics = search.update(valid.states, valid.torques)
            metrics['diverged'] = int(rollouts.n - valid.n)
            metrics['seconds'] = time.time() - start
            search.save(checkpoint)
            if not quiet:
                print('[%s %-5s trial %2d] iter %3d  reward %12.2f  success %4.2f  max KL %7.3f'
                      '  entropy %6.2f  sat %4.2f  (%.1fs)'
                      % (task.name, algorithm, trial, metrics['iteration'],
                         metrics['expected_reward'], metrics['success_rate'],
                         metrics['max_policy_kl'], metrics['mean_entropy'],
                         metrics['saturation'], metrics['seconds']), flush=True)
    finally:
        sim.close()
    with open(result_path, 'w') as handle:
        json.dump({'task': task.name, 'algorithm': algorithm, 'trial': trial,
                   'history': search.history}, handle, indent=1)
    return search.history


def ilqr_reference(task_name, out_dir, quiet=False):
    """
    Return the exact-model iLQR optimum of the task's reward (cached in <out>/<task>/ilqr.json).

    iLQR (ps_control.core.ilqr) runs on the PyBullet dynamics with finite-difference Jacobians
    from the mean initial state under the torque limits: the limit a learnt policy approaches.
    """
    from ps_control.core.ilqr import ilqr
    from ps_control.sim.finite_difference import FiniteDifferenceDynamics

    task = load_task(task_name)
    path = os.path.join(out_dir, task.name, 'ilqr.json')
    if os.path.exists(path):
        with open(path) as handle:
            return json.load(handle)
    sim = task.make_simulator(n_robots=1)
    try:
        model = FiniteDifferenceDynamics(sim)
        limits = np.asarray(task.torque_limits, dtype=float)
        result = ilqr(model.step, task.quadratic_reward(), np.asarray(task.initial_state_mean),
                      np.zeros((task.horizon, task.du)),
                      jacobian_fn=lambda X, U: model.linearize(X, U)[:2], vectorized=True,
                      u_min=-limits, u_max=limits, max_iterations=200)
    finally:
        sim.close()
    reference = {'reward': float(result.reward), 'iterations': int(result.iterations),
                 'converged': bool(result.converged),
                 'final_state': np.asarray(result.states[-1]).tolist()}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as handle:
        json.dump(reference, handle, indent=1)
    if not quiet:
        print('[%s iLQR] reward %.2f after %d iterations (converged: %s)'
              % (task.name, reference['reward'], reference['iterations'],
                 reference['converged']), flush=True)
    return reference


def summarise(task_name, histories, reference):
    """Return the summary dict: final rewards, iterations-to-reach-GPS, ratios to iLQR."""
    summary = {'task': task_name, 'ilqr_reward': reference and reference['reward']}
    curves = {a: np.array([[m['expected_reward'] for m in h] for h in hs])
              for a, hs in histories.items()}
    for algorithm, rewards in curves.items():
        success = np.array([[m['success_rate'] for m in h] for h in histories[algorithm]])
        entry = {'final_reward_mean': float(rewards[:, -1].mean()),
                 'final_reward_std': float(rewards[:, -1].std()),
                 'final_success_rate': float(success[:, -1].mean())}
        if reference:
            entry['final_reward_over_ilqr'] = float(rewards[:, -1].mean() / reference['reward'])
        summary[algorithm] = entry
    if 'gps' in curves:
        target = curves['gps'][:, -1].mean()
        for algorithm, rewards in curves.items():
            reached = np.flatnonzero(rewards.mean(0) >= target)
            summary[algorithm]['iterations_to_gps_final'] = (
                int(reached[0]) + 1 if reached.size else None)
    return summary


def write_figures(task_name, histories, reference, out_dir):
    """Write the reward (Fig. 6.1/6.3) and maximum policy KL (Fig. 6.2/6.4) figures."""
    rewards = {a.upper(): np.array([[m['expected_reward'] for m in h] for h in hs])
               for a, hs in histories.items()}
    kls = {a.upper(): np.array([[m['max_policy_kl'] for m in h] for h in hs])
           for a, hs in histories.items()}
    n = next(iter(rewards.values())).shape[1]
    x = np.arange(1, n + 1)
    base = os.path.join(out_dir, task_name)
    paths = [plotting.plot_curves(base + '_reward.png', x, rewards, xlabel='iteration',
                                  ylabel='expected reward (sampled)',
                                  title='%s: expected reward' % task_name,
                                  reference=reference and reference['reward'],
                                  reference_label='iLQR optimum (exact model)'),
             plotting.plot_curves(base + '_max_kl.png', x, kls, xlabel='iteration',
                                  ylabel='max_t E KL(pi_t || q_t)',
                                  title='%s: maximum policy step' % task_name)]
    return paths


def parse_arguments(argv):
    parser = argparse.ArgumentParser(prog='ps-control train', description=__doc__.split('\n')[1])
    parser.add_argument('task', help='task name (%s) or a task YAML file'
                        % ', '.join(known_tasks()))
    parser.add_argument('--algo', nargs='+', default=['gps', 'saps', 'esaps'],
                        help='algorithms (%s)' % ', '.join(ALGORITHMS))
    parser.add_argument('--trials', type=int, default=10)
    parser.add_argument('--iterations', type=int, default=None,
                        help='default: learning.iterations of the task file')
    parser.add_argument('--samples', type=int, default=None,
                        help='rollouts per iteration (default: learning.samples)')
    parser.add_argument('--epsilon', type=float, default=None)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--jobs', type=int, default=os.cpu_count() or 1)
    parser.add_argument('--out', default='results', help='output folder (default ./results)')
    parser.add_argument('--no-ilqr', action='store_true', help='skip the iLQR reference')
    args = parser.parse_args(argv)
    unknown = sorted(set(args.algo) - set(ALGORITHMS))
    if unknown:
        parser.error('unknown algorithm(s) %s; choose from %s'
                     % (', '.join(unknown), ', '.join(ALGORITHMS)))
    if args.trials < 1 or args.jobs < 1:
        parser.error('--trials and --jobs must be >= 1')
    return args


def main(argv=None):
    """Run the experiment described by the command line; return the exit status."""
    args = parse_arguments(sys.argv[1:] if argv is None else argv)
    try:
        task = load_task(args.task)
    except ValueError as error:
        print('ps-control train: %s' % error, file=sys.stderr)
        return 2
    defaults = load_learning_config(task)
    iterations = args.iterations or defaults.iterations
    samples = args.samples or defaults.samples
    overrides = {'epsilon': args.epsilon}
    jobs = [(a, trial) for a in args.algo for trial in range(args.trials)]
    histories = {a: [None] * args.trials for a in args.algo}
    print('%s: %s x %d trials x %d iterations x %d rollouts, %d processes -> %s'
          % (task.name, '/'.join(args.algo), args.trials, iterations, samples, args.jobs,
             args.out), flush=True)
    start = time.time()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(run_trial, args.task, a, trial, iterations, samples, args.seed,
                               args.out, overrides): (a, trial) for a, trial in jobs}
        reference_future = None
        if not args.no_ilqr:
            reference_future = pool.submit(ilqr_reference, args.task, args.out)
        for future in as_completed(futures):
            algorithm, trial = futures[future]
            histories[algorithm][trial] = future.result()
        reference = None if reference_future is None else reference_future.result()
    summary = summarise(task.name, histories, reference)
    summary['wall_seconds'] = time.time() - start
    with open(os.path.join(args.out, '%s_results.json' % task.name), 'w') as handle:
        json.dump({'summary': summary, 'histories': histories}, handle, indent=1)
    for path in write_figures(task.name, histories, reference, args.out):
        print('wrote %s' % path)
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
