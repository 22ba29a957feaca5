"""Counting a draft's [bracketed prompts]: what the template leaves for the team, never people's words."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config import ConfigError, IncidentBotConfig
from bot.config.models import UnfilledPrompts
from bot.core.postmortem.prompts import Prompt, count_text, unfilled_prompts, where
from bot.core.postmortem.render import md

DRAFT = """# Post-Incident Review: Incident #3: latency

_Draft v1. Text in [square brackets] is for the team to fill in._

## Incident Summary

- **Service:** [Service: which model or service was affected]
- **Channel:** [\\#inc-3](https://slack.com/app_redirect?channel=C0123)

**Impact:** [Impact: who was affected]

## Root Cause Analysis

### Why Did It Happen? (5 Whys)
   → [Why 3: answer from what the team knows]

## Action Items

| [Action item: add with /incident followup] | [owner] | [due] | Open |
"""


def test_prompts_are_counted_by_section_and_links_and_the_preamble_are_not() -> None:
    assert unfilled_prompts(DRAFT) == (
        Prompt("Incident Summary", "Service: which model or service was affected"),
        Prompt("Incident Summary", "Impact: who was affected"),
        Prompt("Root Cause Analysis", "Why 3: answer from what the team knows"),
        Prompt("Action Items", "Action item: add with /incident followup"),
        Prompt("Action Items", "owner"), Prompt("Action Items", "due"),
    )
    prompts = unfilled_prompts(DRAFT)
    assert where(prompts) == "3 in Action Items, 2 in Incident Summary, 1 in Root Cause Analysis"
    assert count_text(prompts) == "6 prompts are" and count_text(prompts[:1]) == "1 prompt is"


def test_a_filled_draft_has_none_left() -> None:
    assert unfilled_prompts("# Review\n\n## Summary\n\nThe cache expired. See [the runbook](https://x).\n") == ()


@given(st.text(alphabet=st.sampled_from("[]()\\ab #|*\n"), max_size=60))
def test_words_people_wrote_never_count_as_prompts(text: str) -> None:
    # The draft quotes people through md(), which escapes their brackets.
    assert unfilled_prompts(f"## Timeline\n\n| 14:00 | Note: {md(text)} | @U0ALICE |\n") == ()


def test_the_setting_defaults_to_warn_and_a_wrong_value_names_the_key() -> None:
    assert IncidentBotConfig.from_mapping({}).postmortems.unfilled_prompts == UnfilledPrompts.WARN
    assert IncidentBotConfig.from_mapping(
        {"postmortems": {"unfilled_prompts": "block"}}).postmortems.unfilled_prompts == UnfilledPrompts.BLOCK
    with pytest.raises(ConfigError, match=r"postmortems\.unfilled_prompts: must be 'warn', 'block' or 'allow'"):
        IncidentBotConfig.from_mapping({"postmortems": {"unfilled_prompts": "maybe"}})
