"""Errors of the model worker. Each carries the code and HTTP status the client is told.

The codes are the seeds' own: DOC_001 for text that cannot be classified, IMG_001 for images
that cannot be read, REQ_001 for a request of the wrong shape, SYS_001 for the worker's own
failures.
"""

from __future__ import annotations


class InferenceError(Exception):
    code = "SYS_001"
    http_status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict[str, str]:
        return {"error": self.message, "code": self.code}


class BadText(InferenceError):
    code = "DOC_001"
    http_status = 400


class BadImage(InferenceError):
    code = "IMG_001"
    http_status = 400


class BadRequest(InferenceError):
    code = "REQ_001"
    http_status = 400


class ModelNotFound(InferenceError):
    code = "MODEL_404"
    http_status = 404


class PayloadTooLarge(InferenceError):
    code = "REQ_001"
    http_status = 413


class Overloaded(InferenceError):
    """The model's queue is full; the client should come back shortly."""

    code = "RATE_001"
    http_status = 503


class BatchFailed(InferenceError):
    """The model raised while running a batch; every request in it gets this."""

    code = "SYS_001"
    http_status = 500


class ModelNotReady(InferenceError):
    code = "SYS_001"
    http_status = 503


class VersionChanged(InferenceError):
    """The caller acted on a served version that is no longer the one serving."""

    code = "VERSION_CHANGED"
    http_status = 409

    def __init__(self, name: str, *, expected: str, serving: str | None) -> None:
        super().__init__(f"{name} is serving {serving or 'nothing'}, not {expected}: someone else changed it; "
                         "nothing was done")
        self.expected = expected
        self.serving = serving


class DeployRefused(InferenceError):
    """A load or rollback that cannot be done (a broken version, nothing left to roll back to);
    the served model and the registry are as they were."""

    code = "MODEL_422"
    http_status = 422


class NoGoldenSet(InferenceError):
    """The version was published without a golden set, so there is nothing to evaluate it on."""

    code = "NO_GOLDEN_SET"
    http_status = 404


class NoBaseline(InferenceError):
    """The serving version was published without a drift baseline."""

    code = "NO_BASELINE"
    http_status = 404
