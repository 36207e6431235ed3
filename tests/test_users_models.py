"""Users' own models as they write them: each class of false alarm the users'-models issue found.

Each test builds a small model the way a user does (own data, no task declared, compiled with
their own optimizer and loss) and asserts what tfpcheck must say; each failed before the change.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras

import tfpcheck
from tfpcheck._engine.schedule import settled

tfd, tfpl = tfp.distributions, tfp.layers


def _classes(n=256, d=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype("float32")
    y = np.argmax(x[:, :k] * 2.5 + rng.gumbel(size=(n, k)) * 0.3, axis=1).astype("float32")
    return x, y


def _regression(n=256, d=2, noise=2.0, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype("float32")
    y = (3.0 * x[:, :1] + noise * rng.normal(size=(n, 1))).astype("float32")
    return x, y


X_CLS, Y_CLS = _classes()
X_REG, Y_REG = _regression()


def _check(factory, **kwargs):
    kwargs.setdefault("max_examples", 2)
    kwargs.setdefault("steps", 400)
    report = tfpcheck.check(factory, **kwargs)
    return report.targets[0]


# 1. Tensor outputs: TFP's own BNN example (Flipout layers, softmax, a Keras cross-entropy).
@tfpcheck.model(data=(X_CLS, Y_CLS))
def flipout_softmax_classifier(n_train):
    kl = lambda q, p, _: tfd.kl_divergence(q, p) / n_train  # noqa: E731 - as TFP's example
    model = tf_keras.Sequential([
        tfpl.DenseFlipout(16, activation="relu", kernel_divergence_fn=kl),
        tfpl.DenseFlipout(3, activation="softmax", kernel_divergence_fn=kl),
    ])
    model.compile(tf_keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def test_tensor_output_classifier_is_a_target_and_passes():
    t = _check(flipout_softmax_classifier)
    assert t.status == "passed", t.to_dict()
    assert t.task == "categorical"
    # The softmax's outputs are the probabilities the cross-entropy reads: checked, in [0, 1] (12.)
    assert not [n for n in t.notes if n.startswith("positive_scales: ")], t.notes


def _raw_sigma_loss(y, out):
    return -tfd.Normal(out[..., :1], out[..., 1:]).log_prob(y)


@tfpcheck.model(data=(X_REG, Y_REG))
def custom_loss_raw_sigma():
    model = tf_keras.Sequential([tf_keras.layers.Dense(2)])
    model.compile(tf_keras.optimizers.Adam(0.01), loss=_raw_sigma_loss)
    return model


def test_distribution_built_in_the_loss_has_its_parameters_checked():
    t = _check(custom_loss_raw_sigma)
    assert t.status == "failed"
    assert (t.violations[0].invariant, t.violations[0].cause) == ("positive_scales", "parameterization")


# 2. The task is inferred and the user's labels are not transformed.
@tfpcheck.model(data=(X_CLS, Y_CLS))
def categorical_head(output_dim):
    model = tf_keras.Sequential([
        tf_keras.layers.Dense(3), tfpl.DistributionLambda(lambda t: tfd.Categorical(logits=t))])
    model.compile(tf_keras.optimizers.Adam(0.01), loss=lambda y, d: -d.log_prob(y))
    return model


def test_class_labels_give_the_categorical_task_and_stay_labels():
    t = _check(categorical_head)
    assert t.task == "categorical" and t.status == "passed", t.to_dict()


@tfpcheck.model(task="binary", data=(X_CLS, Y_CLS))
def declared_binary_on_classes(output_dim):
    return categorical_head(output_dim)


def test_a_declared_task_the_data_contradict_is_a_clear_error():
    t = _check(declared_binary_on_classes)
    assert t.status == "error"
    assert "task='binary'" in t.error and "not all 0 or 1" in t.error


# 3. The user's own settings come first, and stay near in the default regime.
SEEN_RATES: list[float] = []


class _RecordingAdam(tf_keras.optimizers.Adam):
    """Adam that notes the learning rate of every copy tfpcheck makes of it (from_config)."""

    @classmethod
    def from_config(cls, config, custom_objects=None):
        SEEN_RATES.append(float(config["learning_rate"]))
        return super().from_config(config, custom_objects)


@tfpcheck.model(data=(X_REG, Y_REG))
def adam_5e3():
    model = tf_keras.Sequential([tf_keras.layers.Dense(2), tfpl.DistributionLambda(
        lambda t: tfd.Normal(t[..., :1], 1e-3 + tf.math.softplus(t[..., 1:])))])
    model.compile(_RecordingAdam(5e-3), loss=lambda y, d: -d.log_prob(y))
    return model


def test_first_example_is_exactly_the_users_learning_rate_and_the_rest_within_3x():
    SEEN_RATES.clear()
    t = _check(adam_5e3, max_examples=4, steps=60)
    assert t.status == "passed", t.to_dict()
    assert SEEN_RATES[0] == 5e-3
    assert all(5e-3 / 3 * 0.999 <= r <= 5e-3 * 3 * 1.001 for r in SEEN_RATES), SEEN_RATES


# 4. learns compares like with like: a fixed unit scale on residuals wider than it still learns.
@tfpcheck.model(data=(X_REG, Y_REG))
def fixed_unit_scale():
    model = tf_keras.Sequential([tf_keras.layers.Dense(1), tfpl.DistributionLambda(
        lambda t: tfd.Normal(loc=t, scale=1.0))])
    model.compile(tf_keras.optimizers.Adam(0.05), loss=lambda y, d: -d.log_prob(y))
    return model


def test_fixed_scale_regression_learns_against_its_x_denied_twin():
    t = _check(fixed_unit_scale)
    assert t.status == "passed", t.to_dict()


@tfpcheck.model(data=(X_REG, Y_REG))
def ignores_x():
    model = tf_keras.Sequential([tf_keras.layers.Lambda(lambda x: 0.0 * x[..., :1]),
                                 tf_keras.layers.Dense(2), tfpl.DistributionLambda(
        lambda t: tfd.Normal(t[..., :1], 1e-3 + tf.math.softplus(t[..., 1:])))])
    model.compile(tf_keras.optimizers.Adam(0.05), loss=lambda y, d: -d.log_prob(y))
    return model


def test_a_model_that_ignores_x_does_not_learn():
    t = _check(ignores_x, max_examples=1)
    assert [v.invariant for v in t.violations] == ["learns"], t.to_dict()
    # its terms equal its x-denied twin's: the fix says so, not "no cause could be read"
    finding = t.violations[0]
    assert "never depends on x" in finding.fix and finding.evidence["output_depends_on_x"] is False


# 5. Adaptive length: settled losses stop early; still improving at the cap is inconclusive.
def test_settled_stops_a_levelled_loss_and_not_a_slow_steady_one():
    levelled = [3.0, 1.2, 1.01, 1.0]  # whole-set data term at steps 0, 100, 200, 300
    slow = [6.7, 6.4, 6.1, 5.9]  # the dl_book fixed-scale model at lr 1e-3: still falling
    assert settled(levelled, 300) and not settled(slow, 300)
    assert not settled(levelled[:3], 200)  # never before MIN_STEPS


@tfpcheck.model(data=(X_REG, Y_REG))
def slow_learner():
    model = tf_keras.Sequential([tf_keras.layers.Dense(2), tfpl.DistributionLambda(
        lambda t: tfd.Normal(t[..., :1], 1e-3 + tf.math.softplus(t[..., 1:])))])
    model.compile(tf_keras.optimizers.Adam(3e-3), loss=lambda y, d: -d.log_prob(y))
    return model


def test_still_improving_at_the_cap_is_inconclusive_not_a_failure():
    t = _check(slow_learner, max_examples=1, steps=30)
    assert t.status == "passed", t.to_dict()
    assert any(n.startswith("learns: inconclusive") for n in t.notes), t.notes


# 6. One root, its echoes as consequences.
@tfpcheck.model(data=(X_REG, Y_REG))
def broadcast_loc():
    model = tf_keras.Sequential([tf_keras.layers.Dense(2), tfpl.DistributionLambda(
        lambda t: tfd.Normal(t[:, 0], 1e-3 + tf.math.softplus(t[:, 1])))])
    model.compile(tf_keras.optimizers.Adam(0.01), loss=lambda y, d: -d.log_prob(y))
    return model


def test_broadcast_loss_is_one_finding_with_learns_as_its_consequence():
    t = _check(broadcast_loc, max_examples=1)
    invariants = [v.invariant for v in t.violations]
    assert invariants == ["loss_shape"], t.to_dict()
    assert t.violations[0].cause == "shape_broadcast"
    assert "learns" not in invariants


# 7. The compiled loss runs as the user's own fit runs it.
def _branching_nll(y, d):
    nll = -d.log_prob(y)
    if tf.reduce_mean(y) > 1e6:  # a Python `if` on a tensor: only AutoGraph makes it traceable
        nll = 2.0 * nll
    return nll


class _BranchingNLL(tf_keras.losses.Loss):
    def call(self, y_true, y_pred):
        return _branching_nll(y_true, y_pred)


def _k3_branching_nll(y, t):
    return _branching_nll(y, tfd.Normal(t[..., :1], 1e-3 + tf.math.softplus(t[..., 1:])))


def _fit_error(factory):
    try:
        factory().fit(X_REG, Y_REG, epochs=1, batch_size=32, verbose=0)
    except Exception as exc:  # noqa: BLE001 - what the user's own fit says
        return exc
    return None


def test_a_compiled_loss_is_converted_where_fit_converts_it():
    """tf_keras' ``fit`` converts a compiled loss with AutoGraph (``LossFunctionWrapper``,
    ``Loss.__call__``), so a Python ``if`` on a tensor in it trains; Keras 3's ``fit`` calls the
    loss unconverted and the same ``if`` fails. tfpcheck's verdict on ``builds`` follows each
    (it used to call the tf_keras loss unconverted: ``builds`` failed on a model that trains)."""
    import keras

    def tf_keras_model(loss):
        def factory():
            model = tf_keras.Sequential([tf_keras.layers.Dense(2), tfpl.DistributionLambda(
                lambda t: tfd.Normal(t[..., :1], 1e-3 + tf.math.softplus(t[..., 1:])))])
            model.compile(tf_keras.optimizers.Adam(0.01), loss=loss)
            return model
        return factory

    def keras3_model():
        model = keras.Sequential([keras.layers.Dense(2)])
        model.compile(keras.optimizers.Adam(0.01), loss=_k3_branching_nll)
        return model

    for factory, trains in [(tf_keras_model(_branching_nll), True),
                            (tf_keras_model(_BranchingNLL()), True), (keras3_model, False)]:
        error = _fit_error(factory)
        assert (error is None) == trains, error
        t = _check(tfpcheck.model(data=(X_REG, Y_REG))(factory), max_examples=1, steps=50)
        builds = [v for v in t.violations if v.invariant == "builds"]
        if trains:
            assert not builds and t.status == "passed", t.to_dict()
        else:
            assert builds and type(error).__name__ in builds[0].message, t.to_dict()


# 8. x of shape (N,): dl_book's chapter 8 notebooks fit Input((1,)) models on it (Keras reads one
# feature); tfpcheck crashed on it (IndexError reading x.shape[1]).
@tfpcheck.model(data=(X_REG[:, 0], Y_REG[:, 0]))
def one_feature_on_flat_x():
    inputs = tf_keras.layers.Input(shape=(1,))
    params = tf_keras.layers.Dense(2)(inputs)
    dist = tfpl.DistributionLambda(lambda t: tfd.Normal(t[:, :1], 1e-3 + tf.math.softplus(t[:, 1:])))(params)
    model = tf_keras.Model(inputs=inputs, outputs=dist)
    model.compile(tf_keras.optimizers.Adam(0.01), loss=lambda y, d: -d.log_prob(y))
    return model


def test_flat_x_is_one_feature_as_keras_reads_it():
    model = one_feature_on_flat_x()
    model.fit(X_REG[:, 0], Y_REG[:, 0], epochs=1, verbose=0)  # the user's own fit takes it
    assert tfpcheck.Target(one_feature_on_flat_x, "t", data=(X_REG[:, 0], Y_REG)).data[0].shape == (256, 1)
    t = _check(one_feature_on_flat_x)
    assert t.status == "passed", t.to_dict()
    assert t.examples >= 1


# 9. A loss that reduces the batch to one number shaped (1,): TFP's "Probabilistic Layers
# Regression" case 5 trains a VariationalGaussianProcess on its own variational_loss; tfpcheck
# called that a (1,)-shaped per-example loss and failed loss_shape.
class _Rbf(tf_keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._amplitude = self.add_weight(initializer="zeros", name="amplitude")
        self._length_scale = self.add_weight(initializer="zeros", name="length_scale")

    def call(self, x):
        return x

    @property
    def kernel(self):
        return tfp.math.psd_kernels.ExponentiatedQuadratic(tf.nn.softplus(self._amplitude),
                                                            tf.nn.softplus(self._length_scale))


@tfpcheck.model(data=(X_REG[:, :1], Y_REG[:, 0]))
def variational_gp(n_train):
    model = tf_keras.Sequential([
        tf_keras.layers.InputLayer(input_shape=[1]),
        tfpl.VariationalGaussianProcess(
            num_inducing_points=8, kernel_provider=_Rbf(), event_shape=[1],
            inducing_index_points_initializer=tf_keras.initializers.Constant(
                np.linspace(-2, 2, 8, dtype="float32")[:, None])),
    ])
    model.compile(tf_keras.optimizers.Adam(0.01),
                  loss=lambda y, d: d.variational_loss(y, kl_weight=np.float32(32 / n_train)))
    return model


def test_a_loss_reduced_to_one_number_leaves_loss_shape_not_applicable():
    t = _check(variational_gp, max_examples=1, steps=100)
    assert t.status == "passed", t.to_dict()
    assert any(n.startswith("loss_shape: the loss reduces the batch to one number itself (shape (1,))")
               for n in t.notes), t.notes


def scalar_mse(y, f):
    return tf.reduce_mean(tf.square(y - f))


@pytest.mark.parametrize("loss", [scalar_mse, keras.losses.MeanSquaredError()], ids=["hand-written",
                                                                                    "keras-3-object"])
def test_a_plain_loss_that_reduces_the_batch_itself_is_checked_per_example(loss):
    """A hand-written ``reduce_mean`` loss on a tensor output (or a Keras 3 loss object, which
    reduces, on a tf_keras model) trains under fit; tfpcheck crashed reading its one number as
    per-example terms ("tfpcheck itself failed with ValueError: cannot reshape array of size 1").
    Each example's term is now the loss on that example alone, and learns is judged on them."""
    def factory():
        model = tf_keras.Sequential([tf_keras.layers.Dense(8, activation="relu"), tf_keras.layers.Dense(1)])
        model.compile(tf_keras.optimizers.Adam(0.01), loss=loss)
        return model

    t = _check(tfpcheck.model(data=(X_REG, Y_REG))(factory), max_examples=2)
    assert t.status == "passed", t.to_dict()
    assert not [n for n in t.notes if n.startswith("learns")], t.notes
    assert any(n.startswith("loss_shape: the loss reduces the batch to one number itself") for n in t.notes)


@pytest.mark.parametrize("wrap", [lambda f: [f], lambda f: {"head": f}], ids=["list", "dict"])
def test_a_loss_given_as_a_list_or_dict_of_one_is_that_loss(wrap):
    """``compile(loss=[nll])`` or ``{output_name: nll}`` trains a single-output model under fit;
    tfpcheck refused it at ``builds`` ("tfpcheck checks single-output models with one callable
    loss")."""
    def factory():
        x = tf_keras.Input((X_REG.shape[1],))
        t = tf_keras.layers.Dense(2)(x)
        head = tfpl.DistributionLambda(lambda t: tfd.Normal(t[..., :1], 1e-3 + tf.math.softplus(t[..., 1:])),
                                       name="head")(t)
        model = tf_keras.Model(x, head)
        model.compile(tf_keras.optimizers.Adam(0.01), loss=wrap(lambda y, d: -d.log_prob(y)))
        return model

    t = _check(tfpcheck.model(data=(X_REG, Y_REG))(factory), max_examples=1)
    assert t.status == "passed", t.to_dict()


_IDS = np.random.default_rng(4).integers(0, 12, size=(400, 1))
_ID_COUNTS = np.random.default_rng(5).poisson(np.exp(0.5 + 0.1 * _IDS)).astype("float32")


def _embedding_poisson():
    model = tf_keras.Sequential([tf_keras.layers.Embedding(12, 3, input_length=1), tf_keras.layers.Flatten(),
                                 tf_keras.layers.Dense(1),
                                 tfpl.DistributionLambda(lambda t: tfd.Poisson(log_rate=t))])
    model.compile(tf_keras.optimizers.Adam(0.01), loss=lambda y, d: -d.log_prob(y))
    return model


def test_category_ids_through_an_embedding_stay_ids_under_stress():
    """Stress offset the ids (x_offset=1.0: "indices[25,0] = 20 is not in [0, 20)", a `builds`
    failure of a healthy model); the probe now sees the Embedding and stress leaves x as given."""
    t = _check(tfpcheck.model(data=(_IDS, _ID_COUNTS))(_embedding_poisson), max_examples=4, seed=1,
               regime="stress")
    assert "builds" not in [v.invariant for v in t.violations], t.to_dict()


def test_an_embedding_without_data_is_a_clear_error_not_a_builds_failure():
    t = _check(tfpcheck.model(task="count")(_embedding_poisson), max_examples=1)
    assert t.status == "error" and "reads x as indices (its Embedding layer)" in t.error, t.to_dict()
    assert "data=(x_train, y_train)" in t.error


_OUTCOMES = (X_REG[:, :1] > 0).astype("float32")


def _normal_head():
    model = tf_keras.Sequential([tf_keras.layers.Dense(2), tfpl.DistributionLambda(
        lambda t: tfd.Normal(t[..., :1], 1e-3 + tf.math.softplus(t[..., 1:])))])
    model.compile(tf_keras.optimizers.Adam(0.01), loss=lambda y, d: -d.log_prob(y))
    return model


def test_the_assertion_helper_infers_the_task_as_check_does():
    """train_and_check took task="regression" unless told: a Normal on 0/1 outcomes passed it,
    never asked whether it predicts values outcomes cannot take; check() infers binary."""
    findings = tfpcheck.train_and_check(_normal_head, X_REG, _OUTCOMES, steps=300)
    assert ("predictive_in_domain", "distribution_choice") in [(f.invariant, f.cause) for f in findings]
    assert tfpcheck.train_and_check(_normal_head(), X_REG, Y_REG, steps=100) == []  # built already
    with pytest.raises(tfpcheck.TargetError, match="task='count' was declared"):
        tfpcheck.train_and_check(_normal_head, X_REG, Y_REG, task="count")


# 9. A learning-rate schedule: tfpcheck crashed ("tfpcheck itself failed with TypeError") reading
# it as a rate. The schedule is the user's: kept, started at the example's rate.
@tfpcheck.model(data=(X_REG, Y_REG))
def decaying_rate():
    schedule = tf_keras.optimizers.schedules.ExponentialDecay(0.01, decay_steps=200, decay_rate=0.9)
    model = tf_keras.Sequential([tf_keras.layers.Dense(16, activation="relu"), tf_keras.layers.Dense(2),
                                 tfpl.DistributionLambda(
                                     lambda t: tfd.Normal(t[..., :1], 1e-3 + tf.math.softplus(t[..., 1:])))])
    model.compile(tf_keras.optimizers.Adam(schedule, amsgrad=True), loss=lambda y, d: -d.log_prob(y))
    return model


def test_a_learning_rate_schedule_is_the_users_started_at_the_examples_rate():
    from tfpcheck._config import Config
    from tfpcheck._engine.instrument import config_optimizer
    from tfpcheck._engine.optimizers import schedule_of

    t = _check(decaying_rate, max_examples=2)
    assert t.status == "passed", t.to_dict()
    template = decaying_rate().optimizer
    made = config_optimizer(Config(learning_rate=0.03), template)
    schedule = schedule_of(made)
    assert made.get_config()["amsgrad"] is True
    assert schedule.get_config() == {**schedule_of(template).get_config(), "initial_learning_rate": 0.03}
    piecewise = tf_keras.optimizers.schedules.PiecewiseConstantDecay([100], [0.01, 0.001])
    made = config_optimizer(Config(learning_rate=0.02), tf_keras.optimizers.SGD(piecewise))
    assert np.allclose(schedule_of(made).get_config()["values"], [0.02, 0.002])


# Models of several inputs, given one array per input (refused before: "tfpcheck trains models with
# one input"). keras-io's bayesian_neural_networks recipe feeds its 11 wine features as a dict of
# Inputs of shape (1,), concatenated inside the model; a store id beside float features is the
# Embedding form of it.
_RNG = np.random.default_rng(9)
_WINE = {f"f{i}": _RNG.normal(size=(300, 1)).astype("float32") for i in range(4)}
_SCORE = (5.8 + sum(0.3 * v for v in _WINE.values()) + 0.5 * _RNG.normal(size=(300, 1))).astype("float32")
_STORE, _FEATS = _RNG.integers(0, 12, size=(300, 1)), _RNG.normal(size=(300, 2)).astype("float32")
_SALES = _RNG.poisson(np.exp(0.5 + 0.1 * _STORE + 0.3 * _FEATS[:, :1])).astype("float32")


def _dict_input_bnn(x_train):
    """keras-io's form: a dict of named Inputs, concatenated (x_train is the user's dict)."""
    assert set(x_train) == set(_WINE) and x_train["f0"].shape == (len(x_train["f0"]), 1)
    inputs = {name: tf_keras.Input(shape=(1,), name=name) for name in _WINE}
    h = tf_keras.layers.Dense(8, activation="sigmoid")(tf_keras.layers.concatenate(list(inputs.values())))
    model = tf_keras.Model(inputs, tfpl.IndependentNormal(1)(tf_keras.layers.Dense(2)(h)))
    model.compile(tf_keras.optimizers.RMSprop(0.01), loss=lambda y, d: -d.log_prob(y))
    return model


def _store_model(head="poisson"):
    ids, feats = tf_keras.Input(shape=(1,), dtype="int32"), tf_keras.Input(shape=(2,))
    h = tf_keras.layers.concatenate([tf_keras.layers.Flatten()(tf_keras.layers.Embedding(12, 3)(ids)), feats])
    if head == "poisson":
        out = tfpl.DistributionLambda(lambda t: tfd.Poisson(log_rate=t))(tf_keras.layers.Dense(1)(h))
    else:  # the defect: a Normal on counts
        out = tfpl.DistributionLambda(lambda t: tfd.Normal(t[..., :1], 1e-3 + tf.math.softplus(t[..., 1:])))(
            tf_keras.layers.Dense(2)(h))
    model = tf_keras.Model([ids, feats], out)
    model.compile(tf_keras.optimizers.Adam(0.01), loss=lambda y, d: -d.log_prob(y))
    return model


def test_a_model_of_named_inputs_given_a_dict_is_checked_and_passes():
    t = _check(tfpcheck.model(data=(_WINE, _SCORE))(_dict_input_bnn), max_examples=2)
    assert t.status == "passed", t.to_dict()


def test_ids_and_features_as_two_inputs_pass_and_a_normal_on_their_counts_fails():
    healthy = _check(tfpcheck.model(data=([_STORE, _FEATS], _SALES))(_store_model), max_examples=2,
                     regime="stress")  # the ids stay ids: the Embedding is seen through the list
    assert healthy.status == "passed", healthy.to_dict()
    buggy = _check(tfpcheck.model(data=([_STORE, _FEATS], _SALES))(lambda: _store_model("normal")),
                   max_examples=1)
    assert [(v.invariant, v.cause) for v in buggy.violations] == [
        ("predictive_in_domain", "distribution_choice")], buggy.to_dict()


def test_inputs_and_data_that_disagree_in_number_are_a_clear_error():
    one_array = _check(tfpcheck.model(data=(np.concatenate([_STORE, _FEATS], 1), _SALES))(_store_model))
    assert one_array.status == "error", one_array.to_dict()
    assert "the model takes 2 inputs, and data= gives x as one array" in one_array.error
    no_data = _check(tfpcheck.model(task="count")(_store_model))
    assert "the model takes 2 inputs, and tfpcheck generates one array x" in no_data.error
    too_many = _check(tfpcheck.model(data=([_FEATS, _FEATS], _SCORE))(_normal_head))
    assert "data= gives x as 2 arrays, one per input (0: (N, 2) float32, 1: (N, 2) float32)" in too_many.error


def test_the_assertion_helper_takes_a_built_model_of_several_inputs():
    findings = tfpcheck.train_and_check(_dict_input_bnn(_WINE), _WINE, _SCORE, steps=100)
    assert findings == [], tfpcheck.explain(findings)


_Y3 = (X_REG @ np.array([[1.0, 0.0, -1.0], [0.5, 2.0, 0.0]]) + 0.3).astype("float32")


def _independent_normal(size):
    model = tf_keras.Sequential([tf_keras.layers.Dense(tfpl.IndependentNormal.params_size(size)),
                                 tfpl.IndependentNormal(size)])
    model.compile(tf_keras.optimizers.Adam(0.01), loss=lambda y, d: -d.log_prob(y))
    return model


def test_a_distribution_of_as_many_values_as_a_target_row_passes_and_one_for_several_is_a_note():
    """loss_shape reads the distribution's values per example: IndependentNormal(3) on three target
    columns holds; IndependentNormal(1) on them scores all three against one prediction, which is
    right for repeated measurements only: a note, not a failure (the too-wide defect is in
    test_invariants)."""
    three = _check(tfpcheck.model(data=(X_REG, _Y3))(lambda: _independent_normal(3)), max_examples=1)
    assert three.status == "passed", three.to_dict()
    assert not [n for n in three.notes if n.startswith("loss_shape")], three.notes
    one = _check(tfpcheck.model(data=(X_REG, _Y3))(lambda: _independent_normal(1)), max_examples=1)
    assert one.status == "passed", one.to_dict()
    assert any(n.startswith("loss_shape: Independent(Normal) gives one value per example and each "
                            "target row has 3")
               for n in one.notes), one.notes


_OUTCOMES_2 = (X_REG[:, :1] + 0.5 * np.random.default_rng(6).normal(size=(256, 1)) > 0).astype("float32")


def _plain(activation, loss):
    model = tf_keras.Sequential([tf_keras.layers.Dense(8, activation="relu"),
                                 tf_keras.layers.Dense(1, activation=activation)])
    model.compile(tf_keras.optimizers.Adam(0.01), loss=loss)
    return model


def test_a_plain_loss_whose_output_cannot_reach_the_targets_mean_fails_learns():
    """Under MSE, a cross-entropy on probabilities or poisson, the output predicts the targets'
    mean. Dense(1, softmax) is 1 on every input: tf_keras' cross-entropy reads the logits behind
    the softmax, so the loss falls and the model beat its twin, and it passed. A sigmoid output
    under MSE on targets around 50 likewise beat its twin by 0.004 per example."""
    bce = "binary_crossentropy"
    one_unit = _check(tfpcheck.model(data=(X_REG, _OUTCOMES_2))(lambda: _plain("softmax", bce)),
                      max_examples=1, steps=1600)
    assert [(v.invariant, v.cause) for v in one_unit.violations] == [("learns", "parameterization")], \
        one_unit.to_dict()
    assert "a softmax over a single unit" in one_unit.violations[0].fix
    capped = _check(tfpcheck.model(data=(X_REG, 10 * Y_REG + 50))(lambda: _plain("sigmoid", "mse")),
                    max_examples=1, steps=1600)
    assert [v.invariant for v in capped.violations] == ["learns"], capped.to_dict()
    assert "miss the targets' average" in capped.violations[0].message
    healthy = _check(tfpcheck.model(data=(X_REG, _OUTCOMES_2))(lambda: _plain("sigmoid", bce)),
                     max_examples=2, steps=1600)
    assert healthy.status == "passed", healthy.to_dict()


_ONE_HOT = np.eye(3, dtype="float32")[Y_CLS.astype(int)]


@pytest.mark.parametrize("loss, labels, hint", [
    ("categorical_crossentropy", Y_CLS, "sparse_categorical_crossentropy"),
    ("sparse_categorical_crossentropy", _ONE_HOT, "categorical_crossentropy"),
    ("binary_crossentropy", (Y_CLS[:, None] > 0).astype("float32"), "Dense(1, activation='sigmoid')"),
])
def test_labels_in_the_encoding_the_other_cross_entropy_takes_fail_builds_with_the_swap(loss, labels, hint):
    """The first two crashed tfpcheck ("tfpcheck itself failed with ValueError: Shapes (8, 1) and
    (8, 3) are incompatible"); the third, one 0/1 column against three softmax units, was
    builds / unclassified ("fix the ValueError raised by the model code")."""
    def factory():
        model = tf_keras.Sequential([tf_keras.layers.Dense(8, activation="relu"),
                                     tf_keras.layers.Dense(3, activation="softmax")])
        model.compile(tf_keras.optimizers.Adam(0.01), loss=loss)
        return model

    t = _check(tfpcheck.model(data=(X_CLS, labels))(factory), max_examples=1)
    assert [(v.invariant, v.cause) for v in t.violations] == [("builds", "shape_broadcast")], t.to_dict()
    assert hint in t.violations[0].fix


def _adam_compiled(make, data):
    """A target of ``data`` whose factory compiles the model ``make`` builds with Adam alone
    (for a train_step of its own)."""
    @tfpcheck.model(data=data)
    def own_step():
        model = make()
        model.compile(tf_keras.optimizers.Adam(0.01))
        return model
    return own_step


class _CountNet(tf_keras.Model):
    """A tf_keras model whose own train_step scores the counts with a distribution it builds
    from the raw output (a Poisson's log rate, or a unit Normal's location)."""

    def __init__(self, family):
        super().__init__()
        self.hidden, self.out = tf_keras.layers.Dense(16, activation="relu"), tf_keras.layers.Dense(1)
        self.family = family

    def call(self, x):
        return self.out(self.hidden(x))

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(self.family(self(x, training=True)).log_prob(y))
        self.optimizer.apply_gradients(zip(tape.gradient(loss, self.trainable_variables),
                                           self.trainable_variables, strict=True))
        return {"loss": loss}


def test_a_tf_keras_train_step_of_its_own_gives_its_task_and_its_family_is_judged():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, 2)).astype("float32")
    y = rng.poisson(np.exp(0.3 + 0.6 * x[:, :1])).astype("float32")

    poisson = _check(_adam_compiled(lambda: _CountNet(lambda t: tfd.Poisson(log_rate=t)), (x, y)))
    assert poisson.status == "passed" and poisson.task == "count", poisson
    normal = _check(_adam_compiled(lambda: _CountNet(lambda t: tfd.Normal(t, 1.0)), (x, y)))
    assert [(v.invariant, v.cause) for v in normal.violations] == [
        ("predictive_in_domain", "distribution_choice")], normal.violations


class _FlipoutStep(tf_keras.Model):
    """DenseFlipout layers with their default KL (not divided), a Normal head, and a train_step
    of the model's own that divides the KL by ``kl_divisor`` in its ELBO."""

    def __init__(self, kl_divisor):
        super().__init__()
        self.kl_divisor = kl_divisor
        self.hidden, self.out = tfpl.DenseFlipout(16, activation="relu"), tfpl.DenseFlipout(2)
        self.head = tfpl.DistributionLambda(
            lambda t: tfd.Normal(t[..., :1], 1e-3 + tf.math.softplus(t[..., 1:])))

    def call(self, x):
        return self.head(self.out(self.hidden(x)))

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            nll = -tf.reduce_mean(self(x, training=True).log_prob(y))
            loss = nll + tf.add_n(self.losses) / self.kl_divisor
        self.optimizer.apply_gradients(zip(tape.gradient(loss, self.trainable_variables),
                                           self.trainable_variables, strict=True))
        return {"loss": loss}


def test_a_kl_weighed_by_a_train_step_of_its_own_is_read_from_its_loss():
    """Measured: the ELBO with KL / n_train was named kl_scaling, "weight about 1", and
    "confirmed" by a re-run that changed only how the KL was read."""
    healthy = _check(_adam_compiled(lambda: _FlipoutStep(len(X_REG)), (X_REG, Y_REG)))
    assert healthy.status == "passed", healthy.violations
    unscaled = {(v.invariant, v.cause): v for v in _check(
        _adam_compiled(lambda: _FlipoutStep(1.0), (X_REG, Y_REG))).violations}
    assert not unscaled[("posterior_not_collapsed", "kl_scaling")].confirmed, unscaled


def test_reading_a_tf_keras_train_steps_data_term_leaves_no_optimizer_state_behind():
    """The first read builds the optimizer's slots before saving them: none is left holding a
    step's moments (a tf_keras optimizer says nothing of being built)."""
    from tfpcheck._engine.instrument import step_variables, train_step_likelihood

    model = _CountNet(lambda t: tfd.Poisson(log_rate=t))
    model.compile(tf_keras.optimizers.Adam(0.01))
    x, y = X_REG[:64], np.round(np.abs(Y_REG[:64]))
    model(x)
    weights = [w.numpy().copy() for w in model.weights]
    train_step_likelihood(model, x, y)
    assert all(np.array_equal(a, b.numpy()) for a, b in zip(weights, model.weights, strict=True))
    slots = [v.numpy() for v in step_variables(model) if all(v is not w for w in model.weights)]
    assert len(slots) > 1 and all(not np.any(s) for s in slots), slots  # iterations 0, moments 0


# 10. A wrapper distribution keeps its inner family's parameters in a dict: tfpcheck's walk of
# ZeroInflatedNegativeBinomial's parameters recursed into its `distribution_class` (a class) and
# left learns and predictive_in_domain unevaluated ("'property' object has no attribute
# 'values'"), and never read `total_count`, which sits in its `kwargs`.
def _zero_inflated_counts(n=600, seed=4):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2)).astype("float32")
    mu = np.exp(0.8 + 0.6 * x[:, :1])
    y = np.where(rng.uniform(size=(n, 1)) < 0.3, 0, rng.negative_binomial(2.0, 2.0 / (2.0 + mu)))
    return x, y.astype("float32")


def _zinb_head(total_count):
    def factory():
        model = tf_keras.Sequential([
            tf_keras.Input((2,)), tf_keras.layers.Dense(32, activation="relu"), tf_keras.layers.Dense(3),
            tfpl.DistributionLambda(lambda t: tfd.ZeroInflatedNegativeBinomial(
                total_count=total_count(t[..., :1]), logits=t[..., 1:2], inflated_loc_logits=t[..., 2:]))])
        model.compile(tf_keras.optimizers.Adam(0.01), loss=lambda y, d: -d.log_prob(y))
        return model
    return tfpcheck.model(data=_zero_inflated_counts())(factory)


def test_a_zero_inflated_negative_binomial_is_evaluated_and_its_total_count_checked():
    healthy = _check(_zinb_head(lambda t: 1e-3 + tf.nn.softplus(t)))
    assert healthy.status == "passed" and healthy.task == "count", healthy.to_dict()
    assert not [n for n in healthy.notes if "could not be evaluated" in n], healthy.notes
    raw = _check(_zinb_head(lambda t: t), max_examples=1)
    root = raw.violations[0]
    assert (root.invariant, root.cause) == ("positive_scales", "parameterization"), root.explain()
    assert "total_count" in root.message, root.message


# 11. An Independent asserts nothing on values itself: tfpl.IndependentBernoulli on -1/1 labels
# (log_prob(-1) is finite without validate_args) passed data_in_support, and once found was
# read as standardised targets (mean 0, sd 1).
@pytest.mark.parametrize("labels", ["0/1", "-1/1"])
def test_an_independent_bernoulli_is_asked_about_its_labels(labels):
    y = (X_REG[:, :1] > 0).astype("float32")

    @tfpcheck.model(data=(X_REG, y if labels == "0/1" else 2 * y - 1))
    def independent_bernoulli():
        model = tf_keras.Sequential([tf_keras.Input((2,)), tf_keras.layers.Dense(1),
                                     tfpl.IndependentBernoulli(1)])
        model.compile(tf_keras.optimizers.Adam(0.01), loss=lambda y, d: -d.log_prob(y))
        return model

    report = _check(independent_bernoulli, max_examples=1)
    if labels == "0/1":
        assert report.status == "passed", report.to_dict()
        return
    root = report.violations[0]
    assert (root.invariant, root.cause) == ("data_in_support", "distribution_choice"), root.explain()
    assert "Independent(Bernoulli) takes 0/1: give it (y + 1) / 2" in root.fix, root.fix


# 12. A last layer without its softmax or sigmoid under a cross-entropy on probabilities: Keras
# clips the raw scores into [1e-7, 1 - 1e-7] and trains on, so the model learned and passed.
def _raw_scores_under(loss, labels, keras_module, activation=None):
    x, y = labels

    @tfpcheck.model(data=(x, y))
    def classifier():
        k = keras_module
        units = 1 if loss == "binary_crossentropy" else 3
        model = k.Sequential([k.Input((x.shape[1],)), k.layers.Dense(16, activation="relu"),
                              k.layers.Dense(units, activation=activation)])
        model.compile(k.optimizers.Adam(0.01), loss=loss)
        return model
    return classifier


@pytest.mark.parametrize("loss, labels, keras_module", [
    ("sparse_categorical_crossentropy", (X_CLS, Y_CLS), tf_keras),
    ("binary_crossentropy", (X_REG, (X_REG[:, :1] > 0).astype("float32")), keras)],
    ids=["tf_keras-softmax", "keras3-sigmoid"])
def test_raw_scores_read_as_probabilities_are_parameterization_and_the_activation_passes(
        loss, labels, keras_module):
    activation = "sigmoid" if loss == "binary_crossentropy" else "softmax"
    raw = _check(_raw_scores_under(loss, labels, keras_module), max_examples=1)
    root = raw.violations[0]
    assert (root.invariant, root.cause, root.step) == ("positive_scales", "parameterization", 0), \
        root.explain()
    assert f'activation="{activation}"' in root.fix and "from_logits=True" in root.fix, root.fix
    healthy = _check(_raw_scores_under(loss, labels, keras_module, activation))
    assert healthy.status == "passed", healthy.to_dict()
    assert not [n for n in healthy.notes if n.startswith("positive_scales")], healthy.notes


# 13. Class labels counted from 1: TF raises "label value of 3 which is outside the valid range
# of [0, 3)" on CPU, which was builds / unclassified with "fix the InvalidArgumentError".
def _three_classes(head):
    @tfpcheck.model(data=(X_CLS, Y_CLS + 1))
    def classifier():
        layers = [tf_keras.Input((4,)), tf_keras.layers.Dense(16, activation="relu")]
        if head == "sparse_categorical_crossentropy":
            model = tf_keras.Sequential([*layers, tf_keras.layers.Dense(3, activation="softmax")])
            model.compile(tf_keras.optimizers.Adam(0.01), loss=head)
        else:
            model = tf_keras.Sequential([*layers, tf_keras.layers.Dense(3),
                                         tfpl.DistributionLambda(lambda t: tfd.Categorical(logits=t))])
            model.compile(tf_keras.optimizers.Adam(0.01), loss=lambda y, d: -d.log_prob(y))
        return model
    return classifier


@pytest.mark.parametrize("head", ["sparse_categorical_crossentropy", "Categorical"])
def test_labels_counted_from_one_get_y_minus_one(head):
    root = _check(_three_classes(head), max_examples=1).violations[0]
    assert (root.invariant, root.cause) == ("builds", "distribution_choice"), root.explain()
    assert "the labels run from 1 to 3" in root.fix and "y - 1" in root.fix, root.fix


def test_labels_past_the_classes_ask_for_a_unit_per_class():
    from tfpcheck._engine.initial import _labels_past_the_classes

    said = "Received a label value of 3 which is outside the valid range of [0, 3).  Label values: 0 3"
    assert "4 units, one per class 0 to 3" in _labels_past_the_classes(said, np.array([0.0, 1, 2, 3]))
    assert "number the classes 0 to 2" in _labels_past_the_classes(said, np.array([-1.0, 0, 3]))
    assert _labels_past_the_classes("Incompatible shapes: [8] vs. [3]", np.array([0.0, 1])) is None


# 14. Proportions clipped to exactly 0 or 1 under a Beta: the fix listed families by support,
# Beta among them ("Beta for proportions in (0, 1)"), for a model that had chosen Beta.
def _beta_on(y):
    @tfpcheck.model(data=(X_REG, y))
    def beta_head():
        model = tf_keras.Sequential([tf_keras.Input((2,)), tf_keras.layers.Dense(16, activation="relu"),
                                     tf_keras.layers.Dense(2), tfpl.DistributionLambda(lambda t: tfd.Beta(
                                         1e-3 + tf.math.softplus(t[..., :1]),
                                         1e-3 + tf.math.softplus(t[..., 1:])))])
        model.compile(tf_keras.optimizers.Adam(0.01), loss=lambda y, d: -d.log_prob(y))
        return model
    return beta_head


def test_proportions_at_the_ends_of_a_beta_are_squeezed_inside():
    share = np.clip(1 / (1 + np.exp(-X_REG[:, :1])) + 0.1 * np.random.default_rng(1).normal(
        size=(len(X_REG), 1)), 0, 1).astype("float32")
    assert np.isin(share, (0.0, 1.0)).sum() >= 2
    root = _check(_beta_on(share), max_examples=1).violations[0]
    assert (root.invariant, root.cause) == ("data_in_support", "distribution_choice"), root.explain()
    assert "exactly 0 or 1, the ends of Beta's support" in root.fix and "(y * (n - 1) + 0.5) / n" in root.fix
    n = len(share)
    squeezed = _check(_beta_on(((share * (n - 1) + 0.5) / n).astype("float32")))
    assert squeezed.status == "passed", squeezed.to_dict()


# 15. probs=tf.sigmoid(t) saturating to exactly 1 on features of spread 20: the NaN gradient was
# named data_scale ("standardise the features"), which did not make it go; logits= does.
def _bernoulli(probs):
    y = (X_REG[:, :1] * 6 + np.random.default_rng(2).normal(size=(len(X_REG), 1)) > 0).astype("float32")

    @tfpcheck.model(data=(X_REG * 20, y))
    def saturating():
        head = (lambda t: tfd.Bernoulli(probs=tf.sigmoid(t), dtype=tf.float32)) if probs else (
            lambda t: tfd.Bernoulli(logits=t, dtype=tf.float32))
        model = tf_keras.Sequential([tf_keras.Input((2,)), tf_keras.layers.Dense(16, activation="relu"),
                                     tf_keras.layers.Dense(1), tfpl.DistributionLambda(head)])
        model.compile(tf_keras.optimizers.Adam(0.05), loss=lambda y, d: -d.log_prob(y))
        return model
    return saturating


def test_a_probability_saturated_to_one_is_numerical_instability_with_logits_as_the_fix():
    report = _check(_bernoulli(probs=True), max_examples=1)
    root = report.violations[0]
    assert root.cause == "numerical_instability" and "reached 1" in root.fix, root.explain()
    assert "parameterise with logits=" in root.fix, root.fix
    assert _check(_bernoulli(probs=False)).status == "passed"


def _softplus_normal():
    return tfpl.DistributionLambda(lambda t: tfd.Normal(t[..., :1], 1e-3 + tf.math.softplus(t[..., 1:])))


# 16. Adam at 3: the intervention lowered it tenfold, to 0.3, which still diverged; the cause
# stayed suspected. It now tries at most the top of Adam's usual range.
def test_a_far_too_high_rate_is_confirmed_at_the_top_of_the_usual_range():
    @tfpcheck.model(data=(X_UNIT, Y_UNIT))
    def adam_at_3():
        model = tf_keras.Sequential([tf_keras.Input((3,)), tf_keras.layers.Dense(32, activation="relu"),
                                     tf_keras.layers.Dense(2), _softplus_normal()])
        model.compile(tf_keras.optimizers.Adam(3.0), loss=lambda y, d: -d.log_prob(y))
        return model

    root = _check(adam_at_3, max_examples=1).violations[0]
    assert root.cause == "optimizer_settings" and root.confirmed, root.explain()
    assert root.intervention["changed"] == {"learning_rate": "3 -> 0.01"}, root.intervention


# 17. A Flipout network on raw features (spreads of 0.002 to 3000): each weight draw's noise is
# multiplied by the features, and the predictions moving between draws was named mc_sampling
# ("start the posterior narrow"), which averaging draws did not make go.
def _flipout_on(x, y):
    @tfpcheck.model(data=(x, y))
    def flipout(n_train):
        kl = lambda q, p, _: tfd.kl_divergence(q, p) / n_train  # noqa: E731
        model = tf_keras.Sequential([
            tf_keras.Input((3,)), tfpl.DenseFlipout(16, activation="relu", kernel_divergence_fn=kl),
            tfpl.DenseFlipout(2, kernel_divergence_fn=kl), _softplus_normal()])
        model.compile(tf_keras.optimizers.Adam(0.01), loss=lambda y, d: -d.log_prob(y))
        return model
    return flipout


_RNG = np.random.default_rng(35)
X_UNIT = _RNG.normal(size=(800, 3)).astype("float32")
Y_UNIT = (X_UNIT[:, :1] - X_UNIT[:, 1:2] + 0.3 * _RNG.normal(size=(800, 1))).astype("float32")


def test_weight_noise_on_raw_features_is_data_scale_confirmed_by_standardising():
    raw = (X_UNIT * np.array([3000.0, 0.002, 150.0]) + np.array([20000.0, 0.0, 900.0])).astype("float32")
    root = _check(_flipout_on(raw, Y_UNIT), max_examples=1).violations[0]
    assert (root.invariant, root.cause, root.confirmed) == ("posterior_not_collapsed", "data_scale", True), \
        root.explain()
    assert "each weight draw's noise is multiplied by them" in root.fix, root.fix


# 18. A DenseVariational prior centred at 5 (stddev 0.01), its KL divided by n_train: the
# training traded the fit for a smaller KL (data term 11 -> 163) and the finding was unclassified.
def _dense_variational(prior_loc):
    def prior(kernel_size, bias_size=0, dtype=None):
        n = kernel_size + bias_size
        return tf_keras.Sequential([tfpl.DistributionLambda(lambda _: tfd.Independent(
            tfd.Normal(prior_loc * tf.ones(n), 0.01 if prior_loc else 1.0), reinterpreted_batch_ndims=1))])

    def posterior(kernel_size, bias_size=0, dtype=None):
        n = kernel_size + bias_size
        scale = lambda t: 1e-5 + 0.01 * tf.nn.softplus(0.5413 + t[..., n:])  # noqa: E731 - 0.01 at the start
        return tf_keras.Sequential([tfpl.VariableLayer(2 * n, dtype=dtype), tfpl.DistributionLambda(
            lambda t: tfd.Independent(tfd.Normal(t[..., :n], scale(t)), reinterpreted_batch_ndims=1))])

    @tfpcheck.model(data=(X_UNIT, Y_UNIT))
    def dense_variational(n_train):
        model = tf_keras.Sequential([tf_keras.Input((3,)), tfpl.DenseVariational(
            1, posterior, prior, kl_weight=1 / n_train),
            tfpl.DistributionLambda(lambda t: tfd.Normal(t, 0.3))])
        model.compile(tf_keras.optimizers.Adam(0.05), loss=lambda y, d: -d.log_prob(y))
        return model
    return dense_variational


def test_a_prior_far_from_zero_that_wins_the_trade_is_prior_mismatch_confirmed():
    root = _check(_dense_variational(5.0), max_examples=1).violations[0]
    assert (root.invariant, root.cause, root.confirmed) == ("no_divergence", "prior_mismatch", True), \
        root.explain()
    assert "centred at +-5" in root.fix and "centre the prior at 0" in root.fix, root.fix
    assert _check(_dense_variational(0.0)).status == "passed"


# 19. A tfp.layers head compiled with a Keras loss on tensors ("mse"): Keras fits one sample of
# the distribution, so its scale is never fit as the noise. It passed without a word.
@pytest.mark.parametrize("loss", ["mse", tf_keras.losses.MeanSquaredError(), "nll"])
def test_a_distribution_under_a_keras_loss_on_tensors_is_noted(loss):
    @tfpcheck.model(data=(X_REG, Y_REG))
    def normal_head():
        model = tf_keras.Sequential([tf_keras.Input((2,)), tf_keras.layers.Dense(2), _softplus_normal()])
        model.compile(tf_keras.optimizers.Adam(0.01),
                      loss=(lambda y, d: -d.log_prob(y)) if loss == "nll" else loss)
        return model

    report = _check(normal_head, max_examples=1)
    noted = [n for n in report.notes if "a Keras loss on tensors" in n]
    assert report.status == "passed", report.to_dict()
    assert len(noted) == (loss != "nll"), report.notes
    if noted:
        assert "compile with loss=lambda y, d: -d.log_prob(y)" in noted[0], noted


# 20. Mixed precision with the distribution built in float16: log_prob of float32 targets raised
# "requested dtype float16 for Tensor with dtype float32", builds / unclassified.
def _mixed_precision(head_dtype):
    @tfpcheck.model(data=(X_UNIT, Y_UNIT))
    def mixed():
        model = tf_keras.Sequential([
            tf_keras.Input((3,)), tf_keras.layers.Dense(16, activation="relu", dtype="mixed_float16"),
            tf_keras.layers.Dense(2, dtype=head_dtype), tfpl.DistributionLambda(
                lambda t: tfd.Normal(t[..., :1], 1e-3 + tf.math.softplus(t[..., 1:])), dtype=head_dtype)])
        model.compile(tf_keras.optimizers.Adam(0.01), loss=lambda y, d: -d.log_prob(y))
        return model
    return mixed


def test_a_distribution_in_half_precision_is_told_to_keep_the_outputs_float32():
    root = _check(_mixed_precision("mixed_float16"), max_examples=1).violations[0]
    assert (root.invariant, root.cause) == ("builds", "numerical_instability"), root.explain()
    assert "dtype='float32' on both" in root.fix, root.fix
    assert _check(_mixed_precision("float32")).status == "passed"


# 21. An Input of another width than the data's rows: "fix the ValueError raised by the model code".
def test_an_input_of_another_width_than_the_data_names_both():
    @tfpcheck.model(data=(X_UNIT, Y_UNIT))
    def five_features():
        model = tf_keras.Sequential([tf_keras.Input((5,)), tf_keras.layers.Dense(2), _softplus_normal()])
        model.compile(tf_keras.optimizers.Adam(0.01), loss=lambda y, d: -d.log_prob(y))
        return model

    root = _check(five_features, max_examples=1).violations[0]
    assert root.invariant == "builds", root.explain()
    assert "takes 5 features per example and the data have 3: build it with Input((3,))" in root.fix


# 22. Unconditional densities (TFP's AutoregressiveTransform docstring: x = np.zeros((n, 0))): the
# model read its task through a truth test on a tfp.layers distribution and crashed; learns
# compared the model with an x-denied twin that is the model itself and failed it.
_DENSITY_Y = np.stack([2.0 * np.random.default_rng(5).normal(size=400)] * 2, axis=-1).astype("float32")
_DENSITY_Y[:, 1] = np.random.default_rng(6).normal(size=400) + 0.25 * _DENSITY_Y[:, 0] ** 2


def _autoregressive_flow(sign=-1.0):
    def factory():
        model = tf_keras.Sequential([
            tf_keras.layers.InputLayer(input_shape=(0,), dtype=tf.float32),
            tfpl.DistributionLambda(lambda t: tfd.MultivariateNormalDiag(
                loc=tf.zeros(tf.concat([tf.shape(t)[:-1], [2]], axis=0)), scale_diag=[1.0, 1.0])),
            tfpl.AutoregressiveTransform(tfp.bijectors.AutoregressiveNetwork(
                params=2, hidden_units=[10], activation="relu")),
        ])
        model.compile(tf_keras.optimizers.Adam(), loss=lambda y, rv_y: sign * rv_y.log_prob(y))
        return model

    return tfpcheck.model(data=(np.zeros((400, 0), "float32"), _DENSITY_Y))(factory)


def test_an_unconditional_density_passes_with_learns_not_applicable():
    result = _check(_autoregressive_flow())
    assert result.status == "passed", result.violations[0].explain() if result.violations else result.error
    assert any(n.startswith("learns: x has no columns") for n in result.notes), result.notes


def test_a_normal_fitted_on_a_constant_column_is_a_density_too():
    y = (3.0 + 1.5 * np.random.default_rng(7).normal(size=(400, 1))).astype("float32")

    @tfpcheck.model(data=(np.ones((400, 1), "float32"), y))
    def fitted_normal():
        model = tf_keras.Sequential([tf_keras.Input((1,)), tfpl.VariableLayer(2, dtype=tf.float32),
                                     _softplus_normal()])
        model.compile(tf_keras.optimizers.Adam(0.05), loss=lambda y, d: -d.log_prob(y))
        return model

    result = _check(fitted_normal)
    assert result.status == "passed", result.violations[0].explain() if result.violations else result.error
    assert any(n.startswith("learns: every column of x is constant") for n in result.notes), result.notes


# 23. A loss of the wrong sign (lambda y, d: d.log_prob(y)): told at step 0, whatever fails later.
def test_a_loss_equal_to_log_prob_is_told_to_put_the_minus_back():
    result = _check(_autoregressive_flow(sign=1.0), max_examples=1)
    root = result.violations[0]
    assert (root.invariant, root.cause, root.step) == ("learns", "tfp_layer_misuse", 0), root.explain()
    assert "-rv_y.log_prob(y)" in root.fix
    assert len(result.violations) == 1, [v.invariant for v in result.violations]  # the rest: its echoes


# 24. Targets a Bernoulli can't take, as images hand them over: pixels kept as bytes (0/255, a
# VAE's binarised images) are the scale, not the family; grey levels in [0, 1] (MNIST scaled by
# 1/255, not binarised) are binarised or given a density on [0, 1], in a Keras 3 loss too (its
# Bernoulli is int32: the fractions were cast to 0 before they were asked about).
def _tfp_layers_bernoulli():
    model = tf_keras.Sequential([tf_keras.Input((2,)), tf_keras.layers.Dense(1),
                                 tfpl.IndependentBernoulli(1, tfd.Bernoulli.logits)])
    model.compile(tf_keras.optimizers.Adam(0.01), loss=lambda y, d: -d.log_prob(y))
    return model


def _keras3_loss_bernoulli():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.01), loss=lambda y, t: -tfd.Bernoulli(logits=t).log_prob(y))
    return model


@pytest.mark.parametrize("build, targets, cause, fixes", [
    (_tfp_layers_bernoulli, lambda z: 255.0 * (z > 0), "data_scale", ["y / 255"]),
    (_tfp_layers_bernoulli, lambda z: 1 / (1 + np.exp(-z)), "distribution_choice",
     ["binarise them", "ContinuousBernoulli"]),
    (_keras3_loss_bernoulli, lambda z: 1 / (1 + np.exp(-z)), "distribution_choice", ["binarise them"]),
], ids=["bytes", "grey-levels", "grey-levels-keras3-loss"])
def test_targets_a_bernoulli_cannot_take_get_the_fix_for_their_encoding(build, targets, cause, fixes):
    x, _ = _regression()
    root = _check(tfpcheck.model(data=(x, targets(x[:, :1]).astype("float32")))(build),
                  max_examples=1).violations[0]
    assert (root.invariant, root.cause) == ("data_in_support", cause), root.explain()
    assert all(f in root.fix for f in fixes), root.fix


# 25. Targets of another shape than the distribution's with as many values: flatten or reshape.
def test_an_event_of_the_targets_size_in_another_shape_names_both_shapes():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(300, 4, 4)).astype("float32")

    @tfpcheck.model(data=(x, (0.8 * x).astype("float32")))
    def flattened_event():
        model = tf_keras.Sequential([tf_keras.Input((4, 4)), tf_keras.layers.Flatten(),
                                     tf_keras.layers.Dense(tfpl.IndependentNormal.params_size(16)),
                                     tfpl.IndependentNormal(16)])
        model.compile(tf_keras.optimizers.Adam(0.01), loss=lambda y, d: -d.log_prob(y))
        return model

    root = _check(flattened_event, max_examples=1).violations[0]
    assert (root.invariant, root.cause) == ("builds", "shape_broadcast"), root.explain()
    assert "event shape (4, 4)" in root.fix and "y.reshape(len(y), -1)" in root.fix, root.fix


# 26. Censored survival: y = [time, event], the loss picks the time and weighs log_prob against
# the log survival by the event (the WTTE-RNN shape, with TFP's Weibull). The event column is not
# the family's target (it was "outside Weibull's support"); TFP's log_survival_function underflows
# to -inf and the mask's 0 * -inf is NaN: numerical_instability, not a new family.
def _censored(closed_form):
    rng = np.random.default_rng(9)
    x = rng.normal(size=(400, 3)).astype("float32")
    t = np.exp(0.5 * x[:, 0] + 3.0) * rng.weibull(1.5, size=400)  # days: tens, some hundreds
    c = rng.exponential(scale=60.0, size=400)
    y = np.stack([np.minimum(t, c), (t <= c)], axis=-1).astype("float32")

    def censored_nll(y, out):
        time, event = y[:, :1], y[:, 1:]
        k, s = 1e-3 + tf.math.softplus(out[:, 1:]), tf.exp(out[:, :1])
        d = tfd.Weibull(concentration=k, scale=s)
        log_sf = -((time / s) ** k) if closed_form else d.log_survival_function(time)
        return -(event * d.log_prob(time) + (1.0 - event) * log_sf)

    @tfpcheck.model(data=(x, y))
    def censored_weibull():
        model = tf_keras.Sequential([tf_keras.Input((3,)), tf_keras.layers.Dense(16, activation="relu"),
                                     tf_keras.layers.Dense(2)])
        model.compile(tf_keras.optimizers.Adam(0.01), loss=censored_nll)
        return model

    return censored_weibull


def test_a_censored_survival_loss_picking_its_targets_passes():
    result = _check(_censored(closed_form=True))
    assert result.status == "passed", result.violations[0].explain() if result.violations else result.error
    assert not any(n.startswith("loss_shape") for n in result.notes), result.notes


def test_an_underflowing_survival_term_is_numerical_instability_not_the_targets():
    root = _check(_censored(closed_form=False), max_examples=1).violations[0]
    assert (root.invariant, root.cause) == ("data_in_support", "numerical_instability"), root.explain()
    assert "-(t / scale) ** concentration" in root.fix and "column 0 of y" in root.message


# 27. Successes out of 20 trials under total_count=10: the trials, not another family.
def test_counts_above_a_binomials_total_count_ask_for_the_real_number_of_trials():
    rng = np.random.default_rng(10)
    x = rng.normal(size=(300, 3)).astype("float32")
    y = rng.binomial(20, 1 / (1 + np.exp(-x[:, :1]))).astype("float32")

    @tfpcheck.model(data=(x, y))
    def too_few_trials():
        model = tf_keras.Sequential([tf_keras.Input((3,)), tf_keras.layers.Dense(1),
                                     tfpl.DistributionLambda(lambda t: tfd.Binomial(10.0, logits=t))])
        model.compile(tf_keras.optimizers.Adam(0.01), loss=lambda y, d: -d.log_prob(y))
        return model

    root = _check(too_few_trials, max_examples=1).violations[0]
    assert (root.invariant, root.cause) == ("data_in_support", "distribution_choice"), root.explain()
    assert f"total_count={y.max():g} or more" in root.fix, root.fix


# 28. The minus forgotten in a loss that reduces the batch itself.
def test_a_mean_log_prob_loss_is_told_to_put_the_minus_back():
    @tfpcheck.model(data=(X_UNIT, Y_UNIT))
    def mean_log_prob():
        model = tf_keras.Sequential([tf_keras.Input((3,)), tf_keras.layers.Dense(2), _softplus_normal()])
        model.compile(tf_keras.optimizers.Adam(0.01), loss=lambda y, d: tf.reduce_mean(d.log_prob(y)))
        return model

    root = _check(mean_log_prob, max_examples=1).violations[0]
    assert (root.invariant, root.cause, root.step) == ("learns", "tfp_layer_misuse", 0), root.explain()


# 29. A softmax read as logits (from_logits=True, Keras only warns): it learns, capped; a note.
@pytest.mark.parametrize("activation, loss, bound", [
    ("softmax", "SparseCategoricalCrossentropy", "can't pass 0.73"),
    ("sigmoid", "BinaryCrossentropy", "stay between 0.5 and 0.73"),
])
def test_probabilities_read_as_logits_are_noted(activation, loss, bound):
    x, y = _classes(k=2) if activation == "softmax" else (X_CLS, (Y_CLS > 0).astype("float32"))
    units = 2 if activation == "softmax" else 1

    def squashed(logits_out):
        @tfpcheck.model(data=(x, y))
        def factory():
            model = tf_keras.Sequential([tf_keras.Input((4,)), tf_keras.layers.Dense(
                units, activation=None if logits_out else activation)])
            model.compile(tf_keras.optimizers.Adam(0.01),
                          loss=getattr(tf_keras.losses, loss)(from_logits=True))
            return model

        return factory

    noted = [n for n in _check(squashed(False)).notes if "reads them as logits" in n]
    assert len(noted) == 1 and bound in noted[0], noted
    assert not [n for n in _check(squashed(True)).notes if "reads them as logits" in n]


# 30. An activation copied onto the layer that feeds a tfp.layers head confines every parameter
# it reads (relu: a location never negative, a scale never below 0.69); the model still learns.
@pytest.mark.parametrize("activation", ["relu", None])
def test_an_activation_feeding_a_tfp_layers_head_is_noted(activation):
    @tfpcheck.model(data=(X_REG, Y_REG))
    def head_fed_by(input_dim):
        model = tf_keras.Sequential([
            tf_keras.Input((input_dim,)), tf_keras.layers.Dense(16, activation="relu"),
            tf_keras.layers.Dense(2, activation=activation), tfpl.IndependentNormal(1)])
        model.compile(tf_keras.optimizers.Adam(0.01), loss=lambda y, d: -d.log_prob(y))
        return model

    noted = [n for n in _check(head_fed_by).notes if "feeding tfpl.IndependentNormal" in n]
    assert len(noted) == (1 if activation else 0), noted
    assert not noted or "applies relu" in noted[0] and "[0, inf)" in noted[0]


# Factories checked without data: the generated targets take the shape the model scores. Each
# failed before: integer labels fed to categorical_crossentropy or a OneHotCategorical head, one
# 0/1 column against three labels, a zero-inflated Poisson judged on real-valued targets.
def _dense(input_dim, units, loss, activation=None, head=None):
    layers = [tf_keras.layers.Input((input_dim,)), tf_keras.layers.Dense(16, activation="relu"),
              tf_keras.layers.Dense(units, activation=activation)]
    model = tf_keras.Sequential(layers + ([head] if head is not None else []))
    model.compile(tf_keras.optimizers.Adam(0.01), loss=loss)
    return model


@tfpcheck.model(task="categorical")
def three_classes_one_hot_loss(input_dim):
    return _dense(input_dim, 3, "categorical_crossentropy", "softmax")


@tfpcheck.model(task="categorical")
def one_hot_categorical_head(input_dim, output_dim):
    return _dense(input_dim, output_dim, lambda y, d: -d.log_prob(y), head=tfpl.OneHotCategorical(output_dim))


@tfpcheck.model(task="binary")
def three_labels(input_dim):
    return _dense(input_dim, 3, lambda y, d: -d.log_prob(y), head=tfpl.IndependentBernoulli(3))


def _zero_inflated(t):
    gate = tf.math.sigmoid(t[..., :1])
    return tfd.Independent(tfd.Mixture(
        cat=tfd.Categorical(probs=tf.stack([gate, 1.0 - gate], axis=-1)),
        components=[tfd.Deterministic(loc=tf.zeros_like(gate)), tfd.Poisson(log_rate=t[..., 1:])]), 1)


@tfpcheck.model()
def zero_inflated_poisson(input_dim):
    return _dense(input_dim, 2, lambda y, d: -d.log_prob(y), head=tfpl.DistributionLambda(_zero_inflated))


@tfpcheck.model()
def keras3_loss_builds_a_categorical(input_dim):
    """The Categorical refuses the real-valued targets the first build is probed with: the task
    is still read from it, not from the loss's name."""
    model = keras.Sequential([keras.Input((input_dim,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(4)])
    model.compile(keras.optimizers.Adam(0.01),
                  loss=lambda y, t: -tfd.Categorical(logits=t).log_prob(tf.reshape(y, [-1])))
    return model


@pytest.mark.parametrize("factory, task, output_dim, one_hot", [
    (three_classes_one_hot_loss, "categorical", 3, True),
    (one_hot_categorical_head, "categorical", None, True),
    (three_labels, "binary", 3, False),
    (zero_inflated_poisson, "count", 1, False),
    (keras3_loss_builds_a_categorical, "categorical", 4, False),
])
def test_generated_targets_take_the_shape_the_model_scores(factory, task, output_dim, one_hot):
    """The model's classes, labels and encoding are read at the first build (a factory taking
    output_dim has it drawn); a tfd.Mixture's task is its components', the point mass aside."""
    from tfpcheck._search import _intent
    from tfpcheck._target import get_target

    inferred, setup, _ = _intent(get_target(factory), None)
    assert (inferred, setup.output_dim, setup.one_hot) == (task, output_dim, one_hot)
    (t,) = tfpcheck.check(factory, max_examples=4).targets
    assert (t.status, t.task, t.violations) == ("passed", task, []), t.to_dict()


def test_a_one_class_model_on_generated_categorical_targets_still_fails():
    @tfpcheck.model(task="categorical")
    def one_unit(input_dim):
        return _dense(input_dim, 1, tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    (t,) = tfpcheck.check(one_unit, max_examples=1).targets
    assert t.status == "failed" and t.violations[0].invariant == "builds", t.to_dict()


# A factory's output_dim on the user's own data is the data's: its classes or its target columns
# (it was always 1: a 4-class model built with one unit).
_X4 = np.random.default_rng(4).normal(size=(300, 5)).astype("float32")
_LABELS4 = np.argmax(_X4[:, :4] + 0.3 * np.random.default_rng(5).gumbel(size=(300, 4)), axis=1)


@tfpcheck.model(data=(_X4, np.eye(4, dtype="float32")[_LABELS4]))
def output_dim_from_one_hot_rows(input_dim, output_dim):
    return _dense(input_dim, output_dim, "categorical_crossentropy", "softmax")


@tfpcheck.model(data=(_X4, _LABELS4))
def output_dim_from_class_indices(input_dim, output_dim):
    return _dense(input_dim, output_dim, tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True))


@tfpcheck.model(data=(_X4, _X4[:, :2] + 0.1))
def output_dim_from_target_columns(input_dim, output_dim):
    return _dense(input_dim, tfpl.IndependentNormal.params_size(output_dim), lambda y, d: -d.log_prob(y),
                  head=tfpl.IndependentNormal(output_dim))


@pytest.mark.parametrize("factory, output_dim", [
    (output_dim_from_one_hot_rows, 4), (output_dim_from_class_indices, 4),
    (output_dim_from_target_columns, 2),
])
def test_output_dim_is_the_users_datas(factory, output_dim):
    from tfpcheck._search import _intent
    from tfpcheck._target import get_target

    assert _intent(get_target(factory), None)[1].output_dim == output_dim
    (t,) = tfpcheck.check(factory, max_examples=2).targets
    assert (t.status, t.violations) == ("passed", []), t.to_dict()
    assert not any(note.startswith("loss_shape") for note in t.notes), t.notes


@tfpcheck.model(data=(X_REG, Y_REG))
def loss_of_prob_on_a_tfp_layers_output():
    """-log(d.prob(y)): TFP's tfp.layers output forwards prob() to Normal._prob, which Normal
    lacks, so the user's own fit raises AttributeError; it was 'unclassified'."""
    model = tf_keras.Sequential([tf_keras.layers.Dense(2), tfpl.DistributionLambda(
        lambda t: tfd.Normal(t[..., :1], 1e-3 + tf.math.softplus(t[..., 1:])))])
    model.compile(tf_keras.optimizers.Adam(0.01), loss=lambda y, d: -tf.math.log(d.prob(y)))
    return model


def test_prob_on_a_tfp_layers_output_is_misuse_with_the_log_scale_fix():
    (t,) = tfpcheck.check(loss_of_prob_on_a_tfp_layers_output, max_examples=1).targets
    (finding,) = t.violations
    assert (finding.invariant, finding.cause) == ("builds", "tfp_layer_misuse"), finding
    assert "call d.log_prob(y)" in finding.fix and "Normal's private _prob" in finding.fix
