"""``report.html``: one self-contained page for a tfpcheck report, readable offline.

Drawn from the JSON report dict (what ``report.json`` holds), so any saved report can be drawn
again later. Inline CSS and inline SVG only: nothing to fetch, no script. Every string from the
report is escaped, since target names, messages, configurations and snippets are user text.
matplotlib (``tfpcheck[html]``) is imported only to draw curves; without it the page still renders.
"""

from __future__ import annotations

import html
import io
import json
import math
import re
import statistics
from pathlib import Path
from typing import Any

__all__ = ["render_html", "write_html"]

INSTALL_NOTE = "curves need matplotlib: pip install 'tfpcheck[html]'"
NO_STEPS_NOTE = "no training steps recorded"
NO_CURVES_NOTE = "no curves recorded for this failure"
#: Inches: two panels side by side, small enough to keep each inline SVG to tens of kilobytes.
FIGSIZE = (7.0, 2.4)
#: Above this many steps a curve is a line only; below it each step gets a dot too, so a finite
#: value isolated between non-finite ones still shows.
DOTS_UP_TO = 50
#: A curve whose values span more than this factor gets a logarithmic axis (see ``_set_scale``).
SPAN = 10.0

_RED = "#c62828"
_BLUE = "#1f5fa8"
#: Text stays text (no glyph outlines, no embedded font); small type to match the page.
_RC = {"svg.fonttype": "none", "font.size": 8, "axes.titlesize": 9, "axes.spines.top": False,
       "axes.spines.right": False, "legend.fontsize": 7}
#: No creator, date or format block: nothing that changes between runs, and no URL in the page.
_NO_METADATA = {"Creator": None, "Date": None, "Format": None, "Type": None}
_STATUSES = ("passed", "failed", "error")
_COLUMNS = ("target", "status", "task", "examples", "time (s)", "causes", "error / hangs")
_FUZZ_FACTS = (("budget_seconds", "budget"), ("elapsed_seconds", "elapsed"), ("workers", "workers"),
               ("executor", "executor"), ("database", "database"))

_CSS = """
:root { --fg: #1d2125; --dim: #5f6b76; --line: #d8dde3; --bg-alt: #f5f7f9;
  --pass: #1b7f3b; --fail: #c62828; --err: #b45309; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fff; line-height: 1.45;
  font: 14px/1.45 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; }
main, header { max-width: 1100px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 20px; border-bottom: 1px solid var(--line); }
h1 { font-size: 22px; margin: 0 0 6px; }
h2 { font-size: 17px; margin: 28px 0 10px; }
h3 { font-size: 15px; margin: 0 0 8px; }
h4 { font-size: 13px; margin: 14px 0 4px; color: var(--dim); text-transform: uppercase;
  letter-spacing: .04em; }
a { color: #1f5fa8; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
  font-size: 12.5px; }
pre { background: var(--bg-alt); border: 1px solid var(--line); border-radius: 4px; padding: 8px 10px;
  margin: 0; overflow-x: auto; white-space: pre-wrap; word-break: break-word; }
ul.facts { list-style: none; padding: 0; margin: 0 0 14px; display: flex; flex-wrap: wrap; gap: 4px 18px;
  color: var(--dim); }
ul.facts b { color: var(--fg); font-weight: 600; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; vertical-align: top; padding: 4px 8px; border-bottom: 1px solid var(--line); }
thead th { background: var(--bg-alt); font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.target, th.key { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: 12.5px; overflow-wrap: break-word; }
.cause { white-space: nowrap; }
table.kv { width: auto; }
table.kv td { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px;
  word-break: break-word; }
tr.differs { background: #fff6e0; }
.yours { color: var(--err); font-weight: 600; }
.status { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px; font-weight: 600;
  color: #fff; background: var(--dim); }
.status-passed { background: var(--pass); }
.status-failed { background: var(--fail); }
.status-error { background: var(--err); }
.badge { display: inline-block; padding: 0 6px; border-radius: 3px; font-size: 11px; font-weight: 600;
  border: 1px solid currentColor; }
.badge-confirmed { color: var(--fail); }
.badge-suspected, .badge-no-evidence { color: var(--dim); }
.replay-reproducible { color: var(--fail); font-weight: 600; }
.replay-flaky { color: var(--err); font-weight: 600; }
.dim, .links { color: var(--dim); font-weight: normal; }
.note { color: var(--dim); font-style: italic; }
section.target { border-top: 2px solid var(--line); margin-top: 28px; }
article { border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; margin: 12px 0; }
article.failure { border-left: 4px solid var(--fail); }
article.hang { border-left: 4px solid var(--err); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 0 0 8px; }
dl.facts dt { color: var(--dim); }
dl.facts dd { margin: 0; }
p.message { margin: 8px 0; padding: 8px 10px; background: #fdf1f1; border-radius: 4px; }
.curves svg { max-width: 100%; height: auto; display: block; }
.cols { display: grid; grid-template-columns: 1fr 1fr; gap: 0 24px; }
@media (max-width: 800px) { .cols { grid-template-columns: 1fr; } }
"""


def render_html(report: dict[str, Any], *, title: str = "tfpcheck report") -> str:
    """The whole page: a header, the table of targets, then each target's failures, hangs and notes."""
    targets = report.get("targets") or []
    body = [_header(report, title), "<main>", _targets_table(targets)]
    body += [_target_section(i, t) for i, t in enumerate(targets) if _has_details(t)]
    body.append("</main>")
    return _page(title, "\n".join(body))


def write_html(report: dict[str, Any], path: str | Path, *, title: str = "tfpcheck report") -> None:
    """:func:`render_html` written to ``path`` (UTF-8), its parent folders created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report, title=title), encoding="utf-8")


# ---------------------------------------------------------------------------------- page, header


def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{_esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")


def _header(report: dict[str, Any], title: str) -> str:
    facts = [("tfpcheck", report.get("tfpcheck_version", "?")), *_tally(report.get("targets") or [])]
    facts += _fuzz_facts(report.get("fuzz") or {})
    items = "".join(f"<li>{_esc(k)} <b>{_esc(v)}</b></li>" for k, v in facts)
    return f'<header>\n<h1>{_esc(title)}</h1>\n<ul class="facts">{items}</ul>\n</header>'


def _tally(targets: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """How many targets, and how many of each status, for the header."""
    counts = {s: sum(t.get("status") == s for t in targets) for s in _STATUSES}
    return [("targets", len(targets)), *((s, n) for s, n in counts.items() if n)]


def _fuzz_facts(fuzz: dict[str, Any]) -> list[tuple[str, Any]]:
    """The fuzz run's budget, elapsed time, workers, executor and database, where given."""
    facts = [(label, _duration(fuzz[key]) if key.endswith("_seconds") else fuzz[key])
             for key, label in _FUZZ_FACTS if fuzz.get(key) is not None]
    known = {key for key, _ in _FUZZ_FACTS}
    return facts + [(k, _compact(v)) for k, v in fuzz.items() if k not in known and v is not None]


def _duration(value: Any) -> str:
    seconds = _as_float(value)
    if not math.isfinite(seconds):
        return str(value)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"


# ---------------------------------------------------------------------------------- targets table


def _targets_table(targets: list[dict[str, Any]]) -> str:
    if not targets:
        return '<h2>Targets</h2><p class="note">no targets in this report</p>'
    head = "".join(f'<th class="num">{c}</th>' if c in ("examples", "time (s)") else f"<th>{c}</th>"
                   for c in _COLUMNS)
    rows = "\n".join(_target_row(i, t) for i, t in enumerate(targets))
    return (f'<h2>Targets</h2>\n<table class="targets">\n<thead><tr>{head}</tr></thead>\n'
            f"<tbody>\n{rows}\n</tbody>\n</table>")


def _target_row(i: int, t: dict[str, Any]) -> str:
    name = _breakable(t.get("target", "?"))
    if _has_details(t):
        name = f'<a href="#{_tid(i)}">{name}</a>'
    cells = [f'<td class="target">{name}</td>', f"<td>{_status(t.get('status'))}</td>",
             f"<td>{_esc(t.get('task') or '')}</td>", f'<td class="num">{_esc(t.get("examples", ""))}</td>',
             f'<td class="num">{_number(t.get("seconds"), 1)}</td>',
             f"<td>{_causes_cell(i, t.get('violations') or [])}</td>", f"<td>{_problems_cell(i, t)}</td>"]
    return f"<tr>{''.join(cells)}</tr>"


def _causes_cell(i: int, violations: list[dict[str, Any]]) -> str:
    """Each distinct cause once, confirmed if any of its failures confirmed it, with links to them."""
    by_cause: dict[str, list[int]] = {}
    for j, v in enumerate(violations):
        by_cause.setdefault(str(v.get("cause", "unclassified")), []).append(j)
    parts = []
    for cause, failures in by_cause.items():
        confirmed = any(violations[j].get("confirmed") for j in failures)
        links = " ".join(f'<a href="#{_fid(i, j)}">#{j + 1}</a>' for j in failures)
        badge = _badge(_standing(cause, confirmed))
        parts.append(f'<span class="cause">{_esc(cause)} {badge} <span class="links">{links}</span></span>')
    return "<br>".join(parts)


def _problems_cell(i: int, t: dict[str, Any]) -> str:
    """The error's first line (in full in the target's section) and the hang count."""
    parts = []
    if t.get("error"):
        first = (str(t["error"]).strip().splitlines() or [""])[0]
        clipped = first if len(first) <= 90 else first[:89] + "…"
        parts.append(f'<a href="#{_tid(i)}">{_esc(clipped)}</a>')
    hangs = t.get("hangs") or []
    if hangs:
        parts.append(f'<a href="#{_hid(i, 0)}">{len(hangs)} hang{"s" if len(hangs) > 1 else ""}</a>')
    return "<br>".join(parts)


# ---------------------------------------------------------------------------------- per target


def _has_details(t: dict[str, Any]) -> bool:
    return bool(t.get("violations") or t.get("hangs") or t.get("notes") or t.get("error")
                or t.get("replays"))


def _target_section(i: int, t: dict[str, Any]) -> str:
    parts = [f"<h2>{_esc(t.get('target', '?'))} {_status(t.get('status'))}</h2>"]
    if t.get("error"):
        parts.append(f"<h4>Error</h4>{_pre(t['error'])}")
    if t.get("notes"):
        parts.append("<h4>Notes</h4><ul>" + "".join(f"<li>{_esc(n)}</li>" for n in t["notes"]) + "</ul>")
    parts += [_failure(i, j, v) for j, v in enumerate(t.get("violations") or [])]
    parts += [_hang(i, k, h) for k, h in enumerate(t.get("hangs") or [])]
    if t.get("replays"):
        parts.append(_replays_table(t["replays"]))
    return f'<section class="target" id="{_tid(i)}">\n' + "\n".join(parts) + "\n</section>"


def _replays_table(replays: list[dict[str, Any]]) -> str:
    """Saved failures re-run this time (a fuzz run's own and earlier runs'), with their labels:
    one that no longer fails shows here only, never among the failures."""
    rows = "".join(
        f"<tr><td>{_esc(r.get('invariant'))}</td><td>{_esc(r.get('cause'))}</td>"
        f"<td>{_replay(r)}</td><td><code>{_esc(_short(r.get('config')))}</code></td></tr>"
        for r in replays
    )
    return ("<h4>Saved failures replayed</h4><table><tr><th>invariant</th><th>cause</th>"
            f"<th>replays</th><th>configuration</th></tr>{rows}</table>")


def _short(config: Any) -> str:
    if not isinstance(config, dict):
        return str(config)
    keys = ("seed", "optimizer", "learning_rate", "batch_size", "steps")
    return ", ".join(f"{k}={config[k]}" for k in keys if k in config)


def _failure(i: int, j: int, v: dict[str, Any]) -> str:
    step = v.get("step")
    at = f' <span class="dim">at step {_esc(step)}</span>' if step is not None else ""
    parts = [f"<h3>#{j + 1} {_esc(v.get('invariant', '?'))} violated{at}</h3>", _failure_facts(v),
             f'<p class="message">{_esc(v.get("message", ""))}</p>',
             f'<div class="curves">{_curves_html(v.get("curves"), salt=_fid(i, j))}</div>',
             f"<h4>Fix</h4>{_pre(v.get('fix', ''))}",
             f"<h4>Reproduce</h4>{_pre(v.get('reproduce', ''), code=True)}",
             '<div class="cols"><div><h4>Configuration</h4>'
             f"{_config_table(v.get('config') or {}, v.get('user_config'))}</div>"
             f"<div><h4>Evidence</h4>{_evidence_table(v.get('evidence') or {})}</div></div>",
             _ranges_table(((v.get("curves") or {}).get("parameter_ranges")) or [])]
    return f'<article class="failure" id="{_fid(i, j)}">\n' + "\n".join(parts) + "\n</article>"


def _failure_facts(v: dict[str, Any]) -> str:
    """Cause and its standing, the re-runs that tested it, step, replay label and consequences."""
    cause = str(v.get("cause", "unclassified"))
    rows = [("cause", f"{_esc(cause)} {_badge(_standing(cause, bool(v.get('confirmed'))))}")]
    rows += [("re-run", _esc(line)) for line in _reruns(v.get("intervention"))]
    if v.get("step") is not None:
        rows.append(("step", _esc(v["step"])))
    if v.get("replay"):
        rows.append(("replay", _replay(v["replay"])))
    if v.get("consequences"):
        rows.append(("consequences", _esc(", ".join(map(str, v["consequences"])))))
    return '<dl class="facts">' + "".join(f"<dt>{k}</dt><dd>{d}</dd>" for k, d in rows) + "</dl>"


def _reruns(intervention: dict[str, Any] | None) -> list[str]:
    """``with learning_rate 0.01 -> 0.001: passed``, one per re-run tried (or the one recorded)."""
    if not intervention:
        return []
    tried = intervention.get("tried") or [intervention]
    lines = []
    for run in tried:
        changed = ", ".join(f"{k} {val}" for k, val in (run.get("changed") or {}).items())
        lines.append(f"with {changed}: {run.get('result', '')}" if changed else str(run.get("result", "")))
    return [line for line in dict.fromkeys(lines) if line]


def _replay(replay: dict[str, Any]) -> str:
    label = str(replay.get("label", ""))
    failed, runs = replay.get("failed", "?"), replay.get("runs", "?")
    slug = label.replace(" ", "-") if label in ("reproducible", "flaky") else "other"
    return (f'<span class="replay-{slug}">{_esc(label)} {_esc(failed)}/{_esc(runs)}</span> '
            f'<span class="dim">(failed in {_esc(failed)} of {_esc(runs)} replays)</span>')


def _config_table(config: dict[str, Any], user_config: dict[str, Any] | None) -> str:
    """Every field; one that differs from the user's own is highlighted with ``(yours: value)``."""
    if not config:
        return '<p class="note">none recorded</p>'
    rows = []
    for key, value in config.items():
        differs = user_config is not None and key in user_config and user_config[key] != value
        yours = f' <span class="yours">(yours: {_esc(_compact(user_config[key]))})</span>' if differs else ""
        css = ' class="differs"' if differs else ""
        cell = f"= {_esc(_compact(value))}{yours}"
        rows.append(f'<tr{css}><th class="key">{_esc(key)}</th><td>{cell}</td></tr>')
    return f'<table class="kv">{"".join(rows)}</table>'


def _evidence_table(evidence: dict[str, Any]) -> str:
    if not evidence:
        return '<p class="note">none recorded</p>'
    rows = "".join(f'<tr><th class="key">{_esc(k)}</th><td>{_esc(_dumps(v))}</td></tr>'
                   for k, v in evidence.items())
    return f'<table class="kv">{rows}</table>'


def _ranges_table(ranges: list[dict[str, Any]]) -> str:
    """The distribution parameters that left their constraint: where, when, how many, how far."""
    if not ranges:
        return ""
    head = "".join(f"<th>{c}</th>" for c in ("parameter", "role", "distribution", "constraint", "step",
                                             "bad / total", "min", "max"))
    rows = "".join(
        f'<tr><td class="target">{_esc(r.get("path", ""))}</td><td>{_esc(r.get("role", ""))}</td>'
        f'<td>{_esc(r.get("distribution", ""))}</td><td>{_esc(r.get("constraint", ""))}</td>'
        f'<td class="num">{_esc(r.get("step", ""))}</td>'
        f'<td class="num">{_esc(r.get("n_bad", "?"))} / {_esc(r.get("n_total", "?"))}</td>'
        f'<td class="num">{_number(r.get("min_value"), 4)}</td>'
        f'<td class="num">{_number(r.get("max_value"), 4)}</td></tr>'
        for r in ranges)
    return f"<h4>Parameter ranges</h4><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _hang(i: int, k: int, h: dict[str, Any]) -> str:
    stage = f' <span class="dim">in {_esc(h["stage"])}</span>' if h.get("stage") else ""
    parts = [f"<h3>Hang {k + 1}: killed after {_number(h.get('seconds'), 1)} s{stage}</h3>",
             f'<p class="message">{_esc(h.get("message", ""))}</p>',
             f"<h4>Reproduce</h4>{_pre(h.get('reproduce', ''), code=True)}",
             f"<h4>Configuration</h4>{_config_table(h.get('config') or {}, None)}"]
    return f'<article class="hang" id="{_hid(i, k)}">\n' + "\n".join(parts) + "\n</article>"


# ---------------------------------------------------------------------------------- curves


def _curves_html(curves: dict[str, Any] | None, *, salt: str) -> str:
    """The failure's loss and gradient-norm figure as inline SVG, or a one-line note why not."""
    if curves is None:
        return f'<p class="note">{NO_CURVES_NOTE}</p>'
    loss = [_as_float(x) for x in curves.get("loss") or []]
    grad = [_as_float(x) for x in curves.get("grad_norm") or []]
    if not loss and not grad:
        return f'<p class="note">{NO_STEPS_NOTE}</p>'
    try:
        return _curves_svg(loss, grad, salt=salt)
    except ImportError:
        return f'<p class="note">{_esc(INSTALL_NOTE)}</p>'
    except Exception as err:  # noqa: BLE001 - a bad curve must never cost the rest of the report
        return f'<p class="note">curves could not be drawn: {_esc(type(err).__name__)}: {_esc(err)}</p>'


def _curves_svg(loss: list[float], grad: list[float], *, salt: str) -> str:
    """Two panels against training step, drawn on a bare ``Figure`` (no pyplot, no global state).

    ``svg.hashsalt`` is the failure's anchor, so the ids that the SVG refers to (clip paths, markers)
    differ between figures on one page and are the same on every run.
    """
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context({**_RC, "svg.hashsalt": salt}):
        fig = Figure(figsize=FIGSIZE, layout="constrained")
        left, right = fig.subplots(1, 2, sharex=True)
        _panel(left, loss, "loss")
        _panel(right, grad, "gradient norm")
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata=_NO_METADATA)
    svg = buf.getvalue()
    return _drop_unused_ids(svg[svg.index("<svg"):])  # no XML prolog or doctype: the page is HTML


def _drop_unused_ids(svg: str) -> str:
    """Removes the group ids matplotlib writes but nothing refers to (``figure_1``, ``axes_1``...):
    the same in every figure, they would repeat on a page with several."""
    used = set(re.findall(r'(?:href="|url\()#([^")]+)', svg))
    return re.sub(r' id="([^"]+)"', lambda m: m.group(0) if m.group(1) in used else "", svg)


def _panel(ax: Any, values: list[float], name: str) -> None:
    ax.set_title(name, loc="left")
    ax.set_xlabel("training step")
    ax.grid(True, color="#e3e6ea", linewidth=0.6)
    if not values:
        ax.text(0.5, 0.5, "not recorded", transform=ax.transAxes, ha="center", color="#5f6b76")
        return
    finite = [v for v in values if math.isfinite(v)]
    marker = "." if len(values) <= DOTS_UP_TO else None
    ax.plot(range(len(values)), [v if math.isfinite(v) else math.nan for v in values],
            color=_BLUE, linewidth=1.2, marker=marker, markersize=3)
    if finite:
        _set_scale(ax, finite)
    else:
        ax.text(0.5, 0.5, "no finite values", transform=ax.transAxes, ha="center", color=_RED)
    _mark_nonfinite(ax, values)


def _set_scale(ax: Any, finite: list[float]) -> None:
    """Logarithmic only where the values span more than a decade (a diverging loss, a vanishing
    gradient): on a linear axis the early steps would flatten into a line at zero. Where any value
    is <= 0 (a negative log-likelihood of a continuous density can be negative; a dead gradient is
    0) log cannot draw it, so symlog: linear within the median absolute value, so ordinary training
    reads as usual, logarithmic beyond it, so a blow-up to 1e8 still fits. Otherwise linear, whose
    ticks read best over a small range."""
    low, high = min(finite), max(finite)
    if low > 0 and high > SPAN * low:
        ax.set_yscale("log")
    elif low <= 0:
        typical = statistics.median(abs(v) for v in finite) or 1.0
        if max(abs(low), abs(high)) > SPAN * typical:
            ax.set_yscale("symlog", linthresh=typical)


def _mark_nonfinite(ax: Any, values: list[float]) -> None:
    """Each run of nan/inf steps as a red band with a dashed line where it starts; legend
    ``non-finite from step N`` (the first one)."""
    runs = _runs([not math.isfinite(v) for v in values])
    for n, (start, end) in enumerate(runs):
        label = f"non-finite from step {start}" if n == 0 else None
        ax.axvspan(start - 0.5, end + 0.5, color=_RED, alpha=0.12, linewidth=0)
        ax.axvline(start, color=_RED, linewidth=1, linestyle="--", label=label)
    if runs:
        ax.legend(loc="best", frameon=False, labelcolor=_RED)


def _runs(flags: list[bool]) -> list[tuple[int, int]]:
    """The (first, last) index of each run of consecutive True flags."""
    runs: list[tuple[int, int]] = []
    for i, flag in enumerate(flags):
        if flag and runs and runs[-1][1] == i - 1:
            runs[-1] = (runs[-1][0], i)
        elif flag:
            runs.append((i, i))
    return runs


# ---------------------------------------------------------------------------------- small helpers


def _tid(i: int) -> str:
    return f"target-{i + 1}"


def _fid(i: int, j: int) -> str:
    return f"target-{i + 1}-failure-{j + 1}"


def _hid(i: int, k: int) -> str:
    return f"target-{i + 1}-hang-{k + 1}"


def _standing(cause: str, confirmed: bool) -> str:
    """As the terminal report says it: an unconfirmed ``unclassified`` has no evidence to suspect."""
    if confirmed:
        return "confirmed"
    return "no evidence" if cause == "unclassified" else "suspected"


def _badge(standing: str) -> str:
    return f'<span class="badge badge-{standing.replace(" ", "-")}">{standing}</span>'


def _status(status: Any) -> str:
    css = status if status in _STATUSES else "other"
    return f'<span class="status status-{css}">{_esc(status if status is not None else "?")}</span>'


def _pre(text: Any, *, code: bool = False) -> str:
    body = _esc(text)
    return f'<pre><code class="language-python">{body}</code></pre>' if code else f"<pre>{body}</pre>"


def _breakable(name: Any) -> str:
    """A target name escaped, free to wrap after ``/`` and ``::`` (not mid-word) in a narrow column."""
    return _esc(name).replace("/", "/<wbr>").replace("::", "::<wbr>")


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _compact(value: Any) -> str:
    """A configuration value as written: strings bare, everything else as compact JSON."""
    return value if isinstance(value, str) else _dumps(value)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(", ", ": "), sort_keys=True, default=repr)


def _number(value: Any, digits: int) -> str:
    number = _as_float(value)
    if value is None or isinstance(value, bool) or not math.isfinite(number):
        return _esc(value if value is not None else "")
    plain = number == 0 or 10 ** -digits <= abs(number) < 1e5
    return f"{number:.{digits}f}" if plain else f"{number:.3g}"


def _as_float(value: Any) -> float:
    """Report numbers are floats or the strings "nan"/"inf"/"-inf"; anything else reads as nan."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan
