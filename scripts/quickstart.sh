#!/usr/bin/env bash
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

# README command (a): set up .venv (Python >= 3.10, rclpy + Fast DDS from the ros-* wheels,
# pybullet, numpy, scipy, transforms3d, matplotlib; pinned), then run the quad pendulum
# simulator, controller and learner nodes in one process over real DDS: they learn a swing-up,
# print progress and write quad_pendulum_learning_curve.png. Extra arguments go to
# `ps-control run`.
#
#   bash scripts/quickstart.sh [--iterations N] [--samples N] [...]

set -euo pipefail
# shellcheck source=scripts/setup_venv.sh
source "$(dirname "${BASH_SOURCE[0]}")/setup_venv.sh"
ps_control_setup_venv ros

# This run's DDS traffic stays on this machine unless the caller chose otherwise.
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
export MPLBACKEND="${MPLBACKEND:-Agg}"

exec "$PS_CONTROL_VENV/bin/ps-control" run quad_pendulum \
  --plot quad_pendulum_learning_curve.png "$@"
