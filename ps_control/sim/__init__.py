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
PyBullet simulation: URDF loading, torque-limited stepping, batched rollouts. No ROS.

Modules: ``simulator`` (Simulator, Rollouts, DivergenceError), ``finite_difference``
(FiniteDifferenceDynamics: x' = f(x, u) and its Jacobians), ``policies`` (policy -> batched
action function), ``urdf`` (read joints and limits of a URDF, no PyBullet) and ``urdf_gen``
(generate the URDFs of urdf/). The names below are imported lazily, so ``import ps_control.sim``
does not need PyBullet.
"""

import importlib

_EXPORTS = {
    'DivergenceError': 'ps_control.sim.simulator',
    'FiniteDifferenceDynamics': 'ps_control.sim.finite_difference',
    'Rollouts': 'ps_control.sim.simulator',
    'Simulator': 'ps_control.sim.simulator',
    'make_step_fn': 'ps_control.sim.finite_difference',
    'read_urdf': 'ps_control.sim.urdf',
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError('module %r has no attribute %r' % (__name__, name))
