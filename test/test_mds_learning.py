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

"""Short learning runs reduce the cost; the ``ps-control mds`` command and its resume."""

import json
import os

import numpy as np
from ps_control import mds_experiments, plotting
from ps_control.mds_experiments import make_optimizer, METHODS, run_trial
from ps_control.tasks.via_point import make_task, planar_arm_points
import pytest


@pytest.mark.parametrize('method', sorted(METHODS))
def test_short_point_runs_reduce_the_cost(method):
    task = make_task('point', n_basis=10)
    record = run_trial(task, method, updates=15, seed=1)
    costs = np.array(record['costs'])
    assert costs.shape == (16,)
    assert costs[-1] < 0.8 * costs[0]
    assert record['via_error'] < task.via_error(task.initial_params())


@pytest.mark.parametrize('method', ['gamds', 'gmds', 'pi2', 'ereps'])
def test_short_arm_runs_reduce_the_cost(method):
    task = make_task('arm', n_dofs=3, n_basis=8)
    record = run_trial(task, method, updates=20, seed=2)
    assert record['costs'][-1] < 0.9 * record['costs'][0]


def test_default_gamds_step_matches_gmds_and_learns_faster_than_the_reference_step():
    task = make_task('point', n_basis=10)
    optimizer = make_optimizer('gamds', task)
    assert optimizer.x_step == pytest.approx(mds_experiments.GMDS_STEP)
    assert make_optimizer('gamds', task, gamds_step=10.0).step == 10.0
    matched = run_trial(task, 'gamds', updates=30, seed=3)['costs'][-1]
    reference = run_trial(task, 'gamds', updates=30, seed=3, gamds_step=10.0)['costs'][-1]
    assert matched < 0.8 * reference


def test_pi2_with_noise_held_over_the_rollout_reaches_the_point_via_point():
    # The paper's settings (20 basis functions, 10 rollouts, sigma 1, 100 updates): per-step
    # noise ends 0.0248 from the via-point on average over 10 trials (README), held noise 0.0039.
    task = make_task('point')
    held = run_trial(task, 'pi2', 100, seed=0, trial=0, pi2_noise='episode')
    step = run_trial(task, 'pi2', 100, seed=0, trial=0)
    assert held['via_error'] <= 0.01 < step['via_error']
    assert held['final_cost'] < 0.8 * step['final_cost']


def test_trials_are_reproducible_and_seeded_per_trial():
    task = make_task('point', n_basis=5)
    first = run_trial(task, 'gamds', 3, seed=4, trial=1)['costs']
    assert run_trial(task, 'gamds', 3, seed=4, trial=1)['costs'] == first
    assert run_trial(task, 'gamds', 3, seed=4, trial=2)['costs'] != first


def test_unknown_method_and_bad_settings():
    task = make_task('point', n_basis=5)
    with pytest.raises(ValueError, match='unknown method'):
        make_optimizer('cma', task)
    with pytest.raises(ValueError, match='sigma'):
        make_optimizer('pi2', task, sigma=-1.0)
    with pytest.raises(ValueError, match='n_samples'):
        make_optimizer('ereps', task, n_rollouts=1)
    with pytest.raises(ValueError, match='updates'):
        run_trial(task, 'gmds', 0)


@pytest.mark.parametrize('argv', [['point', '--methods', 'gamds,cma'], ['cartpole'],
                                  ['point', '--sigma', '0'], ['point', '--rollouts', '1'],
                                  ['point', '--trials', '0'], ['point', '--gamds-step', '-1'],
                                  ['point', '--pi2-noise', 'constant'],
                                  ['point', '--dof', '10']])
def test_command_rejects_bad_arguments(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        mds_experiments.main(argv)
    assert exit_info.value.code == 2
    assert 'error' in capsys.readouterr().err


def test_command_writes_results_and_resumes(tmp_path, capsys):
    argv = ['point', '--methods', 'gamds,gmds', '--updates', '3', '--trials', '2', '--jobs', '1',
            '--basis', '5', '--out', str(tmp_path)]
    assert mds_experiments.main(argv) == 0
    out = capsys.readouterr().out
    assert '4 of 4 trials to run' in out and '| G-AMDS |' in out
    directory = tmp_path / 'point'
    for name in ('results.json', 'table.md', 'cost.png', 'trajectory.png'):
        assert (directory / name).stat().st_size > 0
    results = json.loads((directory / 'results.json').read_text())
    assert results['methods']['gmds']['trials'] == 2
    # The via-point distance of the final noiseless rollout, per trial and summarised.
    task = make_task('point', n_basis=5)
    errors = []
    for trial in range(2):
        record = json.loads((directory / 'trials' / ('gmds_trial%02d.json' % trial)).read_text())
        y = np.array(record['trajectory'])
        distance = np.linalg.norm(y[task.via_index] - task.via_point)
        assert record['via_error'] == pytest.approx(distance, rel=1e-12)
        assert record['via_error'] == pytest.approx(task.via_error(np.array(record['mean'])))
        errors.append(distance)
    stats = results['methods']['gmds']
    assert stats['via_error_mean'] == pytest.approx(np.mean(errors), rel=1e-12)
    assert stats['via_error_max'] == pytest.approx(np.max(errors), rel=1e-12)
    assert stats['within_tolerance'] == int(np.sum(np.array(errors) <= 0.01))
    assert results['via_tolerance'] == 0.01
    table = (directory / 'table.md').read_text()
    assert 'via-point error mean / max' in table
    assert '| G-MDS | %.4g +- %.3g | %.4f / %.4f |' % (
        stats['final_cost_mean'], stats['final_cost_std'], stats['via_error_mean'],
        stats['via_error_max']) in table
    assert len(results['methods']['gmds']['cost_mean']) == 4
    assert results['methods']['gmds']['rollouts'] == [0, 10, 20, 30]
    # Rerun: nothing left to do, same numbers.
    saved = sorted(os.listdir(directory / 'trials'))
    assert mds_experiments.main(argv) == 0
    assert '0 of 4 trials to run (4 already done)' in capsys.readouterr().out
    assert sorted(os.listdir(directory / 'trials')) == saved
    assert json.loads((directory / 'results.json').read_text()) == results
    # Another seed or step would overwrite the saved trials: refused, naming the setting.
    record = (directory / 'trials' / 'gmds_trial00.json').read_bytes()
    assert mds_experiments.main(argv + ['--seed', '5', '--sigma', '2']) == 2
    message = capsys.readouterr().err.strip()
    assert message.startswith('ps-control mds: ') and '\n' not in message
    assert 'was run with seed 0, sigma 1.0, not 5, 2.0; use another --out folder' in message
    assert (directory / 'trials' / 'gmds_trial00.json').read_bytes() == record
    # More updates (or other rollouts) rerun the trials (a trial record cannot be continued).
    longer = argv[:argv.index('--updates') + 1] + ['4'] + argv[argv.index('--updates') + 2:]
    assert mds_experiments.main(longer) == 0
    assert '4 of 4 trials to run (0 already done)' in capsys.readouterr().out
    record = json.loads((directory / 'trials' / 'gmds_trial00.json').read_text())
    assert record['config']['updates'] == 4 and len(record['costs']) == 5


def test_arm_command_draws_the_pose(tmp_path):
    argv = ['arm', '--dof', '3', '--methods', 'pi2', '--updates', '2', '--trials', '1',
            '--basis', '4', '--out', str(tmp_path)]
    assert mds_experiments.main(argv) == 0
    assert (tmp_path / 'arm3' / 'pose.png').stat().st_size > 0


def test_pi2_noise_option_reaches_pi2_and_only_its_trials(tmp_path, capsys):
    argv = ['point', '--methods', 'pi2,gmds', '--updates', '2', '--trials', '1', '--jobs', '1',
            '--basis', '5', '--out', str(tmp_path)]
    assert mds_experiments.main(argv) == 0
    trials = tmp_path / 'point' / 'trials'
    step = json.loads((trials / 'pi2_trial00.json').read_text())
    assert step['config']['pi2_noise'] == 'step'
    assert 'pi2_noise' not in json.loads((trials / 'gmds_trial00.json').read_text())['config']
    capsys.readouterr()
    # in the same folder the per-step PI2 trial would be overwritten: refused
    assert mds_experiments.main(argv + ['--pi2-noise', 'episode']) == 2
    assert "was run with pi2_noise 'step', not 'episode'" in capsys.readouterr().err
    assert json.loads((trials / 'pi2_trial00.json').read_text()) == step
    other = tmp_path / 'episode'
    assert mds_experiments.main(argv[:-1] + [str(other), '--pi2-noise', 'episode']) == 0
    held = json.loads((other / 'point' / 'trials' / 'pi2_trial00.json').read_text())
    assert held['config']['pi2_noise'] == 'episode'
    assert json.loads((other / 'point' / 'results.json').read_text())['pi2_noise'] == 'episode'
    assert 'PI2 noise per rollout' in (other / 'point' / 'table.md').read_text()
    task = make_task('point', n_basis=5)
    expected = run_trial(task, 'pi2', 2, seed=0, trial=0, pi2_noise='episode')
    assert held['costs'] == pytest.approx(expected['costs'], rel=1e-12)
    assert held['costs'] != step['costs']


def test_long_runs_report_their_progress_at_each_quarter(tmp_path, capsys):
    """From 200 updates on, a trial prints its cost after each quarter of them but the last."""
    argv = ['point', '--methods', 'gmds', '--updates', '200', '--trials', '1', '--jobs', '1',
            '--basis', '5', '--out', str(tmp_path)]
    assert mds_experiments.main(argv) == 0
    progress = [line.split(',')[0] for line in capsys.readouterr().out.splitlines()
                if line.startswith('  G-MDS trial 0: update ')]
    assert progress == ['  G-MDS trial 0: update %d/200' % k for k in (50, 100, 150)]


def test_trials_run_in_parallel_give_the_results_of_one_job(tmp_path, capsys):
    """--jobs 2 runs the trials in worker processes: each trial's record is the same."""
    argv = ['point', '--methods', 'gamds,gmds', '--updates', '3', '--trials', '2', '--basis',
            '5']
    for jobs in ('1', '2'):
        assert mds_experiments.main(argv + ['--jobs', jobs, '--out', str(tmp_path / jobs)]) == 0
    out = capsys.readouterr().out
    assert all('[%d/4] ' % done in out for done in range(1, 5))
    for name in sorted(os.listdir(tmp_path / '1' / 'point' / 'trials')):
        one, two = (json.loads((tmp_path / jobs / 'point' / 'trials' / name).read_text())
                    for jobs in ('1', '2'))
        assert (one['costs'], one['mean']) == (two['costs'], two['mean'])
    assert len(os.listdir(tmp_path / '2' / 'point' / 'trials')) == 4


def test_ctrl_c_stops_the_command_and_its_workers_keeping_the_finished_trials(tmp_path):
    """Ctrl-C (twice, as `timeout` forwards it): one line, status 130, no worker left."""
    from interrupt_support import Command, ended
    command = Command('ps_control.cli', 'mds', 'point', '--methods', 'gmds', '--updates',
                      '100000', '--trials', '2', '--jobs', '2', '--basis', '5', '--out',
                      str(tmp_path))
    try:
        assert command.wait_for(lambda lines: any('trials to run' in line for line in lines))
        assert command.wait_for(lambda lines: len(command.group()) == 3, timeout=60.0)
        workers = command.group()
        status, err = command.interrupt()
        assert status == 130, err
        assert err.strip() == ('ps-control mds: interrupted; the finished trials are kept under '
                               '%s: rerun the command to run the others' % (tmp_path / 'point'))
        assert ended(workers)
    finally:
        command.close()


def _records(finals, errors):
    return [{'costs': [10.0, 5.0 + f, f], 'via_error': e, 'updates_per_second': 2.0}
            for f, e in zip(finals, errors)]


def test_summary_spreads_are_standard_deviations_and_the_tolerance_is_inclusive():
    """final_cost_std and cost_std are std over trials; an error equal to the tolerance counts."""
    finals, errors = [1.0, 2.0, 6.0], [0.01, 0.005, 0.2]
    stats = mds_experiments.summarise({'gmds': _records(finals, errors)}, 10, 0.01)['gmds']
    assert stats['final_cost_std'] == pytest.approx(np.std(finals), rel=1e-12)
    costs = np.array([r['costs'] for r in _records(finals, errors)])
    np.testing.assert_allclose(stats['cost_std'], np.sqrt(np.mean(
        (costs - costs.mean(axis=0)) ** 2, axis=0)), rtol=1e-12)
    assert stats['within_tolerance'] == 2


def test_optimiser_settings_reach_gmds_and_ereps():
    """--adapt-cov reaches G-MDS's covariance adaptation and --eps-kl eREPS's bound."""
    task = make_task('point', n_basis=5)
    gmds = mds_experiments.make_optimizer('gmds', task, adapt_rate=0.5)
    assert gmds.density.adapt_rate == 0.5
    rng = np.random.default_rng(0)
    mds_experiments.learning_step(gmds, task, rng)
    assert np.any(np.asarray(gmds.density.std) != 1.0)  # adapted from sigma = 1
    assert mds_experiments.make_optimizer('ereps', task, eps_kl=0.5).epsilon == 0.5


def test_command_refuses_an_adaptation_rate_above_one(tmp_path, capsys):
    """--adapt-cov is a rate in [0, 1]."""
    with pytest.raises(SystemExit) as exit_info:
        mds_experiments.main(['point', '--adapt-cov', '1.5', '--updates', '1', '--trials', '1',
                              '--out', str(tmp_path)])
    assert exit_info.value.code == 2
    assert '--adapt-cov' in capsys.readouterr().err


def test_command_plots_against_rollouts_and_matches_gamds_step_to_the_rollouts(
        tmp_path, monkeypatch):
    """Cost curves are drawn against rollouts; G-AMDS's default s is that of --rollouts."""
    drawn = {}

    def record(path, x, curves, **kwargs):
        drawn['x'], drawn['curves'] = np.asarray(x), curves
    monkeypatch.setattr(plotting, 'plot_curves', record)
    argv = ['point', '--methods', 'gamds', '--updates', '2', '--trials', '1', '--jobs', '1',
            '--basis', '5', '--rollouts', '5', '--out', str(tmp_path)]
    assert mds_experiments.main(argv) == 0
    np.testing.assert_array_equal(drawn['x'], [0, 5, 10])
    record = json.loads((tmp_path / 'point' / 'trials' / 'gamds_trial00.json').read_text())
    assert record['config']['gamds_step'] == mds_experiments.default_gamds_step(5)


def test_a_trial_file_without_its_settings_is_run_again(tmp_path):
    """A saved JSON that is not a trial record (no config) is rerun, not a crash."""
    path = tmp_path / 'trial.json'
    path.write_text('{"costs": [1.0]}')
    assert mds_experiments._load_finished(str(path), {'seed': 0}) is None


def test_the_arm_pose_figure_draws_the_pose_at_the_via_point_time(tmp_path, monkeypatch):
    """The highlighted pose is the arm at t_via (Fig. 4-5), not at the end of the movement."""
    task = make_task('arm', n_dofs=3, n_basis=5)
    rng = np.random.default_rng(0)
    y = np.cumsum(0.05 * rng.standard_normal((task.dmp.T + 1, task.n_dofs)), axis=0)
    drawn = []

    def keep(fig, path, dpi=120):
        drawn.extend(line.get_xydata() for line in fig.axes[0].lines
                     if line.get_linewidth() == 2.0)
        plotting.plt.close(fig)
        return path
    monkeypatch.setattr(plotting, 'save_figure', keep)
    mds_experiments.plot_arm_poses(str(tmp_path / 'poses.png'), task,
                                   {'gamds': [{'trajectory': y.tolist()}]})
    pose, = drawn
    assert task.via_index != task.dmp.T
    np.testing.assert_allclose(pose, planar_arm_points(y)[task.via_index])
