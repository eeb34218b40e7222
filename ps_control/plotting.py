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
Figures shared by the experiments: learning curves over trials, saved as PNG (Agg backend).

:func:`plot_curves` draws, for several methods, the mean over trials with a +- one standard
deviation band (the thin lines of the paper's Fig. 3-5 and the shaded bands of the thesis'
Fig. 6.x), optionally on a log scale and with a horizontal reference line;
:func:`plot_trajectories` draws what rollouts of a policy did, joint by joint.
"""

import os

import matplotlib

matplotlib.use('Agg')

import matplotlib.pyplot as plt  # noqa: E402 (the backend must be chosen first)
import numpy as np  # noqa: E402
from ps_control.output_paths import figure_path  # noqa: E402

COLOURS = ('tab:red', 'tab:green', 'tab:orange', 'tab:blue', 'tab:purple', 'tab:brown',
           'tab:pink', 'tab:gray', 'tab:olive', 'tab:cyan')


def new_figure(width=6.4, height=4.4):
    """Return a new (figure, axes) pair."""
    return plt.subplots(figsize=(width, height))


def save_figure(fig, path, dpi=120):
    """
    Save ``fig`` at ``path`` (creating its directory), close it and return the file written.

    PNG unless ``path`` has another suffix matplotlib knows (.pdf, .svg, ...); without a suffix
    '.png' is appended (``output_paths.figure_path``), as matplotlib does.
    """
    path = figure_path(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def mean_std(values):
    """Return the mean and standard deviation over trials (axis 0) of values (trials, n)."""
    values = np.atleast_2d(np.asarray(values, dtype=float))
    return values.mean(axis=0), values.std(axis=0)


def plot_curves(path, x, curves, xlabel='', ylabel='', title=None, log_y=False,
                reference=None, reference_label=None, band='std'):
    """
    Plot mean +- std over trials for several methods and save a PNG.

    x: (n,) abscissae; curves: mapping from method label to values (trials, n) (one trial may be
    given as (n,)); band: 'std' for mean +- one standard deviation, None for the mean only. On a
    log scale the lower band edge is clipped to the smallest positive value so it stays visible.
    reference: optional y value drawn as a dashed horizontal line. Returns the file written
    (``save_figure``).
    """
    x = np.asarray(x, dtype=float)
    fig, ax = new_figure()
    for index, (label, values) in enumerate(curves.items()):
        mean, std = mean_std(values)
        if mean.shape != x.shape:
            raise ValueError('curve %r has %d points, x has %d' % (label, mean.size, x.size))
        colour = COLOURS[index % len(COLOURS)]
        # a single point is no line: mark it, or the curve is invisible
        ax.plot(x, mean, color=colour, label=label, linewidth=1.6,
                marker='o' if x.size == 1 else None)
        if band == 'std':
            low, high = mean - std, mean + std
            if log_y:
                positive = np.asarray(values, dtype=float)
                floor = positive[positive > 0].min() if np.any(positive > 0) else 1e-300
                low = np.maximum(low, floor)
            ax.fill_between(x, low, high, color=colour, alpha=0.2, linewidth=0)
    if reference is not None:
        ax.axhline(reference, color='k', linestyle='--', linewidth=1.0, label=reference_label)
    if log_y:
        ax.set_yscale('log')
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, which='both', alpha=0.3)
    ax.legend()
    return save_figure(fig, path)


def plot_trajectories(path, dt, joint_names, runs, goal=None, joint_limits=None,
                      torque_limits=None, title=None, max_joints=12, duration=None):
    """
    Plot joint angles and applied torques over time, one row per joint, and save a PNG.

    runs: mapping from a label to (states (N, T+1, 2 du), torques (N, T, du)) of N rollouts
    (positions first in the state); each is drawn as its mean with a band from its lowest to
    highest value at each time. goal (2 du,) is drawn dotted on the angles, joint_limits (lower
    (du,), upper (du,)) and torque_limits (du,) dashed where finite. Rows beyond ``max_joints``
    are left out (said in the title). duration (s) fixes the time axis (it also holds when
    ``runs`` is empty). Returns the file written (``save_figure``).
    """
    du = len(joint_names)
    rows = min(du, max_joints)
    fig, axes = plt.subplots(rows, 2, figsize=(9.0, 1.9 * rows + 0.8), sharex=True,
                             squeeze=False)
    for index, (label, (states, torques)) in enumerate(runs.items()):
        colour = COLOURS[index % len(COLOURS)]
        states, torques = np.asarray(states, dtype=float), np.asarray(torques, dtype=float)
        for column, (values, times) in enumerate((
                (states[..., :du], dt * np.arange(states.shape[1])),
                (torques, dt * np.arange(torques.shape[1])))):
            for j in range(rows):
                ax = axes[j, column]
                ax.plot(times, values[:, :, j].mean(axis=0), color=colour, linewidth=1.4,
                        label=label if j == 0 else None)
                ax.fill_between(times, values[:, :, j].min(axis=0), values[:, :, j].max(axis=0),
                                color=colour, alpha=0.15, linewidth=0)
    for j in range(rows):
        angle, torque = axes[j]
        angle.set_ylabel('%s (rad)' % joint_names[j])
        torque.set_ylabel('torque (N m)')
        if goal is not None:
            angle.axhline(goal[j], color='k', linestyle=':', linewidth=1.0,
                          label='goal' if j == 0 else None)
        bounds = [] if joint_limits is None else [joint_limits[0][j], joint_limits[1][j]]
        for bound in bounds:
            if np.isfinite(bound):
                angle.axhline(bound, color='gray', linestyle='--', linewidth=0.8)
        if torque_limits is not None and np.isfinite(torque_limits[j]):
            for bound in (-torque_limits[j], torque_limits[j]):
                torque.axhline(bound, color='gray', linestyle='--', linewidth=0.8)
        for ax in (angle, torque):
            ax.grid(True, alpha=0.3)
            if duration is not None:
                ax.set_xlim(0.0, duration)
    axes[-1, 0].set_xlabel('time (s)')
    axes[-1, 1].set_xlabel('time (s)')
    if axes[0, 0].get_legend_handles_labels()[0]:
        axes[0, 0].legend(fontsize='small')
    heading = title or ''
    if rows < du:
        heading += '%s(first %d of %d joints)' % (' ' if heading else '', rows, du)
    if heading:
        fig.suptitle(heading)
    return save_figure(fig, path)
