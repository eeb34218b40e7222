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
resumes where it stopped (rerun the same command). Each trial ends by running the policy it
learnt on fresh rollouts (``evaluate_policy``). Trials run in parallel processes. At the
end it writes results JSON and two figures like the thesis's: the expected reward per iteration
(mean and spread over trials, the exact-model iLQR optimum of ps_control.ilqr_reference as a
dashed line) and the maximum per-step policy KL per iteration.

    ps-control train double_pendulum --algo gps saps esaps --trials 10 --iterations 25
    (--samples defaults to learning.samples of config/<task>.yaml: 25 here)
    ps-control train quad_pendulum --algo gps esaps --trials 10 --iterations 50 --samples 100
"""

import argparse
from concurrent.futures import as_completed
import json
import os
import sys
import time

import numpy as np

from ps_control import plotting
from ps_control.atomic_file import write_json_atomically
from ps_control.cli_types import int_at_least, positive_float
from ps_control.ilqr_reference import ilqr_reference
from ps_control.learning import evaluate_policy, PolicySearch
from ps_control.learning_config import ALGORITHMS, load_learning_config
from ps_control.output_paths import check_output_folder
from ps_control.tasks import known_tasks, load_task
from ps_control.worker_pool import interruptible_pool


class CheckpointError(ValueError):
    """A trial's checkpoint cannot be resumed (corrupt, or of another task or algorithm)."""


def trial_paths(out_dir, task_name, algorithm, trial):
    """Return (checkpoint, result JSON) paths of one trial."""
    base = os.path.join(out_dir, task_name, algorithm, 'trial_%02d' % trial)
    return base + '.npz', base + '.json'


def run_trial(task_name, algorithm, trial, iterations, samples, seed, out_dir, overrides=None,
              quiet=False, final_rollouts=None):
    """
    Run (or resume) one trial and return its record, the dict written to its result JSON.

    The record holds 'history' (the metrics of each iteration, a list of dicts) and
    'final_policy' (``evaluate_policy`` with ``final_rollouts`` rollouts, default
    ``samples``), besides 'task', 'algorithm' and 'trial'. The trial's random stream is derived
    from (seed, trial) only, so a trial gives the same numbers whichever process runs it; the
    checkpoint holds everything needed to continue.
    """
    task = load_task(task_name)
    values = dict(overrides or {})
    values.update({'algorithm': algorithm, 'iterations': iterations, 'samples': samples,
                   'seed': seed + trial})
    config = load_learning_config(task, values)
    checkpoint, result_path = trial_paths(out_dir, task.name, algorithm, trial)
    if os.path.exists(checkpoint):
        try:
            search = PolicySearch.load(checkpoint, task, values)
        except ValueError as error:
            raise CheckpointError('%s (delete %s to run this trial afresh, or use another '
                                  '--out)' % (error, checkpoint)) from None
    else:
        search = PolicySearch(task, config)
    if search.iteration > iterations and not quiet:
        print('[%s %-5s trial %2d] the checkpoint has %d iterations, more than the %d asked '
              'for: its results are those of all %d' % (task.name, algorithm, trial,
                                                        search.iteration, iterations,
                                                        search.iteration), flush=True)
    sim = task.make_simulator(n_robots=samples)
    try:
        while search.iteration < config.iterations:
            rng = np.random.default_rng([seed, trial, search.iteration])
            start = time.time()
            rollouts = sim.rollout(search.policy, task.sample_initial_states(samples, rng), rng)
            valid = rollouts.valid()
            needed = max(2, samples // 2)
            if valid.n < needed:
                raise RuntimeError('%s %s trial %d iteration %d: %d of %d rollouts diverged (a '
                                   "state beyond the task's divergence_bound %g, or NaN); the "
                                   'fit needs %d that did not'
                                   % (task.name, algorithm, trial, search.iteration + 1,
                                      rollouts.n - valid.n, rollouts.n, task.divergence_bound,
                                      needed))
            metrics = search.update(valid.states, valid.actions, valid.torques)
            metrics['diverged'] = int(rollouts.n - valid.n)
            metrics['seconds'] = time.time() - start
            search.save(checkpoint)
            if not quiet:
                bound = ('  bound %.3g' % metrics['epsilon']) if 'epsilon' in metrics else ''
                print('[%s %-5s trial %2d] iter %3d  reward %12.2f  success %4.2f  max KL %7.3f'
                      '%s  entropy %6.2f  sat %4.2f  (%.1fs)'
                      % (task.name, algorithm, trial, metrics['iteration'],
                         metrics['expected_reward'], metrics['success_rate'],
                         metrics['max_policy_kl'], bound, metrics['mean_entropy'],
                         metrics['saturation'], metrics['seconds']), flush=True)
                note = PolicySearch.update_note(metrics)
                if note is not None:
                    print('[%s %-5s trial %2d] iter %3d  %s'
                          % (task.name, algorithm, trial, metrics['iteration'], note),
                          flush=True)
        final_rollouts = samples if final_rollouts is None else final_rollouts
        final = evaluate_policy(search, sim, final_rollouts,
                                np.random.default_rng([seed, trial, search.iteration]))
    finally:
        sim.close()
    if not quiet:
        print('[%s %-5s trial %2d] final policy, %d fresh rollouts: success %4.2f sampled, '
              '%4.2f mean action; reward %.2f sampled, %.2f mean action'
              % (task.name, algorithm, trial, final_rollouts, final['sampled']['success_rate'],
                 final['mean_action']['success_rate'], final['sampled']['expected_reward'],
                 final['mean_action']['expected_reward']), flush=True)
    record = {'task': task.name, 'algorithm': algorithm, 'trial': trial,
              'history': search.history, 'final_policy': final}
    write_json_atomically(result_path, record, indent=1)
    return record


# Seconds per double-pendulum iteration relative to GPS (10-trial figure run, mean: GPS 0.25 s,
# SAPS 0.92 s, ESAPS 0.98 s; separate not measured there); orders the trials longest first.
ITERATION_COST = {'gps': 1.0, 'saps': 3.7, 'separate': 3.7, 'esaps': 3.9}


def summarise(task_name, histories, reference, finals=None):
    """
    Return the summary dict: final rewards, iterations-to-reach-GPS, ratios to iLQR.

    'final_reward_mean' / '_std' and 'final_success_rate' are of the last iteration's rollouts
    over the trials (the curves' end); with ``finals`` (per algorithm, the trials'
    ``evaluate_policy`` dicts) also the trials' mean success rate and reward of the
    policies they end with: 'final_policy_success_rate' and 'final_policy_reward_mean'
    (sampled actions), 'final_policy_mean_action_success_rate' and
    'final_policy_mean_action_reward_mean' (mean actions).
    """
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
        trial_finals = (finals or {}).get(algorithm)
        if trial_finals:
            for mode, prefix in (('sampled', 'final_policy_'),
                                 ('mean_action', 'final_policy_mean_action_')):
                entry[prefix + 'success_rate'] = float(np.mean(
                    [final[mode]['success_rate'] for final in trial_finals]))
                entry[prefix + 'reward_mean'] = float(np.mean(
                    [final[mode]['expected_reward'] for final in trial_finals]))
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
                        help='algorithms (%s; default gps saps esaps)' % ', '.join(ALGORITHMS))
    parser.add_argument('--trials', type=int_at_least(1), default=10,
                        help='independent trials per algorithm (default 10)')
    parser.add_argument('--iterations', type=int_at_least(1), default=None,
                        help='default: learning.iterations of the task file')
    parser.add_argument('--samples', type=int_at_least(2), default=None,
                        help='rollouts per iteration, >= 2 (default: learning.samples)')
    parser.add_argument('--epsilon', type=positive_float, default=None,
                        help="the KL bound per step (default: the algorithm's learning.epsilon)")
    parser.add_argument('--step-adaptation', action='store_true',
                        help='adapt the KL bounds to the realised improvement '
                             '(learning.step_adaptation; off in the thesis experiments)')
    parser.add_argument('--final-rollouts', type=int_at_least(1), default=None,
                        help='fresh rollouts of the final policy of each trial, with its '
                             'noise and with its mean action (default: --samples)')
    parser.add_argument('--seed', type=int_at_least(0), default=None,
                        help="trial i runs with seed + i (default: the task's learning.seed)")
    parser.add_argument('--jobs', type=int_at_least(1), default=os.cpu_count() or 1,
                        help='trials run in parallel processes (default: the number of CPUs, '
                             '%d here)' % (os.cpu_count() or 1))
    parser.add_argument('--out', default='results', help='output folder (default ./results)')
    parser.add_argument('--no-ilqr', action='store_true', help='skip the iLQR reference')
    args = parser.parse_args(argv)
    unknown = sorted(set(args.algo) - set(ALGORITHMS))
    if unknown:
        parser.error('unknown algorithm(s) %s; choose from %s'
                     % (', '.join(unknown), ', '.join(ALGORITHMS)))
    try:
        check_output_folder(args.out, '--out')
    except ValueError as error:
        parser.error(str(error))
    return args


def main(argv=None):
    """Run the experiment described by the command line; return the exit status."""
    args = parse_arguments(sys.argv[1:] if argv is None else argv)
    overrides = {'epsilon': args.epsilon, 'step_adaptation': args.step_adaptation or None}
    try:
        task = load_task(args.task)
        # the task file's iterations and samples for the algorithms run (not for its default
        # algorithm, which may be another learner: the arms' G-AMDS)
        configs = [load_learning_config(task, {'algorithm': a}) for a in args.algo]
        chosen = {}
        for name in ('iterations', 'samples'):
            values = sorted({getattr(config, name) for config in configs})
            if getattr(args, name) is None and len(values) > 1:
                raise ValueError('the task file gives %s different %s (%s): choose with --%s'
                                 % ('/'.join(args.algo), name,
                                    ', '.join(map(str, values)), name))
            chosen[name] = getattr(args, name) or values[0]
        iterations, samples = chosen['iterations'], chosen['samples']
        seed = configs[0].seed if args.seed is None else args.seed
        for algorithm in args.algo:  # each algorithm's settings, checked before any trial runs
            load_learning_config(task, dict(overrides, algorithm=algorithm,
                                            iterations=iterations, samples=samples))
    except ValueError as error:
        print('ps-control train: %s' % error, file=sys.stderr)  # it names the file
        return 2
    # longest trials first, so that no long trial starts last and runs alone at the end
    jobs = sorted(((a, trial) for a in args.algo for trial in range(args.trials)),
                  key=lambda job: -ITERATION_COST.get(job[0], 1.0))
    records = {a: [None] * args.trials for a in args.algo}
    print('%s: %s x %d trials x %d iterations x %d rollouts, %d processes -> %s'
          % (task.name, '/'.join(args.algo), args.trials, iterations, samples, args.jobs,
             args.out), flush=True)
    start = time.time()
    try:
        with interruptible_pool(args.jobs) as pool:
            reference, failed = _run_jobs(pool, args, task, jobs, records, iterations, samples,
                                          seed, overrides)
    except KeyboardInterrupt:
        print('ps-control train: interrupted; every trial keeps its last checkpoint under %s: '
              'rerun the command to resume' % args.out, file=sys.stderr, flush=True)
        return 130
    return _write_results(args, task, records, reference, failed, start)


def _run_jobs(pool, args, task, jobs, records, iterations, samples, seed, overrides):
    """
    Run the trials (and the iLQR reference) in ``pool``; return (reference, failures).

    The reference is None with ``--no-ilqr`` or when it could not be computed (a failure).
    """
    reference_future = None  # submitted first so it runs alongside the trials
    if not args.no_ilqr:
        reference_future = pool.submit(ilqr_reference, args.task, args.out)
    futures = {pool.submit(run_trial, args.task, a, trial, iterations, samples, seed,
                           args.out, overrides, final_rollouts=args.final_rollouts): (a, trial)
               for a, trial in jobs}
    failed = []
    for future in as_completed(futures):
        algorithm, trial = futures[future]
        try:
            records[algorithm][trial] = future.result()
        except Exception as error:  # one failed trial must not discard the others
            failed.append('%s trial %d: %s: %s' % (algorithm, trial,
                                                   type(error).__name__, error))
            checkpoint = trial_paths(args.out, task.name, algorithm, trial)[0]
            hint = ('' if isinstance(error, CheckpointError)
                    or not os.path.exists(checkpoint) else
                    ' (rerun the command to resume it from its last checkpoint, %s)'
                    % checkpoint)
            print('ps-control train: %s%s' % (failed[-1], hint), file=sys.stderr,
                  flush=True)
    reference = None
    if reference_future is not None:
        try:
            reference = reference_future.result()
        except Exception as error:  # the figures are drawn without it
            failed.append('iLQR reference: %s: %s' % (type(error).__name__, error))
            print('ps-control train: %s' % failed[-1], file=sys.stderr, flush=True)
    return reference, failed


def _write_results(args, task, records, reference, failed, start):
    """Write the results JSON and figures of the trials that finished; return the exit status."""
    records = {a: [r for r in rs if r is not None] for a, rs in records.items()}
    records = {a: rs for a, rs in records.items() if rs}
    if not records:
        print('ps-control train: every trial failed', file=sys.stderr)
        return 1
    histories = {a: [r['history'] for r in rs] for a, rs in records.items()}
    finals = {a: [r['final_policy'] for r in rs] for a, rs in records.items()}
    summary = summarise(task.name, histories, reference, finals)
    summary['failed_trials'] = failed
    summary['wall_seconds'] = time.time() - start
    write_json_atomically(os.path.join(args.out, '%s_results.json' % task.name),
                          {'summary': summary, 'histories': histories, 'final_policies': finals},
                          indent=1)
    for path in write_figures(task.name, histories, reference, args.out):
        print('wrote %s' % path)
    print(json.dumps(summary, indent=1))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
