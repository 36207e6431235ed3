"""Name the cause of an exception raised while building or training a model.

The patterns come from what TF, Keras and TFP actually raise for each mistake
(seen on TF 2.21 / tf-keras 2.21 / TFP 0.25); anything unrecognised is reported
as ``unclassified`` with the original message rather than guessed.
"""

from __future__ import annotations

import math
import re
import traceback

from tfpcheck._trace import BuildFailure

__all__ = ["classify_exception", "keras3_failure", "not_a_distribution"]

_KERAS3_WAYS = (
    "Either build the whole model with `import tf_keras` "
    "(tf_keras.Sequential, tf_keras.layers.Dense, ...) instead of `tf.keras`/`keras` (or set "
    "TF_USE_LEGACY_KERAS=1 before TensorFlow is first imported), or stay on Keras 3 and move the "
    "distribution into the loss: end with keras.layers.Dense(2) and compile with "
    "loss=lambda y, t: -tfd.Normal(t[..., :1], 1e-3 + tf.math.softplus(t[..., 1:])).log_prob(y) "
    "(KL terms through self.add_loss in your own layer)."
)
_KERAS3_FIX = f"tfp.layers only work with Keras 2. {_KERAS3_WAYS}"
_KERAS3_LAMBDA_FIX = (f"a Keras 3 layer (a keras.layers.Lambda) cannot output a tfd distribution: Keras 3 "
                      f"passes tensors only, and tfp.layers' DistributionLambda is Keras 2's. {_KERAS3_WAYS}")
_SIGNATURE_FIX = (
    "DenseVariational calls make_posterior_fn(kernel_size, bias_size, dtype) and "
    "make_prior_fn(kernel_size, bias_size, dtype), each returning a Keras model that outputs a "
    "distribution over kernel_size + bias_size weights; tfp.layers.default_multivariate_normal_fn "
    "and default_mean_field_normal_fn have a different signature and belong to "
    "DenseFlipout/DenseReparameterization (kernel_posterior_fn=...)."
)


_NO_EXACT_KL_FIX = (
    "no closed-form KL is registered between this posterior and this prior (a mixture or a "
    "custom prior): estimate it by sampling, DenseVariational(..., kl_use_exact=False), or for "
    "Flipout/Reparameterization layers kernel_divergence_fn=lambda q, p, w: "
    "tf.reduce_sum(q.log_prob(w) - p.log_prob(w)) / n_train (TFP passes the sampled weights as w)."
)
_EVENT_SIZE_FIX = (
    "the prior and the posterior describe different numbers of weights: make_prior_fn and "
    "make_posterior_fn are both called with (kernel_size, bias_size, dtype) and must both return "
    "a distribution with event shape [kernel_size + bias_size] (e.g. tfd.Independent(tfd.Normal("
    "tf.zeros(kernel_size + bias_size), 1.), reinterpreted_batch_ndims=1))."
)


def classify_exception(
    exc: BaseException, stage: str, step: int | None = None, *, keras_3: bool = False,
    target_shape: tuple[int, ...] | None = None, dist_shape: tuple[int, ...] | None = None,
) -> BuildFailure:
    """A :class:`BuildFailure` with the cause and fix for ``exc`` raised at ``stage``. In a Keras 3
    model every traceback runs through Keras 3's files: only tf_keras or tfp.layers objects in it
    mean a version mix there. ``target_shape`` (the targets' shape past the batch axis) and
    ``dist_shape`` (the output distribution's batch + event shape) tell which side of a shape
    mismatch is which."""
    root = _root_cause(exc)
    message = _strip_keras_wrapper(f"{exc}".strip())
    if root is not exc:
        message = f"{type(root).__name__}: {_strip_keras_wrapper(str(root))}"
    files = " ".join(
        f.filename for e in (exc, root) for f in traceback.extract_tb(e.__traceback__)
    )
    shapes = None if target_shape is None else (target_shape, dist_shape)
    if not keras_3 and _keras3_object_reached_tf_keras(exc, root):
        files += " /keras/src/"  # a Keras 3 tensor or layer in a tf_keras frame: a version mix
    layer = _distribution_layer(exc, root)
    if layer is not None and _SIZE_WORDS.search(message):
        cause, fix = "tfp_layer_misuse", _params_size_fix(layer)
    else:
        cause, fix = _match(type(exc).__name__, message, files, keras_3, shapes)
    return BuildFailure(
        stage=stage,
        error_type=type(exc).__name__,
        message=_first_lines(message),
        cause=cause,
        fix=fix,
        step=step,
    )


#: What tf_keras says when a layer's output is a TFP composite tensor (a distribution) that is
#: not wrapped by a tfp.layers layer: its KerasTensor needs a shape the distribution's spec lacks.
_TF_KERAS_GOT_A_DISTRIBUTION = "KerasTensor only supports TypeSpecs that have a shape field"
_WRAP_FIX = (
    "a tf_keras layer that is not a tfp.layers layer returned a tfd distribution (a "
    "tf_keras.layers.Lambda, or a Layer of your own whose call returns one): Keras can only pass "
    "tensors between layers. Build the distribution in tfpl.DistributionLambda(lambda t: "
    "tfd.Normal(t[..., :1], 1e-3 + tf.math.softplus(t[..., 1:]))), which hands Keras a tensor and "
    "the loss the distribution; a layer with weights of its own (learned cutpoints, a noise scale) "
    "returns tensors, and a DistributionLambda after it builds the distribution from them."
)


#: What TF and TFP say when a tfp.layers distribution layer is handed the wrong number of
#: parameters (a Dense(1) before IndependentNormal(1), which splits them into loc and scale).
_SIZE_WORDS = re.compile(r"evenly divisible|ways to split|could not be broadcast|Incompatible shapes|"
                         r"[Cc]annot reshape|Input to reshape is a tensor with")


def _distribution_layer(*excs: BaseException) -> str | None:
    """The class of the tfp.layers distribution layer (one with ``params_size``) whose code the
    tracebacks ran through when they raised, innermost last; None where none did."""
    found = None
    for exc in excs:
        tb = exc.__traceback__
        while tb is not None:
            owner = type(tb.tb_frame.f_locals.get("self"))
            if owner.__module__.startswith("tensorflow_probability.python.layers.distribution_layer") \
                    and hasattr(owner, "params_size"):
                found = owner.__name__
            tb = tb.tb_next
    return found


def _params_size_fix(layer: str) -> str:
    return (
        f"tfpl.{layer} reads its distribution's parameters from the layer before it, which must "
        f"output tfpl.{layer}.params_size(...) values, called with {layer}'s own arguments "
        f"(IndependentNormal(1) takes 2: a location and a scale; MultivariateNormalTriL(2) takes 5): "
        f"end with tf_keras.layers.Dense(tfpl.{layer}.params_size(...)) before tfpl.{layer}(...)."
    )


#: Where Keras 3's tensors, layers and models live (its losses and optimizers are not looked for).
_KERAS3_GRAPH_MODULES = ("keras.src.backend", "keras.src.layers", "keras.src.models")


def _keras3_object_reached_tf_keras(*excs: BaseException) -> bool:
    """Whether a local variable of a tf_keras frame in the tracebacks holds a Keras 3 object (a
    ``keras.Input`` tensor or a ``keras.layers`` layer): tf_keras then fails with messages that
    name neither ('tuple' object has no attribute 'rank')."""
    for exc in excs:
        tb = exc.__traceback__
        while tb is not None:
            if "tf_keras/" in tb.tb_frame.f_code.co_filename:
                values = list(tb.tb_frame.f_locals.values())
                values += [v for seq in values if isinstance(seq, (list, tuple)) for v in seq]
                if any(type(v).__module__.startswith(_KERAS3_GRAPH_MODULES) for v in values):
                    return True
            tb = tb.tb_next
    return False


def keras3_failure(class_name: str, problem: str | None = None, fix: str = _KERAS3_FIX) -> BuildFailure:
    message = problem or f"the factory returned a Keras 3 object ({class_name}), not a keras.Model"
    return BuildFailure("factory", "Keras3Model", message, "keras_version", fix)


_KERAS3_NO_LOSS_FIX = (
    "compile the Keras 3 model with the loss it trains on (a Keras loss, or a function that builds a "
    "tfd distribution from the outputs: loss=lambda y, t: -tfd.Normal(t[..., :1], 1e-3 + "
    "tf.math.softplus(t[..., 1:])).log_prob(y)), or override compute_loss(x, y, y_pred, ...): "
    "tfpcheck trains through your train_step but reads the per-example data term from the loss "
    "(a train_step that computes its own loss gives it nothing to read)."
)


def not_a_distribution(kind: str, keras_3: bool = False) -> BuildFailure:
    if keras_3:
        return BuildFailure(
            stage="forward", error_type="NoLoss",
            message=f"the Keras 3 model outputs a {kind} and has neither a compiled loss nor a "
            "compute_loss of its own", cause="tfp_layer_misuse", fix=_KERAS3_NO_LOSS_FIX)
    return BuildFailure(
        stage="forward",
        error_type="NotADistribution",
        message=f"the model's output is a {kind}, not a tfd.Distribution, and it was not compiled "
        "with a loss",
        cause="tfp_layer_misuse",
        fix=(
            "compile the model with the loss it trains on (a Keras loss, or a function that builds "
            "a tfd distribution from the outputs), or end it with a tfp.layers distribution layer (e.g. "
            "tfpl.DistributionLambda(lambda t: tfd.Normal(t[..., :1], "
            "1e-3 + tf.math.softplus(0.05 * t[..., 1:]))) or tfpl.IndependentNormal(1))."
        ),
    )


def _match(kind: str, message: str, files: str, keras_3: bool = False,
           shapes: tuple[tuple[int, ...], tuple[int, ...]] | None = None) -> tuple[str, str]:
    if keras_3 and ("tf_keras" in message or "tf_keras/" in files
                    or "tensorflow_probability/python/layers/" in files):
        return "keras_version", _KERAS3_FIX  # a tfp.layers / tf_keras object in a Keras 3 model
    if keras_3 and re.search(r"\btfp\.distributions\.\w+\(", message):
        # Keras 3 raised with a distribution as its message: a layer (a keras.layers.Lambda)
        # returned one where Keras 3 passes tensors only
        return "keras_version", _KERAS3_LAMBDA_FIX
    if not keras_3 and _TF_KERAS_GOT_A_DISTRIBUTION in message and "auto_composite_tensor" in message:
        return "tfp_layer_misuse", _WRAP_FIX  # a Lambda or own layer returned a tfd distribution
    if not keras_3 and (
        "keras.Layer" in message
        or "KerasTensor" in message
        or "keras.src." in message  # a Keras 3 layer handed to a tf_keras model
        or "/keras/src/" in files
    ):
        return "keras_version", _KERAS3_FIX
    if _looks_like_signature_misuse(message, files):
        return "tfp_layer_misuse", _SIGNATURE_FIX
    if "No KL(" in message:
        return "tfp_layer_misuse", _NO_EXACT_KL_FIX
    if "Event shapes do not match" in message or "with different event shapes" in message or (
        _shape_mismatch(message) and "layers/dense_variational" in files
    ):  # an exact KL, or the sampled one DenseVariational computes, between unequal sizes
        return "tfp_layer_misuse", _EVENT_SIZE_FIX
    gap = _COERCIBLE_GAP.search(message)
    if gap is not None and kind == "AttributeError":
        return "tfp_layer_misuse", _coercible_gap_fix(*gap.groups())
    if "log_prob" in message and kind == "AttributeError":
        return "tfp_layer_misuse", "the loss calls .log_prob: the model must output a distribution."
    width = _INPUT_WIDTH.search(message)
    if width is not None:
        want, got = width.groups()
        return "unclassified", (
            f"the model's input takes {want} features per example and the data have {got}: build it "
            f"with Input(({got},)), or take the factory parameter input_dim, which tfpcheck fills with "
            "the data's width.")
    half = _HALF_PRECISION.search(message)
    if half is not None:
        return "numerical_instability", _HALF_PRECISION_FIX.format(dtype=half.group(1))
    if _shape_mismatch(message):
        return "shape_broadcast", _shape_fix(message, shapes)
    if "Argument `" in message and ("must be positive" in message or "non-negative" in message):
        return "parameterization", (
            "map the raw network output into the parameter's domain, e.g. "
            "scale = 1e-3 + tf.math.softplus(t)."
        )
    if "XLA" in message and "unsupported operations" in message:
        op = re.search(r"No registered '(\w+)' OpKernel for XLA", message)
        return "unclassified", (
            f"the training step is compiled with XLA (jit_compile=True; Keras 3's 'auto' does the "
            f"same on a GPU) and {f'its {op.group(1)} op' if op else 'an op in it'} has no XLA "
            "kernel: write that part with TensorFlow ops (no tf.numpy_function/py_function), or "
            "compile with jit_compile=False."
        )
    return "unclassified", f"fix the {kind} raised by the model code; the message above says where."


#: What a tfp.layers output (TFP's _TensorCoercible, which forwards prob/cdf/survival_function to
#: the private method of the distribution it wraps) raises for a family that lacks that method:
#: ``d.prob(y)`` on a DistributionLambda(tfd.Normal) output, where a plain Normal's prob works.
_COERCIBLE_GAP = re.compile(r"'(\w+)' object has no attribute '_(prob|cdf|survival_function)'")


def _coercible_gap_fix(family: str, method: str) -> str:
    return (f"the model's output is a tfp.layers distribution, which forwards {method}() to {family}'s "
            f"private _{method}, and {family} defines only log_{method}: call d.log_{method}(y) "
            f"(tf.exp of it where {method} itself is wanted); as a loss, -d.log_prob(y), which stays "
            f"finite where {method} underflows to 0.")


#: A model whose Input has another width than the data's rows (Keras's own words).
_INPUT_WIDTH = re.compile(r"incompatible with the layer: expected shape=\(None, (\d+)\), "
                          r"found shape=\((?:\d+|None), (\d+)\)")
#: A distribution built in half precision (a mixed_float16 policy on the layers that feed it)
#: asked about float32 targets: TF's mixed-precision guide keeps the model's outputs float32.
_HALF_PRECISION = re.compile(r"requested dtype (b?float16) for Tensor with dtype float(?:32|64)")
_HALF_PRECISION_FIX = (
    "the distribution was built in {dtype} (a mixed-precision policy on the layers that feed it) and "
    "asked about float32 targets: keep the last Dense and the distribution layer in float32 "
    "(dtype='float32' on both), as TF's mixed-precision guide does for a model's outputs: {dtype} "
    "keeps about three significant digits, too few for a log-likelihood.")


_SHAPE_PAIR = re.compile(r"\[(\d+(?:, ?\d+)*)\] vs\. \[(\d+(?:, ?\d+)*)\]")


def _shape_fix(message: str, shapes: tuple[tuple[int, ...], tuple[int, ...] | None] | None) -> str:
    """The fix for a shape mismatch, said with the shapes where the op's message gives the
    targets' and the output distribution's (``shapes``: each past the batch axis, the
    distribution's batch + event shape, None where a loss builds it from a tensor output): a
    sequence model's (N, T) targets against a (N, T, 1) head. An op inside ``log_prob`` may
    mismatch shapes of its own: then the generic fix."""
    pair = _SHAPE_PAIR.search(message)
    if pair is not None and shapes is not None:
        a, b = (tuple(int(v) for v in side.split(",")) for side in pair.groups())
        tail, dist_tail = shapes
        for targets, dist in ((a, b), (b, a)):
            if targets[1:] != tuple(tail) or dist_tail is not None and dist[1:] != tuple(dist_tail):
                continue
            fix = _axis_fix(targets, dist, dist_tail is None)
            if fix is not None:
                return fix
    return ("make the distribution's batch shape match the targets: keep loc as (N, 1) for (N, 1) "
            "targets (t[..., :1], not t[:, 0]) or wrap it in tfd.Independent.")


def _axis_fix(targets: tuple[int, ...], dist: tuple[int, ...], in_loss: bool) -> str | None:
    """The fix for (N, *tail) targets against a distribution of shape ``dist``; where a loss
    builds it (``in_loss``), the other side of the op is only known to be a tensor the loss made
    from the outputs, so only a trailing axis more or fewer is read as the distribution's."""
    tail, dist_tail = targets[1:], dist[1:]
    whose = "batch shape of the distribution the loss builds" if in_loss else "distribution's batch shape"
    said = f"the targets have shape {targets} and the {whose} is {dist}"
    if dist_tail == (*tail, 1):
        return (f"{said}, one trailing axis more: give the targets that axis (y[..., None] "
                "before fit) or build the distribution from t[..., 0] instead of t[..., :1].")
    if (*dist_tail, 1) == tail:
        return (f"{said}, one trailing axis fewer: keep it in the distribution (t[..., :1], "
                "not t[..., 0]) or give the targets as y[..., 0].")
    if not in_loss and tail != dist_tail and _size(tail) == _size(dist_tail):
        return (f"{said}: the same {_size(tail)} values per example, in another shape. "
                f"Give the distribution the targets' event shape {tail} (tfpl.IndependentNormal"
                f"({tail}) after Dense(tfpl.IndependentNormal.params_size({tail})), or "
                f"tfd.Independent(..., reinterpreted_batch_ndims={len(tail)}) of parameters "
                f"reshaped to {tail}), or flatten the targets to {dist_tail} "
                "(y.reshape(len(y), -1)).")
    return None


def _size(shape: tuple[int, ...]) -> int:
    return int(math.prod(shape))


def _shape_mismatch(message: str) -> bool:
    return any(s in message for s in ("Incompatible shapes", "Dimensions must be equal", "broadcast"))


def _looks_like_signature_misuse(message: str, files: str) -> bool:
    tfp_layer = "tensorflow_probability/python/layers" in files
    signature = (
        "add_variable_fn" in message
        or "make_posterior_fn" in message
        or "make_prior_fn" in message
        or ("required positional argument" in message and tfp_layer)
        or ("positional argument" in message and "dense_variational" in files)
    )
    return signature


def _root_cause(exc: BaseException) -> BaseException:
    """The innermost exception Keras re-raised (its wrapper hides the useful message)."""
    seen = {id(exc)}
    while True:
        inner = exc.__cause__ or exc.__context__
        if inner is None or id(inner) in seen:
            return exc
        seen.add(id(inner))
        exc = inner


def _strip_keras_wrapper(message: str) -> str:
    """Drop Keras's 'Exception encountered when calling layer' and 'Call arguments' blocks."""
    lines = [line for line in message.splitlines() if line.strip()]
    kept = [
        line for line in lines
        if not line.startswith("Exception encountered when calling layer")
        and not line.startswith("Call arguments received")
        and not line.lstrip().startswith("•")
    ]
    return "\n".join(kept) or message


def _first_lines(message: str, limit: int = 6) -> str:
    lines = [line for line in message.splitlines() if line.strip()]
    return "\n".join(lines[:limit])
