"""Tests of diffrisk.reporting.references: the reference list of STUDY.md."""

from __future__ import annotations

import re

import pytest

from diffrisk.reporting.references import REFERENCES, references_section


def test_every_reference_is_complete_and_listed_once():
    shorts = [short for short, _, _ in REFERENCES]
    assert len(set(shorts)) == len(shorts)
    for short, full, use in REFERENCES:
        assert full.strip() and use.strip(), short
        # a dated short citation gives the same year as the full reference
        year = re.search(r"\((\d{4})\)", short)
        if year:
            assert year.group(1) in full, short
    text = references_section()
    assert text.splitlines() == [f"- {full} Used for: {use}." for _, full, use in REFERENCES]


def test_the_backtests_and_samplers_of_the_study_are_cited():
    text = references_section()
    for work in (
        "Kupiec, P. H. (1995)",
        "Christoffersen, P. F. (1998)",
        "Acerbi, C. and Szekely, B. (2014)",
        "Fissler, T. and Ziegel, J. F. (2016)",
        "Patton, A. J., Ziegel, J. F. and Chen, R. (2019)",
        "Diebold, F. X. and Mariano, R. S. (1995)",
        "Ho, J., Jain, A. and Abbeel, P. (2020)",
        "Song, J., Meng, C. and Ermon, S. (2021)",
        "DPM-Solver++",
    ):
        assert work in text


def test_a_custom_list_and_an_empty_one():
    one = [("A (2000)", "A. (2000). T.", "x")]
    assert references_section(one) == "- A. (2000). T. Used for: x."
    with pytest.raises(ValueError, match="must not be empty"):
        references_section([])
