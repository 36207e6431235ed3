"""``tfpcheck fuzz`` past one machine: a real Redis server and a real Ray cluster, both started
here on 127.0.0.1 (free ports; ``.ci/run`` installs ``redis-server``; Ray comes with the dev
extra). Nothing is mocked and nothing leaves loopback.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tfpcheck._database import open_database
from tfpcheck._fuzz import ledger

ROOT = Path(__file__).resolve().parent.parent
SEEDS = "examples/seed_models.py"
#: Ray, started here, keeps every address on loopback and sends no usage statistics; token
#: authentication is off for this loopback-only cluster, so that a token an earlier local Ray
#: left in ~/.ray (ray.init() writes one) does not switch it on for one side only.
RAY_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0",
           "RAY_AUTH_MODE": "disabled"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed (.ci/run installs it)")
    port = free_port()
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path_factory.mktemp("redis"))],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(host="127.0.0.1", port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.1)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    ray = Path(sys.executable).parent / "ray"
    if not ray.exists():
        pytest.skip("Ray is not installed (pip install 'tfpcheck[ray]')")
    port = free_port()
    env = {**os.environ, **RAY_ENV}
    subprocess.run(
        [str(ray), "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2",
         "--include-dashboard=false", "--disable-usage-stats"],
        env=env, check=True, capture_output=True, timeout=120,
    )
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([str(ray), "stop", "--force"], env=env, capture_output=True, timeout=120)


def test_redis_database_holds_what_a_run_saves_for_the_next(redis_url: str) -> None:
    db = open_database(redis_url)
    ledger.save(db, "m.py::f", [{"invariant": "learns", "cause": "data_scale", "config": {"seed": 1}}])
    again = open_database(redis_url)  # another process, another machine: the same entries
    assert ledger.load(again, "m.py::f") == [{"invariant": "learns", "cause": "data_scale",
                                              "config": {"seed": 1}}]
    assert ledger.load(again, "m.py::g") == []


def test_ray_executor_on_a_local_cluster_with_redis_gives_the_seed_results(
    tmp_path: Path, redis_url: str, ray_address: str,
) -> None:
    """The seed's broken example 3 (tfp.layers misuse) fails with its cause and its fixed twin
    passes, exactly as with local workers; the failure lands in Redis."""
    targets = [f"{SEEDS}::example3", f"{SEEDS}::example3_fixed"]
    run = subprocess.run(
        [sys.executable, "-m", "tfpcheck", "fuzz", *targets, "--budget", "60s", "--workers", "2",
         "--executor", "ray", "--address", ray_address, "--database", redis_url, "--seed", "1",
         "--report-dir", str(tmp_path / "rep")],
        cwd=ROOT, capture_output=True, text=True, timeout=400, env={**os.environ, **RAY_ENV},
    )
    assert run.returncode == 1, run.stderr[-3000:]
    rep = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert rep["fuzz"]["executor"] == "ray"
    by_name = {t["target"]: t for t in rep["targets"]}
    broken, fixed = by_name[targets[0]], by_name[targets[1]]
    assert broken["status"] == "failed"
    assert {(v["invariant"], v["cause"]) for v in broken["violations"]} == {("builds", "tfp_layer_misuse")}
    assert fixed["status"] == "passed" and fixed["examples"] >= 3
    saved = ledger.load(open_database(redis_url), targets[0])
    assert {e["invariant"] for e in saved} == {"builds"}


def test_ray_without_an_address_starts_a_loopback_cluster_and_kills_a_hung_actor(
    tmp_path: Path, ray_address: str,
) -> None:
    """The default Ray path: ``--executor ray`` alone starts a one-machine cluster of its own (on
    loopback: tfpcheck sets Ray's switch before importing it), even while another cluster
    (``ray_address``) runs on this machine; an actor stuck in TF's Poisson kernel (a NaN rate)
    is killed at --timeout and replaced, and the healthy target trains on."""
    hangs = "tests/fuzz_models/hangs.py"
    # tfpcheck's own loopback switch, not the test's; and not the cluster the fixture started
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    run = subprocess.run(
        [sys.executable, "-m", "tfpcheck", "fuzz", hangs, "--budget", "40s", "--workers", "2",
         "--timeout", "10", "--executor", "ray", "--seed", "1", "--database", str(tmp_path / "db"),
         "--report-dir", str(tmp_path / "rep")],
        cwd=ROOT, capture_output=True, text=True, timeout=400, env=env,
    )
    assert run.returncode == 1, run.stderr[-3000:]
    assert "Started a local Ray instance" in run.stderr
    by_name = {t["target"]: t for t in json.loads((tmp_path / "rep" / "report.json").read_text())["targets"]}
    hung = by_name[f"{hangs}::poisson_nan_rate"]
    assert [h["kind"] for h in hung["hangs"]] == ["timeout"]
    healthy = by_name[f"{hangs}::poisson_healthy"]
    # Seen failing twice in ~12 local suite runs, never alone: the record says how, next time
    assert healthy["status"] == "passed", {
        k: healthy.get(k) for k in ("hangs", "violations", "notes", "error")}
