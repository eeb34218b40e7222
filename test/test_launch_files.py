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
The launch files, checked without ``ros2 launch`` (launch and launch_ros are not installed here).

Statically (ast): every executable they start is a console_script of setup.py, every config,
URDF and RViz file they name exists, every LaunchConfiguration is declared, and only public
names of the launch APIs are imported. Then the shared launch_setup runs against stand-ins of
the launch classes that record what it builds: the nodes, namespaces, remaps and parameters
for one and several workers, for hardware, and with RViz.
"""

import ast
import glob
import os
import sys
import types

from ps_control.tasks import load_task
import pytest


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAUNCH_FILES = sorted(glob.glob(os.path.join(ROOT, 'launch', '*.launch.py')))
HELPER = os.path.join(ROOT, 'ps_control', 'nodes', 'launch_common.py')
SOURCES = LAUNCH_FILES + [HELPER]

# Public API of launch / launch_ros / ament_index_python in Jazzy and Kilted used here.
KNOWN_API = {
    'launch': {'LaunchDescription'},
    'launch.actions': {'DeclareLaunchArgument', 'OpaqueFunction', 'IncludeLaunchDescription',
                       'GroupAction'},
    'launch.conditions': {'IfCondition', 'UnlessCondition'},
    'launch.substitutions': {'LaunchConfiguration', 'PathJoinSubstitution', 'Command'},
    'launch_ros.actions': {'Node', 'PushRosNamespace'},
    'launch_ros.substitutions': {'FindPackageShare'},
    'ament_index_python.packages': {'get_package_share_directory'},
}


def tree(path):
    with open(path) as stream:
        return ast.parse(stream.read(), path)


def calls(node, name):
    """Yield the Call nodes of ``name(...)`` in an AST."""
    for item in ast.walk(node):
        if isinstance(item, ast.Call):
            func = item.func
            called = func.id if isinstance(func, ast.Name) else getattr(func, 'attr', None)
            if called == name:
                yield item


def keyword(call, name):
    for item in call.keywords:
        if item.arg == name:
            return item.value
    return None


def assigned(module, name):
    """Return the literal value assigned to a module-level name, or None."""
    for item in module.body:
        if isinstance(item, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == name for t in item.targets):
            return ast.literal_eval(item.value)
    return None


def console_scripts():
    module = tree(os.path.join(ROOT, 'setup.py'))
    for call in calls(module, 'setup'):
        entry_points = ast.literal_eval(keyword(call, 'entry_points'))
        return {line.split('=')[0].strip() for line in entry_points['console_scripts']}
    raise AssertionError('setup.py has no setup() call')


def test_there_are_the_three_launch_files():
    names = sorted(os.path.basename(path) for path in LAUNCH_FILES)
    assert names == ['arm.launch.py', 'double_pendulum.launch.py', 'quad_pendulum.launch.py']
    for path in LAUNCH_FILES:
        functions = [f.name for f in tree(path).body if isinstance(f, ast.FunctionDef)]
        assert 'generate_launch_description' in functions, path


def test_every_executable_is_a_console_script():
    scripts = console_scripts()
    started = set()
    for path in SOURCES:
        module = tree(path)
        for call in calls(module, 'Node'):
            package = keyword(call, 'package')
            package = (assigned(module, package.id) if isinstance(package, ast.Name)
                       else ast.literal_eval(package))
            executable = ast.literal_eval(keyword(call, 'executable'))
            if package == 'ps_control':
                assert executable in scripts, '%s: %s is no console_script' % (path, executable)
                started.add(executable)
            else:
                assert (package, executable) in {('robot_state_publisher',
                                                  'robot_state_publisher'),
                                                 ('rviz2', 'rviz2')}, (package, executable)
    assert started == {'simulator_node', 'controller_node', 'learner_node'}


def test_every_named_task_config_and_urdf_exists():
    tasks = []
    for path in LAUNCH_FILES:
        module = tree(path)
        for call in calls(module, 'generate'):
            if isinstance(call.args[0], ast.Constant):
                tasks.append(call.args[0].value)
        tasks += list((assigned(module, 'TASKS') or {}).values())
    assert sorted(tasks) == ['arm', 'arm_2', 'arm_50', 'double_pendulum', 'quad_pendulum']
    for name in tasks:
        assert os.path.isfile(os.path.join(ROOT, 'config', name + '.yaml')), name
        assert os.path.isfile(load_task(name).urdf_path), name


def test_every_named_data_file_exists():
    named = []
    for path in SOURCES:
        for item in ast.walk(tree(path)):
            if isinstance(item, ast.Constant) and isinstance(item.value, str):
                for suffix, folder in (('.rviz', 'rviz'), ('.urdf', 'urdf'), ('.yaml', 'config')):
                    if (item.value.endswith(suffix) and item.value != suffix
                            and '%' not in item.value):
                        named.append(os.path.join(ROOT, folder, item.value))
    assert os.path.join(ROOT, 'rviz', 'ps_control.rviz') in named
    for path in named:
        assert os.path.isfile(path), path


def declared_arguments(module):
    names = {ast.literal_eval(call.args[0]) for call in calls(module, 'DeclareLaunchArgument')
             if call.args and isinstance(call.args[0], ast.Constant)}
    for constant in ('ARGUMENTS', 'EXTRA_ARGUMENTS'):
        names |= {entry[0] for entry in assigned(module, constant) or ()}
    return names


def test_every_launch_configuration_is_declared():
    helper = tree(HELPER)
    shared = declared_arguments(helper)
    assert {'use_sim_time', 'algorithm', 'num_workers', 'rviz', 'hardware'} <= shared
    for path in SOURCES:
        module = tree(path)
        declared = shared | declared_arguments(module)
        used = {ast.literal_eval(call.args[0]) for call in calls(module, 'LaunchConfiguration')
                if isinstance(call.args[0], ast.Constant)}
        # _flag / _integer(context, 'name', ...) read LaunchConfiguration(name) too
        for helper_call in ('_flag', '_integer'):
            used |= {ast.literal_eval(call.args[1]) for call in calls(module, helper_call)}
        assert used <= declared, '%s uses undeclared %s' % (path, sorted(used - declared))
    assert 'dof' in declared_arguments(tree(os.path.join(ROOT, 'launch', 'arm.launch.py')))


def test_only_public_launch_api_is_imported():
    for path in SOURCES:
        for item in ast.walk(tree(path)):
            if isinstance(item, ast.ImportFrom) and item.module.split('.')[0] in (
                    'launch', 'launch_ros', 'ament_index_python'):
                names = {alias.name for alias in item.names}
                assert names <= KNOWN_API.get(item.module, set()), (path, item.module, names)


# Running launch_setup against recording stand-ins of the launch classes ----------------------

class Recorded:
    """Stand-in of a launch class: records its arguments."""

    def __init__(self, *args, **kwargs):
        self.args = args
        self.kwargs = kwargs


class FakeLaunchConfiguration(Recorded):
    def perform(self, context):
        return context[self.args[0]]


@pytest.fixture
def launch_common(monkeypatch, tmp_path):
    """Import ps_control.nodes.launch_common with stand-ins of launch and launch_ros."""
    share = tmp_path / 'share'
    for folder in ('config', 'rviz'):
        os.makedirs(share / folder)
    for path in glob.glob(os.path.join(ROOT, 'config', '*.yaml')):
        os.symlink(path, share / 'config' / os.path.basename(path))
    fakes = {
        'launch': {'LaunchDescription': Recorded},
        'launch.actions': {'DeclareLaunchArgument': Recorded, 'OpaqueFunction': Recorded},
        'launch.conditions': {'IfCondition': Recorded},
        'launch.substitutions': {'LaunchConfiguration': FakeLaunchConfiguration},
        'launch_ros': {},
        'launch_ros.actions': {'Node': Recorded},
        'ament_index_python': {},
        'ament_index_python.packages': {
            'get_package_share_directory': lambda package: str(share)},
    }
    for name, attributes in fakes.items():
        module = types.ModuleType(name)
        module.__dict__.update(attributes)
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.delitem(sys.modules, 'ps_control.nodes.launch_common', raising=False)
    import ps_control.nodes.launch_common as module
    yield module
    sys.modules.pop('ps_control.nodes.launch_common', None)


def arguments(launch_common, **values):
    context = {name: default for name, default, _ in launch_common.ARGUMENTS}
    context.update(values)
    return context


def started(actions):
    return [(a.kwargs['executable'], a.kwargs.get('namespace', '')) for a in actions]


def test_one_worker_in_simulation(launch_common):
    actions = launch_common.launch_setup(arguments(launch_common), 'double_pendulum')
    assert started(actions) == [('simulator_node', ''), ('controller_node', ''),
                                ('learner_node', ''),
                                ('robot_state_publisher', ''), ('rviz2', '')]
    simulator, controller, learner = actions[:3]
    config, values = simulator.kwargs['parameters']
    assert config.endswith(os.path.join('config', 'double_pendulum.yaml'))
    assert values['lockstep'] is True and values['use_sim_time'] is True
    assert controller.kwargs['remappings'] == []
    learner_values = learner.kwargs['parameters'][1]
    assert learner_values['reset'] is True and learner_values['num_workers'] == 1
    # RViz and robot_state_publisher exist but are gated by the rviz argument
    for action in actions[3:]:
        condition = action.kwargs['condition']
        assert condition.args[0].args == ('rviz',)
    assert actions[4].kwargs['arguments'][1].endswith(os.path.join('rviz', 'ps_control.rviz'))


def test_several_workers_get_namespaces_and_clocks_of_their_own(launch_common):
    actions = launch_common.launch_setup(
        arguments(launch_common, num_workers='3', seed='5', algorithm='saps'), 'quad_pendulum')
    assert started(actions)[:7] == [
        ('simulator_node', 'worker_0'), ('controller_node', 'worker_0'),
        ('simulator_node', 'worker_1'), ('controller_node', 'worker_1'),
        ('simulator_node', 'worker_2'), ('controller_node', 'worker_2'), ('learner_node', '')]
    for action in actions[:6]:
        assert action.kwargs['remappings'] == [('/clock', 'clock')]
    seeds = [a.kwargs['parameters'][1]['seed'] for a in actions[:6:2]]
    assert seeds == [5, 6, 7]
    learner = actions[6].kwargs['parameters'][1]
    assert (learner['num_workers'], learner['algorithm'], learner['seed']) == (3, 'saps', 5)
    assert learner['use_sim_time'] is False  # no one clock serves all workers: wall time
    # RViz and robot_state_publisher watch worker 0, on its clock
    publisher, rviz = actions[-2:]
    assert publisher.kwargs['namespace'] == 'worker_0'
    assert publisher.kwargs['remappings'] == [('/clock', 'clock')]
    assert rviz.kwargs['remappings'] == [('/robot_description', '/worker_0/robot_description'),
                                         ('/clock', '/worker_0/clock')]


def test_hardware_starts_no_simulator_and_no_resets(launch_common):
    actions = launch_common.launch_setup(
        arguments(launch_common, hardware='true', use_sim_time='false'), 'double_pendulum')
    assert started(actions) == [('controller_node', ''), ('learner_node', ''), ('rviz2', '')]
    controller = actions[0].kwargs['parameters'][1]
    learner = actions[1].kwargs['parameters'][1]
    assert controller['lockstep'] is False and controller['use_sim_time'] is False
    assert learner['reset'] is False and learner['lockstep'] is False


@pytest.mark.parametrize('values, sim_time', [
    ({'hardware': 'true'}, False),  # a real robot publishes no /clock
    ({'hardware': 'true', 'use_sim_time': 'true'}, True),  # e.g. gz_ros2_control
    ({'hardware': 'false', 'use_sim_time': 'false'}, False),
])
def test_use_sim_time_follows_hardware_unless_given(launch_common, values, sim_time):
    actions = launch_common.launch_setup(arguments(launch_common, **values), 'double_pendulum')
    for action in actions:
        if action.kwargs['executable'] in ('controller_node', 'learner_node'):
            assert action.kwargs['parameters'][1]['use_sim_time'] is sim_time


def test_explore_reaches_the_controllers_only_when_given(launch_common):
    def controllers(**values):
        actions = launch_common.launch_setup(arguments(launch_common, **values),
                                             'double_pendulum')
        return [a.kwargs['parameters'][1] for a in actions
                if a.kwargs['executable'] == 'controller_node']
    assert all('explore' not in c for c in controllers())  # the task file decides
    assert [c['explore'] for c in controllers(explore='false', num_workers='2')] == [False] * 2
    assert [c['explore'] for c in controllers(explore='true')] == [True]


def test_gui_reaches_the_first_simulator_only(launch_common):
    def simulators(**values):
        actions = launch_common.launch_setup(arguments(launch_common, **values),
                                             'double_pendulum')
        return [a.kwargs['parameters'][1]['gui'] for a in actions
                if a.kwargs['executable'] == 'simulator_node']
    assert simulators() == [False]
    assert simulators(gui='true', num_workers='3') == [True, False, False]
    with pytest.raises(ValueError, match='gui must be true or false'):
        simulators(gui='window')


@pytest.mark.parametrize('values, message', [
    ({'use_sim_time': 'maybe'}, "use_sim_time must be true or false or 'auto', got 'maybe'"),
    ({'explore': 'mean'}, "explore must be true or false or empty, got 'mean'"),
    ({'num_workers': '0'}, 'num_workers must be >= 1'),
    ({'num_workers': 'two'}, 'num_workers must be an integer'),
    ({'rviz': 'yes'}, 'rviz must be true or false'),
    ({'hardware': 'true', 'num_workers': '2'}, 'num_workers must be 1'),
])
def test_bad_arguments_are_refused_with_a_clear_error(launch_common, values, message):
    with pytest.raises(ValueError, match=message):
        launch_common.launch_setup(arguments(launch_common, **values), 'double_pendulum')


def test_arm_dof_selects_the_task_file(launch_common, monkeypatch):
    path = os.path.join(ROOT, 'launch', 'arm.launch.py')
    namespace = {'__file__': path}
    with open(path) as stream:
        exec(compile(stream.read(), path, 'exec'), namespace)
    assert namespace['arm_task']({'dof': '10'}) == 'arm'
    assert namespace['arm_task']({'dof': '2'}) == 'arm_2'
    assert namespace['arm_task']({'dof': '50'}) == 'arm_50'
    with pytest.raises(ValueError, match='no arm task with dof 7'):
        namespace['arm_task']({'dof': '7'})
    description = namespace['generate_launch_description']()
    declared = [a.args[0] for a in description.args[0] if isinstance(a, Recorded) and a.args]
    assert 'dof' in declared and 'num_workers' in declared


def learner_values(launch_common, **values):
    """Return the learner's parameter overrides for launch arguments (defaults otherwise)."""
    actions = launch_common.launch_setup(arguments(launch_common, **values), 'double_pendulum')
    learner, = [a for a in actions if a.kwargs['executable'] == 'learner_node']
    return learner.kwargs['parameters'][1]


def test_the_learning_arguments_reach_the_learner(launch_common):
    """iterations, samples, checkpoint and resume are passed on, each as its own parameter."""
    values = learner_values(launch_common, iterations='7', samples='4',
                            checkpoint='/tmp/run.ckpt', resume='true')
    assert (values['iterations'], values['samples']) == (7, 4)
    assert (values['checkpoint'], values['resume']) == ('/tmp/run.ckpt', True)


def test_without_a_seed_the_learner_keeps_its_checkpoints(launch_common):
    """seed:=-1 reaches the learner as -1, so a resumed run keeps the seed it was run with."""
    assert learner_values(launch_common)['seed'] == -1
    assert learner_values(launch_common, seed='5')['seed'] == 5


def test_flags_take_1_and_0_like_true_and_false(launch_common):
    """A flag given as 1 is true: hardware:=1 starts no simulator and no resets."""
    values = learner_values(launch_common, hardware='1')
    assert values['reset'] is False and values['lockstep'] is False
