"""A model whose process dies while it is built: the factory calls ``os._exit(3)``, as a
segfault in a TF kernel or the out-of-memory killer would end it. No exception reaches Python;
only a worker process of its own survives it."""

import os

import tfpcheck


@tfpcheck.model(task="regression")
def crashes():
    os._exit(3)
