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

The arm model against PyBullet, the episode policies against the DMP they track, the measured
cost against the paper's cost, a short learning run that reduces the via-point cost, checkpoint
resume, and bad input.
"""

import dataclasses

import numpy as np
from ps_control import learning
from ps_control.core.tracking_policy import dmp_tracking_policy
from ps_control.mds_learning import ArmViaPointSearch, rollout_episodes, run_batch
from ps_control.tasks import load_task
from ps_control.tasks.planar_arm import PlanarArm
from ps_control.tasks.via_point import planar_arm_points
import pytest

pybullet = pytest.importorskip('pybullet')


def g_amds(task_name='arm_2', **overrides):
    """Return (task, config) of the task's learning.g_amds section with overrides."""
    task = load_task(task_name)
    return task, learning.load_learning_config(task, dict(overrides, algorithm='g_amds'))


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
        free = arm.free_joint_inertia(np.zeros(n))
        assert np.all(free > 0) and np.all(free <= np.diag(arm.mass_matrix(np.zeros(n))))
    finally:
        simulator.close()


def test_episode_policies_track_the_sampled_dmps_and_the_cost_is_the_papers():
    task, config = g_amds('arm', iterations=1)
    search = ArmViaPointSearch(task, config)
    assert search.episode_count == config.samples + 1
    _, params, _ = search._episodes()
    # the first N rows are this iteration's samples, the last the search mean (theta = 0)
    assert np.allclose(params[-1], 0.0) and np.std(params[:-1]) == pytest.approx(
        config.search_std, rel=0.1)
    traj = search.via.rollout(params)
    for j in (0, config.samples):
        policy = search.episode_policy(j)
        assert policy.K.shape == (task.horizon, task.du, task.dx)
        assert not np.allclose(policy.K[0], policy.K[-1])  # gains follow the reference posture
        # at the reference state the PD policy commands nothing (no feed-forward configured)
        x = np.concatenate([traj.y[j, 7], traj.yd[j, 7]])
        np.testing.assert_allclose(policy.mean_action(7, x), 0.0, atol=1e-9)
        one = type(traj)(traj.y[j], traj.yd[j], traj.ydd[j], traj.forcing[j])
        same = dmp_tracking_policy(one, -policy.K[:, :, :task.du], -policy.K[:, :, task.du:])
        np.testing.assert_allclose(same.k, policy.k)
    # a robot that tracks perfectly is charged exactly the paper's cost of the DMP
    states, _ = perfect_tracking(search)
    costs, errors = search.measured_costs(states, params)
    paper, _ = search.via.step_costs(params)
    np.testing.assert_allclose(costs, paper.sum(axis=1), rtol=1e-9)
    np.testing.assert_allclose(errors[-1], search.via.via_error(params[-1]), rtol=1e-9)


def test_short_g_amds_run_on_the_pybullet_arm_reduces_the_via_point_cost():
    task, config = g_amds('arm_2', iterations=12)
    search = learning.make_search(task, config)
    assert isinstance(search, ArmViaPointSearch)
    simulator = task.make_simulator(n_robots=search.episode_count)
    try:
        history = run_batch(search, simulator, config.iterations, rng=0)
    finally:
        simulator.close()
    assert [m['iteration'] for m in history] == list(range(1, 13))
    first, last = history[0], history[-3:]
    # the mean's measured movement: cost and via-point distance both fall a lot
    assert np.mean([m['mean_cost'] for m in last]) < 0.3 * first['mean_cost']
    assert np.mean([m['via_error'] for m in last]) < 0.5 * first['via_error']
    assert np.mean([m['expected_reward'] for m in last]) > 0.5 * first['expected_reward']
    for m in history:
        assert 0.0 <= m['max_kl'] <= np.log(config.samples) + 1e-9
        assert 0.0 <= m['success_rate'] <= 1.0 and m['samples'] == config.samples


def test_rollouts_record_what_the_episode_policies_do():
    task, config = g_amds('arm_2', iterations=1)
    search = ArmViaPointSearch(task, config)
    simulator = task.make_simulator(n_robots=search.episode_count)
    try:
        x0 = np.zeros((search.episode_count, task.dx))
        states, torques = rollout_episodes(search, simulator, x0, rng=1)
        again, _ = rollout_episodes(search, simulator, x0, rng=1)
    finally:
        simulator.close()
    np.testing.assert_allclose(states, again)
    for j in (0, 3, search.episode_count - 1):
        policy = search.episode_policy(j)
        commanded = np.einsum('tij,tj->ti', policy.K, states[j, :-1]) + policy.k
        limits = np.asarray(task.torque_limits)
        np.testing.assert_allclose(torques[j], np.clip(commanded, -limits, limits), atol=1e-4)


def test_g_amds_checkpoint_resumes_exactly(tmp_path):
    task, config = g_amds('arm', iterations=4)
    straight = ArmViaPointSearch(task, config)
    for _ in range(4):
        straight.update(*perfect_tracking(straight))
    path = str(tmp_path / 'g_amds.ckpt')
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
    assert resumed.optimizer.k == straight.optimizer.k == 5
    with pytest.raises(ValueError, match='cannot resume a g_amds run as gps'):
        learning.PolicySearch.load(path, task, {'algorithm': 'gps'})
    with pytest.raises(ValueError, match='holds a g_amds run'):
        learning.PolicySearch.load(path, task)
    with pytest.raises(ValueError, match=r'mean has shape \(200,\), the task needs \(40,\)'):
        ArmViaPointSearch.load(path, load_task('arm_2'))


def test_bad_input_is_a_clear_error(tmp_path):
    pendulum = load_task('double_pendulum')
    config = learning.load_learning_config(load_task('arm'), {'algorithm': 'g_amds'})
    with pytest.raises(ValueError, match='g_amds learns the via-point task of a planar arm.*'
                                         'double_pendulum.*not a planar serial arm'):
        learning.make_search(pendulum, config)
    with pytest.raises(ValueError, match='learning.algorithm must be one of gps, saps, esaps, '
                                         "g_amds, got 'g_mds'"):
        learning.load_learning_config(pendulum, {'algorithm': 'g_mds'})
    with pytest.raises(ValueError, match='PolicySearch runs gps, saps, esaps, not g_amds'):
        learning.PolicySearch(load_task('arm'), config)
    short = dataclasses.replace(load_task('arm'), horizon=10)
    with pytest.raises(ValueError, match=r'g_amds on task arm \(10 steps of 0.02 s\): via_time'):
        ArmViaPointSearch(short, config)
    moved = dataclasses.replace(load_task('arm'), initial_mean=(0.1,) + (0.0,) * 19)
    with pytest.raises(ValueError, match='not the straight arm at rest'):
        ArmViaPointSearch(moved, config)
    with pytest.raises(ValueError, match='learning.search_std must be a finite number > 0'):
        learning.load_learning_config(load_task('arm'), {'algorithm': 'g_amds',
                                                         'search_std': 0.0})
    with pytest.raises(ValueError, match='learning.evaluate_mean must be true or false'):
        learning.learning_config_from_mapping({'evaluate_mean': 'yes'})
    with pytest.raises(ValueError, match=r'unknown learning section\(s\): learning.gmds'):
        learning.learning_config_from_mapping({'gmds': {'samples': 3}})
    with pytest.raises(ValueError, match=r'unknown learning parameter\(s\): '
                                         r'learning.g_amds.sigma'):
        learning.learning_config_from_mapping({'algorithm': 'gps', 'g_amds': {'sigma': 3.0}})
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
    gps = learning.load_learning_config(task)
    amds = learning.load_learning_config(task, {'algorithm': 'g_amds'})
    assert gps.algorithm == 'gps' and gps.samples == task.learning['samples']
    section = task.learning['g_amds']
    assert amds.samples == section['samples'] and amds.iterations == section['iterations']
    assert amds.search_std == section['search_std'] and amds.epsilon == gps.epsilon
    # command-line overrides win over the section
    assert learning.load_learning_config(task, {'algorithm': 'g_amds',
                                                'samples': 4}).samples == 4
