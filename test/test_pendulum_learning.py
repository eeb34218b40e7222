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


"""The learning loop on the PyBullet double pendulum: the swing-up is learnt (thesis sec. 6.1)."""

import json

from ps_control.train import run_trial


def test_gps_learns_the_double_pendulum_swing_up(tmp_path):
    """
    One trial of the figure's GPS (trial 0, seed 0, 25 iterations of 25 rollouts; about 10 s).

    Guards the loop end to end: rollouts, the dynamics fit to the policy's actions (fitted to
    the clipped torques instead, this trial ends at success 0.08), the update, the checkpoint.
    Measured: reward -1.65e4, every rollout up at iteration 25 (-2.02e6 at iteration 1).
    """
    history = run_trial('double_pendulum', 'gps', 0, 25, 25, 0, str(tmp_path), quiet=True)
    first, last = history[0], history[-1]
    assert first['success_rate'] == 0.0
    assert last['success_rate'] >= 0.8, [round(m['success_rate'], 2) for m in history]
    assert last['expected_reward'] > 0.05 * first['expected_reward']
    assert all(m['dual_converged'] for m in history)
    saved = tmp_path / 'double_pendulum' / 'gps'
    results = [json.loads(p.read_text()) for p in saved.rglob('*.json')]
    assert results and results[0]['history'] == history
