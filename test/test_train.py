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

"""``ps-control train``: what reaches each trial, its random streams, and the summary."""

import json

import numpy as np
from ps_control import train
from ps_control.learning import evaluate_policy, PolicySearch
from ps_control.tasks import load_task, task_path
import pytest


def _recording_trial(task_name, algorithm, trial, iterations, samples, seed, out_dir,
                     overrides=None, quiet=False, final_rollouts=None):
    """Stand-in for train.run_trial (run in a worker process) recording what it was given."""
    given = {'algorithm': algorithm, 'iterations': iterations, 'samples': samples,
             'overrides': dict(overrides or {}), 'final_rollouts': final_rollouts}
    final = {mode: {'expected_reward': -1.0, 'success_rate': 0.0}
             for mode in ('sampled', 'mean_action')}
    return {'history': [dict(given, expected_reward=-1.0, success_rate=0.0, max_policy_kl=0.1)
                        for _ in range(iterations)],
            'final_policy': final}


def _given(out, task='double_pendulum'):
    """Return what each trial of a train.main run with _recording_trial was given."""
    results = json.loads((out / ('%s_results.json' % task)).read_text())
    return [history[0] for histories in results['histories'].values() for history in histories]


def test_train_passes_its_options_on_to_every_trial(tmp_path, monkeypatch):
    """--epsilon, --step-adaptation and --final-rollouts reach the trials."""
    monkeypatch.setattr(train, 'run_trial', _recording_trial)
    out = tmp_path / 'out'
    assert train.main(['double_pendulum', '--algo', 'gps', '--trials', '2', '--iterations', '1',
                       '--samples', '4', '--epsilon', '0.3', '--step-adaptation',
                       '--final-rollouts', '7', '--jobs', '1', '--no-ilqr',
                       '--out', str(out)]) == 0
    for given in _given(out):
        assert given['overrides'] == {'epsilon': 0.3, 'step_adaptation': True}
        assert given['final_rollouts'] == 7 and given['samples'] == 4
    assert train.main(['double_pendulum', '--algo', 'gps', '--trials', '1', '--iterations', '1',
                       '--jobs', '1', '--no-ilqr', '--out', str(out)]) == 0
    given, = _given(out)
    assert given['overrides'] == {'epsilon': None, 'step_adaptation': None}  # the file's
    assert given['final_rollouts'] is None


def test_given_samples_settle_algorithms_that_differ_in_them(tmp_path, monkeypatch):
    """With --samples the task file's differing samples per algorithm are not an error."""
    text = open(task_path('double_pendulum')).read()
    old = '      saps:\n        epsilon: 20.0\n'
    assert old in text
    copy = tmp_path / 'more_samples.yaml'
    copy.write_text(text.replace(old, old + '        samples: 30\n'))
    monkeypatch.setattr(train, 'run_trial', _recording_trial)
    out = tmp_path / 'out'
    assert train.main([str(copy), '--algo', 'gps', 'saps', '--trials', '1', '--iterations', '1',
                       '--samples', '6', '--jobs', '1', '--no-ilqr', '--out', str(out)]) == 0
    assert sorted((g['algorithm'], g['samples']) for g in _given(out)) == [('gps', 6),
                                                                           ('saps', 6)]


def _history(rewards, success=0.0):
    """Return a history of the given expected rewards per iteration."""
    return [{'expected_reward': r, 'success_rate': success, 'max_policy_kl': 0.1}
            for r in rewards]


def test_summary_takes_the_last_iteration_over_the_trials():
    """Final mean and spread are over the trials' last iterations; the iLQR ratio divides."""
    histories = {'gps': [_history([-10.0, -5.0, -3.0]), _history([-8.0, -6.0, -1.0]),
                         _history([-9.0, -4.0, -2.0])],
                 'esaps': [_history([-6.0, -2.0, -1.0]), _history([-4.0, -2.0, -0.5])]}
    summary = train.summarise('t', histories, {'reward': -0.5})
    last = np.array([-3.0, -1.0, -2.0])
    assert summary['gps']['final_reward_mean'] == pytest.approx(last.mean())
    assert summary['gps']['final_reward_std'] == pytest.approx(last.std())
    assert summary['gps']['final_reward_over_ilqr'] == pytest.approx(last.mean() / -0.5)
    assert summary['esaps']['final_reward_std'] == pytest.approx(np.std([-1.0, -0.5]))
    assert summary['ilqr_reward'] == -0.5


def test_iterations_to_the_gps_final_reward_count_from_one():
    """The first iteration (1-based) whose mean reward reaches GPS's final mean, or None."""
    histories = {'gps': [_history([-10.0, -5.0, -3.0]), _history([-8.0, -5.0, -1.0])],
                 'esaps': [_history([-6.0, -2.0, -1.0]), _history([-4.0, -2.0, 0.0])],
                 'saps': [_history([-9.0, -9.0, -9.0]), _history([-9.0, -9.0, -9.0])]}
    summary = train.summarise('t', histories, None)
    # GPS's final mean is -2: GPS reaches it at its last iteration, ESAPS exactly at its second
    assert summary['gps']['iterations_to_gps_final'] == 3
    assert summary['esaps']['iterations_to_gps_final'] == 2
    assert summary['saps']['iterations_to_gps_final'] is None


RUN = {'task_name': 'double_pendulum', 'algorithm': 'gps', 'samples': 3, 'seed': 5,
       'quiet': True}


def test_the_final_evaluation_draws_the_next_iterations_rollouts(tmp_path):
    """With final_rollouts = samples, the final 'sampled' rollouts are the next iteration's."""
    first = train.run_trial(trial=1, iterations=1, out_dir=str(tmp_path), **RUN)
    resumed = train.run_trial(trial=1, iterations=2, out_dir=str(tmp_path), **RUN)
    assert resumed['history'][0] == first['history'][0]
    for name in ('expected_reward', 'success_rate', 'saturation'):
        assert first['final_policy']['sampled'][name] == pytest.approx(
            resumed['history'][1][name], rel=1e-12, abs=1e-12)
    assert resumed['history'][1]['expected_reward'] != resumed['history'][0]['expected_reward']


def test_a_trial_that_is_not_quiet_prints_each_iterations_metrics(tmp_path, capsys):
    record = train.run_trial(trial=0, iterations=2, out_dir=str(tmp_path), final_rollouts=2,
                             **dict(RUN, quiet=False))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and 'final policy' in lines[2]
    for line, metrics in zip(lines, record['history']):
        assert line.startswith('[double_pendulum gps   trial  0] iter   %d  reward %12.2f  '
                               'success %4.2f  max KL %7.3f  entropy %6.2f  sat %4.2f  ('
                               % (metrics['iteration'], metrics['expected_reward'],
                                  metrics['success_rate'], metrics['max_policy_kl'],
                                  metrics['mean_entropy'], metrics['saturation'])), line


def test_the_final_evaluation_runs_final_rollouts(tmp_path):
    """The record's final_policy is evaluate_policy of the trial's policy on final_rollouts."""
    record = train.run_trial(trial=0, iterations=1, out_dir=str(tmp_path), final_rollouts=5,
                             **RUN)
    task = load_task('double_pendulum')
    checkpoint, _ = train.trial_paths(str(tmp_path), task.name, 'gps', 0)
    search = PolicySearch.load(checkpoint, task)
    sim = task.make_simulator(n_robots=5)
    try:
        expected = evaluate_policy(search, sim, 5, np.random.default_rng([5, 0, 1]))
    finally:
        sim.close()
    for mode in ('sampled', 'mean_action'):
        for name in ('expected_reward', 'success_rate', 'saturation'):
            assert record['final_policy'][mode][name] == pytest.approx(
                expected[mode][name], rel=1e-9, abs=1e-12)


def test_trial_i_runs_with_seed_plus_i(tmp_path):
    """The checkpoint of trial i holds the seed + i it ran with (``--seed``'s help)."""
    task = load_task('double_pendulum')
    for trial in (0, 2):
        train.run_trial(trial=trial, iterations=1, out_dir=str(tmp_path), final_rollouts=2,
                        **RUN)
        checkpoint, _ = train.trial_paths(str(tmp_path), task.name, 'gps', trial)
        assert PolicySearch.load(checkpoint, task).config.seed == RUN['seed'] + trial
