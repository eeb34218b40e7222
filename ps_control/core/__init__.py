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

from ps_control.core.action_limits import limit_penalised_reward
from ps_control.core.amds import AcceleratedMirrorDescentSearch
from ps_control.core.dmp import DMP, DMPTrajectory
from ps_control.core.dynamics_fit import DynamicsFitter, fit_linear_gaussian, NIWPrior
from ps_control.core.ereps import EpisodicREPS
from ps_control.core.esaps import entropy_bound, esaps_update
from ps_control.core.gmm import GaussianMixture
from ps_control.core.gps import gps_update
from ps_control.core.ilqr import ilqr, ILQRResult
from ps_control.core.kl_update import DualSettings, UpdateResult
from ps_control.core.linear_gaussian import (GaussianState, LinearGaussianDynamics,
                                             LinearGaussianPolicy, QuadraticReward)
from ps_control.core.mds import MirrorDescentSearch
from ps_control.core.pi2 import PI2
from ps_control.core.saps import saps_update
from ps_control.core.separate_bounds import separate_bounds_update
from ps_control.core.tracking_policy import (dmp_tracking_policy, inertia_scaled_gains,
                                             tracking_policy)

__all__ = [
    'AcceleratedMirrorDescentSearch', 'DMP', 'DMPTrajectory', 'DualSettings', 'DynamicsFitter',
    'EpisodicREPS', 'GaussianMixture', 'GaussianState', 'ILQRResult', 'LinearGaussianDynamics',
    'LinearGaussianPolicy', 'MirrorDescentSearch', 'NIWPrior', 'PI2', 'QuadraticReward',
    'UpdateResult', 'dmp_tracking_policy', 'entropy_bound', 'esaps_update', 'fit_linear_gaussian',
    'gps_update', 'ilqr', 'inertia_scaled_gains', 'limit_penalised_reward', 'saps_update',
    'separate_bounds_update', 'tracking_policy',
]
