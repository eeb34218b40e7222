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
The benchmarks under bench/ still run and report what they measure, at their smallest settings.

The figures in the README and the issue notes come from these commands, so a change that breaks
one must fail here rather than at the next measurement. The timings themselves are not checked
(machines are noisy); what is checked is that every case gets its row of finite figures, and,
where a benchmark compares two implementations of one computation, that they agree.
"""

import math
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NUMBER = r'[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?'


def run_bench(script, *arguments):
    """Run bench/``script`` with ``arguments`` from the checkout; return its standard output."""
    result = subprocess.run([sys.executable, os.path.join(ROOT, 'bench', script)]
                            + list(arguments), cwd=ROOT, capture_output=True, text=True,
                            timeout=240, env=dict(os.environ, PYTHONPATH=ROOT))
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def rows(output, first_word):
    """Return the whitespace-split lines of ``output`` that start with ``first_word``."""
    return [line.split() for line in output.splitlines() if line.startswith(first_word)]


def finite_positive(text):
    value = float(text.rstrip('x'))
    return math.isfinite(value) and value > 0


def test_bench_core_times_every_algorithm_and_each_meets_its_bounds():
    output = run_bench('bench_core.py', '--sizes', '10,2,1', '--repeats', '1')
    table = {row[3]: row[4:] for row in rows(output, '(10, 2, 1)')}
    assert sorted(table) == ['esaps', 'gps', 'saps'], output
    for milliseconds, dual_iterations, converged, ratio in table.values():
        assert finite_positive(milliseconds) and finite_positive(dual_iterations), output
        assert converged == 'True', output
    assert float(table['gps'][3]) == 1.0


def test_bench_lqg_pass_times_each_pass_and_matches_the_original_implementation():
    output = run_bench('bench_lqg_pass.py', '--sizes', '10,2,1', '--repeats', '1',
                       '--min-time', '0.01')
    table = {row[3]: row[4:] for row in rows(output, '(10, 2, 1)')}
    assert sorted(table) == ['backward', 'forward', 'soft-max'], output
    for baseline_ms, milliseconds, speed_up, relative_difference in table.values():
        assert all(finite_positive(x) for x in (baseline_ms, milliseconds, speed_up)), output
        assert float(relative_difference) < 1e-10, output


def test_bench_dynamics_fit_reports_the_fit_times_and_held_out_errors():
    output = run_bench('bench_dynamics_fit.py', '--sizes', '10,5,2,1', '--systems', 'linear',
                       '--iterations', '1', '--repeats', '1')
    match = re.search(r'fit with prior +(%s) ms, without +(%s) ms .* held-out error with prior '
                      r'(%s), without (%s)' % ((NUMBER,) * 4), output)
    assert match, output
    assert all(finite_positive(x) for x in match.groups()), output


def test_bench_sim_reports_steps_per_second_of_each_mode():
    output = run_bench('bench_sim.py', '--tasks', 'double_pendulum', '--n', '2', '--repeats',
                       '1')
    table = {' '.join(row[1:-2]): row[-2:] for row in rows(output, '     2  ')}
    assert sorted(table) == ['batched, world size 8', 'batched, world size all',
                             'sequential (1 copy)'], output
    assert all(finite_positive(rate) and finite_positive(ratio)
               for rate, ratio in table.values()), output
    assert table['sequential (1 copy)'][1] == '1.00x'


def test_bench_mds_reports_updates_per_second_of_every_learner_on_every_task():
    output = run_bench('bench_mds.py', '--quick')
    header = rows(output, 'task')
    assert header == [['task', 'G-AMDS', 'G-MDS', 'PI2', 'eREPS']], output
    table = rows(output, 'point') + rows(output, 'arm 10-DOF') + rows(output, 'arm 50-DOF')
    assert len(table) == 3, output
    assert all(len(row[-4:]) == 4 and all(finite_positive(x) for x in row[-4:])
               for row in table), output


def test_bench_ilqr_reaches_one_optimum_with_every_kind_of_jacobian():
    output = run_bench('bench_ilqr.py', '--repeats', '1')
    table = [line for line in output.splitlines()
             if line.startswith(('analytic', 'finite differences'))]
    assert len(table) == 4, output
    rewards = [float(line.split()[-4]) for line in table]
    assert max(rewards) - min(rewards) < 1e-3 * abs(rewards[0]), output


def test_bench_learning_times_an_iteration_of_the_loop():
    output = run_bench('bench_learning.py', '--tasks', 'double_pendulum', '--algorithms', 'gps',
                       '--iterations', '1')
    table = rows(output, 'double_pendulum')
    assert len(table) == 1 and table[0][1] == 'gps', output
    assert all(finite_positive(x) for x in table[0][2:4]), output


@pytest.mark.timeout(120)
def test_bench_nodes_reports_jitter_latency_and_lockstep_throughput():
    output = run_bench('bench_nodes.py', '--seconds', '0.3', '--steps', '10',
                       '--realtime-priority', '0', '--skip-processes')
    jitter = re.findall(r'controller jitter at +(\d+) Hz: p50 +(%s) ms .*\(n=(\d+)\)' % NUMBER,
                        output)
    assert [rate for rate, _, _ in jitter] == ['100', '500', '1000'], output
    assert all(int(n) > 0 for _, _, n in jitter), output
    latency = re.search(r'state-to-command latency .*\(n=(\d+)\)', output)
    assert latency and int(latency.group(1)) == 10, output
    throughput = re.search(r'lockstep throughput, one process: +(%s) steps/s' % NUMBER, output)
    assert throughput and finite_positive(throughput.group(1)), output
