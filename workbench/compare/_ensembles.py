"""Building, measuring and saving cross-engine ensembles under the user's constraints."""

from __future__ import annotations

import hashlib
import io
import math
import pickle
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from workbench.compare._data import ComparisonData, ModelPredictions, load_comparison
from workbench.compare._honest import SelectionReport, honest_greedy, honest_stacking
from workbench.compare._models import load_candidate_model
from workbench.compare._selection import proxy_greater_is_better, selection_proxy, selection_scorer
from workbench.errors import InvalidInputError, NotFoundError
from workbench.model import EnsembleModel, measure_latency, score_predictions
from workbench.store import Experiment, Workspace
from workbench.store import ensembles as ensemble_rows
from workbench.store import trials as records

__all__ = [
    "BuiltEnsemble",
    "EnsembleConstraints",
    "EnsemblePreview",
    "Weights",
    "build_ensemble",
    "build_weighted_ensemble",
    "delete_ensemble",
    "preview_ensemble",
    "save_ensemble",
]

# Members and their weights: candidate keys ("c12") or ids (12) -> weight.
Weights = Mapping[str, float] | Mapping[int, float]
# greedy selection and stacking are searched; "manual" is an ensemble whose members and weights were given.
Method = Literal["greedy", "stacking", "manual"]


@dataclass(frozen=True)
class EnsembleConstraints:
    """What the user allows: distinct members, single-row predict latency (ms), size on disk (bytes)."""

    max_members: int | None = None
    max_latency_ms: float | None = None
    max_size_bytes: int | None = None

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if value is not None and value <= 0:
                raise InvalidInputError(f"{name} must be more than 0, not {value}.")

    @classmethod
    def parse(cls, text: str) -> EnsembleConstraints:
        """From `max_latency_ms=2,max_members=5,max_size_mb=50` (an empty text means no constraint)."""
        values: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, sep, raw = part.partition("=")
            if not sep:
                raise InvalidInputError(f"{part!r} is not key=value; use e.g. max_latency_ms=2,max_members=5.")
            try:
                number = float(raw)
            except ValueError:
                raise InvalidInputError(f"{key}={raw!r} is not a number.") from None
            if key == "max_members":
                values[key] = int(number)
            elif key == "max_latency_ms":
                values[key] = number
            elif key in ("max_size_mb", "max_size_bytes"):
                values["max_size_bytes"] = int(number * 1e6) if key == "max_size_mb" else int(number)
            else:
                raise InvalidInputError(
                    f"Unknown ensemble constraint {key!r}; use max_members, max_latency_ms or max_size_mb."
                )
        return cls(**values)


@dataclass
class BuiltEnsemble:
    """An ensemble built as a model, with its scores, measured latency and size.

    selection: how a searched ensemble was selected (greedy, stacking) and whether it was kept; None for
    "manual" ensembles. When build_ensemble keeps no ensemble, the result is the best single candidate as
    a one-member greedy ensemble and `selection.reason` says why. rejected: methods and member sets that
    were tried and dropped, one line each.
    """

    method: Method
    member_ids: list[int]
    member_names: list[str]
    weights: list[float]
    valid_pred: np.ndarray
    test_pred: np.ndarray
    valid_score: float
    test_score: float
    predict_row_ms: float
    predict_batch_ms: float
    size_bytes: int
    model: EnsembleModel | None  # None until its members are loaded (`_materialize`): only the one returned
    meta: Any = None
    classes: tuple[Any, ...] | None = None
    id: int | None = None
    name: str = ""
    rejected: list[str] = field(default_factory=list)
    selection: SelectionReport | None = None

    def to_dict(self) -> dict[str, Any]:
        """Everything but the predictions and the model, as plain JSON."""
        return {
            "id": self.id,
            "name": self.name,
            "method": self.method,
            "members": [
                {"candidate_id": i, "name": n, "weight": float(w)}
                for i, n, w in zip(self.member_ids, self.member_names, self.weights, strict=True)
            ],
            "valid_score": self.valid_score,
            "test_score": self.test_score,
            "predict_row_ms": self.predict_row_ms,
            "predict_batch_ms": self.predict_batch_ms,
            "size_bytes": self.size_bytes,
            "rejected": list(self.rejected),
            "selection": self.selection.to_dict() if self.selection is not None else None,
        }


def _artifact_sizes(data: ComparisonData) -> dict[int, tuple[str, int]]:
    """Candidate id -> (artifact key, artifact size): members sharing an artifact are counted once."""
    return {m.id: (m.artifact_key or f"c{m.id}", int(m.artifact_size or m.size_bytes or 0)) for m in data.candidates()}


def _size_of(ids: set[int], sizes: dict[int, tuple[str, int]]) -> int:
    return sum(dict(sizes[i] for i in ids).values())


def build_ensemble(
    workspace: Workspace,
    experiment: Experiment,
    constraints: EnsembleConstraints | None = None,
    methods: tuple[Method, ...] = ("greedy", "stacking"),
    n_iterations: int = 50,
    seed: int = 0,
    comparison: ComparisonData | None = None,
    measure: bool = True,
) -> BuiltEnsemble:
    """The best ensemble of all candidates of `experiment`, whichever engine made them, that satisfies
    `constraints`. Latency is measured on the built ensemble, not summed from members; `measure=False`
    (without a latency constraint) skips loading the members and leaves the sum of the members' measured
    latencies, an upper bound, with `model` None.

    Each method is cross-validated over the valid rows (`workbench.compare._honest`): an ensemble is kept
    only if its out-of-fold score beats its best single member's, and the best kept one (by out-of-fold
    score) is returned. If none is kept, the result is the best single candidate (a one-member greedy
    ensemble) when greedy was among `methods`; with stacking alone, the stacking ensemble is returned with
    `selection.kept` False. Either way `selection.reason` says what was done."""
    if not methods or any(m not in ("greedy", "stacking") for m in methods):
        raise InvalidInputError(f"Unknown ensemble method in {list(methods)}; use greedy, stacking or both.")
    limits = constraints or EnsembleConstraints()
    data = comparison or load_comparison(workspace, experiment)
    pool = [m for m in data.candidates() if m.valid_score is not None]
    if not pool:
        raise InvalidInputError(f"Experiment {experiment.id} has no candidates yet; run a search first.")
    sizes = _artifact_sizes(data)
    if limits.max_latency_ms is not None:
        pool = [m for m in pool if (m.predict_row_ms or 0) <= limits.max_latency_ms]
    if limits.max_size_bytes is not None:
        pool = [m for m in pool if sizes[m.id][1] <= limits.max_size_bytes]
    if not pool:
        raise InvalidInputError("No candidate meets these constraints on its own; loosen them.")
    results: list[BuiltEnsemble] = []
    rejected: list[str] = []
    banned: set[int] = set()
    for method in dict.fromkeys(methods):
        while True:
            usable = [m for m in pool if m.id not in banned]
            if not usable:
                break
            built = _build(workspace, data, usable, method, limits, sizes, n_iterations, seed)
            if limits.max_latency_ms is not None:
                _materialize(workspace, data, built)
            if limits.max_latency_ms is not None and built.predict_row_ms > limits.max_latency_ms:
                # Measured over the limit: drop the slowest member from the pool and build again.
                slowest = max(built.member_ids, key=lambda i: next(m.predict_row_ms or 0 for m in usable if m.id == i))
                rejected.append(f"{method}: {built.predict_row_ms:.2f} ms per row with candidate {slowest}")
                banned.add(slowest)
                continue
            results.append(built)
            break
        banned.clear()
    if not results:
        raise InvalidInputError("No ensemble meets the latency limit when measured; raise max_latency_ms.")
    best = _choose(results, data.greater_is_better)
    if best.model is None and measure:  # loaded and measured once, the one returned
        _materialize(workspace, data, best)
    for other in results:
        if other is not best and other.selection is not None:
            rejected.append(f"{other.method}: {other.selection.using(_not_used(other, best)).reason}")
    best.rejected = rejected
    return best


def _oof(built: BuiltEnsemble) -> float:
    return built.selection.oof_score if built.selection and built.selection.oof_score is not None else math.nan


def _choose(results: list[BuiltEnsemble], greater_is_better: bool) -> BuiltEnsemble:
    """The kept ensemble with the best out-of-fold score (the first on ties); if none is kept, greedy's
    fallback (the best single candidate), else the first result, marked as built anyway."""
    sign = 1.0 if greater_is_better else -1.0
    kept = [b for b in results if b.selection is not None and b.selection.kept]
    if kept:
        return max(kept, key=lambda b: (sign * _oof(b), -results.index(b)))
    for built in results:
        if built.method == "greedy":
            return built
    first = results[0]
    if first.selection is not None:
        first.selection = first.selection.using(f"it is built anyway, as only {first.method} was asked for")
    return first


def _not_used(other: BuiltEnsemble, best: BuiltEnsemble) -> str:
    if other.selection is not None and other.selection.kept:
        return f"not used: {best.method} scored better out of fold ({_oof(best):.4f})"
    return "not used"


def _build(
    workspace: Workspace,
    data: ComparisonData,
    pool: list[ModelPredictions],
    method: Method,
    limits: EnsembleConstraints,
    sizes: dict[int, tuple[str, int]],
    n_iterations: int,
    seed: int,
) -> BuiltEnsemble:
    if method == "greedy":

        def admissible(members: set[int]) -> bool:
            ids = {pool[i].id for i in members}
            if limits.max_size_bytes is not None and _size_of(ids, sizes) > limits.max_size_bytes:
                return False
            if limits.max_latency_ms is not None:
                return sum(pool[i].predict_row_ms or 0 for i in members) <= limits.max_latency_ms
            return True

        result = honest_greedy(
            [m.valid for m in pool],
            data.y_valid,
            data.metric,
            data.problem_type,
            data.classes,
            n_iterations=n_iterations,
            max_members=limits.max_members,
            admissible=admissible,
            seed=seed,
            names=[m.name for m in pool],
        )
        chosen = [i for i in np.flatnonzero(result.weights)]
        members = [pool[i] for i in chosen]
        weights = [float(result.weights[i]) for i in chosen]
        valid_pred = sum(w * m.valid for w, m in zip(weights, members, strict=True))
        test_pred = sum(w * m.test for w, m in zip(weights, members, strict=True))
        meta = None
        selection = result.report
    else:
        # The members: the best 8 by the selection proxy on the valid rows (a smooth score is less swayed by
        # a few lucky rows than a thresholded metric), within the constraints.
        proxy = selection_proxy(data.metric, data.problem_type)
        proxy_score = selection_scorer(proxy, data.problem_type, data.y_valid, data.classes)
        proxy_sign = 1.0 if proxy_greater_is_better(proxy, data.problem_type) else -1.0
        ranked = sorted(pool, key=lambda m: -proxy_sign * proxy_score(m.valid))
        members = []
        for m in ranked:
            ids = {x.id for x in members} | {m.id}
            if limits.max_members is not None and len(ids) > limits.max_members:
                break
            if limits.max_size_bytes is not None and _size_of(ids, sizes) > limits.max_size_bytes:
                continue
            if (
                limits.max_latency_ms is not None
                and sum(x.predict_row_ms or 0 for x in [*members, m]) > limits.max_latency_ms
            ):
                continue
            members.append(m)
            if len(members) >= 8:
                break
        stacking, selection = honest_stacking(
            [m.valid for m in members],
            data.y_valid,
            [m.test for m in members],
            data.metric,
            data.problem_type,
            data.classes,
            seed=seed,
        )
        weights = [1.0 / len(members)] * len(members)
        # Keeping it was decided out of fold (`honest_stacking`). Its valid score is that of the meta-model
        # fitted on every valid row, as greedy weights selected on every valid row are scored: it then
        # ranks beside the candidates', each the best of many, rather than below them for its honesty.
        valid_pred, test_pred, meta = stacking.fitted_pred, stacking.test_pred, stacking.meta
    built = _assembled(workspace, data, method, members, weights, valid_pred, test_pred, meta, sizes)
    built.selection = selection
    return built


def _assembled(
    workspace: Workspace,
    data: ComparisonData,
    method: Method,
    members: list[ModelPredictions],
    weights: list[float],
    valid_pred: Any,
    test_pred: Any,
    meta: Any,
    sizes: dict[int, tuple[str, int]],
) -> BuiltEnsemble:
    """The ensemble's scores and size from its members' predictions; its model is loaded and its latency
    measured by `_materialize`."""
    return BuiltEnsemble(
        method=method,
        member_ids=[m.id for m in members],
        member_names=[m.name for m in members],
        weights=weights,
        valid_pred=np.asarray(valid_pred),
        test_pred=np.asarray(test_pred),
        valid_score=score_predictions(
            data.metric, data.problem_type, data.y_valid, np.asarray(valid_pred), data.classes
        ),
        test_score=score_predictions(data.metric, data.problem_type, data.y_test, np.asarray(test_pred), data.classes),
        predict_row_ms=_summed(m.predict_row_ms for m in members),
        predict_batch_ms=_summed(m.predict_batch_ms for m in members),
        size_bytes=_size_of({m.id for m in members}, sizes) + (len(pickle.dumps(meta)) if meta is not None else 0),
        model=None,
        meta=meta,
        classes=data.classes,
    )


def _summed(values: Iterable[float | None]) -> float:
    """The members' latencies added up: an upper bound on the ensemble's, which calls each in turn."""
    total = 0.0
    for value in values:
        if value is None or not math.isfinite(value):
            return math.nan
        total += value
    return total


def _materialize(workspace: Workspace, data: ComparisonData, built: BuiltEnsemble) -> None:
    """Load the built ensemble's members into its model and measure its latency on the valid rows."""
    by_id = {c.id: c for c in records.list_candidates(workspace.store, data.experiment.id)}
    models = [load_candidate_model(workspace, by_id[i]) for i in built.member_ids]
    built.model = EnsembleModel(models, built.member_names, data.problem_type, data.classes, built.weights, built.meta)
    latency = measure_latency(built.model, workspace.rows(data.experiment).X_valid)
    built.predict_row_ms, built.predict_batch_ms = latency.row_ms, latency.batch_ms


def save_ensemble(workspace: Workspace, experiment: Experiment, built: BuiltEnsemble) -> BuiltEnsemble:
    """Write the ensemble's predictions (and meta-model) as artifacts and its row in the ensembles table."""
    store = workspace.store
    buffer = io.BytesIO()
    np.savez(buffer, valid=built.valid_pred, test=built.test_pred)
    blob = buffer.getvalue()
    digest = hashlib.sha256(blob).hexdigest()[:12]
    predictions = store.put_artifact(f"experiments/{experiment.id}/ensembles/{built.method}-{digest}.npz", blob)
    meta_key = None
    if built.meta is not None:
        meta_blob = pickle.dumps(built.meta)
        meta_key = store.put_artifact(
            f"experiments/{experiment.id}/ensembles/{built.method}-{digest}-meta.pkl", meta_blob
        ).key
    name = f"ensemble-{built.method}-{len(built.member_ids)}"
    spec = {
        "name": name,
        "members": built.to_dict()["members"],
        "classes": list(built.classes) if built.classes is not None else None,
        "predictions_key": predictions.key,
        "meta_key": meta_key,
        "selection": built.selection.to_dict() if built.selection is not None else None,
    }
    scores = {
        k: getattr(built, k) for k in ("valid_score", "test_score", "predict_row_ms", "predict_batch_ms", "size_bytes")
    }
    row = ensemble_rows.add_ensemble(
        store, experiment.id, built.method, spec, scores, predictions.key, name_of=lambda i: f"{name}-e{i}"
    )
    built.id, built.name = row.id, row.name
    return built


def delete_ensemble(workspace: Workspace, experiment: Experiment, ensemble_id: int) -> None:
    """Remove a saved ensemble and its artifacts (registered versions made from it keep their own copy)."""
    row = ensemble_rows.get_ensemble(workspace.store, ensemble_id)
    if row is None or row.experiment_id != experiment.id:
        raise NotFoundError(f"Experiment {experiment.id} has no ensemble {ensemble_id}.")
    ensemble_rows.delete_ensemble(workspace.store, ensemble_id)
    # Artifacts are named by their content: an identical ensemble saved again shares them and keeps them.
    shared = {
        key
        for other in ensemble_rows.list_ensembles(workspace.store, experiment.id)
        for key in (other.artifact_key, other.spec.get("predictions_key"), other.spec.get("meta_key"))
    }
    keys = [k for k in (row.spec.get("predictions_key"), row.spec.get("meta_key")) if k and k not in shared]
    workspace.store.delete_artifacts(keys)


# ensembles with the members and weights the user gives --------------------------------------------


@dataclass(frozen=True)
class EnsemblePreview:
    """An ensemble of given members and weights, scored from the stored predictions alone.

    members: (key, name, weight) with weights normalized to sum to 1. estimated_row_ms: the members'
    single-row latencies summed (measured on the built model only when it is saved). size_bytes: the
    members' artifacts, each counted once.
    """

    members: tuple[tuple[str, str, float], ...]
    valid_score: float
    test_score: float
    estimated_row_ms: float | None
    size_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "members": [{"key": k, "name": n, "weight": w} for k, n, w in self.members],
            "valid_score": _finite(self.valid_score),
            "test_score": _finite(self.test_score),
            "estimated_row_ms": self.estimated_row_ms,
            "size_bytes": self.size_bytes,
        }


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _weighted_members(data: ComparisonData, weights: Weights) -> list[tuple[ModelPredictions, float]]:
    """The candidates named in `weights` ("c12" or 12) with their weights normalized; zero weights dropped."""
    if not weights:
        raise InvalidInputError("Give at least one member with a weight above 0.")
    chosen: dict[int, float] = {}
    by_id = {m.id: m for m in data.candidates()}
    for key, weight in weights.items():
        text = str(key)
        number = text[1:] if text.startswith("c") else text
        if not number.isdigit() or int(number) not in by_id:
            raise InvalidInputError(
                f"{key!r} is not a candidate of experiment {data.experiment.id}; members are candidates (c12)."
            )
        try:
            value = float(weight)
        except (TypeError, ValueError):
            raise InvalidInputError(f"The weight of {key} must be a number, not {weight!r}.") from None
        if not math.isfinite(value) or value < 0:
            raise InvalidInputError(f"The weight of {key} must be a finite number of at least 0, not {weight!r}.")
        chosen[int(number)] = chosen.get(int(number), 0.0) + value
    total = sum(chosen.values())
    if total <= 0:
        raise InvalidInputError("Give at least one member with a weight above 0.")
    return [(by_id[i], w / total) for i, w in sorted(chosen.items()) if w > 0]


def preview_ensemble(data: ComparisonData, weights: Weights) -> EnsemblePreview:
    """Score the weighted average of the given candidates' stored predictions: no model is loaded and the
    dataset is not read, so an editor can call it on every change."""
    members = _weighted_members(data, weights)
    valid = sum(w * m.valid for m, w in members)
    test = sum(w * m.test for m, w in members)
    sizes = _artifact_sizes(data)
    latencies = [m.predict_row_ms for m, _ in members]
    return EnsemblePreview(
        members=tuple((m.key, m.name, w) for m, w in members),
        valid_score=score_predictions(data.metric, data.problem_type, data.y_valid, np.asarray(valid), data.classes),
        test_score=score_predictions(data.metric, data.problem_type, data.y_test, np.asarray(test), data.classes),
        estimated_row_ms=None if any(v is None for v in latencies) else float(sum(v or 0 for v in latencies)),
        size_bytes=_size_of({m.id for m, _ in members}, sizes),
    )


def build_weighted_ensemble(workspace: Workspace, data: ComparisonData, weights: Weights) -> BuiltEnsemble:
    """The ensemble of the given candidates and weights, built as a model with its latency measured (save it
    with `save_ensemble`)."""
    members = _weighted_members(data, weights)
    models = [m for m, _ in members]
    normalized = [w for _, w in members]
    valid = sum(w * m.valid for m, w in members)
    test = sum(w * m.test for m, w in members)
    built = _assembled(workspace, data, "manual", models, normalized, valid, test, None, _artifact_sizes(data))
    _materialize(workspace, data, built)
    return built
