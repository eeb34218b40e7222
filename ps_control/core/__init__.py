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

"""The algorithms: numpy and scipy only, no ROS, no PyBullet."""

from ps_control.core.esaps import entropy_bound, esaps_update
from ps_control.core.gps import gps_update
from ps_control.core.kl_update import DualSettings, UpdateResult
from ps_control.core.linear_gaussian import (GaussianState, LinearGaussianDynamics,
                                             LinearGaussianPolicy, QuadraticReward)
from ps_control.core.saps import saps_update

__all__ = [
    'DualSettings', 'GaussianState', 'LinearGaussianDynamics', 'LinearGaussianPolicy',
    'QuadraticReward', 'UpdateResult', 'entropy_bound', 'esaps_update', 'gps_update',
    'saps_update',
]
