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
Read the actuated joints of a URDF (names, limits, effort limits, damping, friction).

Plain XML parsing, no PyBullet, so tasks can validate a configuration against its URDF without a
physics engine. PyBullet's getJointInfo reports a missing effort limit as 0, indistinguishable
from a real 0; reading the file tells the two apart.
"""

from dataclasses import dataclass
import math
import os
import xml.etree.ElementTree as ElementTree

ACTUATED_TYPES = ('revolute', 'continuous', 'prismatic')


@dataclass(frozen=True)
class JointInfo:
    """
    One actuated joint of a URDF.

    kind is the URDF joint type ('revolute', 'continuous' or 'prismatic'); lower / upper are the
    position limits (-inf / inf for a continuous joint), effort the torque (force) limit,
    velocity the velocity limit (inf when absent), damping the viscous damping (N m s / rad) and
    friction the Coulomb friction (N m) of <dynamics> (0 when absent).
    """

    name: str
    kind: str
    lower: float
    upper: float
    effort: float
    velocity: float
    damping: float
    friction: float


@dataclass(frozen=True)
class RobotModel:
    """The actuated joints of a URDF, in document order (the order of states and torques)."""

    name: str
    path: str
    joints: tuple

    @property
    def joint_names(self):
        return tuple(joint.name for joint in self.joints)

    @property
    def n_joints(self):
        return len(self.joints)


def _float(path, joint, element, attribute, default=None):
    text = element.get(attribute) if element is not None else None
    if text is None:
        if default is None:
            raise ValueError('URDF %s: joint %r has no %s attribute %r'
                             % (path, joint, element.tag if element is not None else '<limit>',
                                attribute))
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError('URDF %s: joint %r has a non-numeric %s %r'
                         % (path, joint, attribute, text)) from None
    if math.isnan(value):
        raise ValueError('URDF %s: joint %r has %s = nan' % (path, joint, attribute))
    return value


def repeated_names(names):
    """Return the names that occur more than once in ``names``, sorted."""
    names = list(names)
    return sorted({name for name in names if names.count(name) > 1})


def read_urdf(path):
    """
    Return the RobotModel of the URDF file at path.

    Raises ValueError naming the file and the joint when an actuated joint has no effort limit
    (<limit effort="..."/>), a non-positive effort limit, a revolute or prismatic joint has no
    position limits, or a limit is not a number.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError('URDF file not found: %s' % path)
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as error:
        raise ValueError('URDF %s is not valid XML: %s' % (path, error)) from None
    if root.tag != 'robot':
        raise ValueError('URDF %s: root element is <%s>, expected <robot>' % (path, root.tag))
    names = [element.get('name') for element in root.findall('joint')]
    unnamed = [index for index, name in enumerate(names) if not name]
    if unnamed:
        raise ValueError('URDF %s: joint %d has no name' % (path, unnamed[0] + 1))
    repeated = repeated_names(names)
    if repeated:
        raise ValueError('URDF %s: joint name %s used more than once'
                         % (path, ', '.join(repeated)))
    joints = []
    for element in root.findall('joint'):
        kind = element.get('type')
        if kind not in ACTUATED_TYPES:
            continue
        name = element.get('name')
        limit = element.find('limit')
        if limit is None or limit.get('effort') is None:
            raise ValueError('URDF %s: joint %r has no effort limit (<limit effort="..."/>)'
                             % (path, name))
        effort = _float(path, name, limit, 'effort')
        if not (effort > 0 and math.isfinite(effort)):
            raise ValueError('URDF %s: joint %r has effort limit %g, must be finite and > 0'
                             % (path, name, effort))
        if kind == 'continuous':
            lower, upper = -math.inf, math.inf
        else:
            lower = _float(path, name, limit, 'lower')
            upper = _float(path, name, limit, 'upper')
            if not lower < upper:
                raise ValueError('URDF %s: joint %r has lower limit %g >= upper limit %g'
                                 % (path, name, lower, upper))
        velocity = _float(path, name, limit, 'velocity', math.inf)
        dynamics = element.find('dynamics')
        damping = _float(path, name, dynamics, 'damping', 0.0)
        friction = _float(path, name, dynamics, 'friction', 0.0)
        if not (0 <= damping < math.inf and 0 <= friction < math.inf):
            raise ValueError('URDF %s: joint %r has damping %g and friction %g: each must be '
                             'finite and >= 0' % (path, name, damping, friction))
        joints.append(JointInfo(name=name, kind=kind, lower=lower, upper=upper, effort=effort,
                                velocity=velocity, damping=damping, friction=friction))
    if not joints:
        raise ValueError('URDF %s has no actuated (revolute, continuous, prismatic) joint' % path)
    return RobotModel(name=root.get('name', ''), path=os.path.abspath(path), joints=tuple(joints))
