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
Worker processes for the trials of ``ps-control train`` and ``ps-control mds``, stopped by Ctrl-C.

Ctrl-C reaches the whole process group. The workers ignore it, and the main process, which gets
KeyboardInterrupt, cancels the queued trials and ends the running ones: without that, the
workers printed tracebacks, and a second SIGINT (``timeout`` forwards one) left the command
hanging with its workers alive.
"""

from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
import signal


@contextmanager
def interruptible_pool(max_workers):
    """
    Yield a ProcessPoolExecutor whose workers ignore SIGINT; on Ctrl-C stop them, then re-raise.

    Not ``with ProcessPoolExecutor``: leaving that on KeyboardInterrupt waits for the running
    trials to finish. A second Ctrl-C does not stop the clean-up.
    """
    pool = ProcessPoolExecutor(max_workers=max_workers, initializer=_ignore_interrupts)
    try:
        yield pool
    except KeyboardInterrupt:  # only this process gets it: the workers ignore SIGINT
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            _stop_workers(pool)
        finally:
            signal.signal(signal.SIGINT, previous)
        raise
    finally:
        pool.shutdown()  # at once after _stop_workers: nothing is left to wait for


def _ignore_interrupts():
    """Worker initializer: Ctrl-C reaches the whole process group; the main process handles it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _stop_workers(pool):
    """Cancel the queued jobs, end the running ones (what they write, they write atomically)."""
    processes = list((getattr(pool, '_processes', None) or {}).values())  # no public API < 3.14
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=10)
