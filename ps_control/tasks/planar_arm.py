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
The rigid-body model of a planar serial arm read from its URDF: kinematics and inertia.

The arms of urdf/planar_arm_<N>.urdf (ps_control/sim/urdf_gen.py) are chains of revolute joints
about z, each joint at the end of the previous link along its x axis, moving in the horizontal
plane. For such a chain the joint-space inertia M(q) has a closed form, computed here in numpy
(no PyBullet, so a learner on another machine or on hardware can use it):

    M(q) = sum_j m_j Jv_j(q)' Jv_j(q) + I_zz,j Jw_j' Jw_j,

with Jv_j the Jacobian of the centre of mass of link j (column i: z x (c_j - p_i) for i <= j)
and Jw_j = [1 .. 1 0 .. 0] (the link turns with every joint up to its own).

The inverse dynamics tau = M(q) qdd + C(q, qd) qd (no gravity in the horizontal plane, no joint
friction) is the recursive Newton-Euler algorithm (Luh, Walker and Paul 1980; Featherstone,
Rigid Body Dynamics Algorithms, 2008, sec. 5.3) written for a planar chain: link i turns at the
absolute rate w_i = qd_1 + .. + qd_i, so every acceleration follows from the unit vectors
u_i = (cos phi_i, sin phi_i), phi_i = q_1 + .. + q_i, as d2u_i/dt2 = alpha_i n_i - w_i^2 u_i.

:meth:`PlanarArm.from_urdf` refuses any other robot with a ValueError naming what differs.
"""

from dataclasses import dataclass
import os
import xml.etree.ElementTree as ElementTree

import numpy as np
from ps_control.tasks.via_point import planar_arm_points

_TOLERANCE = 1e-9


def _vector(element, attribute, default):
    text = element.get(attribute) if element is not None else None
    if text is None:
        return np.array(default, dtype=float)
    return np.array([float(v) for v in text.split()], dtype=float)


@dataclass(frozen=True)
class PlanarArm:
    """
    A planar serial arm: joint offsets, link masses, centre-of-mass distances and inertias.

    offsets (n-1,): distance of joint i+1 from joint i along link i; masses, com (n,): mass of
    link i and distance of its centre of mass from joint i (on the link's axis); izz (n,): its
    inertia about the vertical axis through the centre of mass; name: the URDF's robot name.
    """

    name: str
    offsets: np.ndarray
    masses: np.ndarray
    com: np.ndarray
    izz: np.ndarray

    @property
    def n_joints(self):
        return self.masses.size

    @classmethod
    def from_urdf(cls, path):
        """
        Return the PlanarArm of a URDF, or raise ValueError if it is not a planar serial arm.

        Checked: every actuated joint is revolute about +z with rpy 0, the joints form one chain
        in document order, each joint sits on the previous link's x axis, and every link's centre
        of mass lies on its own x axis.
        """
        path = os.fspath(path)
        try:
            root = ElementTree.parse(path).getroot()
        except (OSError, ElementTree.ParseError) as error:
            raise ValueError('cannot read URDF %s: %s' % (path, error)) from None
        where = 'URDF %s (robot %r) is not a planar serial arm' % (path, root.get('name', ''))
        links = {link.get('name'): link for link in root.findall('link')}
        joints = [j for j in root.findall('joint') if j.get('type') != 'fixed']
        if not joints:
            raise ValueError('%s: it has no joint' % where)
        offsets, masses, com, izz = [], [], [], []
        parent = None
        for index, joint in enumerate(joints):
            name = joint.get('name')
            if joint.get('type') not in ('revolute', 'continuous'):
                raise ValueError('%s: joint %r is %s, not revolute' % (where, name,
                                                                       joint.get('type')))
            axis = _vector(joint.find('axis'), 'xyz', (1.0, 0.0, 0.0))
            if not np.allclose(axis, (0.0, 0.0, 1.0), atol=_TOLERANCE):
                raise ValueError('%s: joint %r turns about %s, not about +z'
                                 % (where, name, axis.tolist()))
            origin = joint.find('origin')
            xyz = _vector(origin, 'xyz', (0.0, 0.0, 0.0))
            rpy = _vector(origin, 'rpy', (0.0, 0.0, 0.0))
            if np.any(np.abs(rpy) > _TOLERANCE) or np.any(np.abs(xyz[1:]) > _TOLERANCE):
                raise ValueError('%s: joint %r has origin xyz %s rpy %s, not on the x axis of '
                                 'its parent link' % (where, name, xyz.tolist(), rpy.tolist()))
            if index == 0:
                if abs(xyz[0]) > _TOLERANCE:
                    raise ValueError('%s: the first joint %r is not at the base origin'
                                     % (where, name))
            else:
                if joint.find('parent').get('link') != parent:
                    raise ValueError('%s: joint %r does not follow link %r' % (where, name,
                                                                               parent))
                offsets.append(xyz[0])
            parent = joint.find('child').get('link')
            inertial = links[parent].find('inertial') if parent in links else None
            if inertial is None or inertial.find('mass') is None:
                raise ValueError('%s: link %r has no inertial mass' % (where, parent))
            c = _vector(inertial.find('origin'), 'xyz', (0.0, 0.0, 0.0))
            if np.any(np.abs(c[1:]) > _TOLERANCE):
                raise ValueError('%s: the centre of mass of link %r is off its x axis'
                                 % (where, parent))
            inertia = inertial.find('inertia')
            masses.append(float(inertial.find('mass').get('value')))
            com.append(c[0])
            izz.append(float(inertia.get('izz', 0.0)) if inertia is not None else 0.0)
        return cls(root.get('name', ''), np.array(offsets), np.array(masses), np.array(com),
                   np.array(izz))

    def _frames(self, q):
        """Return joint positions (..., n, 2) and link directions (..., n, 2) at q (..., n)."""
        q = np.asarray(q, dtype=float)
        if q.shape[-1:] != (self.n_joints,):
            raise ValueError('q has shape %s, the arm has %d joints' % (q.shape, self.n_joints))
        angles = np.cumsum(q, axis=-1)
        direction = np.stack([np.cos(angles), np.sin(angles)], axis=-1)
        return planar_arm_points(q[..., :-1], self.offsets), direction

    def joint_positions(self, q):
        """Return the positions (..., n, 2) of the joints in the plane for q (..., n)."""
        return self._frames(q)[0]

    def centres_of_mass(self, q):
        """Return the centres of mass (..., n, 2) of the links for q (..., n)."""
        joints, direction = self._frames(q)
        return joints + self.com[:, None] * direction

    def mass_matrix(self, q):
        """Return the joint-space inertia M(q) (..., n, n) for q (..., n) (module docstring)."""
        joints, direction = self._frames(q)
        centres = joints + self.com[:, None] * direction
        arm = centres[..., :, None, :] - joints[..., None, :, :]  # (..., link j, joint i, 2)
        chain = np.tril(np.ones((self.n_joints, self.n_joints)))  # link j moves with joint i <= j
        jx, jy = -arm[..., 1] * chain, arm[..., 0] * chain  # z x (c_j - p_i)
        return (np.einsum('j,...ji,...jk->...ik', self.masses, jx, jx)
                + np.einsum('j,...ji,...jk->...ik', self.masses, jy, jy)
                + np.einsum('j,ji,jk->ik', self.izz, chain, chain))

    def inverse_dynamics(self, q, qd, qdd):
        """
        Return the joint torques tau (..., n) that give the accelerations qdd at (q, qd).

        tau = M(q) qdd + C(q, qd) qd by the recursive Newton-Euler algorithm (module docstring):
        forward, the acceleration of every joint and centre of mass in the plane; backward, the
        force F_j = m_j a_j each link needs and the moment about joint i of the links beyond it,
        tau_i = sum_{j >= i} (I_zz,j alpha_j + (c_j - p_i) x F_j). q, qd, qdd broadcast.
        """
        q, qd, qdd = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (q, qd, qdd)))
        if q.shape[-1:] != (self.n_joints,):
            raise ValueError('q has shape %s, the arm has %d joints' % (q.shape, self.n_joints))
        angles = np.cumsum(q, axis=-1)
        rate, alpha = np.cumsum(qd, axis=-1), np.cumsum(qdd, axis=-1)
        along = np.stack([np.cos(angles), np.sin(angles)], axis=-1)
        normal = np.stack([-along[..., 1], along[..., 0]], axis=-1)
        turn = alpha[..., None] * normal - rate[..., None] ** 2 * along  # d2u_i / dt2
        lengths = np.append(self.offsets, 0.0)  # the last link carries nothing beyond it
        steps = lengths[:, None] * turn
        joints = np.cumsum(steps, axis=-2) - steps  # acceleration of joint i
        force = self.masses[:, None] * (joints + self.com[:, None] * turn)
        beyond = np.flip(np.cumsum(np.flip(force, axis=-2), axis=-2), axis=-2) - force

        def cross(a, b):
            return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]
        # the moment of link i's own force and of the force it passes on, about joint i; the
        # links beyond contribute their moments about joint i + 1 (the cumulative sum)
        local = (self.izz * alpha + cross(self.com[:, None] * along, force)
                 + cross(lengths[:, None] * along, beyond))
        return np.flip(np.cumsum(np.flip(local, axis=-1), axis=-1), axis=-1)

    def inverse_dynamics_jacobians(self, q, qd, qdd, step=1e-6):
        """
        Return (d tau / d q, d tau / d qd), each (..., n, n), of ``inverse_dynamics`` at qdd fixed.

        Entry [..., i, k] is d tau_i / d q_k (d qd_k). Central differences with ``step`` (rad,
        rad / s): their truncation error, O(step^2), is below their round-off error, about
        1e-16 / step = 1e-10 relative at the default step. A tracking controller linearised about
        its reference uses them: the first-order change of the inverse-dynamics feed-forward
        with the state (ps_control.core.tracking_policy).
        """
        q, qd, qdd = (np.asarray(v, dtype=float)[..., None, :] for v in
                      np.broadcast_arrays(q, qd, qdd))
        shift = step * np.eye(self.n_joints)  # row k: a step in coordinate k
        by_q = (self.inverse_dynamics(q + shift, qd, qdd)
                - self.inverse_dynamics(q - shift, qd, qdd))
        by_qd = (self.inverse_dynamics(q, qd + shift, qdd)
                 - self.inverse_dynamics(q, qd - shift, qdd))
        return (np.swapaxes(by_q, -1, -2) / (2.0 * step),
                np.swapaxes(by_qd, -1, -2) / (2.0 * step))
