"""People's names through the real SDK gateway (users.info), against the local Slack server."""

from __future__ import annotations

from bot.slack.gateway import SlackSdkGateway, build_web_client
from sandbox.slack_api import LocalSlackServer


async def test_names_are_looked_up_once_each_and_unknown_people_are_left_out() -> None:
    with LocalSlackServer() as slack:
        gateway = SlackSdkGateway(build_web_client(token="xoxb-test", base_url=slack.base_url), post_interval=0)
        assert await gateway.display_names(["U0ALICE", "U0BOB", "U0NOBODY"]) == {
            "U0ALICE": "Alice Adams", "U0BOB": "Bob Brown"}
        assert await gateway.display_names(["U0ALICE", "U0NOBODY"]) == {"U0ALICE": "Alice Adams"}
        looked_up = [call.params.get("user") for call in slack.calls("users.info")]
        assert sorted(looked_up) == ["U0ALICE", "U0BOB", "U0NOBODY"]  # the second time came from the cache


async def test_while_slack_is_down_names_are_left_out_and_asked_again_later() -> None:
    with LocalSlackServer() as slack:
        gateway = SlackSdkGateway(build_web_client(token="xoxb-test", base_url=slack.base_url, max_retries=0),
                                  post_interval=0)
        slack.faults.add("users.info", status=500, times=1)
        assert await gateway.display_names(["U0ALICE", "U0BOB"]) == {}  # no wait on each person in turn
        assert len(slack.calls("users.info")) == 1
        assert await gateway.display_names(["U0ALICE"]) == {"U0ALICE": "Alice Adams"}
