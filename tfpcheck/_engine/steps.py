"""The traced training step, and a window of steps in one call.

What tfpcheck observes at each step (the loss, gradients, every distribution's parameters, the
per-example loss shape, KL terms) is returned from the traced step that trains, so observing
costs no extra pass. Calling a traced function from Python costs far more than one step of a
small network (measured on a two-layer DenseFlipout network: 0.55 ms a step called one at a
time, 0.18 ms in a loop inside one call), so a model trains a window of steps per call: the
step in a ``tf.range`` loop (what Keras' ``steps_per_execution`` does), each step's record
stacked and returned. A window stops training after STOP_AFTER_NONFINITE
non-finite losses in a row, as the one-at-a-time loop did (a sampler fed NaN may never return).
A window that raises is undone (every variable put back) and its steps are run one at a time,
so that the step that raises is the one reported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import nullcontext
from typing import Any

import numpy as np
import tensorflow as tf

from tfpcheck._engine.constraints import parameter_checks, unwrap
from tfpcheck._engine.instrument import Recorder, capture_distributions, record_likelihood
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
        xla = model._tfpcheck_xla or None
        self._step = tf.function(self.body, reduce_retracing=True, jit_compile=xla)
        self._window = tf.function(self._steps, reduce_retracing=True, jit_compile=xla)
        self._windows = True  # False once a window could not be traced: one step a call
        self._structure: Any = None  # the record's structure, from the step's trace
        self._variables: list[Any] | None = None

    def run(self, x: np.ndarray, y: np.ndarray, batches: list[np.ndarray], start: int) -> Iterator[
            dict[str, Any]]:
        """The records of steps ``start``.. on ``batches`` (one index array a step), in order;
        raises :class:`StepFailed` (after the records of the steps before it)."""
        if self._windows and self._structure is None:
            self._windows = self._trace_step(x[batches[0]], y[batches[0]])
        if not self._windows:
            yield from self._singly(x, y, batches, start)
            return
        if self._variables is None:  # walking a Keras model's variables costs ~25 ms
            self._variables = _variables(self.model)
        state = [(v, v.numpy()) for v in self._variables]
        try:
            records = self._in_window(x, y, batches)
        except Exception:  # noqa: BLE001 - undone, and stepped singly: the step that raises says why
            _restore(self.model, state)
            self._windows = self._window.experimental_get_tracing_count() > 0
            yield from self._singly(x, y, batches, start)
            return
        yield from records

    def _trace_step(self, x: np.ndarray, y: np.ndarray) -> bool:
        """Trace the single step (not run: its random ops would repeat the window's draws) for
        the record's structure; False where it can't be traced (stepping singly raises why)."""
        try:
            concrete = self._step.get_concrete_function(tf.constant(x), tf.constant(y))
        except Exception:  # noqa: BLE001
            return False
        self._structure = concrete.structured_outputs
        return True

    def _singly(self, x: np.ndarray, y: np.ndarray, batches: list[np.ndarray], start: int) -> Iterator[
            dict[str, Any]]:
        for k, idx in enumerate(batches):
            try:
                out = self._step(tf.constant(x[idx]), tf.constant(y[idx]))
            except Exception as exc:  # noqa: BLE001
                raise StepFailed(start + k, exc) from exc
            yield tf.nest.map_structure(np.asarray, out)

    def _in_window(self, x: np.ndarray, y: np.ndarray, batches: list[np.ndarray]) -> list[dict[str, Any]]:
        index = np.stack(batches)
        stacked = [np.asarray(t) for t in self._window(tf.constant(x[index]), tf.constant(y[index]))]
        return [tf.nest.pack_sequence_as(self._structure, [s[k] for s in stacked])
                for k in range(len(batches))]

    def _steps(self, xs: Any, ys: Any) -> list[Any]:
        """The step in a ``tf.range`` loop (AutoGraph converts it and the step, as Keras'
        ``steps_per_execution`` loop is), each step's record written to a TensorArray. Once
        STOP_AFTER_NONFINITE losses in a row were not finite, the remaining steps are not
        trained (their records are zeros, never read: the engine stops there)."""
        flat = tf.nest.flatten(self._structure)
        marked = tf.nest.map_structure(lambda _: False, self._structure)
        marked["loss"] = True
        loss_index = tf.nest.flatten(marked).index(True)
        n = tf.shape(xs)[0]
        arrays = [tf.TensorArray(t.dtype, size=n, element_shape=t.shape) for t in flat]
        nonfinite = tf.constant(0)
        for k in tf.range(n):
            if nonfinite < STOP_AFTER_NONFINITE:
                values = _flat_record(self.body(xs[k], ys[k]), flat)
            else:
                values = [tf.zeros(t.shape, t.dtype) for t in flat]
            nonfinite = tf.where(tf.math.is_finite(values[loss_index]), 0, nonfinite + 1)
            arrays = [a.write(k, v) for a, v in zip(arrays, values, strict=True)]
        return [a.stack() for a in arrays]


def _flat_record(record: Any, traced: list[Any]) -> list[Any]:
    values = tf.nest.flatten(record)
    if len(values) != len(traced):
        raise ValueError("the step's record changed between its two traces")
    return values


def _variables(model: Any) -> list[Any]:
    """Every variable a step can change: the model's and the optimizer's (built by the first
    step, which always runs on its own)."""
    optimizer = getattr(model, "optimizer", None)
    try:
        extra = getattr(optimizer, "variables", [])
        variables = list(model.variables) + list(extra() if callable(extra) else extra)
    except ValueError:  # not built yet: nothing a step has changed
        return []
    return list({id(v): v for v in variables}.values())


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
        for metric in model.metrics:
            metric.reset_state()
        found: list[Any] = []
        values: list[Any] = []
        watch = capture_distributions(found, values) if model._tfpcheck_own_loss else nullcontext()
        with tf.control_dependencies(tf.nest.flatten(layer_summaries)), watch:
            logs = model.train_step((x, y))
        if model._tfpcheck_own_loss:  # Keras 3's own compute_loss: what it scored the targets with
            record_likelihood(recorder, found, values, x.shape[0])
        dist = recorder.distribution
        if dist is None and "loss_shape" not in recorder.tensors:
            # A custom train_step that bypasses the compiled loss: check what the model outputs.
            output = model(x, training=True)
            dist = output if hasattr(unwrap(output), "log_prob") else None
        output_checks = list(parameter_checks(dist, "output")) if dist is not None else []
        checks = [(c, "output") for c in output_checks] + layer_checks
        for c, role in checks:
            meta[c.path] = (role, c.distribution, type(c.bijector).__name__)
        return {
            "loss": _step_loss(logs),
            "grad_norm": recorder.tensors.get("grad_norm", tf.constant(np.nan)),
            "grad_finite": recorder.tensors.get("grad_finite", tf.constant(True)),
            "loss_shape": recorder.tensors.get("loss_shape", tf.constant([-1])),
            "kl": model._tfpcheck_kl_factor
            * tf.add_n([tf.reduce_sum(tf.cast(t, tf.float32)) for t in model.losses])
            if model.losses
            else tf.constant(0.0),
            "loss_terms_rank": tf.constant(max((len(t.shape) for t in model.losses), default=0)),
            "params": {
                **{c.path: c.summary() for c in output_checks},
                **layer_summaries,
            },
        }

    return step, meta


def _step_loss(logs: Any) -> Any:
    if isinstance(logs, Mapping):
        if "loss" in logs:
            return tf.cast(tf.reduce_mean(logs["loss"]), tf.float32)
        for value in logs.values():
            return tf.cast(tf.reduce_mean(value), tf.float32)
    return tf.cast(tf.reduce_mean(logs), tf.float32)
