"""Project-wide pytest set-up: size TF's threads before any test imports TensorFlow."""

from hypothesis import settings

from tfpcheck._env import prepare_tf_environment

prepare_tf_environment()

# Our own property tests each train models (about a second an example): few examples,
# no deadline, derandomized so CI is reproducible.
settings.register_profile("tfpcheck-tests", max_examples=5, deadline=None, derandomize=True)
settings.load_profile("tfpcheck-tests")
