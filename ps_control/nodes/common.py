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
What the three nodes share: topic names, QoS profiles, parameters, executors, main().

Topic and service names are relative, so a namespace (``/worker_0``) or a remap moves them;
``/clock`` is the one absolute name (ROS time), remapped to ``clock`` inside a worker namespace
so that every worker keeps a clock of its own.
"""

import os
import signal
import sys
import threading

from ps_control import tasks
from ps_control.sim.simulator import Simulator
from ps_control.tasks.params import flatten
from ps_control.tasks.params import read_parameters
from rcl_interfaces.msg import FloatingPointRange
from rcl_interfaces.msg import IntegerRange
from rcl_interfaces.msg import ParameterDescriptor
import rclpy
from rclpy.exceptions import InvalidParameterTypeException
from rclpy.exceptions import InvalidParameterValueException
from rclpy.executors import ExternalShutdownException
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import DurabilityPolicy
from rclpy.qos import HistoryPolicy
from rclpy.qos import QoSProfile
from rclpy.qos import ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions


JOINT_STATES = 'joint_states'
COMMANDS = 'effort_controller/commands'
ROBOT_DESCRIPTION = 'robot_description'
POLICY = 'ps_control/policy'
TRANSITIONS = 'ps_control/transitions'
RESET = 'ps_control/reset'
START_EPISODE = 'ps_control/start_episode'
STOP_EPISODE = 'ps_control/stop_episode'
METRICS = 'ps_control/metrics'
CLOCK = '/clock'
# what rclpy raises for a parameter value out of its descriptor's range or of another type
PARAMETER_ERRORS = (InvalidParameterValueException, InvalidParameterTypeException)
# what a node raises for a refused configuration (bad parameter value or type, task file)
CONFIGURATION_ERRORS = (ValueError,) + PARAMETER_ERRORS
# set by the SIGINT / SIGTERM handler of init_handling_stop_signals: spin returns
STOP_REQUESTED = threading.Event()
_stop_signal = None  # the signal that set STOP_REQUESTED (stop_exit_status)

# joint_states and commands: reliable keep-last 10, the ros2_control defaults (a reliable
# subscriber would not match a best-effort publisher).
STATE_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                       history=HistoryPolicy.KEEP_LAST)
COMMAND_QOS = STATE_QOS
# robot_description and the policy: a late subscriber (RViz, a restarted controller) still
# gets the last one.
LATCHED_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                         history=HistoryPolicy.KEEP_LAST,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)
# transitions: deep enough that a learner busy for a moment loses no tick of an episode.
TRANSITIONS_QOS = QoSProfile(depth=5000, reliability=ReliabilityPolicy.RELIABLE,
                             history=HistoryPolicy.KEEP_LAST)
METRICS_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                         history=HistoryPolicy.KEEP_LAST)


def declare(node, name, default, description, low=None, high=None):
    """
    Declare a read-only parameter with a description (and a range for numbers); return its value.

    low / high give an inclusive range (floats or ints, as the default). A float parameter is
    always finite: NaN and infinity are out of its range, given or not. The nodes read their
    parameters once, at start-up, so every one is read-only: ROS refuses a change at run time
    (set it when starting the node) instead of accepting one that would have no effect.
    """
    descriptor = ParameterDescriptor(description=description, read_only=True)
    if isinstance(default, float):  # always a range: it refuses NaN and infinity as well
        descriptor.floating_point_range = [FloatingPointRange(
            from_value=float(-sys.float_info.max if low is None else low),
            to_value=float(sys.float_info.max if high is None else high), step=0.0)]
    elif low is not None or high is not None:
        if not isinstance(default, int) or isinstance(default, bool):
            raise ValueError('a range makes no sense for the %s parameter %s'
                             % (type(default).__name__, name))
        descriptor.integer_range = [IntegerRange(
            from_value=int(-2 ** 31 if low is None else low),
            to_value=int(2 ** 31 - 1 if high is None else high), step=0)]
    return node.declare_parameter(name, default, descriptor).value


def declare_task(node):
    """Declare ``task_name`` and return the Task it names (ValueError if unknown)."""
    name = declare(node, 'task_name', 'double_pendulum',
                   'Task to run: double_pendulum, quad_pendulum, arm (10 links), arm_2, arm_50 '
                   '(config/<task>.yaml), or a task file.')
    return tasks.load_task(name)


def make_simulator(task, urdf=None, gui=False):
    """Return the task's simulator, or one of the same step for another URDF file."""
    if urdf is None or urdf == task.urdf_path:
        return task.make_simulator(gui=gui)
    return Simulator(urdf, task.dt, substeps=task.substeps, gravity=task.gravity,
                     divergence_bound=task.divergence_bound, gui=gui)


def make_executor(context=None, kind='events'):
    """
    Return an executor for the given context.

    kind 'events' is rclpy's EventsExecutor (rclpy.experimental, Jazzy >= 7.1.4 and Kilted):
    about half the CPU and several times the message rate of the SingleThreadedExecutor
    (bench/bench_nodes.py); 'single' is the SingleThreadedExecutor, also used where the
    EventsExecutor does not exist.
    """
    if kind not in ('events', 'single'):
        raise ValueError("executor kind must be 'events' or 'single', got %r" % (kind,))
    if kind == 'events':
        try:
            from rclpy.experimental import EventsExecutor
        except ImportError:
            EventsExecutor = None
        if EventsExecutor is not None:
            return EventsExecutor(context=context)
    return SingleThreadedExecutor(context=context)


def spin(executor, context=None, future=None):
    """
    Spin until the context shuts down, a stop is requested or future is done.

    The context shuts down on rclpy.shutdown, or on Ctrl-C / SIGTERM where rclpy's signal
    handlers are installed; a node executable (``run_node``) handles those signals itself and
    sets STOP_REQUESTED instead.

    Always with a time-out: with rclpy 9.1.2's EventsExecutor, spin() and
    spin_until_future_complete() without a time-out stopped firing timers (and serving other
    processes) in our tests, while the same calls with a time-out, repeated, work.
    """
    while (rclpy.ok(context=context) and not STOP_REQUESTED.is_set()
           and (future is None or not future.done())):
        if future is None:
            executor.spin_once(timeout_sec=0.1)
        else:
            executor.spin_until_future_complete(future, timeout_sec=0.1)


def set_realtime_priority(priority, logger=None):
    """
    Schedule the calling thread SCHED_FIFO at ``priority`` (1-99); 0 leaves it as it is.

    Threads it starts later inherit the policy. Returns True if the policy was set; when the
    process may not (no CAP_SYS_NICE, no rtprio limit, not Linux) it logs a warning and returns
    False. A real-time thread is not preempted by ordinary processes, which is what keeps a
    controller's period steady on a loaded machine (bench/bench_nodes.py measures it); it is
    meant for a thread that sleeps most of the time, like the standalone controller's.
    """
    priority = int(priority)
    if not 0 <= priority <= 99:
        raise ValueError('realtime priority must be within 0..99, got %d' % priority)
    if priority == 0:
        return False
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (AttributeError, OSError) as error:
        if logger is not None:
            logger.warning('could not set SCHED_FIFO priority %d (%s); normal scheduling'
                           % (priority, error))
        return False
    return True


def construct_node(factory, program):
    """
    Return factory(), or None after printing why the configuration is refused.

    A node refuses bad parameters and task files by raising ValueError (or rclpy's
    InvalidParameterValueException / InvalidParameterTypeException for a value outside its
    descriptor's range or of another type) while it is built; the standalone executables print
    that as one line, ``<program>: <reason>``, not a traceback. Other errors (bugs) keep theirs.
    Parameters given that the node does not declare are named in a warning.
    """
    try:
        node = factory()
    except CONFIGURATION_ERRORS as error:
        print('%s: %s' % (program, error), file=sys.stderr)
        return None
    warn_undeclared_parameters(node)
    return node


# parameters that a task file's '/**' section gives every node, which reads them from the file
SHARED_PARAMETER_PREFIXES = ('task.', 'learning.', 'qos_overrides.')


def undeclared_parameters(node, names):
    """Return the ``names`` that ``node`` does not declare, sorted (ROS ignores those)."""
    return sorted(name for name in names if not node.has_parameter(name))


def warn_undeclared_parameters(node):
    """
    Warn about parameters given to ``node`` (parameter file, ``-p``) that it does not declare.

    ROS ignores them silently, so a misspelt name in a node section (``stale_period``) would
    change nothing unseen. (``ps-control run`` refuses them instead: run._construct.)
    """
    given = getattr(node, '_parameter_overrides', {})  # rclpy keeps no public list of them
    unknown = undeclared_parameters(
        node, [name for name in given if not name.startswith(SHARED_PARAMETER_PREFIXES)])
    if unknown:
        node.get_logger().warning('ignoring parameter(s) %s: not parameters of this node '
                                  '(misspelt?)' % ', '.join(unknown))
    if not node.has_parameter('task_name'):
        return
    path = tasks.task_path(node.get_parameter('task_name').value)
    in_file = flatten(read_parameters(path))
    for name in sorted(given):
        if name.startswith(('task.', 'learning.')) and given[name].value != in_file.get(name):
            node.get_logger().warning(
                'ignoring parameter %s = %r: the nodes read the task and learning settings '
                'from the task file, %s (%r there); edit a copy of it and pass that as '
                'task_name' % (name, given[name].value, path, in_file.get(name)))


def run_node(factory, args=None, setup=None, program=None):
    """
    Run one node until shutdown: the body of every node's main().

    rclpy.init(args=args); factory() builds the node (a refused configuration: one line on
    stderr and exit status 2, see construct_node); setup(node), if given, runs next in the
    thread that spins; spin it with make_executor(); destroy it and shut down on exit (Ctrl-C,
    SIGTERM, external shutdown or an error). ``program`` names the executable in error
    messages. SIGINT and SIGTERM are handled here, not by rclpy, whose handlers shut the
    context down at once: the node is destroyed while it can still publish (the controller
    sends zero torque then).
    """
    init_handling_stop_signals(args)
    node = None
    executor = None
    try:
        node = construct_node(factory, program or factory.__name__)
        if node is None:
            return 2
        if setup is not None:
            setup(node)
        executor = make_executor()
        executor.add_node(node)
        spin(executor)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        tear_down(executor, [] if node is None else [node])
    return 0


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_replaced_handlers = {}  # the handlers init_handling_stop_signals replaced, by signal


def init_handling_stop_signals(args=None):
    """
    rclpy.init(args) with SIGINT and SIGTERM handled here: the first sets STOP_REQUESTED.

    rclpy's own handlers shut the context down at once, before the nodes can publish a last
    message (the controller's zero torque) or be destroyed in order; ``spin`` returns instead.
    A second signal acts as without these handlers (KeyboardInterrupt, or the end of the
    process on SIGTERM): it still stops a process busy in a long update.
    ``restore_stop_signals`` (run by ``tear_down``) puts the replaced handlers back.
    """
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    STOP_REQUESTED.clear()
    for number in STOP_SIGNALS:
        _replaced_handlers.setdefault(number, signal.getsignal(number))
        signal.signal(number, _request_stop)


def restore_stop_signals():
    """Put back the handlers init_handling_stop_signals replaced; clear STOP_REQUESTED."""
    while _replaced_handlers:
        number, handler = _replaced_handlers.popitem()
        signal.signal(number, handler)
    STOP_REQUESTED.clear()
    global _stop_signal
    _stop_signal = None


def stop_exit_status():
    """
    Return the shell's exit status for the stop signal received: 128 + its number.

    130 for SIGINT (Ctrl-C), 143 for SIGTERM; None when no stop was requested.
    """
    if not STOP_REQUESTED.is_set() or _stop_signal is None:
        return None
    return 128 + int(_stop_signal)


def _request_stop(signum, frame):
    """
    First SIGINT / SIGTERM of a node process: ``spin`` returns within its time-out.

    It raises nothing: an exception raised while the executor runs a callback from C++ comes
    out as an unrelated RuntimeError (seen with SIGTERM and the EventsExecutor). The next
    signal gets Python's default handling.
    """
    global _stop_signal
    _stop_signal = signum
    STOP_REQUESTED.set()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def tear_down(executor, nodes):
    """
    Shut down the executor (may be None), destroy the nodes and shut rclpy down.

    Every node with a ``send_exit_command`` (a controller: zero torque, out of lockstep) sends
    it before the first one waits for its acknowledgement in ``destroy_node``, so that a process
    with several controllers waits for them together. Then the signal handlers are those from
    before ``init_handling_stop_signals``.
    """
    try:
        if executor is not None:
            executor.shutdown()
        for node in nodes:
            if hasattr(node, 'send_exit_command'):
                node.send_exit_command()
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown()
    finally:
        restore_stop_signals()
