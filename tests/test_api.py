"""The front door: ``import diffrisk`` is light, its names work, alpha is the tail."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import diffrisk
from diffrisk import api
from diffrisk.baselines import hs
from diffrisk.risk import measures

SRC = Path(__file__).resolve().parents[1] / "src" / "diffrisk"


def test_import_diffrisk_loads_no_torch_until_used():
    code = (
        "import sys, diffrisk; assert 'torch' not in sys.modules and 'diffrisk.api' not in "
        "sys.modules; diffrisk.var([0.0, 1.0], 0.5); assert 'diffrisk.api' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_public_names_are_the_api_and_the_type_stub():
    assert set(diffrisk.__all__) - {"__version__"} == set(api.__all__)
    stub = ast.parse((SRC / "__init__.pyi").read_text())
    stubbed = {a.asname for n in stub.body if isinstance(n, ast.ImportFrom) for a in n.names}
    assert stubbed == set(api.__all__)
    assert (SRC / "py.typed").is_file()
    for name in api.__all__:
        assert getattr(diffrisk, name) is getattr(api, name)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = diffrisk.nope


def test_var_cvar_match_the_measures_and_refuse_a_confidence_level():
    x = np.random.default_rng(0).standard_normal(1000)
    assert diffrisk.var(x, 0.01) == measures.var(x, 0.01)
    assert diffrisk.cvar(x, 0.05) == measures.cvar(x, 0.05)
    with pytest.raises(ValueError, match=r"alpha=0.95 is above one half.*did you mean alpha=0.05"):
        diffrisk.var(x, 0.95)
    with pytest.raises(ValueError, match=r"TAIL probability"):
        diffrisk.cvar(x, 0.99)
    with pytest.raises(ValueError, match=r"above one half"):
        diffrisk.run_backtests(pd.DataFrame(), alphas=[0.95])


@pytest.fixture
def returns():
    idx = pd.bdate_range("2020-01-01", periods=400, name="date")
    data = np.random.default_rng(1).standard_t(4, (400, 2)) * 0.01
    return pd.DataFrame(data, index=idx, columns=["a", "b"])


def test_forecast_next_day_equals_the_forecast_made_inside_the_data(returns):
    # the day after row 299, forecast from rows 0..299, is the forecast hs makes for row 300
    past, day = returns.iloc[:300], returns.index[300]
    got, scen = diffrisk.forecast_next_day("hs", past, window=250)
    want, _ = hs(returns, [day], window=250)
    assert (got["date"] == day).all() and got["realized"].isna().all()
    cols = [c for c in want.columns if c.startswith(("var_", "cvar_"))]
    np.testing.assert_array_equal(got[cols].to_numpy(), want[cols].to_numpy())
    assert scen.scenarios.shape == (2, 1, 250)


def test_forecast_next_day_refuses_a_day_in_the_data_and_unknown_methods(returns):
    with pytest.raises(ValueError, match="is not after the last row"):
        diffrisk.forecast_next_day("hs", returns, date=returns.index[-1])
    with pytest.raises(ValueError, match="unknown method 'garch'"):
        diffrisk.forecast_next_day("garch", returns)
    with pytest.raises(ValueError, match="needs model="):
        diffrisk.forecast_next_day("ddpm", returns)


def test_backtest_of_one_table(returns):
    frame, scen = diffrisk.hs(returns, returns.index[260:], window=250)
    table = diffrisk.run_backtests(frame, scen, alphas=[0.05], n_sim=0)
    assert list(table["method"]) == ["method", "method"]
    realized = frame.pivot(index="date", columns="series", values="realized")
    var05 = frame.pivot(index="date", columns="series", values="var_05")
    assert table["n_exceptions"].tolist() == (realized < var05).sum().tolist()


def test_forecast_next_day_samples_with_a_student_given_by_its_path(returns, tmp_path):
    from diffrisk.ddpm.student import save_student
    from tests.support.few_step import few_step_sampler

    splits = {"train_end": returns.index[249], "val_start": returns.index[250],
              "val_end": returns.index[349]}  # fmt: skip
    config = diffrisk.DDPMConfig.smoke(samples_per_epoch=512, max_epochs=1, window=24)
    model, _ = diffrisk.fit_ddpm(returns, splits, config, seed=0, progress=False)
    student = few_step_sampler(model, 3)
    path = save_student(student, tmp_path / "student.pt")
    past = returns
    by_path, _ = diffrisk.forecast_next_day("ddpm", past, model=model, student=str(path),
                                            n_scenarios=64, noise="stratified")  # fmt: skip
    by_object, _ = diffrisk.forecast_next_day("ddpm", past, model=model, student=student,
                                              n_scenarios=64, noise="stratified")  # fmt: skip
    pd.testing.assert_frame_equal(by_path, by_object)
    teacher, _ = diffrisk.forecast_next_day("ddpm", past, model=model, n_scenarios=64)
    assert not np.allclose(by_path["var_05"], teacher["var_05"])
    model.save(tmp_path / "model.pt")  # a model is not a student
    with pytest.raises(ValueError, match="model.pt is not a one-day student checkpoint"):
        diffrisk.forecast_next_day("ddpm", past, model=model, student=tmp_path / "model.pt")
