"""Keeping API keys out of what users see: error messages, exception chains and logs.

`Redactor` stars a backend's secrets out of text and tells whether an exception (or one
chained to it, or the response a status error carries) shows one. The HTTP layer
(`reasoning_graph.providers.http`) and `LangChainProvider` use it for every error they raise.

httpcore, under both httpx and the `openai` SDK's fork of it, logs every response header at
DEBUG, so a server that echoes the key in a header would put it in the logs:
`hide_in_transport_logs` adds a filter to those loggers that stars out the secrets of live
backends, holding their redactors weakly. It is the one piece of process-wide state here, as
logging itself is process-wide, and it costs nothing unless those loggers log at DEBUG.
"""

from __future__ import annotations

import logging
import re
import threading
import weakref
from collections.abc import Iterable

import httpx
import openai

__all__ = ["STARS", "Redactor", "hide_in_transport_logs"]

STARS = "**********"
"""What a secret is replaced with."""

_SHORT_SECRET = 8  # shorter secrets are starred as whole tokens only (see `Redactor`)
# The loggers that print response headers at DEBUG (httpx's transport and the SDK's fork of it).
_TRANSPORT_LOGGERS = ("httpcore.http11", "httpcore.http2", "httpcore2.http11", "httpcore2.http2")


class Redactor:
    """Stars secrets (API keys) out of text.

    A secret of 8 characters or more is starred wherever it occurs; a shorter one (a
    placeholder such as `"test"`) only where it stands as a whole token, so that its letters
    inside other words survive. Empty secrets are ignored.

    Args:
        secrets: The values to hide.

    Example:
        >>> Redactor(["sk-0123456789"])("bad key sk-0123456789")
        'bad key **********'
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        self._patterns = [
            re.compile(
                re.escape(secret)
                if len(secret) >= _SHORT_SECRET
                else rf"(?<![\w-]){re.escape(secret)}(?![\w-])"
            )
            for secret in dict.fromkeys(secrets)
            if secret
        ]

    def __call__(self, text: str) -> str:
        """`text` with every secret starred out."""
        for pattern in self._patterns:
            text = pattern.sub(STARS, text)
        return text

    def shows_secret(self, error: BaseException) -> bool:
        """Whether `error`, or an exception chained to it, shows a secret: in its str, repr or
        args (what tracebacks and loggers print) or, for a status error, in the response it
        carries (a server that echoes the key)."""
        seen: set[int] = set()
        current: BaseException | None = error
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            texts = [str(current), repr(current), repr(current.args)]
            if isinstance(current, openai.APIStatusError):
                texts += [repr(current.body), repr(dict(current.response.headers))]
            elif isinstance(current, httpx.HTTPStatusError):
                texts += [current.response.text, repr(dict(current.response.headers))]
            if any(self(text) != text for text in texts):
                return True
            current = current.__cause__ or current.__context__
        return False

    def __bool__(self) -> bool:
        """Whether there is a secret to hide."""
        return bool(self._patterns)

    def __repr__(self) -> str:
        return f"Redactor({len(self._patterns)} secret(s))"


class _TransportLogScrubber(logging.Filter):
    """Stars the secrets of live backends out of log records; keeps its redactors weakly."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._redactors: weakref.WeakSet[Redactor] = weakref.WeakSet()

    def add(self, redactor: Redactor) -> None:
        with self._lock:
            self._redactors.add(redactor)

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            redactors = list(self._redactors)
        if redactors:
            message = clean = record.getMessage()
            for redact in redactors:
                clean = redact(clean)
            if clean != message:
                record.msg, record.args = clean, None
        return True  # a filter that only edits: every record is still logged


_SCRUBBER = _TransportLogScrubber()


def hide_in_transport_logs(redactor: Redactor) -> None:
    """Star `redactor`'s secrets out of the HTTP transports' log records while it lives.

    httpcore logs every response header at DEBUG, so a server that echoes the key in a
    header (`WWW-Authenticate`, a `Location` URL) would put it in the logs. The filter costs
    nothing unless those loggers are enabled for DEBUG. A redactor with no secret is ignored.
    """
    if not redactor:
        return
    _SCRUBBER.add(redactor)
    for name in _TRANSPORT_LOGGERS:
        logger = logging.getLogger(name)
        if _SCRUBBER not in logger.filters:
            logger.addFilter(_SCRUBBER)
