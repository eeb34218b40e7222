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
The learner node: collects episodes over ROS, runs one policy-search iteration, publishes.

One iteration: run the learner's episodes spread over the workers (each worker is a
controller, and in simulation a simulator, in a namespace of its own: ``worker_0``,
``worker_1``, ... with ``num_workers`` > 1, the learner's own namespace with one worker), stack
the transitions the controllers report into states (N, T+1, dx) and the policy's actions before
clipping (N, T, du), and hand them to the learner's ``update``: ps_control.learning.PolicySearch
(gps, saps, esaps, separate: ``samples`` episodes of one policy) or
ps_control.mds_learning.ArmViaPointSearch (g_mds, g_amds: one policy per episode, each a sampled
DMP movement tracked by a linear-Gaussian policy, published to the worker before its episode),
the loops the batch runs use too (the node has no fitting or algorithm code of its own). Then it
checkpoints (atomic write) and publishes the new policy on every worker's ``ps_control/policy``
and the metrics as std_msgs/Float64 topics ``ps_control/metrics/<name>`` (expected_reward,
max_kl, mean_entropy, success_rate, ... for rqt_plot) and one diagnostic_msgs/DiagnosticArray
on ``diagnostics`` (WARN when the policy was kept: the update found no feasible multipliers, or
its search stopped too far over the KL bound).

An episode on a worker: in lockstep, start the episode (the controller arms) and then reset the
simulator (which takes one simulated step, the controller's step 0); in real time, reset, let
the new state reach the controller, then start. Without a simulator (``reset: false``, hardware)
only start. The controller's answer names the episode number its transitions will carry and the
digest of its policy: a controller that has not received the newest policy yet is asked again.
An episode that times out, misses a step or contains a fallback tick (stale or malformed joint
states) is discarded and run again. So is, for the learners that fit dynamics (gps, saps,
esaps, separate), one that diverged: a state beyond the task's ``divergence_bound`` (a NaN
state is a fallback tick already), checked after the episode (the bound is the simulator's
test of an exploding simulation, not a safety limit). Without a reset (``reset: false``,
hardware) such an episode is not run again: the iteration fails at once. G-MDS and G-AMDS
score a diverged episode from the states reported, as a very costly sample, as their batch runs
do.

The learning loop runs as a coroutine on the node's executor, so the learner works in its own
process (``ros2 launch``) and composed with the other nodes in one (ps_control.run); during an
update the executor is busy, which in one process pauses the simulation as well.
"""

import dataclasses
import math
import os
import re
import time

from diagnostic_msgs.msg import DiagnosticArray
from diagnostic_msgs.msg import DiagnosticStatus
from diagnostic_msgs.msg import KeyValue
import numpy as np
from ps_control import learning, learning_config
from ps_control.nodes import common
from ps_control.nodes.messages import policy_digest
from ps_control.nodes.messages import policy_to_msg
from ps_control.nodes.messages import STATUS_OK
from ps_control.nodes.messages import transition_from_msg
from ps_control.nodes.topology import worker_namespaces
from ps_control.output_paths import check_output_file
from ps_control.sim.simulator import diverged
from rclpy.clock import Clock
from rclpy.clock import ClockType
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.task import Future
from std_msgs.msg import Float64
from std_msgs.msg import Float64MultiArray
from std_srvs.srv import Trigger


ALGORITHMS = learning_config.LEARNER_ALGORITHMS
ATTEMPT_SECONDS = 2.0
PUMP_SECONDS = 0.005
PLOTTED = ('expected_reward', 'max_kl', 'mean_entropy', 'success_rate')


class EpisodeError(RuntimeError):
    """An episode could not be run or its data is unusable."""


class DivergedEpisodeError(EpisodeError):
    """An episode reached a state beyond the task's divergence bound: not fitted."""


def _join(namespace, name):
    return name if not namespace else namespace + '/' + name


class Worker:
    """The learner's handles on one controller (and simulator): clients, publisher, buffer."""

    def __init__(self, node, namespace, dx, du, divergence_bound=math.inf):
        self.namespace = namespace
        self.name = namespace or '(own namespace)'
        self.dx, self.du = dx, du
        self.divergence_bound = divergence_bound  # math.inf: diverged episodes are kept
        self.policy_pub = node.create_publisher(Float64MultiArray,
                                                _join(namespace, common.POLICY),
                                                common.LATCHED_QOS)
        self.start = node.create_client(Trigger, _join(namespace, common.START_EPISODE))
        self.stop = node.create_client(Trigger, _join(namespace, common.STOP_EPISODE))
        self.reset = node.create_client(Trigger, _join(namespace, common.RESET))
        node.create_subscription(Float64MultiArray, _join(namespace, common.TRANSITIONS),
                                 self._on_transition, common.TRANSITIONS_QOS)
        self.logger = node.get_logger()
        self.episode = None   # episode number being collected
        self.horizon = None
        self.rows = {}        # step -> (status, x, u, applied torque)
        self.done = None      # Future completed by the terminal tick
        self.bad_messages = 0
        self.digest = ''      # digest of the policy last published to this worker

    def expect(self, episode, horizon):
        """Collect the transitions of an episode from now on; return the Future of its end."""
        self.episode = episode
        self.horizon = horizon
        self.rows = {}
        self.done = Future()
        return self.done

    def _on_transition(self, msg):
        try:
            episode, step, status, x, u, torque = transition_from_msg(msg, self.dx, self.du)
        except ValueError as error:
            self.bad_messages += 1
            if self.bad_messages == 1:
                self.logger.error('worker %s: ignoring malformed transitions: %s'
                                  % (self.name, error))
            return
        if episode != self.episode or self.done is None:
            return
        self.rows[step] = (status, x, u, torque)
        if step >= self.horizon and not self.done.done():
            self.done.set_result(True)

    def arrays(self):
        """Return the states (T+1, dx), actions and applied torques (T, du), or raise."""
        T = self.horizon
        missing = [t for t in range(T + 1) if t not in self.rows]
        if missing:
            raise EpisodeError('episode %d on worker %s misses steps %s'
                               % (self.episode, self.name, missing[:10]))
        fallback = [t for t in range(T + 1) if self.rows[t][0] != STATUS_OK]
        if fallback:
            raise EpisodeError('episode %d on worker %s had safe-fallback ticks at steps %s '
                               '(stale or malformed joint states, or topics shared with another '
                               "node: the controller's log says which)"
                               % (self.episode, self.name, fallback[:10]))
        states = np.array([self.rows[t][1] for t in range(T + 1)])
        actions = np.array([self.rows[t][2] for t in range(T)])
        torques = np.array([self.rows[t][3] for t in range(T)])
        # (a NaN state arrives as a fallback tick above: the controller refuses it)
        bad = np.flatnonzero(diverged(states, self.divergence_bound))
        if bad.size:
            raise DivergedEpisodeError(
                "episode %d on worker %s diverged: its state at step %d is beyond the task's "
                'divergence_bound %g' % (self.episode, self.name, bad[0], self.divergence_bound))
        if not all(np.isfinite(a).all() for a in (states, actions, torques)):
            raise EpisodeError('episode %d on worker %s holds NaN' % (self.episode, self.name))
        return states, actions, torques


class LearnerNode(Node):
    """Runs episodes through the workers and one PolicySearch iteration after another."""

    def __init__(self, **kwargs):
        super().__init__('learner', **kwargs)
        self.task = common.declare_task(self)
        algorithm = common.declare(
            self, 'algorithm', '',
            'Policy search algorithm: %s (empty: as the learning config says).'
            % ', '.join(ALGORITHMS))
        if algorithm and algorithm not in ALGORITHMS:
            raise ValueError('algorithm must be one of %s, got %r' % (ALGORITHMS, algorithm))
        self.iterations = common.declare(
            self, 'iterations', 0, 'Iterations to run (0: as the learning config says).',
            low=0)
        samples = common.declare(self, 'samples', 0,
                                 'Episodes per iteration (0: as the learning config says).',
                                 low=0)
        horizon = common.declare(self, 'horizon', 0,
                                 'Episode length in steps (0: the task horizon; resuming, the '
                                 "checkpoint's).", low=0)
        seed = common.declare(self, 'seed', -1,
                              'Seed of the learning loop (-1: as the learning config says).',
                              low=-1)
        num_workers = common.declare(self, 'num_workers', 1,
                                     'Simulator + controller pairs; namespaces worker_<i> when '
                                     'more than one.', low=1, high=256)
        self.lockstep = common.declare(
            self, 'lockstep', True,
            'The workers run in lockstep (start the episode, then reset) rather than in real '
            'time (reset, then start).')
        self.use_reset = common.declare(
            self, 'reset', True,
            'Reset the simulator before every episode (false on hardware: no reset service).')
        if self.lockstep and not self.use_reset:
            raise ValueError('lockstep: true needs reset: true (in lockstep the reset publishes '
                             'the state an episode starts from); without a reset service (a '
                             'robot) set lockstep: false')
        self.settle_seconds = common.declare(
            self, 'settle_seconds', 0.0,
            'Without a reset (hardware): wall-clock seconds to wait before each episode, for the '
            "robot to come to rest under the controller's fallback_damping.", low=0.0)
        self.checkpoint = common.declare(
            self, 'checkpoint', '',
            'Checkpoint file written after every iteration (empty: none); an existing file is '
            'only continued, with resume true.')
        resume = common.declare(self, 'resume', False,
                                'Resume from the checkpoint file instead of starting afresh.')
        self.episode_timeout = common.declare(
            self, 'episode_timeout', 60.0, 'Wall-clock seconds an episode may take.', low=0.0)
        self.service_timeout = common.declare(
            self, 'service_timeout', 30.0,
            "Wall-clock seconds to wait for the workers' services.", low=0.0)
        self.retries = common.declare(
            self, 'retries', 3, 'Failed episodes of a worker that fail an iteration (each '
            'failed episode is run again until then).',
            low=1)
        self.shutdown_when_done = common.declare(
            self, 'shutdown_when_done', False,
            'Shut the process down after the last iteration (else keep serving the policy).')

        if horizon:
            self.task = dataclasses.replace(self.task, horizon=horizon)
        overrides = {}
        if algorithm:
            overrides['algorithm'] = algorithm
        if seed >= 0:
            overrides['seed'] = seed
        if samples:
            overrides['samples'] = samples
        if self.iterations:
            overrides['iterations'] = self.iterations
        if resume:
            if not self.checkpoint or not os.path.exists(self.checkpoint):
                raise ValueError('resume: true needs an existing checkpoint file, got %r'
                                 % self.checkpoint)
            # without a horizon parameter, the horizon the checkpoint's run had
            self.search = learning.load_search(self.checkpoint, self.task, overrides,
                                               checkpoint_horizon=not horizon)
            self.task = self.search.task
            self.get_logger().info('resumed from %s after %d iterations'
                                   % (self.checkpoint, len(self.search.history)))
        else:
            if self.checkpoint:
                check_output_file(self.checkpoint, 'checkpoint')
            if self.checkpoint and os.path.exists(self.checkpoint):
                raise ValueError('checkpoint file %s exists: set resume: true (ps-control run: '
                                 '--resume) to continue that run, or choose another checkpoint '
                                 'file (it is not overwritten)' % self.checkpoint)
            config = learning_config.load_learning_config(self.task, overrides)
            self.search = learning.make_search(self.task, config)
        self.config = self.search.config
        self.samples = int(self.search.episode_count)
        self.iterations = int(self.config.iterations)

        dx, du = self.task.dx, self.task.du
        # the learners that fit dynamics must not fit a diverged episode; G-(A)MDS score it
        bound = (math.inf if self.config.algorithm in learning_config.MIRROR_DESCENT_ALGORITHMS
                 else self.task.divergence_bound)
        self.workers = [Worker(self, ns, dx, du, bound) for ns in worker_namespaces(num_workers)]
        self.metric_pubs = {}
        for name in PLOTTED:
            self._metric_pub(name)
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, 'diagnostics',
                                                     common.METRICS_QOS)
        self.wall = Clock(clock_type=ClockType.STEADY_TIME)
        self._spent_timers = []
        self._old_timers = []
        # Completing a Future from a callback does not by itself make every executor revisit
        # the coroutine awaiting it: the EventsExecutor revisits blocked tasks only after rcl
        # activity. A no-op wall-clock timer every PUMP_SECONDS provides that activity.
        self._pump = self.create_timer(PUMP_SECONDS, lambda: None, clock=self.wall)
        self.done = Future()     # completed (with the history) when the last iteration ends
        # callables(metrics) run after every iteration; ps_control.run prints the progress
        # line itself, on stdout, and clears log_iterations
        self.on_iteration = []
        self.log_iterations = True
        self.diverged = 0        # episodes of this iteration that diverged (see collect)
        self.publish_policy()
        done = len(self.search.history)
        if done >= self.iterations:  # a resumed run with nothing left: its policy is served
            self.get_logger().info(
                'nothing to learn: the checkpoint has %d iterations of the %d asked for; '
                'serving its policy' % (done, self.iterations))
        else:
            self.get_logger().info(
                'learning %s with %s: %d iterations of %d episodes of %d steps on %d worker(s)'
                % (self.task.name, self.config.algorithm, self.iterations, self.samples,
                   self.task.horizon, len(self.workers)))

    # Publishing -------------------------------------------------------------------------------

    def _metric_pub(self, name):
        if name not in self.metric_pubs:
            self.metric_pubs[name] = self.create_publisher(
                Float64, common.METRICS + '/' + name, common.METRICS_QOS)
        return self.metric_pubs[name]

    def publish_policy(self, workers=None, policy=None):
        """Send a policy (default: the learner's current one) to workers (default: all)."""
        policy = self.search.policy if policy is None else policy
        digest = policy_digest(policy)
        msg = None
        for worker in self.workers if workers is None else workers:
            if worker.digest != digest:
                msg = policy_to_msg(policy) if msg is None else msg
                worker.policy_pub.publish(msg)
                worker.digest = digest

    def publish_metrics(self, metrics):
        """Publish every numeric metric as a Float64 topic and all of them as diagnostics."""
        level, message = metrics_status(metrics)
        status = DiagnosticStatus(level=level, name='ps_control: learner', message=message,
                                  hardware_id=self.task.name)
        for key, value in metrics.items():
            if isinstance(value, (bool, np.bool_)) or not isinstance(
                    value, (int, float, np.integer, np.floating)):
                continue
            name = re.sub(r'[^A-Za-z0-9_]', '_', str(key))
            self._metric_pub(name).publish(Float64(data=float(value)))
            status.values.append(KeyValue(key=name, value='%.6g' % float(value)))
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self.diagnostics_pub.publish(array)

    # Coroutine helpers ------------------------------------------------------------------------

    def sleep(self, seconds):
        """Return a Future that completes after ``seconds`` of wall-clock time."""
        return self.within(Future(), seconds, result=None)

    def within(self, future, seconds, result=TimeoutError):
        """
        Return a Future that completes with future's result, or times out after ``seconds``.

        On time-out it completes with ``result`` (raising it when it is an exception class).
        """
        out = Future()
        # destroy the timers spent before the previous call (never one whose callback may
        # still be on the stack)
        for timer in self._old_timers:
            self.destroy_timer(timer)
        self._old_timers, self._spent_timers = self._spent_timers, []

        def expire():
            timer.cancel()
            if timer not in self._spent_timers:
                self._spent_timers.append(timer)
            if not out.done():
                if isinstance(result, type) and issubclass(result, BaseException):
                    out.set_exception(result('timed out after %.3g s' % seconds))
                else:
                    out.set_result(result)

        def finish(done):
            timer.cancel()
            if timer not in self._spent_timers:
                self._spent_timers.append(timer)
            if not out.done():
                if done.exception() is not None:
                    out.set_exception(done.exception())
                else:
                    out.set_result(done.result())
        timer = self.create_timer(max(seconds, 1e-6), expire, clock=self.wall)
        future.add_done_callback(finish)
        return out

    async def call(self, client, repeat=True):
        """
        Call a Trigger service; return the response or raise EpisodeError.

        With ``repeat`` (idempotent services: start, stop) an unanswered request is sent again
        every ATTEMPT_SECONDS until service_timeout: right after discovery a DDS response can
        be lost while its channel is still being matched.
        """
        deadline = time.monotonic() + self.service_timeout
        while True:
            left = deadline - time.monotonic()
            wait = min(ATTEMPT_SECONDS, left) if repeat else left
            self.get_logger().debug('calling %s (wait %.3g s)' % (client.srv_name, wait))
            try:
                return await self.within(client.call_async(Trigger.Request()), max(wait, 0.0))
            except TimeoutError:
                if not repeat or time.monotonic() >= deadline:
                    raise EpisodeError('service %s did not answer within %.3g s'
                                       % (client.srv_name, self.service_timeout)) from None

    async def wait_for_services(self):
        """Wait until every worker's services are up; raise EpisodeError after the time-out."""
        deadline = time.monotonic() + self.service_timeout
        clients = []
        for worker in self.workers:
            clients += [worker.start, worker.stop] + ([worker.reset] if self.use_reset else [])
        said = False
        while True:
            missing = [c.srv_name for c in clients if not c.service_is_ready()]
            if missing and not said:  # once: a learner started before its workers waits
                self.get_logger().info('waiting up to %.3g s for the services %s'
                                       % (self.service_timeout, ', '.join(missing)))
                said = True
            if not missing:
                await self.sleep(0.5)  # let the response channels match too
                return
            if time.monotonic() > deadline:
                raise EpisodeError('services not available after %.3g s: %s'
                                   % (self.service_timeout, ', '.join(missing)))
            await self.sleep(0.05)

    # Episodes ---------------------------------------------------------------------------------

    async def start(self, worker):
        """Arm the worker's controller with the current policy; return the episode number."""
        deadline = time.monotonic() + self.service_timeout
        said = False
        while True:
            response = await self.call(worker.start)
            if response.success:
                fields = dict(item.split('=', 1) for item in response.message.split()
                              if '=' in item)
                if fields.get('policy') == worker.digest:
                    return int(fields['episode'])
                await self.call(worker.stop)  # armed with an older policy: disarm, ask again
            elif not said:  # once: a robot coming up, another system in the namespace
                self.get_logger().info(
                    'controller of worker %s refused to start an episode (%s); asking again for '
                    'up to %.3g s' % (worker.name, response.message, self.service_timeout))
                said = True
            if time.monotonic() > deadline:
                raise EpisodeError('controller of worker %s cannot start an episode with '
                                   'policy %s: %s' % (worker.name, worker.digest,
                                                      response.message))
            await self.sleep(0.02)

    async def begin(self, worker):
        """Start one episode on a worker; return a Future completed at its terminal tick."""
        horizon = self.task.horizon
        if self.use_reset and not self.lockstep:
            await self._reset(worker)
            await self.sleep(0.1)  # let the new state reach the controller
        if not self.use_reset and self.settle_seconds > 0.0:
            await self.sleep(self.settle_seconds)  # the robot starts where the last one ended
        episode = await self.start(worker)
        self.get_logger().debug('worker %s: episode %d armed' % (worker.name, episode))
        done = worker.expect(episode, horizon)
        if self.use_reset and self.lockstep:
            await self._reset(worker)
        return self.within(done, self.episode_timeout)

    async def finish(self, worker, done):
        """Wait for an episode begun on a worker; return (states, actions, torques) or raise."""
        self.get_logger().debug('worker %s: waiting for episode %s' % (worker.name,
                                                                       worker.episode))
        try:
            await done
        except TimeoutError:
            rows = len(worker.rows)
            worker.episode = None
            await self.call(worker.stop)
            raise EpisodeError('episode on worker %s timed out after %.3g s with %d of %d '
                               'steps' % (worker.name, self.episode_timeout, rows,
                                          worker.horizon + 1)) from None
        try:
            return worker.arrays()  # its errors name the episode
        finally:
            worker.episode = None

    async def _reset(self, worker):
        # out of lockstep the reset comes before the start, so a request sent again is harmless
        # (a simulator restarted after a crash never got the first); in lockstep it comes after
        response = await self.call(worker.reset, repeat=not self.lockstep)
        if not response.success:
            raise EpisodeError('reset of worker %s failed: %s' % (worker.name,
                                                                  response.message))

    async def collect(self):
        """
        Run the iteration's episodes over all workers; return states, actions, torques stacked.

        Episode j runs the learner's ``episode_policy(j)`` (published to its worker first) and
        fills row j. Rounds of one episode on every worker while episodes are left, all running
        at once; a failed episode is run again; a worker's ``retries``-th failed episode in one
        iteration fails the iteration. For the learners that fit dynamics, an episode that
        diverged (a state beyond the task's divergence_bound: the simulator node publishes the
        state it reached) is one such failure, counted in ``self.diverged``; it is never
        fitted. G-MDS and G-AMDS score it (their bound is inf), as their batch runs do.
        The torques are those the controller applied (its effort limits may be below the
        task's), which the learner scores.
        """
        count = self.search.episode_count
        pending = list(range(count))
        failures = [0] * len(self.workers)
        episodes = {}
        self.diverged = 0
        while pending:
            running = []
            for i, worker in enumerate(self.workers):
                if not pending:
                    break
                index = pending.pop(0)
                try:
                    self.publish_policy([worker], self.search.episode_policy(index))
                    running.append((i, index, await self.begin(worker)))
                except EpisodeError as error:
                    pending.append(index)
                    self._failed(i, failures, error)
            for i, index, done in running:
                try:
                    episodes[index] = await self.finish(self.workers[i], done)
                except EpisodeError as error:
                    pending.append(index)
                    self._failed(i, failures, error)
        return tuple(np.stack([episodes[j][part] for j in range(count)]) for part in range(3))

    def _failed(self, index, failures, error):
        self.diverged += isinstance(error, DivergedEpisodeError)
        if isinstance(error, DivergedEpisodeError) and not self.use_reset:
            raise EpisodeError('%s; not run again without a reset (reset: false): the robot '
                               'would repeat it from wherever it stopped' % error)
        failures[index] += 1
        if failures[index] >= self.retries:
            raise EpisodeError('%s (failure %d of %d allowed on this worker)'
                               % (error, failures[index], self.retries))
        self.get_logger().warning('%s; running it again' % error)

    # The loop ---------------------------------------------------------------------------------

    async def run(self):
        """Run the remaining iterations; complete ``self.done`` with the history."""
        try:
            await self.wait_for_services()
            while len(self.search.history) < self.iterations:
                began = time.monotonic()
                states, actions, torques = await self.collect()
                collected = time.monotonic()
                recorded = self.search.update(states, actions, torques)
                # episodes not fitted and run again (train counts the rollouts it drops)
                recorded['diverged'] = self.diverged
                metrics = dict(recorded)
                if self.checkpoint:
                    self.search.save(self.checkpoint)
                self.publish_policy()
                self.publish_metrics(metrics)
                metrics['collect_seconds'] = collected - began
                metrics['update_seconds'] = time.monotonic() - collected
                metrics['episodes'] = int(states.shape[0])
                if self.log_iterations:
                    self.get_logger().info(format_metrics(metrics))
                level, message = metrics_status(metrics)
                if level != DiagnosticStatus.OK or 'refit' in metrics:
                    self.get_logger().warning(message)
                for callback in self.on_iteration:
                    callback(metrics)
            self.get_logger().info('done: %d iterations' % len(self.search.history))
            self.done.set_result(list(self.search.history))
        except Exception as error:  # noqa: B902 (reported through the future and the log)
            self.get_logger().error('learning stopped: %s' % error)
            self.done.set_exception(error)


def metrics_status(metrics):
    """
    Return (diagnostic level, message) of an iteration's metrics.

    WARN when the policy was kept (PolicySearch.kept_policy_metrics: 'update_error') or episodes
    diverged ('diverged' > 0: run again, not fitted), OK otherwise; the message adds
    PolicySearch.update_note (why the policy was kept, or that the update was made on a refit)
    and the number of diverged episodes.
    """
    message = 'iteration %s' % metrics.get('iteration', '?')
    notes = [learning.PolicySearch.update_note(metrics)]
    if metrics.get('diverged'):
        notes.append('%d episodes diverged and were run again' % metrics['diverged'])
    notes = [note for note in notes if note is not None]
    if notes:
        message = '%s: %s' % (message, '; '.join(notes))
    warn = 'update_error' in metrics or metrics.get('diverged', 0) > 0
    return (DiagnosticStatus.WARN if warn else DiagnosticStatus.OK), message


def format_metrics(metrics):
    """Return the one-line progress report of an iteration (the learner's metrics)."""
    def number(key):
        value = metrics.get(key, math.nan)
        return float(value) if isinstance(value, (int, float, np.number)) else math.nan
    via = ''
    if 'via_error' in metrics:
        via = ', mean cost %.4g, via-point error %.4f' % (
            number('mean_cost'), number('via_error'))
    bound = ' (bound %.3g)' % number('epsilon') if 'epsilon' in metrics else ''
    return ('iteration %d: expected reward %.4g, max KL %.3g%s, entropy %.3g, success %.2f%s '
            '(%d episodes in %.2f s, update %.2f s)'
            % (int(number('iteration')), number('expected_reward'), number('max_kl'), bound,
               number('mean_entropy'), number('success_rate'), via,
               int(metrics.get('episodes', 0)), number('collect_seconds'),
               number('update_seconds')))


def main(args=None):
    """Run the learner node (the workers' nodes run elsewhere, e.g. by ros2 launch)."""
    common.init_handling_stop_signals(args)
    node = None
    executor = None
    status = 0
    try:
        node = common.construct_node(LearnerNode, 'learner_node')
        if node is None:
            return 2
        executor = common.make_executor()
        executor.add_node(node)
        executor.create_task(node.run)
        common.spin(executor, future=node.done)
        if not node.done.done():  # stopped (Ctrl-C, SIGTERM) before the end
            return status
        if node.done.exception() is not None:
            status = 1
        elif not node.shutdown_when_done:
            common.spin(executor)  # keep the latched policy and the metrics topics up
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        common.tear_down(executor, [] if node is None else [node])
    return status


if __name__ == '__main__':
    raise SystemExit(main())
