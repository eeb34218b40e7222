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

"""The trial pool's workers: Ctrl-C reaches the whole process group, the workers ignore it."""

import os
import signal

from ps_control.worker_pool import interruptible_pool


def _interrupt_myself():
    """Send this worker process the SIGINT of a Ctrl-C; return what became of its job."""
    try:
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(1000):  # the handler runs between bytecodes
            pass
    except KeyboardInterrupt:
        return 'interrupted'
    return 'ran on'


def test_a_worker_outlives_the_sigint_of_a_ctrl_c():
    """SIGINT in a worker does not interrupt its trial: only the main process decides."""
    with interruptible_pool(1) as pool:
        assert pool.submit(_interrupt_myself).result(timeout=60) == 'ran on'
