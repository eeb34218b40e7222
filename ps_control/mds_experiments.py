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
``ps-control mds``: the experiments of Miyashita et al. 2018, sec. 4 (Fig. 3-5, Tables 1-3).

    ps-control mds point                 # 2-DOF point, 100 updates, 20 basis functions
    ps-control mds arm --dof 10          # 10-DOF arm, 1000 updates, 100 basis functions
    ps-control mds arm --dof 50 --trials 10 --jobs 2 --out results/mds

Each (method, trial) runs in its own process and is saved as JSON the moment it finishes;
rerunning with the same settings skips finished trials. When all are done the command writes
``results.json``, ``cost.png`` (cost of the noiseless rollout of the mean vs number of rollouts,
mean +- std over trials, log scale), ``trajectory.png`` (point) or ``pose.png`` (arm pose at the
via-point time) and ``table.md`` (final cost, mean +- std) into ``OUT/<task>``.

G-AMDS runs by default with s = 133.3 (10 rollouts), not the reference code's s = 10: see
:func:`ps_control.core.amds.matched_step` and README ("Mirror descent search"). ``--gamds-step 10``
gives the reference constant.
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
from ps_control.core.amds import AcceleratedMirrorDescentSearch, matched_step
from ps_control.core.ereps import EpisodicREPS
from ps_control.core.mds import MirrorDescentSearch
from ps_control.core.pi2 import EXPLORATION, PI2
from ps_control.learning_config import DEFAULT_MIRROR_STEPS, LearningConfig
from ps_control.output_paths import check_output_folder
from ps_control.tasks.via_point import make_task, planar_arm_points
from ps_control.worker_pool import interruptible_pool

METHODS = {'gamds': 'G-AMDS', 'gmds': 'G-MDS', 'pi2': 'PI2', 'ereps': 'eREPS', 'mds': 'MDS',
           'amds': 'AMDS'}
PAPER_METHODS = ('gamds', 'gmds', 'pi2', 'ereps')
PAPER_UPDATES = {'point': 100, 'arm': 1000}
# m: the point task's own; the arm's is the learners' (LearningConfig.via_tolerance)
VIA_TOLERANCE = {'point': 0.01, 'arm': LearningConfig.via_tolerance}
# h of G-MDS (MirrorDescentSearch's default step), the paper's PI2 habit
GMDS_STEP = DEFAULT_MIRROR_STEPS['g_mds']
EREPS_KL = 2.0  # eREPS bound: the top of the note's 1-2; at 1 eREPS misses the 50-DOF via-point


def default_gamds_step(n_rollouts):
    """G-AMDS's default s: its x-step temperature equals G-MDS's step (README, mds)."""
    return matched_step(GMDS_STEP, n_rollouts)


def make_optimizer(method, task, sigma=1.0, n_rollouts=10, adapt_rate=0.0, eps_kl=EREPS_KL,
                   gamds_step=None, pi2_noise='step'):
    """
    Return the optimiser ``method`` (a key of METHODS) for ``task``, starting at theta = 0.

    ``gamds_step`` is G-AMDS's s; None gives :func:`default_gamds_step`, the s whose x-step
    weighs the normalised costs at G-MDS's temperature; 10 is the reference code's s.
    ``pi2_noise``: PI2's exploration, 'step' (the paper's) or 'episode' (core/pi2.py).
    """
    start = task.initial_params()
    if method == 'gamds':
        step = gamds_step if gamds_step is not None else default_gamds_step(n_rollouts)
        return AcceleratedMirrorDescentSearch.gaussian(start, sigma, n_rollouts, step,
                                                       adapt_rate=adapt_rate)
    if method == 'gmds':
        return MirrorDescentSearch.gaussian(start, sigma, n_rollouts, adapt_rate=adapt_rate)
    if method == 'pi2':
        return PI2(start, task.dmp.basis, task.dmp.psi, sigma, n_rollouts,
                   exploration=pi2_noise)
    if method == 'ereps':
        return EpisodicREPS(start, sigma, n_rollouts, epsilon=eps_kl)
    if method == 'mds':
        return MirrorDescentSearch.kernel(start, sigma, n_rollouts)
    if method == 'amds':
        return AcceleratedMirrorDescentSearch.kernel(start, sigma, n_rollouts)
    raise ValueError('unknown method %r: choose from %s' % (method, ', '.join(METHODS)))


def learning_step(optimizer, task, rng):
    """Sample rollouts, update the optimiser; return the mean cost of the sampled rollouts."""
    samples = optimizer.sample(rng)
    if optimizer.per_step_costs:
        costs, _ = task.step_costs(samples, time_varying=True)
        optimizer.update(samples, costs)
    else:
        costs, _ = task.step_costs(samples.reshape((-1,) + task.param_shape))
        optimizer.update(samples, costs.sum(axis=1))
    return float(costs.sum(axis=1).mean())


def run_trial(task, method, updates, n_rollouts=10, sigma=1.0, seed=0, trial=0, adapt_rate=0.0,
              eps_kl=EREPS_KL, progress=None, gamds_step=None, pi2_noise='step'):
    """
    Learn ``task`` with ``method`` for ``updates`` updates; return the trial's record.

    After each update one noiseless rollout of the mean is evaluated (sec. 4). The record holds
    ``costs`` (updates + 1 values, the first for theta = 0), the final mean, its trajectory and
    via-point error, and the wall time. ``progress(k, cost)`` is called every update if given.
    """
    if int(updates) != updates or updates < 1:
        raise ValueError('updates must be a positive integer, got %r' % (updates,))
    rng = np.random.default_rng([seed, trial])
    optimizer = make_optimizer(method, task, sigma, n_rollouts, adapt_rate, eps_kl, gamds_step,
                               pi2_noise)
    costs = [task.cost(task.initial_params())]
    began = time.perf_counter()
    for k in range(int(updates)):
        learning_step(optimizer, task, rng)
        costs.append(task.cost(np.reshape(optimizer.mean, task.param_shape)))
        if progress is not None:
            progress(k + 1, costs[-1])
    seconds = time.perf_counter() - began
    mean = np.reshape(optimizer.mean, task.param_shape)
    trajectory = task.rollout(mean[None])
    return {'method': method, 'trial': trial, 'costs': costs, 'final_cost': costs[-1],
            'via_error': task.via_error(mean), 'seconds': seconds,
            'updates_per_second': updates / seconds, 'mean': mean.tolist(),
            'trajectory': trajectory.y[0].tolist()}


def task_label(task_name, dof):
    return 'point' if task_name == 'point' else 'arm%d' % dof


def _trial_path(directory, method, trial):
    return os.path.join(directory, 'trials', '%s_trial%02d.json' % (method, trial))


# settings whose change reruns a saved trial (a trial is one record, not a checkpoint: it
# cannot be continued); a change of any other setting is refused rather than overwrite it
RERUN_SETTINGS = ('updates', 'rollouts')


def _load_finished(path, config):
    """
    Return the saved trial at ``path`` if it was run with ``config``, else None (run it).

    A trial saved with other settings is rerun when only RERUN_SETTINGS differ (the resume rule
    of checkpoint.checkpoint_config: iterations and samples may change); any other difference
    raises ValueError naming the settings, so that results are never overwritten by a run with
    another seed or step. A missing or unreadable file is run.
    """
    try:
        with open(path) as stream:
            data = json.load(stream)
        saved = dict(data['config'])
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if saved == config:
        return data
    differing = sorted(key for key in set(saved) | set(config)
                       if saved.get(key) != config.get(key) and key not in RERUN_SETTINGS)
    if differing:
        was = ', '.join('%s %r' % (key, saved.get(key)) for key in differing)
        asked = ', '.join('%r' % (config.get(key),) for key in differing)
        raise ValueError('%s was run with %s, not %s; use another --out folder (or remove the '
                         'file)' % (path, was, asked))
    return None


def _run_job(job):
    """Worker: run one (method, trial) and save it; returns the record."""
    config, path = job['config'], job['path']
    task = make_task(config['task'], config['dof'], config['basis'])
    updates = config['updates']
    every = max(1, updates // 4) if updates >= 200 else None
    label = '%s trial %d' % (METHODS[config['method']], job['trial'])

    def progress(k, cost):
        if every and k % every == 0 and k < updates:
            print('  %s: update %d/%d, cost %.4g' % (label, k, updates, cost), flush=True)

    record = run_trial(task, config['method'], updates, config['rollouts'], config['sigma'],
                       config['seed'], job['trial'], config['adapt_rate'], config['eps_kl'],
                       progress, config['gamds_step'], config.get('pi2_noise', 'step'))
    record['config'] = config
    write_json_atomically(path, record)
    return record


def summarise(records, n_rollouts, tolerance):
    """Return per-method statistics over trials (final cost mean/std, via errors, curves)."""
    summary = {}
    for method, trials in records.items():
        costs = np.array([r['costs'] for r in trials])
        final = costs[:, -1]
        errors = np.array([r['via_error'] for r in trials])
        summary[method] = {
            'label': METHODS[method], 'trials': len(trials),
            'final_cost_mean': float(final.mean()), 'final_cost_std': float(final.std()),
            'via_error_mean': float(errors.mean()), 'via_error_max': float(errors.max()),
            'within_tolerance': int(np.sum(errors <= tolerance)),
            'seconds_per_update': float(np.mean([1.0 / r['updates_per_second']
                                                 for r in trials])),
            'cost_mean': costs.mean(axis=0).tolist(), 'cost_std': costs.std(axis=0).tolist(),
            'rollouts': (np.arange(costs.shape[1]) * n_rollouts).tolist()}
    return summary


def format_table(summary, title, tolerance):
    """Return the markdown table of final costs (the paper's Tables 1-3) and via errors."""
    lines = ['### %s' % title, '',
             '| method | final cost (mean +- std) | via-point error mean / max | '
             'trials within %g | s / update |' % tolerance,
             '| --- | --- | --- | --- | --- |']
    for stats in summary.values():
        lines.append('| %s | %.4g +- %.3g | %.4f / %.4f | %d / %d | %.4f |' % (
            stats['label'], stats['final_cost_mean'], stats['final_cost_std'],
            stats['via_error_mean'], stats['via_error_max'], stats['within_tolerance'],
            stats['trials'], stats['seconds_per_update']))
    return '\n'.join(lines) + '\n'


def plot_point_trajectories(path, task, records):
    """Fig. 3 (right): the learnt point trajectories through the via-point."""
    fig, axes = plotting.new_figure(5.5, 5.0)
    for index, (method, trials) in enumerate(records.items()):
        colour = plotting.COLOURS[index % len(plotting.COLOURS)]
        for number, record in enumerate(trials):
            y = np.array(record['trajectory'])
            axes.plot(y[:, 0], y[:, 1], color=colour, alpha=0.5, linewidth=1.0,
                      label=METHODS[method] if number == 0 else None)
            axes.plot(*y[task.via_index], marker='.', color=colour)
    axes.plot(*task.via_point, marker='x', color='k', markersize=10, linestyle='none',
              label='via-point at %.2f s' % task.via_time)
    axes.plot(*task.start, marker='o', color='k', linestyle='none')
    axes.plot(*task.goal, marker='s', color='k', linestyle='none')
    axes.set_xlabel('x')
    axes.set_ylabel('y')
    axes.set_aspect('equal')
    axes.grid(True, alpha=0.3)
    axes.legend()
    return plotting.save_figure(fig, path)


def plot_arm_poses(path, task, records):
    """Fig. 4-5 (right): the arm over the movement and its pose at the via-point time."""
    methods = list(records)
    fig, axes = plotting.plt.subplots(1, len(methods), figsize=(3.6 * len(methods), 3.8),
                                      squeeze=False)
    for ax, method in zip(axes[0], methods):
        y = np.array(records[method][0]['trajectory'])
        points = planar_arm_points(y)
        for t in range(0, y.shape[0], 5):
            ax.plot(points[t, :, 0], points[t, :, 1], color='0.75', linewidth=0.8)
        pose = points[task.via_index]
        ax.plot(pose[:, 0], pose[:, 1], color='tab:blue', linewidth=2.0, marker='.',
                markersize=3)
        ax.plot(*task.via_point, marker='x', color='tab:red', markersize=10)
        ax.set_title('%s, t = %.2f s' % (METHODS[method], task.via_time))
        ax.set_aspect('equal')
        ax.set_xlim(-0.2, 1.05)
        ax.set_ylim(-0.2, 1.05)
        ax.grid(True, alpha=0.3)
    return plotting.save_figure(fig, path)


def _parse_methods(text):
    methods = [m.strip().lower() for m in text.split(',') if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise argparse.ArgumentTypeError('unknown method(s) %s: choose from %s'
                                         % (', '.join(unknown) or "''", ', '.join(METHODS)))
    return methods


def build_parser():
    parser = argparse.ArgumentParser(
        prog='ps-control mds',
        description='Mirror descent search experiments (Miyashita et al. 2018, sec. 4).')
    parser.add_argument('task', choices=('point', 'arm'), help='via-point task')
    parser.add_argument('--dof', type=int_at_least(1), default=None,
                        help='arm joints (10 or 50 in the paper; default 10); arm only')
    parser.add_argument('--methods', type=_parse_methods, default=list(PAPER_METHODS),
                        help='comma-separated, from %s (default %s)'
                        % (','.join(METHODS), ','.join(PAPER_METHODS)))
    parser.add_argument('--updates', type=int_at_least(1), default=None,
                        help='updates per trial (default: point 100, arm 1000)')
    parser.add_argument('--trials', type=int_at_least(1), default=10, help='default 10')
    parser.add_argument('--jobs', type=int_at_least(1), default=os.cpu_count() or 1,
                        help='parallel processes (default: number of CPUs)')
    parser.add_argument('--seed', type=int_at_least(0), default=0,
                        help='base seed (trial i uses [seed, i])')
    parser.add_argument('--out', default='mds_results',
                        help='output directory (default ./mds_results; each task writes to '
                             '<out>/point or <out>/arm<dof>)')
    parser.add_argument('--rollouts', type=int_at_least(2), default=10,
                        help='rollouts per update (default 10, >= 2)')
    parser.add_argument('--sigma', type=positive_float, default=1.0,
                        help='sampling standard deviation (paper: 1, unit covariance)')
    parser.add_argument('--basis', type=int_at_least(1), default=None,
                        help='basis functions per DOF (default: point 20, arm 100)')
    parser.add_argument('--adapt-cov', type=float, default=0.0, metavar='RATE',
                        help='diagonal covariance adaptation rate for G-MDS / G-AMDS '
                        "(default 0: the paper's fixed covariance)")
    parser.add_argument('--eps-kl', type=positive_float, default=EREPS_KL,
                        help='eREPS KL bound (default %g)' % EREPS_KL)
    parser.add_argument('--gamds-step', type=positive_float, default=None, metavar='S',
                        help='G-AMDS step s (default: x-step temperature = G-MDS step %g, '
                        's = %.4g for 10 rollouts; the reference code uses 10)'
                        % (GMDS_STEP, default_gamds_step(10)))
    parser.add_argument('--pi2-noise', choices=EXPLORATION, default='step',
                        help="PI2's exploration noise: redrawn every time step (the paper's, "
                        'default) or held over each rollout')
    return parser


def main(argv=None):
    """Run the ``ps-control mds`` sub-command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 0 <= args.adapt_cov <= 1:
        parser.error('--adapt-cov must be in [0, 1], got %r' % args.adapt_cov)
    if args.task == 'point' and args.dof is not None:
        parser.error('--dof applies to the arm only (the point task has 2 DOF)')
    try:
        check_output_folder(args.out, '--out')
    except ValueError as error:
        parser.error(str(error))
    dof = 10 if args.dof is None else args.dof
    updates = args.updates or PAPER_UPDATES[args.task]
    task = make_task(args.task, dof, args.basis)
    label = task_label(args.task, dof)
    directory = os.path.join(args.out, label)
    base = {'task': args.task, 'dof': task.n_dofs, 'basis': task.n_basis, 'updates': updates,
            'rollouts': args.rollouts, 'sigma': args.sigma, 'seed': args.seed,
            'adapt_rate': args.adapt_cov, 'eps_kl': args.eps_kl,
            'gamds_step': args.gamds_step or default_gamds_step(args.rollouts)}

    records = {m: [] for m in args.methods}
    jobs = []
    for method in args.methods:
        config = dict(base, method=method)
        if method == 'pi2':  # only PI2's trials depend on it
            config['pi2_noise'] = args.pi2_noise
        for trial in range(args.trials):
            path = _trial_path(directory, method, trial)
            try:
                done = _load_finished(path, config)
            except ValueError as error:
                print('ps-control mds: %s' % error, file=sys.stderr)
                return 2
            if done is not None:
                records[method].append(done)
            else:
                jobs.append({'config': config, 'trial': trial, 'path': path})
    print('%s: %d DOF, %d basis functions, %d updates x %d rollouts, sigma %g; %d of %d trials '
          'to run (%d already done) in %s' % (label, task.n_dofs, task.n_basis, updates,
                                              args.rollouts, args.sigma, len(jobs),
                                              len(jobs) + sum(map(len, records.values())),
                                              sum(map(len, records.values())), directory),
          flush=True)

    def report(done, record):
        records[record['method']].append(record)
        print('[%d/%d] %s trial %d: final cost %.4g, via-point error %.4f, %.1f s (%.1f updates/s)'
              % (done, len(jobs), METHODS[record['method']], record['trial'],
                 record['final_cost'], record['via_error'], record['seconds'],
                 record['updates_per_second']), flush=True)

    try:
        if args.jobs == 1 or len(jobs) <= 1:
            for done, job in enumerate(jobs, 1):
                report(done, _run_job(job))
        else:
            with interruptible_pool(min(args.jobs, len(jobs))) as pool:
                futures = [pool.submit(_run_job, job) for job in jobs]
                for done, future in enumerate(as_completed(futures), 1):
                    report(done, future.result())
    except KeyboardInterrupt:
        print('ps-control mds: interrupted; the finished trials are kept under %s: rerun the '
              'command to run the others' % directory, file=sys.stderr, flush=True)
        return 130

    for method in records:
        records[method].sort(key=lambda r: r['trial'])
    tolerance = VIA_TOLERANCE[args.task]
    summary = summarise(records, args.rollouts, tolerance)
    title = ('%s via-point task: final cost after %d updates (%d trials)'
             % ('2-DOF point' if args.task == 'point' else '%d-DOF arm' % task.n_dofs,
                updates, args.trials))
    if 'pi2' in records:
        title += '; PI2 noise %s' % ('per step' if args.pi2_noise == 'step' else 'per rollout')
    table = format_table(summary, title, tolerance)
    write_json_atomically(os.path.join(directory, 'results.json'),
                          {'config': base, 'methods': summary, 'via_tolerance': tolerance,
                           'pi2_noise': args.pi2_noise if 'pi2' in records else None})
    with open(os.path.join(directory, 'table.md'), 'w') as stream:
        stream.write(table)
    rollouts = np.arange(updates + 1) * args.rollouts
    plotting.plot_curves(os.path.join(directory, 'cost.png'), rollouts,
                         {METHODS[m]: [r['costs'] for r in records[m]] for m in records},
                         xlabel='number of rollouts', ylabel='cost of the noiseless rollout',
                         title=title.split(':')[0], log_y=True)
    if args.task == 'point':
        plot_point_trajectories(os.path.join(directory, 'trajectory.png'), task, records)
    else:
        plot_arm_poses(os.path.join(directory, 'pose.png'), task, records)
    print()
    print(table)
    print('wrote %s/{results.json,table.md,cost.png,%s}'
          % (directory, 'trajectory.png' if args.task == 'point' else 'pose.png'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
