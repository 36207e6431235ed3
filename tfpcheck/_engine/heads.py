"""The layer that feeds a tfp.layers distribution head: its activation confines the head.

A tfp.layers head (``IndependentNormal``, ``IndependentPoisson``, ``IndependentBernoulli``, ...)
reads its distribution's parameters raw from the layer before it and constrains them itself (a
scale through softplus). An activation on that layer, copied from the hidden layers above it,
confines every parameter: under relu a location is never negative, a Poisson's log-rate never
below 0 (rate >= 1), a scale never below softplus(0) = 0.69. The model still trains and often
beats its x-denied twin, so no invariant fails; the report says it (a note).
"""

from __future__ import annotations

from typing import Any

__all__ = ["confined_heads"]

#: The range each activation maps onto (what the head's raw parameters are confined to).
RANGES = {
    "relu": "[0, inf)", "relu6": "[0, 6]", "elu": "(-1, inf)", "selu": "(-1.76, inf)",
    "softplus": "(0, inf)", "exponential": "(0, inf)", "sigmoid": "(0, 1)", "hard_sigmoid": "[0, 1]",
    "tanh": "(-1, 1)", "softsign": "(-1, 1)", "softmax": "(0, 1)", "swish": "[-0.28, inf)",
    "silu": "[-0.28, inf)", "gelu": "[-0.17, inf)", "mish": "[-0.31, inf)",
}


def confined_heads(model: Any) -> list[str]:
    """One note per tfp.layers head whose input layer applies a confining activation."""
    notes = []
    for layer in getattr(model, "layers", []):
        if not hasattr(type(layer), "params_size"):
            continue
        feeding = _feeding_layer(layer)
        name = getattr(getattr(feeding, "activation", None), "__name__", "linear")
        if name not in RANGES:
            continue
        notes.append(
            f"the {type(feeding).__name__} '{feeding.name}' feeding tfpl.{type(layer).__name__} applies "
            f"{name}, so every parameter the head reads from it is confined to {RANGES[name]} (a "
            "location, log-rate or logits; a scale through its softplus, 0.69 and up under relu): "
            "a tfp.layers head reads raw outputs and constrains them itself. Give that layer "
            "activation=None (the default)")
    return notes


def _feeding_layer(layer: Any) -> Any:
    """The single layer whose output ``layer`` was first called on; None for any other wiring."""
    try:
        inbound = layer._inbound_nodes[0].inbound_layers
    except (AttributeError, IndexError):
        return None
    return inbound if not isinstance(inbound, (list, tuple)) else None
