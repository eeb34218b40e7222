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
Argument types for the command lines (argparse ``type=``): numbers checked as they are parsed.

A bad value gives argparse's usage error, exit status 2, e.g.
``error: argument --iterations: must be >= 1, got 0``.
"""

import argparse
import math


def int_at_least(low):
    """Return an argparse type that accepts an integer >= ``low``."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError('must be an integer, got %r' % text) from None
        if value < low:
            raise argparse.ArgumentTypeError('must be >= %d, got %d' % (low, value))
        return value
    return parse


def positive_float(text):
    """Argparse type: a finite float > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError('must be a number, got %r' % text) from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError('must be a finite number > 0, got %r' % text)
    return value
