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

"""Task files (config/*.yaml), their validation, the task reward and success test."""

from collections.abc import Mapping
import copy
from dataclasses import fields
import datetime
import math
import os
import re

import numpy as np
from ps_control.core import QuadraticReward
from ps_control.learning_config import LEARNER_ALGORITHMS, LearningConfig
from ps_control.learning_config import MIRROR_DESCENT_ALGORITHMS
from ps_control.sim.urdf import read_urdf
from ps_control.tasks import known_tasks, load_task, loader, paths, task_path
from ps_control.tasks.params import flatten, read_parameters
import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, 'config')
TASKS = ('arm', 'arm_2', 'arm_50', 'double_pendulum', 'quad_pendulum')


def _document(name='double_pendulum'):
    with open(os.path.join(CONFIG, name + '.yaml')) as stream:
        return yaml.safe_load(stream)


def _write(tmp_path, document, name='task.yaml'):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document))
    return str(path)


def _mutated(tmp_path, dotted, value, name='double_pendulum'):
    """Write the named task file with task field ``dotted`` set (or deleted if value is ...)."""
    document = copy.deepcopy(_document(name))
    node = document['/**']['ros__parameters']
    keys = dotted.split('.')
    for key in keys[:-1]:
        node = node[key]
    if value is Ellipsis:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return _write(tmp_path, document)


def _tiny_task(tmp_path, **reward):
    """Return a 2-step double-pendulum task with explicit weights for hand computations."""
    document = copy.deepcopy(_document())
    task = document['/**']['ros__parameters']['task']
    task['horizon'] = 2
    task['reward'].update({'state_weights': [1.0, 2.0, 3.0, 4.0], 'action_weights': [0.5, 0.25],
                           'time_weighting': 'uniform', 'terminal_scale': 2.0})
    task['reward'].update(reward)
    return load_task(_write(tmp_path, document))


@pytest.mark.parametrize('name', TASKS)
def test_checked_in_tasks_load(name):
    task = load_task(name)
    assert task.name == name and task.dx == 2 * task.du and task.horizon >= 1
    model = read_urdf(task.urdf_path)
    assert task.joint_names == model.joint_names
    assert task.torque_limits == pytest.approx([j.effort for j in model.joints], rel=1e-12)
    assert task.learning['algorithm'] in LEARNER_ALGORITHMS and task.learning['epsilon'] == 0.5
    reward = task.quadratic_reward()
    assert isinstance(reward, QuadraticReward)
    assert reward.M.shape == (task.horizon + 1, task.dx, task.dx)
    assert reward.H.shape == (task.horizon, task.du, task.du)
    assert np.all(np.linalg.eigvalsh(reward.M) <= 1e-12)
    assert np.all(np.linalg.eigvalsh(reward.H) < 0)


@pytest.mark.parametrize('name', TASKS)
def test_every_learning_parameter_is_in_the_task_file(name):
    """No hyper-parameter of the learning loop is left to a default hidden in code."""
    learning = load_task(name).learning
    common = {key for key, value in learning.items() if not isinstance(value, Mapping)}
    arm = load_task('arm').learning
    mirror_descent_only = set().union(*(arm[section] for section in (
        'mirror_descent',) + MIRROR_DESCENT_ALGORITHMS))  # the G-(A)MDS learner's own settings
    for field in fields(LearningConfig):
        if field.name not in mirror_descent_only:
            assert field.name in common, 'learning.%s missing in %s' % (field.name, name)
    if 'mirror_descent' in learning:  # each algorithm's settings, as config/arm.yaml gives them
        for algorithm in MIRROR_DESCENT_ALGORITHMS:
            needed = set(arm['mirror_descent']) | set(arm[algorithm])
            given = common | set(learning['mirror_descent']) | set(learning[algorithm])
            assert needed <= given, 'learning settings %s missing for %s in %s' % (
                sorted(needed - given), algorithm, name)


@pytest.mark.parametrize('name', TASKS)
def test_task_files_are_ros_parameter_files(name):
    parameters = read_parameters(os.path.join(CONFIG, name + '.yaml'))
    flat = flatten(parameters)
    assert flat['task.dt'] > 0 and 'learning.epsilon' in flat
    for key, value in flat.items():
        if isinstance(value, list):
            assert len({type(v) for v in value}) == 1, key
            assert all(isinstance(v, (float, str)) for v in value), key


def test_pendulum_goals_are_upright_and_starts_hang():
    for name, n in (('double_pendulum', 2), ('quad_pendulum', 4)):
        task = load_task(name)
        assert task.goal == (math.pi,) + (0.0,) * (2 * n - 1)
        assert task.initial_mean == (0.0,) * (2 * n)
        assert task.horizon * task.dt == pytest.approx(5.0)


def test_known_and_unknown_task_names(tmp_path):
    assert set(TASKS) <= set(known_tasks())
    with pytest.raises(ValueError, match="unknown task 'nope'.*double_pendulum"):
        load_task('nope')
    with pytest.raises(ValueError, match='task file not found'):
        load_task(str(tmp_path / 'missing.yaml'))
    same = load_task(os.path.join(CONFIG, 'double_pendulum.yaml'))
    assert same == load_task('double_pendulum')


@pytest.mark.parametrize('field, value, message', [
    ('task.dt', -0.05, 'task.dt must be > 0'),
    ('task.dt', 'fast', 'task.dt must be a number'),
    ('task.horizon', ..., 'task.horizon is missing'),
    ('task.horizon', 2.5, 'task.horizon must be an integer'),
    ('task.substeps', 0, 'task.substeps must be >= 1'),
    ('task.torque_limits', [10.0, 12.0], r'task.torque_limits\[1\] = 12.0 differs from the '
                                         r'effort limit 10.0 of joint_2'),
    ('task.torque_limits', [10.0, 10.0000001], r'task.torque_limits\[1\] = 10.0000001 differs '
                                               r'from the effort limit 10.0'),
    ('task.torque_limits', [10.0], 'task.torque_limits must have 2 entries'),
    ('task.goal', [3.0, 0.0, 0.0], 'task.goal must have 4 entries'),
    ('task.goal', [-3.2, 0.0, 0.0, 0.0], r'task.goal\[0\] = -3.2 is outside the limits'),
    ('task.initial_state.std', [0.1, -0.1, 0.0, 0.0], r'task.initial_state.std\[1\] must be >= 0'),
    ('task.reward.action_weights', [0.0, 1.0], r'task.reward.action_weights\[0\] must be > 0'),
    ('task.reward.time_weighting', 'late', 'task.reward.time_weighting must be one of'),
    ('task.reward.sigmoid_width', 0.0, 'task.reward.sigmoid_width must be > 0'),
    ('task.success.fraction', 1.5, 'task.success.fraction must be <= 1'),
    ('task.urdf', 'nothing.urdf', 'task.urdf names a missing file'),
    ('task.horizn', 100, 'task.horizn is not a known field'),
    ('task.dt', None, 'parameter task.dt is null'),
    ('task.goal', [3, 0.0, 0.0, 0.0], 'parameter task.goal must be a flat list of one type'),
    ('task.goal', [[3.0], [0.0]], 'parameter task.goal must be a flat list'),
    ('task.goal', [3, 0, 0, 10 ** 400], r'parameter task.goal\[3\] is an integer beyond 64 bits'),
    ('task.horizon', 2 ** 63, 'parameter task.horizon is an integer beyond 64 bits'),
    ('task.dt', 1e400, 'task.dt must be finite'),
    ('learning', ..., 'learning is missing'),
    ('task', ..., 'task is missing'),
])
def test_invalid_fields_are_named(tmp_path, field, value, message):
    with pytest.raises(ValueError, match=message):
        load_task(_mutated(tmp_path, field, value))


def test_a_urdf_that_cannot_be_read_is_named(tmp_path):
    broken = tmp_path / 'broken.urdf'
    broken.write_text('<robot name="b"><link name="base"/></robot')
    with pytest.raises(ValueError, match=r'task.urdf is not usable: URDF .*broken.urdf is not '
                                         r'valid XML'):
        load_task(_mutated(tmp_path, 'task.urdf', str(broken)))


def test_lists_in_the_learning_section_are_frozen(tmp_path):
    """A task is immutable: a list under learning: becomes a tuple."""
    task = load_task(_mutated(tmp_path, 'learning.schedule', [1.0, 2.0]))
    assert task.learning['schedule'] == (1.0, 2.0)


def test_reading_parameters_of_a_node_the_file_does_not_name(tmp_path):
    """With missing_ok a file without the node's section gives {}; an unreadable file raises."""
    path = _write(tmp_path, {'other_node': {'ros__parameters': {'rate': 5}}})
    assert read_parameters(path, node='learner', missing_ok=True) == {}
    with pytest.raises(ValueError, match="has no top-level 'learner:' mapping"):
        read_parameters(path, node='learner')
    with pytest.raises(ValueError, match='cannot read parameter file %s' % tmp_path):
        read_parameters(str(tmp_path))


def test_missing_ros_parameters_section(tmp_path):
    with pytest.raises(ValueError, match="no top-level '/\\*\\*:' mapping"):
        load_task(_write(tmp_path, {'task': {}}))


def test_fingerprint_follows_the_problem_not_the_labels(tmp_path):
    base = load_task('double_pendulum').fingerprint()
    assert base == load_task(_mutated(tmp_path, 'task.dt', 0.05)).fingerprint()  # same value
    for field, value in (('task.description', 'another text'), ('learning.epsilon', 7.0)):
        assert load_task(_mutated(tmp_path, field, value)).fingerprint() == base, field
    for field, value in (('task.reward.action_weights', [0.002, 0.001]), ('task.dt', 0.04),
                         ('task.initial_state.std', [0.02, 0.01, 0.01, 0.01]),
                         ('task.success.tolerance', 0.3), ('task.horizon', 99),
                         ('task.gravity', 0.0)):
        assert load_task(_mutated(tmp_path, field, value)).fingerprint() != base, field
    with open(os.path.join(ROOT, 'urdf', 'double_pendulum.urdf')) as handle:
        urdf = handle.read()
    assert 'damping="0.025"' in urdf
    (tmp_path / 'damped.urdf').write_text(urdf.replace('damping="0.025"', 'damping="0.05"'))
    robot = load_task(_mutated(tmp_path, 'task.urdf', str(tmp_path / 'damped.urdf')))
    assert robot.fingerprint() != base  # the robot is part of the problem


def test_reward_matches_hand_computation(tmp_path):
    task = _tiny_task(tmp_path)
    pi = math.pi
    states = np.array([[[0.0, 0.0, 0.0, 0.0], [1.0, 0.5, 2.0, -1.0], [3.0, -0.1, 0.0, 0.5]]])
    actions = np.array([[[2.0, -4.0], [1.0, 0.0]]])
    # goal (pi, 0, 0, 0); state weights (1, 2, 3, 4); action weights (0.5, 0.25); R_T doubled.
    r0 = -(1 * pi ** 2) - (0.5 * 4 + 0.25 * 16)
    r1 = -(1 * (pi - 1) ** 2 + 2 * 0.25 + 3 * 4 + 4 * 1) - (0.5 * 1)
    r2 = -2 * (1 * (pi - 3) ** 2 + 2 * 0.01 + 3 * 0 + 4 * 0.25)
    assert task.reward(states, actions) == pytest.approx([r0 + r1 + r2], rel=1e-12)
    # The same numbers through the QuadraticReward object the learners use.
    assert task.quadratic_reward().evaluate(states, actions) == pytest.approx([r0 + r1 + r2])
    with pytest.raises(ValueError, match='states have shape'):
        task.reward(states[:, :2], actions)
    with pytest.raises(ValueError, match='actions have shape'):
        task.reward(states, actions[:, :1])
    nan_states = states.copy()
    nan_states[0, 2, 0] = np.nan
    assert np.isnan(task.reward(nan_states, actions)[0])


def test_sigmoid_time_weighting(tmp_path):
    task = _tiny_task(tmp_path, time_weighting='sigmoid', sigmoid_center=0.5, sigmoid_width=0.25,
                      terminal_scale=1.0)
    w = [1 / (1 + math.exp(-(t / 2 - 0.5) / 0.25)) for t in range(3)]
    assert task.time_weights() == pytest.approx(w)
    M = task.quadratic_reward().M
    for t in range(3):
        assert np.diag(M[t]) == pytest.approx(-w[t] * np.array([1.0, 2.0, 3.0, 4.0]))


def test_success_requires_all_joints_near_goal_at_the_end():
    task = load_task('double_pendulum')
    T = task.horizon
    states = np.zeros((4, T + 1, 4))
    states[:, :, 0] = np.linspace(0.0, math.pi, T + 1)
    states[:, -10:, 0] = math.pi + 0.15  # all within 0.2 over the last 10 states
    states[1, -1, 1] = 0.25  # joint 2 off at the very end
    states[2, -10, 0] = math.pi - 0.3  # joint 1 off at the first of the last 10 states
    states[3, -11, 0] = math.pi - 0.3  # off only before the last 10 %: still a success
    assert list(task.success(states)) == [True, False, False, True]
    states[0, -3, 3] = np.nan
    assert not task.success(states)[0]
    # exactly at the tolerance counts as within it (pi + 0.2 - pi is 0.2 + 2e-16 in floats)
    at_edge = np.zeros((1, T + 1, 4))
    at_edge[0, -10:, 0] = math.pi + task.success_tolerance
    at_edge[0, -10:, 1] = -task.success_tolerance
    assert task.success(at_edge)[0]
    at_edge[0, -1, 0] = math.pi + task.success_tolerance + 1e-9
    assert not task.success(at_edge)[0]
    for shape in ((4,), (1, T, 4), (1, T + 1, 2)):
        with pytest.raises(ValueError, match=r'states have shape %s, expected \(N, %d, 4\)'
                                             % (re.escape(str(shape)), T + 1)):
            task.success(np.zeros(shape))


def test_initial_states_are_seeded_and_within_limits(tmp_path):
    task = load_task('double_pendulum')
    a, b = task.sample_initial_states(50, 3), task.sample_initial_states(50, 3)
    assert a.shape == (50, 4) and np.array_equal(a, b)
    assert np.std(a[:, 0]) == pytest.approx(0.01, rel=0.3)
    wide = load_task(_mutated(tmp_path, 'task.initial_state.std', [5.0, 5.0, 1.0, 1.0]))
    x = wide.sample_initial_states(200, 0)
    assert np.all(x[:, :2] >= wide.joint_lower) and np.all(x[:, :2] <= wide.joint_upper)
    assert np.any(x[:, 0] == wide.joint_lower[0])  # clipping did happen
    distribution = task.initial_distribution()
    assert np.allclose(distribution.cov, np.eye(4) * 1e-4)


def test_make_simulator_uses_task_settings():
    task = load_task('double_pendulum')
    sim = task.make_simulator(n_robots=2)
    assert sim.dt == task.dt and sim.substeps == task.substeps and sim.n_copies == 2
    assert tuple(sim.effort_limits) == task.torque_limits
    assert sim.divergence_bound == task.divergence_bound
    result = sim.rollout(lambda t, x: np.zeros((2, 2)), task.sample_initial_states(2, 0),
                         horizon=task.horizon)
    assert task.reward(result.states, result.torques).shape == (2,)
    assert not task.success(result.states).any()  # hanging still is not upright


@pytest.mark.parametrize('field, value, message', [
    ('task.gravity', -9.81, 'task.gravity must be >= 0'),
    ('task.reward.sigmoid_center', 1.5, 'task.reward.sigmoid_center must be <= 1'),
    ('task.reward.sigmoid_center', -0.5, 'task.reward.sigmoid_center must be >= 0'),
    ('task.name', '', 'task.name must be a non-empty string'),
    ('task.description', 5, 'task.description must be a string'),
    ('task.initial_state.std', [math.inf, 0.01, 0.01, 0.01],
     r'task.initial_state.std\[0\] must be finite'),
    ('task.goal', [math.pi, 0.0, 0.0, 0.0, 0.0], 'task.goal must have 4 entries, got 5'),
    ('task.reward.action_weights', [True, True],
     r'task.reward.action_weights\[0\] must be a number'),
    ('task.horizon', True, 'task.horizon must be an integer'),
    ('task.horizon', 0, 'task.horizon must be >= 1'),
    ('task.dt', True, 'task.dt must be a number'),
    ('task.divergence_bound', 0.0, 'task.divergence_bound must be > 0'),
    ('task.initial_state.mean', [-3.2, 0.0, 0.0, 0.0],
     r'task.initial_state.mean\[0\] = -3.2 is outside the limits'),
    ('task.reward.state_weights', [1.0, -1.0, 0.0, 0.0],
     r'task.reward.state_weights\[1\] must be >= 0'),
    ('task.success.tolerance', 0.0, 'task.success.tolerance must be > 0'),
    ('task.success.fraction', 0.0, 'task.success.fraction must be > 0'),
    ('task.reward.terminal_scale', -1.0, 'task.reward.terminal_scale must be >= 0'),
    ('learning', 5, 'learning must be a mapping'),
    ('task.reward', 5, 'task.reward must be a mapping'),
    ('task.goal', 3.0, 'task.goal must be a list of 4 numbers, got 3.0'),
    ('task.goal', [], 'parameter task.goal is an empty list'),
    ('task.dt', datetime.date(2020, 1, 1), 'parameter task.dt has unsupported type date'),
])
def test_more_invalid_task_fields_are_named(tmp_path, field, value, message):
    """Wrong types, empty or non-finite values and values out of range are named."""
    with pytest.raises(ValueError, match=message):
        load_task(_mutated(tmp_path, field, value))


def test_parameter_files_refuse_what_ros_refuses_or_misreads(tmp_path):
    """A key given twice (YAML keeps the last), anchors and merge keys (rcl refuses them)."""
    twice = tmp_path / 'twice.yaml'
    twice.write_text('/**:\n  ros__parameters:\n    task:\n      dt: 0.05\n      dt: 0.5\n')
    with pytest.raises(ValueError, match="key 'dt' given twice in one mapping"):
        read_parameters(str(twice))
    merged = tmp_path / 'merged.yaml'
    merged.write_text('defaults: &d\n  dt: 0.05\n  horizon: 10\n'
                      '/**:\n  ros__parameters:\n    task:\n      <<: *d\n      horizon: 20\n')
    with pytest.raises(ValueError, match=r'anchors and aliases \(d\) are not allowed'):
        read_parameters(str(merged))
    inline = tmp_path / 'inline.yaml'
    inline.write_text('/**:\n  ros__parameters:\n    task:\n      <<: {dt: 0.05}\n')
    with pytest.raises(ValueError, match=r'merge keys \(<<\) are not allowed'):
        read_parameters(str(inline))
    listed = tmp_path / 'listed.yaml'
    listed.write_text('/**:\n  ros__parameters:\n    ? [a, b]\n    : 1\n')
    with pytest.raises(ValueError, match='is not valid YAML'):
        read_parameters(str(listed))
    binary = tmp_path / 'binary.yaml'
    binary.write_bytes(b'\xff\xfe\x00garbage')
    with pytest.raises(ValueError, match='binary.yaml is not valid YAML'):
        read_parameters(str(binary))
    unclosed = tmp_path / 'unclosed.yaml'
    unclosed.write_text('/**:\n  ros__parameters:\n    limits: [1.0, 2.0\n')
    with pytest.raises(ValueError, match='unclosed.yaml is not valid YAML') as error:
        read_parameters(str(unclosed))
    assert '\n' not in str(error.value) and 'line 3' in str(error.value)  # where, on one line


def test_values_on_the_edges_of_their_ranges_are_accepted(tmp_path):
    """Horizon and substeps 1, success fraction 1, an initial mean on a joint limit: all valid."""
    document = copy.deepcopy(_document())
    task = document['/**']['ros__parameters']['task']
    lower = load_task('double_pendulum').joint_lower[0]
    task.update({'horizon': 1, 'substeps': 1})
    task['success']['fraction'] = 1.0
    task['initial_state']['mean'] = [lower, 0.0, 0.0, 0.0]
    edge = load_task(_write(tmp_path, document))
    assert (edge.horizon, edge.substeps, edge.success_fraction) == (1, 1, 1.0)
    assert edge.initial_mean[0] == lower


@pytest.mark.parametrize('n', [0, 2.5])
def test_sample_initial_states_needs_a_positive_integer_count(n):
    """Zero or a fractional number of initial states is refused, not rounded."""
    with pytest.raises(ValueError, match='n must be an integer >= 1'):
        load_task('double_pendulum').sample_initial_states(n, 0)


def test_simulator_follows_the_task_gravity(tmp_path):
    """Without gravity a pendulum held out sideways stays there; with it, it falls."""
    x0 = np.array([[np.pi / 2, 0.0, 0.0, 0.0]])
    moved = []
    for gravity in (0.0, 9.81):
        sim = load_task(_mutated(tmp_path, 'task.gravity', gravity)).make_simulator()
        try:
            result = sim.rollout(lambda t, x: np.zeros((1, 2)), x0, horizon=5)
        finally:
            sim.close()
        moved.append(np.abs(result.states[0, -1] - x0[0]).max())
    assert moved[0] < 1e-9 < 0.01 < moved[1]


@pytest.mark.parametrize('value', [2 ** 63 - 1, -2 ** 63])
def test_integers_at_the_64_bit_limits_are_accepted(tmp_path, value):
    """The largest and smallest 64-bit integers are valid ROS integer parameters."""
    path = tmp_path / 'params.yaml'
    path.write_text('/**:\n  ros__parameters:\n    big: %d\n    listed: [%d]\n' % (value, value))
    assert read_parameters(str(path)) == {'big': value, 'listed': [value]}


def test_parameter_files_hold_bool_lists_and_refuse_scalars_for_mappings(tmp_path):
    """A bool list is a ROS parameter type; '/**:' or 'ros__parameters:' holding 5 is an error."""
    flags = tmp_path / 'flags.yaml'
    flags.write_text('/**:\n  ros__parameters:\n    flags: [true, false]\n')
    assert read_parameters(str(flags)) == {'flags': [True, False]}
    for text, message in (('/**: 5\n', "has no top-level '/\\*\\*:' mapping"),
                          ('/**:\n  ros__parameters: 5\n', "has no 'ros__parameters:' mapping")):
        scalar = tmp_path / 'scalar.yaml'
        scalar.write_text(text)
        with pytest.raises(ValueError, match=message):
            read_parameters(str(scalar))


def test_task_arguments_with_a_separator_or_yaml_suffix_are_paths(tmp_path, monkeypatch):
    """dir/file.params and a bare mine.yml are files; known_tasks lists names sorted."""
    with open(os.path.join(CONFIG, 'double_pendulum.yaml')) as stream:
        text = stream.read()
    params = tmp_path / 'double_pendulum.params'
    params.write_text(text)
    assert load_task(str(params)).source == str(params)
    (tmp_path / 'mine.yml').write_text(text)
    monkeypatch.chdir(tmp_path)
    assert task_path('mine.yml') == str(tmp_path / 'mine.yml')
    monkeypatch.setattr(loader, 'config_dir', lambda: str(tmp_path))
    monkeypatch.setattr(loader.os, 'listdir',
                        lambda directory: ['zeta.yaml', 'notes.txt', 'alpha.yaml', 'mid.yaml'])
    assert known_tasks() == ['alpha', 'mid', 'zeta']


def test_user_base_matches_whole_directory_names_only(tmp_path, monkeypatch):
    """A package under <USER_BASE>2/ is not from the --user prefix <USER_BASE>/."""
    prefix, user = (tmp_path / name / 'share' / 'ps_control' for name in ('prefix', 'user'))
    for share in (prefix, user):
        (share / 'config').mkdir(parents=True)
    monkeypatch.setattr(paths, '_PACKAGE_PARENT', str(tmp_path / 'user2' / 'lib'))
    monkeypatch.setattr(paths, '_share_root', lambda: None)
    monkeypatch.setattr(paths.sys, 'prefix', str(tmp_path / 'prefix'))
    monkeypatch.setattr(paths.site, 'USER_BASE', str(tmp_path / 'user'))
    assert paths.data_dir('config') == str(prefix / 'config')


def test_source_tree_wins_over_the_ament_index(tmp_path, monkeypatch):
    """With a checkout present, its config/ is used even if the ament index has another one."""
    source = paths._source_root()
    assert source == ROOT  # these tests run from a checkout
    index = tmp_path / 'share' / 'ps_control'
    (index / 'config').mkdir(parents=True)
    monkeypatch.setattr(paths, '_share_root', lambda: str(index))
    assert paths.data_dir('config') == CONFIG
