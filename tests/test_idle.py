"""The xdist controller imports Hypothesis on the core its first finished worker frees
(``tfpcheck/_plugin/idle.py``), not at its terminal summary after every worker is done."""

from __future__ import annotations

pytest_plugins = ["pytester"]


def test_the_controller_imports_hypothesis_once_the_first_worker_is_done(pytester):
    pytester.makeconftest("""
        import sys, threading

        import pytest

        SEEN = []

        @pytest.hookimpl(tryfirst=True)  # before tfpcheck's
        def pytest_testnodedown(node, error):  # the controller, once a worker
            SEEN.append("hypothesis.internal.observability" in sys.modules
                        or any(t.name == "tfpcheck-prefetch" for t in threading.enumerate()))

        def pytest_unconfigure(config):
            if not hasattr(config, "workerinput"):
                with open("seen.txt", "w") as f:
                    f.write(repr(SEEN))
    """)
    pytester.makepyfile(test_two="""
        import time

        def test_quick(): pass
        def test_slow(): time.sleep(2)
    """)
    result = pytester.runpytest_subprocess("--tfpcheck", "-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    # Not imported before the first worker went down; on its way by the time the second did.
    assert (pytester.path / "seen.txt").read_text() == "[False, True]"
