"""tfpcheck's version: a leaf module, read by the package and by pyproject.toml (dynamic version)."""

__version__ = "0.1.0"
