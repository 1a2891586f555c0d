"""`RewardModelVerifier`: a process or outcome reward model served over HTTP by vLLM.

vLLM serves reward models with its pooling runner (`vllm serve MODEL --runner pooling`), at
the server root, not under `/v1`:

- process rewards: `POST /pooling` with `"task": "token_classify"`. A PRM such as
  Qwen2.5-Math-PRM uses STEP pooling (`step_tag_id` = the `<extra_0>` token), so `data[0].data`
  holds one row of class probabilities per step marker; with ALL pooling it holds one row
  per prompt token, and the rows at the marker's positions (found with `POST /tokenize`) are
  the step scores.
- outcome rewards: `POST /classify`; `data[0].probs` are the class probabilities.

Any HTTP reward endpoint that answers with the same shapes works too. The bodies are read by
`reasoning_graph.verifiers.vllm_pooling`; this module makes the requests.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, Unpack

import httpx
from pydantic import SecretStr

from reasoning_graph.errors import ConfigurationError, ProviderResponseError
from reasoning_graph.providers.http import ErrorHints, HttpLayer, HttpLimits
from reasoning_graph.providers.retry import RetryCounter
from reasoning_graph.usage import TokenUsage
from reasoning_graph.verifiers.reward_format import (
    PRM_SYSTEM_PROMPT,
    PromptFormat,
    RewardFormat,
    RewardKind,
    RewardModel,
    RewardOptions,
)
from reasoning_graph.verifiers.vllm_pooling import (
    classify_probs,
    marker_rows,
    pooling_rows,
    pooling_usage,
    token_ids,
)

__all__ = [
    "PRM_SYSTEM_PROMPT",
    "PromptFormat",
    "RewardKind",
    "RewardModelVerifier",
    "RewardOptions",
]

_ACTIVATION_HINT = ", and that the server applies the activation (use_activation is on by default)"
_HINTS = ErrorHints(
    unusable="Check that base_url points at a vLLM pooling server's root.",
    refused="Check that the served model supports this task and the model name.",
    by_status={
        401: "Check the API key (api_key=...).",
        403: "Check that the API key may use this model.",
        404: "Check that base_url is the server root and that the server runs a pooling "
        "model (vllm serve MODEL --runner pooling).",
    },
)


class RewardModelVerifier(RewardModel):
    """Score solutions with a reward model served by vLLM's pooling runner.

    A process reward model (`kind="process"`) scores each step: the solution is split with
    `step_separator`, the steps are joined with `step_marker` after each one (Qwen2.5-Math-PRM:
    `<extra_0>`; Math-Shepherd: `" ки"`), and the score of a step is the positive-class
    probability at its marker. `score()` folds the step scores with `aggregation`. An outcome
    reward model (`kind="outcome"`) scores the whole solution; its `score_steps()` scores each
    prefix of the steps, one request per step.

    A reward model generates nothing, so `reserve_tokens` is 0. Usage reports the prompt tokens
    the server counted and one call (and one request) per successful scoring request; each
    score counts one call against `max_calls` (`reserve_calls`).

    Requests go through the shared HTTP layer (`reasoning_graph.providers.http`), as the
    `OpenAIProvider`'s do: 408, 429 (honouring `Retry-After`), 5xx, timeouts, lost connections
    and garbled JSON get another attempt; other 4xx are final; the API key is starred out of
    every error message.

    Example:
        ```python
        # vllm serve Qwen/Qwen2.5-Math-PRM-7B --runner pooling
        prm = RewardModelVerifier("http://localhost:8000", "Qwen/Qwen2.5-Math-PRM-7B")
        verdict = await prm.score_steps("What is 2 + 2?", ["2 + 2 = 4.", "The answer is 4."])
        verdict.step_scores  # e.g. [0.98, 0.97]
        ```
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        step_token_id: int | None = None,
        api_key: str | SecretStr | None = None,
        http_client: httpx.AsyncClient | None = None,
        max_concurrency: int = 16,
        timeout_s: float = 60.0,
        max_attempts: int = 4,
        retry_backoff_s: float = 0.5,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        **options: Unpack[RewardOptions],
    ) -> None:
        """Configure the verifier; no request is made until a score is asked for.

        Args:
            base_url: The server, with or without a trailing `/v1` (stripped: the pooling
                routes sit at the root), e.g. `"http://localhost:8000"`.
            model: The served model name.
            step_token_id: The marker's token id, used only when the server returns one row per
                token (ALL pooling). Defaults to asking the server's `/tokenize` once.
            api_key: Sent as a bearer token when given. Never shown in repr or errors.
            http_client: An `httpx.AsyncClient` to send with, never closed here. Defaults to
                one client per event loop.
            max_concurrency: Most requests in flight at once (per event loop).
            timeout_s: Seconds one HTTP request may take before it is retried.
            max_attempts: Tries per request, the first included.
            retry_backoff_s: First wait between attempts without a `Retry-After` hint.
            sleep: Coroutine function that waits between attempts; tests pass a recorder.
            **options: The prompt format (`kind`, `step_separator`, `step_marker`,
                `prompt_format`, `system_prompt`, `positive_index`, `aggregation`); each
                omitted one takes its `RewardFormat` default (a Qwen2.5-Math PRM's).

        Raises:
            ConfigurationError: An option is out of range or not one of its choices.
        """
        self._format = RewardFormat(**options)
        if not model:
            raise ConfigurationError("model is empty; pass the served reward model's name.")
        root = base_url.rstrip("/")
        if root.endswith("/v1"):
            root = root[: -len("/v1")]
        if not root.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"base_url={base_url!r} must be an http(s) URL, e.g. 'http://localhost:8000'."
            )
        self._root = root
        self._model = model
        self._marker_id = step_token_id
        self._http = HttpLayer(
            make_client=httpx.AsyncClient,
            close_client=httpx.AsyncClient.aclose,
            shared_client=http_client,
            api_key=api_key if isinstance(api_key, SecretStr) else SecretStr(api_key or ""),
            hints=_HINTS,
            limits=HttpLimits(max_concurrency, max_attempts, timeout_s, retry_backoff_s),
            sleep=sleep,
        )

    @property
    def base_url(self) -> str:
        """The server root the routes are posted to."""
        return self._root

    @property
    def retries(self) -> RetryCounter:
        """Retries spent so far, in total and by reason."""
        return self._http.retries

    def __repr__(self) -> str:
        return self._http.redact(
            f"RewardModelVerifier({self._root!r}, {self._model!r}, kind={self._format.kind!r}, "
            f"aggregation={self._format.aggregation!r})"
        )

    async def aclose(self) -> None:
        """Close the client made for the running event loop (a passed `http_client` stays open)."""
        await self._http.aclose()

    # -- requests ---------------------------------------------------------------------------

    def _prompt(self, question: str, answer: str) -> dict[str, Any]:
        """The request's input part: `input` (text format) or `messages` (chat format)."""
        prompt = self._format.prompt(question, answer)
        return {"input": prompt} if isinstance(prompt, str) else {"messages": prompt}

    async def _outcome(self, question: str, solution: str) -> tuple[float, TokenUsage]:
        """`POST /classify`; the positive class probability of the first result."""
        body = await self._post(
            "/classify", {"model": self._model, **self._prompt(question, solution)}
        )
        probs = classify_probs(body, where=self._where("/classify"))
        return self._probability(probs, "/classify"), pooling_usage(body)

    async def _process(self, question: str, steps: list[str]) -> tuple[list[float], TokenUsage]:
        """`POST /pooling` with `token_classify`; the rows at the step markers."""
        prompt = self._prompt(question, self._format.marked(steps))
        body = await self._post(
            "/pooling", {"model": self._model, "task": "token_classify", **prompt}
        )
        rows = pooling_rows(body, where=self._where("/pooling"))
        if len(rows) != len(steps):
            rows = await self._rows_at_markers(rows, prompt, len(steps))
        return [self._probability(row, "/pooling") for row in rows], pooling_usage(body)

    async def _rows_at_markers(
        self, rows: list[Any], prompt: dict[str, Any], expected: int
    ) -> list[Any]:
        """Pick the rows at the marker token's positions (the server pooled ALL tokens)."""
        if self._marker_id is None:
            marker = await self._tokenize(
                {"prompt": self._format.step_marker.strip(), "add_special_tokens": False}
            )
            if len(marker) != 1:
                raise ProviderResponseError(
                    f"step_marker={self._format.step_marker!r} is {len(marker)} tokens for "
                    f"{self._model!r}; pass step_token_id=... for the token the PRM scores at."
                )
            self._marker_id = marker[0]
        if "input" in prompt:
            tokens = await self._tokenize({"prompt": prompt["input"]})
        else:
            tokens = await self._tokenize({"messages": prompt["messages"]})
        return marker_rows(rows, tokens, self._marker_id, expected, where=self._where("/pooling"))

    async def _tokenize(self, request: dict[str, Any]) -> list[int]:
        body = await self._post("/tokenize", {"model": self._model, **request})
        return token_ids(body, where=f"{self._root}/tokenize")

    def _probability(self, row: list[Any], route: str) -> float:
        """The positive-class probability of one row, checked to lie in [0, 1]."""
        return self._format.probability(row, where=self._where(route), hint=_ACTIVATION_HINT)

    def _where(self, route: str) -> str:
        """How messages name a route: `"ROOT/ROUTE (model 'NAME')"`."""
        return f"{self._root}{route} (model {self._model!r})"

    async def _post(self, route: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST `payload` to `route` through the HTTP layer; the JSON body."""
        headers = self._http.bearer_headers()
        timeout = self._http.limits.timeout_s

        async def call(client: httpx.AsyncClient) -> dict[str, Any]:
            response = await client.post(
                f"{self._root}{route}", json=payload, headers=headers, timeout=timeout
            )
            return _json_body(response)

        return await self._http.send(call, where=self._where(route))


def _json_body(response: httpx.Response) -> dict[str, Any]:
    """The response's JSON object; raises what the retry policy understands."""
    response.raise_for_status()
    content_type = response.headers.get("content-type", "")
    if "json" not in content_type:  # a wrong URL serving a web page: final
        raise ValueError(f"a body that is not JSON ({content_type!r}): {response.text[:80]!r}")
    body = json.loads(response.text)  # JSONDecodeError: cut short or garbled, retried
    if not isinstance(body, dict):
        raise ValueError(f"JSON that is not an object: {response.text[:80]!r}")
    return body
