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
Validate the ``task:`` and ``learning:`` sections of a task file and turn them into Task fields.

Every error is a ValueError that names the field (``task.dt must be > 0``) and the file. Fields
of ``task:`` (see config/double_pendulum.yaml for a commented example):

=============================  ===============================================================
name, description              strings (description optional)
urdf                           URDF file name in urdf/ (or an absolute path)
horizon, substeps              integers >= 1
dt, divergence_bound           floats > 0
gravity                        float >= 0 (m / s^2, acting along -z)
torque_limits                  du floats, equal to the URDF effort limits
goal                           dx floats, positions within the joint limits
initial_state.mean / .std      dx floats each, mean within the joint limits, std >= 0
reward.state_weights           dx floats >= 0
reward.action_weights          du floats > 0
reward.time_weighting          'uniform' or 'sigmoid'
reward.sigmoid_center, _width  floats, center in [0, 1], width > 0 (fractions of the horizon)
reward.terminal_scale          float >= 0
success.tolerance              float > 0 (rad)
success.fraction               float in (0, 1]
=============================  ===============================================================
"""

import math
import os
import types

from ps_control.sim.urdf import read_urdf

TIME_WEIGHTINGS = ('uniform', 'sigmoid')
# Relative tolerance of task.torque_limits against the URDF effort limits.
LIMIT_RTOL = 1e-9
TASK_KEYS = ('name', 'description', 'urdf', 'horizon', 'dt', 'substeps', 'gravity',
             'torque_limits', 'divergence_bound', 'goal', 'initial_state', 'reward', 'success')
SECTION_KEYS = {
    'initial_state': ('mean', 'std'),
    'reward': ('state_weights', 'action_weights', 'time_weighting', 'sigmoid_center',
               'sigmoid_width', 'terminal_scale'),
    'success': ('tolerance', 'fraction'),
}


def _freeze(value):
    if isinstance(value, dict):
        return types.MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(value)
    return value


class _Fields:
    """Typed, named access to a nested parameter mapping."""

    def __init__(self, mapping, prefix, source):
        self.mapping = mapping
        self.prefix = prefix
        self.source = source

    def error(self, key, message):
        return ValueError('%s%s %s (in %s)' % (self.prefix, key, message, self.source))

    def section(self, key, known):
        value = self.raw(key)
        if not isinstance(value, dict):
            raise self.error(key, 'must be a mapping')
        fields = _Fields(value, '%s%s.' % (self.prefix, key), self.source)
        fields.reject_unknown(known)
        return fields

    def reject_unknown(self, known):
        for key in self.mapping:
            if key not in known:
                raise self.error(key, 'is not a known field (known: %s)' % ', '.join(known))

    def raw(self, key):
        if key not in self.mapping:
            raise self.error(key, 'is missing')
        return self.mapping[key]

    def string(self, key, choices=None):
        value = self.raw(key)
        if not isinstance(value, str) or not value:
            raise self.error(key, 'must be a non-empty string, got %r' % (value,))
        if choices is not None and value not in choices:
            raise self.error(key, 'must be one of %s, got %r' % (', '.join(choices), value))
        return value

    def integer(self, key, minimum):
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, 'must be an integer, got %r' % (value,))
        if value < minimum:
            raise self.error(key, 'must be >= %d, got %d' % (minimum, value))
        return value

    def number(self, key, low=None, high=None, low_open=False):
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, 'must be a number, got %r' % (value,))
        value = float(value)
        if not math.isfinite(value):
            raise self.error(key, 'must be finite, got %r' % (value,))
        if low is not None and (value <= low if low_open else value < low):
            relation = '>' if low_open else '>='
            raise self.error(key, 'must be %s %g, got %g' % (relation, low, value))
        if high is not None and value > high:
            raise self.error(key, 'must be <= %g, got %g' % (high, value))
        return value

    def vector(self, key, length, low=None, low_open=False):
        value = self.raw(key)
        if not isinstance(value, list):
            raise self.error(key, 'must be a list of %d numbers, got %r' % (length, value))
        if len(value) != length:
            raise self.error(key, 'must have %d entries, got %d' % (length, len(value)))
        out = []
        for i, item in enumerate(value):
            name = '%s[%d]' % (key, i)
            if isinstance(item, bool) or not isinstance(item, (int, float)):
                raise self.error(name, 'must be a number, got %r' % (item,))
            if not math.isfinite(item):
                raise self.error(name, 'must be finite, got %r' % (item,))
            if low is not None and (item <= low if low_open else item < low):
                raise self.error(name, 'must be %s %g, got %g'
                                 % ('>' if low_open else '>=', low, item))
            out.append(float(item))
        return tuple(out)


def _urdf_path(name, urdf_dir, error):
    path = name if os.path.isabs(name) else os.path.join(urdf_dir, name)
    if not os.path.isfile(path):
        raise error('names a missing file: %s' % path)
    return os.path.abspath(path)


def _check_within_limits(fields, key, positions, joints):
    for i, (q, joint) in enumerate(zip(positions, joints)):
        if not joint.lower <= q <= joint.upper:
            raise fields.error('%s[%d]' % (key, i), '= %g is outside the limits [%g, %g] of %s'
                               % (q, joint.lower, joint.upper, joint.name))


def _description(task):
    value = task.mapping.get('description', '')
    if not isinstance(value, str):
        raise task.error('description', 'must be a string, got %r' % (value,))
    return value


def task_fields(parameters, source, urdf_dir):
    """
    Return the keyword arguments of Task from a file's ros__parameters mapping.

    Raises ValueError naming the first missing or invalid field.
    """
    top = _Fields(parameters, '', source)
    task = top.section('task', TASK_KEYS)
    learning = top.raw('learning')
    if not isinstance(learning, dict):
        raise top.error('learning', 'must be a mapping')
    urdf_path = _urdf_path(task.string('urdf'), urdf_dir,
                           lambda message: task.error('urdf', message))
    try:
        model = read_urdf(urdf_path)
    except ValueError as error:
        raise task.error('urdf', 'is not usable: %s' % error) from None
    joints = model.joints
    du, dx = len(joints), 2 * len(joints)

    limits = task.vector('torque_limits', du, low=0.0, low_open=True)
    for i, (limit, joint) in enumerate(zip(limits, joints)):
        if not math.isclose(limit, joint.effort, rel_tol=LIMIT_RTOL):
            raise task.error('torque_limits[%d]' % i, '= %r differs from the effort limit %r of '
                             '%s in %s' % (limit, joint.effort, joint.name, urdf_path))
    goal = task.vector('goal', dx)
    _check_within_limits(task, 'goal', goal[:du], joints)

    initial = task.section('initial_state', SECTION_KEYS['initial_state'])
    mean = initial.vector('mean', dx)
    _check_within_limits(initial, 'mean', mean[:du], joints)
    std = initial.vector('std', dx, low=0.0)

    reward = task.section('reward', SECTION_KEYS['reward'])
    success = task.section('success', SECTION_KEYS['success'])
    return {
        'name': task.string('name'),
        'description': _description(task),
        'source': os.path.abspath(source),
        'urdf_path': urdf_path,
        'joint_names': model.joint_names,
        'joint_lower': tuple(j.lower for j in joints),
        'joint_upper': tuple(j.upper for j in joints),
        'horizon': task.integer('horizon', 1),
        'dt': task.number('dt', low=0.0, low_open=True),
        'substeps': task.integer('substeps', 1),
        'gravity': task.number('gravity', low=0.0),
        'torque_limits': limits,
        'divergence_bound': task.number('divergence_bound', low=0.0, low_open=True),
        'goal': goal,
        'initial_mean': mean,
        'initial_std': std,
        'state_weights': reward.vector('state_weights', dx, low=0.0),
        'action_weights': reward.vector('action_weights', du, low=0.0, low_open=True),
        'time_weighting': reward.string('time_weighting', TIME_WEIGHTINGS),
        'sigmoid_center': reward.number('sigmoid_center', low=0.0, high=1.0),
        'sigmoid_width': reward.number('sigmoid_width', low=0.0, low_open=True),
        'terminal_scale': reward.number('terminal_scale', low=0.0),
        'success_tolerance': success.number('tolerance', low=0.0, low_open=True),
        'success_fraction': success.number('fraction', low=0.0, high=1.0, low_open=True),
        'learning': _freeze(learning),
    }
