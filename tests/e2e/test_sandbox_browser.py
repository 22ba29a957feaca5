"""The sandbox in a real browser: the demo's whole stack, driven in Chromium as a person would.

It opens the sandbox page, starts the model-regression scenario (seed 001) from the menu, and
clicks through the seed's flow: Diagnose, Disable auto-apply, Roll back the model with its
confirmation, Resolve, and Approve the postmortem draft. Assertions are on what the page shows.
Screenshots of each step are saved under ``BROWSER_ARTIFACTS`` (default var/artifacts/browser).

Chromium comes from the distribution (``apt-get install chromium``), never from a download.
Without it the test skips, unless ``REQUIRE_BROWSER=1`` (CI sets it), when it fails.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.demo.stack import DemoOptions, DemoStack, RunningDemo

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
REQUIRED = os.environ.get("REQUIRE_BROWSER") == "1"
ARTIFACTS = Path(os.environ.get("BROWSER_ARTIFACTS", "var/artifacts/browser"))
README_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "sandbox.png"
STEP_TIMEOUT_MS = 60_000


def _browser_or_skip() -> str:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        if REQUIRED:
            raise
        pytest.skip("playwright is not installed")
    if CHROMIUM is None:
        if REQUIRED:
            pytest.fail("REQUIRE_BROWSER=1 but there is no chromium on PATH (apt-get install chromium)")
        pytest.skip("no chromium on PATH (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture
def demo(fusion_registry: Path, tmp_path: Path) -> Iterator[RunningDemo]:
    registry = tmp_path / "registry"
    shutil.copytree(fusion_registry, registry)  # the scenario deploys a version: keep the shared one intact
    options = DemoOptions(state_dir=tmp_path / "demo", registry=registry, port=0)
    with DemoStack(options, out=io.StringIO()) as running:
        yield running


@pytest.fixture
def page(demo: RunningDemo):  # type: ignore[no-untyped-def]
    executable = _browser_or_skip()
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        page = context.new_page()
        page.set_default_timeout(STEP_TIMEOUT_MS)
        try:
            yield page
        finally:
            page.screenshot(path=str(ARTIFACTS / "last.png"), full_page=True)
            context.close()
            browser.close()


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)


def click_button(page, action_id: str) -> None:  # type: ignore[no-untyped-def]
    """The newest message's control with that action id (the page keeps the channel scrolled down)."""
    page.locator(f"[data-testid=message] [data-action-id={action_id}]").last.click()


def test_the_model_regression_scenario_clicked_through_in_chromium(  # type: ignore[no-untyped-def]
        demo: RunningDemo, page) -> None:
    from playwright.sync_api import expect

    page.goto(demo.url)
    page.get_by_test_id("user-switcher").select_option("U0ALICE")
    page.get_by_test_id("scenario-model-regression").click()

    incident_channel = page.locator("[data-testid^=channel-inc-]").first
    expect(incident_channel).to_be_visible()
    incident_channel.click()
    # The alarm declared it, so Alice is not a member yet: she joins, as she would in Slack.
    page.get_by_role("button", name="Join channel").click()
    expect(page.get_by_test_id("composer")).to_be_visible()
    messages = page.get_by_test_id("message")
    expect(messages.filter(has_text="Triggered").first).to_be_visible()
    expect(page.get_by_test_id("pins")).to_contain_text("Model performance regression")
    shot(page, "1-incident")

    click_button(page, "incident_diagnose")
    diagnostics = messages.filter(has_text="Diagnostics for incident #1")
    expect(diagnostics.last).to_contain_text("golden set", timeout=120_000)
    expect(diagnostics.last).to_contain_text("done, overall", timeout=120_000)
    shot(page, "2-diagnose")

    click_button(page, "action_disable_auto_apply")
    modal = page.get_by_test_id("modal")
    expect(modal).to_contain_text("AUTO_APPLY_ENABLED")
    page.get_by_test_id("modal-submit").click()
    expect(modal).to_contain_text("Confirmed")
    page.get_by_test_id("modal-close").click()
    expect(messages.filter(has_text="AUTO_APPLY_ENABLED").filter(has_text="true → false").last).to_be_visible()
    shot(page, "3-auto-apply-off")

    click_button(page, "action_open_rollback")
    expect(modal).to_contain_text("Model incident-text")
    modal.locator("[data-action-id=target]").select_option(index=1)
    page.get_by_test_id("modal-submit").click()
    expect(modal).to_contain_text("Roll back")
    page.get_by_test_id("modal-submit").click()
    expect(modal).to_contain_text("Confirmed")
    page.get_by_test_id("modal-close").click()
    rolled_back = messages.filter(has_text="Action #").filter(has_text="incident-text").filter(has_text="Done")
    expect(rolled_back.last).to_be_visible()
    shot(page, "4-rolled-back")

    click_button(page, "incident_resolve")
    expect(page.get_by_test_id("confirm-dialog")).to_be_visible()  # Resolve asks first, as in Slack
    page.get_by_test_id("confirm-ok").click()
    expect(messages.filter(has_text="Resolved").first).to_be_visible()
    approve = page.locator("[data-testid=message] [data-action-id=postmortem_approve]").last
    expect(approve).to_be_visible()
    shot(page, "5-postmortem-draft")
    approve.click()
    expect(messages.filter(has_text="Approved").last).to_be_visible()
    shot(page, "6-approved")
    if os.environ.get("UPDATE_README_SCREENSHOT") == "1":
        README_SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(README_SCREENSHOT))
