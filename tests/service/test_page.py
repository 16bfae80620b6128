"""The HTML page in a real headless browser (Debian's chromium, driven by playwright)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from diffrisk.service.page import page_html
from tests.service.conftest import start_server

CHROMIUM = Path("/usr/bin/chromium")
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


def test_page_html_is_self_contained():
    html = page_html()
    assert '<form id="request-form"' in html and 'src="http' not in html
    assert "const TOKEN_REQUIRED = false" in html
    assert "const TOKEN_REQUIRED = true" in page_html(token_required=True)


def test_request_a_set_in_a_real_browser(pipeline, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.is_file():
        pytest.fail("chromium is not installed: apt-get install -y chromium (.ci/run does)")
    server = start_server(
        pipeline, tmp_path / "store", f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "s.log"
    )
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch_persistent_context(
                profile, executable_path=str(CHROMIUM), headless=True, args=ARGS
            )
            page = browser.new_page()
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
            browser.close()
    finally:
        server.stop()
        shutil.rmtree(profile, ignore_errors=True)
