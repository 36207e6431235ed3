"""Private machinery behind :mod:`tfpcheck.strategies`: one concept per module."""
