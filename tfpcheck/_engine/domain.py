"""The values a task's targets can take, and how much predictive mass a model puts elsewhere.

``data_in_support`` asks whether the data lie inside the model's support; this asks the
converse: whether the trained model predicts values the data can never take (a Normal head on
counts predicts negative counts). Plain NumPy over predictive draws, so it applies to any
distribution the model returns, mixtures and transformed distributions included.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["DOMAINS", "LOSS_DOMAINS", "MEAN_LOSSES", "outside_domain"]

#: Per task: the domain in words and a test of which draws fall outside it. Regression and
#: categorical targets (class indices or one-hot) put no bound a real-valued draw can break.
DOMAINS: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]] = {
    "count": ("non-negative counts", lambda s: s < 0),
    "positive": ("positive amounts", lambda s: s <= 0),
    "binary": ("0/1 outcomes", lambda s: (s < 0) | (s > 1)),
}


#: Per task a plain Keras loss implies (``probe.task_of_loss``): the targets it scores. Such a loss
#: is a family's negative log-likelihood up to a constant (poisson: y_pred - y log y_pred; a
#: cross-entropy: -y log p), and for other targets it is finite but keeps falling as the
#: predictions run to 0 or to its clip, so nothing fails while the model fits nothing. Sparse
#: cross-entropies take class indices, whose range the finite-loss test already checks.
LOSS_DOMAINS: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]] = {
    "count": ("non-negative targets", lambda y: y < 0),
    "binary": ("targets in [0, 1]", lambda y: (y < 0) | (y > 1)),
    "categorical": ("one-hot (or soft) rows of values in [0, 1]", lambda y: (y < 0) | (y > 1)),
}


#: Keras cross-entropies that read the output as probabilities unless ``from_logits``, with the
#: family whose ``probs`` those are. Each value must lie in [0, 1]; Keras clips one that does not
#: into [1e-7, 1 - 1e-7], so raw scores (a last layer without its softmax or sigmoid) train
#: without an error and predict() returns values that are no probabilities.
PROBABILITY_LOSSES = {"binary_crossentropy": "Bernoulli", "binary_focal_crossentropy": "Bernoulli",
                      "categorical_crossentropy": "Categorical",
                      "sparse_categorical_crossentropy": "Categorical"}


#: Plain Keras losses whose best output for an example is the targets' conditional mean: MSE, a
#: cross-entropy on probabilities (not from_logits; not the sparse ones, whose targets are class
#: indices), poisson on a rate. Their output predicts the targets' mean, so once fitted its range
#: over the training set spans the targets' average (learns' unreached test). MAE, Huber and
#: custom losses predict a median or a quantile, which may lie off the mean: not here.
MEAN_LOSSES = ("mean_squared_error", "mse", "binary_crossentropy", "categorical_crossentropy", "poisson")


def outside_domain(task: str, draws: np.ndarray) -> tuple[float, str] | None:
    """``(share of draws outside the task's domain, the domain in words)``; None without a domain."""
    if task not in DOMAINS:
        return None
    words, outside = DOMAINS[task]
    draws = np.asarray(draws, dtype=float)
    finite = draws[np.isfinite(draws)]
    if finite.size == 0:
        return None  # non-finite predictions: finite_loss and positive_scales report them
    return float(np.mean(outside(finite))), words
