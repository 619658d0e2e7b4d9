"""The main job, run by `make demo`: for now, profile a bundled dataset and print the profile.

Later steps (search, compare, export, serve) are added here as they land.
"""

from __future__ import annotations

import sys

from rich.console import Console

from workbench._render import render_profile
from workbench.errors import WorkbenchError
from workbench.store import Workspace

DEFAULT_DATASET = "penguins"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    dataset = args[0] if args else DEFAULT_DATASET
    console = Console()
    try:
        with Workspace() as workspace:
            console.rule(f"[bold]workbench demo: {dataset}")
            render_profile(console, workspace.profile(dataset))
    except WorkbenchError as exc:
        Console(stderr=True, soft_wrap=True).print(f"[bold red]Error:[/] {exc.message}", highlight=False)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
