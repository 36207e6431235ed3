"""Public models written after their sources (see each file's docstring), as pytest targets:
``pytest --tfpcheck examples/``. Each healthy model must pass; each ``*_buggy`` twin carries one
realistic defect and must fail with the cause its docstring names."""

from public_dl_book import (
    dl_book_custom_loss,
    dl_book_custom_loss_buggy,
    dl_book_fixed_scale,
    dl_book_fixed_scale_buggy,
    dl_book_mixture,
    dl_book_mixture_buggy,
    dl_book_poisson,
    dl_book_poisson_buggy,
    dl_book_sine_mc_dropout,
    dl_book_sine_nonbayes,
    dl_book_sine_vi,
    dl_book_sine_vi_buggy,
)
from public_keras3 import dl_keras3_gaussian, dl_keras3_gaussian_buggy, keras_io_mdn, keras_io_mdn_buggy
from public_tfp import (
    keras_io_prob_bnn,
    keras_io_prob_bnn_buggy,
    tfp_autoregressive_flow,
    tfp_autoregressive_flow_buggy,
    tfp_flipout_classifier,
    tfp_flipout_classifier_buggy,
    tfp_vae,
    tfp_vae_buggy,
)
from public_tfp_regression import (
    tfp_regression_aleatoric,
    tfp_regression_aleatoric_buggy,
    tfp_regression_both,
    tfp_regression_epistemic,
    tfp_regression_epistemic_buggy,
    tfp_regression_no_uncertainty,
    tfp_regression_vgp,
)

__all__ = [
    "dl_book_custom_loss",
    "dl_book_custom_loss_buggy",
    "dl_book_fixed_scale",
    "dl_book_fixed_scale_buggy",
    "dl_book_mixture",
    "dl_book_mixture_buggy",
    "dl_book_poisson",
    "dl_book_poisson_buggy",
    "dl_book_sine_mc_dropout",
    "dl_book_sine_nonbayes",
    "dl_book_sine_vi",
    "dl_book_sine_vi_buggy",
    "dl_keras3_gaussian",
    "dl_keras3_gaussian_buggy",
    "keras_io_mdn",
    "keras_io_mdn_buggy",
    "keras_io_prob_bnn",
    "keras_io_prob_bnn_buggy",
    "tfp_autoregressive_flow",
    "tfp_autoregressive_flow_buggy",
    "tfp_regression_aleatoric",
    "tfp_regression_aleatoric_buggy",
    "tfp_regression_both",
    "tfp_regression_epistemic",
    "tfp_regression_epistemic_buggy",
    "tfp_regression_no_uncertainty",
    "tfp_regression_vgp",
    "tfp_flipout_classifier",
    "tfp_flipout_classifier_buggy",
    "tfp_vae",
    "tfp_vae_buggy",
]
