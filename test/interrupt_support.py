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
Commands stopped by Ctrl-C in tests (a helper module, not a test file).

A ``Command`` runs in a process group of its own with SIGINT handled as in a shell (a test
run's background processes may ignore it), so ``interrupt`` is what Ctrl-C in a terminal does:
SIGINT to every process of the group.
"""

import os
import signal
import subprocess
import sys
import time


class Command:
    """A ``python -m ...`` command whose stdout is read line by line."""

    def __init__(self, *arguments, cwd=None):
        self.process = subprocess.Popen(
            [sys.executable, '-m'] + list(arguments), cwd=cwd, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        self.lines = []

    def wait_for(self, predicate, timeout=120.0):
        """Read stdout until predicate(lines so far) holds; return whether it did in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not predicate(self.lines):
            line = self.process.stdout.readline()
            if not line:
                break
            self.lines.append(line)
        return bool(predicate(self.lines))

    def group(self):
        """Return the ids of the command's processes, its workers included."""
        return subprocess.run(['pgrep', '-g', str(self.process.pid)], capture_output=True,
                              text=True).stdout.split()

    def interrupt(self, times=2, timeout=30.0):
        """
        Send Ctrl-C ``times`` times at once (``timeout`` forwards a second); return status, stderr.

        Raises subprocess.TimeoutExpired if the command does not end within ``timeout``.
        """
        for _ in range(times):
            os.killpg(self.process.pid, signal.SIGINT)
        status = self.process.wait(timeout=timeout)
        return status, self.process.stderr.read()

    def close(self):
        """Kill whatever is left of the group and close the pipes."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        subprocess.run(['pkill', '-9', '-g', str(self.process.pid)])
        self.process.wait()
        self.process.stdout.close()
        self.process.stderr.close()


def ended(pids):
    """Tell whether every process of ``pids`` is gone or a zombie."""
    time.sleep(0.5)
    return all(not os.path.exists('/proc/%s' % pid)
               or open('/proc/%s/stat' % pid).read().split()[2] == 'Z' for pid in pids)
