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


def test_the_plugin_imports_neither_hypothesis_nor_numpy():
    """pytest imports the plugin at every start-up, with or without ``--tfpcheck``: like
    Hypothesis' own plugin, it imports nothing heavy (Hypothesis and NumPy cost ~0.3 s)."""
    out = _python(
        "import sys, tfpcheck, tfpcheck._pytestplugin, tfpcheck._plugin.report, tfpcheck._plugin.schedule;"
        "print(sorted(m for m in ('hypothesis', 'numpy', 'tensorflow') if m in sys.modules))"
    )
    assert out == "[]"


def test_the_lazy_public_names_are_the_modules_own():
    """``tfpcheck.X`` (imported on first use) is the object its module defines, and
    ``tfpcheck.InvalidArgument`` is still Hypothesis' InvalidArgument."""
    import hypothesis.errors

    import tfpcheck
    from tfpcheck import _api, _target, errors

    assert tfpcheck.check is _api.check and tfpcheck.model is _target.model
    assert tfpcheck.InvalidArgument is errors.InvalidArgument
    assert issubclass(tfpcheck.InvalidArgument, (hypothesis.errors.InvalidArgument, tfpcheck.TfpcheckError))
    assert set(tfpcheck.__all__) <= set(dir(tfpcheck))
    assert all(getattr(tfpcheck, name) is not None for name in tfpcheck.__all__)


def test_strategies_install_as_tfpcheck_strategies_only():
    assert _python("import tfpcheck.strategies as ts; print(ts.__name__)") == "tfpcheck.strategies"
    missing = subprocess.run([sys.executable, "-c", "import strategies"], cwd="/",
                             capture_output=True, text=True)
    assert missing.returncode != 0 and "No module named 'strategies'" in missing.stderr


def test_pytest11_entry_point_names_the_light_plugin_module():
    (ep,) = [e for e in entry_points(group="pytest11") if e.name == "tfpcheck"]
    assert ep.value == "tfpcheck._pytestplugin"


def test_only_the_engine_imports_tensorflow_at_import_time():
    """Every module outside tfpcheck/_engine/ imports without TensorFlow (the engine's door)."""
    code = (
        "import importlib, pathlib, sys, tfpcheck, tfpcheck.strategies as ts\n"
        "names = []\n"
        "for pkg in (tfpcheck, ts):\n"
        "    root = pathlib.Path(pkg.__path__[0])\n"
        "    for f in sorted(root.rglob('*.py')):\n"
        "        parts = f.relative_to(root).with_suffix('').parts\n"
        "        if parts[0] == '_engine' or parts[-1] == '__main__':\n"
        "            continue\n"
        "        names.append('.'.join((pkg.__name__,) + parts).removesuffix('.__init__'))\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "    if 'tensorflow' in sys.modules:\n"
        "        print(name); break\n"
        "else:\n"
        "    print(len(names))\n"
    )
    out = _python(code)
    assert out.isdigit() and int(out) > 20, f"{out} imports TensorFlow at import time"


def test_readme_invariant_table_is_the_registry():
    from pathlib import Path

    from tfpcheck._invariants import readme_table

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert readme_table() in readme


def test_every_public_model_is_a_target_of_pytest_tfpcheck_examples():
    """``pytest --tfpcheck examples/`` collects the public models through test_public_models.py:
    a model added to a public_*.py file and not exported there is never run by it."""
    import ast
    from pathlib import Path

    examples = Path(__file__).resolve().parent.parent / "examples"
    decorated = set()
    for path in examples.glob("public_*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and any(
                    "tfpcheck.model" in ast.unparse(d) for d in node.decorator_list):
                decorated.add(node.name)
    exported = set()
    for node in ast.parse((examples / "test_public_models.py").read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in node.targets):
            exported = set(ast.literal_eval(node.value))
    assert decorated and decorated == exported, sorted(decorated ^ exported)
