"""The documentation: the site builds with no warning, the README is a front page.

``mkdocs build --strict`` turns every warning into an error: a dead link between pages, a
missing anchor, a page left out of the navigation, a snippet (``--8<--``) whose file is
missing, a docstring mkdocstrings cannot render.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SRC = ROOT / "src" / "diffrisk"
README = ROOT / "README.md"

#: Words of development history that user-facing text must not carry.
HISTORY = re.compile(r"\bissues? \d+|\bsessions?\b|\bthe old (rule|model)\b", re.IGNORECASE)
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def _links(text: str) -> list[str]:
    return LINK.findall(text) + re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", text)


def test_the_site_builds_with_no_warning(tmp_path):
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "WARNING" not in output, output
    assert (tmp_path / "index.html").is_file()
    # the headline table is included from the committed file, not copied
    headline = (ROOT / "reports" / "tables" / "headline.md").read_text(encoding="utf-8")
    first_row = next(line for line in headline.splitlines() if line.startswith("| "))
    cells = [c.strip() for c in first_row.strip("|").split("|")]
    page = (tmp_path / "one-day-study.html").read_text(encoding="utf-8")
    assert all(cell in page for cell in cells[:4])


def test_every_subpackage_has_a_reference_page_in_the_navigation():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    nav = yaml.safe_dump(config["nav"])
    modules = sorted(
        p.name.removesuffix(".py")
        for p in SRC.iterdir()
        if (p / "__init__.py").is_file() or (p.suffix == ".py" and p.name != "__init__.py")
    )
    missing = []
    for stem in modules:
        page = DOCS / "reference" / f"{stem}.md"
        if not page.is_file() or f"::: diffrisk.{stem}" not in page.read_text(encoding="utf-8"):
            missing.append(f"{page.relative_to(ROOT)} (::: diffrisk.{stem})")
        elif f"reference/{stem}.md" not in nav:
            missing.append(f"reference/{stem}.md is not in mkdocs.yml's nav")
    assert not missing, missing


def test_pages_carry_no_history_and_link_nowhere_outside():
    problems = []
    for page in sorted(DOCS.rglob("*.md")):
        text = page.read_text(encoding="utf-8")
        problems += [f"{page.name}: {m.group(0)!r}" for m in HISTORY.finditer(text)]
        problems += [f"{page.name}: {t}" for t in _links(text) if "://" in t]
    assert not problems, problems


def test_readme_is_a_front_page():
    text = README.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines (at most 200)"
    first_screen = "\n".join(lines[:50])
    assert "reports/tables/headline.md" in first_screen and "reports/STUDY.md" in first_screen
    for command in ("make repro", "make test"):
        assert command in text
    assert not [m.group(0) for m in HISTORY.finditer(text)]
    targets = _links(text)
    assert targets
    outside = [t for t in targets if "://" in t or t.startswith(("/", "mailto:"))]
    assert not outside, f"links outside the repository: {outside}"
    dead = [t for t in targets if not (ROOT / t.split("#", 1)[0]).exists()]
    assert not dead, f"dead links in README.md: {dead}"
