"""One build and one traced step per architecture: successive examples reuse the model.

Tracing a new training step costs about half a second on these machines, more than the brief
training itself for a small network. Examples of a target that share the architecture and the
tensor shapes differ only in data values, seeds, learning rate and length, so the model built
and traced for the first is kept and, per example, put back into the state a fresh build
would have: every variable the factory, the build and the optimizer created is re-initialised
(with its own initializer, reseeded from the example's seed, where that is an unseeded random
one; with the value it was created with otherwise: zeros, constants, an optimizer's
accumulators, an initializer the user seeded), and the learning rate is assigned to the
optimizer's variable. The x-denied twin of ``learns`` has the
same architecture and shapes, so it is the same model: its state is kept aside (``set_aside``)
while the model trains and swapped back in when the twin trains on (``train._Twin``).

The initial weights then depend on the example's seed only, never on whether the model was
reused (a freshly built one is re-initialised the same way). What a reused model does not get
back is the state of the random ops inside its traced step (Flipout's, a sampled posterior's):
they continue their streams, so a reused run draws other noise than a fresh one, as another
seed would; the verdicts agree (``tests/test_reuse.py``). Those streams are a run's own: a run
of the search starts from none of its target's models (``start_run``), so what it draws depends
on the run (target, seed, budget), never on what the process checked before. A fuzz worker
keeps them across its rounds, whose findings are replayed for reproducibility anyway.

Not reused (built fresh every time, as before): Keras 3 models, a model the user built already,
a legacy optimizer or a learning-rate schedule (no variable to assign), a factory that reads the
training data's values (``x_train``/``y_train``: a new subsample is a new model; the same data
reuses it).
"""

from __future__ import annotations

import contextlib
import hashlib
import random
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tensorflow as tf
import tf_keras

from tfpcheck._engine.inputs import feed
from tfpcheck._engine.tiered import traced

__all__ = ["EAGER_SWAPS", "MAX_CACHED", "MAX_CACHED_BYTES", "RESEED_EVERY", "Created", "cache_key", "capture",
           "clear", "lookup", "materialise", "reinitialise", "seed_host", "set_aside", "start_run", "store",
           "swap"]

#: Eager set-asides and swaps of the twin's state (three an example) before they are traced
#: (``tiered.py``): 2-4 ms a call eagerly, 0.11 s for the trace, under 1 ms traced.
EAGER_SWAPS = 16
#: Architectures kept at once (a target's optimizer classes, input widths and interventions): a
#: search cycling through them rebuilds none. A model dropped from the cache gives its memory
#: back (``retained.py``), so the cap weighs memory against rebuilds: a fuzz worker on the
#: seed's ``example2_fixed`` (4 input widths x 6 optimizer settings, every one kept) grew
#: +187 MB over 300 examples, and ran them in 135-142 s against 204 s with 4 kept; one on a
#: width drawn per example (a new model nearly every time) +247 MB, +933 MB before
#: ``retained.py`` (``benchmarks/fuzz_rss.py``).
MAX_CACHED = 32
#: The variables (weights, optimizer state and the twin's copy of both) the kept models may
#: hold together: what eviction does give back, for a target whose models are large.
MAX_CACHED_BYTES = 512 * 2**20
#: Reused examples between two settings of TensorFlow's global seed. Setting it clears the
#: eager context's caches, after which each traced function costs ~0.2 s to instantiate again
#: (measured: the first step 230 ms against 0.7 ms for a small DenseFlipout network), so it is
#: not set per reused example. Not setting it at all grows memory: with a global seed set, every
#: eager random op (a variational layer's forward pass) gets a new op seed and a new cached
#: kernel (measured: +0.28 MB per eager forward pass, flat once the seed is set again).
RESEED_EVERY = 100
_REUSED = [0]


@dataclass
class Created:
    """The variables one build created, with how to give each its initial value again."""

    variables: list[tuple[Any, Any, np.ndarray]] = field(default_factory=list)


@dataclass
class _Entry:
    factory: Any  # held so that its id() is not reused by another factory while cached
    model: Any
    nbytes: int = 0  # its variables and their spare copies (the twin's state)


_CACHE: OrderedDict[tuple[Any, ...], _Entry] = OrderedDict()


@contextlib.contextmanager
def capture() -> Iterator[Created]:
    """Record every variable created inside: its initializer (when Keras passed one) and the
    value it was created with."""
    created = Created()

    def creator(next_creator: Any, **kwargs: Any) -> Any:
        variable = next_creator(**kwargs)
        with contextlib.suppress(Exception):  # a variable without a value now: not reusable
            created.variables.append((variable, kwargs.get("initial_value"), variable.numpy()))
        return variable

    with tf.variable_creator_scope(creator):
        yield created


def cache_key(
    factory: Any, kwargs: Mapping[str, Any], x: np.ndarray, y: np.ndarray, config: Any,
    adjust: frozenset[str],
) -> tuple[Any, ...]:
    """What decides the architecture and the traced shapes: the factory, its arguments (arrays by
    content), the feature and target shapes and dtypes, float type, optimizer class settings and
    the interventions."""
    args = tuple(sorted((name, _fingerprint(value)) for name, value in kwargs.items()))
    return (id(factory), args, x.shape[1:], str(x.dtype), y.shape[1:], str(y.dtype),
            config.dtype, config.optimizer, config.momentum, config.clipnorm,
            tuple(sorted(adjust)), len(x) if adjust else None)


def _fingerprint(value: Any) -> Any:
    if isinstance(value, dict):  # x_train of a model of several inputs: one array per input
        return tuple((repr(k), _fingerprint(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return tuple(_fingerprint(v) for v in value)
    if isinstance(value, np.ndarray):
        return (value.shape, str(value.dtype), hashlib.sha1(np.ascontiguousarray(value)).hexdigest())
    return repr(value)


def lookup(key: tuple[Any, ...], factory: Any) -> Any:
    """The cached model for ``key`` (None on a miss)."""
    entry = _CACHE.get(key)
    if entry is None or entry.factory is not factory:
        return None
    _CACHE.move_to_end(key)
    return entry.model


def store(key: tuple[Any, ...], factory: Any, model: Any, created: Created) -> bool:
    """Keep ``model`` for later examples with the same key, when it can be put back to a fresh
    state (see the module docstring for what can't); whether it was kept."""
    optimizer = getattr(model, "optimizer", None)
    if not (isinstance(optimizer, tf_keras.optimizers.Optimizer)
            and isinstance(getattr(optimizer, "_learning_rate", None), tf.Variable)):
        return False
    model._tfpcheck_created = created
    _CACHE[key] = _Entry(factory, model, 2 * sum(value.nbytes for _, _, value in created.variables))
    while len(_CACHE) > 1 and (len(_CACHE) > MAX_CACHED
                               or sum(e.nbytes for e in _CACHE.values()) > MAX_CACHED_BYTES):
        _CACHE.popitem(last=False)  # the least recently used
    return True


def materialise(model: Any, x: np.ndarray) -> None:
    """Create every variable now, inside :func:`capture`: the layers' (one forward pass on one
    example) and the optimizer's slots, which would otherwise be created while the step traces."""
    model(feed(model, x[:1]), training=False)
    model.optimizer.build(model.trainable_variables)


def reinitialise(model: Any, seed: int, learning_rate: float) -> None:
    """Every captured variable back to a fresh value for ``seed``; the learning rate assigned."""
    for index, (variable, initial, value) in enumerate(model._tfpcheck_created.variables):
        variable.assign(_initial_value(initial, value, _derived_seed(seed, index)))
    model.optimizer.learning_rate = learning_rate
    model.stop_training = False


def _initial_value(initial: Any, value: np.ndarray, seed: int) -> Any:
    """An unseeded random Keras initializer (``functools.partial(initializer, shape, dtype=...)``
    is what Keras hands ``tf.Variable``) drawn again with ``seed``; anything else, its creation
    value (an initializer the user seeded gives the same values every time, as it would fresh)."""
    init = getattr(initial, "func", None)
    config = init.get_config() if hasattr(init, "get_config") and hasattr(init, "from_config") else {}
    if "seed" not in config or config["seed"] is not None:
        return value
    reseeded = type(init).from_config({**config, "seed": seed})
    return reseeded(*initial.args, **initial.keywords)


def seed_host(seed: int) -> None:
    """Python's and NumPy's generators seeded for this example; TensorFlow's global seed only
    every RESEED_EVERY reused examples (see there)."""
    random.seed(seed)
    np.random.seed(seed)
    _REUSED[0] += 1
    if _REUSED[0] % RESEED_EVERY == 0:
        tf.random.set_seed(seed)


def _derived_seed(seed: int, index: int) -> int:
    return int.from_bytes(hashlib.sha1(f"{seed}/{index}".encode()).digest()[:4], "little") >> 1


def set_aside(model: Any) -> bool:
    """Copy the value of every captured variable (weights and optimizer state) into the model's
    spare variables (the x-denied twin's state while the model trains); False for a model that
    is not reused. Traced from its EAGER_SWAPS+1-th call on."""
    if getattr(model, "_tfpcheck_created", None) is None:
        return False
    _spare(model).run(model, "_set_aside")
    return True


def swap(model: Any) -> None:
    """Exchange the model's state with what :func:`set_aside` kept."""
    _spare(model).run(model, "_swap")


class _Spare:
    """A spare variable for each captured one, and the copies between the two sets."""

    def __init__(self, variables: list[Any]) -> None:
        self.variables = variables
        self.spares = [tf.Variable(v.read_value(), trainable=False) for v in variables]

    def run(self, model: Any, name: str) -> None:
        copy = traced(model, f"_traced{name}", getattr(self, name), EAGER_SWAPS, keep_on=self)
        (copy or getattr(self, name))()

    @tf.autograph.experimental.do_not_convert  # plain variable assignments: nothing to convert
    def _set_aside(self) -> None:
        for variable, spare in zip(self.variables, self.spares, strict=True):
            spare.assign(variable)

    @tf.autograph.experimental.do_not_convert  # plain variable assignments: nothing to convert
    def _swap(self) -> None:
        # Every read happens before the assignment of the same variable: eagerly in order, traced
        # by automatic control dependencies (they follow program order per variable).
        current = [variable.read_value() for variable in self.variables]
        for variable, spare in zip(self.variables, self.spares, strict=True):
            variable.assign(spare)
        for spare, value in zip(self.spares, current, strict=True):
            spare.assign(value)


def _spare(model: Any) -> _Spare:
    spare = getattr(model, "_tfpcheck_spare", None)
    if spare is None:
        spare = _Spare([variable for variable, _, _ in model._tfpcheck_created.variables])
        object.__setattr__(model, "_tfpcheck_spare", spare)  # untracked: not the model's weights
    return spare


def clear() -> None:
    """Forget every cached model (their memory goes with them)."""
    _CACHE.clear()


def start_run(factory: Any) -> None:
    """A new run of the search on ``factory``'s target: its cached models forgotten (their traced
    steps' random streams with them) and the reseeding count restarted, so that the run draws
    the same noise whatever the process ran before it. Measured: TFP regression case 4 at seed 2
    passed alone and failed ``learns`` after seeds 0 and 1 in the same process."""
    for key in [key for key, entry in _CACHE.items() if entry.factory is factory]:
        del _CACHE[key]
    _REUSED[0] = 0
