"""The training trace: everything the engine observed, as plain Python values.

Invariants and diagnosis read only this record, so they stay cheap, testable
without TensorFlow, and the same whether the model trained through tfpcheck's
step or the user's own ``train_step``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from tfpcheck._config import Config

__all__ = ["BuildFailure", "ParamViolation", "LayerSummary", "Trace"]


@dataclass(frozen=True)
class BuildFailure:
    """The factory, compile, a forward pass or a training step raised."""

    stage: str  # "factory" | "compile" | "forward" | "train_step"
    error_type: str
    message: str
    cause: str
    fix: str
    step: int | None = None


@dataclass(frozen=True)
class ParamViolation:
    """A distribution parameter left its TFP constraint (first step it happened)."""

    path: str  # e.g. "output.scale", "dense_flipout/kernel_posterior.distribution.scale"
    role: str  # "output" | "posterior" | "prior"
    distribution: str
    constraint: str  # the constraining bijector's name, e.g. "Softplus"
    step: int
    n_bad: int
    n_total: int
    min_value: float
    max_value: float
    #: What the user's code passes this parameter (``t[..., 1:]``), where its source says it
    #: (``_engine/source.py``): the fix quotes it.
    source: str | None = None


@dataclass(frozen=True)
class LayerSummary:
    """A variational layer at one moment: KL per weight and posterior spread against the prior."""

    name: str
    kind: str
    n_weights: int
    kl_per_weight: float
    posterior_stddev: float  # median over weights with non-zero spread
    prior_stddev: float
    prior_trainable: bool
    prior_centre: float = math.nan  # median |mean| over the prior's weights: 0 for the usual N(0, s)


@dataclass
class Trace:
    """What one brief training of one configuration showed."""

    config: Config
    build_failure: BuildFailure | None = None
    losses: list[float] = field(default_factory=list)
    grad_norms: list[float] = field(default_factory=list)
    grad_finite: list[bool] = field(default_factory=list)
    kl_terms: list[float] = field(default_factory=list)
    #: for a model whose own train_step or compute_loss weighs the KL terms: their unweighted sum
    #: per step (the KL terms in the loss, ``kl_terms``, are then its loss less the mean data term)
    kl_raw: list[float] = field(default_factory=list)
    param_violations: list[ParamViolation] = field(default_factory=list)
    output_distribution: str | None = None
    output_parameters: list[str] = field(default_factory=list)  # checked paths, "output.probs"
    #: each checked parameter's (min, max) in the forward pass of the first step whose loss or
    #: gradients were not finite: whether a probs or rate had reached the 0 (or 1) where its log is
    #: -inf. None: every step finite.
    nonfinite_ranges: dict[str, tuple[float, float]] | None = None
    loss_shape: tuple[int, ...] | None = None
    #: the output distribution's values per example at initialisation: its batch shape past the
    #: examples' axis, then its event shape. None for a tensor output, or a distribution whose
    #: first batch axis is not the examples' (a Gaussian process's event holds them).
    example_shape: tuple[int, ...] | None = None
    batch_size: int | None = None
    target_shape: tuple[int, ...] | None = None
    support_nonfinite: int | None = None  # targets with non-finite log-prob at initialisation
    support_examples: list[float] = field(default_factory=list)
    support_error: str | None = None
    support_loss: str | None = None  # a plain Keras loss whose targets they are not (initial.py)
    support_bounds: dict[str, float] = field(default_factory=dict)  # the family's low=/high=
    output_kind: str | None = None  # "distribution", "loss_distribution", or a tensor's words
    #: The plain Keras cross-entropy that reads the tensor output as probabilities (its values
    #: are checked by positive_scales), None for any other output or loss.
    probs_read: str | None = None
    settled: bool | None = None  # the loss had settled when training stopped (schedule.settled)
    evaluations: list[float] = field(default_factory=list)  # whole-set data term every WINDOW steps
    evaluation_steps: list[int] = field(default_factory=list)  # the step of each evaluation
    twin_evaluations: list[tuple[int, float]] = field(default_factory=list)  # (step, the twin's)
    data_terms: list[float] | None = None  # the trained model's data term per example
    twin_terms: list[float] | None = None  # the same for its x-denied twin (engine/train.py)
    prediction_noise: float | None = None  # sd of predictive means across weight draws / sd(y)
    #: sd of the predictive means across weight draws over the predictive's own sd (each
    #: averaged over the examples): 0 for a deterministic model
    draw_spread_ratio: float | None = None
    #: per target column: how far (in the column's standard deviations) the targets' mean lies
    #: outside the range of the trained model's predictive means; 0 where the range covers it
    mean_gaps: list[float] | None = None
    mean_gaps_start: list[float] | None = None  # the same for the untrained model (step 0)
    worst_mean_gap: dict[str, float] | None = None  # that column: target mean, predicted range
    outside_domain: float | None = None  # share of final predictive draws the targets can't take
    domain: str | None = None  # the task's domain in words, e.g. "non-negative counts"
    layers_start: list[LayerSummary] = field(default_factory=list)
    layers_end: list[LayerSummary] = field(default_factory=list)
    #: (step, each tfp.layers variational layer's posterior stddev at its tenth percentile over
    #: the weights: those the data narrow first, a raw-feature slope long before its bias) at
    #: every window's end: whether a posterior is still narrowing when training stops
    posterior_path: list[tuple[int, tuple[float, ...]]] = field(default_factory=list)
    #: the trained first layer's posterior/prior spread along the directions of its kernel the
    #: inputs cannot see (engine/variational.unseen_spread); None where there are none
    unseen_spread: dict[str, Any] | None = None
    custom_train_step: bool = False
    keras: str = "tf_keras"  # or "keras 3" (TensorFlow backend)
    loss_terms_rank: int = 0  # highest rank of an add_loss/KL term (> 0: Keras 3 sums it)
    data_stats: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def steps_run(self) -> int:
        return len(self.losses)

    @property
    def layers_last(self) -> list[LayerSummary]:
        """The variational layers as last seen: at the end, or at the start where training
        stopped on a NaN before the end was observed."""
        return self.layers_end or self.layers_start
