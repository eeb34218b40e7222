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
Message codecs of the nodes: policy, transition and joint-state conversions.

The policy message round trip (also through serialisation, as DDS carries it) and every way a
malformed one is rejected with an error that says what is wrong.
"""

from nodes_support import rclpy  # noqa: F401 (skips without rclpy, as the node tests)
import numpy as np
from ps_control.core import LinearGaussianPolicy
from ps_control.nodes import messages
import pytest
from rclpy.serialization import deserialize_message
from rclpy.serialization import serialize_message
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from std_msgs.msg import MultiArrayDimension


pytestmark = pytest.mark.ros


def random_policy(T=5, du=2, dx=4, seed=0):
    rng = np.random.default_rng(seed)
    L = rng.standard_normal((T, du, du))
    cov = L @ np.swapaxes(L, 1, 2) + 0.1 * np.eye(du)
    return LinearGaussianPolicy(rng.standard_normal((T, du, dx)), rng.standard_normal((T, du)),
                                cov)


def test_policy_round_trip_through_serialisation():
    policy = random_policy()
    msg = messages.policy_to_msg(policy)
    wire = serialize_message(msg)
    back = messages.policy_from_msg(deserialize_message(wire, Float64MultiArray), dx=4, du=2)
    np.testing.assert_array_equal(back.K, policy.K)
    np.testing.assert_array_equal(back.k, policy.k)
    np.testing.assert_allclose(back.cov, policy.cov, rtol=0, atol=1e-15)
    assert messages.policy_digest(back) == messages.policy_digest(policy)


def test_policy_layout_is_labelled_with_standard_strides():
    msg = messages.policy_to_msg(random_policy(T=3, du=2, dx=4))
    dims = [(d.label, d.size, d.stride) for d in msg.layout.dim]
    # rows [K_t[i, :4], k_t[i], cov_t[i, :2]]: 7 columns
    assert dims == [('time', 3, 42), ('action', 2, 14), ('gain_offset_cov', 7, 7)]
    assert msg.layout.data_offset == 0
    assert len(msg.data) == 42


def test_policy_row_holds_gain_offset_and_covariance():
    policy = random_policy(T=2, du=2, dx=3)
    data = np.asarray(messages.policy_to_msg(policy).data).reshape(2, 2, 6)
    np.testing.assert_array_equal(data[1, 0, :3], policy.K[1, 0])
    assert data[1, 0, 3] == policy.k[1, 0]
    np.testing.assert_array_equal(data[1, 0, 4:], policy.cov[1, 0])


def test_digest_changes_with_any_parameter():
    policy = random_policy()
    k = policy.k.copy()
    k[2, 1] += 1e-9
    other = LinearGaussianPolicy(policy.K, k, policy.cov)
    assert messages.policy_digest(other) != messages.policy_digest(policy)


def _msg(policy=None):
    return messages.policy_to_msg(policy or random_policy())


@pytest.mark.parametrize('mutate, expected', [
    (lambda m: setattr(m.layout.dim[0], 'label', 'steps'), 'labels'),
    (lambda m: m.layout.dim.pop(), 'labels'),
    (lambda m: setattr(m.layout.dim[1], 'stride', 3), 'stride'),
    (lambda m: setattr(m.layout, 'data_offset', 1), 'data_offset'),
    (lambda m: setattr(m, 'data', list(m.data)[:-1]), 'holds'),
    (lambda m: setattr(m.layout.dim[0], 'size', 0), 'time steps'),
    (lambda m: setattr(m.layout.dim[2], 'size', 3), 'gain_offset_cov has size 3, too small for '
                                                    '2 actions'),
])
def test_malformed_layout_is_rejected(mutate, expected):
    msg = _msg()
    mutate(msg)
    with pytest.raises(ValueError, match=expected):
        messages.policy_from_msg(msg, dx=4, du=2)


def test_wrong_dimensions_are_rejected():
    msg = _msg(random_policy(du=3, dx=6))
    with pytest.raises(ValueError, match='3 actions, this controller drives 2'):
        messages.policy_from_msg(msg, dx=4, du=2)
    msg = _msg(random_policy(du=2, dx=6))
    with pytest.raises(ValueError, match='state dimension 6, expected 4'):
        messages.policy_from_msg(msg, dx=4, du=2)


def test_nan_is_rejected_naming_the_time_step():
    msg = _msg()
    data = list(msg.data)
    data[2 * 14 + 3] = float('nan')  # time step 2, action 0, K column 3
    msg.data = data
    with pytest.raises(ValueError, match='policy K holds NaN or inf at time step 2'):
        messages.policy_from_msg(msg, dx=4, du=2)


def test_indefinite_covariance_is_rejected():
    policy = random_policy(T=2)
    msg = _msg(policy)
    data = np.asarray(msg.data).reshape(2, 2, 7)
    data[1, :, 5:] = [[1.0, 0.0], [0.0, -1.0]]
    msg.data = data.ravel().tolist()
    with pytest.raises(ValueError, match='policy cov is not positive definite at time step 1'):
        messages.policy_from_msg(msg, dx=4, du=2)


def test_transition_round_trip_and_rejection():
    x = np.array([0.1, -0.2, 0.3, 0.4])
    u = np.array([12.5, float('nan')])
    torque = np.array([10.0, float('nan')])
    msg = messages.transition_to_msg(7, 12, messages.STATUS_FALLBACK, x, u, torque)
    assert msg.layout.dim[0].label == 'episode,step,status,state[4],action[2],torque[2]'
    episode, step, status, x2, u2, torque2 = messages.transition_from_msg(msg, 4, 2)
    assert (episode, step, status) == (7, 12, 1)
    np.testing.assert_array_equal(x2, x)
    assert u2[0] == 12.5 and np.isnan(u2[1])
    assert torque2[0] == 10.0 and np.isnan(torque2[1])
    with pytest.raises(ValueError, match='layout'):
        messages.transition_from_msg(msg, 6, 3)
    msg.data = list(msg.data)[:-1]
    with pytest.raises(ValueError, match='holds 10 numbers, expected 11'):
        messages.transition_from_msg(msg, 4, 2)
    with pytest.raises(ValueError, match=r'torque has shape \(3,\), the action \(2,\)'):
        messages.transition_to_msg(0, 0, 0, x, u, np.zeros(3))


def _joint_state(names, position, velocity):
    msg = JointState()
    msg.name = names
    msg.position = position
    msg.velocity = velocity
    return msg


def test_joint_state_is_reordered_by_name_and_may_name_more_joints():
    msg = _joint_state(['gripper', 'b', 'a'], [9.0, 2.0, 1.0], [0.9, 0.2, 0.1])
    x = messages.joint_state_to_x(msg, ['a', 'b'])
    np.testing.assert_array_equal(x, [1.0, 2.0, 0.1, 0.2])


@pytest.mark.parametrize('names, position, velocity, expected', [
    (['a', 'c'], [1.0, 2.0], [0.0, 0.0], r"missing \['b'\]"),
    (['a', 'b'], [1.0], [0.0, 0.0], '2 names, 1 positions'),
    (['a', 'b'], [1.0, float('nan')], [0.0, 0.0], 'NaN'),
    (['a', 'b'], [1.0, 2.0], [float('inf'), 0.0], 'NaN or inf'),
])
def test_malformed_joint_state_is_rejected(names, position, velocity, expected):
    with pytest.raises(ValueError, match=expected):
        messages.joint_state_to_x(_joint_state(names, position, velocity), ['a', 'b'])


@pytest.mark.parametrize('bad', [float('nan'), float('inf')])
def test_a_non_finite_transition_header_is_a_value_error(bad):
    from ps_control.nodes.messages import transition_from_msg, transition_to_msg
    msg = transition_to_msg(1, 2, 0, np.zeros(4), np.zeros(2), np.zeros(2))
    data = list(msg.data)
    data[1] = bad
    msg.data = data
    with pytest.raises(ValueError, match='header'):
        transition_from_msg(msg, 4, 2)


@pytest.mark.parametrize('names', [['a', 'b'], ['b', 'a']])
def test_a_joint_state_without_velocities_is_refused(names):
    """A driver publishing positions only gives no state: a ValueError that says so."""
    with pytest.raises(ValueError, match='2 names, 2 positions and 0 velocities'):
        messages.joint_state_to_x(_joint_state(names, [1.0, 2.0], []), ['a', 'b'])
    with pytest.raises(ValueError, match='2 names, 2 positions and 1 velocities'):
        messages.joint_state_to_x(_joint_state(names, [1.0, 2.0], [0.5]), ['a', 'b'])


def test_a_transition_longer_than_its_layout_is_refused():
    """One number too many is refused, not read as a longer torque."""
    msg = messages.transition_to_msg(1, 2, 0, np.zeros(4), np.zeros(2), np.zeros(2))
    msg.data = list(msg.data) + [0.0]
    with pytest.raises(ValueError, match='holds 12 numbers, expected 11'):
        messages.transition_from_msg(msg, 4, 2)


def test_a_transition_without_its_one_dimension_is_a_value_error():
    """No layout, or a second dimension: ValueError (what the learner catches), not IndexError."""
    good = messages.transition_to_msg(1, 2, 0, np.zeros(4), np.zeros(2), np.zeros(2))
    bare = Float64MultiArray()
    bare.data = list(good.data)
    with pytest.raises(ValueError, match='layout'):
        messages.transition_from_msg(bare, 4, 2)
    extra = messages.transition_to_msg(1, 2, 0, np.zeros(4), np.zeros(2), np.zeros(2))
    extra.layout.dim = list(extra.layout.dim) + [MultiArrayDimension(label='x', size=1,
                                                                     stride=1)]
    with pytest.raises(ValueError, match='layout'):
        messages.transition_from_msg(extra, 4, 2)
