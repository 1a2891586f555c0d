"""Fault injection for `OpenAIStubServer`: which chat requests fail, and how they fail.

`Faults` says how often and which `FaultKind`s; `Faults.draw` picks the fault of one try of
a request body. The draw is deterministic: the `i`-th arrival of a given request body gets
the fault that `Random(f"{seed}:{digest(body)}:{i}")` picks, whatever order concurrent
requests arrive in. `inject_fault` writes the HTTP answer of a drawn fault (all but `length`,
which the server applies to a normal completion).

Needs `aiohttp` (the `dev` extra), imported when a fault is answered.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import socket
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["FAULT_KINDS", "FaultKind", "Faults", "inject_fault", "openai_error"]

FaultKind = Literal[
    "429_retry_after",
    "429",
    "500",
    "503",
    "timeout",
    "reset",
    "truncated_json",
    "malformed_json",
    "empty_choices",
    "length",
]
"""What an injected fault does to a chat request:

- `429_retry_after`: HTTP 429 with a `Retry-After` header of a few hundredths of a second
  (`Faults.retry_after_s`, written as a decimal);
- `429`: HTTP 429 without `Retry-After`;
- `500`, `503`: HTTP 500 or 503 in OpenAI's error shape;
- `timeout`: no answer for `Faults.hang_s` seconds (a client with a shorter timeout gives
  up and disconnects; one still waiting then gets a normal answer);
- `reset`: the connection is closed at once with a TCP reset, nothing sent;
- `truncated_json`: HTTP 200, `application/json`, the completion's JSON cut in half;
- `malformed_json`: HTTP 200, `application/json`, the completion's JSON with a syntax error;
- `empty_choices`: HTTP 200, a well-formed completion with `"choices": []`;
- `length`: a normal completion one of whose choices is cut to half its words with
  `finish_reason: "length"`, as if `max_tokens` had run out (a valid answer, kept in
  `responses`).
"""

FAULT_KINDS: tuple[FaultKind, ...] = get_args(FaultKind)
"""Every `FaultKind`, the default of `Faults.kinds`."""


@dataclass(frozen=True)
class Faults:
    """Which chat requests `OpenAIStubServer` answers with a fault, and how.

    Attributes:
        rate: Share of eligible requests that get a fault, from 0 to 1.
        kinds: The faults to pick from, uniformly; defaults to all of `FAULT_KINDS`.
        seed: Seed of the draws; the same seed and requests give the same faults.
        retry_after_s: Range of the `Retry-After` seconds of `429_retry_after`.
        hang_s: Seconds a `timeout` fault holds the request; make it longer than the
            client's timeout.
        where: `(request_json, arrival) -> bool`, which requests are eligible, where
            `arrival` counts earlier arrivals of the same body (0 the first try, 1 its first
            retry, ...). Defaults to every valid chat request. E.g. fail the branch of
            seed 3 every time: `where=lambda body, i: body.get("seed") == 3` with `rate=1`.
        on_hold: `(request_headers) -> None`, called on the server's thread when a `timeout`
            fault starts holding a request. A test client can give up on that request at
            once (virtual time) instead of waiting out a real timeout, which a slow but
            healthy answer on a loaded machine could also reach. Defaults to none.

    Example:
        ```python
        with OpenAIStubServer(faults=Faults(rate=0.2, seed=7)) as server:
            ...
            server.injected  # {"503": 4, "timeout": 2, ...}
        ```
    """

    rate: float = 0.2
    kinds: Sequence[FaultKind] = FAULT_KINDS
    seed: int = 0
    retry_after_s: tuple[float, float] = (0.01, 0.05)
    hang_s: float = 5.0
    where: Callable[[Mapping[str, Any], int], bool] | None = None
    on_hold: Callable[[Mapping[str, str]], None] | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"rate={self.rate!r} must be between 0 and 1.")
        unknown = [kind for kind in self.kinds if kind not in FAULT_KINDS]
        if not self.kinds or unknown:
            raise ValueError(
                f"kinds={list(self.kinds)!r} must name at least one of {', '.join(FAULT_KINDS)}."
            )
        low, high = self.retry_after_s
        if not 0.0 <= low <= high:
            raise ValueError(f"retry_after_s={self.retry_after_s!r} must be 0 <= low <= high.")
        if self.hang_s <= 0:
            raise ValueError(f"hang_s={self.hang_s!r} must be > 0 seconds.")

    def draw(self, body: Mapping[str, Any], arrival: int) -> tuple[FaultKind, random.Random] | None:
        """The fault for the `arrival`-th try of `body` and the random source it may use."""
        if self.where is not None and not self.where(body, arrival):
            return None
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        rng = random.Random(f"{self.seed}:{digest}:{arrival}")
        if rng.random() >= self.rate:
            return None
        return rng.choice(list(self.kinds)), rng


async def inject_fault(
    kind: FaultKind,
    rng: random.Random,
    faults: Faults,
    request: web.Request,
    *,
    complete: Callable[[], dict[str, Any]],
    keep: Callable[[dict[str, Any]], None],
) -> web.Response:
    """The answer of an injected fault other than `length`.

    Args:
        kind: The fault drawn for the request.
        rng: The random source of the draw (for the `Retry-After` seconds).
        faults: The settings the fault was drawn from.
        request: The request being answered (a `reset` closes its connection).
        complete: Builds the normal completion of the request, when a fault needs one.
        keep: Records a completion actually sent (after a `timeout` the client may still
            read it).
    """
    from aiohttp import web

    if kind == "429_retry_after":
        wait = rng.uniform(*faults.retry_after_s)
        headers = {"Retry-After": f"{wait:.3f}"}
        return openai_error(429, "Rate limit reached (injected).", "rate_limit_error", headers)
    if kind == "429":
        return openai_error(429, "Rate limit reached (injected).", "rate_limit_error")
    if kind in ("500", "503"):
        return openai_error(int(kind), f"Server error {kind} (injected).", "server_error")
    if kind == "timeout":
        if faults.on_hold is not None:
            faults.on_hold(request.headers)
        await asyncio.sleep(faults.hang_s)  # cancelled when the client gives up
        completion = complete()
        keep(completion)
        return web.json_response(completion)
    if kind == "reset":
        _reset(request)
        await asyncio.sleep(faults.hang_s)  # cancelled as the connection is lost
        return web.Response(status=204)
    if kind == "empty_choices":
        empty = {**complete(), "choices": []}
        empty["usage"] = {**empty["usage"], "completion_tokens": 0}
        empty["usage"]["total_tokens"] = empty["usage"]["prompt_tokens"]
        return web.json_response(empty)
    text = json.dumps(complete())
    if kind == "truncated_json":
        text = text[: len(text) // 2]
    else:  # malformed_json: a trailing comma
        text = text[:-1] + ",}"
    return web.Response(text=text, content_type="application/json")


def openai_error(
    status: int,
    message: str,
    kind: str = "invalid_request_error",
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """An error response in OpenAI's shape: `{"error": {"message", "type", ...}}`."""
    from aiohttp import web

    error = {"message": message, "type": kind, "param": None, "code": None}
    return web.json_response({"error": error}, status=status, headers=headers)


def _reset(request: web.Request) -> None:
    """Close the request's connection at once with a TCP reset (RST), sending nothing."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:  # linger on, timeout 0: close() sends RST instead of FIN
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
