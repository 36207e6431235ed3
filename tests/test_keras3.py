"""Keras 3 models (TensorFlow backend) as targets: the distribution in the loss, KL terms through
``add_loss``, a ``compute_loss`` of the model's own; the bugs only Keras 3 has; tfp.layers fed
to Keras 3; a backend tfpcheck can't train.

Real Keras 3, TensorFlow and TFP throughout (tfpcheck's own engine on each model).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras

import tfpcheck
from tfpcheck._trace import Trace

tfd = tfp.distributions
SEED3 = "examples/seed_models_keras3.py"
pytest_plugins = ["pytester"]

_rng = np.random.default_rng(0)
X = _rng.normal(size=(300, 3)).astype("float32")
Y1 = (X @ np.array([1.0, -2.0, 0.5]) + 0.3 * _rng.normal(size=300)).astype("float32")  # (N,)
Y2 = Y1[:, None]  # (N, 1)


def normal_nll(y, t):
    """A Keras 3 user's loss: the Normal built from the raw outputs (t[..., :1] stays (B, 1))."""
    return -tfd.Normal(t[..., :1], 1e-3 + tf.math.softplus(t[..., 1:])).log_prob(y)


def _dense_k3():
    model = keras.Sequential([keras.layers.Dense(16, activation="tanh"), keras.layers.Dense(2)])
    model.compile(keras.optimizers.Adam(1e-2), loss=normal_nll)
    return model


def _dense_tf_keras():
    model = tf_keras.Sequential([tf_keras.layers.Dense(16, activation="tanh"), tf_keras.layers.Dense(2)])
    model.compile(tf_keras.optimizers.Adam(1e-2), loss=normal_nll)
    return model


class OwnLoss(keras.Model):
    """A Keras 3 model whose ``compute_loss`` builds the distribution (compiled without a loss)."""

    def __init__(self, slice_loc):
        super().__init__()
        self.hidden, self.out = keras.layers.Dense(16, activation="tanh"), keras.layers.Dense(2)
        self.slice_loc = slice_loc

    def call(self, x):
        return self.out(self.hidden(x))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        dist = tfd.Normal(self.slice_loc(y_pred), 1e-3 + tf.math.softplus(y_pred[..., 1:]))
        return -tf.reduce_mean(dist.log_prob(y))


def found(report):
    (target,) = report.targets
    return {(f.invariant, f.cause) for f in target.violations}


def _check(factory, data, **kwargs):
    target = tfpcheck.Target(factory, factory.__name__, data=data)
    return tfpcheck.check(target, max_examples=2, steps=400, **kwargs)


def _learns_checked(report):
    """``learns`` was judged (an unbuilt Keras 3 model's x-denied twin once refused every
    variable of its first step, and ``learns`` was not applicable)."""
    return not any("learns:" in note and "twin" in note for note in report.targets[0].notes)


def test_a_keras3_model_with_the_distribution_in_its_loss_passes():
    report = _check(_dense_k3, (X, Y2))
    assert report.passed, report.summary()
    assert report.targets[0].task == "regression"
    assert _learns_checked(report), report.targets[0].notes


def test_rank1_targets_broadcast_only_under_keras3_and_are_named():
    # tf_keras expands (N,) targets to (N, 1) before the loss: the same model there is healthy.
    assert _check(_dense_tf_keras, (X, Y1)).passed
    report = _check(_dense_k3, (X, Y1))
    (finding,) = report.targets[0].violations
    assert (finding.invariant, finding.cause, finding.confirmed) == ("loss_shape", "shape_broadcast", True)
    assert finding.evidence["loss_shape"] == [32, 32] and "Keras 3" in finding.message
    assert "reshape(-1, 1)" in finding.fix and finding.intervention["changed"] == {
        "targets": "(300,) -> (300, 1)"}


def test_a_compute_loss_of_its_own_is_checked_through_the_distribution_it_builds():
    def healthy():
        model = OwnLoss(lambda t: t[..., :1])
        model.compile(keras.optimizers.Adam(1e-2))
        return model

    def sliced():
        model = OwnLoss(lambda t: t[:, 0])  # (B,) loc against (B, 1) targets
        model.compile(keras.optimizers.Adam(1e-2))
        return model

    report = _check(healthy, (X, Y2))
    assert report.passed, report.summary()
    assert "compute_loss builds a Normal" in " ".join(report.targets[0].notes)
    assert _learns_checked(report), report.targets[0].notes
    assert ("loss_shape", "shape_broadcast") in found(_check(sliced, (X, Y2)))


def test_a_summed_add_loss_kl_is_kl_scaling_and_its_fixed_twin_passes():
    report = tfpcheck.check(f"{SEED3}::example3_k3", max_examples=2)
    (finding,) = report.targets[0].violations
    assert (finding.invariant, finding.cause, finding.confirmed) == (
        "posterior_not_collapsed", "kl_scaling", True)
    assert finding.evidence["add_loss_rank"] == 2 and "Keras 3 sums" in finding.message
    assert tfpcheck.check(f"{SEED3}::example3_k3_fixed", max_examples=2, seed=1).passed


def test_seed_example2_ported_to_keras3_keeps_its_causes():
    result = found(tfpcheck.check(f"{SEED3}::example2_k3", max_examples=1))
    assert ("positive_scales", "parameterization") in result
    assert ("loss_shape", "shape_broadcast") in result
    assert tfpcheck.check(f"{SEED3}::example2_k3_fixed", max_examples=2, seed=1).passed


def test_tfp_layers_inside_a_keras3_model_are_keras_version_with_both_fixes():
    def mixed():
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        model.dist = tfp.layers.DistributionLambda(lambda t: tfd.Normal(t[..., :1], 1.0))
        model.compile(keras.optimizers.Adam(1e-2), loss=normal_nll)
        return model

    (finding,) = _check(mixed, (X, Y2)).targets[0].violations
    assert (finding.invariant, finding.cause) == ("builds", "keras_version")
    assert "DistributionLambda" in finding.message
    assert "tf_keras" in finding.fix and "move the distribution into the loss" in finding.fix


def test_a_keras3_backend_other_than_tensorflow_is_refused_clearly(tmp_path):
    # JAX (a dev dependency) stands for any backend but TensorFlow.
    (tmp_path / "models.py").write_text(textwrap.dedent('''
        import keras
        import tfpcheck

        @tfpcheck.model(task="regression")
        def on_jax():
            model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(2)])
            return model
    '''))
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    result = subprocess.run([sys.executable, "-m", "tfpcheck", "check", "models.py::on_jax",
                             "--max-examples", "1"], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "'jax' backend" in result.stdout
    assert "fix: run tfpcheck with KERAS_BACKEND=tensorflow" in result.stdout
    assert "keras_version" in result.stdout


@pytest.mark.parametrize("name", ["example1_k3_fixed", "example2_k3_fixed", "example3_k3_fixed"])
def test_keras3_fixed_twins_pass(name):
    assert tfpcheck.check(f"{SEED3}::{name}", max_examples=2, seed=3).passed


MIXED = '''
import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras

import tfpcheck

tfd, tfpl = tfp.distributions, tfp.layers
rng = np.random.default_rng(0)
X = rng.normal(size=(256, 2)).astype("float32")
Y = (2.0 * X[:, 0] + 0.3 * rng.normal(size=256)).astype("float32")  # (N,) as users keep them


@tfpcheck.model(data=(X, Y[:, None]))
def tf_keras_healthy():
    return tf_keras.Sequential([tf_keras.layers.Dense(2), tfpl.DistributionLambda(
        lambda t: tfd.Normal(t[..., :1], 1e-3 + tf.math.softplus(t[..., 1:])))])


@tfpcheck.model(data=(X, Y))
def keras3_rank1():
    model = keras.Sequential([keras.layers.Dense(2)])
    model.compile(keras.optimizers.Adam(0.01), loss=lambda y, t: -tfd.Normal(
        t[..., :1], 1e-3 + tf.math.softplus(t[..., 1:])).log_prob(y))
    return model
'''


def test_a_keras3_and_a_tf_keras_target_in_one_file_under_two_workers(pytester: pytest.Pytester):
    pytester.makepyfile(test_mixed=MIXED)
    result = pytester.runpytest_subprocess("--tfpcheck", "--tfpcheck-max-examples=2", "-n", "2",
                                           "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["FAILED *test_mixed.py::keras3_rank1*loss_shape (shape_broadcast)*",
                                 "PASSED *test_mixed.py::tf_keras_healthy*"])


# Common Keras 3 forms, each as users write them (healthy: each must pass).
_R = np.random.default_rng(1)
XF = _R.normal(size=(400, 4)).astype("float32")
Y_CLASS = np.argmax(XF[:, :3] * 2 + _R.gumbel(size=(400, 3)) * 0.3, 1).astype("int32")
Y_COUNT = _R.poisson(np.exp(0.5 * XF[:, :1])).astype("float32")
Y_REAL = (2 * XF[:, :1] + 0.3 * _R.normal(size=(400, 1))).astype("float32")


def logits_classifier():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Dense(16, activation="relu")(inputs)))
    model.compile(keras.optimizers.Adam(1e-2), metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def poisson_string_loss():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="tanh"),
                              keras.layers.Dense(1, activation="exponential")])
    model.compile(keras.optimizers.Adam(1e-2), loss="poisson")
    return model


class MethodKL(keras.layers.Layer):
    """A Bayesian layer whose KL comes from the distribution's own ``kl_divergence`` method."""

    def __init__(self, units, n_train, prior_scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.units, self.n_train, self.prior_scale = units, n_train, prior_scale

    def build(self, shape):
        self.mu = self.add_weight(shape=(shape[-1], self.units), initializer="glorot_uniform")
        self.rho = self.add_weight(shape=(shape[-1], self.units),
                                   initializer=keras.initializers.Constant(-4.0))

    def call(self, x):
        q = tfd.Normal(self.mu, tf.nn.softplus(self.rho))
        self.add_loss(tf.reduce_sum(q.kl_divergence(tfd.Normal(0.0, self.prior_scale))) / self.n_train)
        return x @ q.sample()


def bayes_layer_of_its_own():
    model = keras.Sequential([keras.Input((4,)), MethodKL(16, 400), keras.layers.Activation("tanh"),
                              keras.layers.Dense(2)])
    model.compile(keras.optimizers.Adam(1e-2), loss=normal_nll)
    return model


@pytest.mark.parametrize("factory, y, task", [
    (logits_classifier, Y_CLASS, "categorical"),
    (poisson_string_loss, Y_COUNT, "count"),
    (bayes_layer_of_its_own, Y_REAL, "regression"),
])
def test_common_keras3_forms_pass(factory, y, task):
    report = _check(factory, (XF, y))
    assert report.passed, report.summary()
    assert report.targets[0].task == task


class RawScaleKL(MethodKL):
    """MethodKL with its posterior's scale taken as the weight is (-4 at the start)."""

    def call(self, x):
        q = tfd.Normal(self.mu, self.rho)
        self.add_loss(tf.reduce_sum(q.kl_divergence(tfd.Normal(0.0, self.prior_scale))) / self.n_train)
        return x @ q.sample()


def test_a_posterior_scale_of_a_layer_of_its_own_is_checked():
    """Its parameters are out of the training step's reach (no tfp.layers attributes): the NaN
    loss at step 0 was finite_loss / numerical_instability ("compute the likelihood in log
    space"), with the scale never named."""
    def factory():
        model = keras.Sequential([keras.Input((4,)), RawScaleKL(16, 400), keras.layers.Activation("tanh"),
                                  keras.layers.Dense(2)])
        model.compile(keras.optimizers.Adam(1e-2), loss=normal_nll)
        return model

    root = _check(factory, (XF, Y_REAL)).targets[0].violations[0]
    assert (root.invariant, root.cause, root.step) == ("positive_scales", "parameterization", 0), \
        root.explain()
    assert "posterior.scale" in root.message and "tf.math.softplus(rho)" in root.fix, root.explain()


def test_a_keras3_train_step_without_a_loss_to_read_says_how_to_give_one():
    class OwnStep(keras.Model):
        def __init__(self):
            super().__init__()
            self.out = keras.layers.Dense(2)

        def call(self, x):
            return self.out(x)

    def factory():
        model = OwnStep()
        model.compile(keras.optimizers.Adam(1e-2))
        return model

    (finding,) = _check(factory, (XF, Y_REAL)).targets[0].violations
    assert finding.invariant == "builds" and "compute_loss" in finding.fix
    assert "tfp.layers distribution layer" not in finding.fix


class StepOfItsOwn(keras.Model):
    """A subclassed model whose train_step computes its loss itself, compiled with an optimizer
    alone (the Keras guide's "Customizing what happens in fit()", with a Normal's NLL)."""

    def __init__(self, scale=lambda raw: 1e-3 + tf.math.softplus(raw), loss=None):
        super().__init__()
        self.hidden, self.out = keras.layers.Dense(16, activation="relu"), keras.layers.Dense(2)
        self.scale, self.own_loss = scale, loss
        self.tracker = keras.metrics.Mean(name="loss")

    def call(self, x):
        return self.out(self.hidden(x))

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            t = self(x, training=True)
            loss = (self.own_loss(y, t) if self.own_loss else
                    -tf.reduce_mean(tfd.Normal(t[..., :1], self.scale(t[..., 1:])).log_prob(y)))
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables, strict=True))
        self.tracker.update_state(loss)
        return {"loss": self.tracker.result()}

    @property
    def metrics(self):
        return [self.tracker]


def _own_step(**kwargs):
    def factory():
        model = StepOfItsOwn(**kwargs)
        model.compile(keras.optimizers.Adam(1e-2))
        return model
    return factory


def test_a_train_step_that_computes_its_loss_is_checked_through_the_distribution_it_scores():
    """Refused before ("neither a compiled loss nor a compute_loss"): the data term is the
    distribution the step scores the targets with, the step run and its changes set back."""
    healthy = _check(_own_step(), (XF, Y_REAL))
    assert healthy.passed, healthy.summary()
    assert "its train_step builds a Normal" in " ".join(healthy.targets[0].notes)
    assert _learns_checked(healthy)
    (finding,) = _check(_own_step(scale=lambda raw: raw), (XF, Y_REAL)).targets[0].violations
    assert (finding.invariant, finding.cause) == ("positive_scales", "parameterization"), finding
    assert "softplus" in finding.fix


@pytest.mark.parametrize("traced", [False, True])
def test_reading_a_train_steps_data_term_sets_every_variable_it_changed_back(traced):
    """The evaluation passes run the step for its data term, eagerly and inside tf.function."""
    from tfpcheck._engine.instrument import step_variables, train_step_likelihood

    model = _own_step()()
    model(XF[:4])
    x, y = tf.constant(XF[:64]), tf.constant(Y_REAL[:64])
    read = tf.function(lambda a, b: train_step_likelihood(model, a, b)[1]) if traced else (
        lambda a, b: train_step_likelihood(model, a, b)[1])
    read(x, y)  # the first call builds the optimizer's slots
    before = [v.numpy().copy() for v in step_variables(model)]
    log_prob = read(x, y)
    after = [v.numpy() for v in step_variables(model)]
    assert log_prob.shape == (64, 1)
    assert len(before) == len(after) > 4
    assert all(np.array_equal(b, a) for b, a in zip(before, after, strict=True))


def test_a_train_step_that_scores_no_distribution_is_a_clear_error():
    plain = _own_step(loss=lambda y, t: tf.reduce_mean(tf.square(y - t[..., :1])))
    report = _check(plain, (XF, Y_REAL))
    (target,) = report.targets
    assert target.status == "error" and "own train_step computes the loss with no tfd" in target.error
    assert "self.compute_loss(x, y, y_pred)" in target.error


class ELBOStep(keras.Model):
    """A Bayesian layer's KL (add_loss, unweighted) and the Normal's NLL, summed into the ELBO
    by a train_step of the model's own: the KL divided by ``kl_divisor`` there."""

    def __init__(self, kl_divisor):
        super().__init__()
        self.bayes, self.out = MethodKL(16, n_train=1), keras.layers.Dense(2)
        self.kl_divisor = kl_divisor

    def call(self, x):
        return self.out(tf.tanh(self.bayes(x)))

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            nll = tf.reduce_mean(normal_nll(y, self(x, training=True)))
            loss = nll + tf.add_n(self.losses) / self.kl_divisor
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables, strict=True))
        return {"loss": loss}


class ELBOComputeLoss(ELBOStep):
    """The same ELBO from a Keras 3 ``compute_loss`` of the model's own (Keras's train_step)."""

    train_step = keras.Model.train_step

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return tf.reduce_mean(normal_nll(y, y_pred)) + tf.add_n(self.losses) / self.kl_divisor


@pytest.mark.parametrize("kind", [ELBOStep, ELBOComputeLoss])
def test_the_kl_weight_a_loss_of_the_models_own_gives_is_read_from_that_loss(kind):
    """Measured: the ELBO with KL / n_train was named kl_scaling ("weight about 1", the weight
    Keras gives add_loss terms) and "confirmed" by an intervention that changed only the reading."""
    def factory(kl_divisor):
        def elbo():
            model = kind(kl_divisor)
            model.compile(keras.optimizers.Adam(1e-2))
            return model
        return elbo

    healthy = _check(factory(len(XF)), (XF, Y_REAL))
    assert healthy.passed, healthy.summary()
    unscaled = {(v.invariant, v.cause): v for v in _check(factory(1.0), (XF, Y_REAL)).targets[0].violations}
    finding = unscaled[("posterior_not_collapsed", "kl_scaling")]
    assert not finding.confirmed and "weight about 1" in finding.message, finding


def test_a_kl_weight_no_one_multiple_explains_is_not_read():
    from tfpcheck._engine.train import weighed_by_the_step

    raw = [50.0, 48.0, 47.0, 45.0]
    one_multiple = Trace(config=tfpcheck.Config(), kl_terms=[k / 400 for k in raw], kl_raw=raw)
    weighed_by_the_step(one_multiple)
    assert one_multiple.kl_terms == [k / 400 for k in raw] and not one_multiple.notes
    summed = Trace(config=tfpcheck.Config(), kl_terms=[31.0 * d + k / 400 for d, k in zip(
        [1.2, 0.7, 1.9, 0.4], raw, strict=True)], kl_raw=raw)  # a data term summed over 32
    weighed_by_the_step(summed)
    assert summed.kl_terms == [0.0] * 4 and "was not read" in summed.notes["kl_weight"]


def test_a_transformed_family_built_in_the_loss_is_captured_itself_not_its_base():
    """TFP's metaclass gives MultivariateNormalTriL and LogNormal their own ``log_prob``: the
    capture once recorded their standard-Normal base instead (a Keras 3 MultivariateNormalTriL
    head then "predicted" means of exactly 0 and failed learns on off-centre targets)."""
    import tensorflow as tf
    import tensorflow_probability as tfp

    from tfpcheck._engine.instrument import capture_distributions

    found, values = [], []
    with capture_distributions(found, values):
        mvn = tfp.layers.MultivariateNormalTriL.new(tf.fill([5, 2], 0.5), 1)
        mvn.log_prob(tf.zeros([5, 1]))
        tfp.distributions.LogNormal(0.0, 1.0).log_prob(1.0)
    assert [type(d).__name__ for d in found] == ["MultivariateNormalTriL", "LogNormal"]
    assert found[0].mean().numpy().ravel().tolist() == [0.5] * 5


def test_a_keras3_layers_own_narrow_prior_is_prior_mismatch_confirmed_by_widening_its_kl():
    """No tfp.layers attribute holds this prior: the intervention widens the prior of the layer's
    kl_divergence call instead (was: suspected only, under Keras 3)."""
    def narrow_prior_of_its_own():
        model = keras.Sequential([keras.Input((4,)), MethodKL(16, 400, prior_scale=1e-3),
                                  keras.layers.Activation("tanh"), keras.layers.Dense(2)])
        model.compile(keras.optimizers.Adam(1e-2), loss=normal_nll)
        return model

    report = _check(narrow_prior_of_its_own, (XF, Y_REAL))
    root = report.targets[0].violations[0]
    assert root.invariant in ("learns", "posterior_not_collapsed"), root.explain()
    assert (root.cause, root.confirmed) == ("prior_mismatch", True), root.explain()
    assert root.intervention["changed"] == {"priors": "100 times wider"}


def test_a_keras3_mean_field_layer_over_collinear_features_is_variational_family():
    """The layer's own kl_divergence call shows its posterior: per weight, over a kernel whose
    inputs hold one feature twice (bayes_layer_of_its_own on independent features passes)."""
    x = np.concatenate([XF, XF[:, :1]], axis=1)

    def mean_field_over_collinear():
        model = keras.Sequential([keras.Input((x.shape[1],)), MethodKL(16, 400),
                                  keras.layers.Activation("tanh"), keras.layers.Dense(2)])
        model.compile(keras.optimizers.Adam(1e-2), loss=normal_nll)
        return model

    report = _check(mean_field_over_collinear, (x, Y_REAL))
    root = report.targets[0].violations[0]
    assert (root.invariant, root.cause) == ("posterior_not_collapsed", "variational_family"), root.explain()
    assert root.evidence["collinear_columns"] == [0, XF.shape[1]]


def _xla_model(loss, **compile_kwargs):
    def model():
        m = keras.Sequential([keras.layers.Dense(16, activation="tanh"), keras.layers.Dense(2)])
        m.compile(keras.optimizers.Adam(1e-2), loss=loss, **compile_kwargs)
        return m
    return model


def _numpy_scaled_nll(y, t):
    """A loss with a NumPy step inside (tf.numpy_function): runs anywhere but under XLA."""
    scale = tf.numpy_function(lambda s: (np.log1p(np.exp(s)) + 1e-3).astype("float32"), [t[..., 1:]],
                              tf.float32)
    return -tfd.Normal(t[..., :1], tf.reshape(scale, tf.shape(t[..., 1:]))).log_prob(y)


def test_jit_compile_auto_is_noted_and_an_explicit_xla_step_is_what_gets_checked():
    """jit_compile="auto" (Keras 3's default) means XLA on a GPU and none on a CPU: the report
    says which one was checked; jit_compile=True is honoured, so a step XLA cannot compile
    fails here as it would on the GPU."""
    auto = _check(_xla_model(normal_nll), (X, Y2)).targets[0]
    assert auto.status == "passed" and any("jit_compile='auto'" in n for n in auto.notes), auto.notes
    plain = _check(_xla_model(normal_nll, jit_compile=False), (X, Y2)).targets[0]
    assert not any("jit_compile" in n for n in plain.notes), plain.notes
    assert _check(_xla_model(_numpy_scaled_nll, jit_compile=False), (X, Y2)).passed
    xla = _check(_xla_model(_numpy_scaled_nll, jit_compile=True), (X, Y2)).targets[0]
    assert xla.status == "failed" and xla.violations[0].invariant == "builds", xla.to_dict()
    assert "PyFunc op has no XLA kernel" in xla.violations[0].fix, xla.violations[0].fix


def _reshaping_nll(y, t):
    """keras-io's mixture density recipe reshapes (N,) targets to (N, 1) itself."""
    y = tf.reshape(y, [-1, 1])
    scale = 1e-3 + tf.math.softplus(t[..., 1:])
    return tf.reduce_mean(-tfd.MultivariateNormalDiag(t[..., :1], scale).log_prob(y))


def test_rank1_targets_a_loss_reshapes_itself_are_in_the_support():
    """The support check asks the distribution the loss builds about the targets as the loss
    hands them over (was: `data_in_support`, "Dimensions 1 and 300 are not compatible", on (N,)
    targets the model never saw as such)."""
    report = _check(_xla_model(_reshaping_nll), (X, Y1))
    assert report.passed, report.summary()


def _gaussian_nll(y, out):
    return -tfd.Normal(out[..., :1], 1e-3 + tf.math.softplus(out[..., 1:])).log_prob(y)


def _one_unit_for_two_parameters():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.01), loss=_gaussian_nll)
    return model


def _lambda_returning_a_distribution():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2), keras.layers.Lambda(
        lambda t: tfd.Normal(t[..., :1], 1e-3 + tf.math.softplus(t[..., 1:])))])
    model.compile(keras.optimizers.Adam(0.01), loss=lambda y, d: -d.log_prob(y))
    return model


def test_a_head_slicing_two_parameters_from_one_unit_is_told_to_give_one_unit_each():
    """Measured: "slice its parameters to 1 column each", which they were: the scale was empty."""
    (root,) = _check(_one_unit_for_two_parameters, (XF, Y_REAL)).targets[0].violations
    assert (root.invariant, root.cause) == ("loss_shape", "shape_broadcast"), root.explain()
    assert "holds no values per example" in root.message and "one unit per parameter" in root.fix, root.fix


def test_a_keras3_lambda_returning_a_distribution_is_keras_version():
    """Measured: builds / unclassified, "fix the TypeError raised by the model code"."""
    (root,) = _check(_lambda_returning_a_distribution, (XF, Y_REAL)).targets[0].violations
    assert (root.invariant, root.cause) == ("builds", "keras_version"), root.explain()
    assert "cannot output a tfd distribution" in root.fix, root.fix
