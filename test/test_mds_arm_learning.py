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
G-AMDS as a learner on the PyBullet arm (ps_control.mds_learning), without ROS.

The arm model (kinematics, inertia, inverse dynamics) against PyBullet, the episode policies
against the DMP they track (in the controller's terms and on the simulated arm), the measured
cost against the paper's cost, a learning run that brings the arm to the via-point, checkpoint
resume, and bad input.
"""

import dataclasses

import numpy as np
from ps_control import checkpoint, learning, learning_config, mds_learning
from ps_control.core.mds import MirrorDescentSearch
from ps_control.learning_config import LearningConfig, load_learning_config
from ps_control.mds_learning import ArmViaPointSearch, rollout_episodes, run_batch
from ps_control.tasks import load_task
from ps_control.tasks.planar_arm import PlanarArm
from ps_control.tasks.via_point import planar_arm_points
import pybullet
import pytest


def g_amds(task_name='arm_2', algorithm='g_amds', **overrides):
    """Return (task, config) of the task's mirror-descent learning settings with overrides."""
    task = load_task(task_name)
    return task, learning_config.load_learning_config(task, dict(overrides, algorithm=algorithm))


def perfect_tracking(search):
    """Return states (M, T+1, dx) and zero torques of every episode tracking its DMP exactly."""
    _, params, _ = search._episodes()
    traj = search.via.rollout(params)
    states = np.concatenate([traj.y, traj.yd], axis=-1)
    return states, np.zeros((params.shape[0], search.task.horizon, search.task.du))


@pytest.mark.parametrize('n', [2, 10])
def test_planar_arm_model_matches_pybullet(n):
    task = load_task('arm_2' if n == 2 else 'arm')
    arm = PlanarArm.from_urdf(task.urdf_path)
    assert arm.n_joints == n and np.allclose(arm.offsets, 1.0 / n)
    simulator = task.make_simulator()
    client, body = simulator._copies[0]
    rng = np.random.default_rng(n)
    try:
        for q in rng.uniform(-1.5, 1.5, size=(3, n)):
            expected = np.array(pybullet.calculateMassMatrix(body, q.tolist(),
                                                             physicsClientId=client))
            np.testing.assert_allclose(arm.mass_matrix(q), expected, atol=1e-12)
            simulator.reset(np.concatenate([q, np.zeros(n)]))
            base = np.array(pybullet.getBasePositionAndOrientation(
                body, physicsClientId=client)[0][:2])
            frames = np.array([pybullet.getLinkState(body, j, physicsClientId=client)[4][:2]
                               for j in range(n)]) - base
            centres = np.array([pybullet.getLinkState(body, j, physicsClientId=client)[0][:2]
                                for j in range(n)]) - base
            # joint frames and centres of mass as PyBullet has them (single precision), and the
            # paper's kinematics that the via-point cost uses
            np.testing.assert_allclose(arm.joint_positions(q), frames, atol=1e-6)
            np.testing.assert_allclose(arm.centres_of_mass(q), centres, atol=1e-6)
            np.testing.assert_allclose(planar_arm_points(q)[:-1], frames, atol=1e-6)
    finally:
        simulator.close()


@pytest.mark.parametrize('n', [2, 10])
def test_inverse_dynamics_gives_the_accelerations_pybullet_simulates(n):
    task = load_task('arm_2' if n == 2 else 'arm')
    arm = PlanarArm.from_urdf(task.urdf_path)
    dt = 1e-5  # one short physics step: the acceleration barely changes within it
    simulator = dataclasses.replace(task, dt=dt, substeps=1).make_simulator()
    rng = np.random.default_rng(n)
    try:
        for _ in range(3):
            q = rng.uniform(-1.5, 1.5, size=n)
            qd = rng.uniform(-3.0, 3.0, size=n)
            qdd = rng.uniform(-20.0, 20.0, size=n)
            tau = arm.inverse_dynamics(q, qd, qdd)
            assert np.all(np.abs(tau) < np.asarray(task.torque_limits))  # not clipped
            simulator.reset(np.concatenate([q, qd]))
            moved = simulator.step(tau)
            np.testing.assert_allclose((moved[n:] - qd) / dt, qdd, atol=0.02)
            # without the velocity terms it is the mass matrix times the accelerations; leaving
            # them out would miss the accelerations by far more than the tolerance above
            inertia = arm.mass_matrix(q)
            np.testing.assert_allclose(arm.inverse_dynamics(q, 0.0, qdd), inertia @ qdd,
                                       atol=1e-12)
            assert np.abs(np.linalg.solve(inertia, tau - inertia @ qdd)).max() > 0.2
    finally:
        simulator.close()


@pytest.mark.parametrize('n', [2, 10])
def test_inverse_dynamics_jacobians_are_its_first_order_change(n):
    """tau_ID(x + s d) - tau_ID(x) - s J d is O(s^2): it shrinks 4x when s halves."""
    arm = PlanarArm.from_urdf(load_task('arm_2' if n == 2 else 'arm').urdf_path)
    rng = np.random.default_rng(n)
    q, qd, qdd = rng.uniform(-1.0, 1.0, (3, n)) * [[1.0], [3.0], [10.0]]
    J_q, J_qd = arm.inverse_dynamics_jacobians(q, qd, qdd)
    assert J_q.shape == J_qd.shape == (n, n)
    dq, dqd = rng.standard_normal((2, n))
    base = arm.inverse_dynamics(q, qd, qdd)
    gaps = [np.abs(arm.inverse_dynamics(q + s * dq, qd + s * dqd, qdd) - base
                   - s * (J_q @ dq + J_qd @ dqd)).max() for s in (0.02, 0.01)]
    assert 3.5 < gaps[0] / gaps[1] < 4.5, gaps
    # at rest the velocity terms vanish to first order: d tau / d qd = 0
    np.testing.assert_allclose(arm.inverse_dynamics_jacobians(q, 0.0 * qd, qdd)[1], 0.0,
                               atol=1e-8)
    # batched over leading dimensions
    batch = arm.inverse_dynamics_jacobians(np.stack([q, q]), np.stack([qd, qd]), qdd)
    np.testing.assert_allclose(batch[0][1], J_q, rtol=1e-12)


def test_episode_policies_track_the_sampled_dmps_and_the_cost_is_the_papers():
    task, config = g_amds('arm', iterations=1)
    search = ArmViaPointSearch(task, config)
    assert search.episode_count == config.samples + 1
    _, params, _ = search._episodes()
    # the first N rows are this iteration's samples, the last the search mean (theta = 0)
    assert np.allclose(params[-1], 0.0) and np.std(params[:-1]) == pytest.approx(
        config.search_std, rel=0.1)
    traj = search.via.rollout(params)
    w, zeta, n = config.tracking_frequency, config.tracking_damping_ratio, task.du
    assert config.tracking_feedforward == 1.0 and w > 0
    for j in (0, config.samples):
        policy = search.episode_policy(j)
        assert policy.K.shape == (task.horizon, task.du, task.dx)
        # computed torque linearised about the reference:
        # K_t = [J_q - w^2 M(y_t), J_qd - 2 zeta w M(y_t)], J the inverse dynamics' Jacobians
        for t in (0, 7, task.horizon - 1):
            inertia = search.arm.mass_matrix(traj.y[j, t])
            J_q, J_qd = search.arm.inverse_dynamics_jacobians(traj.y[j, t], traj.yd[j, t],
                                                              traj.ydd[j, t])
            np.testing.assert_allclose(policy.K[t, :, :n], J_q - w ** 2 * inertia, rtol=1e-9,
                                       atol=1e-9)
            np.testing.assert_allclose(policy.K[t, :, n:], J_qd - 2 * zeta * w * inertia,
                                       rtol=1e-9, atol=1e-9)
        assert not np.allclose(policy.K[0], policy.K[-1])  # gains follow the reference posture
        # at the reference state the policy commands the inverse dynamics of the reference
        for t in (0, 7, 20):
            x = np.concatenate([traj.y[j, t], traj.yd[j, t]])
            torque = search.arm.inverse_dynamics(traj.y[j, t], traj.yd[j, t], traj.ydd[j, t])
            np.testing.assert_allclose(policy.mean_action(t, x), torque, rtol=1e-9, atol=1e-12)
        # off the reference the policy is computed torque to first order: the gap to
        # tau_ID(q, qd, ydd_t) + M(y_t) (w^2 (y_t - q) + 2 zeta w (yd_t - qd)) shrinks 4x
        # when the offset halves (without the Jacobian terms it would only halve)
        y, yd, ydd = traj.y[j, 7], traj.yd[j, 7], traj.ydd[j, 7]
        inertia = search.arm.mass_matrix(y)
        offset = np.random.default_rng(j).standard_normal(2 * n)
        gaps = []
        for size in (0.02, 0.01):
            q, qd = y + size * offset[:n], yd + size * offset[n:]
            exact = (search.arm.inverse_dynamics(q, qd, ydd)
                     + inertia @ (w ** 2 * (y - q) + 2 * zeta * w * (yd - qd)))
            gaps.append(np.abs(policy.mean_action(7, np.concatenate([q, qd])) - exact).max())
        assert 3.5 < gaps[0] / gaps[1] < 4.5, gaps
        np.testing.assert_allclose(policy.cov[3], config.tracking_action_std ** 2 * np.eye(n))
    # a robot that tracks perfectly is charged exactly the paper's cost of the DMP
    states, _ = perfect_tracking(search)
    costs, errors = search.measured_costs(states, params)
    paper, _ = search.via.step_costs(params)
    np.testing.assert_allclose(costs, paper.sum(axis=1), rtol=1e-9)
    np.testing.assert_allclose(errors[-1], search.via.via_error(params[-1]), rtol=1e-9)


@pytest.mark.parametrize('name', ['arm_2', 'arm'])
def test_the_simulated_arm_follows_the_sampled_dmps_within_its_torque_limits(name):
    # the physical fix: with the effort limits of urdf_gen (50 s^2 N m) and computed-torque
    # tracking the arm makes the DMP movements the cost is about (the former limits saturated
    # and whipped the tip, the former soft PD lagged up to 0.43 rad behind)
    task, config = g_amds(name, iterations=1)
    search = ArmViaPointSearch(task, config)
    simulator = task.make_simulator(n_robots=search.episode_count)
    try:
        states, actions = rollout_episodes(search, simulator,
                                           np.zeros((search.episode_count, task.dx)), rng=0)
    finally:
        simulator.close()
    _, params, _ = search._episodes()
    traj = search.via.rollout(params)
    n = task.du
    limits = np.asarray(task.torque_limits)
    assert np.all(np.abs(actions) < 0.9 * limits)  # never saturated
    assert np.abs(states[..., :n] - traj.y).max() < 0.1  # rad, every joint, every step
    _, errors = search.measured_costs(states, params)
    dmp = [search.via.via_error(p) for p in params]
    np.testing.assert_allclose(errors, dmp, atol=0.02)
    assert np.all(errors > 0.2)  # theta = 0 and its neighbours miss the via-point: work to do


@pytest.mark.parametrize('algorithm', ['g_amds', 'g_mds'])
def test_mirror_descent_on_the_pybullet_arm_brings_the_end_effector_to_the_via_point(algorithm):
    task, config = g_amds('arm_2', algorithm, iterations=40)
    search = learning.make_search(task, config)
    assert isinstance(search, ArmViaPointSearch)
    simulator = task.make_simulator(n_robots=search.episode_count)
    try:
        history = run_batch(search, simulator, config.iterations, seed=0)
    finally:
        simulator.close()
    assert [m['iteration'] for m in history] == list(range(1, 41))
    first, last = history[0], history[-5:]
    # theta = 0 misses the via-point by about 0.33 m; the measured movement of the mean ends
    # within the tolerance (0.02 m) and costs a small fraction of the start
    assert first['via_error'] > 0.3
    assert all(m['via_error'] <= config.via_tolerance for m in last)
    assert all(m['mean_cost'] < 0.02 * first['mean_cost'] for m in last)
    assert np.mean([m['sample_via_error'] for m in last]) < 0.1
    assert np.mean([m['expected_reward'] for m in last]) > 0.05 * first['expected_reward']
    for m in history:
        assert 0.0 <= m['max_kl'] <= np.log(config.samples) + 1e-9
        assert 0.0 <= m['success_rate'] <= 1.0 and m['samples'] == config.samples
        assert m['saturation'] < 0.01  # the movement fits in the effort limits
        assert ('mixture_weight' in m) == (algorithm == 'g_amds')  # G-AMDS's lambda_k


def test_rollouts_record_what_the_episode_policies_do():
    task, config = g_amds('arm_2', iterations=1)
    search = ArmViaPointSearch(task, config)
    simulator = task.make_simulator(n_robots=search.episode_count)
    try:
        x0 = np.zeros((search.episode_count, task.dx))
        states, actions = rollout_episodes(search, simulator, x0, rng=1)
        again, _ = rollout_episodes(search, simulator, x0, rng=1)
    finally:
        simulator.close()
    np.testing.assert_allclose(states, again)
    for j in (0, 3, search.episode_count - 1):
        policy = search.episode_policy(j)
        commanded = np.einsum('tij,tj->ti', policy.K, states[j, :-1]) + policy.k
        np.testing.assert_allclose(actions[j], commanded, atol=1e-4)  # before any clipping


@pytest.mark.parametrize('algorithm', ['g_amds', 'g_mds'])
def test_mirror_descent_checkpoint_resumes_exactly(tmp_path, algorithm):
    task, config = g_amds('arm', algorithm, iterations=4)
    straight = ArmViaPointSearch(task, config)
    for _ in range(4):
        straight.update(*perfect_tracking(straight))
    path = str(tmp_path / 'arm.ckpt')
    first = ArmViaPointSearch(task, config)
    for _ in range(2):
        first.update(*perfect_tracking(first))
    first.save(path)
    resumed = learning.load_search(path, task, {'iterations': 4})
    assert isinstance(resumed, ArmViaPointSearch) and resumed.iteration == 2
    np.testing.assert_array_equal(resumed.samples(), first.samples())
    for _ in range(2):
        resumed.update(*perfect_tracking(resumed))
    np.testing.assert_array_equal(resumed.mean, straight.mean)
    assert resumed.history == straight.history
    if algorithm == 'g_amds':  # the z sequence and k are restored too
        assert resumed.optimizer.k == straight.optimizer.k == 5
        np.testing.assert_array_equal(resumed.optimizer.z.mean, straight.optimizer.z.mean)
    else:
        assert 'z_mean' not in checkpoint.read_checkpoint(path)[0]
    other = 'g_mds' if algorithm == 'g_amds' else 'g_amds'
    for wrong in ('gps', other):
        with pytest.raises(ValueError, match='cannot resume a run of %s as %s'
                                             % (algorithm, wrong)):
            learning.load_search(path, task, {'algorithm': wrong})
    with pytest.raises(ValueError, match='holds a %s run' % algorithm):
        learning.PolicySearch.load(path, task)
    with pytest.raises(ValueError, match="holds a run of task 'arm', not 'arm_2'"):
        ArmViaPointSearch.load(path, load_task('arm_2'))  # another robot: not resumed
    arrays, meta = checkpoint.read_checkpoint(path)
    arrays['mean'] = arrays['mean'][:7]
    checkpoint.write_checkpoint(path, arrays, meta)
    with pytest.raises(ValueError, match=r'mean has shape \(7,\), the task needs \(1000,\)'):
        ArmViaPointSearch.load(path, task)


def test_a_checkpoint_of_a_policy_search_run_is_not_resumed_as_mirror_descent(tmp_path):
    task = load_task('arm')
    path = str(tmp_path / 'gps.ckpt')
    learning.PolicySearch(task, load_learning_config(task, {'algorithm': 'gps'})).save(path)
    with pytest.raises(ValueError, match='it holds a gps run, not g_mds or g_amds'):
        ArmViaPointSearch.load(path, task)


def test_the_batch_command_resumes_its_checkpoint_exactly(tmp_path, capsys):
    """The batch command's 2 + 1 updates through a checkpoint equal 3 uninterrupted ones."""
    from ps_control import mds_learning
    path, straight = str(tmp_path / 'resumed.npz'), str(tmp_path / 'straight.npz')
    assert mds_learning.main(['arm_2', '--iterations', '3', '--checkpoint', straight]) == 0
    assert mds_learning.main(['arm_2', '--iterations', '2', '--checkpoint', path]) == 0
    capsys.readouterr()
    assert mds_learning.main(['arm_2', '--iterations', '3', '--checkpoint', path]) == 0
    assert 'resuming %s after 2 updates' % path in capsys.readouterr().out
    task = load_task('arm_2')
    resumed, uninterrupted = (ArmViaPointSearch.load(p, task) for p in (path, straight))
    assert [m['iteration'] for m in resumed.history] == [1, 2, 3]
    assert resumed.history == uninterrupted.history
    np.testing.assert_array_equal(resumed.mean, uninterrupted.mean)


def test_the_batch_command_runs_g_mds_and_keeps_a_checkpoint_to_its_algorithm(tmp_path,
                                                                              capsys):
    from ps_control import mds_learning
    path = str(tmp_path / 'g_mds.npz')
    assert mds_learning.main(['arm_2', '--algorithm', 'g_mds', '--iterations', '2',
                              '--checkpoint', path]) == 0
    saved = ArmViaPointSearch.load(path, load_task('arm_2'))
    assert saved.config.algorithm == 'g_mds' and saved.iteration == 2
    assert isinstance(saved.optimizer, MirrorDescentSearch)
    with pytest.raises(SystemExit) as exit_info:
        mds_learning.main(['arm_2', '--algorithm', 'g_amds', '--iterations', '3',
                           '--checkpoint', path])
    assert exit_info.value.code == 2
    assert 'does not match this run: cannot resume a run of g_mds as g_amds' in \
        capsys.readouterr().err
    assert mds_learning.main(['arm_2', '--iterations', '3', '--checkpoint', path]) == 0
    assert ArmViaPointSearch.load(path, load_task('arm_2')).iteration == 3
    capsys.readouterr()
    assert mds_learning.main(['arm_2', '--checkpoint', path]) == 0  # the checkpoint's 3
    assert 'nothing to do: the run has 3 updates of the 3 asked for' in capsys.readouterr().out
    assert mds_learning.main(['arm_2', '--iterations', '1', '--checkpoint', path]) == 0
    assert 'nothing to do: the run has 3 updates of the 1 asked for' in capsys.readouterr().out


@pytest.mark.parametrize('argv, message', [
    (['nosuch'], "unknown task 'nosuch'"),
    (['double_pendulum', '--iterations', '1'], 'g_amds learns the via-point task'),
    (['double_pendulum', '--algorithm', 'g_mds'], 'g_mds learns the via-point task'),
    (['arm_2', '--algorithm', 'gps'], "argument --algorithm: invalid choice: 'gps'"),
    (['arm_2', '--iterations', '0'], 'argument --iterations: must be >= 1'),
    (['arm_2', '--report', '0'], 'argument --report: must be >= 1'),
])
def test_the_batch_command_names_bad_input(argv, message, capsys):
    from ps_control import mds_learning
    with pytest.raises(SystemExit) as exit_info:
        mds_learning.main(argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_the_batch_command_leaves_a_foreign_or_corrupt_checkpoint_alone(tmp_path, capsys):
    from ps_control import mds_learning
    path = tmp_path / 'arm.npz'
    assert mds_learning.main(['arm', '--iterations', '1', '--checkpoint', str(path)]) == 0
    kept = path.read_bytes()
    with pytest.raises(SystemExit):  # a checkpoint of the 10-link arm, not arm_2
        mds_learning.main(['arm_2', '--iterations', '1', '--checkpoint', str(path)])
    assert "holds a run of task 'arm', not 'arm_2'" in capsys.readouterr().err
    assert path.read_bytes() == kept
    path.write_bytes(kept[:100])
    with pytest.raises(SystemExit):
        mds_learning.main(['arm', '--iterations', '2', '--checkpoint', str(path)])
    assert 'is corrupt' in capsys.readouterr().err
    assert path.read_bytes() == kept[:100]


def test_bad_input_is_a_clear_error(tmp_path):
    pendulum = load_task('double_pendulum')
    config = learning_config.load_learning_config(load_task('arm'), {'algorithm': 'g_amds'})
    with pytest.raises(ValueError, match='g_amds learns the via-point task of a planar arm.*'
                                         'double_pendulum.*not a planar serial arm'):
        learning.make_search(pendulum, config)
    with pytest.raises(ValueError, match='learning.algorithm must be one of gps, saps, esaps, '
                                         "separate, g_mds, g_amds, got 'amds'"):
        learning_config.load_learning_config(pendulum, {'algorithm': 'amds'})
    with pytest.raises(ValueError,
                       match='PolicySearch runs gps, saps, esaps, separate, not g_amds'):
        learning.PolicySearch(load_task('arm'), config)
    with pytest.raises(ValueError, match='ArmViaPointSearch runs g_mds or g_amds, not gps'):
        ArmViaPointSearch(load_task('arm'), learning_config.load_learning_config(
            load_task('arm'), {'algorithm': 'gps'}))
    short = dataclasses.replace(load_task('arm'), horizon=10)
    with pytest.raises(ValueError, match=r'g_amds on task arm \(10 steps of 0.02 s\): via_time'):
        ArmViaPointSearch(short, config)
    moved = dataclasses.replace(load_task('arm'), initial_mean=(0.1,) + (0.0,) * 19)
    with pytest.raises(ValueError, match='not the straight arm at rest'):
        ArmViaPointSearch(moved, config)
    two_joints = dataclasses.replace(load_task('arm_2'), urdf_path=load_task('arm').urdf_path)
    with pytest.raises(ValueError, match='task arm_2 cannot run it: its URDF has 10 joints, the '
                                         'task 2'):
        ArmViaPointSearch(two_joints, config)
    with pytest.raises(ValueError, match='learning.search_std must be a finite number > 0'):
        learning_config.load_learning_config(load_task('arm'), {'algorithm': 'g_amds',
                                                                'search_std': 0.0})
    with pytest.raises(ValueError, match='learning.evaluate_mean must be true or false'):
        learning_config.learning_config_from_mapping({'evaluate_mean': 'yes'})
    with pytest.raises(ValueError, match=r'unknown learning section\(s\): learning.gmds'):
        learning_config.learning_config_from_mapping({'gmds': {'samples': 3}})
    with pytest.raises(ValueError, match=r'unknown learning parameter\(s\): '
                                         r'learning.g_amds.sigma'):
        learning_config.learning_config_from_mapping({'algorithm': 'gps',
                                                      'g_amds': {'sigma': 3.0}})
    search = ArmViaPointSearch(load_task('arm'), config)
    states, torques = perfect_tracking(search)
    with pytest.raises(ValueError, match=r'states have shape \(10, 51, 20\), expected '
                                         r'\(11, 51, 20\).*10 samples \+ the mean'):
        search.update(states[1:], torques[1:])
    states[2, 5, 0] = np.nan
    with pytest.raises(ValueError, match=r'states hold NaN or inf \(rollout 2, time step 5\)'):
        search.update(states, torques)
    assert search.iteration == 0


def test_the_algorithm_section_applies_only_to_its_algorithm():
    task = load_task('arm')
    gps = learning_config.load_learning_config(task, {'algorithm': 'gps'})
    amds = learning_config.load_learning_config(task, {'algorithm': 'g_amds'})
    mds = learning_config.load_learning_config(task, {'algorithm': 'g_mds'})
    assert gps.samples == task.learning['samples']
    assert learning_config.load_learning_config(task) == amds  # the arm's default learner
    family = task.learning['mirror_descent']
    for config in (amds, mds):  # the family's section, then the algorithm's own
        assert config.samples == family['samples'] and config.iterations == family['iterations']
        assert config.search_std == family['search_std'] and config.epsilon == gps.epsilon
    assert amds.mirror_step == task.learning['g_amds']['mirror_step'] == 133.33
    assert mds.mirror_step == task.learning['g_mds']['mirror_step'] == 10.0
    # without a section, each algorithm gets its own step, and the tracking settings of the
    # shipped arm files
    bare = {name: learning_config.learning_config_from_mapping({}, {'algorithm': name})
            for name in ('g_mds', 'g_amds')}
    assert (bare['g_mds'].mirror_step, bare['g_amds'].mirror_step) == (10.0, 133.33)
    for name in ('tracking_frequency', 'tracking_damping_ratio', 'tracking_feedforward',
                 'tracking_action_std'):
        assert getattr(bare['g_mds'], name) == family[name] == getattr(LearningConfig(), name)
    # an algorithm's own section wins over its family's
    mapping = {'mirror_descent': {'samples': 7, 'search_std': 2.0}, 'g_mds': {'samples': 5}}
    mixed = learning_config.learning_config_from_mapping(mapping, {'algorithm': 'g_mds'})
    assert (mixed.samples, mixed.search_std) == (5, 2.0)
    assert learning_config.learning_config_from_mapping(
        mapping, {'algorithm': 'g_amds'}).samples == 7
    # command-line overrides win over the section
    assert learning_config.load_learning_config(task, {'algorithm': 'g_amds',
                                                'samples': 4}).samples == 4


def _arm_urdf(tmp_path, old, new, count=1):
    from ps_control.tasks import load_task
    task = load_task('arm_2')
    text = open(task.urdf_path).read()
    assert old in text
    path = tmp_path / 'arm.urdf'
    path.write_text(text.replace(old, new, count))
    return task, str(path)


def test_a_centre_of_mass_off_the_link_axis_is_refused(tmp_path):
    from ps_control.tasks.planar_arm import PlanarArm
    _, path = _arm_urdf(tmp_path, '<inertial>\n      <origin xyz="0.25 0 0"',
                        '<inertial>\n      <origin xyz="0.25 0.1 0"')
    with pytest.raises(ValueError, match='centre of mass of link .link_1. is off its x axis'):
        PlanarArm.from_urdf(path)


def test_an_arm_with_other_link_lengths_cannot_run_mirror_descent(tmp_path):
    import dataclasses
    from ps_control.learning_config import load_learning_config
    from ps_control.mds_learning import ArmViaPointSearch
    task, path = _arm_urdf(tmp_path, '<origin xyz="0.5 0 0" rpy="0 0 0"/>',
                           '<origin xyz="0.6 0 0" rpy="0 0 0"/>')
    config = load_learning_config(task, {'algorithm': 'g_amds'})
    with pytest.raises(ValueError, match="links are .* long, the paper's arm"):
        ArmViaPointSearch(dataclasses.replace(task, urdf_path=path), config)


def _mds(**overrides):
    from ps_control.learning_config import load_learning_config
    from ps_control.mds_learning import ArmViaPointSearch
    from ps_control.tasks import load_task
    task = load_task('arm_2')
    config = load_learning_config(task, dict({'algorithm': 'g_amds', 'samples': 4},
                                             **overrides))
    return task, ArmViaPointSearch(task, config)


def test_mds_metrics_are_of_the_sampled_rollouts_and_the_via_tolerance(monkeypatch):
    task, search = _mds(via_tolerance=0.02)
    costs = np.array([1.0, 2.0, 3.0, 4.0, 1000.0])        # the last: the mean's rollout
    errors = np.array([0.01, 0.019, 0.03, 0.039, 0.0])    # two within 0.02, none within 0.02..0.04
    monkeypatch.setattr(search, 'measured_costs', lambda states, params: (costs, errors))
    m = search.episode_count
    metrics = search.update(np.zeros((m, task.horizon + 1, task.dx)),
                            np.zeros((m, task.horizon, task.du)))
    assert metrics['expected_reward'] == -2.5
    assert metrics['success_rate'] == 0.5
    assert metrics['mean_cost'] == 1000.0


def test_without_evaluate_mean_an_iteration_runs_the_samples_only():
    _, search = _mds(evaluate_mean=False)
    assert search.episode_count == 4
    with pytest.raises(IndexError):
        search.episode_policy(4)


def test_a_diverged_episode_is_recorded_at_rest_with_zero_actions():
    from ps_control.mds_learning import rollout_episodes
    from ps_control.sim.simulator import Rollouts
    task, search = _mds()
    m, T = search.episode_count, task.horizon

    class DivergingSim:
        def rest_state(self):
            return np.zeros(task.dx)

        def rollout(self, act, x0, rng=None, horizon=None):
            states = np.ones((m, T + 1, task.dx))
            actions = np.ones((m, T, task.du))
            states[1, 7:], actions[1, 6:] = np.nan, np.nan
            return Rollouts(states, actions, actions.copy(), np.arange(m) == 1,
                            np.where(np.arange(m) == 1, 7, -1))
    states, actions = rollout_episodes(search, DivergingSim(), np.zeros((m, task.dx)), 0)
    assert np.isfinite(states).all() and np.isfinite(actions).all()
    assert np.all(states[1, 7:] == 0.0) and np.all(actions[1, 6:] == 0.0)
    search.update(states, actions)   # a diverged episode must not stop the run


def test_ctrl_c_stops_the_batch_command_with_its_checkpoint_kept(tmp_path):
    from interrupt_support import Command
    checkpoint = str(tmp_path / 'arm2.npz')
    command = Command('ps_control.mds_learning', 'arm_2', '--iterations', '100000', '--report',
                      '1', '--checkpoint', checkpoint)
    try:
        assert command.wait_for(lambda lines: any(line.startswith('update    3')
                                                  for line in lines))
        status, err = command.interrupt(times=1)
        assert status == 130, err
        assert err.strip().splitlines()[-1] == (
            'python -m ps_control.mds_learning: interrupted; the checkpoint %s keeps the updates '
            'saved before: rerun the command to resume' % checkpoint), err
        assert 'Traceback' not in err
    finally:
        command.close()
    assert ArmViaPointSearch.load(checkpoint, load_task('arm_2')).iteration >= 3


def _search(**overrides):
    task = load_task('arm_2')
    config = load_learning_config(task, dict({'algorithm': 'g_amds', 'samples': 4},
                                             **overrides))
    return task, ArmViaPointSearch(task, config)


def _tracked(search):
    """Return states (M, T+1, dx) of every episode following its DMP exactly, and zero actions."""
    _, params, _ = search._episodes()
    traj = search.via.rollout(params)
    states = np.concatenate([traj.y, traj.yd], axis=-1)
    return states, np.zeros((params.shape[0], search.task.horizon, search.task.du))


def test_policy_is_the_tracking_policy_of_the_search_mean():
    """With evaluate_mean the learnt policy tracks the mean's DMP, not a sample's."""
    _, search = _search(evaluate_mean=True)
    expected = search.tracking_policies(search.mean[None])[0]
    np.testing.assert_allclose(search.policy.k, expected.k, rtol=1e-12)
    np.testing.assert_allclose(search.policy.K, expected.K, rtol=1e-12)
    _, samples_only = _search(evaluate_mean=False)  # no mean episode: the policy is built anew
    np.testing.assert_allclose(samples_only.policy.k, expected.k, rtol=1e-12)
    np.testing.assert_allclose(samples_only.policy.K, expected.K, rtol=1e-12)


def test_negative_episode_indices_are_refused():
    """episode_policy takes 0 .. episode_count - 1 only."""
    _, search = _search()
    with pytest.raises(IndexError):
        search.episode_policy(-1)


def test_feedback_gains_are_the_control_laws_derivative_at_partial_feedforward():
    """
    K_t is the derivative of c tau_ID(q, qd, ydd_t) + M(y_t) (w^2 (y_t - q) + 2 z w (yd_t - qd)).

    Checked by central differences of the nonlinear law at c = 0.5.
    """
    _, search = _search(tracking_feedforward=0.5)
    config, arm = search.config, search.arm
    _, params, _ = search._episodes()
    traj = search.via.rollout(params[:1])
    T = search.via.dmp.T
    y, yd, ydd = traj.y[0, :T], traj.yd[0, :T], traj.ydd[0]
    w, zeta = config.tracking_frequency, config.tracking_damping_ratio
    inertia = arm.mass_matrix(y)

    def law(q, qd):
        pd = w ** 2 * (y - q) + 2.0 * zeta * w * (yd - qd)
        return (config.tracking_feedforward * arm.inverse_dynamics(q, qd, ydd)
                + np.einsum('tij,tj->ti', inertia, pd))
    n, h = y.shape[1], 1e-6
    gains = search.episode_policy(0).K
    for i in range(2 * n):
        step = np.zeros(2 * n)
        step[i] = h
        plus = law(y + step[:n], yd + step[n:])
        minus = law(y - step[:n], yd - step[n:])
        np.testing.assert_allclose(gains[:, :, i], (plus - minus) / (2 * h), rtol=1e-5,
                                   atol=1e-6 * np.abs(gains).max())


def test_metrics_spread_and_via_error_are_means_and_standard_deviations():
    """sample_metrics: via_error the mean distance; update: reward_std the std of the costs."""
    _, search = _search(evaluate_mean=True)
    states, actions = _tracked(search)
    costs, errors = search.measured_costs(states, np.broadcast_to(
        search.mean, (states.shape[0],) + search.via.param_shape))
    assert np.ptp(errors) > 0.0
    metrics = search.sample_metrics(states, actions)
    assert metrics['via_error'] == pytest.approx(errors.mean(), rel=1e-12)
    assert metrics['reward_std'] == pytest.approx(costs.std(), rel=1e-12)


def test_mean_entropy_is_the_gaussian_entropy_of_the_search_std():
    """Without adaptation the std stays search_std: entropy 1/2 log(2 pi e sigma^2)."""
    _, search = _search(evaluate_mean=True, search_adapt_rate=0.0)
    sigma = search.config.search_std
    metrics = search.update(*_tracked(search))
    assert metrics['mean_entropy'] == pytest.approx(
        0.5 * np.log(2.0 * np.pi * np.e * sigma ** 2), rel=1e-12)


def test_success_rate_counts_an_error_equal_to_the_tolerance(monkeypatch):
    """A sample exactly at via_tolerance is a success (<=)."""
    task, search = _search(via_tolerance=0.02)
    costs = np.ones(5)
    errors = np.array([0.02, 0.02, 0.5, 0.5, 0.0])
    monkeypatch.setattr(search, 'measured_costs', lambda states, params: (costs, errors))
    m = search.episode_count
    metrics = search.update(np.zeros((m, task.horizon + 1, task.dx)),
                            np.zeros((m, task.horizon, task.du)))
    assert metrics['success_rate'] == 0.5


def test_batch_command_passes_its_seed_to_the_rollouts(monkeypatch):
    """--seed reaches run_batch (the rollouts' generator), not only the samples."""
    seen = {}

    def fake_run_batch(search, simulator, iterations, seed=0, **kwargs):
        seen['seed'] = seed
        return search.history
    monkeypatch.setattr(mds_learning, 'run_batch', fake_run_batch)
    assert mds_learning.main(['arm_2', '--seed', '5', '--iterations', '1']) == 0
    assert seen['seed'] == 5


def test_batch_rollouts_draw_new_initial_states_every_update(monkeypatch):
    """Update i's rollouts draw from (seed, i, ROLLOUT_STREAM): other states each update."""
    task, search = _search(samples=4)
    drawn = []
    original = mds_learning.rollout_episodes

    def keep(search, simulator, x0, rng=None):
        drawn.append(np.array(x0))
        return original(search, simulator, x0, rng)
    monkeypatch.setattr(mds_learning, 'rollout_episodes', keep)
    simulator = task.make_simulator(n_robots=search.episode_count)
    try:
        mds_learning.run_batch(search, simulator, 2)
    finally:
        simulator.close()
    assert len(drawn) == 2
    assert not np.array_equal(drawn[0], drawn[1])
