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

"""The via-point tasks and the planar arm: kinematics, URDF checks, constants and cost terms."""

import numpy as np
from ps_control.sim import urdf_gen
from ps_control.tasks.planar_arm import PlanarArm
from ps_control.tasks.via_point import (ArmViaPoint, make_task, planar_arm_points,
                                        PointViaPoint, ViaPointTask)
import pytest


def test_arm_forward_kinematics_against_hand_computed_poses():
    # Two links of 1/2: up, then turn right by 90 degrees.
    points = planar_arm_points(np.array([np.pi / 2, -np.pi / 2]))
    np.testing.assert_allclose(points, [[0, 0], [0, 0.5], [0.5, 0.5]], atol=1e-12)
    # Three links of 1/3, all straight: the effector at (1, 0).
    np.testing.assert_allclose(planar_arm_points(np.zeros(3))[-1], [1.0, 0.0])
    # Four links of 1/4, each turned by 90 degrees: a closed square back at the base.
    np.testing.assert_allclose(planar_arm_points(np.full(4, np.pi / 2))[-1], [0, 0], atol=1e-12)
    # Batched over leading axes.
    batch = planar_arm_points(np.zeros((5, 7, 2)))
    assert batch.shape == (5, 7, 3, 2)
    # A length per link (the URDF arm's offsets): 1 up, then 2 to the right.
    uneven = planar_arm_points(np.array([[np.pi / 2, -np.pi / 2]] * 3), [1.0, 2.0])
    np.testing.assert_allclose(uneven, [[[0, 0], [0, 1], [2, 1]]] * 3, atol=1e-12)


def test_task_constants_follow_the_paper():
    point = make_task('point')
    assert point.n_basis == 20 and point.dmp.T == 50
    np.testing.assert_allclose(point.start, [0, 0])
    np.testing.assert_allclose(point.goal, [1, 1])
    assert point.via_index == 25 and point.via_time == 0.25
    arm = make_task('arm', 10)
    assert arm.n_basis == 100 and arm.via_index == 30
    np.testing.assert_allclose(arm.goal[0], np.pi / 20)
    np.testing.assert_allclose(arm.goal[1:], np.pi / 10)
    np.testing.assert_allclose(arm.dof_weights * np.sum(np.arange(1, 11)), np.arange(10, 0, -1))
    assert make_task('arm', 50).param_shape == (50, 100)


def test_point_cost_terms():
    task = PointViaPoint(n_basis=5)
    rng = np.random.default_rng(0)
    params = rng.standard_normal((2, 2, 5))
    costs, traj = task.step_costs(params)
    b = task.dmp.basis
    for j in range(2):
        for t in range(task.dmp.T):
            expected = 0.0
            for d in range(2):
                a = params[j, d]
                control = (b[t] @ a) ** 2 / (b[t] @ b[t]) if b[t] @ b[t] > 0 else 0.0
                expected += 500.0 * traj.ydd[j, t, d] ** 2 + 0.5 * control
            if t == 25:
                y = traj.y[j, 25]
                expected += 1e10 * ((0.5 - y[0]) ** 2 + (0.2 - y[1]) ** 2)
            assert costs[j, t] == pytest.approx(expected, rel=1e-12)


def test_arm_via_point_term_uses_the_end_effector():
    task = ArmViaPoint(n_dofs=3, n_basis=4)
    costs, traj = task.step_costs(np.zeros((1, 3, 4)))
    without = ArmViaPoint(n_dofs=3, n_basis=4)
    without.via_weight = 0.0
    plain, _ = without.step_costs(np.zeros((1, 3, 4)))
    q = traj.y[0, 30]
    x = sum(np.cos(q[:i + 1].sum()) for i in range(3)) / 3
    y = sum(np.sin(q[:i + 1].sum()) for i in range(3)) / 3
    diff = costs - plain
    assert diff[0, 30] == pytest.approx(1e8 * ((0.5 - x) ** 2 + (0.5 - y) ** 2), rel=1e-12)
    np.testing.assert_array_equal(np.delete(diff[0], 30), 0.0)
    assert task.via_error(np.zeros((3, 4))) == pytest.approx(np.hypot(0.5 - x, 0.5 - y))


def test_unknown_task_and_bad_via_time():
    with pytest.raises(ValueError, match='unknown task'):
        make_task('cartpole')
    with pytest.raises(ValueError, match='n_dofs'):
        make_task('arm', 0)
    with pytest.raises(ValueError, match='via_time'):
        ViaPointTask('x', 3, [0], [1], [0, 0], 0.505, 1.0, [1.0], 1.0)


def _arm(tmp_path, old=None, new=None, count=1):
    """Write the generated 2-link arm, with the first ``count`` of old replaced by new."""
    text = urdf_gen.chain_urdf(urdf_gen.planar_arm_spec(2))
    if old is not None:
        assert text.count(old) >= count, old
        text = text.replace(old, new, count)
    path = tmp_path / 'arm.urdf'
    path.write_text(text)
    return str(path)


def test_generated_arm_is_accepted(tmp_path):
    """The unmodified generated arm is a planar serial arm of two half-metre links."""
    arm = PlanarArm.from_urdf(_arm(tmp_path))
    assert arm.n_joints == 2 and np.allclose(arm.offsets, [0.5])


NOT_PLANAR_SERIAL_ARMS = [
    # no <axis>: the URDF default is x, so the arm does not move in the plane
    ('    <axis xyz="0 0 1"/>\n', '', r"joint 'joint_1' turns about \[1.0, 0.0, 0.0\]"),
    ('<origin xyz="0.5 0 0" rpy="0 0 0"/>', '<origin xyz="0.5 0.1 0" rpy="0 0 0"/>',
     "joint 'joint_2' has origin .* not on the x axis"),  # offset sideways
    ('<origin xyz="0.5 0 0" rpy="0 0 0"/>', '<origin xyz="0.5 0 0" rpy="0 0 0.3"/>',
     "joint 'joint_2' has origin .* not on the x axis"),  # turned
    ('<origin xyz="0 0 0" rpy="0 0 0"/>', '<origin xyz="0.1 0 0" rpy="0 0 0"/>',
     "the first joint 'joint_1' is not at the base origin"),  # kinematics start at the base
    ('<parent link="link_1"/>', '<parent link="base_link"/>',
     "joint 'joint_2' does not follow link 'link_1'"),  # a tree, not a serial chain
    ('<joint name="joint_2" type="revolute">', '<joint name="joint_2" type="prismatic">',
     "joint 'joint_2' is prismatic, not revolute"),  # refused, not skipped
    ('<mass value="0.5"/>', '', "link 'link_1' has no inertial mass"),
]


@pytest.mark.parametrize('old, new, message', NOT_PLANAR_SERIAL_ARMS)
def test_urdfs_that_are_no_planar_serial_revolute_arm_are_refused(tmp_path, old, new, message):
    """Joints off the x axis, turned, about x, branching or sliding: refused, naming the joint."""
    path = _arm(tmp_path, old, new)
    with pytest.raises(ValueError, match=message):
        PlanarArm.from_urdf(path)


def test_a_urdf_that_cannot_be_read_or_has_no_joint_is_refused(tmp_path):
    with pytest.raises(ValueError, match='planar_arm_2.. is not a planar serial arm: it has no '
                                         'joint'):
        PlanarArm.from_urdf(_arm(tmp_path, 'type="revolute"', 'type="fixed"', 2))
    with pytest.raises(ValueError, match='cannot read URDF .*missing.urdf'):
        PlanarArm.from_urdf(tmp_path / 'missing.urdf')
    broken = tmp_path / 'broken.urdf'
    broken.write_text('<robot name="b">')
    with pytest.raises(ValueError, match='cannot read URDF .*broken.urdf'):
        PlanarArm.from_urdf(broken)


def test_joint_positions_of_the_wrong_length_are_refused(tmp_path):
    arm = PlanarArm.from_urdf(_arm(tmp_path))
    with pytest.raises(ValueError, match=r'q has shape \(3,\), the arm has 2 joints'):
        arm.joint_positions(np.zeros(3))
    with pytest.raises(ValueError, match=r'q has shape \(4, 1\), the arm has 2 joints'):
        arm.inverse_dynamics(np.zeros((4, 1)), np.zeros((4, 1)), np.zeros((4, 1)))


def test_continuous_joints_are_revolute(tmp_path):
    """Continuous joints (revolute without limits) give the same arm as revolute ones."""
    revolute = PlanarArm.from_urdf(_arm(tmp_path))
    continuous = PlanarArm.from_urdf(_arm(tmp_path, 'type="revolute"', 'type="continuous"', 2))
    assert continuous.n_joints == 2
    for name in ('offsets', 'masses', 'com', 'izz'):
        np.testing.assert_array_equal(getattr(continuous, name), getattr(revolute, name))


def _task(via_time):
    """Return a 1-DOF task of duration 0.5 s, dt 0.01 s, with the via-point at via_time."""
    return ViaPointTask('x', 3, [0.0], [1.0], [0.0, 0.0], via_time, 1.0, [1.0], 1.0)


def test_via_time_at_the_end_of_the_movement_is_refused():
    """t_via must be a step t_i < duration: the step at the duration has no cost entry."""
    assert _task(0.49).via_index == 49
    with pytest.raises(ValueError, match='via_time'):
        _task(0.5)


def test_via_time_on_a_step_is_accepted_whatever_the_float_quotient():
    """t_via = 29 dt is a step although 0.29 / 0.01 is just below 29 in floating point."""
    assert 0.29 / 0.01 < 29  # the case: truncating the quotient would give step 28
    assert _task(0.29).via_index == 29


def test_via_time_between_steps_is_refused():
    """A via-point time that is not a multiple of dt is refused, not rounded to a step."""
    with pytest.raises(ValueError, match='via_time'):
        _task(0.253)


def test_arm_joint_count_must_be_an_integer():
    """A fractional number of arm joints is refused rather than truncated."""
    with pytest.raises(ValueError, match='n_dofs'):
        ArmViaPoint(n_dofs=2.5, n_basis=4)


def test_trajectory_costs_check_the_acceleration_shape():
    """Accelerations with one step too many are refused, naming the expected shapes."""
    task = PointViaPoint(n_basis=5)
    T, D = task.dmp.T, task.n_dofs
    y, forcing = np.zeros((T + 1, D)), np.zeros((T, D))
    assert task.trajectory_costs(y, np.zeros((T, D)), forcing).shape == (T,)
    with pytest.raises(ValueError, match='must end in'):
        task.trajectory_costs(y, np.zeros((T + 1, D)), forcing)
