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
The exact-model iLQR reference on PyBullet: Jacobians at the torque limits, the staged swing-up.

The reference itself is tested on a single pendulum (torque- and angle-limited like the task
pendulums, horizon 4 s): the double pendulum's takes about two minutes, too slow for a test.
"""

import json
import os

import numpy as np
from ps_control.ilqr_reference import ilqr_initial_controls, ilqr_reference
from ps_control.sim import urdf_gen
from ps_control.sim.finite_difference import FiniteDifferenceDynamics
from ps_control.sim.simulator import Simulator
from ps_control.tasks import load_task
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOUBLE = os.path.join(ROOT, 'urdf', 'double_pendulum.urdf')

SINGLE_TASK = """/**:
  ros__parameters:
    task:
      name: 'single_pendulum'
      description: 'Swing-up of a torque- and angle-limited single pendulum (test).'
      urdf: '%s'
      horizon: 50
      dt: 0.08
      substeps: 5
      gravity: 9.81
      torque_limits: [3.0]
      divergence_bound: 100.0
      goal: %s
      initial_state:
        mean: %s
        std: [0.01, 0.01]
      reward:
        state_weights: [10000.0, 1.0]
        action_weights: [0.001]
        time_weighting: 'sigmoid'
        sigmoid_center: 0.8
        sigmoid_width: 0.02
        terminal_scale: 1.0
      success:
        tolerance: 0.2
        fraction: 0.1
    learning:
      algorithm: 'gps'
      iterations: 25
      samples: 25
      epsilon: 0.5
      entropy_delta: 0.0
      initial_policy_gain_p: 1.0
      initial_policy_gain_d: 0.5
      initial_policy_std: 1.0
      seed: 0
"""

# small budgets: the whole staged reference runs in about 10 s
SMALL = {'starts': ['zero', 'pump'], 'screen_iterations': 25, 'penalised_iterations': 30,
         'exact_iterations': 20, 'rounds': 1, 'final_iterations': 10, 'policy_rollouts': 4}


def test_torque_on_the_effort_limit_is_differenced_from_inside():
    model = FiniteDifferenceDynamics(Simulator(DOUBLE, 0.05, substeps=10))
    forward = FiniteDifferenceDynamics(model.sim, scheme='forward')
    x = np.array([1.0, -0.6, 2.0, 1.0])
    on_limit, inside = np.array([10.0, -10.0]), np.array([10.0 - 1e-3, -10.0 + 1e-3])
    _, B_on = model.jacobians(x, on_limit)
    _, B_in = model.jacobians(x, inside)
    # f is smooth inside the box: the derivative on the limit is the one just inside it (a
    # central difference across the limit would give half of it)
    np.testing.assert_allclose(B_on, B_in, rtol=1e-3, atol=1e-8)
    A_f, B_f, c_f = forward.linearize(x[None], on_limit[None])
    A_c, B_c, _ = model.linearize(x[None], on_limit[None])
    np.testing.assert_allclose(B_f, B_c, rtol=1e-3, atol=1e-8)
    np.testing.assert_allclose(A_f, A_c, rtol=1e-3, atol=1e-6)
    assert np.abs(A_f[0] @ x + B_f[0] @ on_limit + c_f[0] - model.step(x, on_limit)).max() < 1e-9
    with pytest.raises(ValueError, match='scheme'):
        FiniteDifferenceDynamics(model.sim, scheme='backward')


def _single_task_file(folder, goal='[3.141592653589793, 0.0]', mean='[0.0, 0.0]'):
    """Write the single pendulum's URDF and task file (joint limits -pi/2 .. 3 pi/2)."""
    spec = urdf_gen.pendulum_spec('single_pendulum', 1, 1.0, 1.0, 0.75, 0.025, 0.0, 3.0)
    (folder / 'single.urdf').write_text(urdf_gen.chain_urdf(spec))
    path = folder / 'single_pendulum.yaml'
    path.write_text(SINGLE_TASK % (folder / 'single.urdf', goal, mean))
    return str(path)


@pytest.fixture(scope='module')
def single_pendulum(tmp_path_factory):
    path = _single_task_file(tmp_path_factory.mktemp('single'))
    out = os.path.join(os.path.dirname(path), 'out')
    return path, out, ilqr_reference(path, out, quiet=True, settings=SMALL)


def test_reference_swings_the_single_pendulum_up(single_pendulum):
    path, _, reference = single_pendulum
    task = load_task(path)
    # holding the pendulum out horizontally needs 9.81 * 0.75 = 7.4 N m > 3 N m: it must swing
    assert reference['success']
    states, actions = np.array(reference['states']), np.array(reference['actions'])
    assert task.success(states[None])[0]
    assert np.abs(actions).max() <= 3.0
    assert np.all(states[:, 0] > -np.pi / 2) and np.all(states[:, 0] < 1.5 * np.pi)
    # the trajectory is the true rollout of the actions, with the reported reward
    sim = task.make_simulator()
    x = np.array(task.initial_state_mean)
    for u in actions:
        sim.reset(x)
        x = sim.step(u)
    sim.close()
    np.testing.assert_allclose(x, states[-1], atol=1e-9)
    assert reference['reward'] == pytest.approx(task.reward(states[None], actions[None])[0],
                                                rel=1e-12)
    # iLQR from rest alone does not find the swing-up: the screening matters
    screened = {entry['start']: entry['reward'] for entry in reference['screening']}
    assert screened['zero'] < 100 * reference['reward']
    assert reference['best_start'] == 'pump'
    rewards = [stage['reward'] for stage in reference['stages'] if 'reward' in stage]
    assert np.all(np.diff(rewards) >= -1e-9 * abs(rewards[-1]))
    assert reference['policy_success_rate'] >= 0.5


def test_reference_is_cached_and_recomputed_for_other_settings(single_pendulum):
    path, out, reference = single_pendulum
    file = os.path.join(out, 'single_pendulum', 'ilqr.json')
    with open(file) as handle:
        assert json.load(handle) == reference
    stamp = os.stat(file).st_mtime_ns
    assert ilqr_reference(path, out, quiet=True, settings=SMALL) == reference
    assert os.stat(file).st_mtime_ns == stamp
    other = ilqr_reference(path, out, quiet=True, settings=dict(SMALL, starts=['zero'],
                                                                screen_iterations=2,
                                                                penalised_iterations=2,
                                                                exact_iterations=2,
                                                                final_iterations=2))
    assert other['settings']['starts'] == ['zero'] and other['reward'] < reference['reward']
    with open(file) as handle:
        assert json.load(handle)['settings']['starts'] == ['zero']


def test_reference_is_recomputed_when_the_task_changes(single_pendulum, tmp_path):
    """A cached reference of the same settings but another reward (or robot) is not reused."""
    path, _, _ = single_pendulum
    tiny = dict(SMALL, starts=['zero'], screen_iterations=2, penalised_iterations=2,
                exact_iterations=2, final_iterations=2)
    out = str(tmp_path / 'out')
    first = ilqr_reference(path, out, quiet=True, settings=tiny)
    assert first['task_fingerprint'] == load_task(path).fingerprint()
    with open(path) as handle:
        text = handle.read()
    changed = str(tmp_path / 'single_pendulum.yaml')  # same task name, so the same cache file
    with open(changed, 'w') as handle:
        handle.write(text.replace('action_weights: [0.001]', 'action_weights: [0.01]'))
    second = ilqr_reference(changed, out, quiet=True, settings=tiny)
    assert second['task_fingerprint'] == load_task(changed).fingerprint()
    assert second['task_fingerprint'] != first['task_fingerprint']
    assert second['reward'] != first['reward']  # computed on the new reward, not read back
    with open(os.path.join(out, 'single_pendulum', 'ilqr.json')) as handle:
        assert json.load(handle)['task_fingerprint'] == second['task_fingerprint']


@pytest.mark.parametrize('content', ['{"reward": -1.0, "sett', '[1, 2]', ''])
def test_a_corrupt_cached_reference_is_recomputed(single_pendulum, tmp_path, content):
    """A truncated or foreign ilqr.json is a stale cache: recomputed and rewritten, no error."""
    path, _, _ = single_pendulum
    tiny = dict(SMALL, starts=['zero'], screen_iterations=2, penalised_iterations=2,
                exact_iterations=2, final_iterations=2)
    out = str(tmp_path / 'out')
    file = os.path.join(out, 'single_pendulum', 'ilqr.json')
    os.makedirs(os.path.dirname(file))
    with open(file, 'w') as handle:
        handle.write(content)
    reference = ilqr_reference(path, out, quiet=True, settings=tiny)
    assert reference['task_fingerprint'] == load_task(path).fingerprint()
    with open(file) as handle:
        assert json.load(handle) == reference
    assert os.listdir(os.path.dirname(file)) == ['ilqr.json']  # no temporary file left


def test_starts_whose_rollout_diverges_are_skipped(tmp_path, capsys):
    """The pump start spins the horizontal 2-link arm until it diverges: the others go on."""
    reference = ilqr_reference('arm_2', str(tmp_path))
    screened = [entry['start'] for entry in reference['screening']]
    assert 'pump' not in screened and reference['best_start'] in screened
    assert 'screening start pump: simulation diverged' in capsys.readouterr().out
    assert np.isfinite(reference['reward']) and len(reference['actions']) == 50


def test_a_reference_whose_every_start_diverges_says_so(tmp_path):
    from ps_control.sim.simulator import DivergenceError
    with pytest.raises(DivergenceError, match='every iLQR start diverged: pump'):
        ilqr_reference('arm_2', str(tmp_path), settings={'starts': ['pump']})


TINY = {'starts': ['zero', 'random'], 'screen_iterations': 2, 'penalised_iterations': 2,
        'exact_iterations': 2, 'rounds': 2, 'tail_iterations': 2, 'final_iterations': 3,
        'policy_rollouts': 2}


@pytest.fixture(scope='module')
def near_limit(tmp_path_factory):
    """Return (task file, references for seeds 0 and 1) of a start within the limit margin."""
    folder = tmp_path_factory.mktemp('near_limit')
    # -1.3 rad is within limit_margin (0.4 rad) of the lower joint limit -pi/2: penalised
    path = _single_task_file(folder, mean='[-1.3, 0.0]')
    references = [ilqr_reference(path, str(folder / ('out%d' % seed)), quiet=True,
                                 settings=dict(TINY, seed=seed)) for seed in (0, 1)]
    return path, references


def test_exact_stages_maximise_the_task_reward_alone(near_limit):
    """Only the penalised stages subtract the joint-limit penalty from the reward."""
    _, (reference, _) = near_limit
    stages = reference['stages']
    penalised = [s for s in stages if s['stage'] == 'penalised']
    exact = [s for s in stages if s['stage'] == 'exact']
    assert penalised and exact
    for stage in penalised:
        assert stage['objective'] < stage['reward']  # the penalty is active here
    for stage in exact:
        assert stage['objective'] == stage['reward']


def test_the_refinement_runs_rounds_times_a_tail_and_an_exact_stage(near_limit):
    """After the penalised and the exact stage come ``rounds`` (tail, exact) pairs."""
    _, (reference, _) = near_limit
    names = [stage['stage'] for stage in reference['stages']]
    assert names == ['penalised', 'exact'] + ['tail', 'exact'] * TINY['rounds']


def test_the_total_iterations_count_the_screening_and_every_stage(near_limit):
    """'iterations' is the sum over the screened starts and the refinement stages."""
    _, references = near_limit
    for reference in references:
        assert len(reference['screening']) == len(TINY['starts'])
        expected = (sum(entry['iterations'] for entry in reference['screening'])
                    + sum(stage['iterations'] for stage in reference['stages']))
        assert reference['iterations'] == expected


def test_the_seed_setting_reaches_the_random_start(near_limit):
    """Another seed screens other random controls; the zero start is the same."""
    _, references = near_limit
    screened = [{entry['start']: entry for entry in reference['screening']}
                for reference in references]
    assert screened[0]['zero']['reward'] == screened[1]['zero']['reward']
    assert screened[0]['random']['reward'] != screened[1]['random']['reward']


def test_random_start_stays_within_half_the_torque_limits(near_limit):
    """The random start's knots are drawn from half the limits, so are its torques."""
    path, _ = near_limit
    task = load_task(path)
    limit = np.asarray(task.torque_limits, dtype=float)
    for seed in range(5):
        controls = ilqr_initial_controls(task, None, 'random', seed)
        assert controls.shape == (task.horizon, task.du)
        assert np.all(np.abs(controls) <= 0.5 * limit + 1e-12)
    assert not np.array_equal(ilqr_initial_controls(task, None, 'random', 0),
                              ilqr_initial_controls(task, None, 'random', 1))


def test_an_unknown_start_is_named():
    with pytest.raises(ValueError, match=r"unknown iLQR start 'swing' \(zero, pump or random\)"):
        ilqr_initial_controls(load_task('double_pendulum'), None, 'swing')


def test_converged_is_that_of_the_last_stage(tmp_path):
    """At rest on its goal the stages converge, except one of no iterations: not the last."""
    path = _single_task_file(tmp_path, goal='[0.0, 0.0]')
    reference = ilqr_reference(path, str(tmp_path / 'out'), quiet=True,
                               settings=dict(TINY, starts=['zero'], penalised_iterations=0,
                                             final_iterations=20))
    stages = reference['stages']
    assert stages[0]['stage'] == 'penalised' and not stages[0]['converged']
    assert stages[-1]['converged']
    assert reference['converged'] is True


def test_pump_start_pumps_joint_1_and_holds_the_others_straight():
    """Full torque on joint 1 along its velocity; the PD torque on joint 2 opposes its bend."""
    task = load_task('double_pendulum')
    limit = np.asarray(task.torque_limits, dtype=float)
    sim = task.make_simulator(n_robots=1)
    try:
        model = FiniteDifferenceDynamics(sim)
        controls = ilqr_initial_controls(task, model, 'pump')
        x = np.asarray(task.initial_state_mean, dtype=float)
        states = [x]
        for u in controls[:-1]:
            x = model.step(x, u)
            states.append(x)
    finally:
        sim.close()
    states = np.array(states)
    q, qd = states[:, :task.du], states[:, task.du:]
    np.testing.assert_array_equal(controls[:, 0], np.where(qd[:, 0] >= 0.0, limit[0], -limit[0]))
    bend = 2.0 * q[:, 1] + 0.2 * qd[:, 1]
    assert np.all(controls[:, 1] * bend <= 0.0)  # against the bend of joint 2
    assert np.all(np.abs(controls[:, 1]) <= limit[1])
    assert np.abs(bend).max() > 0.1 and np.abs(controls[:, 1]).max() > 0.0  # it did bend
