"""A window of training steps in one traced call (``tfpcheck/_engine/steps.py``) trains as the
same steps called one at a time: the same updates, fresh noise at every step, the step that
raises reported as that step. Real tf_keras/TFP models throughout."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras

from tests import models
from tfpcheck._config import Config
from tfpcheck._engine import reuse, run_config
from tfpcheck._engine.instrument import Recorder, compile_for_check
from tfpcheck._engine.steps import StepFailed, stepper
from tfpcheck._target import Target

tfd, tfpl = tfp.distributions, tfp.layers


def _prepared(factory, learning_rate=0.01):
    tf_keras.backend.clear_session()
    tf_keras.utils.set_random_seed(0)
    model = factory()
    recorder = Recorder()
    compile_for_check(model, Config(seed=0, learning_rate=learning_rate), recorder)
    model._tfpcheck_recorder = recorder
    model._tfpcheck_kl_factor = 1.0
    model(_data()[0][:1])  # built, as the engine's first forward pass leaves it
    return model


def _normal_regression():
    return tf_keras.Sequential([
        tf_keras.layers.Dense(8, activation="tanh"),
        tf_keras.layers.Dense(2),
        tfpl.DistributionLambda(lambda t: tfd.Normal(t[..., :1], 1e-3 + tf.math.softplus(t[..., 1:]))),
    ])


def _data(n=64):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 2)).astype("float32")
    return x, (x[:, :1] + 0.1 * rng.normal(size=(n, 1))).astype("float32")


def test_a_window_makes_the_same_updates_as_single_steps():
    x, y = _data()
    batches = [np.arange(i * 16, i * 16 + 16) % len(x) for i in range(12)]
    ends = []
    for windowed in (False, True):
        model = _prepared(_normal_regression)
        run = stepper(model)
        run._windows = windowed
        records = list(run.run(x, y, batches[:5], 0)) + list(run.run(x, y, batches[5:], 5))
        assert run._windows == windowed and (run._step is None) == windowed
        ends.append((records, [w.numpy() for w in model.trainable_weights]))
    (records_a, weights_a), (records_b, weights_b) = ends
    assert len(records_a) == len(records_b) == 12
    # Every record alike, each leaf as the step returned it: the window's rows are unpacked
    # into the same structure, shapes and dtypes as the single steps' records.
    for a, b in zip(records_a, records_b, strict=True):
        tf.nest.assert_same_structure(a, b)
        for u, v in zip(tf.nest.flatten(a), tf.nest.flatten(b), strict=True):
            assert np.shape(u) == np.shape(v) and np.asarray(u).dtype == np.asarray(v).dtype
            np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6)
    assert records_a[0]["params"], "no parameter summaries recorded"
    for a, b in zip(weights_a, weights_b, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_each_step_of_a_window_draws_fresh_noise():
    """Flipout's perturbations are random ops inside the step: neither the first step (outside
    the loop) nor the loop may repeat a draw, within a window or across windows."""
    x, y = _data()
    model = _prepared(lambda: models.healthy_flipout(2, len(x)), learning_rate=1e-9)
    run = stepper(model)
    same = [np.arange(16)] * 10
    losses = [float(r["loss"]) for r in run.run(x, y, same, 0)]
    losses += [float(r["loss"]) for r in run.run(x, y, same, 10)]
    assert len(set(np.round(losses, 6))) == len(losses)


def _fails_at_step_7():
    model = _normal_regression()

    def loss(y_true, dist):
        check = tf.debugging.assert_less(model.optimizer.iterations, tf.constant(7, tf.int64),
                                         message="step 7 reached")
        with tf.control_dependencies([check]):
            return -dist.log_prob(y_true)

    model.compile(tf_keras.optimizers.Adam(0.01), loss=loss)
    return model


def test_a_step_that_raises_inside_a_window_is_reported_as_that_step():
    x, y = _data()
    model = _prepared(_fails_at_step_7)
    run = stepper(model)
    batches = [np.arange(16)] * 20
    records = []
    try:
        for r in run.run(x, y, batches, 0):
            records.append(r)
    except StepFailed as failed:
        assert failed.step == 7 and "step 7 reached" in str(failed.error)
    else:
        raise AssertionError("the step did not raise")
    assert len(records) == 7  # steps 0..6, their records kept (the window undone, the steps redone)


def test_the_engine_reports_the_step_that_raised():
    reuse.clear()
    x, y = _data(128)
    trace = run_config(Target(lambda: _fails_at_step_7(), "fails_at_7", data=(x, y)),
                       Config(seed=0, input_dim=2, steps=40), with_twin=False)
    assert trace.build_failure is not None and trace.build_failure.stage == "train_step"
    assert trace.build_failure.step == 7 and trace.steps_run == 7


def test_the_steps_train_as_keras_own_step():
    """Same model, seed and batches: tfpcheck's window and Keras' ``train_step`` traced on its
    own give the same losses (the optimizer's slots made first, as Keras' step has them)."""
    x, y = _data()
    batches = [np.arange(i * 16, i * 16 + 16) % len(x) for i in range(6)]
    ours = [float(r["loss"]) for r in stepper(_prepared(_normal_regression)).run(x, y, batches, 0)]
    keras = _prepared(_normal_regression)
    step = tf.function(lambda a, b: keras.train_step((a, b)))
    theirs = []
    for b in batches:  # Keras' step reports the mean since the metrics' last reset: each batch's
        theirs.append(float(step(x[b], y[b])["loss"]))
        keras.reset_metrics()
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)


def test_each_step_records_its_own_batchs_loss_not_the_mean_so_far():
    """Two batches far apart, a learning rate too small to move the weights: each step's loss
    is its batch's, alternating. The loss's running mean, which tf_keras lists in model.metrics
    only after the first step traced, was not reset: the records were the mean so far (1538,
    770, 1026, 770, 924, ... where the two batches give 1538 and 2.3)."""
    x, y = _data()
    y = y.copy()
    y[:16] += 30.0  # batch A far off the untrained model's predictions, batch B near them
    batches = [np.arange(16), np.arange(16, 32)] * 5
    for windowed in (True, False):
        run = stepper(_prepared(_normal_regression, learning_rate=1e-9))
        run._windows = windowed
        losses = np.array([float(r["loss"]) for r in run.run(x, y, batches, 0)])
        np.testing.assert_allclose(losses[0::2], losses[0], rtol=1e-4)
        np.testing.assert_allclose(losses[1::2], losses[1], rtol=1e-4)
        assert losses[0] > 10 * losses[1]


class _Rescaled(tf_keras.layers.Layer):
    """A user's layer with Python control flow on a tensor: traced, it works only as Keras'
    own ``fit`` runs it, converted by AutoGraph."""

    def call(self, x):
        if tf.reduce_max(tf.abs(x)) > 100.0:
            return x / 100.0
        return x


def test_a_users_layer_with_control_flow_on_tensors_trains_and_is_evaluated_traced():
    """tfpcheck traces its own window and passes as written (``_engine/tracing.py``), and Keras
    still converts the user's layer inside them, as under ``fit``: the layer trains here, reused
    over examples until its evaluation passes are traced too."""
    reuse.clear()
    x, y = _data(128)

    def factory():
        return tf_keras.Sequential([_Rescaled(), *_normal_regression().layers])

    target = Target(factory, "rescaled", data=(x, y))
    for seed in range(4):
        trace = run_config(target, Config(seed=seed, input_dim=2, steps=20))
        assert trace.build_failure is None, trace.build_failure
        assert trace.steps_run == 20 and np.all(np.isfinite(trace.losses))
    (entry,) = reuse._CACHE.values()  # one model, reused by every example
    # Traced, not fallen back: a window that raises is stepped singly from then on, and a pass
    # that fails traced is marked False and runs eagerly.
    assert stepper(entry.model)._windows, "the window failed traced: the steps ran singly"
    assert getattr(entry.model, "_tfpcheck_terms", None), "the data-term pass did not run traced"
    assert getattr(entry.model, "_tfpcheck_eval_0", None) or getattr(entry.model, "_tfpcheck_eval_1", None)


class _BranchingStep(tf_keras.Sequential):
    """A user's own ``train_step`` with a Python ``if`` on a tensor (``tf.cond`` where ``cond``)."""

    def __init__(self, *layers, cond=False):
        super().__init__(list(layers))
        self.cond = cond

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(-self(x, training=True).log_prob(y))
            if self.cond:
                loss = tf.cond(tf.reduce_sum(x) > 0.0, lambda: loss, lambda: 2.0 * loss)
            elif tf.reduce_sum(x) > 0.0:
                loss = loss * 1.0
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables, strict=True))
        return {"loss": loss}


def test_a_users_train_step_runs_as_fit_runs_it():
    """Keras' ``fit`` runs a user's ``train_step`` unconverted, so its Python ``if`` on a tensor
    fails there; tfpcheck's window runs it the same way and reports ``builds`` (it used to
    convert it, and passed a model the user's own ``fit`` refuses). With ``tf.cond`` both train."""
    x, y = _data(128)
    for cond in (False, True):
        def factory(cond=cond):
            model = _BranchingStep(*_normal_regression().layers, cond=cond)
            model.compile(tf_keras.optimizers.Adam(0.01), loss=lambda t, d: -d.log_prob(t))
            return model

        tf_keras.backend.clear_session()
        fit_error = None
        try:
            factory().fit(x, y, epochs=1, batch_size=32, verbose=0)
        except Exception as exc:  # noqa: BLE001 - what the user's own fit says
            fit_error = exc
        reuse.clear()
        trace = run_config(Target(factory, "branching", data=(x, y)), Config(seed=0, input_dim=2, steps=10))
        assert (fit_error is None) == cond
        assert (trace.build_failure is None) == (fit_error is None), (fit_error, trace.build_failure)
        if fit_error is not None:
            assert type(fit_error).__name__ in str(trace.build_failure)
