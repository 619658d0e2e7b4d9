"""The Workbench panel's REST routes on a real Jupyter server (pytest-jupyter's `jp_fetch`): every route
authenticated, XSRF on POSTs, paths confined to the root, bad input answered 4xx with one sentence."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import nbformat
import pytest
import tornado.web
from tornado.httpclient import HTTPResponse

import workbench.api as wb
from workbench.lab._routes import ROUTES, WorkbenchHandler

pytestmark = pytest.mark.slow
API = ("workbench", "api")
# One concrete URL per route pattern (ids that exist in the populated workspace).
SAMPLES = {
    "datasets": "datasets",
    "datasets/(?P<name>[^/]+)/profile": "datasets/penguins/profile",
    "datasets/(?P<name>[^/]+)/notebook": "datasets/penguins/notebook",
    "experiments": "experiments",
    "experiments/(?P<experiment_id>[0-9]{1,12})": "experiments/1",
    "experiments/(?P<experiment_id>[0-9]{1,12})/stop": "experiments/1/stop",
    "experiments/(?P<experiment_id>[0-9]{1,12})/report": "experiments/1/report",
    "models": "models",
    "models/(?P<name>[^/]+)/(?P<version>[0-9]{1,12})/schema": "models/penguins/1/schema",
    "models/(?P<name>[^/]+)/(?P<version>[0-9]{1,12})/promote": "models/penguins/1/promote",
    "models/(?P<name>[^/]+)/(?P<version>[0-9]{1,12})/serve": "models/penguins/1/serve",
    "endpoints": "endpoints",
    "endpoints/(?P<endpoint_id>[0-9]{1,12})/stop": "endpoints/1/stop",
    "endpoints/(?P<endpoint_id>[0-9]{1,12})/log": "endpoints/1/log",
    "endpoints/(?P<endpoint_id>[0-9]{1,12})/schema": "endpoints/1/schema",
    "endpoints/(?P<endpoint_id>[0-9]{1,12})/predict": "endpoints/1/predict",
    "jobs": "jobs",
    "jobs/(?P<job_id>[0-9]{1,12})/cancel": "jobs/1/cancel",
    "jobs/(?P<job_id>[0-9]{1,12})/log": "jobs/1/log",
    "notebooks/parameters": "notebooks/parameters",
    "notebooks/run": "notebooks/run",
    "(?P<rest>.*)": "no/such/route",
}
PENGUIN = {
    "island": "Biscoe",
    "bill_length_mm": 45.2,
    "bill_depth_mm": 15.1,
    "flipper_length_mm": 220.0,
    "body_mass_g": 5300.0,
    "sex": "male",
    "year": 2008,
}


def _registered(app: tornado.web.Application) -> list[tuple[str, type]]:
    """Every (pattern, handler class) the server routes to, from its router tree."""
    found: list[tuple[str, type]] = []

    def walk(rules: Any) -> None:
        for rule in rules:
            target = rule.target
            if hasattr(target, "rules"):
                walk(target.rules)
            elif isinstance(target, type):
                found.append((getattr(rule.matcher, "regex", re.compile("")).pattern, target))

    walk(app.default_router.rules)
    walk(app.wildcard_router.rules)
    return found


async def _call(jp_fetch: Any, route: str, method: str = "GET", body: Any = None, **kwargs: Any) -> HTTPResponse:
    if method == "POST" and body is None:
        body = {}
    data = body if isinstance(body, (str, bytes)) or body is None else json.dumps(body)
    response: HTTPResponse = await jp_fetch(
        *API, *route.split("/"), method=method, body=data, raise_error=False, **kwargs
    )
    return response


def _json(response: HTTPResponse) -> Any:
    return json.loads(response.body)


def _refused(response: HTTPResponse, status: int, words: str = "") -> str:
    assert response.code == status, (response.code, response.body[:500])
    message = _json(response)["message"]
    assert isinstance(message, str) and message and "Traceback" not in message
    assert words.lower() in message.lower(), message
    return message


# --- authentication, XSRF ------------------------------------------------------------------------


def test_every_registered_handler_is_authenticated(jp_serverapp: Any) -> None:
    wrapper_code = tornado.web.authenticated(lambda self: None).__code__
    ours = [(p, h) for p, h in _registered(jp_serverapp.web_app) if h.__module__.startswith("workbench.lab")]
    assert {h for _, h in ours} == {h for _, h in ROUTES}  # every route is installed
    for pattern, handler in ours:
        assert issubclass(handler, WorkbenchHandler)
        methods = [m for m in ("get", "post", "put", "patch", "delete") if m in vars(handler)]
        assert methods, pattern
        for name in methods:
            assert vars(handler)[name].__code__ is wrapper_code, f"{handler.__name__}.{name} is not @authenticated"


async def test_every_route_refuses_requests_without_a_token(jp_fetch: Any) -> None:
    assert set(SAMPLES) == {pattern for pattern, _ in ROUTES}
    for route in SAMPLES.values():
        for method in ("GET", "POST"):
            response = await _call(jp_fetch, route, method, headers={"Authorization": ""})
            assert response.code == 403, (method, route, response.code)
            assert b"penguins" not in response.body


async def test_posts_need_the_xsrf_token_when_the_login_cookie_authenticates(jp_fetch: Any, jp_serverapp: Any) -> None:
    token = jp_serverapp.identity_provider.token
    login = await jp_fetch(
        "lab", params={"token": token}, headers={"Authorization": ""}, follow_redirects=False, raise_error=False
    )
    cookies = SimpleCookie()
    for header in login.headers.get_list("Set-Cookie"):
        cookies.load(header)
    assert "_xsrf" in cookies and any(k.startswith("username-") for k in cookies), login.headers
    cookie = "; ".join(f"{k}={v.value}" for k, v in cookies.items())
    body = {"path": "xsrf-check.ipynb"}
    refused = await _call(
        jp_fetch, "datasets/penguins/notebook", "POST", body, headers={"Authorization": "", "Cookie": cookie}
    )
    assert refused.code == 403
    assert not (Path(jp_serverapp.root_dir) / "xsrf-check.ipynb").exists()
    headers = {"Authorization": "", "Cookie": cookie, "X-XSRFToken": cookies["_xsrf"].value}
    accepted = await _call(jp_fetch, "datasets/penguins/notebook", "POST", body, headers=headers)
    assert accepted.code == 200, accepted.body
    assert (Path(jp_serverapp.root_dir) / "xsrf-check.ipynb").is_file()
    # a GET with the cookie alone is fine: reads need no XSRF token
    listed = await _call(jp_fetch, "datasets", headers={"Authorization": "", "Cookie": cookie})
    assert listed.code == 200


# --- datasets and search notebooks ---------------------------------------------------------------


async def test_datasets_profile_and_a_new_search_notebook(jp_fetch: Any, jp_root_dir: Path) -> None:
    datasets = _json(await _call(jp_fetch, "datasets"))["datasets"]
    penguins = next(d for d in datasets if d["name"] == "penguins")
    assert (penguins["rows"], penguins["target"], penguins["problem_type"]) == (344, "species", "multiclass")
    profile = _json(await _call(jp_fetch, "datasets/penguins/profile"))
    assert profile["rows"] == 344 and {c["name"] for c in profile["column_profiles"]} >= {"island", "sex"}

    first = _json(await _call(jp_fetch, "datasets/penguins/notebook", "POST"))
    second = _json(await _call(jp_fetch, "datasets/penguins/notebook", "POST", {"cluster": "local:1"}))
    assert (first["path"], second["path"]) == ("search-penguins.ipynb", "search-penguins-2.ipynb")
    notebook = nbformat.read(jp_root_dir / "search-penguins-2.ipynb", as_version=4)
    parameters = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
    assert 'dataset = "penguins"' in parameters.source.replace("'", '"') and "local:1" in parameters.source
    assert any("wbw.Workbench(" in c.source for c in notebook.cells)
    (jp_root_dir / "work").mkdir()
    named = _json(await _call(jp_fetch, "datasets/penguins/notebook", "POST", {"path": "work/mine.ipynb"}))
    assert named["path"] == "work/mine.ipynb" and (jp_root_dir / "work" / "mine.ipynb").is_file()
    _refused(await _call(jp_fetch, "datasets/penguins/notebook", "POST", {"path": "work/mine.ipynb"}), 400, "exists")


async def test_notebook_paths_stay_inside_the_root(jp_fetch: Any, jp_root_dir: Path) -> None:
    outside = jp_root_dir.parent / "outside.ipynb"
    for path in ("../outside.ipynb", "work/../../outside.ipynb", "..\\outside.ipynb"):
        _refused(await _call(jp_fetch, "datasets/penguins/notebook", "POST", {"path": path}), 403, "root")
        _refused(await _call(jp_fetch, "notebooks/parameters", params={"path": path}), 403, "root")
        _refused(await _call(jp_fetch, "notebooks/run", "POST", {"path": path}), 403, "root")
    assert not outside.exists()
    (jp_root_dir / "link").symlink_to(jp_root_dir.parent)
    _refused(await _call(jp_fetch, "datasets/penguins/notebook", "POST", {"path": "link/outside.ipynb"}), 403, "root")
    assert not outside.exists()
    # an absolute path is read as relative to the root, never as the machine's
    _refused(await _call(jp_fetch, "notebooks/parameters", params={"path": "/etc/passwd.ipynb"}), 404, "no notebook")
    _refused(await _call(jp_fetch, "notebooks/parameters", params={"path": "notes.txt"}), 400, ".ipynb")
    _refused(await _call(jp_fetch, "datasets", params={"workspace": str(jp_root_dir.parent.parent)}), 403, "outside")


async def test_bad_input_gets_a_4xx_with_one_sentence(jp_fetch: Any) -> None:
    _refused(await _call(jp_fetch, "datasets/no-such-table/profile"), 404, "no-such-table")
    _refused(await _call(jp_fetch, "datasets/no-such-table/notebook", "POST"), 404, "no-such-table")
    _refused(await _call(jp_fetch, "datasets/penguins/notebook", "POST", "{not json"), 400, "not JSON")
    _refused(await _call(jp_fetch, "datasets/penguins/notebook", "POST", "[1, 2]"), 400, "object")
    _refused(await _call(jp_fetch, "datasets/penguins/notebook", "POST", {"path": 7}), 400, "string")
    _refused(await _call(jp_fetch, "experiments/999"), 404, "999")
    _refused(await _call(jp_fetch, "experiments/1/stop", "POST", {"mode": "now"}), 400, "finish or cancel")
    _refused(await _call(jp_fetch, "models/nobody/1/schema"), 404, "nobody")
    _refused(await _call(jp_fetch, "models/penguins/99/promote", "POST"), 404, "99")
    _refused(await _call(jp_fetch, "endpoints/999/log"), 404, "999")
    _refused(await _call(jp_fetch, "endpoints/1/predict", "POST", {"rows": "all"}), 400, "rows")
    _refused(await _call(jp_fetch, "jobs/1/log", params={"tail": "ten"}), 400, "tail")
    _refused(await _call(jp_fetch, "jobs/1/cancel", "POST"), 409, "already ended")
    _refused(await _call(jp_fetch, "no/such/route"), 404, "no/such/route")
    _refused(await _call(jp_fetch, "datasets/penguins/notebook", "POST", "x" * (1024 * 1024 + 1)), 413, "1 MB")
    message = _refused(await _call(jp_fetch, "datasets/<script>/profile"), 404)
    assert "<script>" in message  # JSON text, never HTML: the panel renders it as text


# --- experiments, models, endpoints, jobs --------------------------------------------------------


async def test_experiments_with_progress_and_the_report(jp_fetch: Any) -> None:
    experiments = _json(await _call(jp_fetch, "experiments"))["experiments"]
    assert [e["id"] for e in experiments] == [1]
    progress = experiments[0]["progress"]
    assert (progress["done"], progress["target"], progress["status"]) == (3, 3, "finished")
    assert progress["best_name"].startswith("optuna-")
    one = _json(await _call(jp_fetch, "experiments/1"))
    assert one["progress"]["job_status"] == "finished"
    after = _json(await _call(jp_fetch, "experiments/1/stop", "POST", {"mode": "cancel"}))
    assert after["status"] == "finished" and after["progress"]["job_status"] == "finished"  # an ended search stays
    report = await _call(jp_fetch, "experiments/1/report")
    assert report.code == 200 and report.headers["Content-Type"].startswith("text/html")
    assert "sandbox" in report.headers["Content-Security-Policy"]
    assert b"optuna-0-linear" in report.body


@pytest.fixture
def endpoint_cleanup(populated_home: Path) -> Iterator[None]:
    yield
    for endpoint in wb.list_endpoints(workspace=populated_home):
        if endpoint.status in ("starting", "ready"):
            wb.stop_endpoint(endpoint.id, workspace=populated_home)


async def test_promote_serve_try_and_stop_a_model(jp_fetch: Any, endpoint_cleanup: None) -> None:
    models = _json(await _call(jp_fetch, "models"))["models"]
    assert [m["ref"] for m in models] == ["penguins@1"]
    schema = _json(await _call(jp_fetch, "models/penguins/1/schema"))
    island = next(c for c in schema["columns"] if c["name"] == "island")
    assert island["kind"] == "categorical" and island["categories"] == ["Biscoe", "Dream", "Torgersen"]

    promotion = _json(await _call(jp_fetch, "models/penguins/1/promote", "POST", {"alias": "production"}))
    assert promotion["contract"]["passed"] is True and "production" in promotion["version"]["aliases"]
    endpoint = _json(await _call(jp_fetch, "models/penguins/1/serve", "POST"))["endpoint"]
    assert endpoint["status"] == "ready" and endpoint["url"].startswith("http://127.0.0.1:")
    eid = endpoint["id"]

    assert _json(await _call(jp_fetch, f"endpoints/{eid}/schema")) == schema
    answer = _json(await _call(jp_fetch, f"endpoints/{eid}/predict", "POST", {"rows": [PENGUIN]}))
    assert answer["predictions"] == wb.predict("penguins@1", [PENGUIN]).tolist()
    assert answer["classes"] == ["Adelie", "Chinstrap", "Gentoo"] and abs(sum(answer["probabilities"][0]) - 1) < 1e-6
    refused = _refused(await _call(jp_fetch, f"endpoints/{eid}/predict", "POST", {"rows": [{"island": "Biscoe"}]}), 400)
    assert "bill_" in refused or "column" in refused

    listed = next(e for e in _json(await _call(jp_fetch, "endpoints"))["endpoints"] if e["id"] == eid)
    assert listed["metrics"] == {"requests": 2, "errors": 1}
    log = _json(await _call(jp_fetch, f"endpoints/{eid}/log", params={"tail": "50"}))["log"]
    assert "predict" in log or "Uvicorn" in log or "ready" in log
    stopped = _json(await _call(jp_fetch, f"endpoints/{eid}/stop", "POST"))["endpoint"]
    assert stopped["status"] == "stopped"
    _refused(await _call(jp_fetch, f"endpoints/{eid}/predict", "POST", {"rows": [PENGUIN]}), 400, "stopped")


async def test_jobs_and_a_notebook_run_as_a_batch_job(jp_fetch: Any, jp_root_dir: Path) -> None:
    source = "x = 1  # how many\nlabel = 'a'\n"
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(source, metadata={"tags": ["parameters"]}),
            nbformat.v4.new_code_cell("import workbench.api as wb\nwb.record('x', x * 2)\nwb.record('label', label)"),
        ],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )
    (jp_root_dir / "nb").mkdir()
    nbformat.write(notebook, jp_root_dir / "nb" / "double.ipynb")
    parameters = _json(await _call(jp_fetch, "notebooks/parameters", params={"path": "nb/double.ipynb"}))
    assert [(p["name"], p["type"], p["default"]) for p in parameters["parameters"]] == [
        ("x", "int", "1"),
        ("label", "str", "'a'"),
    ]
    _refused(
        await _call(jp_fetch, "notebooks/run", "POST", {"path": "nb/double.ipynb", "parameters": {"y": 1}}), 400, "y"
    )
    job = _json(await _call(jp_fetch, "notebooks/run", "POST", {"path": "nb/double.ipynb", "parameters": {"x": 21}}))[
        "job"
    ]
    assert job["kind"] == "notebook" and job["title"] == "notebook double.ipynb"
    deadline = time.monotonic() + 180
    while True:
        jobs = _json(await _call(jp_fetch, "jobs"))["jobs"]
        ran = next(j for j in jobs if j["id"] == job["id"])
        if ran["status"] not in ("starting", "running") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert ran["status"] == "finished", ran
    assert ran["outputs"]["values"] == {"x": 42, "label": "a"}
    assert (
        re.fullmatch(r"nb/double-run-\d{8}-\d{6}\.ipynb", ran["lab_path"]) and (jp_root_dir / ran["lab_path"]).is_file()
    )
    assert jobs[0]["id"] == job["id"]  # newest first
    search = next(j for j in jobs if j["kind"] == "search")
    assert search["title"] == "search of experiment 1 (optuna)" and search["lab_path"] is None
    log = _json(await _call(jp_fetch, f"jobs/{job['id']}/log"))["log"]
    assert "double.ipynb" in log
