"""Engines on the driver side: each turns an experiment into trial parameters and learns from results.

The worker side of each engine is a plain function (`trial_function`) that Dask runs; it receives the
parameters chosen here and returns a TrialResult. All sampler state (Optuna's study) stays here.
"""

from __future__ import annotations

import abc
import logging
import warnings
from collections import deque
from collections.abc import Sequence
from typing import Any, Literal

from workbench.errors import InvalidInputError
from workbench.metrics import get_metric
from workbench.search._protocol import Reporter, TrialData, TrialResult, TrialSpec, WorkerResources
from workbench.search._worker import TrialFunction

__all__ = ["ENGINE_NAMES", "AutoGluonEngine", "Engine", "FunctionEngine", "OptunaEngine", "run_optuna_trial"]

ENGINE_NAMES = ("autogluon", "optuna")


class Engine(abc.ABC):
    """The driver side of an engine.

    `ask(number)` returns the parameters of trial `number` (numbers are assigned by the driver, per
    engine); `tell` receives its outcome. `requeue(params)` asks for a trial with fixed parameters to be
    run again first (a trial interrupted by a driver crash); `resume(number, params)` gives the parameters
    to run trial `number`, queued by a driver that died before it started, under this driver.

    `honours_time_limit`: its trials end by themselves within their time limit (`TrialSpec.time_limit_s`,
    the deadline in `WorkerResources`) with what they have, so the end of a time budget lets them finish
    instead of cancelling them. `whole_host`: its trials are best given every core of a host (a search of
    such engines only runs one trial per host at a time).
    """

    name: str
    trial_function: TrialFunction
    honours_time_limit: bool = False
    whole_host: bool = False

    def __init__(self) -> None:
        self._requeued: deque[dict[str, Any]] = deque()

    def requeue(self, params: dict[str, Any]) -> None:
        self._requeued.append(params)

    @property
    def queued(self) -> int:
        """How many fixed trials wait to run before the engine samples new ones."""
        return len(self._requeued)

    def resume(self, number: int, params: dict[str, Any]) -> dict[str, Any]:
        self.requeue(params)
        return self.ask(number)

    @abc.abstractmethod
    def ask(self, number: int) -> dict[str, Any]: ...

    def on_report(self, number: int, step: int, value: float) -> bool:
        """An intermediate value from a running trial; returns True when the trial should be pruned."""
        return False

    def tell(self, number: int, state: str, values: Sequence[float] | None) -> None:  # noqa: B027
        """The trial's outcome: COMPLETE (with values), PRUNED, FAILED or CANCELLED."""

    def needs_gpu(self, params: dict[str, Any]) -> bool:
        return False

    def close(self) -> None:  # noqa: B027
        """Release what the engine holds (storages)."""


def run_optuna_trial(spec: TrialSpec, data: TrialData, resources: WorkerResources, reporter: Reporter) -> TrialResult:
    """Worker side of the Optuna engine: fit one model family with the sampled parameters."""
    from workbench.search.families import fit_candidate

    family = spec.params["family"]
    params = {k: v for k, v in spec.params.items() if k != "family" and not k.startswith("_")}
    candidate, blob = fit_candidate(family, params, data, resources, reporter, spec.seed)
    values: tuple[float, ...] = (candidate.valid_score,)
    if spec.params.get("_multi_objective"):
        values = (candidate.valid_score, candidate.predict_row_ms)
    return TrialResult(status="complete", candidates=[candidate], artifacts={candidate.artifact: blob}, values=values)


class OptunaEngine(Engine):
    """One Optuna study per experiment over model families, TPE by default.

    Single objective: the experiment's metric on the valid rows, with pruning through intermediate values.
    Multi-objective (`multi_objective=True`): metric and single-row predict latency (ms), no pruning
    (Optuna prunes single-objective studies only).
    """

    name = "optuna"
    trial_function = staticmethod(run_optuna_trial)
    honours_time_limit = True  # every family stops training at its deadline and keeps its best iteration

    def __init__(
        self,
        storage_url: str,
        study_name: str,
        metric: str,
        problem_type: str,
        seed: int = 0,
        families: Sequence[str] | None = None,
        multi_objective: bool = False,
        gpus_available: bool = False,
    ) -> None:
        super().__init__()
        import optuna

        from workbench.search.families import FAMILIES

        optuna.logging.set_verbosity(logging.WARNING)
        self.families = list(families or FAMILIES)
        unknown = [f for f in self.families if f not in FAMILIES]
        if unknown:
            raise InvalidInputError(f"Unknown model families {unknown}; use some of: {', '.join(FAMILIES)}.")
        self.multi_objective = multi_objective
        self.gpus_available = gpus_available
        direction: Literal["maximize", "minimize"] = (
            "maximize" if get_metric(metric, problem_type).greater_is_better else "minimize"
        )
        directions: list[Literal["maximize", "minimize"]] = [direction, "minimize"] if multi_objective else [direction]
        with warnings.catch_warnings():
            # multivariate/group TPE handle the family-conditional space well; Optuna marks them experimental.
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True)
        pruner = optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=20)
        self.storage = optuna.storages.RDBStorage(storage_url)
        self.study = optuna.create_study(
            storage=self.storage,
            study_name=study_name,
            directions=directions,
            sampler=sampler,
            pruner=pruner,
            load_if_exists=True,
        )
        self._trials: dict[int, Any] = {}
        self._first_done = False
        self._fail_orphans()

    def _fail_orphans(self) -> None:
        """Trials left RUNNING by a driver that died have no one to finish them: fail them."""
        import optuna

        for trial in self.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            self.study.tell(trial.number, state=optuna.trial.TrialState.FAIL)

    def ask(self, number: int) -> dict[str, Any]:
        from workbench.search.families import FAMILIES

        if self._requeued:
            fixed = self._requeued.popleft()
            self.study.enqueue_trial({k: v for k, v in fixed.items() if not k.startswith("_")})
        elif (first := self._first_trial()) is not None:
            self.study.enqueue_trial(first)
        trial = self.study.ask()
        family = trial.suggest_categorical("family", self.families)
        params: dict[str, Any] = {"family": family, **FAMILIES[family].suggest(trial)}
        params["_optuna_number"] = trial.number
        if self.multi_objective:
            params["_multi_objective"] = True
        self._trials[number] = trial
        return params

    def _first_trial(self) -> dict[str, Any] | None:
        """The defaults of the next family of FIRST_TRIALS (those searched) while the study has asked fewer
        trials than there are of them (a resumed study counts the trials it asked before); else None."""
        from workbench.search.families import DEFAULTS, FIRST_TRIALS

        if self._first_done:
            return None
        order = [family for family in FIRST_TRIALS if family in self.families]
        asked = len(self.study.get_trials(deepcopy=False))
        if asked >= len(order):
            self._first_done = True  # and the study's trials are not read again at every ask
            return None
        family = order[asked]
        return {"family": family, **DEFAULTS[family]}

    def on_report(self, number: int, step: int, value: float) -> bool:
        trial = self._trials.get(number)
        if trial is None or self.multi_objective:
            return False
        trial.report(value, step)
        return bool(trial.should_prune())

    def tell(self, number: int, state: str, values: Sequence[float] | None) -> None:
        import optuna

        trial = self._trials.pop(number, None)
        if trial is None:
            return
        if state == "COMPLETE" and values:
            self.study.tell(trial, list(values))
        elif state == "PRUNED":
            self.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)

    def needs_gpu(self, params: dict[str, Any]) -> bool:
        from workbench.search.families import FAMILIES

        return self.gpus_available and FAMILIES[params["family"]].uses_gpu

    def close(self) -> None:
        self.storage.engine.dispose()


class AutoGluonEngine(Engine):
    """Trials are AutoGluon configurations (presets, hyperparameter sets, seeds) taken in a fixed order."""

    name = "autogluon"
    honours_time_limit = True  # AutoGluon's own time limit follows the trial's
    whole_host = True  # AutoGluon fits its models one after the other, each with every core it is given

    def __init__(self, seed: int = 0, time_limit_s: float | None = None, gpus_available: bool = False) -> None:
        super().__init__()
        from workbench.search.engines import run_autogluon_trial

        self.trial_function = run_autogluon_trial
        self.seed = seed
        self.time_limit_s = time_limit_s
        self.gpus_available = gpus_available

    def ask(self, number: int) -> dict[str, Any]:
        from workbench.search.engines import autogluon_configs

        if self._requeued:
            return self._requeued.popleft()
        return dict(autogluon_configs(number + 1, self.seed, self.time_limit_s)[number])

    def needs_gpu(self, params: dict[str, Any]) -> bool:
        return self.gpus_available


class FunctionEngine(Engine):
    """A user-defined objective: `function(spec, data, resources, reporter) -> TrialResult`, run as a trial.

    Its parameters are `{"number": n}` unless `params_for(n)` is given. Useful for custom model code and
    for testing the driver against objectives that crash, hang or kill their worker. Say
    `honours_time_limit=True` only for a function that returns by its deadline (`resources.deadline`).
    """

    def __init__(
        self,
        name: str,
        function: TrialFunction,
        params_for: Any = None,
        *,
        honours_time_limit: bool = False,
        whole_host: bool = False,
    ) -> None:
        super().__init__()
        self.name = name
        self.trial_function = function
        self._params_for = params_for
        self.honours_time_limit = honours_time_limit
        self.whole_host = whole_host

    def ask(self, number: int) -> dict[str, Any]:
        if self._requeued:
            return self._requeued.popleft()
        return dict(self._params_for(number)) if self._params_for else {"number": number}
