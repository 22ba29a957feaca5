"""The resolution notice and the named audiences over HTTP (seeds 002 and 003): resolving posts
the seeds' resolution notice where the updates went (the incident channel, the thread under
the announcement in #incidents), an executive summary to its channel, and a customer draft in
the incident channel only; a confidential incident's title never reaches a public place."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.slack.ids import ActionId
from tests.scenarios.actions_support import button_values, wait_for
from tests.scenarios.harness import Database, SlackUser, all_text
from tests.scenarios.notice_support import (
    ALICE,
    SERVING_VERSION,
    LoopbackServer,
    declare_for_service,
    notice_rows,
    texts,
    thread_texts,
    write_config,
)

TITLE = "Scoring latency above SLO"
SECRET_TITLE = "Leaked deploy key for scoring in public repo"


@pytest.fixture
def status_page() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        yield server


@pytest.fixture
def worker() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        yield server


@pytest.fixture
def notice_bot(bot_factory, slack, tmp_path: Path, status_page: LoopbackServer, worker: LoopbackServer,
               monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("STATUS_PAGE_TOKEN", "status-page-token-123")
    slack.add_channel("exec-summary")
    slack.add_channel("customer-status")
    config = write_config(tmp_path, status_url=f"{status_page.url}/incidents")
    return bot_factory(config_path=str(config), worker_url=worker.url)


@pytest.fixture
def commander(notice_bot, slack, http) -> SlackUser:
    return SlackUser(bot=notice_bot, slack=slack, user_id=ALICE, http=http)


def resolution_in(found: list[str]) -> str | None:
    return next((text for text in found if "[RESOLVED]" in text and "Resolution Time:" in text), None)


def test_resolving_posts_the_resolution_notice_where_the_updates_went(
    commander: SlackUser, slack, db: Database, status_page: LoopbackServer,
) -> None:
    channel = declare_for_service(commander, slack, db, title=TITLE, service="scoring-engine")
    incident = db.incident(1)
    assert incident.service == "scoring-engine"
    update = "p95 is back under 600ms after scaling out; watching it"
    assert commander.command(f"status {update}", channel=channel).status_code == 200
    wait_for(lambda: any(update in text for text in texts(slack, "exec-summary")), what="the update's summary")
    answer = commander.command("resolve scaled the scoring engine out and the backlog drained", channel=channel)
    assert "resolved" in answer.json()["text"]
    db.wait_outbox_drained()

    # The seeds' resolution notice, from the template, in the incident channel...
    notice = wait_for(lambda: resolution_in(texts(slack, channel)), what="the resolution notice in the channel")
    assert f"*[RESOLVED]* #{incident.number} {TITLE}" in notice  # the template's own bold survives
    assert f"Incident ID: #{incident.number}" in notice
    assert "Model/Service: scoring-engine" in notice
    # ... with the model version serving at the resolution, from the worker ...
    assert f"Model version: credit-scorer {SERVING_VERSION}" in notice
    # ... and no [prompt] left to read as news.
    assert "[Root cause:" not in notice and "To follow in the postmortem." in notice

    # The same notice under the announcement in #incidents, where the update went.
    incidents_channel = slack.channel_id("incidents")
    announced = wait_for(lambda: resolution_in(thread_texts(slack, incidents_channel, incident.announcement_ts)),
                         what="the resolution notice under the announcement")
    assert TITLE in announced

    # The executive summary in its channel: impact, status, owner, model version; short.
    summaries = texts(slack, "exec-summary")
    resolved = [text for text in summaries if "[RESOLVED]" in text]
    assert len(resolved) == 1, summaries
    assert f"#{incident.number} {TITLE}" in resolved[0] and "ETA: resolved" in resolved[0]
    assert f"credit-scorer {SERVING_VERSION}" in resolved[0]
    # The P1 update went there too, as a summary (executives take P0 and P1 updates by default).
    updates = [text for text in summaries if "[INCIDENT]" in text]
    assert len(updates) == 1 and f"Latest: {update}" in updates[0] and "Status: Triggered" in updates[0]

    # The customer audience gets a draft in the incident channel only: nothing left the company.
    draft = next(m for m in slack.messages(channel) if "Draft notice for" in all_text(m))
    assert button_values(draft.blocks, ActionId.EDIT_NOTICE) == [f"{incident.id}:customers"]
    assert "Resolved: Major service disruption" in all_text(draft)
    assert texts(slack, "customer-status") == [] and status_page.posts == []

    # A retried fan-out queues nothing twice: one resolution notice per place.
    assert sum(1 for text in texts(slack, channel) if resolution_in([text])) == 1
    assert sum(1 for row in notice_rows(db) if row.payload.get("fan_out")) == 1


def test_a_confidential_incident_keeps_its_title_out_of_public_places(
    commander: SlackUser, slack, db: Database, status_page: LoopbackServer,
) -> None:
    answer = commander.command(f"declare security P1 {SECRET_TITLE}")
    assert answer.status_code == 200
    incident = wait_for(lambda: (i := db.incident(1)).channel_id and i.announcement_ts and i, what="the channel")
    channel = str(incident.channel_id)
    commander.command("status rotated the key; checking the audit trail", channel=channel)
    commander.command("resolve key rotated and the old one deactivated", channel=channel)
    db.wait_outbox_drained()

    # Its own (private) channel reads the full notice.
    notice = wait_for(lambda: resolution_in(texts(slack, channel)), what="the resolution notice in the channel")
    assert SECRET_TITLE in notice

    # #incidents and the executives read a neutral line, never the title or the details.
    incidents_channel = slack.channel_id("incidents")
    public = [*thread_texts(slack, incidents_channel, incident.announcement_ts), *texts(slack, "incidents"),
              *texts(slack, "exec-summary")]
    wait_for(lambda: any("is resolved. Details stay with its responders." in text
                         for text in [*thread_texts(slack, incidents_channel, incident.announcement_ts)]),
             what="the neutral line under the announcement")
    public = [*thread_texts(slack, incidents_channel, incident.announcement_ts), *texts(slack, "incidents"),
              *texts(slack, "exec-summary")]
    assert public and all(SECRET_TITLE not in text and "deploy key" not in text for text in public)
    assert any(f"Confidential incident #{incident.number} is resolved" in text for text in texts(slack, "exec-summary"))

    # No customer draft is written for it, and nothing reaches the customers.
    assert not any("Draft notice for" in text for text in texts(slack, channel))
    assert texts(slack, "customer-status") == [] and status_page.posts == []
