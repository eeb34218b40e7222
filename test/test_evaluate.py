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


"""ps-control evaluate: a checkpoint's policy on the simulated robot, and what it prints."""

import dataclasses
import json
import re

import numpy as np
from ps_control import cli, evaluate, plotting
from ps_control.checkpoint import checkpoint_task, read_checkpoint, write_checkpoint
from ps_control.learning import evaluate_policy, load_search, make_search
from ps_control.learning_config import load_learning_config
from ps_control.sim.simulator import Rollouts
from ps_control.tasks import load_task
import pytest


def saved_search(tmp_path, task_name, algorithm, **overrides):
    """Save a new learner of the task (its initial policy) and return (checkpoint path, search)."""
    task = load_task(task_name)
    search = make_search(task, load_learning_config(task, dict(overrides, algorithm=algorithm)))
    path = str(tmp_path / ('%s_%s.npz' % (task_name, algorithm)))
    search.save(path)
    return path, search


def test_evaluate_prints_the_metrics_of_the_checkpoints_policy(tmp_path, capsys):
    path, search = saved_search(tmp_path, 'double_pendulum', 'esaps')
    assert evaluate.main(['double_pendulum', path, '--rollouts', '6', '--seed', '3']) == 0
    out = capsys.readouterr().out
    # the same rollouts evaluated directly: the printed figures are theirs
    simulator = search.task.make_simulator(n_robots=6)
    try:
        expected = evaluate_policy(load_search(path, search.task), simulator, 6,
                                   np.random.default_rng([3, evaluate.EVALUATION_STREAM]))
    finally:
        simulator.close()
    assert 'esaps on double_pendulum after 0 iterations; 6 rollouts (seed 3)' in out
    for line, name in zip(out.splitlines()[2:4], ('sampled', 'mean_action')):
        fields = line.split()
        assert float(fields[1]) == pytest.approx(expected[name]['expected_reward'], rel=1e-4)
        assert float(fields[2]) == pytest.approx(expected[name]['success_rate'], abs=1e-3)
        assert float(fields[3]) == pytest.approx(expected[name]['saturation'], abs=1e-3)
        assert int(fields[4]) == expected[name]['diverged']
    assert expected['sampled'] != expected['mean_action']  # two different runs were printed
    # --json: the same figures for scripts, and what they are of
    report = tmp_path / 'eval.json'
    assert evaluate.main(['double_pendulum', path, '--rollouts', '6', '--seed', '3',
                          '--json', str(report)]) == 0
    saved = json.loads(report.read_text())
    assert saved['sampled'] == pytest.approx(expected['sampled'])
    assert saved['mean_action'] == pytest.approx(expected['mean_action'])
    assert (saved['algorithm'], saved['iteration'], saved['rollouts'], saved['seed'],
            saved['horizon'], saved['on']) == ('esaps', 0, 6, 3, search.task.horizon, None)
    assert evaluate.main(['double_pendulum', path, '--rollouts', '2', '--json',
                          str(tmp_path)]) == 2  # a folder: refused before the rollouts
    assert 'is a folder, not a file' in capsys.readouterr().err


def test_evaluate_scores_a_mirror_descent_checkpoint_by_the_via_point(tmp_path, capsys):
    path, _ = saved_search(tmp_path, 'arm_2', 'g_mds')
    assert evaluate.main(['arm_2', path, '--rollouts', '2']) == 0
    lines = capsys.readouterr().out.splitlines()
    assert 'g_mds on arm_2 after 0 iterations' in lines[0]
    distance = float(lines[2].split('via-point distance')[1].split()[0])
    assert distance > 0.3  # theta = 0 misses the via-point by about 0.33 m


def test_the_mean_policys_metrics_are_those_update_gives_the_mean_rollout():
    """ArmViaPointSearch.sample_metrics scores a rollout of ``policy`` as ``update`` does."""
    task = load_task('arm_2')
    search = make_search(task, load_learning_config(task, {'algorithm': 'g_amds'}))
    _, params, _ = search._episodes()
    traj = search.via.rollout(params)  # every episode tracking its DMP exactly
    states = np.concatenate([traj.y, traj.yd], axis=-1)
    actions = np.zeros((params.shape[0], task.horizon, task.du))
    mean_only = search.sample_metrics(states[-1:], actions[-1:])  # the last: the mean's
    metrics = search.update(states, actions)
    assert mean_only['expected_reward'] == pytest.approx(-metrics['mean_cost'], rel=1e-12)
    assert mean_only['via_error'] == pytest.approx(metrics['via_error'], rel=1e-12)
    assert mean_only['success_rate'] == float(metrics['via_error'] <= search.config.via_tolerance)


def test_gui_shows_the_rollouts_at_real_time(tmp_path, monkeypatch, capsys):
    path, search = saved_search(tmp_path, 'double_pendulum', 'gps')
    calls = []

    class RecordingTask:
        """The task, with a simulator factory that records its options (no display here)."""

        def __getattr__(self, name):
            return getattr(search.task, name)

        def make_simulator(self, **options):
            calls.append(options)
            return search.task.make_simulator(n_robots=options['n_robots'])

    monkeypatch.setattr(evaluate, 'load_task', lambda name: RecordingTask())
    assert evaluate.main(['double_pendulum', path, '--rollouts', '2', '--gui']) == 0
    assert calls == [{'n_robots': 2, 'gui': True, 'realtime': True}]
    assert evaluate.main(['double_pendulum', path, '--rollouts', '2']) == 0
    assert calls[-1] == {'n_robots': 2, 'gui': False, 'realtime': False}


def test_a_checkpoint_without_a_linear_gaussian_policy_keeps_its_horizon(tmp_path):
    """A G-AMDS run (its policy is a DMP, no K) on a shortened horizon restores on that one."""
    task = load_task('arm_2')
    short = dataclasses.replace(task, horizon=task.horizon // 2)
    search = make_search(short, load_learning_config(short, {'algorithm': 'g_amds'}))
    path = str(tmp_path / 'short.npz')
    search.save(path)
    assert 'K' not in read_checkpoint(path)[0]
    assert checkpoint_task(read_checkpoint(path), task) == short
    assert load_search(path, task, checkpoint_horizon=True).task == short


def test_a_checkpoint_keeps_the_horizon_its_run_had(tmp_path, capsys):
    """ps-control run --horizon 10: evaluate (and resume) on 10 steps, named if it differs."""
    task = load_task('double_pendulum')
    short = dataclasses.replace(task, horizon=10)
    search = make_search(short, load_learning_config(short, {'algorithm': 'gps'}))
    path = str(tmp_path / 'short.npz')
    search.save(path)
    with pytest.raises(ValueError, match='holds a run of 10 time steps, not %d' % task.horizon):
        load_search(path, task)
    assert checkpoint_task(read_checkpoint(path), task) == short
    restored = load_search(path, task, checkpoint_horizon=True)
    assert restored.task == short and restored.policy.K.shape[0] == 10
    assert evaluate.main(['double_pendulum', path, '--rollouts', '2']) == 0
    assert 'gps on double_pendulum after 0 iterations' in capsys.readouterr().out
    arrays, meta = read_checkpoint(path)  # written before the horizon was recorded
    del meta['horizon']
    write_checkpoint(path, arrays, meta)
    assert checkpoint_task(read_checkpoint(path), task) == short  # by its policy's length
    assert load_search(path, task, checkpoint_horizon=True).task == short
    del arrays['K']  # and with no policy in it, the task as it is
    write_checkpoint(path, arrays, meta)
    assert checkpoint_task(read_checkpoint(path), task) is task


def test_restoring_reads_the_checkpoint_once(tmp_path, monkeypatch):
    """load_search reads the file once, whichever learner and horizon it restores."""
    from ps_control import checkpoint, learning, mds_learning
    reads = []

    def counted(path):
        reads.append(path)
        return read_checkpoint(path)

    for module in (checkpoint, learning, mds_learning):  # wherever a read may come from
        monkeypatch.setattr(module, 'read_checkpoint', counted)
    for task_name, algorithm in (('double_pendulum', 'gps'), ('arm_2', 'g_amds')):
        path, search = saved_search(tmp_path, task_name, algorithm)
        restored = load_search(path, search.task, checkpoint_horizon=True)
        assert reads == [path] and restored.config == search.config
        reads.clear()


def _set(mapping, name, value):
    mapping[name] = value


@pytest.mark.parametrize('task, algorithm, corrupt, message', [
    ('double_pendulum', 'esaps', lambda a, m: _set(a, 'alpha', a['alpha'] * np.nan),
     'alpha holds NaN or inf'),
    ('double_pendulum', 'esaps', lambda a, m: _set(a, 'beta', a['beta'][:3]),
     r'beta has shape \(3,\), the task needs \(100,\)'),
    ('double_pendulum', 'esaps', lambda a, m: _set(a, 'alpha', -a['alpha']), 'alpha must be > 0'),
    ('double_pendulum', 'esaps', lambda a, m: _set(a, 'K', a['K'] + 1j),
     'K holds complex128 values'),
    ('double_pendulum', 'esaps', lambda a, m: a.pop('K'), "it has no entry 'K'"),
    ('double_pendulum', 'esaps',
     lambda a, m: _set(a, 'recent_states_0', a['recent_states_0'][:, :5]),
     r'recent_states_0 has shape \(4, 5, 4\), the task needs \(4, 101, 4\)'),
    ('double_pendulum', 'esaps', lambda a, m: _set(m, 'horizon', float('inf')),
     'its horizon is inf, not an integer >= 1'),
    ('double_pendulum', 'esaps', lambda a, m: _set(m, 'config', ['esaps']),
     r"its config is \['esaps'\], not a mapping"),
    ('double_pendulum', 'esaps', lambda a, m: _set(m['config'], 'epsilon', 'abc'),
     "learning.epsilon must be a float, got 'abc'"),
    ('double_pendulum', 'esaps', lambda a, m: _set(m['config'], 'bogus', 1),
     r'unknown learning parameter\(s\): learning.bogus'),
    ('double_pendulum', 'esaps', lambda a, m: _set(m, 'history', [{'iteration': 1}]),
     'its history entry 0 is not the record of iteration 1'),
    ('double_pendulum', 'esaps', lambda a, m: _set(m, 'recent', -1),
     'its recent is -1, not an integer >= 0'),
    ('arm_2', 'g_amds', lambda a, m: _set(a, 'mean', a['mean'] + np.inf), 'mean holds NaN or inf'),
    ('arm_2', 'g_amds', lambda a, m: _set(a, 'z_std', 0.0 * a['z_std']), 'z_std must be > 0'),
    ('arm_2', 'g_amds', lambda a, m: _set(m, 'k', 'x'), "its k is 'x', not an integer >= 0"),
])
def test_a_corrupt_checkpoint_entry_is_named(tmp_path, capsys, task, algorithm, corrupt,
                                             message):
    """Checked on reading: arrays real, finite, shaped for the task; meta entries well-formed."""
    path, search = saved_search(tmp_path, task, algorithm)
    if algorithm == 'esaps':  # one update: multipliers and recent rollouts in the checkpoint
        simulator = search.task.make_simulator(n_robots=4)
        rng = np.random.default_rng(0)
        rollouts = simulator.rollout(search.policy, search.task.sample_initial_states(4, rng),
                                     rng)
        simulator.close()
        search.update(rollouts.states, rollouts.actions)
        search.save(path)
    assert evaluate.main([task, path, '--rollouts', '2']) == 0  # as saved: fine
    capsys.readouterr()
    arrays, meta = read_checkpoint(path)
    corrupt(arrays, meta)
    write_checkpoint(path, arrays, meta)
    assert evaluate.main([task, path, '--rollouts', '2']) == 2
    err = capsys.readouterr().err
    assert re.search('checkpoint %s is invalid: %s' % (re.escape(path), message), err), err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize('task, content, message', [
    ('arm_2', None, "holds a run of task 'double_pendulum', not 'arm_2'"),
    ('double_pendulum', b'not a checkpoint', 'is corrupt'),
    ('double_pendulum', 'missing', 'cannot read checkpoint %s: No such file or directory'),
    ('double_pendulum', 'folder', 'is a folder, not a checkpoint file'),
    ('double_pendulum', b'{"summary": 1}', 'not a ps_control checkpoint (not an .npz archive)'),
    ('nosuch', None, "unknown task 'nosuch'"),
])
def test_bad_input_is_named_and_exits_with_status_2(tmp_path, capsys, task, content, message):
    path, _ = saved_search(tmp_path, 'double_pendulum', 'gps')
    if content == 'missing':
        path = str(tmp_path / 'missing.npz')
    elif content == 'folder':
        path = str(tmp_path)
    elif content is not None:
        with open(path, 'wb') as handle:
            handle.write(content)
    assert cli.main(['evaluate', task, path]) == 2  # the ps-control command's sub-command
    assert message.replace('%s', path) in capsys.readouterr().err


def test_plot_draws_the_rollouts_joint_by_joint(tmp_path, capsys, monkeypatch):
    path, _ = saved_search(tmp_path, 'double_pendulum', 'gps')
    figures = []
    original = plotting.save_figure

    def keep(fig, target, dpi=120):
        figures.append([(ax.get_ylabel(), len(ax.lines)) for ax in fig.axes])
        figures[-1].append(fig._suptitle.get_text())
        return original(fig, target, dpi)

    monkeypatch.setattr(plotting, 'save_figure', keep)
    png = tmp_path / 'rollouts.png'
    assert evaluate.main(['double_pendulum', path, '--rollouts', '3', '--plot', str(png)]) == 0
    assert 'wrote %s' % png in capsys.readouterr().out
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    axes = figures[0]
    # two joints x (angle, torque); angles: 2 runs + the goal; torques: 2 runs + 2 limits
    labels = [label for label, _ in axes[:4]]
    assert labels == ['joint_1 (rad)', 'torque (N m)', 'joint_2 (rad)', 'torque (N m)']
    assert axes[1][1] == 4 and axes[0][1] >= 3
    assert axes[-1] == 'double_pendulum, gps after 0 iterations'
    many = {'run': (np.zeros((2, 6, 28)), np.zeros((2, 5, 14)))}
    plotting.plot_trajectories(str(tmp_path / 'many.png'), 0.1, ['q%d' % i for i in range(14)],
                               many, title='arm')
    assert figures[-1][-1] == 'arm (first 12 of 14 joints)'
    assert len(figures[-1]) == 12 * 2 + 1


def _task_copy(tmp_path, name, replacements):
    """Write a copy of config/<name>.yaml with text replaced; return its path."""
    from ps_control.tasks import task_path
    text = open(task_path(name)).read()
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / ('%s_copy.yaml' % name)
    path.write_text(text)
    return str(path)


def test_on_runs_the_policy_on_another_robot_scored_by_its_own_task(tmp_path, capsys):
    """A robustness check: the policy on a pendulum with 1.5 times heavier links."""
    from ps_control.tasks import load_task as load
    path, search = saved_search(tmp_path, 'double_pendulum', 'gps')
    urdf = open(search.task.urdf_path).read()
    assert urdf.count('<mass value="1"/>') == 3
    heavy_urdf = tmp_path / 'heavy.urdf'
    heavy_urdf.write_text(urdf.replace('<mass value="1"/>', '<mass value="1.5"/>'))
    heavy = _task_copy(tmp_path, 'double_pendulum',
                       [("urdf: 'double_pendulum.urdf'", "urdf: '%s'" % heavy_urdf)])
    assert load(heavy).fingerprint() != search.task.fingerprint()  # another robot
    assert evaluate.main(['double_pendulum', path, '--rollouts', '3']) == 0
    nominal = capsys.readouterr().out.splitlines()
    assert evaluate.main(['double_pendulum', path, '--rollouts', '3', '--on', heavy]) == 0
    moved = capsys.readouterr().out.splitlines()
    assert moved[0].endswith('on the robot of double_pendulum (%s)' % heavy)
    assert moved[2].split()[1] != nominal[2].split()[1]  # the heavier links move otherwise
    quad = 'quad_pendulum'
    assert evaluate.main(['double_pendulum', path, '--on', quad]) == 2
    assert "drives the joints ['joint_1', 'joint_2', 'joint_3', 'joint_4']" in (
        capsys.readouterr().err)
    # weaker motors: the torques the robot applied (within its 5 N m) are what is scored
    weak_urdf = tmp_path / 'weak.urdf'
    assert urdf.count('effort="10"') == 2
    weak_urdf.write_text(urdf.replace('effort="10"', 'effort="5"'))
    weak = _task_copy(tmp_path, 'double_pendulum', [
        ("urdf: 'double_pendulum.urdf'", "urdf: '%s'" % weak_urdf),
        ('torque_limits: [10.0, 10.0]  # must', 'torque_limits: [5.0, 5.0]  # must')])
    robot = load(weak)
    simulator = robot.make_simulator(n_robots=4)
    try:
        result, runs = evaluate_policy(search, simulator, 4, np.random.default_rng(0),
                                       return_rollouts=True, start=robot)
    finally:
        simulator.close()
    applied = runs['sampled'].torques
    assert np.abs(applied).max() <= 5.0 + 1e-12
    clipped = np.abs(runs['sampled'].actions) > 5.0  # by the weak robot's limits
    assert clipped.mean() > 0.0
    assert result['sampled']['saturation'] == pytest.approx(clipped.mean())
    rewards = search.task.reward(runs['sampled'].states, applied)
    assert result['sampled']['expected_reward'] == pytest.approx(np.mean(rewards), rel=1e-12)
    slow = _task_copy(tmp_path, 'double_pendulum', [('dt: 0.05', 'dt: 0.1')])
    assert evaluate.main(['double_pendulum', path, '--on', slow]) == 2
    assert 'steps at dt = 0.1 s, the policy at 0.05 s' in capsys.readouterr().err


def test_the_plot_says_which_rollouts_diverged_and_keeps_the_time_axis(tmp_path, monkeypatch):
    from ps_control.sim.simulator import Rollouts
    _, search = saved_search(tmp_path, 'double_pendulum', 'gps')
    T, n = search.task.horizon, 2
    nan = Rollouts(np.full((n, T + 1, 4), np.nan), np.full((n, T, 2), np.nan),
                   np.full((n, T, 2), np.nan), np.ones(n, dtype=bool), np.ones(n, dtype=int))
    figures = []
    original = plotting.save_figure

    def keep(fig, target, dpi=120):
        figures.append((fig._suptitle.get_text(), fig.axes[0].get_xlim()))
        return original(fig, target, dpi)

    monkeypatch.setattr(plotting, 'save_figure', keep)
    evaluate.plot_rollouts(str(tmp_path / 'none.png'), search,
                           {'sampled': nan, 'mean_action': nan})
    title, xlim = figures[0]
    assert 'diverged, not drawn: sampled actions 2 of 2, mean action 2 of 2' in title
    assert xlim == (0.0, T * search.task.dt)


def test_an_unreadable_checkpoint_is_not_called_corrupt(tmp_path, monkeypatch):
    path, _ = saved_search(tmp_path, 'double_pendulum', 'gps')
    import builtins
    real_open = builtins.open

    def refuse(file, *args, **kwargs):
        if str(file) == path:
            raise PermissionError(13, 'Permission denied', path)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, 'open', refuse)
    with pytest.raises(PermissionError):
        read_checkpoint(path)


class ReachedTheRollouts(Exception):
    """Raised in place of evaluate_policy: the command got past its checks."""


@pytest.mark.parametrize('option, target, message', [
    ('--plot', 'file/rollouts.png', 'is a file, not a folder'),
    ('--plot', 'folder', None),  # the figure goes to folder.png (save_figure): allowed
    ('--json', 'folder', 'is a folder, not a file'),
    ('--json', 'file/result.json', 'is a file, not a folder'),
])
def test_output_paths_that_cannot_be_written_are_refused_before_the_rollouts(
        tmp_path, capsys, monkeypatch, option, target, message):
    path, _ = saved_search(tmp_path, 'double_pendulum', 'gps')
    (tmp_path / 'file').write_text('')
    (tmp_path / 'folder').mkdir()

    def reached(*args, **kwargs):
        raise ReachedTheRollouts()

    monkeypatch.setattr(evaluate, 'evaluate_policy', reached)
    argv = ['double_pendulum', path, '--rollouts', '1', option, str(tmp_path / target)]
    if message is None:
        with pytest.raises(ReachedTheRollouts):
            evaluate.main(argv)
    else:
        assert evaluate.main(argv) == 2
        error = capsys.readouterr().err
        assert '%s %s' % (option, tmp_path / target) in error and message in error


def test_a_json_that_cannot_be_written_after_the_rollouts_is_status_1(tmp_path, capsys):
    """--plot writes a file where --json wants a folder: the report is printed, then refused."""
    path, _ = saved_search(tmp_path, 'double_pendulum', 'gps')
    plot, report = tmp_path / 'r.png', tmp_path / 'r.png' / 'eval.json'
    assert evaluate.main(['double_pendulum', path, '--rollouts', '1', '--plot', str(plot),
                          '--json', str(report)]) == 1
    out, err = capsys.readouterr()
    assert 'wrote %s' % plot in out and plot.is_file()
    assert err.startswith('ps-control evaluate: cannot write ') and str(plot) in err
    assert not report.exists()


def test_a_policy_whose_actions_overflow_is_named_with_status_2(tmp_path, capsys):
    path, _ = saved_search(tmp_path, 'double_pendulum', 'gps')
    arrays, meta = read_checkpoint(path)
    arrays['K'] = np.full_like(arrays['K'], 1e308)  # finite, but K x overflows
    write_checkpoint(path, arrays, meta)
    with np.errstate(over='ignore', invalid='ignore'):
        status = evaluate.main(['double_pendulum', path, '--rollouts', '2'])
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith('ps-control evaluate: cannot run the policy of checkpoint %s: policy '
                          'returned NaN or inf' % path), err


def _other_robot(tmp_path, search):
    """Write a double pendulum with 5 N m motors that starts at (0.5, -0.3); return its file."""
    urdf = open(search.task.urdf_path).read()
    assert urdf.count('effort="10"') == 2
    weak_urdf = tmp_path / 'weak.urdf'
    weak_urdf.write_text(urdf.replace('effort="10"', 'effort="5"'))
    return _task_copy(tmp_path, 'double_pendulum', [
        ("urdf: 'double_pendulum.urdf'", "urdf: '%s'" % weak_urdf),
        ('torque_limits: [10.0, 10.0]  # must', 'torque_limits: [5.0, 5.0]  # must'),
        ('mean: [0.0, 0.0, 0.0, 0.0]', 'mean: [0.5, -0.3, 0.0, 0.0]')])


def test_on_plots_rollouts_from_the_robots_initial_states_within_its_limits(
        tmp_path, capsys, monkeypatch):
    """--on starts from the other task's initial states; the plot shows that robot's limits."""
    path, search = saved_search(tmp_path, 'double_pendulum', 'gps')
    robot = _other_robot(tmp_path, search)
    drawn = []

    def record(target, dt, joint_names, runs, **kwargs):
        drawn.append((runs, kwargs))
        return target
    monkeypatch.setattr(plotting, 'plot_trajectories', record)
    assert evaluate.main(['double_pendulum', path, '--rollouts', '3', '--on', robot,
                          '--plot', str(tmp_path / 'runs.png')]) == 0
    (runs, kwargs), = drawn
    assert runs  # some rollouts were drawn
    for states, torques in runs.values():
        np.testing.assert_allclose(states[:, 0, :2], np.tile([0.5, -0.3], (len(states), 1)),
                                   atol=0.1)
        assert np.abs(torques).max() <= 5.0 + 1e-12
    np.testing.assert_array_equal(kwargs['torque_limits'], load_task(robot).torque_limits)
    np.testing.assert_array_equal(kwargs['torque_limits'], [5.0, 5.0])


def test_on_is_recorded_in_the_json_as_the_task_file_given(tmp_path, capsys):
    """The JSON names the robot's task file, which a copy of the same task name needs."""
    path, search = saved_search(tmp_path, 'double_pendulum', 'gps')
    robot = _other_robot(tmp_path, search)
    out = tmp_path / 'result.json'
    assert evaluate.main(['double_pendulum', path, '--rollouts', '2', '--on', robot,
                          '--json', str(out)]) == 0
    record = json.loads(out.read_text())
    assert record['on'] == robot
    assert record['task'] == 'double_pendulum'


def test_on_refuses_a_robot_whose_joints_have_other_names():
    """Same number of joints, other names: another robot, refused naming both."""
    task = load_task('double_pendulum')
    other = dataclasses.replace(task, joint_names=('shoulder', 'elbow'))
    with pytest.raises(ValueError, match=r"drives the joints \['shoulder', 'elbow'\], the "
                                         r"policy \['joint_1', 'joint_2'\]"):
        evaluate.check_same_interface(task, other)
    evaluate.check_same_interface(task, dataclasses.replace(task))  # the same: accepted


def test_the_plot_names_a_single_diverged_rollout(tmp_path, monkeypatch):
    """One rollout of two diverged: drawn is the other, and the title says one was left out."""
    _, search = saved_search(tmp_path, 'double_pendulum', 'gps')
    T = search.task.horizon
    states = np.zeros((2, T + 1, 4))
    actions, torques = np.zeros((2, T, 2)), np.zeros((2, T, 2))
    states[1, 5:] = np.nan
    actions[1, 4:] = torques[1, 4:] = np.nan
    runs = Rollouts(states, actions, torques, np.array([False, True]), np.array([-1, 5]))
    titles = []

    def record(target, dt, joint_names, drawn, **kwargs):
        titles.append((list(drawn), kwargs['title']))
        return target
    monkeypatch.setattr(plotting, 'plot_trajectories', record)
    evaluate.plot_rollouts(str(tmp_path / 'one.png'), search,
                           {'sampled': runs, 'mean_action': runs})
    (drawn, title), = titles
    assert drawn == ['sampled actions (1)', 'mean action (1)']
    assert 'diverged, not drawn: sampled actions 1 of 2, mean action 1 of 2' in title
