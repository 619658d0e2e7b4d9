"""The `workbench` command line, a front end over `workbench.api`."""

from workbench.cli._app import app, main

__all__ = ["app", "main"]
