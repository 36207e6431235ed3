"""The classes a patch of a ``tfd.Distribution`` method must reach.

TFP's metaclass gives some families a copy of a base method of their own (``Normal`` has its own
``kl_divergence``; ``MultivariateNormalTriL`` and ``LogNormal``, transformed distributions, their
own ``log_prob``): patching ``tfd.Distribution`` alone misses their calls, or sees only the
base distribution's inside them.
"""

from __future__ import annotations

import tensorflow_probability as tfp

__all__ = ["owners"]


def owners(name: str) -> list[type]:
    """``tfd.Distribution`` and every subclass with a ``name`` method of its own."""
    found, stack, seen = [], [tfp.distributions.Distribution], set()
    while stack:
        cls = stack.pop()
        if cls in seen:
            continue
        seen.add(cls)
        if name in vars(cls):
            found.append(cls)
        stack.extend(cls.__subclasses__())
    return found
