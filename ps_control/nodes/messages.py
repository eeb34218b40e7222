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
Message codecs of the nodes: policies, transitions, joint states, times.

Policy (``ps_control/policy``, std_msgs/Float64MultiArray): one dense row-major array of shape
(T, du, dx + 1 + du) whose layout names its three dimensions ``time``, ``action`` and
``gain_offset_cov``; row (t, i) is ``[K_t[i, 0:dx], k_t[i], cov_t[i, 0:du]]`` of the policy
u_t ~ N(K_t x + k_t, cov_t). The strides follow the MultiArrayLayout convention (dim[i].stride =
product of the sizes from i on) and data_offset is 0. A decoder checks labels, sizes, strides,
length, dimensions against the controller's dx / du, finiteness and the covariance (through
LinearGaussianPolicy's validation) and raises ValueError saying what is wrong.

Transition (``ps_control/transitions``, std_msgs/Float64MultiArray): one tick of the controller,
``[episode, step, status, x_0..x_{dx-1}, u_0..u_{du-1}, tau_0..tau_{du-1}]`` with one dimension
labelled ``episode,step,status,state[dx],action[du],torque[du]``: the state the controller read,
the policy's action u before clipping and the torque tau it applied (the command it sent). status
is 0 (the policy acted on a valid state) or 1 (the safe fallback command was sent). tau is u
clipped to the effort limits on a policy tick; u is what the learner fits its model to (the
clipping is part of the system it learns). On a fallback tick u and tau are zero; on the terminal
tick (step == T) u and tau are NaN in lockstep, where nothing is applied, and the hold command
otherwise.
"""

import hashlib

import numpy as np
from ps_control.core import LinearGaussianPolicy
from ps_control.sim.urdf import repeated_names
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from std_msgs.msg import MultiArrayDimension


POLICY_LABELS = ('time', 'action', 'gain_offset_cov')
STATUS_OK = 0.0
STATUS_FALLBACK = 1.0
TRANSITION_HEADER = 3  # episode, step, status


def _dims(labels, sizes):
    dims = []
    for i, (label, size) in enumerate(zip(labels, sizes)):
        dims.append(MultiArrayDimension(label=label, size=int(size),
                                        stride=int(np.prod(sizes[i:], dtype=np.int64))))
    return dims


def policy_array(policy):
    """Return the (T, du, dx + 1 + du) array of a policy, as it travels in the message."""
    return np.concatenate([policy.K, policy.k[:, :, None], policy.cov], axis=2)


def policy_digest(policy):
    """Return a short hex digest of a policy's parameters (same for sender and receiver)."""
    data = np.ascontiguousarray(policy_array(policy), dtype='<f8')
    return hashlib.sha1(data.tobytes()).hexdigest()[:12]


def policy_to_msg(policy):
    """Encode a LinearGaussianPolicy as a Float64MultiArray with the labelled layout."""
    array = policy_array(policy)
    msg = Float64MultiArray()
    msg.layout.dim = _dims(POLICY_LABELS, array.shape)
    msg.layout.data_offset = 0
    msg.data = array.ravel().tolist()
    return msg


def policy_from_msg(msg, dx=None, du=None):
    """
    Decode a policy message; ValueError saying what is wrong if it is malformed.

    dx and du, if given, are the state and action dimensions the receiver expects.
    """
    dims = list(msg.layout.dim)
    labels = tuple(d.label for d in dims)
    if labels != POLICY_LABELS:
        raise ValueError('policy message layout labels are %s, expected %s'
                         % (list(labels), list(POLICY_LABELS)))
    sizes = [int(d.size) for d in dims]
    T, msg_du, width = sizes
    if T < 1 or msg_du < 1:
        raise ValueError('policy message has %d time steps and %d actions, expected >= 1 each'
                         % (T, msg_du))
    msg_dx = width - 1 - msg_du
    if msg_dx < 1:
        raise ValueError('policy message dimension gain_offset_cov has size %d, too small for '
                         '%d actions' % (width, msg_du))
    for i, d in enumerate(dims):
        want = int(np.prod(sizes[i:], dtype=np.int64))
        if int(d.stride) != want:
            raise ValueError('policy message dimension %s has stride %d, expected %d'
                             % (d.label, d.stride, want))
    if msg.layout.data_offset != 0:
        raise ValueError('policy message has data_offset %d, expected 0'
                         % msg.layout.data_offset)
    if du is not None and msg_du != du:
        raise ValueError('policy message has %d actions, this controller drives %d joints'
                         % (msg_du, du))
    if dx is not None and msg_dx != dx:
        raise ValueError('policy message has state dimension %d, expected %d' % (msg_dx, dx))
    data = np.asarray(msg.data, dtype=float)
    if data.size != T * msg_du * width:
        raise ValueError('policy message holds %d numbers, its layout (%d, %d, %d) needs %d'
                         % (data.size, T, msg_du, width, T * msg_du * width))
    array = data.reshape(T, msg_du, width)
    return LinearGaussianPolicy(array[:, :, :msg_dx], array[:, :, msg_dx],
                                array[:, :, msg_dx + 1:])


def transition_label(dx, du):
    """Return the layout label of a transition message for dimensions dx, du."""
    return 'episode,step,status,state[%d],action[%d],torque[%d]' % (dx, du, du)


def transition_to_msg(episode, step, status, x, u, torque):
    """Encode one controller tick as a Float64MultiArray."""
    x, u, torque = (np.asarray(v, dtype=float) for v in (x, u, torque))
    if torque.shape != u.shape:
        raise ValueError('torque has shape %s, the action %s' % (torque.shape, u.shape))
    msg = Float64MultiArray()
    size = TRANSITION_HEADER + x.size + 2 * u.size
    msg.layout.dim = [MultiArrayDimension(label=transition_label(x.size, u.size), size=size,
                                          stride=size)]
    return fill_transition(msg, episode, step, status, x, u, torque)


def fill_transition(msg, episode, step, status, x, u, torque):
    """
    Overwrite the numbers of a transition message made by transition_to_msg for the same dx, du.

    x, u and torque are numpy arrays. The per-tick encoder of the controller: it reuses one
    message and its layout instead of building both every tick (the message is serialized when
    published, so reusing it is safe).
    """
    msg.data = ([float(episode), float(step), float(status)] + x.tolist() + u.tolist()
                + torque.tolist())
    return msg


def transition_from_msg(msg, dx, du):
    """
    Decode a transition message into (episode, step, status, x, u, torque).

    ValueError if it is malformed: another layout, length or a non-finite header.
    """
    label = transition_label(dx, du)
    dims = list(msg.layout.dim)
    if len(dims) != 1 or dims[0].label != label:
        raise ValueError('transition message layout is %s, expected one dimension labelled %r'
                         % ([d.label for d in dims], label))
    data = np.asarray(msg.data, dtype=float)
    if data.size != TRANSITION_HEADER + dx + 2 * du:
        raise ValueError('transition message holds %d numbers, expected %d'
                         % (data.size, TRANSITION_HEADER + dx + 2 * du))
    head = data[:TRANSITION_HEADER]
    if not np.isfinite(head).all():
        raise ValueError('transition message header %s is not finite' % head.tolist())
    x = data[TRANSITION_HEADER:TRANSITION_HEADER + dx]
    u = data[TRANSITION_HEADER + dx:TRANSITION_HEADER + dx + du]
    torque = data[TRANSITION_HEADER + dx + du:]
    return int(head[0]), int(head[1]), int(head[2]), x, u, torque


def joint_state_to_msg(stamp, joints, x, effort):
    """Return a JointState with the positions x[:n], velocities x[n:] and the efforts."""
    msg = JointState()
    msg.name = list(joints)
    return fill_joint_state(msg, stamp, x, effort)


def fill_joint_state(msg, stamp, x, effort):
    """
    Overwrite stamp, positions, velocities and efforts of a JointState made by joint_state_to_msg.

    x (2n,) and effort (n,) are sequences of numbers. The per-step encoder of the simulator: it
    reuses one message and its names (the message is serialized when published, so reusing it
    is safe).
    """
    n = len(msg.name)
    msg.header.stamp = stamp
    values = np.asarray(x, dtype=float).tolist()
    msg.position, msg.velocity = values[:n], values[n:2 * n]
    msg.effort = np.asarray(effort, dtype=float).tolist()
    return msg


def joint_state_to_x(msg, joints):
    """
    Return the state [q, qdot] (2n,) of the named joints, in their order, from a JointState.

    The message may name more joints, in any order (a joint_state_broadcaster orders them its
    own way). Raises ValueError saying what is wrong: a joint missing, a name given twice (which
    value holds?), lengths that differ from the names, NaN or inf.
    """
    names = list(msg.name)
    position, velocity = msg.position, msg.velocity
    if len(position) != len(names) or len(velocity) != len(names):
        raise ValueError('joint state has %d names, %d positions and %d velocities'
                         % (len(names), len(position), len(velocity)))
    if len(set(names)) != len(names):
        raise ValueError('joint state names %s more than once' % repeated_names(names))
    n = len(joints)
    if names[:n] == list(joints):
        # the usual case, the joints first and in order: no lookup table, no fancy indexing
        x = np.array([*position[:n], *velocity[:n]], dtype=float)
    else:
        lookup = {name: i for i, name in enumerate(names)}
        missing = [j for j in joints if j not in lookup]
        if missing:
            raise ValueError('joint state names %s, not the joints %s (missing %s)'
                             % (names, list(joints), missing))
        index = [lookup[j] for j in joints]
        x = np.concatenate([np.asarray(position, dtype=float)[index],
                            np.asarray(velocity, dtype=float)[index]])
    if not np.isfinite(x).all():
        raise ValueError('joint state holds NaN or inf: %s' % np.array2string(
            x, precision=4, max_line_width=np.inf))
    return x


def stamp_to_ns(stamp):
    """Return a builtin_interfaces/Time as integer nanoseconds."""
    return int(stamp.sec) * 1000000000 + int(stamp.nanosec)
