"""The TensorFlow side of tfpcheck: (Target, Config) -> Trace.

Everything here imports TensorFlow: building and compiling the target's model with
recording wrappers (``instrument``), the traced training step (``train``), the
constraints read from ``parameter_properties()`` (``constraints``), the variational
layers' posteriors and priors (``variational``), the constant baseline of ``learns``
(``baseline``), the predictive domain (``domain``) and the naming of exceptions
(``classify``). The rest of the package imports this folder only inside functions, so
that importing tfpcheck (and its pytest plugin) stays free of TensorFlow.
"""

from tfpcheck._engine.train import run_config, training_data

__all__ = ["run_config", "training_data"]
