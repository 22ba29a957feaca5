"""Rendering a draft: Markdown from jinja2 templates, and HTML for reviewers outside Slack.

Teams can point ``postmortems.template_dir`` at a folder of their own templates; a template it
lacks falls back to the bundled one. People's words are escaped for Markdown where they are
put in, and the HTML is built from Markdown whose raw HTML has been disarmed first. People are
shown by name: the filters read the ``names`` the draft was rendered with (Slack ids to names);
Slack's mention markup in text reads as ``@Name``.
"""

from __future__ import annotations

import functools
import html
import re
from datetime import datetime
from pathlib import Path

import jinja2
import markdown as markdown_lib

from bot.config.durations import format_duration
from bot.core.postmortem.durations import Measured
from bot.core.postmortem.facts import PostmortemFacts
from bot.core.postmortem.people import Names, person_name, plain_mentions

BUNDLED_DIR = Path(__file__).resolve().parents[2] / "templates" / "postmortem"
MARKDOWN_TEMPLATE = "postmortem.md.j2"
HTML_TEMPLATE = "postmortem.html.j2"

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|])")


class TemplateProblem(Exception):
    """A team's template does not render; the message names the template and the problem."""


def md(value: object, names: Names | None = None) -> str:
    """Text from people or alerts as inline Markdown: one line, mentions as names, markup escaped."""
    flat = " ".join(plain_mentions(str(value), names or {}).split())  # names are people's words too
    return _MD_SPECIAL.sub(r"\\\1", flat)


def cell(value: object, names: Names | None = None) -> str:
    """Like ``md``, for a table cell (the pipe is escaped too, so a cell never splits a row)."""
    return md(value, names)


def when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def day(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d}"


def clock(moment: datetime, since: datetime) -> str:
    """The time of day, with the date where it is not the day the incident began."""
    return f"{moment:%H:%M:%S}" if moment.date() == since.date() else f"{moment:%m-%d %H:%M:%S}"


def duration(measured: Measured) -> str:
    if measured.value is None:
        return f"— ({measured.why_not})" if measured.why_not else "—"
    return format_duration(measured.value, max_units=3)


def channel(name: str, channel_id: str | None) -> str:
    """``#name``, linked through Slack's app_redirect, which opens the channel for any member."""
    shown = md(f"#{name}")
    if not channel_id or not channel_id.isalnum():
        return shown
    return f"[{shown}](https://slack.com/app_redirect?channel={channel_id})"


def person(actor: object, names: Names | None = None) -> str:
    """A person (a Slack id) by name, or another actor as it is, ready for Markdown and table cells."""
    return md(person_name(str(actor), names or {})) if actor else "—"


def _names_of(context: jinja2.runtime.Context) -> Names:
    return context.get("names") or {}


# The filters templates use: the same functions, given the names the draft is rendered with.
_NAMED_FILTERS = {
    "md": lambda context, value: md(value, _names_of(context)),
    "cell": lambda context, value: cell(value, _names_of(context)),
    "person": lambda context, actor: person(actor, _names_of(context)),
}


@functools.lru_cache(maxsize=8)
def environment(template_dir: str | None = None) -> jinja2.Environment:
    """One environment per template folder, kept: jinja2 compiles each template once per environment.

    Edits to a team's templates show without a restart all the same (``auto_reload``)."""
    loaders: list[jinja2.BaseLoader] = []
    if template_dir:
        loaders.append(jinja2.FileSystemLoader(template_dir))
    loaders.append(jinja2.FileSystemLoader(BUNDLED_DIR))
    env = jinja2.Environment(loader=jinja2.ChoiceLoader(loaders), autoescape=False, auto_reload=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(when=when, date=day, clock=clock, duration=duration, channel=channel)
    env.filters.update({name: jinja2.pass_context(named) for name, named in _NAMED_FILTERS.items()})
    return env


def render_markdown(facts: PostmortemFacts, *, env: jinja2.Environment, names: Names | None = None) -> str:
    """The draft; ``names`` (Slack id → name) shows people by name, ids stand where it has none."""
    try:
        text = env.get_template(MARKDOWN_TEMPLATE).render(f=facts, names=dict(names or {}))
    except jinja2.TemplateError as exc:
        raise TemplateProblem(_describe(exc)) from exc
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def render_html(markdown_text: str, *, title: str, env: jinja2.Environment) -> str:
    """A whole page: the draft as HTML, in a readable layout, with any raw HTML shown as text."""
    disarmed = html.escape(markdown_text, quote=False)
    body = markdown_lib.markdown(disarmed, extensions=["tables", "sane_lists"], output_format="html")
    try:
        return env.get_template(HTML_TEMPLATE).render(title=title, body=body)
    except jinja2.TemplateError as exc:
        raise TemplateProblem(_describe(exc)) from exc


def _describe(exc: jinja2.TemplateError) -> str:
    where = ""
    if isinstance(exc, jinja2.TemplateSyntaxError):
        where = f" ({exc.filename or exc.name}, line {exc.lineno})"
    return f"the postmortem template does not render{where}: {exc.message or exc}"
