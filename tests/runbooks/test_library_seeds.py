"""The runbook library carries the seed runbooks' playbooks.

For each seed operations runbook (/work/shared/seeds/000..004) a handful of its key steps are
listed as (runbook, phrase) pairs; each phrase must appear in that runbook's step titles, whys,
hows or branches. The files are read straight from runbooks/library/*.yaml with the schema.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from runbooks.classes import RUNBOOK_CLASSES
from runbooks.engine.schema import Runbook

LIBRARY = Path(__file__).resolve().parents[2] / "runbooks" / "library"


def _load() -> dict[str, tuple[Path, Runbook]]:
    books: dict[str, tuple[Path, Runbook]] = {}
    for path in sorted(LIBRARY.glob("*.yaml")):
        with path.open(encoding="utf-8") as handle:
            book = Runbook.model_validate(yaml.safe_load(handle))
        books[path.stem] = (path, book)
    return books


BOOKS = _load()


def _text(book: Runbook) -> str:
    parts: list[str] = []
    for _, step in book.steps():
        parts += [step.title, step.why, step.how]
    for branch in book.branches:
        parts += [branch.when, branch.then]
    return "\n".join(parts).lower()


# Key steps of each seed's playbook: (runbook name, lowercase phrase).
SEED_STEPS: dict[str, list[tuple[str, str]]] = {
    # 000: multimodal suite operations runbook (latency, error codes, drift, deploys, outage).
    "000": [
        ("high_latency", "desired-count 10"),
        ("high_latency", "cold starts"),
        ("high_error_rate", "doc_001"),
        ("high_error_rate", "img_001"),
        ("high_error_rate", "sys_001"),
        ("high_error_rate", "rate_001"),
        ("high_error_rate", "rate_limit_rpm"),
        ("model_drift", "export_predictions.py"),
        ("deployment_failure", "stoppedreason"),
        ("service_outage", "last_known_good_version"),
    ],
    # 001: model performance regression (auto-apply, rollback, PIR).
    "001": [
        ("model_regression", "disable auto-apply"),
        ("model_regression", "auto_apply_enabled=false"),
        ("model_regression", "assess the impact"),
        ("model_regression", "roll back to the previous model"),
        ("model_regression", "promote_model.py"),
        ("model_regression", "verify the rollback"),
        ("model_regression", "smoke_tests.sh"),
        ("model_regression", "re-enable auto-apply"),
        ("model_regression", "post-incident review within 48 hours"),
        ("model_regression", "at least 1000 new samples"),
    ],
    # 002: ML model incident response (containment, feature store, escalation matrix).
    "002": [
        ("security", "preserve logs"),
        ("security", "compliance officer"),
        ("data_quality", "feast materialize-incremental"),
        ("data_quality", "null rate"),
        ("data_quality", "feature store"),
        ("model_regression", "human-in-the-loop"),
        ("model_regression", "prediction threshold"),
        ("model_drift", "feature distributions"),
        ("service_outage", "replicas=0"),
    ],
    # 003: AI system incident response (provider outage, failover, security).
    "003": [
        ("service_outage", "provider outage"),
        ("service_outage", "fail over"),
        ("service_outage", "restore traffic"),
        ("high_latency", "provisioned concurrency"),
        ("high_latency", "faster providers"),
        ("security", "temporary service shutdown"),
        ("security", "security-mode"),
        ("model_regression", "quality-gates-cli.ts offline"),
        ("deployment_failure", "smoke tests"),
    ],
    # 004: scoring engine operations runbook (normalization context, DB, determinism).
    "004": [
        ("data_quality", "normalization context"),
        ("data_quality", "less than 24 hours"),
        ("data_quality", "validate-deterministic"),
        ("data_quality", "revert weights"),
        ("high_latency", "pg_stat_activity"),
        ("high_error_rate", "pg_isready"),
        ("high_error_rate", "connection pool"),
        ("service_outage", "emergency rollback"),
        ("model_drift", "divergence"),
    ],
}


@pytest.mark.parametrize(
    ("seed", "runbook", "phrase"),
    [(seed, runbook, phrase) for seed, pairs in SEED_STEPS.items() for runbook, phrase in pairs],
)
def test_seed_step_is_in_its_runbook(seed: str, runbook: str, phrase: str) -> None:
    assert runbook in BOOKS, f"no runbooks/library/{runbook}.yaml"
    _, book = BOOKS[runbook]
    assert phrase in _text(book), f"seed {seed}: {runbook} does not mention {phrase!r}"
    assert seed in book.seeds, f"{runbook} draws on seed {seed} but does not list it in seeds"


def test_every_seed_has_five_to_ten_key_steps() -> None:
    assert sorted(SEED_STEPS) == ["000", "001", "002", "003", "004"]
    for seed, pairs in SEED_STEPS.items():
        assert 5 <= len(pairs) <= 10, seed


def test_every_runbook_class_has_a_file() -> None:
    missing = [name for name in RUNBOOK_CLASSES if name not in BOOKS]
    assert not missing, f"no runbook file for: {', '.join(missing)}"


@pytest.mark.parametrize("stem", sorted(BOOKS))
def test_name_equals_file_stem(stem: str) -> None:
    path, book = BOOKS[stem]
    assert book.name == path.stem
    # Each incident-text class has its namesake; a runbook the model has no class for (saturation)
    # names none, and is chosen by its match rules or by a person.
    assert book.match.text_class == (path.stem if path.stem in RUNBOOK_CLASSES else None)


def test_model_regression_disables_rolls_back_then_re_enables() -> None:
    _, book = BOOKS["model_regression"]
    actions = [step.action for _, step in book.steps() if step.action is not None]
    guarded = [action for action in actions if action.kind in ("flag", "rollback")]
    assert [action.kind for action in guarded] == ["flag", "rollback", "flag"]
    first, rollback, last = guarded
    assert (first.flag.name, first.flag.value) == ("AUTO_APPLY_ENABLED", "false")
    assert rollback.rollback.kind == "model"
    assert (last.flag.name, last.flag.value) == ("AUTO_APPLY_ENABLED", "true")


@pytest.mark.parametrize("runbook", ["high_latency", "high_error_rate"])
def test_error_codes_are_carried(runbook: str) -> None:
    text = _text(BOOKS[runbook][1])
    for code in ("doc_001", "img_001", "sys_001", "rate_001"):
        assert code in text, f"{runbook} does not mention {code}"
