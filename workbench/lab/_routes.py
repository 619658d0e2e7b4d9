"""The REST routes of the Workbench panel (docs/lab-rest-api.md), each a thin wrapper over `workbench.api`.

Every handler is `@tornado.web.authenticated`; POSTs pass Jupyter's XSRF check (APIHandler does it);
`workbench.api` runs in threads, never on the event loop. A `WorkbenchError` becomes a 4xx with its one
sentence; the API decides everything else.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

import workbench.api as wb
from workbench._json import to_jsonable
from workbench.errors import InvalidInputError, NotFoundError, UnsafePathError, WorkbenchError
from workbench.lab._context import LabContext

__all__ = ["ROUTES", "install_routes"]

T = TypeVar("T")
MAX_BODY_BYTES = 1024 * 1024  # a Try-it row or a notebook's parameters: far less than this


def refuse(status: int, message: str) -> tornado.web.HTTPError:
    """A 4xx whose JSON body is `{"message": message}` (the text is never used as a format string)."""
    error = tornado.web.HTTPError(status, message.replace("%", "%%"))
    error.workbench_message = message  # type: ignore[attr-defined]
    return error


def _status(error: WorkbenchError) -> int:
    if isinstance(error, UnsafePathError):
        return 403
    if isinstance(error, NotFoundError):
        return 404
    if isinstance(error, InvalidInputError):
        return 400
    return 409  # the thing exists but its state refuses the action (a failed contract, an ended job)


class WorkbenchHandler(APIHandler):
    """JSON in, JSON out; `workbench.api` called in the extension's threads."""

    @property
    def context(self) -> LabContext:
        context: LabContext = self.settings["workbench_lab"]
        return context

    @property
    def workspace(self) -> wb.Workspace:
        return self.context.workspace(self.get_query_argument("workspace", None))

    async def call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking API call in a thread; a user mistake becomes a 4xx with its sentence."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self.context.executor, partial(function, *args, **kwargs))
        except WorkbenchError as error:
            raise refuse(_status(error), error.message) from None

    async def workspace_call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`call` with the request's workspace (resolved in the thread too: opening it touches the disk)."""

        def run() -> T:
            return function(*args, workspace=self.workspace, **kwargs)

        return await self.call(run)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None))[1]
        message = getattr(error, "workbench_message", None)
        if message is None:
            super().write_error(status_code, **kwargs)
            return
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message}))

    def body(self) -> dict[str, Any]:
        raw = self.request.body or b"{}"
        if len(raw) > MAX_BODY_BYTES:
            raise refuse(413, "The request body is over 1 MB; send one row at a time.")
        try:
            data = json.loads(raw)
        except ValueError:
            raise refuse(400, "The request body is not JSON; send a JSON object.") from None
        if not isinstance(data, dict):
            raise refuse(400, "The request body must be a JSON object.")
        return data

    def reply(self, data: Any) -> None:
        self.finish(json.dumps(to_jsonable(data), allow_nan=False, default=str))


def _text(body: dict[str, Any], key: str, default: str | None = None) -> str | None:
    value = body.get(key, default)
    if value is not None and not isinstance(value, str):
        raise refuse(400, f"{key!r} must be a string.")
    return value


# --- datasets ------------------------------------------------------------------------------------


class DatasetsHandler(WorkbenchHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        datasets = await self.workspace_call(wb.list_datasets)
        self.reply({"datasets": [d.to_dict() for d in datasets]})


class DatasetProfileHandler(WorkbenchHandler):
    @tornado.web.authenticated
    async def get(self, name: str) -> None:
        profile = await self.workspace_call(wb.profile_dataset, name)
        self.reply(profile.to_dict())


class DatasetNotebookHandler(WorkbenchHandler):
    @tornado.web.authenticated
    async def post(self, name: str) -> None:
        body = self.body()
        requested = _text(body, "path")
        target = (
            await self.call(self.context.local_path, requested, suffix=".ipynb") if requested else self.context.root
        )
        cluster = _text(body, "cluster") or "local:2"
        path = await self.workspace_call(wb.write_search_notebook, name, target, cluster=cluster)
        self.reply({"path": self.context.lab_path(path)})


# --- experiments ---------------------------------------------------------------------------------


def _experiment_item(experiment: wb.Experiment, workspace: wb.Workspace) -> dict[str, Any]:
    item = experiment.to_dict()
    try:
        item["progress"] = wb.search_progress(experiment.id, workspace=workspace).to_dict()
    except NotFoundError:  # created, never searched
        item["progress"] = None
    return item


def _experiments(workspace: wb.Workspace) -> list[dict[str, Any]]:
    return [_experiment_item(e, workspace) for e in reversed(wb.list_experiments(workspace=workspace))]


def _experiment(experiment_id: int, workspace: wb.Workspace) -> dict[str, Any]:
    return _experiment_item(wb.show_experiment(experiment_id, workspace=workspace), workspace)


def _stop(experiment_id: int, mode: wb.StopMode, workspace: wb.Workspace) -> dict[str, Any]:
    wb.stop_search(experiment_id, mode, workspace=workspace)
    return _experiment(experiment_id, workspace)


def _report(experiment_id: int, workspace: wb.Workspace) -> str:
    with tempfile.TemporaryDirectory(prefix="workbench-report-") as folder:
        path = wb.write_report(experiment_id, Path(folder) / "report.html", workspace=workspace)
        return path.read_text(encoding="utf-8")


class ExperimentsHandler(WorkbenchHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        self.reply({"experiments": await self.workspace_call(_experiments)})


class ExperimentHandler(WorkbenchHandler):
    @tornado.web.authenticated
    async def get(self, experiment_id: str) -> None:
        self.reply(await self.workspace_call(_experiment, int(experiment_id)))


class ExperimentStopHandler(WorkbenchHandler):
    @tornado.web.authenticated
    async def post(self, experiment_id: str) -> None:
        mode = _text(self.body(), "mode", "finish")
        if mode not in wb.STOP_MODES:
            raise refuse(400, f"The stop mode {mode!r} is unknown; use finish or cancel.")
        self.reply(await self.workspace_call(_stop, int(experiment_id), mode))


class ExperimentReportHandler(WorkbenchHandler):
    @tornado.web.authenticated
    async def get(self, experiment_id: str) -> None:
        html = await self.workspace_call(_report, int(experiment_id))
        # The report's scripts run in an opaque origin: they cannot reach Jupyter's API with its cookies.
        self.set_header("Content-Security-Policy", "sandbox allow-scripts; frame-ancestors 'self'")
        self.finish(html, set_content_type="text/html; charset=utf-8")


# --- models --------------------------------------------------------------------------------------


def _ref(name: str, version: str) -> str:
    return f"{name}@{int(version)}"


def _promote(name: str, version: int, alias: str, workspace: wb.Workspace) -> dict[str, Any]:
    return wb.promote(name, version, alias, workspace=workspace).to_dict()


def _serve(ref: str, workspace: wb.Workspace) -> dict[str, Any]:
    return {"endpoint": wb.start_endpoint(ref, workspace=workspace).to_dict()}


class ModelsHandler(WorkbenchHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        models = await self.workspace_call(wb.list_models)
        self.reply({"models": [m.to_dict() for m in models]})


class ModelSchemaHandler(WorkbenchHandler):
    @tornado.web.authenticated
    async def get(self, name: str, version: str) -> None:
        schema = await self.workspace_call(wb.model_schema, _ref(name, version))
        self.reply(schema.to_dict())


class ModelPromoteHandler(WorkbenchHandler):
    @tornado.web.authenticated
    async def post(self, name: str, version: str) -> None:
        alias = _text(self.body(), "alias", "production") or "production"
        self.reply(await self.workspace_call(_promote, name, int(version), alias))


class ModelServeHandler(WorkbenchHandler):
    @tornado.web.authenticated
    async def post(self, name: str, version: str) -> None:
        self.body()
        self.reply(await self.workspace_call(_serve, _ref(name, version)))


# --- endpoints -----------------------------------------------------------------------------------


def _endpoints(workspace: wb.Workspace) -> list[dict[str, Any]]:
    items = []
    for endpoint in reversed(wb.list_endpoints(workspace=workspace)):
        metrics = wb.endpoint_metrics(endpoint.id, workspace=workspace) if endpoint.status == "ready" else None
        items.append({**endpoint.to_dict(), "metrics": metrics.to_dict() if metrics else None})
    return items


def _predict(endpoint_id: int, rows: list[dict[str, Any]], workspace: wb.Workspace) -> dict[str, Any]:
    return wb.endpoint_predict(endpoint_id, rows, workspace=workspace).to_dict()


class EndpointsHandler(WorkbenchHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        self.reply({"endpoints": await self.workspace_call(_endpoints)})


class EndpointStopHandler(WorkbenchHandler):
    @tornado.web.authenticated
    async def post(self, endpoint_id: str) -> None:
        self.body()
        endpoint = await self.workspace_call(wb.stop_endpoint, int(endpoint_id))
        self.reply({"endpoint": endpoint.to_dict()})


class EndpointLogHandler(WorkbenchHandler):
    @tornado.web.authenticated
    async def get(self, endpoint_id: str) -> None:
        tail = _tail(self.get_query_argument("tail", "200"))
        self.reply({"log": await self.workspace_call(wb.endpoint_logs, int(endpoint_id), tail)})


class EndpointSchemaHandler(WorkbenchHandler):
    @tornado.web.authenticated
    async def get(self, endpoint_id: str) -> None:
        schema = await self.workspace_call(wb.endpoint_schema, int(endpoint_id))
        self.reply(schema.to_dict())


class EndpointPredictHandler(WorkbenchHandler):
    @tornado.web.authenticated
    async def post(self, endpoint_id: str) -> None:
        rows = self.body().get("rows")
        if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
            raise refuse(400, 'Send {"rows": [{"column": value, ...}]} with at least one row.')
        self.reply(await self.workspace_call(_predict, int(endpoint_id), rows))


def _tail(raw: str) -> int | None:
    if raw in ("", "all"):
        return None
    if not raw.isdigit():
        raise refuse(400, f"tail={raw!r} is not a number of lines.")
    return int(raw)


# --- jobs and notebooks --------------------------------------------------------------------------


def _job_item(job: wb.Job, context: LabContext) -> dict[str, Any]:
    output = job.outputs.get("notebook") if job.kind == "notebook" else None
    return {**job.to_dict(), "title": wb.job_title(job), "lab_path": context.lab_path(output)}


def _jobs(context: LabContext, workspace: wb.Workspace) -> list[dict[str, Any]]:
    return [_job_item(job, context) for job in reversed(wb.list_jobs(workspace=workspace))]


def _cancel(job_id: int, context: LabContext, workspace: wb.Workspace) -> dict[str, Any]:
    job = wb.show_job(job_id, workspace=workspace)
    if not job.active:
        raise WorkbenchError(f"Job {job_id} has already ended ({job.status}); there is nothing to cancel.")
    return {"job": _job_item(wb.cancel_job(job_id, workspace=workspace), context)}


def _parameters(path: Path, lab_path: str) -> dict[str, Any]:
    return {"path": lab_path, "parameters": [p.to_dict() for p in wb.notebook_parameters(path)]}


def _run(
    path: Path, parameters: dict[str, Any], cluster: str | None, context: LabContext, workspace: wb.Workspace
) -> dict[str, Any]:
    output = path.with_name(f"{path.stem}-run-{time.strftime('%Y%m%d-%H%M%S')}.ipynb")
    run = wb.run_notebook(path, parameters, output=output, cluster=cluster, workspace=workspace)
    return {"job": _job_item(run.job(), context)}


class JobsHandler(WorkbenchHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        self.reply({"jobs": await self.workspace_call(_jobs, self.context)})


class JobCancelHandler(WorkbenchHandler):
    @tornado.web.authenticated
    async def post(self, job_id: str) -> None:
        self.body()
        self.reply(await self.workspace_call(_cancel, int(job_id), self.context))


class JobLogHandler(WorkbenchHandler):
    @tornado.web.authenticated
    async def get(self, job_id: str) -> None:
        tail = _tail(self.get_query_argument("tail", "200"))
        self.reply({"log": await self.workspace_call(wb.job_log, int(job_id), tail)})


class NotebookParametersHandler(WorkbenchHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        relative = self.get_query_argument("path", "")
        path = await self.call(self.context.local_path, relative, suffix=".ipynb")
        self.reply(await self.call(_parameters, path, self.context.lab_path(path) or relative))


class NotebookRunHandler(WorkbenchHandler):
    @tornado.web.authenticated
    async def post(self) -> None:
        body = self.body()
        path = await self.call(self.context.local_path, _text(body, "path") or "", suffix=".ipynb")
        parameters = body.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise refuse(400, '"parameters" must be a JSON object of name: value.')
        cluster = _text(body, "cluster") or None
        self.reply(await self.workspace_call(_run, path, parameters, cluster, self.context))


class NotFoundHandler(WorkbenchHandler):
    """Anything else under workbench/api/: a JSON 404, not Tornado's HTML page."""

    @tornado.web.authenticated
    async def get(self, rest: str) -> None:
        raise refuse(404, f"There is no Workbench route {rest!r}; see docs/lab-rest-api.md.")

    @tornado.web.authenticated
    async def post(self, rest: str) -> None:
        raise refuse(404, f"There is no Workbench route {rest!r}; see docs/lab-rest-api.md.")


_NAME = r"(?P<name>[^/]+)"
_ID = r"(?P<{}>[0-9]{{1,12}})"
ROUTES: list[tuple[str, type[WorkbenchHandler]]] = [
    ("datasets", DatasetsHandler),
    (f"datasets/{_NAME}/profile", DatasetProfileHandler),
    (f"datasets/{_NAME}/notebook", DatasetNotebookHandler),
    ("experiments", ExperimentsHandler),
    (f"experiments/{_ID.format('experiment_id')}", ExperimentHandler),
    (f"experiments/{_ID.format('experiment_id')}/stop", ExperimentStopHandler),
    (f"experiments/{_ID.format('experiment_id')}/report", ExperimentReportHandler),
    ("models", ModelsHandler),
    (f"models/{_NAME}/{_ID.format('version')}/schema", ModelSchemaHandler),
    (f"models/{_NAME}/{_ID.format('version')}/promote", ModelPromoteHandler),
    (f"models/{_NAME}/{_ID.format('version')}/serve", ModelServeHandler),
    ("endpoints", EndpointsHandler),
    (f"endpoints/{_ID.format('endpoint_id')}/stop", EndpointStopHandler),
    (f"endpoints/{_ID.format('endpoint_id')}/log", EndpointLogHandler),
    (f"endpoints/{_ID.format('endpoint_id')}/schema", EndpointSchemaHandler),
    (f"endpoints/{_ID.format('endpoint_id')}/predict", EndpointPredictHandler),
    ("jobs", JobsHandler),
    (f"jobs/{_ID.format('job_id')}/cancel", JobCancelHandler),
    (f"jobs/{_ID.format('job_id')}/log", JobLogHandler),
    ("notebooks/parameters", NotebookParametersHandler),
    ("notebooks/run", NotebookRunHandler),
    ("(?P<rest>.*)", NotFoundHandler),
]


def install_routes(serverapp: Any) -> None:
    web_app = serverapp.web_app
    web_app.settings["workbench_lab"] = LabContext.for_server(serverapp.root_dir)
    base = url_path_join(web_app.settings["base_url"], "workbench", "api")
    web_app.add_handlers(".*$", [(url_path_join(base, pattern) + "/?$", handler) for pattern, handler in ROUTES])
