"""Tests of diffrisk.reporting.headline_text: the verdict sentences follow the numbers."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from diffrisk.evaluation.ensemble import ENSEMBLE_COLUMNS
from diffrisk.reporting.headline_text import (
    ensemble_paragraph,
    family_sentence,
    goal_paragraph,
    goal_statement,
    methods_paragraph,
    pit_sentence,
    simulation_paragraph,
)
from diffrisk.study.simulation_scoring import SUMMARY_COLUMNS
from tests.reporting.conftest import designed_headline as headline


def test_goal_met_says_so_and_names_the_primary_method():
    text = goal_paragraph(headline(), "ddpm_ens", "fhs")
    assert text.startswith(goal_statement("fhs", ["portfolio", "sp500"], "Feb–Apr 2020"))
    assert "beat fhs on mean FZ0 at 5% and 1% on portfolio and sp500" in text
    assert "no red traffic-light window and at most 3 exceptions at 1% in Feb–Apr 2020" in text
    assert "The primary method, `ddpm_ens` (chosen on the validation period" in text
    assert text.endswith("meets it.")
    assert "not" not in text.split("The primary method", 1)[1]


def test_goal_not_met_lists_every_shortfall_with_its_number():
    frame = headline(
        {
            ("sp500", 0.01, "ddpm_ens"): {
                "kupiec_p": 0.0055,
                "christoffersen_cc_p": 0.014,
                "as_z2_p": 0.0004,
                "tl_red": 76,
                "crash_exceptions": 5.0,
            },
            ("portfolio", 0.05, "ddpm_ens"): {"fz0_diff": 0.0021},
        }
    )
    text = goal_paragraph(frame, "ddpm_ens", "fhs")
    assert "does **not** meet it" in text
    assert "portfolio at α = 5%: mean FZ0 not below fhs's (difference +0.0021)" in text
    assert (
        "sp500 at α = 1%: Kupiec p = 0.005; Christoffersen conditional coverage p = 0.014; "
        "Acerbi–Szekely Z2 p < 0.001; 76 red traffic-light windows; 5 exceptions in Feb–Apr 2020"
    ) in text
    # nothing is said about cells that meet the goal
    assert "sp500 at α = 5%" not in text and "portfolio at α = 1%" not in text


def test_goal_that_cannot_be_checked_is_not_called_met():
    frame = headline().assign(crash_exceptions=math.nan)
    text = goal_paragraph(frame, "ddpm_ens", "fhs")
    assert "meets every criterion that could be checked, but not all could be" in text
    assert "Not checkable (no data): crash_exceptions." in text


def test_methods_paragraph_counts_unmet_criteria():
    text = methods_paragraph(headline(), "fhs")
    # fhs: Kupiec fails in all 4 cells; its FZ0 criterion does not apply (4 cells)
    assert "`ddpm_ens` 0 of 22; `fhs` 4 of 18." in text
    assert "Methods that meet every criterion: `ddpm_ens`. Family-wise:" in text


def test_family_sentence_counts_chance_failures_and_holm():
    # fhs: Kupiec p = 0.01 in 4 cells of 14 tests (2 series x 2 alphas x 3 + 2 PIT)
    text = methods_paragraph(headline(), "fhs")
    assert "`fhs` 4 of 14 rejected (a correct model: 0.7 expected, 0–3), after Holm none" in text
    assert "`ddpm_ens` 0 of 14 rejected" in text
    # 0.001 x 14 = 0.014 < 0.05: Holm still rejects that one test, and only it
    frame = headline({("sp500", 0.05, "fhs"): {"kupiec_p": 0.001}})
    text = family_sentence(frame)
    assert (
        "`fhs` 4 of 14 rejected (a correct model: 0.7 expected, 0–3), after Holm kupiec (sp500 5%)."
        in text
    )


def test_pit_sentence_splits_rejected_and_not():
    frame = headline({(s, a, "fhs"): {"pit_ks_p": 0.011} for s in ("sp500",) for a in (0.05, 0.01)})
    text = pit_sentence(frame)
    assert text == (
        "Uniformity of the PIT (Kolmogorov–Smirnov at the 5% level): on portfolio rejected "
        "for none, not rejected for `ddpm_ens` and `fhs`; on sp500 rejected for `fhs`, not "
        "rejected for `ddpm_ens`."
    )


def _ensemble_row(**values) -> dict:
    base = dict.fromkeys(ENSEMBLE_COLUMNS, math.nan)
    base.update(series="sp500", alpha=0.01, n_members=4, n_obs=1006, n_exceptions=18)
    base.update(values)
    return base


def test_ensemble_paragraph_follows_the_numbers():
    frame = pd.DataFrame(
        [
            _ensemble_row(
                fz0_member_mean=-3.15,
                fz0_member_sd=0.02,
                fz0_member_min=-3.17,
                fz0_pooled=-3.18,
                logit_slope=0.8,
                logit_p=0.001,
                mw_p=0.01,
            ),
            _ensemble_row(
                alpha=0.05,
                fz0_member_mean=-3.55,
                fz0_member_sd=0.01,
                fz0_member_min=-3.57,
                fz0_pooled=-3.54,
                logit_slope=-0.1,
                logit_p=0.6,
                mw_p=0.7,
            ),
        ]
    )
    text = ensemble_paragraph(frame)
    assert (
        "sp500 at α = 1%: members' mean FZ0 -3.1500 ± 0.0200 (sd over 4 members), pooled "
        "-3.1800, lower than every member's; disagreement vs exceptions: logit slope +0.80 per "
        "sd, p = 0.001, Mann–Whitney p = 0.010 — evidence at the 5% level"
    ) in text
    assert "pooled -3.5400, not below the members' mean" in text
    assert "p = 0.700 — no evidence at the 5% level" in text
    no_tests = ensemble_paragraph(
        pd.DataFrame([_ensemble_row(fz0_member_mean=-3.1, fz0_member_min=-3.2, fz0_pooled=-3.15)])
    )
    assert "below the members' mean but not below the best member's" in no_tests
    assert "too few exceptions to test" in no_tests
    assert "No ensemble members" in ensemble_paragraph(pd.DataFrame(columns=ENSEMBLE_COLUMNS))


def _summary(within: int, kupiec: int, n_paths: int = 5) -> pd.DataFrame:
    rows = []
    for m in ("true", "fhs", "ddpm"):
        for a in (0.05, 0.025, 0.01):
            rows.append(
                {
                    "method": m,
                    "alpha": a,
                    "n_paths": n_paths,
                    "n_obs": 1006,
                    "excess_fz0_mean": 0.0 if m == "true" else 0.012,
                    "excess_fz0_sd": 0.0 if m == "true" else 0.01,
                    "excess_fz0_min": 0.0 if m == "true" else -0.004,
                    "excess_fz0_max": 0.0 if m == "true" else 0.03,
                    "n_within_noise": n_paths if m != "ddpm" else within,
                    "n_kupiec_pass": n_paths if m != "ddpm" else kupiec,
                    "exception_rate_mean": a,
                }
            )
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


@pytest.mark.parametrize(
    ("within", "kupiec", "verdict", "kupiec_text"),
    [
        (3, 3, "is within noise", "passes"),
        (2, 3, "is not within noise", "passes"),  # 2 of 5 is not "most"
        (5, 2, "is within noise", "does not pass"),
    ],
)
def test_simulation_verdict_needs_most_paths(within, kupiec, verdict, kupiec_text):
    text = simulation_paragraph(_summary(within, kupiec))
    assert text.startswith("Known truth, 5 simulated GARCH(1,1)-t paths.")
    assert (
        f"`ddpm` (5%: +0.0120 [-0.0040, +0.0300], within noise on {within}, Kupiec passed on "
        f"{kupiec}; 1%: +0.0120"
    ) in text
    assert "`true`" not in text
    assert f"So `ddpm` {verdict} of the true law on most paths at 5% and 1%" in text
    assert text.endswith(f"it {kupiec_text} Kupiec on most paths.")


def test_selection_paragraph_reports_every_candidate_and_the_decisions():
    from diffrisk.reporting.headline_text import selection_paragraph

    rows = []
    for decision, candidate, fz0 in (
        ("final_refit", "false", -3.9),
        ("final_refit", "true", float("inf")),
        ("primary", "ddpm", -3.8),
    ):
        for series in ("portfolio", "sp500"):
            for alpha, exc in ((0.05, 26), (0.01, 6)):
                rows.append(
                    {
                        "decision": decision,
                        "candidate": candidate,
                        "series": series,
                        "alpha": alpha,
                        "n_obs": 500,
                        "n_exceptions": exc,
                        "fz0_mean": fz0,
                    }
                )
    decisions = {
        "rule": "lowest wins",
        "rehearsal": {"train_end": "2014-12-31", "select": "a ... b", "score": "c ... d"},
        "final_refit": False,
        "n_steps": 20,
        "order": 2,
        "primary_method": "ddpm",
        "members": 2,
    }
    text = selection_paragraph(decisions, pd.DataFrame(rows))
    assert "Rule, fixed before any result: lowest wins" in text
    assert "final refit **false**" in text and "**`ddpm`**" in text
    assert "| final_refit | false | -3.9000 | 52 / 12 of 1000 (expected 50.0 / 10.0) |" in text
    assert "∞ (ES ≥ 0 on some day)" in text
    assert text.count("\n| ") == 5  # header, rule and three candidates
    assert "noise margin" not in text  # an older selection.json without the record
    decisions["margin_se"] = 1.0
    decisions["primary_margin"] = {
        "ddpm_wf": {"against": "ddpm", "gain": 0.004, "se": 0.006, "dm_p": 0.5, "switch": False},
        "ddpm_ens": {"against": "ddpm", "gain": 0.02, "se": 0.006, "dm_p": 0.01, "switch": True},
    }
    text = selection_paragraph(decisions, pd.DataFrame(rows))
    assert (
        "(a candidate must gain more than 1 HAC standard error): `ddpm_wf` against `ddpm`: "
        "gain +0.0040, se 0.0060 — does not replace it; `ddpm_ens` against `ddpm`: gain "
        "+0.0200, se 0.0060 — replaces it."
    ) in text
