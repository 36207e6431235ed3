"""Packaging promises: cheap imports, the strategies' install name, the pytest11 entry point."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points


def _python(code: str, cwd: str = "/") -> str:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=cwd
    ).stdout.strip()


def test_importing_tfpcheck_and_its_plugin_does_not_import_tensorflow():
    out = _python(
        "import sys, tfpcheck, tfpcheck._pytestplugin, tfpcheck.strategies;"
        "print('tensorflow' in sys.modules)"
    )
    assert out == "False"


def test_strategies_install_as_tfpcheck_strategies_only():
    assert _python("import tfpcheck.strategies as ts; print(ts.__name__)") == "tfpcheck.strategies"
    missing = subprocess.run([sys.executable, "-c", "import strategies"], cwd="/",
                             capture_output=True, text=True)
    assert missing.returncode != 0 and "No module named 'strategies'" in missing.stderr


def test_pytest11_entry_point_names_the_light_plugin_module():
    (ep,) = [e for e in entry_points(group="pytest11") if e.name == "tfpcheck"]
    assert ep.value == "tfpcheck._pytestplugin"
