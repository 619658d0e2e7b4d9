"""`python -m workbench.demo` (what `make demo` runs): the `workbench demo` command."""

from __future__ import annotations

import sys

from workbench.cli import main

if __name__ == "__main__":
    main(["demo", *sys.argv[1:]])
