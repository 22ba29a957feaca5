"""An image in a sandbox message opens larger when clicked, and closes on Escape or a click.

Only the local Slack server and its page run here (a chart uploaded as the bot would upload
Diagnose's), in Debian's Chromium through Playwright, as the demo's browser test does.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk import WebClient

from runbooks.diagnostics.metric_chart import WIDTH, ChartSpec, render_metric_chart
from sandbox import LocalSlackServer
from tests.e2e.test_sandbox_browser import _browser_or_skip

pytestmark = pytest.mark.browser

START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture
def sandbox() -> Iterator[LocalSlackServer]:
    with LocalSlackServer() as server:
        yield server


@pytest.fixture
def page(sandbox: LocalSlackServer):  # type: ignore[no-untyped-def]
    executable = _browser_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True,
                                             args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def test_clicking_a_chart_opens_it_larger_and_escape_or_a_click_closes_it(  # type: ignore[no-untyped-def]
        sandbox: LocalSlackServer, page) -> None:
    from playwright.sync_api import expect

    chart = render_metric_chart([(START + timedelta(minutes=i), 0.3 if i < 60 else 1.4) for i in range(90)],
                                ChartSpec("TargetResponseTime (Average, 60s)", unit="Seconds", threshold=1.0))
    WebClient(token="xoxb-test", base_url=sandbox.base_url).files_upload_v2(
        channel="general", content=chart, filename="incident-1-metric.png", title="P95 latency")
    page.goto(f"{sandbox.root_url}ui/")
    thumbnail = page.locator("[data-testid=file] img")
    expect(thumbnail).to_be_visible()
    small = thumbnail.bounding_box()
    assert small is not None

    thumbnail.click()
    viewer = page.get_by_test_id("lightbox")
    expect(viewer).to_be_visible()
    large = page.get_by_test_id("lightbox-image")
    expect(large).to_be_visible()
    expect(viewer).to_contain_text("P95 latency")
    box = large.bounding_box()
    assert box is not None and box["width"] >= min(WIDTH, 1440 * 0.9) - 2 and box["width"] > small["width"] * 1.5
    assert page.url == f"{sandbox.root_url}ui/"  # opened over the page, not in place of it

    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()
    thumbnail.click()
    expect(viewer).to_be_visible()
    large.click()  # anywhere on it closes it
    expect(viewer).to_be_hidden()
