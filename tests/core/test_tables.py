"""Tests of diffrisk.core.tables: the plain table writer."""

from __future__ import annotations

import pandas as pd
import pytest

from diffrisk.core.tables import check_stem, markdown_table, write_csv_table, write_table


def test_write_table_writes_csv_and_markdown_with_the_plain_formats(tmp_path):
    frame = pd.DataFrame({"name": ["a", "b"], "value": [1.23456789, 0.000123456789]})
    written = write_table(frame, "t", tmp_path)
    assert written == {"csv": tmp_path / "t.csv", "md": tmp_path / "t.md"}
    assert (tmp_path / "t.csv").read_text() == "name,value\na,1.235\nb,0.0001235\n"
    assert (tmp_path / "t.md").read_text() == markdown_table(frame)
    assert "| 1.235    |" in markdown_table(frame) or "1.235" in markdown_table(frame)
    assert "0.0001235" in (tmp_path / "t.md").read_text()
    write_table(frame, "u", tmp_path, csv_float_format="%.3f", markdown_floatfmt=".2f")
    assert (tmp_path / "u.csv").read_text() == "name,value\na,1.235\nb,0.000\n"
    assert "1.23" in (tmp_path / "u.md").read_text()


def test_write_csv_table_drops_the_index(tmp_path):
    path = write_csv_table(tmp_path / "x.csv", pd.DataFrame({"a": [0.5]}, index=[7]))
    assert path.read_text() == "a\n0.5\n"


def test_stem_must_be_bare(tmp_path):
    assert check_stem("table1") == "table1"
    for bad in ("", "a.csv", "sub/a"):
        with pytest.raises(ValueError, match="stem must be a bare file name"):
            write_table(pd.DataFrame({"a": [1]}), bad, tmp_path)
