"""The HTML page in a real headless browser (Debian's chromium, driven by playwright)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from diffrisk.service.page import page_html
from diffrisk.service.reverse_stress import DEFAULT_METHODS
from diffrisk.stress.reverse_study import METHODS
from tests.service.conftest import start_server

#: The first Chromium-family browser on the machine (DIFFRISK_BROWSER overrides the search).
_FOUND = os.environ.get("DIFFRISK_BROWSER") or next(
    (
        shutil.which(name)
        for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
        if shutil.which(name)
    ),
    None,
)
CHROMIUM = Path(_FOUND) if _FOUND else None
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextlib.contextmanager
def browser_page(pipeline, tmp: Path) -> Iterator[tuple[Any, Any]]:
    """A headless Chromium page and a real service over the toy pipeline; both stopped after.

    Skips on a machine without a Chromium-family browser, fails under ``CI`` (it must run).
    """
    sync_api = pytest.importorskip("playwright.sync_api")
    if CHROMIUM is None or not CHROMIUM.is_file():
        message = (
            "no Chromium-family browser found (chromium, chromium-browser, google-chrome or "
            "DIFFRISK_BROWSER): the page's browser test needs one (`make chromium` on Debian)"
        )
        if os.environ.get("CI"):  # CI must run it: .ci/run installs Debian's chromium
            pytest.fail(message)
        pytest.skip(message)
    server = start_server(pipeline, tmp / "store", f"sqlite:///{tmp / 'a.db'}", tmp / "s.log")
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch_persistent_context(
                profile, executable_path=str(CHROMIUM), headless=True, args=ARGS
            )
            yield browser.new_page(), server
            browser.close()
    finally:
        server.stop()
        shutil.rmtree(profile, ignore_errors=True)


def test_page_html_is_self_contained():
    html = page_html()
    assert '<form id="request-form"' in html and 'src="http' not in html
    assert "const TOKEN_REQUIRED = false" in html
    assert "const TOKEN_REQUIRED = true" in page_html(token_required=True)


def test_request_a_set_in_a_real_browser(pipeline, tmp_path):
    with browser_page(pipeline, tmp_path) as (page, server):
        page.goto(server.url + "/")
        page.wait_for_selector("#models tbody tr")
        assert page.locator("#models tbody tr").count() == 3
        page.select_option("#generator", "diffusion")
        page.select_option("#archetype", "crash")
        page.fill("#n_paths", "50")
        page.fill("#seed", "5")
        page.click("#submit")
        page.wait_for_function("document.getElementById('set-id').textContent.length == 64")
        set_id = page.text_content("#set-id")
        assert page.locator("#fan polygon.band").count() == 3
        assert page.locator("#fan polyline#median").count() == 1
        assert page.locator("#risk tr").count() == 3  # header + alpha 0.05, 0.01
        assert '"archetype": "crash"' in page.text_content("#meta")
        assert "generated: " + set_id in page.text_content("#status")
        page.wait_for_selector(f"#recent a[data-id='{set_id}']")
        # a bad request shows the field and range, and no new set
        page.fill("#horizon", "99")
        page.click("#submit")
        page.wait_for_function("document.getElementById('error').textContent.length > 0")
        assert "body.horizon" in page.text_content("#error")
        assert page.text_content("#set-id") == set_id
        # error bodies are shown whatever they are: JSON detail, or not JSON at all
        missing = "api('/scenarios/' + '0'.repeat(64)).then(() => 'ok', e => e.message)"
        msg = page.evaluate(missing)
        assert msg.startswith("404") and "path.set_id: no scenario set" in msg
        assert "not JSON" in page.evaluate("api('/').then(() => 'ok', e => e.message)")


@pytest.fixture(scope="module")
def reverse_page(pipeline, tmp_path_factory):
    """A headless Chromium page on a real service over the toy pipeline (one per module).

    Each test reloads the index (a fresh form) and waits until the reverse stress form is
    built from ``GET /reverse-stress``.
    """
    with browser_page(pipeline, tmp_path_factory.mktemp("page")) as (page, server):

        def fresh():
            page.goto(server.url + "/")
            page.wait_for_selector("#rs-method-diffusion")
            return page

        yield fresh


def _submit(page) -> dict:
    """Click "Find scenarios"; the JSON body the page sent."""
    with page.expect_request("**/reverse-stress") as sent:
        page.click("#rs-submit")
    return sent.value.post_data_json


def _field_errors(page) -> dict[str, str]:
    spans = page.locator("#reverse-form .field-error")
    return {
        spans.nth(i).get_attribute("id"): spans.nth(i).text_content() for i in range(spans.count())
    }


def test_reverse_stress_in_a_real_browser(reverse_page):
    page = reverse_page()
    weights = [float(w) for w in page.input_value("#rs-weights").split(",")]
    assert weights == pytest.approx([0.25] * 4)  # equal weights over the model's 4 assets
    # the form is the service's: served dates, the model's horizon, the default methods checked
    assert page.get_attribute("#rs-as_of", "min") < page.get_attribute("#rs-as_of", "max")
    assert page.input_value("#rs-horizon") == page.get_attribute("#rs-horizon", "max") == "10"
    boxes = page.locator("#rs-methods-field input[type=checkbox]")
    checked = [boxes.nth(i).is_checked() for i in range(boxes.count())]
    assert checked == [m in DEFAULT_METHODS for m in METHODS]  # all but the slow vine
    page.select_option("#rs-kind", "loss")
    page.fill("#rs-level", "0.03")  # reached by every method on the toy model
    page.fill("#rs-n_paths", "64")
    page.fill("#rs-seed", "1")
    body = _submit(page)
    assert set(body) == {"weights", "loss", "n_paths", "seed"}  # defaults are not sent
    page.wait_for_selector("#rs-methods")
    rows = page.locator("#rs-methods tr")
    assert rows.count() == 5  # header + diffusion, normal, student_t, historical
    methods = [rows.nth(i).locator("td").nth(0).text_content() for i in range(1, 5)]
    assert sorted(methods) == ["diffusion", "historical", "normal", "student_t"]
    for i in range(1, 5):
        cells = rows.nth(i).locator("td")
        p = float(cells.nth(1).text_content())
        lo, hi = (float(x) for x in cells.nth(2).text_content().strip("[]").split(","))
        assert 0 <= lo <= p <= hi <= 1
        assert cells.nth(4).text_content() in {"A0", "A1", "A2", "A3"}
        assert cells.nth(5).text_content() in {"g1", "g2", "other"}  # the stage's sectors
    best = page.locator("#rs-scenarios tr")
    assert best.count() == 5
    for i in range(1, 5):
        assert float(best.nth(i).locator("td").nth(1).text_content()) >= 0.03 - 1e-4
    assert page.text_content("#rs-used-horizon") == "10"
    assert page.text_content("#rs-used-as_of") == page.get_attribute("#rs-as_of", "max")
    # the served settings are the toy stage's record, and the caption says so
    assert page.text_content("#rs-used-attribution") == "top_decile"
    assert page.text_content("#rs-used-strength") == "1"
    assert "3 segments" in page.text_content("#rs-used")
    assert "(toy stage)" in page.text_content("#rs-used")
    assert page.text_content("#rs-error") == ""


def test_reverse_stress_chosen_date_horizon_and_methods(reverse_page):
    page = reverse_page()
    page.fill("#rs-level", "0.03")
    page.fill("#rs-n_paths", "64")
    page.fill("#rs-as_of", "2004-03-01")  # not the default (the day after the data)
    page.fill("#rs-horizon", "5")
    page.uncheck("#rs-method-diffusion")
    page.uncheck("#rs-method-student_t")
    body = _submit(page)
    assert (body["as_of"], body["horizon"], body["methods"]) == (
        "2004-03-01",
        5,
        ["normal", "historical"],
    )
    page.wait_for_selector("#rs-used")
    assert page.text_content("#rs-used-methods") == "normal, historical"
    assert page.text_content("#rs-used-as_of") == "2004-03-01"
    assert page.text_content("#rs-used-horizon") == "5"
    rows = page.locator("#rs-methods tr")
    assert [rows.nth(i).locator("td").nth(0).text_content() for i in (1, 2)] == [
        "normal",
        "historical",
    ]
    assert rows.count() == 3 and page.text_content("#rs-error") == ""
    # a refused request on the same page clears that answer: no stale result under an error
    page.fill("#rs-weights", "0.5, 0.5")
    page.click("#rs-submit")
    page.wait_for_function("document.getElementById('rs-error').textContent.length > 0")
    assert page.locator("#rs-methods").count() == 0
    assert page.locator("#rs-used").count() == 0


def test_reverse_stress_bad_request_shows_the_field(reverse_page):
    page = reverse_page()
    page.fill("#rs-weights", "0.5, 0.5")
    page.fill("#rs-level", "0.03")
    page.click("#rs-submit")
    page.wait_for_function("document.getElementById('rs-error').textContent.length > 0")
    error = page.text_content("#rs-error")
    assert error.startswith("422") and "body.weights: expected 4 weights, got 2" in error
    assert _field_errors(page)["rs-weights-error"] == "expected 4 weights, got 2"
    assert page.locator("#rs-methods").count() == 0


def test_reverse_stress_out_of_range_fields_show_the_server_error(reverse_page):
    page = reverse_page()
    page.fill("#rs-level", "0.03")
    page.fill("#rs-horizon", "99")  # beyond the model's 10 days: the browser lets it through
    assert _submit(page)["horizon"] == 99
    page.wait_for_function("document.getElementById('rs-horizon-error').textContent !== ''")
    errors = _field_errors(page)
    assert "horizon must be an integer in [1, 10]" in errors.pop("rs-horizon-error")
    assert set(errors.values()) == {""}  # only next to the horizon
    assert page.get_attribute("#rs-horizon", "aria-invalid") == "true"
    assert page.text_content("#rs-error").startswith("422")
    assert page.locator("#rs-methods").count() == 0
    page.fill("#rs-horizon", "10")
    page.fill("#rs-as_of", "1999-12-31")  # before the served dates
    _submit(page)
    page.wait_for_function("document.getElementById('rs-as_of-error').textContent !== ''")
    errors = _field_errors(page)
    first, last = page.get_attribute("#rs-as_of", "min"), page.get_attribute("#rs-as_of", "max")
    assert f"(allowed: {first} .. {last})" in errors.pop("rs-as_of-error")
    assert set(errors.values()) == {""}  # the horizon's error is gone
    assert page.get_attribute("#rs-horizon", "aria-invalid") is None
