"""Background jobs: searches, endpoints and notebooks in processes that outlive their caller.

Every job is a row in the store and a process running `python -m workbench.jobs run ID`, which reads
the job's parameters from the store. Names load on first use, so the job runner of an endpoint imports
neither Dask nor the search engines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench._lazy import lazy_getattr

if TYPE_CHECKING:
    from workbench.jobs._control import cancel_job, get_job, job_log, list_jobs, wait_for_job
    from workbench.jobs._endpoints import (
        endpoint_log,
        get_endpoint,
        list_endpoints,
        start_endpoint,
        stop_endpoint,
    )
    from workbench.jobs._notebook import (
        NotebookParameter,
        check_parameters,
        coerce_parameter_text,
        notebook_parameters,
        start_notebook,
    )
    from workbench.jobs._process import JOB_ENV, current_job_id, spawn_job
    from workbench.jobs._search import SearchHandle, attach, start_search

__all__ = [
    "JOB_ENV",
    "NotebookParameter",
    "SearchHandle",
    "attach",
    "cancel_job",
    "check_parameters",
    "coerce_parameter_text",
    "current_job_id",
    "endpoint_log",
    "get_endpoint",
    "get_job",
    "job_log",
    "list_endpoints",
    "list_jobs",
    "notebook_parameters",
    "spawn_job",
    "start_endpoint",
    "start_notebook",
    "start_search",
    "stop_endpoint",
    "wait_for_job",
]

_HOMES = {
    "cancel_job": "_control",
    "get_job": "_control",
    "job_log": "_control",
    "list_jobs": "_control",
    "wait_for_job": "_control",
    "endpoint_log": "_endpoints",
    "get_endpoint": "_endpoints",
    "list_endpoints": "_endpoints",
    "start_endpoint": "_endpoints",
    "stop_endpoint": "_endpoints",
    "NotebookParameter": "_notebook",
    "check_parameters": "_notebook",
    "coerce_parameter_text": "_notebook",
    "notebook_parameters": "_notebook",
    "start_notebook": "_notebook",
    "JOB_ENV": "_process",
    "current_job_id": "_process",
    "spawn_job": "_process",
    "SearchHandle": "_search",
    "attach": "_search",
    "start_search": "_search",
}


__getattr__ = lazy_getattr(globals(), _HOMES)
