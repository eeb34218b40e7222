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
The launch description shared by launch/*.launch.py (needs the ROS 2 launch and launch_ros).

``generate(task)`` returns a LaunchDescription with the arguments

* use_sim_time (auto): the nodes follow ``/clock`` (the simulator's, or gz_ros2_control's);
  auto is true in simulation and false with hardware:=true (a real robot publishes no clock);
* algorithm (''): gps, saps, esaps, separate or (arm tasks) g_mds, g_amds ('' keeps the task's
  learning config);
* iterations / samples (0: the learning config), seed (-1: the task file's learning.seed);
* num_workers (1): simulator + controller pairs, in namespaces worker_<i> when more than one,
  each with a clock of its own (``/clock`` remapped to ``clock``);
* lockstep (true): deterministic stepping, faster than real time (false: real time);
* checkpoint ('') / resume (false): the learner's checkpoint file;
* explore (''): the controller samples its actions (true) or applies the mean (false); '' keeps
  the task file's controller setting;
* rviz (false): RViz with rviz/ps_control.rviz and robot_state_publisher;
* gui (false): the first worker's simulator shows its robot in the PyBullet GUI;
* hardware (false): no simulator; the controller and the learner talk to a real robot's
  ros2_control topics (``joint_states`` from the joint_state_broadcaster,
  ``effort_controller/commands`` to a forward_command_controller with the effort interface),
  in real time and without resets.

Node parameters come from the node sections of config/<task>.yaml, then the launch arguments;
the nodes read the file's task and learning sections themselves, by ``task_name``. ``task``
is a task name, or a callable(context) -> task name for tasks chosen by an argument
(arm.launch.py's ``dof``).
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.actions import OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from ps_control.nodes.topology import clock_remappings
from ps_control.nodes.topology import learner_uses_sim_time
from ps_control.nodes.topology import system_seed
from ps_control.nodes.topology import worker_namespaces
from ps_control.nodes.topology import worker_seeds

PACKAGE = 'ps_control'

ARGUMENTS = (
    ('use_sim_time', 'auto', 'Follow /clock (auto: true, false with hardware:=true).'),
    ('algorithm', '', 'gps, saps, esaps, separate, g_mds or g_amds (empty: the task learning '
                      'config).'),
    ('iterations', '0', 'Learning iterations (0: the task learning config).'),
    ('samples', '0', 'Episodes per iteration (0: the task learning config).'),
    ('seed', '-1', "Seed of the learner, simulators and controllers (-1: the task file's "
                   'learning.seed).'),
    ('num_workers', '1', 'Simulator + controller pairs (namespaces worker_<i> if > 1).'),
    ('lockstep', 'true', 'Step the simulation once per command (false: real time).'),
    ('checkpoint', '', 'Learner checkpoint file, written after every iteration.'),
    ('resume', 'false', 'Resume learning from the checkpoint file.'),
    ('explore', '', 'Controller: sample actions (true) or apply the mean (false); empty: the '
                    'task file.'),
    ('rviz', 'false', 'Start RViz (rviz/ps_control.rviz) and robot_state_publisher.'),
    ('gui', 'false', "Show the first worker's simulated robot in the PyBullet GUI."),
    ('hardware', 'false', 'Real robot: no simulator; talk to its ros2_control topics.'),
)


def declare_arguments(extra=()):
    """Return the DeclareLaunchArgument actions of ARGUMENTS plus ``extra`` triples."""
    return [DeclareLaunchArgument(name, default_value=default, description=description)
            for name, default, description in tuple(ARGUMENTS) + tuple(extra)]


def _flag(context, name, unset=None):
    """Return a true/false launch argument as a bool, or None if it is ``unset`` ('auto', '')."""
    value = LaunchConfiguration(name).perform(context).strip().lower()
    if unset is not None and value == unset:
        return None
    if value not in ('true', 'false', '1', '0'):
        raise ValueError('launch argument %s must be true or false%s, got %r'
                         % (name, {None: '', '': ' or empty'}.get(unset, ' or %r' % unset),
                            value))
    return value in ('true', '1')


def _integer(context, name, low):
    text = LaunchConfiguration(name).perform(context)
    try:
        value = int(text)
    except ValueError:
        raise ValueError('launch argument %s must be an integer, got %r' % (name, text)) from None
    if value < low:
        raise ValueError('launch argument %s must be >= %d, got %d' % (name, low, value))
    return value


def launch_setup(context, task):
    """Return the nodes for the resolved launch arguments (an OpaqueFunction body)."""
    task_name = task(context) if callable(task) else task
    share = get_package_share_directory(PACKAGE)
    config = os.path.join(share, 'config', task_name + '.yaml')
    if not os.path.isfile(config):
        raise ValueError('no task file %s for task %r' % (config, task_name))
    _flag(context, 'rviz')  # checked here for a clear error; IfCondition gates the nodes
    hardware = _flag(context, 'hardware')
    gui = _flag(context, 'gui')
    use_sim_time = _flag(context, 'use_sim_time', unset='auto')
    if use_sim_time is None:
        use_sim_time = not hardware
    lockstep = _flag(context, 'lockstep') and not hardware
    num_workers = _integer(context, 'num_workers', 1)
    learner_seed = _integer(context, 'seed', -1)  # -1: the task file's, or a checkpoint's
    seed = system_seed(task_name, learner_seed)
    if hardware and num_workers != 1:
        raise ValueError('hardware:=true drives one robot: num_workers must be 1')
    common = {'task_name': task_name, 'use_sim_time': use_sim_time, 'lockstep': lockstep}
    remappings = clock_remappings(num_workers)
    controller_values = dict(common)
    explore = _flag(context, 'explore', unset='')
    if explore is not None:
        controller_values['explore'] = explore
    actions = []
    for index, namespace in enumerate(worker_namespaces(num_workers)):
        sim_seed, ctl_seed = worker_seeds(seed, index)
        if not hardware:
            actions.append(Node(
                package=PACKAGE, executable='simulator_node', name='simulator',
                namespace=namespace, output='screen', remappings=remappings,
                parameters=[config, dict(common, seed=sim_seed, gui=gui and index == 0)]))
        actions.append(Node(
            package=PACKAGE, executable='controller_node', name='controller',
            namespace=namespace, output='screen', remappings=remappings,
            parameters=[config, dict(controller_values, seed=ctl_seed)]))
    learner = dict(common, num_workers=num_workers, reset=not hardware,
                   use_sim_time=learner_uses_sim_time(use_sim_time, num_workers),
                   algorithm=LaunchConfiguration('algorithm').perform(context),
                   iterations=_integer(context, 'iterations', 0),
                   samples=_integer(context, 'samples', 0), seed=learner_seed,
                   checkpoint=LaunchConfiguration('checkpoint').perform(context),
                   resume=_flag(context, 'resume'))
    actions.append(Node(package=PACKAGE, executable='learner_node', name='learner',
                        output='screen', parameters=[config, learner]))
    actions += visualisation(task_name, share, use_sim_time, hardware,
                             worker_namespaces(num_workers)[0], remappings)
    return actions


def visualisation(task_name, share, use_sim_time, hardware, namespace, clock_remapping):
    """
    Return robot_state_publisher (simulation only) and RViz if rviz:=true (first worker).

    Both show the first worker's robot and follow its clock (``clock_remapping``).
    """
    from ps_control.tasks import load_task
    rviz = IfCondition(LaunchConfiguration('rviz'))
    actions = []
    description = '/robot_description' if not namespace else '/%s/robot_description' % (
        namespace)
    if not hardware:
        # a real robot's own launch runs robot_state_publisher already
        with open(load_task(task_name).urdf_path) as stream:
            urdf = stream.read()
        actions.append(Node(
            package='robot_state_publisher', executable='robot_state_publisher',
            name='robot_state_publisher', namespace=namespace, output='screen', condition=rviz,
            remappings=clock_remapping,
            parameters=[{'robot_description': urdf, 'use_sim_time': use_sim_time}]))
    actions.append(Node(
        package='rviz2', executable='rviz2', name='rviz2', output='screen', condition=rviz,
        arguments=['-d', os.path.join(share, 'rviz', 'ps_control.rviz')],
        parameters=[{'use_sim_time': use_sim_time}],
        remappings=[('/robot_description', description)] + [
            (old, '/%s/%s' % (namespace, new)) for old, new in clock_remapping]))
    return actions


def generate(task, extra_arguments=()):
    """Return the LaunchDescription of a task (a name or a callable(context) -> name)."""
    return LaunchDescription(declare_arguments(extra_arguments) + [
        OpaqueFunction(function=launch_setup, kwargs={'task': task}),
    ])
