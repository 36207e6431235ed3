"""Prepare TensorFlow's environment before TensorFlow is imported.

TensorFlow reads its thread-pool sizes and log level once, at import. A worker of
``pytest -n auto`` that let TF take every core would fight its siblings, so the
caps are set here, from ``TFPCHECK_THREADS`` (default: one per worker), and only
where the user has not set them already.
"""

from __future__ import annotations

import os
import sys

__all__ = ["prepare_tf_environment", "tf_is_imported"]


def tf_is_imported() -> bool:
    """Whether TensorFlow was already imported (the caps below would then be too late)."""
    return "tensorflow" in sys.modules


def prepare_tf_environment(threads: int | None = None) -> None:
    """Cap TF's thread pools and quiet its C++ start-up log; never override the user's choice."""
    if threads is None:
        threads = int(os.environ.get("TFPCHECK_THREADS", "1") or 1)
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(threads))
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", str(threads))
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    # Level 3 hides only TF's C++ info/warning chatter; Python warnings still reach the user.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
