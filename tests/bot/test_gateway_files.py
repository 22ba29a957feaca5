"""Sharing a file (files upload v2) through the real SDK gateway, against the local Slack server."""

from __future__ import annotations

from bot.slack.gateway import SlackSdkGateway, build_web_client
from runbooks.diagnostics.metric_chart import ChartSpec, render_metric_chart
from sandbox.slack_api import LocalSlackServer


async def test_a_chart_is_uploaded_and_shared_in_the_channel() -> None:
    png = render_metric_chart([], ChartSpec("P95 latency"))
    with LocalSlackServer() as slack:
        channel = slack.add_channel("inc-1", members=["U0BOTUSER"])
        gateway = SlackSdkGateway(build_web_client(token="xoxb-test", base_url=slack.base_url), post_interval=0)
        file_id = await gateway.upload_file(channel, filename="latency.png", content=png, title="P95 latency",
                                            comment="📈 The alarm's metric")
        assert slack.file_content(file_id) == png
        shared = [m for m in slack.messages(channel) if m.files]
        assert len(shared) == 1 and shared[0].files[0]["id"] == file_id
        assert shared[0].text == "📈 The alarm's metric"
