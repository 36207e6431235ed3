"""The TensorFlow side of tfpcheck: (Target, Config) -> Trace.

Everything here imports TensorFlow: building and compiling the target's model with
recording wrappers (``instrument``), the traced training step, run until the loss settles
(``train``, ``schedule``), the x-denied twin of ``learns`` (``train``), one build and one
traced step per architecture, reused across examples (``reuse``), the whole-set forward passes
traced once per model (``passes``), the constraints
read from ``parameter_properties()`` (``constraints``), the variational layers' posteriors
and priors (``variational``), the predictive domain (``domain``), the naming of exceptions
(``classify``), the probe that infers a task and reads the optimizer (``probe``), and Poisson
draws that return on a NaN rate while a model runs (``samplers``). The
rest of the package imports this folder only inside functions, so that importing tfpcheck
(and its pytest plugin) stays free of TensorFlow.
"""

from tfpcheck._engine.probe import Probe, probe_target, read_model
from tfpcheck._engine.train import run_config, training_data

__all__ = ["Probe", "probe_target", "read_model", "run_config", "training_data"]
