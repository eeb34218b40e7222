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

"""The figures: curve bands, log scales, trajectory panels and the errors they give."""

import matplotlib.axes
import numpy as np
from ps_control import plotting
import pytest


def _bands(monkeypatch):
    bands = []
    original = matplotlib.axes.Axes.fill_between

    def keep(self, x, low, high, **kwargs):
        bands.append((np.array(low, dtype=float), np.array(high, dtype=float)))
        return original(self, x, low, high, **kwargs)
    monkeypatch.setattr(matplotlib.axes.Axes, 'fill_between', keep)
    return bands


def test_curve_band_is_one_standard_deviation(tmp_path, monkeypatch):
    """The band spans mean -+ std over trials (std, not the variance)."""
    bands = _bands(monkeypatch)
    values = np.array([[1.0, 2.0, 0.0], [3.0, 6.0, 0.0]])
    plotting.plot_curves(str(tmp_path / 'c.png'), [0, 1, 2], {'a': values})
    mean, std = values.mean(axis=0), values.std(axis=0)
    np.testing.assert_allclose(bands[0][0], mean - std)
    np.testing.assert_allclose(bands[0][1], mean + std)


def test_log_scale_band_is_clipped_up_to_the_smallest_positive_value(tmp_path, monkeypatch):
    """On a log scale a lower band edge below zero is raised to the smallest positive value."""
    bands = _bands(monkeypatch)
    values = np.array([[0.1, 1.0], [0.1, 1.0], [10.0, 1.5]])
    plotting.plot_curves(str(tmp_path / 'c.png'), [0, 1], {'a': values}, log_y=True)
    mean, std = values.mean(axis=0), values.std(axis=0)
    assert mean[0] - std[0] < 0.0
    np.testing.assert_allclose(bands[0][0], np.maximum(mean - std, 0.1))


def test_curve_with_the_wrong_number_of_points_is_named(tmp_path):
    """A curve longer than x raises naming the curve and both lengths."""
    with pytest.raises(ValueError, match="curve 'a' has 3 points, x has 2"):
        plotting.plot_curves(str(tmp_path / 'c.png'), [0, 1], {'a': [[1.0, 2.0, 3.0]]})


def test_trajectory_plot_draws_mean_positions_against_time_and_the_goal_positions(
        tmp_path, monkeypatch):
    """Angles: mean positions over rollouts against t = dt k; the goal line at the goal angle."""
    lines, levels = [], []
    plot, axhline = matplotlib.axes.Axes.plot, matplotlib.axes.Axes.axhline

    def keep_plot(self, x, y, *args, **kwargs):
        lines.append((np.array(x, dtype=float), np.array(y, dtype=float)))
        return plot(self, x, y, *args, **kwargs)

    def keep_level(self, y, *args, **kwargs):
        levels.append(float(y))
        return axhline(self, y, *args, **kwargs)
    monkeypatch.setattr(matplotlib.axes.Axes, 'plot', keep_plot)
    monkeypatch.setattr(matplotlib.axes.Axes, 'axhline', keep_level)
    rng = np.random.default_rng(0)
    states = rng.standard_normal((3, 5, 2))  # one joint: position, velocity
    torques = rng.standard_normal((3, 4, 1))
    plotting.plot_trajectories(str(tmp_path / 't.png'), 0.1, ['q0'], {'run': (states, torques)},
                               goal=np.array([0.7, -3.0]))
    x, y = lines[0]
    np.testing.assert_allclose(x, 0.1 * np.arange(5))
    np.testing.assert_allclose(y, states[:, :, 0].mean(axis=0))
    assert 0.7 in levels and -3.0 not in levels


def _saved_axes(monkeypatch):
    """Return a list that gets the first axes of every figure saved (and still closed)."""
    axes = []
    save = plotting.save_figure

    def record(fig, path, dpi=120):
        axes.append(fig.axes[0])
        return save(fig, path, dpi)
    monkeypatch.setattr(plotting, 'save_figure', record)
    return axes


def test_a_saved_figure_is_closed_and_a_log_scale_is_logarithmic(tmp_path, monkeypatch):
    """Long runs draw many figures: none stays open; log_y sets the log scale, only it."""
    saved = _saved_axes(monkeypatch)
    open_before = plotting.plt.get_fignums()
    for log_y in (True, False):
        plotting.plot_curves(str(tmp_path / 'c.png'), [0, 1], {'a': [1.0, 2.0]}, log_y=log_y)
    assert [ax.get_yscale() for ax in saved] == ['log', 'linear']
    assert plotting.plt.get_fignums() == open_before


def test_a_single_point_curve_is_drawn_with_a_marker(tmp_path, monkeypatch):
    """One point is no line: it is marked, or the curve would be invisible."""
    saved = _saved_axes(monkeypatch)
    plotting.plot_curves(str(tmp_path / 'one.png'), [1], {'gps': [-3.0]})
    plotting.plot_curves(str(tmp_path / 'two.png'), [1, 2], {'gps': [-3.0, -2.0]})
    assert [ax.get_lines()[0].get_marker() for ax in saved] == ['o', 'None']


def test_a_reference_value_is_a_dashed_horizontal_line(tmp_path, monkeypatch):
    saved = _saved_axes(monkeypatch)
    plotting.plot_curves(str(tmp_path / 'c.png'), [0, 1], {'gps': [-3.0, -2.0]}, reference=-1.5,
                         reference_label='iLQR')
    curve, line = saved[0].get_lines()
    assert (line.get_label(), line.get_linestyle()) == ('iLQR', '--')
    assert list(line.get_ydata()) == [-1.5, -1.5]
