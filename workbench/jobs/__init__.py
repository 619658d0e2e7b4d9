"""Background jobs: searches whose driver outlives the notebook that started them."""

from workbench.jobs._search_jobs import JOB_ENV, SearchHandle, attach, finish_job, start_search

__all__ = ["JOB_ENV", "SearchHandle", "attach", "finish_job", "start_search"]
