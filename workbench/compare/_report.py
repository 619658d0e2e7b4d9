"""One self-contained HTML report of a comparison: plotly.js inlined once, every figure drawn from it.

Every name from user data is escaped (`html.escape`) in the HTML and (`views.label`) in the figures;
plotly's JSON writer escapes `<`, `>` and `/` in the figure data embedded in <script> tags. The file is
written atomically: rendered in memory, written to a temp file in the same folder, then renamed.
"""

from __future__ import annotations

import html
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.compare import views
from workbench.compare.views._text import fmt
from workbench.errors import InvalidInputError

if TYPE_CHECKING:
    from workbench.compare._data import ComparisonData

__all__ = ["SECTIONS", "render_report", "write_report"]

# Section id -> heading, in report order.
SECTIONS = {
    "summary": "Experiment",
    "leaderboard": "Leaderboard",
    "history": "Optimization history",
    "pareto": "Pareto fronts",
    "ensembles": "Ensemble member weights",
    "top": "Top models",
    "best": "Best model: confusion matrix and calibration",
    "importance": "Permutation importance",
    "diff": "Model diff",
}

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.6rem; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2rem; margin-top: 2.5rem; }
table.data { border-collapse: collapse; font-size: .85rem; margin: .5rem 0 1rem; }
table.data th, table.data td { border: 1px solid #ddd; padding: .2rem .5rem; text-align: left; }
table.data th { background: #f3f5f9; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
p.note { color: #666; font-size: .9rem; } .figure { margin: 1rem 0; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """An HTML table; every cell escaped, floats formatted and right-aligned."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for v in row:
            if isinstance(v, float) or v is None:
                cells.append(f'<td class="num">{_e(fmt(v))}</td>')
            elif isinstance(v, int):
                cells.append(f'<td class="num">{v}</td>')
            else:
                cells.append(f"<td>{_e(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table class="data"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _note(text: str) -> str:
    return f'<p class="note">{_e(text)}</p>'


def _figure(fig: Any) -> str:
    from workbench.compare.views._plotly import figure_html

    return f'<div class="figure">{figure_html(fig)}</div>'


def _summary(data: ComparisonData) -> str:
    exp = data.experiment
    direction = "higher is better" if data.greater_is_better else "lower is better"
    kinds = Counter(m.kind for m in data.models)
    engines = Counter(m.engine for m in data.candidates())
    states = Counter((t.engine, t.state) for t in data.trials)
    facts: list[tuple[str, Any]] = [
        ("experiment", f"{exp.id}: {exp.name}"),
        ("dataset", exp.dataset),
        ("target", exp.target),
        ("problem type", data.problem_type),
        ("metric", f"{data.metric} ({direction})"),
        ("split", f"{exp.split_strategy}: " + ", ".join(f"{k} {v}" for k, v in exp.split_sizes.items())),
        ("selection", exp.selection_note()),
        ("classes", ", ".join(str(c) for c in data.classes) if data.classes else "\u2014"),
        ("candidates", f"{kinds['candidate']} (" + ", ".join(f"{e} {n}" for e, n in sorted(engines.items())) + ")"),
        ("ensembles", kinds["ensemble"]),
        ("trials", ", ".join(f"{e} {s.lower()} {n}" for (e, s), n in sorted(states.items())) or "none"),
    ]
    return _table(("", ""), [(k, str(v)) for k, v in facts])


def _leaderboard(data: ComparisonData) -> str:
    if not data.models:
        return _note("No models yet: run a search first.")
    info = views.get_leaderboard_info(data)
    table = info.table()
    rows = [[row[i] for row in table.values()] for i in range(len(info.rows))]
    return _table(list(table), rows) + _figure(views.plot_leaderboard(info))


def _history(data: ComparisonData) -> str:
    if not data.trials:
        return _note("No trials recorded.")
    info = views.get_history_info(data)
    return _figure(views.plot_history(info))


def _pareto(data: ComparisonData) -> str:
    if not data.models:
        return _note("No models yet.")
    info = views.get_pareto_info(data)
    fronts = [
        ("score vs single-row latency", ", ".join(info.front_names("latency")) or "\u2014"),
        ("score vs size", ", ".join(info.front_names("size")) or "\u2014"),
    ]
    return _table(("front", "models on it, best score first"), fronts) + _figure(views.plot_pareto(info))


def _ensembles(ensembles: Sequence[tuple[str, Sequence[str], Sequence[float]]]) -> str:
    if not ensembles:
        return _note("No ensembles given.")
    parts = []
    for name, members, weights in ensembles:
        info = views.get_weights_info(members, weights, name)
        parts.append(f"<h3>{_e(name)}</h3>")
        parts.append(
            _table(
                ("member", "weight", "share"),
                list(zip(info.names, info.weights.tolist(), info.shares.tolist(), strict=True)),
            )
        )
        parts.append(_figure(views.plot_weights(info)))
    return "".join(parts)


def _top(data: ComparisonData) -> str:
    top = [m for m in data.ranked()[:3] if m.valid_score is not None]
    if not top:
        return _note("No scored models yet.")
    keys = [m.key for m in top]
    names = ", ".join(f"{m.name} ({m.key})" for m in top)
    if data.problem_type == "regression":
        return _note(f"Test rows; {names}.") + _figure(views.plot_regression(views.get_regression_info(data, keys)))
    text = _note(f"Test rows; {names}.")
    return text + _figure(views.plot_roc_pr(views.get_roc_pr_info(data, keys)))


def _best(data: ComparisonData) -> str:
    ranked = [m for m in data.ranked() if m.valid_score is not None]
    if data.problem_type == "regression":
        return _note("Classification only.")
    if not ranked:
        return _note("No scored models yet.")
    best = ranked[0].key
    confusion = views.plot_confusion(views.get_confusion_info(data, best))
    calibration = views.plot_calibration(views.get_calibration_info(data, [best]))
    return _figure(confusion) + _figure(calibration)


def _importance(info: views.PermutationImportanceInfo | None) -> str:
    if info is None:
        return _note("Not computed: pass `importance=get_permutation_importance_info(...)`.")
    rows = list(zip(info.features, info.mean.tolist(), info.std.tolist(), strict=True))[:30]
    return _table(("feature", "importance (mean)", "std"), rows) + _figure(views.plot_permutation_importance(info))


def _diff(data: ComparisonData, pair: tuple[str, str] | None) -> str:
    if pair is None:
        ranked = data.ranked()
        if len(ranked) < 2:
            return _note("Needs at least two models.")
        pair = (ranked[0].key, ranked[1].key)
    info = views.get_diff_info(data, *pair)
    head = _note(f"{info.a_name} ({info.a_key}) vs {info.b_name} ({info.b_key}) on {info.rows} rows.")
    metrics = _table(("metric", info.a_name, info.b_name), [(m.metric, m.a, m.b) for m in info.metrics])
    return head + metrics + _figure(views.plot_diff(info))


def render_report(
    data: ComparisonData,
    *,
    ensembles: Sequence[tuple[str, Sequence[str], Sequence[float]]] = (),
    importance: views.PermutationImportanceInfo | None = None,
    diff_pair: tuple[str, str] | None = None,
    title: str | None = None,
) -> str:
    """The report as one HTML string (see `write_report`)."""
    from workbench.compare.views._plotly import get_plotlyjs

    plotly_js = get_plotlyjs()
    if "</script" in plotly_js.lower():  # would close the tag it is inlined in
        raise InvalidInputError("This plotly.js build cannot be inlined in a <script> tag.")
    exp = data.experiment
    heading = title or f"Comparison report: experiment {exp.id} ({exp.name})"
    builders: dict[str, Callable[[], str]] = {
        "summary": lambda: _summary(data),
        "leaderboard": lambda: _leaderboard(data),
        "history": lambda: _history(data),
        "pareto": lambda: _pareto(data),
        "ensembles": lambda: _ensembles(ensembles),
        "top": lambda: _top(data),
        "best": lambda: _best(data),
        "importance": lambda: _importance(importance),
        "diff": lambda: _diff(data, diff_pair),
    }
    body = [f'<section id="{key}"><h2>{_e(SECTIONS[key])}</h2>{build()}</section>' for key, build in builders.items()]
    generated = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_e(heading)}</title>\n<style>{_CSS}</style>\n"
        '<script type="text/javascript">window.PlotlyConfig = {MathJaxConfig: "local"};</script>\n'
        f'<script type="text/javascript">{plotly_js}</script>\n</head>\n<body>\n'
        f"<h1>{_e(heading)}</h1>\n{_note(f'Generated {generated} by workbench.')}\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def _write_atomic(path: Path, text: str) -> None:
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_report(
    path: Path,
    data: ComparisonData,
    *,
    ensembles: Sequence[tuple[str, Sequence[str], Sequence[float]]] = (),
    importance: views.PermutationImportanceInfo | None = None,
    diff_pair: tuple[str, str] | None = None,
    title: str | None = None,
) -> Path:
    """Write one self-contained HTML report to `path` (no network access needed to view it) and return it.

    Sections: experiment summary, leaderboard (HTML table and figure), optimization history, Pareto
    fronts, the member weights of each `(name, member names, weights)` in `ensembles`, ROC/PR (or
    predicted-vs-actual) of the top 3 models by valid score, confusion matrix and calibration of the best,
    `importance` if given, and the diff of the best two models (or `diff_pair`, names or keys).
    Nothing is written when rendering fails; an existing file at `path` is only replaced by a complete one.
    """
    path = Path(path)
    if path.is_dir():
        raise InvalidInputError(f"{path} is a folder; give the report a file name such as report.html.")
    if not path.parent.is_dir():
        raise InvalidInputError(f"The folder {path.parent} does not exist; create it first.")
    text = render_report(data, ensembles=ensembles, importance=importance, diff_pair=diff_pair, title=title)
    _write_atomic(path, text)
    return path
