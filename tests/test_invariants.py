"""Each invariant fires on a constructed defect, names the expected cause, and stays quiet
on healthy models across seeds. Real TF training throughout; no mocks."""

from __future__ import annotations

import pytest

import tfpcheck
from tests import models
from tfpcheck._engine import run_config
from tfpcheck._invariants import INVARIANTS, diagnose, evaluate
from tfpcheck._target import Target


def violations(factory, task="regression", **config):
    trace = run_config(Target(factory, factory.__name__, task=task), tfpcheck.Config(task=task, **config))
    return {v.invariant: (v, diagnose(v, trace)) for v in evaluate(trace) if not v.holds}


DEFECTS = [
    # (factory, task, config, invariant, cause)
    (models.raises_in_factory, "regression", {}, "builds", "unclassified"),
    (models.not_a_distribution, "regression", {}, "builds", "tfp_layer_misuse"),
    (models.log_of_output, "regression", {"steps": 20}, "finite_loss", "numerical_instability"),
    (models.sqrt_at_zero, "regression", {"steps": 20}, "finite_gradients", "numerical_instability"),
    (models.raw_scale, "regression", {"steps": 20}, "positive_scales", "parameterization"),
    (models.raw_posterior_scale, "regression", {"steps": 20}, "positive_scales", "parameterization"),
    (models.own_train_step_raw_scale, "regression", {"steps": 20}, "positive_scales",
     "parameterization"),
    (models.exp_scale, "regression", {"steps": 5, "x_scale": 1000.0}, "positive_scales",
     "numerical_instability"),
    (models.broadcast_loc, "regression", {"steps": 20}, "loss_shape", "shape_broadcast"),
    (models.event_too_wide, "regression", {"steps": 20}, "loss_shape", "shape_broadcast"),
    (models.poisson_head, "regression", {"steps": 20}, "data_in_support", "distribution_choice"),
    (models.huge_sgd, "regression", {"steps": 30, "optimizer": "sgd", "learning_rate": 2.5},
     "no_divergence", "optimizer_settings"),
    (models.ignores_x, "regression", {}, "learns", "unclassified"),  # no evidence of a cause
    (models.kl_not_divided, "regression", {"steps": 100}, "posterior_not_collapsed", "kl_scaling"),
    (models.point_posterior, "regression", {"steps": 50}, "posterior_not_collapsed",
     "variational_family"),
    (models.normal_on_counts, "count", {}, "predictive_in_domain", "distribution_choice"),
]


@pytest.mark.parametrize(
    "factory, task, config, invariant, cause", DEFECTS, ids=[d[0].__name__ for d in DEFECTS]
)
def test_invariant_fires_on_its_defect(factory, task, config, invariant, cause):
    found = violations(factory, task, **config)
    assert invariant in found, f"{invariant} did not fire; got {sorted(found)}"
    verdict, diagnosis = found[invariant]
    assert diagnosis.cause == cause, (diagnosis.cause, verdict.message)
    assert diagnosis.fix and verdict.message


HEALTHY = [
    (models.healthy_normal, "regression"),
    (models.healthy_flipout, "regression"),
    (models.healthy_variational, "regression"),
    (models.healthy_poisson, "count"),
    (models.healthy_bernoulli, "binary"),
    (models.healthy_categorical, "categorical"),
]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("factory, task", HEALTHY, ids=[h[0].__name__ for h in HEALTHY])
def test_healthy_model_holds_every_invariant(factory, task, seed):
    output_dim = 3 if task == "categorical" else 1
    found = violations(factory, task, seed=seed, input_dim=2, output_dim=output_dim)
    assert not found, {k: v.message for k, (v, _) in found.items()}


@pytest.mark.parametrize("factory", [models.healthy_reparameterization, models.own_train_step])
def test_other_variational_layers_and_own_train_step_hold(factory):
    found = violations(factory, seed=0, input_dim=2)
    assert not found, {k: v.message for k, (v, _) in found.items()}


def test_posterior_parameters_are_checked_with_their_role():
    verdict, _ = violations(models.raw_posterior_scale, steps=5)["positive_scales"]
    assert verdict.evidence["role"] == "posterior"
    assert verdict.evidence["parameter"].startswith("dense_variational/posterior.")


def test_own_train_step_is_trained_through_and_observed():
    trace = run_config(Target(models.own_train_step, "own"), tfpcheck.Config(steps=30))
    assert trace.custom_train_step
    assert len(trace.grad_norms) == 30 and all(g > 0 for g in trace.grad_norms)
    assert trace.losses[-1] < trace.losses[0]


def test_own_train_step_compiled_with_an_optimizer_alone_trains_with_the_users_optimizer():
    """tf_keras keeps ``loss={}`` for ``compile(optimizer=...)`` alone: such a model was refused
    ("loss=DictWrapper({}): tfpcheck checks single-output models with one callable loss")."""
    from tfpcheck._engine import probe_target

    target = Target(models.own_train_step_compiled, "own_compiled")
    probe = probe_target(target)
    assert (probe.user_optimizer, probe.user_learning_rate) == ("adam", 0.02)
    assert not violations(models.own_train_step_compiled, seed=0, input_dim=2, learning_rate=0.02)
    trace = run_config(target, tfpcheck.Config(steps=30))
    assert trace.build_failure is None and trace.custom_train_step


def test_every_invariant_is_covered_by_a_defect():
    assert {d[3] for d in DEFECTS} == set(INVARIANTS)


def test_builds_failure_skips_the_other_invariants():
    found = violations(models.raises_in_factory)
    assert list(found) == ["builds"]
    assert "units must be positive" in found["builds"][0].message


def test_a_lower_triangular_scale_needs_a_non_zero_diagonal_of_either_sign():
    """TFP's scale_tril contract is a non-zero diagonal (log|diag| in the log-determinant); the
    positive diagonal of FillScaleTriL, its constraining bijector, is one choice of sign."""
    import tensorflow as tf
    import tensorflow_probability as tfp

    from tfpcheck._engine.constraints import parameter_checks

    def n_bad(diagonal):
        tril = tf.constant([[diagonal[0], 0.0], [0.3, diagonal[1]]])
        mvn = tfp.distributions.MultivariateNormalTriL(loc=tf.zeros(2), scale_tril=tril)
        (check,) = [c for c in parameter_checks(mvn, "output") if c.name == "scale_tril"]
        return int(check.summary()["n_bad"])

    assert n_bad([1.0, 2.0]) == 0
    assert n_bad([-0.5, 2.0]) == 0  # a sign TFP allows (TFP's VariationalGaussianProcess layer trains to it)
    assert n_bad([0.0, 2.0]) == 1  # singular: outside
    assert n_bad([1.0, float("inf")]) == 1
