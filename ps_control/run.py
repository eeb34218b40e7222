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

r"""
``ps-control run TASK``: simulator, controller and learner nodes in one process.

The same nodes and the same config/<task>.yaml as ``ros2 launch ps_control <task>.launch.py``,
composed on one executor, so the system runs where ``ros2 launch`` is not installed. The nodes
are ordinary ROS 2 nodes in the default context: ``ros2 topic echo /ps_control/metrics/...``,
rqt_plot or RViz in another process of the same ROS domain see them.

Example::

    ps-control run double_pendulum --algorithm saps --iterations 10 --samples 5 \\
        --plot dp.png --checkpoint dp.ckpt
    ps-control run double_pendulum --iterations 20 --checkpoint dp.ckpt --resume
    ps-control run arm --algorithm g_amds --iterations 100   # G-AMDS (or g_mds: G-MDS) on the
                                                             # via-point task

Everything after ``--ros-args`` goes to ROS (remaps, log levels, ...), except parameters
(``-p``, ``--params-file``): the node parameters come from the task file's node sections and
the options above, which rclpy would let override a ``-p`` unseen (refused, with the advice).
"""

import argparse
import sys
import time

from ps_control.cli_types import int_at_least
from ps_control.nodes import common
from ps_control.nodes.controller_node import ControllerNode
from ps_control.nodes.learner_node import ALGORITHMS
from ps_control.nodes.learner_node import format_metrics
from ps_control.nodes.learner_node import LearnerNode
from ps_control.nodes.simulator_node import SimulatorNode
from ps_control.nodes.topology import clock_remappings
from ps_control.nodes.topology import system_seed
from ps_control.nodes.topology import worker_namespaces
from ps_control.nodes.topology import worker_seeds
from ps_control.output_paths import check_figure_path
from ps_control.tasks import load_task
from ps_control.tasks import task_path
from ps_control.tasks.params import flatten
from ps_control.tasks.params import read_document
from ps_control.tasks.params import read_parameters
from ps_control.tasks.params import WILDCARD
from rclpy.executors import ExternalShutdownException
from rclpy.parameter import Parameter


NODE_SECTIONS = ('simulator', 'controller', 'learner')
PARAMETER_ARGUMENTS = ('-p', '--param', '--params-file')  # refused after --ros-args


def check_node_sections(task_name):
    """
    Raise ValueError if the task file has a node section for no node of the system.

    A misspelt ``/**/controler:`` would otherwise leave the controller on its defaults.
    """
    path = task_path(task_name)
    document = read_document(path)
    known = [WILDCARD] + ['%s/%s' % (WILDCARD, node) for node in NODE_SECTIONS]
    unknown = sorted(key for key in (document if isinstance(document, dict) else {})
                     if key not in known)
    if unknown:
        raise ValueError('%s: section(s) %s are for no node of the system (known: %s)'
                         % (path, ', '.join(map(str, unknown)), ', '.join(known)))


def node_parameters(task_name, node_name):
    """
    Return {name: value} of a node's section in the task file (``/**/<node_name>:``).

    ``task_name`` is a task name (config/<task>.yaml) or a task file, as for ``load_task``. A
    file without that section gives {} (the nodes' own defaults).
    """
    return flatten(read_parameters(task_path(task_name), node='/**/' + node_name,
                                   missing_ok=True))


def _construct(factory, section, task_name, values, **kwargs):
    """
    Return factory(parameter_overrides=values, **kwargs), refusing values it does not declare.

    ROS ignores an override of an undeclared parameter; a misspelt name in a task file's node
    section (``stale_period:``) would go unnoticed, so it is an error naming the file. So is a
    value out of its range or of another type (rclpy's message names neither file nor node).
    """
    try:
        node = factory(parameter_overrides=[Parameter(name, value=value)
                                            for name, value in values.items()], **kwargs)
    except common.PARAMETER_ERRORS as error:
        raise ValueError('%s, the %s node: %s' % (task_path(task_name), section, error)) from None
    unknown = common.undeclared_parameters(node, values)
    if unknown:
        known, name = sorted(node.get_parameters_by_prefix('')), node.get_name()
        node.destroy_node()
        raise ValueError('%s: the %s node has no parameter(s) %s (it has: %s)'
                         % (task_path(task_name), name, ', '.join(unknown), ', '.join(known)))
    return node


def build_nodes(task_name, num_workers=1, lockstep=True, learner=None, context=None,
                seed=None, with_learner=True, explore=None, gui=False):
    """
    Construct the nodes of one system: per worker a simulator and a controller, and a learner.

    Parameters come from config/<task>.yaml (node sections), then the arguments: ``learner``
    is a dict of learner parameter overrides; ``explore`` (None: the task file's) the
    controllers' choice between sampled and mean actions; ``gui`` opens the PyBullet GUI of the
    first worker's simulator (PyBullet allows one per process). Workers live in namespaces
    worker_<i> when there are several, each with its own clock (``/clock`` remapped into the
    namespace). ``seed`` (None: the task's learning.seed) seeds them all
    (``topology.system_seed``). Returns (workers, learner_node): workers is a list of
    (simulator, controller).
    """
    load_task(task_name)  # an unknown task fails here, naming the known ones
    check_node_sections(task_name)
    learner_seed = -1 if seed is None else seed  # -1: the task file's, or a checkpoint's
    seed = system_seed(task_name, seed)
    clock_remap = []
    for old, new in clock_remappings(num_workers):
        clock_remap += ['--ros-args', '-r', '%s:=%s' % (old, new)]
    built = []  # destroyed if a later node is refused: they would stay in the ROS graph
    try:
        for index, namespace in enumerate(worker_namespaces(num_workers)):
            sim_seed, ctl_seed = worker_seeds(seed, index)
            sim_params = node_parameters(task_name, 'simulator')
            sim_params.update(task_name=task_name, lockstep=lockstep, seed=sim_seed,
                              gui=bool(gui) and index == 0)
            ctl_params = node_parameters(task_name, 'controller')
            ctl_params.update(task_name=task_name, lockstep=lockstep, seed=ctl_seed,
                              use_sim_time=True)
            if explore is not None:
                ctl_params['explore'] = bool(explore)
            built.append(_construct(SimulatorNode, 'simulator', task_name, sim_params,
                                    context=context, namespace='/' + namespace,
                                    cli_args=clock_remap))
            built.append(_construct(ControllerNode, 'controller', task_name, ctl_params,
                                    context=context, namespace='/' + namespace,
                                    cli_args=clock_remap))
        learner_node = None
        if with_learner:
            params = node_parameters(task_name, 'learner')
            params.update(task_name=task_name, num_workers=num_workers, lockstep=lockstep,
                          seed=learner_seed)
            params.update(learner or {})
            learner_node = _construct(LearnerNode, 'learner', task_name, params,
                                      context=context)
    except BaseException:
        for node in built:
            node.destroy_node()
        raise
    return list(zip(built[::2], built[1::2])), learner_node


def parse_args(argv):
    """Parse the command line of ``ps-control run``."""
    parser = argparse.ArgumentParser(
        prog='ps-control run',
        description='Run the simulator, controller and learner nodes of a task in one process '
                    '(no ros2 launch needed) and plot the learning curve.')
    parser.add_argument('task', help='task name (e.g. double_pendulum, quad_pendulum, arm) or '
                                     'a task YAML file')
    parser.add_argument('--algorithm', default=None, choices=tuple(ALGORITHMS),
                        help='default: the learning config of the task')
    parser.add_argument('--iterations', type=int_at_least(1), default=None,
                        help='iterations (default: the learning config)')
    parser.add_argument('--samples', type=int_at_least(2), default=None,
                        help='episodes per iteration (default: the learning config)')
    parser.add_argument('--horizon', type=int_at_least(1), default=None,
                        help='episode length in steps (default: the task horizon; with '
                             "--resume the checkpoint's)")
    parser.add_argument('--num-workers', type=int_at_least(1), default=1,
                        help='simulator + controller pairs collecting episodes side by side')
    parser.add_argument('--seed', type=int_at_least(0), default=None,
                        help='seed of the learning loop, simulators and controllers (default: '
                             "the task's learning.seed)")
    parser.add_argument('--checkpoint', default='',
                        help='checkpoint file written after every iteration (an existing one '
                             'is only continued, with --resume)')
    parser.add_argument('--resume', action='store_true',
                        help='continue from --checkpoint')
    parser.add_argument('--plot', default=None,
                        help='learning-curve PNG (default: <task>_learning_curve.png)')
    parser.add_argument('--mean-action', action='store_true',
                        help="the controllers apply the policy's mean action (explore false; "
                             'default: the task file)')
    parser.add_argument('--real-time', action='store_true',
                        help='simulate at real time instead of in lockstep')
    parser.add_argument('--gui', action='store_true',
                        help="show the first worker's robot in the PyBullet GUI (needs a "
                             'display; with --real-time at the speed of the real robot)')
    parser.add_argument('--executor', default='events', choices=('events', 'single'),
                        help="rclpy executor: 'events' (EventsExecutor where rclpy has it, "
                             "else 'single'; default) or 'single' (SingleThreadedExecutor)")
    args = parser.parse_args(argv)
    if args.resume and not args.checkpoint:
        parser.error('--resume needs --checkpoint')
    return args


def plot_history(history, path, task_name, algorithm):
    """Write the learning curve (expected reward per iteration) as a PNG; return the path."""
    from ps_control.plotting import plot_curves
    iterations = [m.get('iteration', i + 1) for i, m in enumerate(history)]
    rewards = [m['expected_reward'] for m in history]
    return plot_curves(path, iterations, {algorithm: rewards}, xlabel='iteration',
                       ylabel='expected reward',
                       title='%s: %s through ROS 2 nodes' % (task_name, algorithm), band=None)


def main(argv=None):
    """Run ``ps-control run``; return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    ros_args = []
    if '--ros-args' in argv:
        split = argv.index('--ros-args')
        argv, ros_args = argv[:split], argv[split:]
    args = parse_args(argv)
    try:
        given = sorted(set(ros_args) & set(PARAMETER_ARGUMENTS))
        if given:
            raise ValueError('node parameters cannot be given after --ros-args (%s): set them in '
                             "the task file's node sections (a copy of config/<task>.yaml) or "
                             'with the options of ps-control run' % ', '.join(given))
        task = load_task(args.task)
        plot = check_figure_path(args.plot or '%s_learning_curve.png' % task.name, '--plot')
    except ValueError as error:
        print('ps-control run: %s' % error, file=sys.stderr)
        return 2
    # the learner node's parameters: '' and 0 mean "from the task's learning config"
    learner = {'algorithm': args.algorithm or '', 'iterations': args.iterations or 0,
               'samples': args.samples or 0, 'horizon': args.horizon or 0,
               'checkpoint': args.checkpoint, 'resume': args.resume}
    common.init_handling_stop_signals(['ps-control'] + ros_args)
    nodes = []
    executor = None
    try:
        workers, learner_node = build_nodes(args.task, args.num_workers, not args.real_time,
                                            learner, seed=args.seed,
                                            explore=False if args.mean_action else None,
                                            gui=args.gui)
        nodes = [node for pair in workers for node in pair] + [learner_node]
        executor = common.make_executor(kind=args.executor)
        for node in nodes:
            executor.add_node(node)
        started = time.monotonic()

        def progress(metrics):
            print('[%7.1f s] %s' % (time.monotonic() - started, format_metrics(metrics)),
                  flush=True)
        learner_node.log_iterations = False  # the same line, printed here on stdout
        learner_node.on_iteration.append(progress)
        executor.create_task(learner_node.run)
        common.spin(executor, future=learner_node.done)
        if common.STOP_REQUESTED.is_set():  # Ctrl-C, SIGTERM: the checkpoint is kept
            return common.stop_exit_status()
        if not learner_node.done.done():
            return 1
        if learner_node.done.exception() is not None:
            print('ps-control run: %s' % learner_node.done.exception(), file=sys.stderr)
            return 1
        history = learner_node.done.result()
        if history:
            path = plot_history(history, plot, task.name, learner_node.config.algorithm)
            print('learning curve: %s' % path)
        return 0
    except (KeyboardInterrupt, ExternalShutdownException):
        return 130
    except common.CONFIGURATION_ERRORS as error:
        print('ps-control run: %s' % error, file=sys.stderr)
        return 2
    finally:
        common.tear_down(executor, nodes)


if __name__ == '__main__':
    sys.exit(main())
