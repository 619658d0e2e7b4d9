"""The public API: every step of the workbench, typed, for the CLI, the widgets, REST and notebooks.

Every function takes the workspace as `workspace=` (a `Workspace`, a home folder, or None for
WORKBENCH_HOME) and returns a typed result whose `to_dict()` gives plain JSON types.

>>> import workbench.api as wb
>>> exp = wb.create_experiment("penguins", budget=wb.Budget(n_trials=12))              # doctest: +SKIP
>>> search = wb.start_search(exp.id, wb.search_config(cluster="local:2"))             # doctest: +SKIP
>>> search.progress().done, search.wait()                                             # doctest: +SKIP
>>> version = wb.register_winner(exp.id)                                              # doctest: +SKIP

| step | functions | result |
| --- | --- | --- |
| workspace | `open_workspace` | `Workspace` |
| datasets | `list_datasets`, `show_dataset`, `profile_dataset`, `add_dataset`, `add_dataset_from_frame`, `add_dataset_from_bytes`, `delete_dataset`, `suggest_target` | `DatasetEntry`, `Profile` |
| experiments | `create_experiment`, `list_experiments`, `show_experiment`, `delete_experiment`, `list_trials`, `sample_rows` | `Experiment`, `TrialRow` |
| search | `search_config`, `resume_config`, `start_search`, `attach`, `run_search`, `prepare_search`, `search_progress`, `search_events`, `stop_search` | `SearchHandle`, `SearchProgress`, `SearchEvent`, `SearchSummary` |
| clusters | `cluster_info`, `start_cluster` | `ClusterInfo`, `ClusterHandle` |
| compare | `leaderboard`, `compare` (views), `plot`, `write_report` | `Leaderboard`, `Comparison`, view infos |
| ensembles | `build_ensemble`, `preview_ensemble`, `measure_ensemble`, `save_ensemble`, `list_ensembles`, `delete_ensemble` | `BuiltEnsemble`, `EnsemblePreview`, `EnsembleRow` |
| registry | `register_model`, `register_winner`, `promote`, `remove_alias`, `list_models`, `show_model`, `export_model`, `import_model`, `delete_model`, `predict` | `VersionInfo`, `Promotion` |
| endpoints | `start_endpoint`, `stop_endpoint`, `list_endpoints`, `show_endpoint`, `endpoint_logs`, `endpoint_predict`, `serve` | `Endpoint`, `EndpointPrediction` |
| jobs | `list_jobs`, `show_job`, `cancel_job`, `job_log` | `Job` |
| batch scoring | `predict_file`, `default_cluster` | `BatchPrediction` |
| notebook jobs | `run_notebook`, `notebook_job`, `notebook_parameters`, `parse_parameters`, `record`, `recorded` | `NotebookJob`, `NotebookProgress`, `NotebookParameter` |
| retrain | `model_recipe`, `retrain`, `evaluate_model`, `challenge` | `Recipe`, `Retrained`, `ModelScore`, `Challenge` |
| the flow | `FlowParameters`, `write_flow_notebook`, `write_scoring_notebook`, `follow_search`, `choose_model`, `metrics_for`, `model_families` | `Path`, `str`, `list[str]` |
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench._lazy import lazy_getattr

if TYPE_CHECKING:
    from workbench.api._batch import default_cluster, predict_file
    from workbench.api._clusters import ClusterInfo, cluster_info, start_cluster
    from workbench.api._compare import (
        Comparison,
        build_ensemble,
        compare,
        delete_ensemble,
        leaderboard,
        list_ensembles,
        measure_ensemble,
        plot,
        preview_ensemble,
        save_ensemble,
        write_report,
    )
    from workbench.api._datasets import (
        add_dataset,
        add_dataset_from_bytes,
        add_dataset_from_frame,
        delete_dataset,
        list_datasets,
        profile_dataset,
        show_dataset,
        suggest_target,
    )
    from workbench.api._endpoints import (
        EndpointPrediction,
        endpoint_logs,
        endpoint_predict,
        list_endpoints,
        serve,
        show_endpoint,
        start_endpoint,
        stop_endpoint,
    )
    from workbench.api._experiments import (
        create_experiment,
        delete_experiment,
        list_experiments,
        list_trials,
        sample_rows,
        show_experiment,
    )
    from workbench.api._flow import (
        FlowParameters,
        choose_model,
        follow_search,
        metrics_for,
        model_families,
        write_flow_notebook,
        write_scoring_notebook,
    )
    from workbench.api._jobs import cancel_job, job_log, list_jobs, show_job
    from workbench.api._notebooks import (
        NotebookJob,
        NotebookProgress,
        notebook_job,
        notebook_parameters,
        parse_parameters,
        record,
        recorded,
        run_notebook,
    )
    from workbench.api._registry import (
        Promotion,
        delete_model,
        export_model,
        import_model,
        list_models,
        predict,
        promote,
        register_model,
        register_winner,
        remove_alias,
        show_model,
    )
    from workbench.api._retrain import (
        Challenge,
        ModelScore,
        Recipe,
        RecipeTrial,
        Retrained,
        challenge,
        evaluate_model,
        model_recipe,
        retrain,
    )
    from workbench.api._search import (
        attach,
        prepare_search,
        resume_config,
        run_search,
        search_config,
        search_events,
        search_progress,
        start_search,
        stop_search,
    )
    from workbench.api._workspace import open_workspace
    from workbench.compare import BuiltEnsemble, EnsembleConstraints, EnsemblePreview, Leaderboard, LeaderboardRow
    from workbench.compute import ClusterHandle
    from workbench.config import Settings
    from workbench.data import DatasetEntry, Profile, SplitSpec
    from workbench.errors import WorkbenchError
    from workbench.jobs import NotebookParameter, SearchHandle
    from workbench.metrics import DEFAULT_METRIC, METRICS
    from workbench.registry import VersionInfo
    from workbench.search import ENGINE_NAMES, SearchConfig, SearchSummary
    from workbench.serve import BatchInputError, BatchPrediction, ContractReport
    from workbench.store import (
        EVENT_KINDS,
        STOP_MODES,
        Budget,
        Endpoint,
        EnsembleRow,
        Experiment,
        Job,
        SearchEvent,
        SearchProgress,
        StopMode,
        TrialRow,
        Workspace,
    )

__all__ = [
    "DEFAULT_METRIC",
    "ENGINE_NAMES",
    "EVENT_KINDS",
    "METRICS",
    "STOP_MODES",
    "BatchInputError",
    "BatchPrediction",
    "Budget",
    "BuiltEnsemble",
    "Challenge",
    "ClusterHandle",
    "ClusterInfo",
    "Comparison",
    "ContractReport",
    "DatasetEntry",
    "Endpoint",
    "EndpointPrediction",
    "EnsembleConstraints",
    "EnsemblePreview",
    "EnsembleRow",
    "Experiment",
    "FlowParameters",
    "Job",
    "Leaderboard",
    "LeaderboardRow",
    "ModelScore",
    "NotebookJob",
    "NotebookParameter",
    "NotebookProgress",
    "Profile",
    "Promotion",
    "Recipe",
    "RecipeTrial",
    "Retrained",
    "SearchConfig",
    "SearchEvent",
    "SearchHandle",
    "SearchProgress",
    "SearchSummary",
    "Settings",
    "SplitSpec",
    "StopMode",
    "TrialRow",
    "VersionInfo",
    "WorkbenchError",
    "Workspace",
    "add_dataset",
    "add_dataset_from_bytes",
    "add_dataset_from_frame",
    "attach",
    "build_ensemble",
    "cancel_job",
    "challenge",
    "choose_model",
    "cluster_info",
    "compare",
    "create_experiment",
    "default_cluster",
    "delete_dataset",
    "delete_ensemble",
    "delete_experiment",
    "delete_model",
    "endpoint_logs",
    "endpoint_predict",
    "evaluate_model",
    "export_model",
    "follow_search",
    "import_model",
    "job_log",
    "leaderboard",
    "list_datasets",
    "list_endpoints",
    "list_ensembles",
    "list_experiments",
    "list_jobs",
    "list_models",
    "list_trials",
    "measure_ensemble",
    "metrics_for",
    "model_families",
    "model_recipe",
    "notebook_job",
    "notebook_parameters",
    "open_workspace",
    "parse_parameters",
    "plot",
    "predict",
    "predict_file",
    "prepare_search",
    "preview_ensemble",
    "profile_dataset",
    "promote",
    "record",
    "recorded",
    "register_model",
    "register_winner",
    "remove_alias",
    "resume_config",
    "retrain",
    "run_notebook",
    "run_search",
    "sample_rows",
    "save_ensemble",
    "search_config",
    "search_events",
    "search_progress",
    "serve",
    "show_dataset",
    "show_endpoint",
    "show_experiment",
    "show_job",
    "show_model",
    "start_cluster",
    "start_endpoint",
    "start_search",
    "stop_endpoint",
    "stop_search",
    "suggest_target",
    "write_flow_notebook",
    "write_report",
    "write_scoring_notebook",
]

# Names load on first use: `import workbench.api` stays fast (the CLI starts in a fraction of a second).
_HOMES = {
    "BatchInputError": "workbench.serve",
    "BatchPrediction": "workbench.serve",
    "Budget": "workbench.store",
    "BuiltEnsemble": "workbench.compare",
    "Challenge": "_retrain",
    "ClusterHandle": "workbench.compute",
    "ClusterInfo": "_clusters",
    "Comparison": "_compare",
    "ContractReport": "workbench.serve",
    "DEFAULT_METRIC": "workbench.metrics",
    "DatasetEntry": "workbench.data",
    "ENGINE_NAMES": "workbench.search",
    "EVENT_KINDS": "workbench.store",
    "Endpoint": "workbench.store",
    "EndpointPrediction": "_endpoints",
    "EnsembleConstraints": "workbench.compare",
    "EnsemblePreview": "workbench.compare",
    "EnsembleRow": "workbench.store",
    "Experiment": "workbench.store",
    "FlowParameters": "_flow",
    "Job": "workbench.store",
    "Leaderboard": "workbench.compare",
    "LeaderboardRow": "workbench.compare",
    "METRICS": "workbench.metrics",
    "ModelScore": "_retrain",
    "NotebookJob": "_notebooks",
    "NotebookParameter": "workbench.jobs",
    "NotebookProgress": "_notebooks",
    "Profile": "workbench.data",
    "Promotion": "_registry",
    "Recipe": "_retrain",
    "RecipeTrial": "_retrain",
    "Retrained": "_retrain",
    "STOP_MODES": "workbench.store",
    "SearchConfig": "workbench.search",
    "SearchEvent": "workbench.store",
    "SearchHandle": "workbench.jobs",
    "SearchProgress": "workbench.store",
    "SearchSummary": "workbench.search",
    "Settings": "workbench.config",
    "SplitSpec": "workbench.data",
    "StopMode": "workbench.store",
    "TrialRow": "workbench.store",
    "VersionInfo": "workbench.registry",
    "WorkbenchError": "workbench.errors",
    "Workspace": "workbench.store",
    "add_dataset": "_datasets",
    "add_dataset_from_bytes": "_datasets",
    "add_dataset_from_frame": "_datasets",
    "attach": "_search",
    "build_ensemble": "_compare",
    "cancel_job": "_jobs",
    "challenge": "_retrain",
    "choose_model": "_flow",
    "cluster_info": "_clusters",
    "compare": "_compare",
    "create_experiment": "_experiments",
    "default_cluster": "_batch",
    "delete_dataset": "_datasets",
    "delete_ensemble": "_compare",
    "delete_experiment": "_experiments",
    "delete_model": "_registry",
    "endpoint_logs": "_endpoints",
    "endpoint_predict": "_endpoints",
    "evaluate_model": "_retrain",
    "export_model": "_registry",
    "follow_search": "_flow",
    "import_model": "_registry",
    "job_log": "_jobs",
    "leaderboard": "_compare",
    "list_datasets": "_datasets",
    "list_endpoints": "_endpoints",
    "list_ensembles": "_compare",
    "list_experiments": "_experiments",
    "list_jobs": "_jobs",
    "list_models": "_registry",
    "list_trials": "_experiments",
    "measure_ensemble": "_compare",
    "metrics_for": "_flow",
    "model_families": "_flow",
    "model_recipe": "_retrain",
    "notebook_job": "_notebooks",
    "notebook_parameters": "_notebooks",
    "open_workspace": "_workspace",
    "parse_parameters": "_notebooks",
    "plot": "_compare",
    "predict": "_registry",
    "predict_file": "_batch",
    "prepare_search": "_search",
    "preview_ensemble": "_compare",
    "profile_dataset": "_datasets",
    "promote": "_registry",
    "record": "_notebooks",
    "recorded": "_notebooks",
    "register_model": "_registry",
    "register_winner": "_registry",
    "remove_alias": "_registry",
    "resume_config": "_search",
    "retrain": "_retrain",
    "run_notebook": "_notebooks",
    "run_search": "_search",
    "sample_rows": "_experiments",
    "save_ensemble": "_compare",
    "search_config": "_search",
    "search_events": "_search",
    "search_progress": "_search",
    "serve": "_endpoints",
    "show_dataset": "_datasets",
    "show_endpoint": "_endpoints",
    "show_experiment": "_experiments",
    "show_job": "_jobs",
    "show_model": "_registry",
    "start_cluster": "_clusters",
    "start_endpoint": "_endpoints",
    "start_search": "_search",
    "stop_endpoint": "_endpoints",
    "stop_search": "_search",
    "suggest_target": "_datasets",
    "write_flow_notebook": "_flow",
    "write_report": "_compare",
    "write_scoring_notebook": "_flow",
}


__getattr__ = lazy_getattr(globals(), _HOMES)


def __dir__() -> list[str]:
    return sorted(__all__)
