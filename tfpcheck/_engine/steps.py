"""The traced training step, and a window of steps in one call.

What tfpcheck observes at each step (the loss, gradients, every distribution's parameters, the
per-example loss shape, KL terms) is returned from the traced step that trains, so observing
costs no extra pass. Calling a traced function from Python costs far more than one step of a
small network (measured on a two-layer DenseFlipout network: 0.55 ms a step called one at a
time, 0.18 ms in a loop inside one call), so a model trains a window of steps per call: the
step in a loop (what Keras' ``steps_per_execution`` does), each step's record packed into one
row and returned. A window stops training after STOP_AFTER_NONFINITE non-finite losses in a row,
as the one-at-a-time loop does, or after a step whose gradients were not finite: its update made
the weights NaN, and the next forward pass would sample a tfp.layers head from NaN parameters,
which for a Poisson or NegativeBinomial never returns (tensorflow/tensorflow#55243).
A window that raises is undone (every variable put back) and its steps are run one at a time,
so that the step that raises is the one reported.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import tensorflow as tf

from tfpcheck._engine import reuse, tracing
from tfpcheck._engine.constraints import parameter_checks, probability_check, unwrap
from tfpcheck._engine.inputs import feed
from tfpcheck._engine.instrument import (
    Recorder,
    capture_distributions,
    probabilities_read,
    record_likelihood,
    step_variables,
)
from tfpcheck._engine.variational import layer_distributions, variational_layers

__all__ = ["STOP_AFTER_NONFINITE", "StepFailed", "Stepper", "stepper"]

#: Consecutive non-finite losses after which training stops (the weights are NaN by then).
STOP_AFTER_NONFINITE = 5

Meta = dict[str, tuple[str, str, str]]


class StepFailed(Exception):
    """Training step ``step`` raised ``error``."""

    def __init__(self, step: int, error: Exception) -> None:
        super().__init__(f"step {step}: {error}")
        self.step, self.error = step, error


def stepper(model: Any) -> Stepper:
    """The model's :class:`Stepper`, made once (it holds the traced functions)."""
    if not hasattr(model, "_tfpcheck_stepper"):  # untracked: Keras 3 copies what it tracks
        object.__setattr__(model, "_tfpcheck_stepper", Stepper(model))
    return model._tfpcheck_stepper


class Stepper:
    """Trains a model step by step, returning each step's record as NumPy values."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.body, self.meta = _step_body(model)
        # The optimizer's slots made now, as Keras' own step has them: made inside the traced
        # step instead, the first Adam steps went elsewhere (a Dense Normal regression, same
        # seed and batches: losses 3.29, 2.05, 1.42 against Keras' 3.29, 2.67, 2.25).
        with contextlib.suppress(Exception):  # a legacy optimizer, an unbuilt model: its step makes them
            model.optimizer.build(model.trainable_variables)
        xla = model._tfpcheck_xla or None
        self._xla = xla
        self._step: Any = None  # one step a call: made where a window can't run
        self._window = tracing.function(self._steps, reduce_retracing=True)
        # A window's TensorArray grows with the steps run, which XLA can't compile: one step a call.
        self._windows = not xla
        self._structure: Any = None  # each record leaf's TensorSpec, set when the window traces
        self._unpack: _Unpacker | None = None
        self._variables: list[Any] | None = None
        self._concrete: dict[tuple[Any, ...], Any] = {}

    def run(self, x: np.ndarray, y: np.ndarray, batches: list[np.ndarray], start: int) -> Iterator[
            dict[str, Any]]:
        """The records of steps ``start``.. on ``batches`` (one index array a step), in order
        (fewer after STOP_AFTER_NONFINITE non-finite losses in a row); raises
        :class:`StepFailed` (after the records of the steps before it)."""
        if not self._windows:
            yield from self._singly(x, y, batches, start)
            return
        if self._variables is None:  # walking a Keras model's variables costs ~25 ms: once
            self._variables = step_variables(self.model)
        state = [(v, v.numpy()) for v in self._variables]
        try:
            with reuse.capture() as created:  # by the first trace: slots of an unbuilt optimizer
                records = self._in_window(x, y, batches)
        except Exception:  # noqa: BLE001 - undone, and stepped singly: the step that raises says why
            _restore(self.model, state + [(v, value) for v, _, value in created.variables])
            yield from self._singly(x, y, batches, start)
            self._windows = False  # the steps run singly where the window did not: stay so
            return
        if created.variables:
            self._variables = None  # walked again next time, with what the trace created
        yield from records

    def _singly(self, x: np.ndarray, y: np.ndarray, batches: list[np.ndarray], start: int) -> Iterator[
            dict[str, Any]]:
        if self._step is None:
            self._step = tracing.function(self.body, reduce_retracing=True, jit_compile=self._xla)
        for k, idx in enumerate(batches):
            try:
                out = self._step(tf.constant(x[idx]), tf.constant(y[idx]))
            except Exception as exc:  # noqa: BLE001
                raise StepFailed(start + k, exc) from exc
            yield tf.nest.map_structure(np.asarray, out)

    def _in_window(self, x: np.ndarray, y: np.ndarray, batches: list[np.ndarray]) -> list[dict[str, Any]]:
        index = np.stack(batches)
        xs, ys = tf.constant(x[index]), tf.constant(y[index])
        rows = np.asarray(self._window_for(xs, ys)(xs, ys))
        if self._unpack is None or self._unpack.structure is not self._structure:
            self._unpack = _Unpacker(self._structure)
        return self._unpack(rows)

    def _window_for(self, xs: Any, ys: Any) -> Any:
        """The window traced once for any number of steps and any batch size, as Keras' own
        ``fit`` traces its step (a trace per window length would keep a second copy of the loop,
        ~10 MB a model; traced with the batch size, a model drawing three traced twice, ~0.6 s
        each for a DenseFlipout network, before ``reduce_retracing`` relaxed the batch)."""
        key = (tuple(xs.shape[2:]), tuple(ys.shape[2:]))
        if key not in self._concrete:
            specs = [tf.TensorSpec([None, None, *t.shape[2:]], t.dtype) for t in (xs, ys)]
            self._concrete[key] = self._window.get_concrete_function(*specs)
        return self._concrete[key]

    def _steps(self, xs: Any, ys: Any) -> Any:
        """The step in a ``tf.while_loop`` (as Keras' ``steps_per_execution`` loop), each step's
        record packed into one float64 row of a TensorArray (its structure is learnt as the loop
        body traces: no separate trace of the step). The loop ends once STOP_AFTER_NONFINITE
        losses in a row were not finite, or after a step whose gradients were not finite; the
        guard is in the loop's condition (a ``tf.cond`` around the step would keep another copy
        of it, ~8 MB a model)."""
        n = tf.shape(xs)[0]

        def more(k: Any, nonfinite: Any, weights_ok: Any, rows: Any) -> Any:
            return tf.logical_and(tf.logical_and(k < n, nonfinite < STOP_AFTER_NONFINITE), weights_ok)

        def one(k: Any, nonfinite: Any, weights_ok: Any, rows: Any) -> tuple[Any, Any, Any, Any]:
            record = self.body(xs[k], ys[k])
            rows = rows.write(k, self._packed(record))
            nonfinite = tf.where(tf.math.is_finite(record["loss"]), 0, nonfinite + 1)
            return k + 1, nonfinite, tf.cast(record["grad_finite"], tf.bool), rows

        start = (tf.constant(0), tf.constant(0), tf.constant(True),
                 tf.TensorArray(tf.float64, size=0, dynamic_size=True))
        return tf.while_loop(more, one, start)[3].stack()

    @tf.autograph.experimental.do_not_convert  # plain TF ops: nothing to convert
    def _packed(self, record: Any) -> Any:
        """The record's leaves flattened into one float64 vector (exact for the losses, norms,
        counts and flags it holds); its structure kept for unpacking."""
        structure = tf.nest.map_structure(lambda t: tf.TensorSpec(t.shape, t.dtype), record)
        if not all(s.shape.is_fully_defined() for s in tf.nest.flatten(structure)):
            raise ValueError("a step record of unknown shape: stepped singly")
        if self._structure is not None and structure != self._structure:
            raise ValueError("the step's record changed between traces")
        self._structure = structure
        return tf.concat([tf.reshape(tf.cast(v, tf.float64), [-1]) for v in tf.nest.flatten(record)], 0)


class _Unpacker:
    """A window's rows back into one record a step. Each leaf's columns are cut out of every row
    at once and each record is built by a function made once from the structure: splitting and
    packing row by row with ``tf.nest`` cost ~0.2 ms a step, a fifth of a reused configuration
    of ``benchmarks/throughput.py``'s network (100 steps, model and twin)."""

    def __init__(self, structure: Any) -> None:
        self.structure = structure
        self.specs = tf.nest.flatten(structure)
        self.bounds = np.cumsum([0] + [int(np.prod(s.shape)) for s in self.specs]).tolist()
        self.build = _builder(tf.nest.pack_sequence_as(structure, list(range(len(self.specs)))))

    def __call__(self, rows: np.ndarray) -> list[Any]:
        n = len(rows)
        if not n:
            return []
        leaves = [rows[:, a:b].reshape((n, *s.shape)).astype(s.dtype.as_numpy_dtype)
                  for a, b, s in zip(self.bounds[:-1], self.bounds[1:], self.specs, strict=True)]
        return [self.build(leaves, k) for k in range(n)]


def _builder(template: Any) -> Callable[[list[np.ndarray], int], Any]:
    """A function of (leaves, step) that makes that step's record: ``template`` is the record's
    structure with each leaf's index in its place. Plain dicts, lists and tuples (what a step
    record holds) are built directly; any other node through ``tf.nest``."""
    if type(template) is int:
        return lambda leaves, k: leaves[template][k]
    if type(template) is dict:
        parts = [(key, _builder(value)) for key, value in template.items()]
        return lambda leaves, k: {key: part(leaves, k) for key, part in parts}
    if type(template) in (list, tuple):
        kind, items = type(template), [_builder(value) for value in template]
        return lambda leaves, k: kind(item(leaves, k) for item in items)
    return lambda leaves, k: tf.nest.map_structure(lambda i: leaves[i][k], template)


def _restore(model: Any, state: list[tuple[Any, np.ndarray]]) -> None:
    for variable, value in state:
        variable.assign(value)


def _step_body(model: Any) -> tuple[Callable[..., Any], Meta]:
    """One training step as a function to trace, and, filled at trace time, each checked
    parameter's metadata (role, distribution, constraint)."""
    recorder: Recorder = model._tfpcheck_recorder
    layers = variational_layers(model)
    meta: Meta = {}

    def step(x: Any, y: Any) -> dict[str, Any]:
        recorder.clear()
        # Posteriors and priors as this step's forward pass sees them (before the update).
        layer_checks = [
            (c, role)
            for layer in layers
            for label, role, d in layer_distributions(layer)
            for c in parameter_checks(d, label)
        ]
        layer_summaries = {c.path: c.summary() for c, _ in layer_checks}
        for metric in _metrics(model):
            metric.reset_state()
        found: list[Any] = []
        values: list[Any] = []
        # Its own compute_loss or train_step assembles the loss: what it scored the targets with.
        scored_in_step = model._tfpcheck_own_loss or model._tfpcheck_own_step
        watch = capture_distributions(found, values) if scored_in_step else contextlib.nullcontext()
        with tf.control_dependencies(tf.nest.flatten(layer_summaries)), watch:
            logs = model.train_step((feed(model, x), y))
        if scored_in_step:
            record_likelihood(recorder, found, values, x.shape[0])
        dist = recorder.distribution
        if dist is None and "loss_shape" not in recorder.tensors:
            # A custom train_step that bypasses the compiled loss: check what the model outputs.
            output = model(feed(model, x), training=True)
            dist = output if hasattr(unwrap(output), "log_prob") else None
        output_checks = list(parameter_checks(dist, "output")) if dist is not None else []
        read = probabilities_read(model._tfpcheck_loss) if "probs" in recorder.tensors else None
        if read is not None:  # a cross-entropy's probabilities: role "loss"
            output_checks = [probability_check(recorder.tensors["probs"], read)]
        checks = [(c, "output" if read is None else "loss") for c in output_checks] + layer_checks
        for c, role in checks:
            meta[c.path] = (role, c.distribution, type(c.bijector).__name__)
        loss = _step_loss(logs)
        terms = [tf.reduce_sum(tf.cast(t, tf.float32)) for t in model.losses]
        kl = model._tfpcheck_kl_factor * tf.add_n(terms) if terms else tf.constant(0.0)
        # A train_step or compute_loss of the model's own weighs the KL terms itself: as its
        # loss holds them, its loss less the mean data term it scored (``train.weighed_by_the_step``
        # checks that this is one multiple of them).
        own = scored_in_step and "data_term" in recorder.tensors
        return {
            "loss": loss,
            "grad_norm": recorder.tensors.get("grad_norm", tf.constant(np.nan)),
            "grad_finite": recorder.tensors.get("grad_finite", tf.constant(True)),
            "loss_shape": recorder.tensors.get("loss_shape", tf.constant([-1])),
            "kl": loss - recorder.tensors["data_term"] if own else kl,
            **({"kl_raw": kl} if own else {}),
            "loss_terms_rank": tf.constant(max((len(t.shape) for t in model.losses), default=0)),
            "params": {
                **{c.path: c.summary() for c in output_checks},
                **layer_summaries,
            },
        }

    return step, meta


def _metrics(model: Any) -> list[Any]:
    """The metrics a step resets, so that its ``loss`` is this batch's: ``model.metrics``, and the
    compiled loss's running mean, which tf_keras lists there only once its container is built,
    inside the first ``train_step``, after that step's resets were traced. Missed, every
    recorded loss was the mean of all the steps before it (measured: step-to-step changes of
    1e-3 where the batch losses differ by 0.17), which smoothed blow-ups and sampling noise away."""
    metrics = list(model.metrics)
    running = getattr(getattr(model, "compiled_loss", None), "_total_loss_mean", None)
    if running is not None and all(m is not running for m in metrics):
        metrics.append(running)
    return metrics


@tf.autograph.experimental.do_not_convert  # plain TF ops: nothing to convert
def _step_loss(logs: Any) -> Any:
    if isinstance(logs, Mapping):
        if "loss" in logs:
            return tf.cast(tf.reduce_mean(logs["loss"]), tf.float32)
        for value in logs.values():
            return tf.cast(tf.reduce_mean(value), tf.float32)
    return tf.cast(tf.reduce_mean(logs), tf.float32)
