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

"""Tests of the URDF models in urdf/ and of their generator ps_control.sim.urdf_gen."""

import math
import os
import re
import xml.etree.ElementTree as ElementTree

import numpy as np
from ps_control.sim import urdf_gen
from ps_control.sim.urdf import read_urdf
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
URDF_DIR = os.path.join(ROOT, 'urdf')
CHECKED_IN = ('double_pendulum.urdf', 'quad_pendulum.urdf', 'planar_arm_2.urdf',
              'planar_arm_10.urdf', 'planar_arm_50.urdf')


def _links(path):
    """Return [(name, mass, com xyz, inertia 3x3)] of the links with an inertial."""
    out = []
    for link in ElementTree.parse(path).getroot().findall('link'):
        inertial = link.find('inertial')
        if inertial is None:
            continue
        i = inertial.find('inertia').attrib
        tensor = np.array([[i['ixx'], i['ixy'], i['ixz']], [i['ixy'], i['iyy'], i['iyz']],
                           [i['ixz'], i['iyz'], i['izz']]], dtype=float)
        origin = inertial.find('origin')
        xyz = '0 0 0' if origin is None else origin.get('xyz', '0 0 0')
        com = np.array(xyz.split(), dtype=float)
        out.append((link.get('name'), float(inertial.find('mass').get('value')), com, tensor))
    return out


def _joint_offsets(path):
    """Return the origin xyz of every revolute joint, in document order."""
    root = ElementTree.parse(path).getroot()
    return [np.array(j.find('origin').get('xyz').split(), dtype=float)
            for j in root.findall('joint') if j.get('type') == 'revolute']


def test_checked_in_urdfs_equal_generator_output():
    generated = urdf_gen.generate_all()
    assert sorted(generated) == sorted(CHECKED_IN)
    for name, text in generated.items():
        with open(os.path.join(URDF_DIR, name)) as stream:
            assert stream.read() == text, '%s differs from urdf_gen output: regenerate' % name


def test_generator_command_line_writes_files(tmp_path):
    assert urdf_gen.main(['--out', str(tmp_path), '--arm', '3']) == 0
    written = sorted(os.listdir(tmp_path))
    assert written == sorted(CHECKED_IN + ('planar_arm_3.urdf',))
    assert read_urdf(tmp_path / 'planar_arm_3.urdf').n_joints == 3


def test_generator_command_line_refuses_an_arm_without_links(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        urdf_gen.main(['--out', str(tmp_path), '--arm', '0'])
    assert exit_info.value.code == 2
    assert '--arm must be >= 1, got 0' in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


def test_generator_refuses_an_unknown_chain_kind():
    spec = urdf_gen.ChainSpec(name='wheel', kind='wheel',
                              links=urdf_gen.planar_arm_spec(1).links)
    with pytest.raises(ValueError, match="chain kind must be pendulum or arm, got 'wheel'"):
        urdf_gen.chain_urdf(spec)


@pytest.mark.parametrize('name', CHECKED_IN)
def test_inertias_physically_consistent(name):
    links = _links(os.path.join(URDF_DIR, name))
    assert links
    for link, mass, _, tensor in links:
        assert mass > 0, link
        assert np.allclose(tensor, tensor.T)
        moments = np.linalg.eigvalsh(tensor)
        assert moments[0] > 0, '%s: inertia not positive definite' % link
        a, b, c = moments
        assert a + b >= c and a + c >= b and b + c >= a, '%s: triangle inequality' % link


def test_link_inertia_matches_composite_body():
    # Rod of 0.5 kg and 1 m plus a 0.5 kg tip: centre of mass at 0.75 m, transverse inertia
    # about it: 0.5 (1/12 + r^2/4) + 0.5 * 0.25^2 (rod) + 0.4 * 0.5 * (2 r)^2 + 0.5 * 0.25^2.
    spec = urdf_gen.LinkSpec(mass=1.0, length=1.0, com_fraction=0.75, radius=0.02,
                             damping=0.0, friction=0.0, effort=1.0, velocity=1.0, lower=-1.0,
                             upper=1.0)
    com, tensor = urdf_gen.link_mass_properties(spec)
    r = 0.02
    transverse = 0.5 * (1 / 12 + r * r / 4) + 0.5 * 0.0625 + 0.4 * 0.5 * (2 * r) ** 2 + 0.03125
    assert com == pytest.approx(0.75)
    assert tensor[0, 0] == pytest.approx(transverse)
    assert tensor[2, 2] == pytest.approx(0.5 * 0.5 * r * r + 0.4 * 0.5 * (2 * r) ** 2)
    with pytest.raises(ValueError, match='com_fraction'):
        urdf_gen.link_mass_properties(spec.__class__(**{**spec.__dict__, 'com_fraction': 0.3}))


@pytest.mark.parametrize('name, n', [('double_pendulum.urdf', 2), ('quad_pendulum.urdf', 4)])
def test_pendulums_centre_of_mass_towards_link_end(name, n):
    path = os.path.join(URDF_DIR, name)
    links = _links(path)[1:]  # without the base
    offsets = _joint_offsets(path)[1:] + [None]
    assert len(links) == n
    for (link, _, com, _), offset in zip(links, offsets):
        length = abs(offsets[0][2]) if offset is None else abs(offset[2])
        assert com[0] == 0 and com[1] == 0
        assert -com[2] > 0.5 * length, '%s: centre of mass not beyond the middle' % link


@pytest.mark.parametrize('name', ['double_pendulum.urdf', 'quad_pendulum.urdf'])
def test_pendulum_joints_and_limits(name):
    model = read_urdf(os.path.join(URDF_DIR, name))
    first, rest = model.joints[0], model.joints[1:]
    # Joint 1 reaches upright (pi) from hanging (0) but cannot turn through a full revolution.
    assert first.lower < 0 < math.pi < first.upper
    assert first.upper - first.lower <= 2 * math.pi + 1e-12
    assert first.lower > -math.pi  # upright the other way round (-pi) is out of reach
    for joint in rest:
        assert joint.lower < 0 < joint.upper and joint.upper - joint.lower < 2 * math.pi
    for joint in model.joints:
        assert joint.kind == 'revolute' and joint.effort > 0 and joint.damping > 0
    root = ElementTree.parse(os.path.join(URDF_DIR, name)).getroot()
    axes = {j.find('axis').get('xyz') for j in root.findall('joint')}
    assert len(axes) == 1 and axes.pop().split()[1] != '0'  # one common horizontal axis (y)


@pytest.mark.parametrize('name', ['double_pendulum.urdf', 'quad_pendulum.urdf'])
def test_pendulum_cannot_be_held_horizontal_by_joint_one(name):
    # Static gravity torque at joint 1 with the whole chain horizontal, from the URDF masses,
    # centres of mass and joint offsets: must exceed the effort limit (the torque limit binds).
    path = os.path.join(URDF_DIR, name)
    links = _links(path)[1:]
    offsets = _joint_offsets(path)
    distance, torque = 0.0, 0.0
    for i, (_, mass, com, _) in enumerate(links):
        torque += mass * 9.81 * (distance + abs(com[2]))
        if i + 1 < len(offsets):
            distance += abs(offsets[i + 1][2])
    assert torque > read_urdf(path).joints[0].effort


@pytest.mark.parametrize('n', [2, 10, 50])
def test_planar_arms(n):
    path = os.path.join(URDF_DIR, 'planar_arm_%d.urdf' % n)
    model = read_urdf(path)
    assert model.n_joints == n
    offsets = _joint_offsets(path)[1:]
    assert all(np.allclose(o, [1.0 / n, 0, 0]) for o in offsets)
    links = _links(path)[1:]
    assert sum(mass for _, mass, _, _ in links) == pytest.approx(1.0)
    root = ElementTree.parse(path).getroot()
    assert {j.find('axis').get('xyz') for j in root.findall('joint')} == {'0 0 1'}
    # effort_i = 50 s_i^2 N m, s_i = (n - i + 1) / n the length and mass of the links it moves
    # (urdf_gen.py: every joint pushes the chain beyond it sideways at 100 m/s^2)
    efforts = np.array([j.effort for j in model.joints])
    chain = np.arange(n, 0, -1) / n
    np.testing.assert_allclose(efforts, 50.0 * chain ** 2, rtol=1e-6)


def _write(tmp_path, text):
    path = tmp_path / 'robot.urdf'
    path.write_text(text)
    return path


def _pendulum_urdf(n_links):
    """Return the URDF text of an n-link pendulum (effort 5, no damping, no friction)."""
    return urdf_gen.chain_urdf(urdf_gen.pendulum_spec('p', n_links, 1.0, 1.0, 0.75, 0.0, 0.0, 5.0))


def _replaced(text, old, new):
    """Return text with its one occurrence of old replaced by new."""
    assert text.count(old) == 1, old
    return text.replace(old, new)


def test_read_urdf_rejects_missing_effort_naming_joint(tmp_path):
    text = _pendulum_urdf(2)
    broken = text.replace('effort="5" ', '', 2)
    # Only the first joint has lost its effort limit: the message names it.
    broken = broken.replace('lower="-2.356194490192345" upper="2.356194490192345" velocity',
                            'lower="-2.356194490192345" upper="2.356194490192345" effort="5" '
                            'velocity')
    with pytest.raises(ValueError, match="joint 'joint_1' has no effort limit"):
        read_urdf(_write(tmp_path, broken))


def test_read_urdf_rejects_bad_files(tmp_path):
    with pytest.raises(ValueError, match='not found'):
        read_urdf(tmp_path / 'missing.urdf')
    with pytest.raises(ValueError, match='not valid XML'):
        read_urdf(_write(tmp_path, '<robot><link></robot>'))
    text = _pendulum_urdf(1)
    with pytest.raises(ValueError, match="joint 'joint_1' has effort limit 0"):
        read_urdf(_write(tmp_path, text.replace('effort="5"', 'effort="0"')))
    two = _pendulum_urdf(2)
    assert 'name="joint_2"' in two
    with pytest.raises(ValueError, match='joint name joint_1 used more than once'):
        read_urdf(_write(tmp_path, two.replace('name="joint_2"', 'name="joint_1"')))
    with pytest.raises(ValueError, match='joint 2 has no name'):
        read_urdf(_write(tmp_path, two.replace('name="joint_2"', '')))
    with pytest.raises(ValueError, match="joint 'joint_1' has effort limit inf, must be finite"):
        read_urdf(_write(tmp_path, text.replace('effort="5"', 'effort="inf"')))
    assert 'damping="' in text
    damped = re.sub(r'damping="[^"]*"', 'damping="inf"', text)
    with pytest.raises(ValueError, match="joint 'joint_1' has damping inf and friction"):
        read_urdf(_write(tmp_path, damped))


def test_read_urdf_rejects_limits_and_joints_it_cannot_use(tmp_path):
    """Refuse a missing or NaN limit, lower == upper, negative friction, empty names, no joints."""
    text, two = _pendulum_urdf(1), _pendulum_urdf(2)
    limits = 'lower="-1.5707963267948966" upper="4.71238898038469"'
    bad = (
        (_replaced(text, 'velocity="30"', 'velocity="nan"'),
         "joint 'joint_1' has velocity = nan"),
        (_replaced(text, limits, 'lower="1" upper="1"'),
         "joint 'joint_1' has lower limit 1 >= upper limit 1"),
        (_replaced(text, 'lower="-1.5707963267948966" ', ''),
         "joint 'joint_1' has no limit attribute 'lower'"),
        (_replaced(text, 'friction="0"', 'friction="-0.5"'),
         "joint 'joint_1' has damping 0 and friction -0.5"),
        (_replaced(two, 'name="joint_2"', 'name=""'), 'joint 2 has no name'),
        (text.replace('<robot name="p">', '<model name="p">').replace('</robot>', '</model>'),
         'root element is <model>, expected <robot>'),
        (_replaced(text, 'type="revolute"', 'type="fixed"'), 'has no actuated .* joint'),
        (_replaced(text, 'effort="5"', 'effort="5 N m"'),
         "joint 'joint_1' has a non-numeric effort '5 N m'"),
        (_replaced(text, 'velocity="30"', 'velocity="fast"'),
         "joint 'joint_1' has a non-numeric velocity 'fast'"),
    )
    for broken, message in bad:
        with pytest.raises(ValueError, match=message):
            read_urdf(_write(tmp_path, broken))


def test_read_urdf_reads_prismatic_joints_and_missing_velocity_limits(tmp_path):
    """A prismatic joint is actuated, with its limits; no velocity attribute means no limit."""
    text = _replaced(_pendulum_urdf(1), 'type="revolute"', 'type="prismatic"')
    text = _replaced(text, 'lower="-1.5707963267948966" upper="4.71238898038469"',
                     'lower="-0.5" upper="0.5"')
    text = _replaced(text, ' velocity="30"', '')
    model = read_urdf(_write(tmp_path, text))
    assert model.joint_names == ('joint_1',)
    joint = model.joints[0]
    assert joint.kind == 'prismatic' and (joint.lower, joint.upper) == (-0.5, 0.5)
    assert joint.velocity == math.inf


def test_read_urdf_gives_a_continuous_joint_no_position_limits(tmp_path):
    """A continuous joint turns freely: its limits are infinite, whatever <limit> holds."""
    text = _replaced(_pendulum_urdf(1), 'type="revolute"', 'type="continuous"')
    joint = read_urdf(_write(tmp_path, text)).joints[0]
    assert joint.kind == 'continuous'
    assert (joint.lower, joint.upper) == (-math.inf, math.inf)


def _link_spec(**changes):
    """Return a LinkSpec of a 1 kg, 1 m link with the given fields changed."""
    values = {'mass': 1.0, 'length': 1.0, 'com_fraction': 0.75, 'radius': 0.02, 'damping': 0.0,
              'friction': 0.0, 'effort': 1.0, 'velocity': 1.0, 'lower': -1.0, 'upper': 1.0}
    values.update(changes)
    return urdf_gen.LinkSpec(**values)


def test_generator_refuses_arms_and_links_that_are_no_robot():
    """Zero or fractional link counts and links of zero mass or length are refused."""
    for n_links in (0, 2.5):
        with pytest.raises(ValueError, match='n_links must be a positive integer'):
            urdf_gen.planar_arm_spec(n_links)
    for field in ('mass', 'length'):
        with pytest.raises(ValueError, match='link mass, length and radius must be > 0'):
            urdf_gen.link_mass_properties(_link_spec(**{field: 0.0}))


def test_com_fraction_one_is_a_point_mass_at_the_tip():
    """com_fraction = 1 (allowed, 0.5 <= f <= 1) puts all the mass in the tip sphere."""
    r = 0.02
    com, tensor = urdf_gen.link_mass_properties(_link_spec(com_fraction=1.0, radius=r))
    sphere = 0.4 * 1.0 * (2 * r) ** 2  # solid sphere of radius 2 r about its centre
    assert com == pytest.approx(1.0)
    assert tensor[0, 0] == pytest.approx(sphere)
    assert tensor[2, 2] == pytest.approx(sphere)
