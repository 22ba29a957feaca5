"""Loading runbook files: every broken file is an error naming the file, the line and the problem;
a team's folder adds to and overrides the bundled library."""

from __future__ import annotations

import argparse
import io
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.record_facts import RecordFact
from runbooks.engine.cli import run_runbooks
from runbooks.engine.errors import RunbookError
from runbooks.engine.loader import load_file, load_library

GOOD = """\
name: {name}
title: Slow inference
summary: P95 latency above the SLO.
severity: P1
match: {{alarms: ["*p95-latency*"], text_class: high_latency}}
phases:
  - phase: triage
    steps:
      - id: check-latency
        title: Check the latency profile
        why: See whether the model itself got slower.
        action: {{diagnose: {{steps: [latency]}}}}
  - phase: containment
    steps:
      - id: scale-out
        title: Scale out
        why: More tasks absorb the load while you look.
        action: {{scale: {{delta: 2}}}}
branches:
  - when: If CPU/Memory high
    then: Scale out first.
    steps: [scale-out]
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(text)
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(RunbookError) as info:
        load_file(path)
    return [str(p) for p in info.value.problems]


def test_a_good_file_loads(tmp_path: Path) -> None:
    runbook = load_file(write(tmp_path, "slow", GOOD.format(name="slow")))
    assert [step.id for _, step in runbook.steps()] == ["check-latency", "scale-out"]
    assert runbook.steps()[1][1].action.kind == "scale"


def test_a_step_names_the_facts_of_the_record_that_show_it_done(tmp_path: Path) -> None:
    text = GOOD.format(name="slow").replace("action: {scale: {delta: 2}}",
                                            "action: {scale: {delta: 2}}\n        done_when: [scaled, joined]")
    step = load_file(write(tmp_path, "slow", text)).steps()[1][1]
    assert step.done_when == (RecordFact.SCALED, RecordFact.JOINED)
    assert load_library().runbooks["model_regression"].steps()[0][1].done_when == (
        RecordFact.ACKNOWLEDGED, RecordFact.JOINED)


@pytest.mark.parametrize(("edit", "line", "fragment"), [
    (lambda t: t.replace("delta: 2", "delta: 2, count: 4"), 18, "give exactly one of delta"),
    (lambda t: t.replace("{scale: {delta: 2}}", "{scale: {delta: 2}, stop: {}}"), 18, "give exactly one action"),
    (lambda t: t.replace("steps: [latency]", "steps: [vibes]"), 12, "phases[0].steps[0].action.diagnose.steps[0]"),
    (lambda t: t.replace("severity: P1", "severity: P9"), 4, "unknown severity 'P9'"),
    (lambda t: t.replace("title: Scale out", "titel: Scale out"), 16, "titel: Extra inputs are not permitted"),
    (lambda t: t.replace("id: scale-out", "id: Scale Out"), 15, "step ids are lowercase words"),
    (lambda t: t.replace("id: scale-out", "id: check-latency").replace("[scale-out]", "[check-latency]"), None,
     "repeated: check-latency"),
    (lambda t: t.replace("phase: containment", "phase: unknown"), 13, "phases[1].phase"),
    (lambda t: t.replace("steps: [scale-out]", "steps: [nowhere]"), None, "not here: nowhere"),
    (lambda t: t.replace("text_class: high_latency", "text_class: sadness"), 5, "unknown text class 'sadness'"),
    (lambda t: t.replace("name: slow", "name: fast"), 1, "name: is 'fast' but the file is slow.yaml"),
    (lambda t: t + "  - when: [\n", 24, "is not valid YAML"),  # where YAML finds the end
    (lambda t: t.replace("action: {scale: {delta: 2}}", "action: {scale: {delta: 2}}\n        done_when: [vibes]"),
     None, "unknown fact 'vibes' (known: acknowledged, joined,"),
    (lambda t: t.replace("action: {scale: {delta: 2}}", "action: {scale: {delta: 2}}\n        done_when: scaled"),
     None, "done_when is a list of facts"),
])
def test_each_problem_names_the_file_line_and_key(tmp_path: Path, edit, line: int | None, fragment: str) -> None:
    path = write(tmp_path, "slow", edit(GOOD.format(name="slow")))
    found = problems(path)
    assert any(fragment in p for p in found), found
    if line is not None:
        assert any(p.startswith(f"{path}:{line}:") for p in found if fragment in p), found
    assert all(p.startswith(str(path)) for p in found)


def test_phases_must_come_in_order(tmp_path: Path) -> None:
    text = GOOD.format(name="slow").replace("phase: triage", "phase: verification")
    assert any("phases go once each, in order" in p for p in problems(write(tmp_path, "slow", text)))


def test_files_that_are_not_runbooks_at_all(tmp_path: Path) -> None:
    assert "must be a mapping" in problems(write(tmp_path, "a", "- just\n- a list\n"))[0]
    binary = tmp_path / "b.yaml"
    binary.write_bytes(b"\xff\xfe\x00name")
    assert "is not UTF-8 text" in problems(binary)[0]


def test_a_teams_folder_overrides_and_adds_and_every_broken_file_is_reported(tmp_path: Path) -> None:
    bundled, team = tmp_path / "bundled", tmp_path / "team"
    bundled.mkdir()
    team.mkdir()
    write(bundled, "slow", GOOD.format(name="slow"))
    write(team, "slow", GOOD.format(name="slow").replace("Slow inference", "Our slow inference"))
    write(team, "ours", GOOD.format(name="ours"))
    library = load_library(team, bundled=bundled)
    assert library.names() == ["ours", "slow"] and library.runbooks["slow"].title == "Our slow inference"
    assert library.sources["slow"] == team / "slow.yaml"
    write(team, "broken1", "name: broken1\n")
    write(team, "broken2", ": :\n")
    with pytest.raises(RunbookError) as info:
        load_library(team, bundled=bundled)
    assert {Path(p.path).name for p in info.value.problems} == {"broken1.yaml", "broken2.yaml"}
    with pytest.raises(RunbookError, match="RUNBOOKS_DIR is not a folder"):
        load_library(tmp_path / "missing", bundled=bundled)


def _cli(command: str, folder: Path | None, *extra: str) -> tuple[int, str, str]:
    args = argparse.Namespace(runbooks_command=command, dir=str(folder) if folder else None,
                              name=extra[0] if extra else None)
    out, err = io.StringIO(), io.StringIO()
    return run_runbooks(args, default_dir="", out=out, err=err), out.getvalue(), err.getvalue()


def test_lint_passes_on_the_bundled_library_and_fails_on_a_broken_folder(tmp_path: Path) -> None:
    code, out, err = _cli("lint", None)
    assert code == 0 and "runbooks, no problems" in out, err
    write(tmp_path, "bad", textwrap.dedent(GOOD.format(name="bad")).replace("delta: 2", "delta: 0"))
    code, _, err = _cli("lint", tmp_path)
    assert code == 1 and "bad.yaml:18: phases[1].steps[0].action.scale: delta must not be 0" in err
    assert "1 problem in the runbook library" in err


def test_list_and_show(tmp_path: Path) -> None:
    write(tmp_path, "slow", GOOD.format(name="slow"))
    code, out, _ = _cli("list", tmp_path)
    assert code == 0 and "slow" in out and "2 steps (2 with actions)" in out
    code, out, _ = _cli("show", tmp_path, "slow")
    assert code == 0 and out.startswith("# Slow inference (`slow`)")
    assert "1. [ ] **Check the latency profile** — *diagnose: latency*" in out
    assert "2. [ ] **Scale out** — *scale +2 tasks*" in out and "**If CPU/Memory high:** Scale out first." in out
    code, _, err = _cli("show", tmp_path, "nope")
    assert code == 1 and "no runbook 'nope'" in err


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300))
def test_any_file_content_loads_or_is_a_clear_runbook_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_bytes(text.encode("utf-8", errors="replace"))
    try:
        load_file(path)
    except RunbookError as exc:
        assert exc.problems and all(str(p).startswith(str(path)) for p in exc.problems)
