"""The models the server runs on, and its limit on runs in flight.

`Upstream` holds the default generator (built by `make_generator`, so `serve` reaches the
same backends as `solve`) and, for the `openai` provider, one `OpenAIProvider` per upstream
model a request names (`weighted_vote@8:MODEL`). All of them share one HTTP connection
pool, so forgetting the least recently used one (past `max_upstream_models`) closes nothing
a run in flight may still use; each lets `upstream_concurrency` requests be in flight.

The embedded llama.cpp model is one object that is not thread-safe: its provider serialises
every generation behind a lock, so concurrent runs on it wait for each other (and a
cancelled run's generation in progress finishes before the next starts). Keep
`max_in_flight` small there.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from reasoning_graph.providers.base import Generator
from reasoning_graph.providers.openai import OpenAIProvider
from reasoning_graph.providers.registry import make_generator
from reasoning_graph.serve.errors import APIError, Redactor
from reasoning_graph.serve.settings import ServeSettings

if TYPE_CHECKING:
    import httpx2

__all__ = ["RunSlots", "Upstream"]


class Upstream:
    """The generators requests run on: the default, and one per upstream model named.

    Raises:
        ConfigurationError: The settings do not describe a usable backend (from
            `make_generator`).

    Example:
        ```python
        upstream = Upstream(ServeSettings(base_url="http://localhost:8000/v1", model="m"))
        upstream.generator(None).model_name, upstream.generator("other-model").model_name
        ```
    """

    def __init__(self, settings: ServeSettings) -> None:
        key = settings.upstream_api_key
        self._key = key.get_secret_value() if key is not None else None
        self._settings = settings
        self._http_client: httpx2.AsyncClient | None = None
        self._named: OrderedDict[str, OpenAIProvider] = OrderedDict()
        self._default = make_generator(
            settings.provider,
            model=settings.model,
            base_url=settings.base_url,
            api_key=self._key,
            extra_body=settings.upstream_extra_body,
        )
        if isinstance(self._default, OpenAIProvider):  # again, on the shared connection pool
            self._default = self._openai(self._default.model_name)

    @property
    def model_name(self) -> str:
        """The default upstream model's name."""
        return self._default.model_name

    @property
    def redactor(self) -> Redactor:
        """Stars out the upstream key and the server's own key."""
        own = self._settings.api_key
        return Redactor(
            [
                self._key or os.environ.get("OPENAI_API_KEY"),
                own.get_secret_value() if own is not None else None,
            ]
        )

    def generator(self, model: str | None) -> Generator:
        """The generator for upstream `model`; `None` (or the default's name): the default.

        Raises:
            APIError: 400 when the backend is the embedded model, which serves one model.
        """
        if model is None or model == self._default.model_name:
            return self._default
        if not isinstance(self._default, OpenAIProvider):
            raise APIError(
                400,
                f"upstream model {model!r}: this server runs the local model "
                f"{self._default.model_name!r} only; drop ':{model}' from the model name",
                param="model",
                code="model_not_found",
            )
        provider = self._named.pop(model, None) or self._openai(model)
        self._named[model] = provider
        while len(self._named) > self._settings.max_upstream_models:
            self._named.popitem(last=False)
        return provider

    def _openai(self, model: str) -> OpenAIProvider:
        return OpenAIProvider(
            model,
            base_url=self._settings.base_url,
            api_key=self._key,
            max_concurrency=self._settings.upstream_concurrency,
            http_client=self._client(),
            extra_body=self._settings.upstream_extra_body,
        )

    def _client(self) -> httpx2.AsyncClient:
        if self._http_client is None:
            import openai

            self._http_client = openai.DefaultAsyncHttpx2Client()
        return self._http_client

    async def aclose(self) -> None:
        """Close the upstream connections."""
        if self._http_client is not None:
            await self._http_client.aclose()
            self._http_client = None


class RunSlots:
    """Counts runs in flight; one past `limit` is refused with HTTP 429 and `Retry-After`."""

    def __init__(self, limit: int, *, retry_after_s: int) -> None:
        self.limit = limit
        self.in_flight = 0
        self._retry_after_s = retry_after_s

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Hold one slot for the block.

        Raises:
            APIError: 429 when every slot is taken.
        """
        if self.in_flight >= self.limit:
            raise APIError(
                429,
                f"the server is running its limit of {self.limit} requests; retry after "
                f"{self._retry_after_s} s",
                type="rate_limit_error",
                code="too_many_requests",
                headers={"Retry-After": str(self._retry_after_s)},
            )
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1
