"""Which pytest-xdist worker runs which item (``tfpcheck/_plugin/schedule.py``): the costly
items spread over the workers, from the durations of the last run, under a real ``-n 2``."""

from __future__ import annotations

import json
import re

from tfpcheck._plugin.schedule import CACHE_KEY, first_chunk

pytest_plugins = ["pytester"]


def test_the_costly_items_go_to_different_workers():
    items = ["a", "b", "c", "d"]
    plan, rest = first_chunk(items, 2, {"a": 10.0, "b": 10.0, "c": 1.0, "d": 1.0}, max_chunk=4)
    assert sorted(sorted(p) for p in plan) == [[0, 2], [1, 3]] and rest == []


def test_without_durations_the_items_are_dealt_in_turn():
    plan, rest = first_chunk(["a", "b", "c", "d"], 2, {}, max_chunk=4)
    assert plan == [[0, 2], [1, 3]] and rest == []  # xdist alone: [[0, 1], [2, 3]]


def test_the_rest_is_queued_longest_first_and_an_unseen_item_counts_as_the_median():
    items = [f"t{i}" for i in range(12)]
    durations = {f"t{i}": float(i) for i in range(11)}  # t11 unseen: counts as 5
    plan, rest = first_chunk(items, 2, durations, max_chunk=12)
    assert [len(p) for p in plan] == [2, 2]  # a quarter of each node's share, at least two
    assert sorted(i for p in plan for i in p) == [7, 8, 9, 10]
    costs = [durations.get(items[i], 5.0) for i in rest]
    assert costs == sorted(costs, reverse=True)


def test_under_xdist_two_costly_neighbours_run_on_different_workers(pytester):
    pytester.makepyfile(test_four="""
        import time

        def test_a(): time.sleep(0.1)
        def test_b(): time.sleep(0.1)
        def test_c(): pass
        def test_d(): pass
    """)
    durations = {f"test_four.py::test_{k}": v for k, v in zip("abcd", (10.0, 10.0, 0.1, 0.1), strict=True)}
    cache = pytester.path / ".pytest_cache" / "v" / CACHE_KEY
    cache.parent.mkdir(parents=True)
    cache.write_text(json.dumps(durations))
    result = pytester.runpytest_subprocess("--tfpcheck", "-n", "2", "-v", "-p", "cacheprovider")
    result.assert_outcomes(passed=4)
    ran_on = {test: gw for gw, test in re.findall(r"\[(gw\d)\] .*PASSED test_four.py::(test_\w)",
                                                  result.stdout.str())}
    assert ran_on["test_a"] != ran_on["test_b"], result.stdout.str()
    # and the run's own durations were kept for the next
    kept = json.loads(cache.read_text())
    assert set(kept) >= set(durations) and kept["test_four.py::test_a"] < 10.0
