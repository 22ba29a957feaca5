"""PostgreSQL goes away during traffic and comes back.

The bot reaches PostgreSQL through a TCP proxy; cutting it is, from the bot's side, the server
stopping (open connections reset, new ones refused) without stopping the machine's shared
PostgreSQL under other tests. While it is down, webhooks answer 503 and never 2xx, so senders
keep the deliveries; /readyz says unavailable; people get a clear answer. When it is back the
bot recovers by itself, without a restart, and nothing was lost or stored twice.
"""

from __future__ import annotations

import threading
import time
from typing import Self

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.faults.checks import (
    assert_one_channel_per_incident,
    assert_stored_exactly_once,
)
from tests.faults.storm import PD_SECRET, RetryingSenders, build_storm
from tests.faults.tcp_proxy import Backend, TcpProxy
from tests.handlers.webhooks.sns_fixtures import DEFAULT_TOPIC_ARN
from tests.scenarios.actions_support import wait_for
from tests.scenarios.harness import BotServer, Database, SlackUser, bot_settings

pytestmark = [pytest.mark.long, pytest.mark.postgres]

SERVICES = ["multimodal-api", "scoring-api", "ticket-classifier"]
UP_BEFORE, DOWN_FOR = 4.0, 12.0
# Requests in flight when the cut comes may still finish either way; after this they must not.
SETTLE = 2.0
RECOVERY_LIMIT = 15.0


class ReadinessProbe:
    """Polls /readyz as a load balancer would, keeping every answer with its time."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._stop = threading.Event()
        self.answers: list[tuple[float, float, int]] = []
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _poll(self) -> None:
        with httpx.Client(timeout=10) as http:
            while not self._stop.is_set():
                asked = time.monotonic()
                try:
                    status = http.get(f"{self._url}/readyz").status_code
                except httpx.HTTPError:
                    status = 0
                self.answers.append((asked, time.monotonic(), status))
                self._stop.wait(0.2)


def test_a_database_outage_answers_503_tells_readyz_and_recovers_by_itself(
        slack, postgres_url: str, sns_certs) -> None:
    direct = make_url(postgres_url)
    proxy = TcpProxy([Backend(direct.host or "127.0.0.1", direct.port or 5432)]).start()
    proxied = direct.set(port=proxy.port).render_as_string(hide_password=False)
    bot = BotServer(bot_settings(slack=slack, database_url=proxied, pagerduty_webhook_secrets=PD_SECRET,
                                 sns_certs_dir=str(sns_certs), sns_topic_arns=DEFAULT_TOPIC_ARN)).start()
    db = Database(postgres_url)  # the test looks at the database directly, past the proxy
    storm = build_storm(services=SERVICES, alerts_per_service=4, repeats=6)
    try:
        with ReadinessProbe(bot.url) as readiness, httpx.Client(timeout=30) as http:
            senders = RetryingSenders(bot.url, storm, clients=3, pace=0.5, give_up_after=180).start()
            time.sleep(UP_BEFORE)
            cut_at = time.monotonic()
            proxy.cut()
            time.sleep(SETTLE)
            person = SlackUser(bot=bot, slack=slack, user_id="U0ALICE", http=http).command(
                "declare P2 During the outage")
            time.sleep(DOWN_FOR - SETTLE)
            restored_at = time.monotonic()
            proxy.restore()
            report = senders.wait(timeout=240)
            wait_for(lambda: readiness.answers and readiness.answers[-1][2] == 200, timeout=RECOVERY_LIMIT,
                     what="/readyz to say ready again")
            time.sleep(1.0)

        down = (cut_at + SETTLE, restored_at)
        during = [status for sent, answered, status in report.attempts if down[0] <= sent and answered <= down[1]]
        assert during and set(during) == {503}, f"webhooks while the database was down: {sorted(set(during))}"
        assert all(status != 500 for _, _, status in report.attempts)
        assert report.unacked() == [], "a delivery refused during the outage was never taken"
        after = [status for sent, _, status in report.attempts if sent > restored_at]
        assert any(200 <= status < 300 for status in after), "taken again after the outage, without a restart"

        assert all(status == 200 for asked, _, status in readiness.answers if asked < cut_at), "ready before"
        down_answers = [status for asked, answered, status in readiness.answers
                        if down[0] <= asked and answered <= down[1]]
        assert down_answers and set(down_answers) == {503}, down_answers
        back = next(asked for asked, _, status in readiness.answers if asked > restored_at and status == 200)
        assert back - restored_at < RECOVERY_LIMIT
        settled = [status for asked, _, status in readiness.answers if asked >= back]
        assert set(settled) == {200}, "ready again, and staying ready"

        assert person.status_code == 200, person.text
        assert "database" in person.json()["text"].lower() or "try again" in person.json()["text"].lower()

        db.wait_outbox_drained(timeout=120)
        assert_stored_exactly_once(db, storm)
        assert_one_channel_per_incident(db, slack, incidents=len(SERVICES))
    finally:
        bot.stop()
        proxy.stop()
        db.dispose()
