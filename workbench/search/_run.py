"""One search, end to end: check the request, connect to the cluster, find or create the experiment, run."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from workbench.data import SplitSpec
from workbench.errors import InvalidInputError
from workbench.search._driver import SearchDriver, SearchOptions, SearchSummary
from workbench.search._engines import ENGINE_NAMES, AutoGluonEngine, Engine, OptunaEngine
from workbench.search._events import EventBus
from workbench.store import Budget, Experiment, ExperimentSpec, Workspace

__all__ = ["SearchRequest", "build_engines", "prepare_experiment", "run_search"]

# An experiment in one of these states is picked up again by the same search command.
RESUMABLE = ("created", "running", "stopped")


@dataclass(frozen=True)
class SearchRequest:
    """Everything `workbench search` takes. `resume` names an experiment to continue instead."""

    dataset: str | None = None
    target: str | None = None
    problem_type: str | None = None
    metric: str | None = None
    split_seed: int = 0
    engines: tuple[str, ...] = ENGINE_NAMES
    n_trials: int | None = None
    time_limit_s: float | None = None
    trial_timeout_s: float = 900.0
    on_stop: str = "cancel"
    multi_objective: bool = False
    families: tuple[str, ...] | None = None
    seed: int = 0
    cluster: str = "auto"
    resume: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def options(self) -> SearchOptions:
        return SearchOptions(
            n_trials=self.n_trials,
            time_limit_s=self.time_limit_s,
            trial_timeout_s=self.trial_timeout_s,
            on_stop=self.on_stop,  # type: ignore[arg-type]
            seed=self.seed,
        )

    def check(self) -> None:
        """Raise on bad input before anything is connected or written."""
        unknown = [e for e in self.engines if e not in ENGINE_NAMES]
        if unknown or not self.engines:
            raise InvalidInputError(f"Unknown engine {', '.join(unknown) or '(none)'}; use autogluon, optuna or both.")
        if self.resume is None and not self.dataset:
            raise InvalidInputError("Name a dataset to search, or an experiment to continue with --resume.")
        if self.n_trials is None and self.time_limit_s is None and self.resume is None:
            raise InvalidInputError("Give a budget: --trials N, --time-limit SECONDS, or both.")
        if self.n_trials is not None or self.time_limit_s is not None:
            self.options()

    def fingerprint(self) -> str:
        keys = ("dataset", "target", "problem_type", "metric", "split_seed", "engines", "n_trials", "time_limit_s")
        data = {k: getattr(self, k) for k in keys}
        data.update(multi_objective=self.multi_objective, families=self.families, seed=self.seed)
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=list).encode()).hexdigest()[:24]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("resume")
        data["engines"] = list(self.engines)
        data["families"] = list(self.families) if self.families else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchRequest:
        data = dict(data)
        data["engines"] = tuple(data["engines"])
        data["families"] = tuple(data["families"]) if data.get("families") else None
        return cls(**data)


def prepare_experiment(workspace: Workspace, request: SearchRequest) -> tuple[Experiment, SearchRequest, bool]:
    """The experiment to search, the request to run it with, and whether it was resumed."""
    if request.resume is not None:
        experiment = workspace.experiment(request.resume)
        if not experiment.search:
            raise InvalidInputError(
                f"Experiment {experiment.id} was not started by a search; start one with its dataset."
            )
        stored = SearchRequest.from_dict(experiment.search)
        overrides = {
            k: getattr(request, k)
            for k in ("n_trials", "time_limit_s", "cluster", "trial_timeout_s", "on_stop")
            if getattr(request, k) != getattr(SearchRequest(), k)
        }
        return experiment, SearchRequest(**{**asdict(stored), **overrides, "engines": stored.engines}), True
    fingerprint = request.fingerprint()
    found = workspace.find_experiment(fingerprint, RESUMABLE)
    if found is not None:
        return found, request, True
    assert request.dataset is not None
    spec = ExperimentSpec(
        dataset=request.dataset,
        target=request.target,
        problem_type=request.problem_type,
        metric=request.metric,
        split=SplitSpec(seed=request.split_seed),
        budget=Budget(request.time_limit_s, request.n_trials),
    )
    experiment = workspace.create_experiment(spec, fingerprint=fingerprint, search=request.to_dict())
    return experiment, request, False


def build_engines(
    workspace: Workspace, experiment: Experiment, request: SearchRequest, gpus_available: bool
) -> list[Engine]:
    engines: list[Engine] = []
    for name in request.engines:
        if name == "optuna":
            engines.append(
                OptunaEngine(
                    storage_url=f"sqlite:///{workspace.settings.home / 'optuna.db'}",
                    study_name=f"experiment-{experiment.id}",
                    metric=experiment.metric,
                    problem_type=experiment.problem_type,
                    seed=request.seed,
                    families=request.families,
                    multi_objective=request.multi_objective,
                    gpus_available=gpus_available,
                )
            )
        else:
            engines.append(AutoGluonEngine(request.seed, request.time_limit_s, gpus_available))
    return engines


def run_search(
    workspace: Workspace,
    request: SearchRequest,
    bus: EventBus | None = None,
    on_experiment: Any = None,
    on_driver: Any = None,
) -> SearchSummary:
    """Check, connect, prepare and run. Bad input raises before anything is written."""
    from workbench.compute import cluster, cluster_resources

    request.check()
    if request.resume is None:
        workspace.dataset(request.dataset or "")  # an unknown dataset is refused before connecting
    with cluster(request.cluster) as client:
        experiment, effective, _ = prepare_experiment(workspace, request)
        if effective.n_trials is None and effective.time_limit_s is None:
            raise InvalidInputError("The experiment has no budget; give --trials or --time-limit.")
        if on_experiment is not None:
            on_experiment(experiment)
        gpus = cluster_resources(client).get("gpus", 0) > 0
        engines = build_engines(workspace, experiment, effective, gpus)
        try:
            driver = SearchDriver(workspace, experiment, engines, client, effective.options(), bus)
            if on_driver is not None:
                on_driver(driver)
            return driver.run()
        finally:
            for engine in engines:
                engine.close()
