"""Rendering: people's text stays inside its table cell, teams' templates override the bundled
ones, a broken template is a clear error, and the HTML export shows raw HTML as text."""

from __future__ import annotations

import re
from pathlib import Path

import markdown
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.postmortem import render


@given(text=st.text(max_size=200))
def test_any_text_in_a_cell_stays_one_cell_of_one_row(text: str) -> None:
    row = f"| a | {render.cell(text)} | b |"
    assert "\n" not in row
    table = markdown.markdown(f"| x | y | z |\n|---|---|---|\n{row}\n", extensions=["tables"])
    body = table.split("<tbody>", 1)[1]
    assert body.count("<tr>") == 1 and body.count("<td") == 3


@given(text=st.text(max_size=200))
def test_inline_text_cannot_start_markup(text: str) -> None:
    shown = render.md(text)
    assert "\n" not in shown
    assert not re.search(r"(?<!\\)[<>\[\]`|#*_]", shown.replace("\\\\", ""))


def test_a_team_template_replaces_the_bundled_one_and_the_rest_fall_back(tmp_path: Path) -> None:
    (tmp_path / "postmortem.md.j2").write_text("# Our review of #{{ f.number }}\n")
    env = render.environment(str(tmp_path))
    assert env.get_template("postmortem.md.j2").render(f={"number": 7}) == "# Our review of #7"
    assert "<!doctype html>" in env.get_template("postmortem.html.j2").render(title="t", body="b")


def test_a_broken_team_template_names_the_template_and_the_line(tmp_path: Path) -> None:
    (tmp_path / "postmortem.md.j2").write_text("fine\n{% for x in %}\n")
    with pytest.raises(render.TemplateProblem, match=r"postmortem\.md\.j2, line 2"):
        render.render_markdown(object(), env=render.environment(str(tmp_path)))  # type: ignore[arg-type]


def test_a_template_naming_an_unknown_fact_is_an_error_not_an_empty_line(tmp_path: Path) -> None:
    (tmp_path / "postmortem.md.j2").write_text("{{ f.no_such_fact }}\n")
    with pytest.raises(render.TemplateProblem, match="no_such_fact"):
        render.render_markdown(object(), env=render.environment(str(tmp_path)))  # type: ignore[arg-type]


def test_html_export_shows_raw_html_as_text() -> None:
    page = render.render_html("# T\n\n<script>alert(1)</script> <img src=x onerror=y>\n\n| a |\n|---|\n| 1 |\n",
                              title="<b>t</b>", env=render.environment())
    assert "<script>" not in page and "&lt;script&gt;" in page and "<img" not in page
    assert "<title>&lt;b&gt;t&lt;/b&gt;</title>" in page and "<table>" in page
