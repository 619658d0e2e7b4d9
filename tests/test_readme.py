"""The README's Python section runs as written, from a fresh workspace."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


def python_section() -> str:
    readme = (REPO / "README.md").read_text()
    section = readme.split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert blocks, "the README's Python section has no python block"
    return blocks[0]


def test_the_readme_python_section_runs_as_written(tmp_path: Path) -> None:
    code = python_section()
    lines = [line for line in code.splitlines() if line.strip()]
    assert len(lines) <= 25 and "import workbench.api as wb" in code
    assert not re.search(r"from workbench\.(?!api)|import workbench\.(?!api)", code)  # the public API only
    env = {**os.environ, "WORKBENCH_HOME": str(tmp_path / "home"), "WORKBENCH_GPUS": "none"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    printed = done.stdout.strip().splitlines()
    assert printed, "the section prints nothing"
    assert any(label in printed[-1] for label in ("Adelie", "Chinstrap", "Gentoo"))  # the endpoint's answer
