"""tfpcheck.strategies: Hypothesis strategies for TFP + Keras model configurations.

Installed as ``tfpcheck.strategies`` (there is no top-level ``strategies`` module).
"""

from tfpcheck._space import configs

__all__ = ["configs"]
