"""Errors of the runbook library: each names the file, the line and the problem."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    path: str
    line: int | None
    where: str  # the key path, e.g. phases[0].steps[2].action
    message: str

    def __str__(self) -> str:
        at = f"{self.path}:{self.line}" if self.line else self.path
        return f"{at}: {self.where + ': ' if self.where else ''}{self.message}"


class RunbookError(Exception):
    """One or more runbook files are broken; ``problems`` lists each one."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems
