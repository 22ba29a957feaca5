"""The incident core: plain Python over storage. No Slack, AWS or torch imports here."""
