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
``ps-control evaluate``: run the policy of a learner checkpoint on the simulated robot.

Any learner's checkpoint will do: a trial of ``ps-control train``
(<out>/<task>/<algorithm>/trial_<i>.npz), ``ps-control run --checkpoint``, the
learner node's ``checkpoint`` parameter, ``python -m ps_control.mds_learning --checkpoint``. Its
policy (``policy`` of the restored learner: the time-varying linear-Gaussian policy of GPS,
SAPS, ESAPS and the separate bounds, or the tracking policy of the mirror-descent search mean)
runs from --rollouts initial states of the task, once with sampled actions and once with the
mean action (``ps_control.learning.evaluate_policy``), and the command prints the reward,
success share, saturation and diverged rollouts of each. With --gui the rollouts run side by
side in the PyBullet GUI, paced at real time, for a person to watch (a display is needed);
--plot draws the joint angles and applied torques of the rollouts over time, --json writes the
figures (for scripts, e.g. a sweep over model errors). --on runs the
policy on another robot model (another task file with the same joints and dt, e.g. with heavier
links in its URDF, or weaker motors) from that task's initial states: the torques that robot
applied, within its effort limits, are scored by the checkpoint's task (its reward and success
test). It shows how much model errors cost, before trying the policy on the real robot.

    ps-control evaluate quad_pendulum results/quad_pendulum/esaps/trial_00.npz
    ps-control evaluate double_pendulum dp.ckpt --rollouts 5 --gui
    ps-control evaluate double_pendulum dp.ckpt --plot dp_rollouts.png
"""

import argparse
import sys

import numpy as np

from ps_control import plotting
from ps_control.atomic_file import write_json_atomically
from ps_control.cli_types import int_at_least
from ps_control.learning import evaluate_policy, load_search
from ps_control.output_paths import check_figure_path, check_output_file
from ps_control.tasks import load_task

EVALUATION_STREAM = 2  # initial states and noise from the generator of (seed, 2)


def parse_args(argv):
    """Parse the command line of ``ps-control evaluate``."""
    parser = argparse.ArgumentParser(
        prog='ps-control evaluate',
        description='Run the policy of a learner checkpoint on the simulated robot and print '
                    'how it does (sampled and mean actions).')
    parser.add_argument('task', help='the task the checkpoint learnt: a name (e.g. '
                                     'quad_pendulum) or a task YAML file')
    parser.add_argument('checkpoint', help='learner checkpoint file')
    parser.add_argument('--rollouts', type=int_at_least(1), default=100,
                        help='rollouts from initial states of the task (default 100)')
    parser.add_argument('--seed', type=int_at_least(0), default=0,
                        help='seed of the initial states and the action noise (default 0)')
    parser.add_argument('--gui', action='store_true',
                        help='show the rollouts in the PyBullet GUI at real time')
    parser.add_argument('--plot', metavar='PNG',
                        help='also draw the joint angles and torques of the rollouts over time')
    parser.add_argument('--json', metavar='FILE',
                        help='also write the figures printed, and what they are of, as JSON')
    parser.add_argument('--on', metavar='TASK',
                        help="run the policy on another task's robot and initial states (same "
                             'joints and dt; e.g. a copy of the task file with another URDF, to '
                             'see how model errors hurt); the torques it applies are scored by '
                             "the checkpoint's task")
    return parser.parse_args(argv)


def check_same_interface(task, robot):
    """Raise ValueError unless ``robot`` (a task) can run ``task``'s policies: joints and dt."""
    if tuple(robot.joint_names) != tuple(task.joint_names):
        raise ValueError('--on %s drives the joints %s, the policy %s'
                         % (robot.name, list(robot.joint_names), list(task.joint_names)))
    if robot.dt != task.dt:
        raise ValueError('--on %s steps at dt = %g s, the policy at %g s'
                         % (robot.name, robot.dt, task.dt))


def format_report(search, path, n, seed, result, robot=None):
    """Return the printed report of ``evaluate_policy``'s ``result`` as text."""
    config = search.config
    lines = ['%s: %s on %s after %d iterations; %d rollouts (seed %d)%s'
             % (path, config.algorithm, search.task.name, search.iteration, n, seed,
                '' if robot is None else ' on the robot of %s (%s)' % (robot.name,
                                                                       robot.source)),
             '%-12s %12s %9s %11s %9s' % ('actions', 'reward', 'success', 'saturation',
                                          'diverged')]
    for name, label in (('sampled', 'sampled'), ('mean_action', 'mean')):
        metrics = result[name]
        line = '%-12s %12.5g %9.3f %11s %9d' % (
            label, metrics['expected_reward'], metrics['success_rate'],
            '%.3f' % metrics['saturation'] if 'saturation' in metrics else '-',
            metrics['diverged'])
        if 'via_error' in metrics:
            line += '   via-point distance %.4f m' % metrics['via_error']
        lines.append(line)
    return '\n'.join(lines)


def main(argv=None):
    """Run ``ps-control evaluate``; return the exit status (2 for bad input)."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.plot:
            check_figure_path(args.plot, '--plot')
        if args.json:
            check_output_file(args.json, '--json')
        try:
            search = load_search(args.checkpoint, load_task(args.task), checkpoint_horizon=True)
        except OSError as error:  # missing, unreadable: say what the file was
            raise ValueError('cannot read checkpoint %s: %s'
                             % (args.checkpoint, error.strerror or error)) from None
        task = search.task
        robot = None if args.on is None else load_task(args.on)
        if robot is not None:
            check_same_interface(task, robot)
        simulator = (robot or task).make_simulator(n_robots=args.rollouts, gui=args.gui,
                                                   realtime=args.gui)
    except (OSError, ValueError) as error:
        print('ps-control evaluate: %s' % error, file=sys.stderr)
        return 2
    try:
        result, runs = evaluate_policy(search, simulator, args.rollouts,
                                       np.random.default_rng([args.seed, EVALUATION_STREAM]),
                                       return_rollouts=True, start=robot)
    except ValueError as error:  # e.g. a search mean so large that its gains overflow
        print('ps-control evaluate: cannot run the policy of checkpoint %s: %s'
              % (args.checkpoint, error), file=sys.stderr)
        return 2
    finally:
        simulator.close()
    print(format_report(search, args.checkpoint, args.rollouts, args.seed, result, robot))
    try:
        if args.plot:
            print('wrote %s' % plot_rollouts(args.plot, search, runs, robot))
        if args.json:
            write_json_atomically(args.json, dict(
                result, checkpoint=args.checkpoint, task=task.name,
                algorithm=search.config.algorithm, iteration=search.iteration,
                horizon=task.horizon, rollouts=args.rollouts, seed=args.seed,
                on=None if robot is None else robot.source))
            print('wrote %s' % args.json)
    except OSError as error:
        print('ps-control evaluate: cannot write %s' % error, file=sys.stderr)
        return 1
    return 0


def plot_rollouts(path, search, runs, robot=None):
    """Draw the finite rollouts of ``runs`` (evaluate_policy's) joint by joint; return the file."""
    task = search.task
    limits = robot or task  # the limits of the robot that ran
    labels = {'sampled': 'sampled actions', 'mean_action': 'mean action'}
    drawn, diverged = {}, []
    for name, rollouts in runs.items():
        valid = rollouts.valid()
        if valid.n:
            drawn['%s (%d)' % (labels[name], valid.n)] = (valid.states, valid.torques)
        if valid.n < rollouts.n:
            diverged.append('%s %d of %d' % (labels[name], rollouts.n - valid.n, rollouts.n))
    note = '\ndiverged, not drawn: %s' % ', '.join(diverged) if diverged else ''
    T = next(iter(runs.values())).T
    return plotting.plot_trajectories(
        path, task.dt, task.joint_names, drawn, goal=task.goal,
        joint_limits=(limits.joint_lower, limits.joint_upper),
        torque_limits=limits.torque_limits,
        title='%s, %s after %d iterations%s%s' % (task.name, search.config.algorithm,
                                                  search.iteration,
                                                  '' if robot is None else ', on ' + robot.name,
                                                  note),
        duration=T * task.dt)


if __name__ == '__main__':
    sys.exit(main())
