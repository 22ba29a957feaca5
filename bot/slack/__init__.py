"""The Slack edge of the bot: the gateway that writes, the outbox dispatcher, Block Kit views."""
