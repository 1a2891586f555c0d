"""Errors in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`.

`APIError` is what a handler raises to answer with an error; `from_library_error` maps the
library's `ReasoningGraphError` tree onto HTTP statuses:

| raised | status | type |
|---|---|---|
| `ConfigurationError`, `BudgetError` | 400 | `invalid_request_error` |
| `ProviderError`, `NoCandidatesError` (every upstream call failed) | 502 | `upstream_error` |
| `DeadlineExceededError` | 504 | `timeout` |

Every message passes through a `Redactor` first, so no upstream or server key is ever echoed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from reasoning_graph.errors import (
    BudgetError,
    ConfigurationError,
    DeadlineExceededError,
    NoCandidatesError,
    ProviderError,
    ReasoningGraphError,
)

__all__ = ["APIError", "Redactor", "error_body", "from_library_error"]

_STARS = "**********"


class APIError(Exception):
    """An HTTP error answer in OpenAI's shape.

    Args:
        status: The HTTP status.
        message: What went wrong and what to do; shown to the client.
        type: OpenAI's error `type`, e.g. `invalid_request_error`.
        param: The request field at fault, e.g. `reasoning_graph.n`; `None` when none is.
        code: A machine-readable code, e.g. `invalid_api_key`; `None` when none applies.
        headers: Extra response headers (e.g. `Retry-After`).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = dict(headers or {})

    def body(self, redactor: Redactor | None = None) -> dict[str, Any]:
        """The JSON body of this error, its message redacted."""
        message = redactor.redact(self.message) if redactor is not None else self.message
        return error_body(message, type=self.type, param=self.param, code=self.code)


def error_body(
    message: str, *, type: str, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    """`{"error": {...}}` as OpenAI writes it.

    Example:
        ```python
        error_body("no such route", type="invalid_request_error", code="not_found")
        ```
    """
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def from_library_error(error: ReasoningGraphError) -> APIError:
    """The HTTP answer to an error the reasoning run raised."""
    message = " ".join(str(error).split())
    if isinstance(error, ConfigurationError | BudgetError):
        code = "budget_too_small" if isinstance(error, BudgetError) else "invalid_value"
        return APIError(400, message, code=code)
    if isinstance(error, DeadlineExceededError):
        return APIError(504, message, type="timeout", code="deadline_exceeded")
    if isinstance(error, NoCandidatesError | ProviderError):
        return APIError(
            502,
            f"the upstream model failed: {message}",
            type="upstream_error",
            code="upstream_failed",
        )
    return APIError(500, "the reasoning run failed", type="server_error", code=None)


class Redactor:
    """Stars out secrets (the upstream key, the server's own key) wherever they appear.

    Keys shorter than 8 characters are starred only as whole tokens, so a short placeholder
    does not mangle ordinary words.

    Example:
        ```python
        Redactor(["sk-secret-123"]).redact("bad key sk-secret-123")  # "bad key **********"
        ```
    """

    def __init__(self, secrets: Iterable[str | None]) -> None:
        self._patterns = [
            re.compile(re.escape(s) if len(s) >= 8 else rf"(?<![\w-]){re.escape(s)}(?![\w-])")
            for s in sorted({s for s in secrets if s}, key=len, reverse=True)
        ]

    def redact(self, text: str) -> str:
        """`text` with every secret starred out."""
        for pattern in self._patterns:
            text = pattern.sub(_STARS, text)
        return text
