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
Generate the URDF models of urdf/: pendulums hanging from a fixed base and planar N-link arms.

Every robot is a serial chain of straight links joined by revolute joints about one common axis,
so the motion is planar. A link is a thin rod (a cylinder) with an optional point-like tip mass
(a small sphere) at its far end; the tip mass shifts the centre of mass towards the end of the
link (thesis sec. 6.1: "shift the center of mass towards the end of the link"). The inertia
tensor is computed from that composite body, so it is physically consistent by construction.

Pendulums (``double_pendulum.urdf``, ``quad_pendulum.urdf``): links hang along -z from the
origin of their joint, joint axes are (0, -1, 0), so the chain swings in the x-z plane, q = 0 is
hanging down, q_1 = pi (q_i = 0 for i > 1) is upright, and a positive angle moves the tip towards
+x. The joint angles are relative to the parent link.

Arms (``planar_arm_<N>.urdf``): N equal links of length 1/N (total length 1) along +x, joint axes
(0, 0, 1), so the arm moves in the horizontal x-y plane where gravity does no work (as the arm
tasks of the mirror-descent-search paper, which have no gravity). q = 0 is the straight arm
along +x.

Regenerate all checked-in files with::

    python -m ps_control.sim.urdf_gen --out urdf/

test/test_urdf.py checks that the checked-in files equal this module's output.
"""

import argparse
from dataclasses import dataclass
import math
import os
import sys

import numpy as np


@dataclass(frozen=True)
class LinkSpec:
    """
    One link of a serial chain and the joint that moves it.

    mass (kg), length (m) and com_fraction (centre of mass at com_fraction * length from the
    joint, 0.5 <= com_fraction <= 1: a rod of mass mass * (2 - 2 com_fraction) plus a tip mass
    mass * (2 com_fraction - 1)); radius of the rod (m); joint damping (N m s / rad, viscous),
    friction (N m, Coulomb), effort limit (N m), velocity limit (rad / s) and position limits
    lower / upper (rad).
    """

    mass: float
    length: float
    com_fraction: float
    radius: float
    damping: float
    friction: float
    effort: float
    velocity: float
    lower: float
    upper: float


@dataclass(frozen=True)
class ChainSpec:
    """A named serial chain; kind is 'pendulum' (hangs along -z) or 'arm' (lies along +x)."""

    name: str
    kind: str
    links: tuple


# Double pendulum (thesis sec. 6.1). Masses and lengths 1 as the reference implementations; the
# centre of mass sits at 3/4 of each link. Static gravity torque at joint 1 with the chain
# horizontal: 9.81 * (0.75 + 1.75) = 24.5 N m > 10 N m effort limit, so it cannot be lifted
# quasi-statically and must be swung up. Viscous joint friction 0.025 N m s / rad.
DOUBLE_PENDULUM = {'n_links': 2, 'mass': 1.0, 'length': 1.0, 'com_fraction': 0.75,
                   'damping': 0.025, 'friction': 0.0, 'effort': 10.0}

# Quad pendulum (thesis sec. 6.2). Masses and lengths 1 as the reference implementations, centre
# of mass at 3/4 of each link. Static gravity torque at joint 1 with the chain horizontal:
# 9.81 * (0.75 + 1.75 + 2.75 + 3.75) = 88.3 N m > 25 N m effort limit.
QUAD_PENDULUM = {'n_links': 4, 'mass': 1.0, 'length': 1.0, 'com_fraction': 0.75,
                 'damping': 0.025, 'friction': 0.0, 'effort': 25.0}

# Pendulum joint limits (rad), enforced by PyBullet's constraint solver:
# joint 1 in [-pi/2, 3 pi/2]: the chain can swing back to horizontal on the -x side and forward
# through upright (q_1 = pi) to horizontal on the +x side, but it can never turn through a full
# revolution, so the upright goal q_1 = pi is unique and angle errors need no wrapping;
# joints i > 1 in [-3 pi/4, 3 pi/4] (a link cannot fold back onto its parent).
PENDULUM_FIRST_JOINT_LIMITS = (-0.5 * math.pi, 1.5 * math.pi)
PENDULUM_OTHER_JOINT_LIMITS = (-0.75 * math.pi, 0.75 * math.pi)
PENDULUM_VELOCITY_LIMIT = 30.0

# Planar arms: total length 1 and total mass 1, uniform links (centre of mass in the middle).
# Effort limit of joint i: effort_i = ARM_EFFORT_SCALE * s_i^2 N m, s_i = (N - i + 1) / N the
# length and mass of the chain of links i..N (rounded to 6 significant digits). Joint i pushes
# that chain sideways: a force m a on its centre of mass (s_i / 2 from the joint) takes the torque
# s_i a s_i / 2 = a s_i^2 / 2, so ARM_EFFORT_SCALE = 50 lets every joint give the chain beyond it
# a = 100 m/s^2. That is what the arm via-point task of the mirror-descent-search paper needs
# (Miyashita et al. 2018, sec. 4.2: the end effector travels about 0.7 m in 0.3 s, and every
# link moves with it). Inverse dynamics (PlanarArm.inverse_dynamics) of its DMP motions on the
# 10-link arm, peak |tau_i| / s_i^2 over joints 1..10:
#   theta = 0 (the initial DMP): 19.3 .. 36.2; the learnt via-point motion (G-AMDS, 100 basis
#   functions, 700 updates): 10.2 .. 27.6.
# The former limit 10 s_i^3 (every joint accelerates the straight chain beyond it at 30 rad/s^2)
# was 1.2 to 28 times too low for the learnt motion (2 to 36 times for theta = 0), worst at the
# light distal joints: the task was infeasible and a tracking controller saturated and whipped
# the tip. With 50 s_i^2 the learnt motion peaks at 0.20 (joint 1) to 0.55 (joint 10) of the
# limits, leaving the rest for the feedback of the tracking controller. Joint limits +-pi.
ARM_EFFORT_SCALE = 50.0
ARM_EFFORT_EXPONENT = 2
ARM_DAMPING = 0.0
ARM_VELOCITY_LIMIT = 30.0
ARM_LINK_COUNTS = (2, 10, 50)


def pendulum_spec(name, n_links, mass, length, com_fraction, damping, friction, effort):
    """Return the ChainSpec of an n-link pendulum with equal links (limits as documented)."""
    links = []
    for i in range(n_links):
        lower, upper = PENDULUM_FIRST_JOINT_LIMITS if i == 0 else PENDULUM_OTHER_JOINT_LIMITS
        links.append(LinkSpec(mass=mass, length=length, com_fraction=com_fraction,
                              radius=0.025 * length, damping=damping, friction=friction,
                              effort=effort, velocity=PENDULUM_VELOCITY_LIMIT, lower=lower,
                              upper=upper))
    return ChainSpec(name=name, kind='pendulum', links=tuple(links))


def planar_arm_spec(n_links):
    """Return the ChainSpec of the planar arm with n_links equal links of length 1 / n_links."""
    if int(n_links) != n_links or n_links < 1:
        raise ValueError('n_links must be a positive integer, got %r' % (n_links,))
    n = int(n_links)
    links = []
    for i in range(n):
        effort = float('%.6g' % (ARM_EFFORT_SCALE * ((n - i) / n) ** ARM_EFFORT_EXPONENT))
        links.append(LinkSpec(mass=1.0 / n, length=1.0 / n, com_fraction=0.5,
                              radius=0.1 / n, damping=ARM_DAMPING, friction=0.0,
                              effort=effort, velocity=ARM_VELOCITY_LIMIT, lower=-math.pi,
                              upper=math.pi))
    return ChainSpec(name='planar_arm_%d' % n, kind='arm', links=tuple(links))


def link_mass_properties(link):
    """
    Return (com_distance, inertia) of a link in a frame whose z axis runs along the link.

    com_distance is the distance of the centre of mass from the joint; inertia (3, 3) is the
    inertia tensor about the centre of mass: a solid cylinder (the rod) of mass
    m (2 - 2 f) plus a solid sphere of radius 2 * radius and mass m (2 f - 1) centred on the tip,
    with f = com_fraction.
    """
    m, length, f, r = link.mass, link.length, link.com_fraction, link.radius
    if not m > 0 or not length > 0 or not r > 0:
        raise ValueError('link mass, length and radius must be > 0')
    if not 0.5 <= f <= 1.0:
        raise ValueError('link com_fraction must be in [0.5, 1], got %r' % (f,))
    m_tip = m * (2.0 * f - 1.0)
    m_rod = m - m_tip
    com = f * length
    r_tip = 2.0 * r
    axial = 0.5 * m_rod * r ** 2 + 0.4 * m_tip * r_tip ** 2
    transverse = (m_rod * (length ** 2 / 12.0 + r ** 2 / 4.0) + m_rod * (com - 0.5 * length) ** 2
                  + 0.4 * m_tip * r_tip ** 2 + m_tip * (length - com) ** 2)
    return com, np.diag([transverse, transverse, axial])


def _num(value):
    """Format a float for the URDF: shortest repr that round-trips, no '-0'."""
    value = float(value)
    if value == 0.0:
        value = 0.0
    text = repr(value)
    return text[:-2] if text.endswith('.0') else text


def _vec(*values):
    return ' '.join(_num(v) for v in values)


def chain_urdf(spec):
    """Return the URDF text of a ChainSpec."""
    if spec.kind == 'pendulum':
        # Link frame z axis along the link, pointing from the tip to the joint (link hangs at -z).
        axis, along, cyl_rpy = (0.0, -1.0, 0.0), (0.0, 0.0, -1.0), (0.0, 0.0, 0.0)
    elif spec.kind == 'arm':
        axis, along, cyl_rpy = (0.0, 0.0, 1.0), (1.0, 0.0, 0.0), (0.0, 0.5 * math.pi, 0.0)
    else:
        raise ValueError('chain kind must be pendulum or arm, got %r' % (spec.kind,))
    lines = [
        '<?xml version="1.0"?>',
        '<!-- Generated by ps_control/sim/urdf_gen.py. Do not edit: regenerate with',
        '     "python -m ps_control.sim.urdf_gen" run in the package root. -->',
        '<robot name="%s">' % spec.name,
        '  <material name="grey"><color rgba="0.6 0.6 0.6 1"/></material>',
        '  <material name="blue"><color rgba="0.2 0.4 0.8 1"/></material>',
        '  <material name="orange"><color rgba="0.9 0.5 0.1 1"/></material>',
        '  <link name="base_link">',
        '    <inertial>',
        '      <mass value="1"/>',
        '      <inertia ixx="0.001" ixy="0" ixz="0" iyy="0.001" iyz="0" izz="0.001"/>',
        '    </inertial>',
        '    <visual>',
        '      <geometry><box size="%s"/></geometry>' % _vec(0.1, 0.1, 0.1),
        '      <material name="grey"/>',
        '    </visual>',
        '  </link>',
    ]
    # The base link gets an inertial only so that PyBullet does not warn about a missing one (the
    # base is fixed, its mass plays no role).
    parent = 'base_link'
    offset = (0.0, 0.0, 0.0)
    for i, link in enumerate(spec.links, start=1):
        com, inertia = link_mass_properties(link)
        if spec.kind == 'arm':
            # Rotate the tensor from "z along the link" to "x along the link".
            inertia = inertia[[2, 1, 0]][:, [2, 1, 0]]
        name = 'link_%d' % i
        com_xyz = [com * a for a in along]
        mid_xyz = [0.5 * link.length * a for a in along]
        tip_xyz = [link.length * a for a in along]
        lines += [
            '  <joint name="joint_%d" type="revolute">' % i,
            '    <parent link="%s"/>' % parent,
            '    <child link="%s"/>' % name,
            '    <origin xyz="%s" rpy="0 0 0"/>' % _vec(*offset),
            '    <axis xyz="%s"/>' % _vec(*axis),
            '    <limit lower="%s" upper="%s" effort="%s" velocity="%s"/>'
            % (_num(link.lower), _num(link.upper), _num(link.effort), _num(link.velocity)),
            '    <dynamics damping="%s" friction="%s"/>'
            % (_num(link.damping), _num(link.friction)),
            '  </joint>',
            '  <link name="%s">' % name,
            '    <inertial>',
            '      <origin xyz="%s" rpy="0 0 0"/>' % _vec(*com_xyz),
            '      <mass value="%s"/>' % _num(link.mass),
            '      <inertia ixx="%s" ixy="0" ixz="0" iyy="%s" iyz="0" izz="%s"/>'
            % (_num(inertia[0, 0]), _num(inertia[1, 1]), _num(inertia[2, 2])),
            '    </inertial>',
        ]
        shapes = [('cylinder', mid_xyz, cyl_rpy,
                   'radius="%s" length="%s"' % (_num(link.radius), _num(link.length)), 'blue')]
        if link.com_fraction > 0.5:
            shapes.append(('sphere', tip_xyz, (0.0, 0.0, 0.0),
                           'radius="%s"' % _num(2.0 * link.radius), 'orange'))
        for tag in ('visual', 'collision'):
            for shape, xyz, rpy, size, colour in shapes:
                lines += [
                    '    <%s>' % tag,
                    '      <origin xyz="%s" rpy="%s"/>' % (_vec(*xyz), _vec(*rpy)),
                    '      <geometry><%s %s/></geometry>' % (shape, size),
                ]
                if tag == 'visual':
                    lines.append('      <material name="%s"/>' % colour)
                lines.append('    </%s>' % tag)
        lines.append('  </link>')
        parent = name
        offset = tip_xyz
    lines.append('</robot>')
    return '\n'.join(lines) + '\n'


def checked_in_specs():
    """Return {file name: ChainSpec} of every URDF checked in under urdf/."""
    specs = {
        'double_pendulum.urdf': pendulum_spec('double_pendulum', **DOUBLE_PENDULUM),
        'quad_pendulum.urdf': pendulum_spec('quad_pendulum', **QUAD_PENDULUM),
    }
    for n in ARM_LINK_COUNTS:
        specs['planar_arm_%d.urdf' % n] = planar_arm_spec(n)
    return specs


def generate_all():
    """Return {file name: URDF text} of every checked-in URDF."""
    return {name: chain_urdf(spec) for name, spec in checked_in_specs().items()}


def write_all(out_dir, arm_links=()):
    """Write every checked-in URDF (plus planar arms with the given link counts) to out_dir."""
    files = generate_all()
    for n in arm_links:
        files['planar_arm_%d.urdf' % n] = chain_urdf(planar_arm_spec(n))
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for name, text in sorted(files.items()):
        path = os.path.join(out_dir, name)
        with open(path, 'w') as stream:
            stream.write(text)
        paths.append(path)
    return paths


def main(argv=None):
    """Command line: write the URDFs to --out (default urdf/)."""
    parser = argparse.ArgumentParser(description='Write the ps_control URDF models.')
    parser.add_argument('--out', default='urdf', help='output directory (default: urdf)')
    parser.add_argument('--arm', type=int, action='append', default=[],
                        help='also write planar_arm_<N>.urdf for this N (repeatable)')
    args = parser.parse_args(argv)
    for n in args.arm:
        if n < 1:
            parser.error('--arm must be >= 1, got %d' % n)
    for path in write_all(args.out, args.arm):
        print(path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
