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


#: What the API reference (rendered from the docstrings) must not say: the project's
#: issue numbers and wording, or the path of the source papers outside the repository.
DOCSTRING_HISTORY = re.compile(r"\bissues? \d+|\bthe issue\b|\bissue's\b|papers/", re.IGNORECASE)


def test_docstrings_carry_no_history():
    """Module, class and function docstrings and ``#:`` comments are the API reference."""
    import ast

    problems = []
    for path in sorted(SRC.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        nodes = ast.walk(ast.parse(text))
        kinds = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
        docs = [ast.get_docstring(n) or "" for n in nodes if isinstance(n, kinds)]
        docs += [line for line in text.splitlines() if line.strip().startswith("#:")]
        problems += [
            f"{path.relative_to(ROOT)}: {m.group(0)!r}"
            for doc in docs
            for m in DOCSTRING_HISTORY.finditer(doc)
        ]
    assert not problems, problems
    assert DOCSTRING_HISTORY.search("the goal of issue 12") and DOCSTRING_HISTORY.search(
        "(the issue's 10 %)"
    )


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


def _minus(x: float, digits: int = 3) -> str:
    """A number as the README prints it (typographic minus)."""
    return f"{x:.{digits}f}".replace("-", "−")


def _verdict_fragments() -> dict[str, str]:
    """The README verdict's numbers, formatted from the committed tables and metrics."""
    import json

    import pandas as pd

    tables, metrics = ROOT / "reports" / "tables", ROOT / "reports" / "metrics"
    dm = pd.read_csv(tables / "diebold_mariano.csv")
    dm = dm[(dm["loss"] == "fz0") & (dm["benchmark"] == "fhs")]
    dm = dm.set_index(["series", "method", "alpha"])
    bt = pd.read_csv(tables / "backtests.csv").set_index(["series", "method", "alpha"])
    wf, esc = dm.loc[("portfolio", "ddpm_wf", 0.05)], dm.loc[("portfolio", "es_caviar", 0.05)]
    sp_esc = dm.loc[("sp500", "es_caviar", 0.05)]
    cell = bt.loc[("sp500", "ddpm_wf", 0.05)]
    scores = pd.read_csv(tables / "stress_scores_summary.csv").set_index(["score", "generator"])
    p_vs = scores.loc[("variogram_score", "normal"), "dm_pvalue"]
    dist = pd.read_csv(tables / "stress_headline.csv").set_index(["generator", "metric"])[
        "distance"
    ]
    sig = pd.read_csv(tables / "stress_signatures.csv")
    steer = sig[~sig["out_of_range"].astype(bool)].groupby("generator")["within_tolerance"]
    hits, n_in = steer.sum(), steer.size()
    rev = pd.read_csv(tables / "reverse_stress_scores.csv").set_index("method")
    first = (rev["rank_1_share"] * rev["requests"]).round().astype(int)
    assert first["normal"] == first["student_t"]  # the README names them together
    mcnemar = rev.loc[["normal", "student_t", "vine_copula"], "mcnemar_p"]
    distill = json.loads((metrics / "distill.json").read_text())["validation"]
    primary = json.loads((metrics / "selection.json").read_text())["scores"]["primary"]
    audit = json.loads((metrics / "stress_adversarial.json").read_text())
    attacked = audit["rates"]["attacked test, relief > 10%"]
    cv = audit["goal"]["false_flags_validation_cv"]
    return {
        "one-day DM": f"({_minus(wf['mean_loss'])} vs {_minus(wf['mean_loss_benchmark'])}, "
        f"DM p = {wf['dm_p']:.3f}; p = {dm.loc[('portfolio', 'ddpm_wf', 0.01), 'dm_p']:.2f} at "
        f"1 %, {dm.loc[('sp500', 'ddpm_wf', 0.05), 'dm_p']:.2f} and "
        f"{dm.loc[('sp500', 'ddpm_wf', 0.01), 'dm_p']:.2f} on the S&P 500)",
        "exceptions": f"({cell['n_exceptions']} exceptions for {cell['n_obs'] * 0.05:.1f} "
        "expected)",
        "ES-CAViaR": f"(FZ0 {_minus(esc['mean_loss'])} vs {_minus(wf['mean_loss'])}; DM p = "
        f"{esc['dm_p']:.3f} against FHS)",
        "ES-CAViaR sp500": f"({_minus(sp_esc['mean_loss'])} vs FHS "
        f"{_minus(sp_esc['mean_loss_benchmark'])}, p = {sp_esc['dm_p']:.2f})",
        "energy DM": "(energy score, DM p = "
        f"{scores.loc[('energy_score', 'gan'), 'dm_pvalue']:.3f})",
        "variogram DM": "(variogram score, p < 0.001)" if p_vs < 0.001 else f"p = {p_vs:.3f}",
        "correlation": f"({dist[('gan', 'corr_frobenius')]:.2f} vs the diffusion model's "
        f"{dist[('diffusion', 'corr_frobenius')]:.2f})",
        "tail dependence": f"({dist[('gan', 'tail_dep_q05')]:.3f} vs "
        f"{dist[('diffusion', 'tail_dep_q05')]:.3f})",
        "|r| ACF": f"({dist[('diffusion', 'acf_abs_distance')]:.3f} vs "
        f"{dist[('gan', 'acf_abs_distance')]:.3f})",
        "steering": f"hits {hits['diffusion']} of {n_in['diffusion']} in-range requested "
        f"components within 10 %, the VAE {hits['vae']} and the GAN {hits['gan']}",
        "reverse stress": f"first in {first['diffusion']} of {rev.loc['diffusion', 'requests']} "
        f"requests, against {first['normal']} for a normal or Student-t worst case and "
        f"{first['vine_copula']} for a vine copula",
        "McNemar": f"(exact McNemar p = {mcnemar.min():.2g})"
        if mcnemar.min() == mcnemar.max()
        else "McNemar p differ: reword the README",
        "one-day student": f"keeps {distill['figures_within']} of {distill['figures']} figures",
        "audit": f"flagged in {attacked['combined'] * 100:.0f} % of cases "
        f"({round(attacked['combined'] * attacked['n'])} of {attacked['n']} on test; goal ≥ 95 %)"
        f" at {audit['goal']['false_flags_test'] * 100:.1f} % false flags on test and "
        f"{cv * 100:.1f} % estimated out of sample on validation"
        f" (goal ≤ 5 %), with thresholds from {audit['n_validation_requests']} validation "
        "requests",
        "combination on validation": f"(FZ0 {_minus(primary['ddpm_mix_fhs'])} vs "
        f"{_minus(primary['ddpm_wf'])})",
    }


def test_readme_verdict_numbers_are_the_committed_tables():
    """The verdict's numbers are typed by hand: each must still be what the tables say."""
    text = README.read_text(encoding="utf-8")
    stale = {k: v for k, v in _verdict_fragments().items() if v not in text}
    assert not stale, f"README numbers that differ from reports/: {stale}"
