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
The ``learning:`` section of a task file: the learners' hyper-parameters and their parsing.

``LearningConfig`` holds and validates them; ``learning_config_from_mapping`` builds one from
the mapping (with per-algorithm sub-sections and command-line overrides), naming any unknown or
ill-typed key. The learners themselves are in ps_control.learning and ps_control.mds_learning.
"""

from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np

ALGORITHMS = ('gps', 'saps', 'esaps', 'separate')  # the KL-bounded updates PolicySearch runs
MIRROR_DESCENT_ALGORITHMS = ('g_mds', 'g_amds')  # what ArmViaPointSearch runs
LEARNER_ALGORITHMS = ALGORITHMS + MIRROR_DESCENT_ALGORITHMS  # everything make_search builds
# learning sections named after a family of algorithms: they apply to each of its members,
# before the member's own section
SECTION_FAMILIES = {'mirror_descent': MIRROR_DESCENT_ALGORITHMS}
# learning.mirror_step when the task file leaves it out: G-MDS's h (Miyashita et al. 2018, sec. 4:
# 10) and the G-AMDS s whose x-step has that temperature with 10 samples (ps_control.core.amds)
DEFAULT_MIRROR_STEPS = {'g_mds': 10.0, 'g_amds': 133.33}


@dataclass(frozen=True)
class LearningConfig:
    """
    Hyper-parameters of the learning loop (the ``learning:`` section of config/<task>.yaml).

    epsilon: the per-step KL bound (eq. 3.3c for GPS and the separate bounds, 4.1c for
    SAPS/ESAPS).
    state_epsilon: the separate bounds only (thesis 7.1): the per-step bound on KL(mu_t || q_t).
    entropy_delta: ESAPS only; the policy entropy may fall by at most this many nats per step and
    update, i.e. delta_t = -(H(q_t) - entropy_delta) in eq. 5.1d (0 keeps the entropy).
    initial_policy_gain_p / _d / _std: the initial policy u = Kp (q_0 - q) - Kd qd + noise, a PD
    controller holding the initial posture, with exploration noise std (N m).
    prior_iterations: how many recent iterations of samples build the GMM dynamics prior;
    prior_max_rollouts caps the rollouts of those iterations it keeps (the most recent), so with
    more samples per iteration than this the prior holds the current iteration only;
    prior_max_clusters / prior_min_cluster_samples: the GMM has min(prior_max_clusters,
    transitions / prior_min_cluster_samples) components (cbfinn/gps); prior_strength: its
    pseudo-count in the normal-inverse-Wishart prior; fit_ridge: the relative regularisation of
    the (x, u) covariance of each step's fit (ps_control.core.dynamics_fit.DynamicsFitter).
    refit_scale_floor: when the update on the fitted model cannot be applied (no feasible
    multipliers, or the search stopped more than reject_kl_excess over its bound), the dynamics
    are fitted once more with every (x, u) dimension's variance at each step raised by this
    share of its variance over the whole batch (DynamicsFitter.fit's ``scale_floor``), and the
    update is tried again on that model; 0: no second try (``PolicySearch.update``).
    state_covariance_floor: added (times I) to the initial state covariance fitted to the
    rollouts' first states.
    reject_kl_excess: an update whose dual search stopped unconverged with a step's bound value
    more than this share above its bound is rejected: the policy is kept (``PolicySearch.update``).
    step_adaptation: scale epsilon (and state_epsilon) by a multiplier adapted to how much of the
    model's predicted improvement the true system realised (``PolicySearch.step_multiplier``);
    off by default, as in the thesis. step_multiplier_min / _max bound the multiplier.
    limit_penalty: weight w (reward per squared action unit) of the learner's penalty
    -w max(0, |a_i| - l_i)^2 on actions beyond the effort limits l, quadratised at the mean
    actions of the policy being improved under the fitted model (``PolicySearch.update_reward``,
    ps_control.core.action_limits; not in the thesis); 0: off. It changes the reward the update
    maximises, not the reward recorded.

    G-MDS and G-AMDS only (ps_control.mds_learning; defaults are the paper's settings, except
    where said):
    dmp_basis basis functions per joint, search_std the sampling standard deviation of the DMP
    weights, mirror_step the mirror-descent step: G-MDS's h (eq. 14) or G-AMDS's s, by default
    DEFAULT_MIRROR_STEPS of the algorithm, with mirror_r (r) and mirror_eps (eps) the
    accelerated mirror descent constants (s = 133.33 gives the x-step G-MDS's temperature 10
    with 10 samples; the reference code's s = 10 leaves late updates nearly blind to the costs,
    see ps_control.core.amds),
    search_adapt_rate the optional diagonal covariance adaptation (0: off, as in the paper),
    evaluate_mean one extra rollout per iteration of the search mean (the paper's evaluation);
    the computed-torque tracking controller: natural frequency (rad / s) and damping ratio of
    every joint's error, the fraction tracking_feedforward of the inverse-dynamics feed-forward
    M(q) qdd + C(q, qd) qd, and its action noise std (N m), by default the values of every
    config/arm*.yaml (measured there, not the paper's); via_tolerance (m) defines a successful
    rollout.
    """

    algorithm: str = 'esaps'
    iterations: int = 25
    samples: int = 25
    epsilon: float = 0.5
    entropy_delta: float = 0.0
    state_epsilon: float = 0.5
    initial_policy_gain_p: float = 1.0
    initial_policy_gain_d: float = 0.1
    initial_policy_std: float = 1.0
    prior_iterations: int = 3
    prior_max_rollouts: int = 100
    prior_max_clusters: int = 20
    prior_min_cluster_samples: int = 20
    prior_strength: float = 1.0
    fit_ridge: float = 1e-6
    refit_scale_floor: float = 1e-3
    limit_penalty: float = 0.0
    reject_kl_excess: float = 0.1
    step_adaptation: bool = False
    step_multiplier_min: float = 0.1
    step_multiplier_max: float = 10.0
    state_covariance_floor: float = 1e-6
    seed: int = 0
    dmp_basis: int = 100
    search_std: float = 1.0
    mirror_step: float = None  # None: DEFAULT_MIRROR_STEPS of the algorithm
    mirror_r: float = 3.0
    mirror_eps: float = 0.3
    search_adapt_rate: float = 0.0
    evaluate_mean: bool = True
    tracking_frequency: float = 35.0
    tracking_damping_ratio: float = 1.0
    tracking_feedforward: float = 1.0
    tracking_action_std: float = 1e-6
    via_tolerance: float = 0.02

    def __post_init__(self):
        if self.algorithm not in LEARNER_ALGORITHMS:
            raise ValueError('learning.algorithm must be one of %s, got %r'
                             % (', '.join(LEARNER_ALGORITHMS), self.algorithm))
        if self.mirror_step is None:  # frozen: set once, here
            object.__setattr__(self, 'mirror_step', DEFAULT_MIRROR_STEPS.get(
                self.algorithm, DEFAULT_MIRROR_STEPS['g_amds']))
        for name in ('iterations', 'samples', 'prior_iterations', 'prior_max_rollouts',
                     'prior_max_clusters', 'prior_min_cluster_samples', 'dmp_basis'):
            if not isinstance(getattr(self, name), (int, np.integer)) or getattr(self, name) < 1:
                raise ValueError('learning.%s must be an integer >= 1, got %r'
                                 % (name, getattr(self, name)))
        if self.samples < 2:
            raise ValueError('learning.samples must be >= 2, got %d' % self.samples)
        for name in ('epsilon', 'state_epsilon', 'initial_policy_std', 'state_covariance_floor',
                     'step_multiplier_min', 'step_multiplier_max', 'prior_strength'):
            value = getattr(self, name)
            if not np.isfinite(value) or value <= 0:
                raise ValueError('learning.%s must be a finite number > 0, got %r'
                                 % (name, value))
        for name in ('initial_policy_gain_p', 'initial_policy_gain_d', 'entropy_delta'):
            if not np.isfinite(getattr(self, name)):
                raise ValueError('learning.%s must be finite' % name)
        if self.step_multiplier_min > self.step_multiplier_max:
            raise ValueError('learning.step_multiplier_min (%r) must not exceed '
                             'learning.step_multiplier_max (%r)'
                             % (self.step_multiplier_min, self.step_multiplier_max))
        for name in ('reject_kl_excess', 'fit_ridge', 'refit_scale_floor', 'limit_penalty'):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise ValueError('learning.%s must be a finite number >= 0, got %r'
                                 % (name, value))
        for name in ('search_std', 'mirror_step', 'mirror_eps', 'tracking_action_std',
                     'via_tolerance'):
            value = getattr(self, name)
            if not np.isfinite(value) or value <= 0:
                raise ValueError('learning.%s must be a finite number > 0, got %r'
                                 % (name, value))
        for name in ('tracking_frequency', 'tracking_damping_ratio', 'tracking_feedforward'):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise ValueError('learning.%s must be a finite number >= 0, got %r'
                                 % (name, value))
        if not self.mirror_r >= 2:
            raise ValueError('learning.mirror_r (averaging rate r of accelerated mirror descent) '
                             'must be >= 2, got %r' % (self.mirror_r,))
        if not 0.0 <= self.search_adapt_rate <= 1.0:
            raise ValueError('learning.search_adapt_rate must be in [0, 1], got %r'
                             % (self.search_adapt_rate,))


def learning_config_from_mapping(mapping, overrides=None):
    """
    Build a LearningConfig from the ``learning:`` mapping of a task file plus overrides.

    A sub-mapping named after an algorithm (``learning.g_amds:``) holds that algorithm's own
    values: they replace the common ones when it is the algorithm run (the overrides win over
    both). A sub-mapping named after a family of algorithms (SECTION_FAMILIES:
    ``learning.mirror_descent:`` for g_mds and g_amds) comes in between: the common values, the
    family's, the algorithm's, the overrides. Unknown keys are an error naming the key (a typo
    must not silently fall back to a default).
    """
    known = {f.name: f.type for f in fields(LearningConfig)}
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    common = dict(mapping or {})
    sections = {k: common.pop(k) for k in list(common) if isinstance(common[k], Mapping)}
    bad = sorted(set(sections) - set(LEARNER_ALGORITHMS) - set(SECTION_FAMILIES))
    if bad:
        raise ValueError('unknown learning section(s): %s (a section must be named after an '
                         'algorithm or family: %s)'
                         % (', '.join('learning.' + b for b in bad),
                            ', '.join(LEARNER_ALGORITHMS + tuple(SECTION_FAMILIES))))
    for name, section in sections.items():  # a typo in any section is an error, run or not
        unknown = sorted(set(section) - set(known))
        if unknown:
            raise ValueError('unknown learning parameter(s): %s (known: %s)'
                             % (', '.join('learning.%s.%s' % (name, u) for u in unknown),
                                ', '.join(sorted(known))))
    algorithm = overrides.get('algorithm', common.get('algorithm'))
    values = dict(common)
    for family, members in SECTION_FAMILIES.items():
        if algorithm in members:
            values.update(sections.get(family, {}))
    values.update(sections.get(algorithm, {}))
    values.update(overrides)
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError('unknown learning parameter(s): %s (known: %s)'
                         % (', '.join('learning.' + u for u in unknown), ', '.join(sorted(known))))
    converted = {}
    for name, value in values.items():
        kind = known[name] if isinstance(known[name], type) else {
            'str': str, 'int': int, 'float': float, 'bool': bool}[known[name]]
        if kind is bool:
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError('learning.%s must be true or false, got %r' % (name, value))
            converted[name] = bool(value)
            continue
        try:
            if kind is int and (isinstance(value, bool) or float(value) != int(value)):
                raise ValueError
            converted[name] = kind(value)
        except (TypeError, ValueError, OverflowError):
            raise ValueError('learning.%s must be %s, got %r'
                             % (name, 'an integer' if kind is int else 'a ' + kind.__name__,
                                value)) from None
    return LearningConfig(**converted)


def load_learning_config(task, overrides=None):
    """
    Return the LearningConfig of ``task`` (its ``learning`` mapping) with ``overrides``.

    The task file's own settings are checked first, whatever the overrides replace; errors
    name the file (``task.source``).
    """
    mapping = getattr(task, 'learning', None)
    source = getattr(task, 'source', None)
    try:
        learning_config_from_mapping(mapping)
        return learning_config_from_mapping(mapping, overrides)
    except ValueError as error:
        raise ValueError('%s%s' % ('%s: ' % source if source else '', error)) from None
