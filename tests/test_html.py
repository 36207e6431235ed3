"""What ``report.html`` shows: the table of targets, one linked section per failure with its
curves, configuration, evidence, fix and snippet, hangs; escaped user text; nothing fetched from
the network; and a page without matplotlib. Report dicts are built by hand (no TensorFlow)."""

from __future__ import annotations

import html
import re
import sys

import pytest

from tfpcheck._html import INSTALL_NOTE, NO_STEPS_NOTE, render_html, write_html

CONFIG = {"task": "regression", "seed": 7, "learning_rate": 0.01, "batch_size": 32}


def violation(**overrides):
    v = {"invariant": "finite_loss", "cause": "optimizer_settings", "confirmed": True,
         "intervention": {"changed": {"learning_rate": "0.01 -> 0.001"}, "result": "passed"},
         "consequences": ["learns"], "message": "loss became nan at step 3", "step": 3,
         "config": dict(CONFIG), "user_config": None, "evidence": {"last_finite_loss": 12.5},
         "fix": "Lower the learning rate.", "reproduce": "import tfpcheck\ntfpcheck.reproduce(...)",
         "curves": {"loss": [2.0, 1.5, 1.2, "nan", "nan"], "grad_norm": [1.0, 0.9, 0.8, "inf", "nan"],
                    "parameter_ranges": []},
         "replay": {"runs": 3, "failed": 3, "label": "reproducible"}}
    return {**v, **overrides}


def target(name="models/m.py::factory", status="failed", **overrides):
    t = {"target": name, "status": status, "task": "regression", "examples": 12, "seconds": 3.25,
         "notes": [], "violations": [violation()] if status == "failed" else []}
    return {**t, **overrides}


def page(*targets, **report):
    return render_html({"tfpcheck_version": "9.9.9", "targets": list(targets), **report})


def test_the_table_lists_every_target_and_links_each_failure_section():
    passed = target("models/ok.py::good", status="passed")
    failed = target("models/bad.py::bad", violations=[violation(), violation(cause="data_scale")])
    out = page(passed, failed)
    table = out[out.index('<table class="targets">'):out.index("</table>")].replace("<wbr>", "")
    assert "models/ok.py::good" in table and "models/bad.py::bad" in table
    assert 'status-passed">passed' in table and 'status-failed">failed' in table
    ids = re.findall(r'<article class="failure" id="([^"]+)"', out)
    assert len(ids) == 2
    assert all(f'href="#{i}"' in table for i in ids)


def test_causes_in_the_table_say_confirmed_or_suspected():
    out = page(target(violations=[violation(), violation(cause="data_scale", confirmed=False)]))
    table = out[out.index('<table class="targets">'):out.index("</table>")]
    assert re.search(r"optimizer_settings <span[^>]*>confirmed<", table)
    assert re.search(r"data_scale <span[^>]*>suspected<", table)


def test_a_failure_shows_cause_intervention_replay_fix_snippet_and_evidence():
    out = page(target(violations=[violation(evidence={"scales": [0.1, "nan"]})]))
    assert "with learning_rate 0.01 -&gt; 0.001: passed" in out
    assert "reproducible 3/3" in out
    assert "<pre>Lower the learning rate.</pre>" in out
    assert "<code" in out and "tfpcheck.reproduce(...)" in out
    assert html.escape('[0.1, "nan"]') in out
    assert "consequences" in out and "learns" in out


def test_each_failure_with_curves_gets_one_inline_svg():
    pytest.importorskip("matplotlib")
    out = page(target(violations=[violation(), violation(invariant="learns")]))
    assert out.count("<svg") == 2
    assert "<?xml" not in out and "<!DOCTYPE svg" not in out


def test_non_finite_steps_are_marked_on_the_curves():
    pytest.importorskip("matplotlib")
    assert "non-finite from step 3" in page(target())
    finite = {"loss": [2.0, 1.5, 1.2], "grad_norm": [1.0, 0.9, 0.8]}
    assert "non-finite" not in page(target(violations=[violation(curves=finite)]))


@pytest.mark.parametrize("values, scale", [
    ([1.0, 0.5, 1e6], "log"),  # positive, spans decades
    ([1.0, -0.5, -2.0, 1e6], "symlog"),  # a negative NLL that blows up: log cannot draw it
    ([0.70, 0.68, 0.69], "linear"),  # within a decade: linear ticks read best
    ([1.5, -0.5, -2.0], "linear"),
])
def test_the_y_scale_follows_the_values(values, scale):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    from tfpcheck._html import _set_scale

    ax = Figure().subplots()
    _set_scale(ax, values)
    assert ax.get_yscale() == scale


def test_user_text_is_escaped():
    evil = "evil.py::<script>alert('x')</script>"
    out = page(target(evil, violations=[violation(message="<img src=x onerror=alert(1)> & more",
                                                  reproduce="x = '<script>'")]))
    assert "<script" not in out and "<img" not in out
    assert "&lt;script&gt;" in out and "&lt;img src=x" in out and "&amp; more" in out


def test_nothing_is_fetched_from_outside():
    out = page(target("http://example.com/x.py::f"), target("https://x/y.py::g", status="passed"))
    assert not re.search(r"""\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", out)
    assert not re.search(r"<script|<link|@import|@font-face|url\((?!#)", out)  # url(#id): in-page


def test_without_matplotlib_the_page_renders_with_the_install_note(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    out = page(target())
    assert html.escape(INSTALL_NOTE) in out
    assert "<svg" not in out and '<table class="targets">' in out


def test_empty_curves_say_no_steps_were_recorded():
    out = page(target(violations=[violation(curves={"loss": [], "grad_norm": []})]))
    assert NO_STEPS_NOTE in out and "<svg" not in out


def test_a_config_key_that_differs_from_the_users_is_marked_with_their_value():
    mine = dict(CONFIG, learning_rate=0.001)
    out = page(target(violations=[violation(user_config=mine)]))
    row = re.search(r'<tr class="differs">.*?</tr>', out).group(0)
    assert "learning_rate" in row and "0.01" in row and "(yours: 0.001)" in row
    assert "(yours: 32)" not in out and out.count('class="differs"') == 1
    assert "(yours:" not in page(target())


def test_a_hang_is_shown_and_counted_in_the_table():
    hang = {"config": {"seed": 3, "batch_size": 1024}, "seconds": 10.0, "stage": "training",
            "message": "no heartbeat for 10.0 s", "reproduce": "tfpcheck.reproduce('slow')"}
    out = page(target("models/slow.py::slow", status="error", error="killed", hangs=[hang]))
    assert re.search(r'<a href="#([^"]+)">1 hang</a>', out)
    section = out[out.index('<article class="hang"'):]
    assert "killed after 10.0 s" in section and "in training" in section
    assert "no heartbeat for 10.0 s" in section and "tfpcheck.reproduce(&#x27;slow&#x27;)" in section
    assert "batch_size" in section and "1024" in section


def test_header_notes_and_fuzz_facts():
    fuzz = {"budget_seconds": 1800, "elapsed_seconds": 61, "workers": 4, "executor": "ray",
            "database": "redis://h:6379/0"}
    out = page(target(notes=["data= given: <yours> first"]), fuzz=fuzz)
    header = out[out.index("<header>"):out.index("</header>")]
    assert "9.9.9" in header and "30m 00s" in header and "1m 01s" in header
    assert "<b>4</b>" in header and "ray" in header and "redis://h:6379/0" in header
    assert "<li>data= given: &lt;yours&gt; first</li>" in out


def test_write_html_creates_the_folder(tmp_path):
    path = tmp_path / "reports" / "nightly" / "report.html"
    write_html({"tfpcheck_version": "1", "targets": [target(status="passed")]}, path, title="nightly")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "<title>nightly</title>" in text


def test_several_figures_on_one_page_repeat_no_id():
    pytest.importorskip("matplotlib")
    out = page(target(violations=[violation(), violation(invariant="learns")]))
    ids = re.findall(r'\bid="([^"]+)"', out)
    assert len(ids) == len(set(ids))
    assert set(re.findall(r'(?:href="|url\()#([^")]+)', out)) <= set(ids)


def test_saved_failures_replayed_are_listed_with_their_labels() -> None:
    report = {"tfpcheck_version": "0", "targets": [{
        "target": "m.py::f", "status": "passed", "task": "regression", "examples": 3,
        "seconds": 1.0, "notes": [], "violations": [],
        "replays": [{"invariant": "learns", "cause": "data_scale", "config": {"seed": 7},
                     "runs": 3, "failed": 0, "label": "not reproduced"}],
    }]}
    page = render_html(report)
    assert "Saved failures replayed" in page and "not reproduced 0/3" in page and "seed=7" in page
