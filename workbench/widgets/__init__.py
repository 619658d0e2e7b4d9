"""The notebook workbench: ipywidgets that take a data scientist from a dataset to a served endpoint.

>>> import workbench.widgets as wbw
>>> wbw.Workbench("penguins", n_trials=6)     # the whole flow as tabs            # doctest: +SKIP
>>> wbw.Monitor(3)                            # re-attach to experiment 3's search # doctest: +SKIP
>>> job = wbw.NotebookJobStatus(); job.follow(wb.notebook_job(7)); job  # a notebook job, live  # doctest: +SKIP

Every action calls `workbench.api`; long work runs in threads, so the display stays live while the kernel
runs other cells. Headless (papermill, `nbconvert --execute`), the same calls print plain text.
"""

from workbench.widgets._app import Workbench
from workbench.widgets._compare import CompareStep
from workbench.widgets._dataset import DatasetStep
from workbench.widgets._ensemble import EnsembleEditor
from workbench.widgets._export import ExportStep
from workbench.widgets._frontend import ThemeProbe, headless
from workbench.widgets._jobs import NotebookJobStatus
from workbench.widgets._monitor import Monitor
from workbench.widgets._search import SearchStep

__all__ = [
    "CompareStep",
    "DatasetStep",
    "EnsembleEditor",
    "ExportStep",
    "Monitor",
    "NotebookJobStatus",
    "SearchStep",
    "ThemeProbe",
    "Workbench",
    "headless",
]
