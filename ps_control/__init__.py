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

"""ps_control: model-based policy search (GPS, SAPS, ESAPS, G-AMDS) for ROS 2."""

import os

# The linear algebra here is many small dense problems (4x4 to 64x64 blocks, looped over time
# steps). Multi-threaded OpenBLAS gains nothing on them and, when processes share the cores
# (parallel trials, the nodes), its spinning threads slow each small LAPACK call 5 to 1000
# times (measured: a 16x16 getrs 3 us single-threaded, 11 us with 2 threads idle machine,
# 3.3 ms under load). One BLAS thread per process, unless the user chose otherwise; this
# only takes effect when ps_control is imported before numpy.
for _variable in ('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
    os.environ.setdefault(_variable, '1')

__version__ = '0.1.0'
