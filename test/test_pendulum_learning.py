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

import numpy as np
from ps_control.train import run_trial


def test_gps_learns_the_double_pendulum_swing_up(tmp_path):
    """
    One trial of the figure's GPS (trial 0, seed 0, 25 iterations of 25 rollouts; about 10 s).

    Guards the loop end to end: rollouts, the dynamics fit to the policy's actions, the update,
    the checkpoint. Measured: 88 % of the rollouts of iterations 21-25 swing up, none at first
    (fitted to the clipped torques instead: none in iterations 21-25).
    """
    record = run_trial('double_pendulum', 'gps', 0, 25, 25, 0, str(tmp_path), quiet=True)
    history = record['history']
    first, last = history[0], history[-1]
    success = [m['success_rate'] for m in history]
    assert success[0] == 0.0
    assert np.mean(success[-5:]) >= 0.6, np.round(success, 2)
    assert last['expected_reward'] > 0.05 * first['expected_reward']
    assert all(m['dual_converged'] for m in history)
    saved = tmp_path / 'double_pendulum' / 'gps'
    results = [json.loads(p.read_text()) for p in saved.rglob('*.json')]
    assert results and results[0]['history'] == history
    assert results[0]['final_policy'] == record['final_policy']
    # the final policy's sampled evaluation is the rollouts of the iteration after the last:
    # resuming the trial for one more iteration records the same numbers for them
    final = record['final_policy']
    longer = run_trial('double_pendulum', 'gps', 0, 26, 25, 0, str(tmp_path), quiet=True)
    assert longer['history'][:25] == history
    assert longer['history'][25]['expected_reward'] == final['sampled']['expected_reward']
    assert longer['history'][25]['success_rate'] == final['sampled']['success_rate']
    assert final['mean_action']['diverged'] == 0
    assert 0.0 <= final['mean_action']['success_rate'] <= 1.0
