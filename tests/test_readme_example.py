"""The README's library example runs, and the README shows exactly that code.

The example lives in ``examples/library_example.py``; the README carries the same code in
a ```python block right after the marker ``<!-- library-example -->``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "library_example.py"
MARKER = "<!-- library-example -->"


def example_code() -> str:
    """The example without its module docstring (what the README shows)."""
    text = EXAMPLE.read_text()
    return re.sub(r'^""".*?"""\n+', "", text, count=1, flags=re.S).strip()


def test_readme_block_is_the_example():
    readme = (ROOT / "README.md").read_text()
    if MARKER not in readme:
        pytest.skip(f"README.md has no {MARKER} marker yet")
    block = re.search(re.escape(MARKER) + r"\s*```python\n(.*?)```", readme, flags=re.S)
    assert block, f"no ```python block after {MARKER} in README.md"
    assert block.group(1).strip() == example_code()


@pytest.mark.slow
def test_library_example_runs():
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    # the backtest table: 2 series x 2 methods x 2 alphas
    rows = [ln for ln in lines if re.match(r"^\d+\s+(portfolio|spx)\s+(ddpm|fhs)\s+0\.0[15]\s", ln)]
    assert len(rows) == 8, proc.stdout
    # tomorrow = the business day after the last row (Fri 2018-06-29), a loss at 99 %
    tomorrow = [ln.split() for ln in lines if "2018-07-02" in ln]
    assert [t[2] for t in tomorrow] == ["portfolio", "spx"], proc.stdout
    for t in tomorrow:
        var01, cvar01 = float(t[3]), float(t[4])
        assert cvar01 < var01 < 0
