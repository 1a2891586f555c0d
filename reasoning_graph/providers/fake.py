"""Scripted fakes for tests and examples: a generator and a verifier that call no model."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from reasoning_graph.online_stop import STOP_REASON, TraceMonitor
from reasoning_graph.providers.base import ChatMessage, Completion, Generation, TokenLogprob
from reasoning_graph.state import OnlineStopSettings
from reasoning_graph.usage import TokenUsage
from reasoning_graph.verifiers.base import Verdict

__all__ = ["FakeGenerator", "FakeVerifier", "GenerateCall"]

Script = Sequence[str] | Callable[[Sequence[ChatMessage], int], str]


Logprobs = Sequence[Sequence[float]] | Callable[[int], Sequence[float]]


class GenerateCall:
    """One recorded `FakeGenerator.generate` call."""

    def __init__(
        self,
        messages: Sequence[ChatMessage],
        n: int,
        max_tokens: int,
        seed: int | None,
        *,
        logprobs: bool = False,
        top_logprobs: int = 0,
    ) -> None:
        self.messages = list(messages)
        self.n = n
        self.max_tokens = max_tokens
        self.seed = seed
        self.logprobs = logprobs
        self.top_logprobs = top_logprobs


class FakeGenerator:
    """A generator that replays a script; one token per whitespace-separated word.

    Args:
        script: Texts handed out in turn (cycling), or a function of (messages, index of
            the completion across the whole run) returning the text.
        model_name: Reported model name.
        logprobs: With it, `generate(logprobs=True)` returns token logprobs: every word of
            completion `i` (counted across the run) gets the logprobs `logprobs[i]`
            (cycling), or `logprobs(i)`, best first: the first is the sampled word's, and the
            first `top_logprobs` asked for are its alternatives (the word, then `alt1`,
            `alt2`, ...). Without it (the default), completions carry no logprobs, as from a
            server that does not return them.
        stops_online: Honour `generate(online_stop=...)`: with logprobs, a completion ends
            at the word on which its `TraceMonitor` says stop (that word included, as a
            stream closed after it), with `finish_reason="low_confidence"`. `False` makes
            a generator that cannot stop a trace online, as most providers.

    Example:
        ```python
        generator = FakeGenerator(["The answer is 4.", "The answer is 5.", "The answer is 4."])
        result = await asolve("2 + 2?", generator=generator, n=3)
        result.answer  # "4"
        ```
    """

    def __init__(
        self,
        script: Script,
        *,
        model_name: str = "fake",
        logprobs: Logprobs | None = None,
        stops_online: bool = True,
    ) -> None:
        self._script = script
        self._stops_online = stops_online
        self._model_name = model_name
        self._logprobs = logprobs
        self.calls: list[GenerateCall] = []
        self.completions_made = 0

    @property
    def model_name(self) -> str:
        """The scripted model's name."""
        return self._model_name

    @property
    def stops_online(self) -> bool:
        """Whether `generate(online_stop=...)` stops low-confidence completions."""
        return self._stops_online

    def _text(self, messages: Sequence[ChatMessage]) -> str:
        index = self.completions_made
        self.completions_made += 1
        if callable(self._script):
            return self._script(messages, index)
        return self._script[index % len(self._script)]

    def _token_logprobs(self, words: list[str], top_logprobs: int) -> list[TokenLogprob] | None:
        if self._logprobs is None:
            return None
        index = self.completions_made - 1
        if callable(self._logprobs):
            ranked = list(self._logprobs(index))
        else:
            ranked = list(self._logprobs[index % len(self._logprobs)])
        tokens = []
        for word in words:
            names = [word, *(f"alt{j}" for j in range(1, len(ranked)))]
            top = dict(zip(names, ranked, strict=True)) if top_logprobs else {}
            top = dict(list(top.items())[:top_logprobs])
            tokens.append(TokenLogprob(token=word, logprob=ranked[0], top_logprobs=top))
        return tokens

    async def generate(
        self,
        messages: Sequence[ChatMessage],
        *,
        n: int = 1,
        max_tokens: int = 512,
        temperature: float = 0.7,
        stop: Sequence[str] | None = None,
        seed: int | None = None,
        logprobs: bool = False,
        top_logprobs: int = 0,
        online_stop: OnlineStopSettings | None = None,
    ) -> Generation:
        """Return the next `n` scripted texts, cut to `max_tokens` words (and, with
        `online_stop`, at the word where the trace's confidence fell too low)."""
        self.calls.append(
            GenerateCall(
                messages, n, max_tokens, seed, logprobs=logprobs, top_logprobs=top_logprobs
            )
        )
        completions = []
        for offset in range(n):
            words = self._text(messages).split()
            cut = words[:max_tokens]
            finish = "length" if len(words) > max_tokens else "stop"
            tokens = self._token_logprobs(cut, top_logprobs) if logprobs else None
            if online_stop is not None and self._stops_online and tokens is not None:
                monitor = TraceMonitor(online_stop)
                end = next((i + 1 for i, t in enumerate(tokens) if monitor.observe(t)), None)
                if end is not None:
                    cut, tokens, finish = cut[:end], tokens[:end], STOP_REASON
            completions.append(
                Completion(
                    text=" ".join(cut),
                    finish_reason=finish,
                    completion_tokens=len(cut),
                    logprobs=tokens,
                    seed=None if seed is None else seed + offset,
                )
            )
        prompt_tokens = sum(len(m["content"].split()) for m in messages)
        return Generation(
            completions=completions,
            usage={
                "prompt_tokens": prompt_tokens,
                "completion_tokens": sum(c.completion_tokens or 0 for c in completions),
                "llm_calls": n,
                "requests": 1,
            },
        )


class FakeVerifier:
    """A verifier that scores by the answer stated in the solution.

    Args:
        scores: Score for a solution that contains each key; first match wins.
        default: Score when no key matches.
        reserve_tokens: Tokens to report as reserved per score (0: no model is called).
    """

    def __init__(
        self, scores: Mapping[str, float], *, default: float = 0.0, reserve_tokens: int = 0
    ) -> None:
        self._scores = dict(scores)
        self._default = default
        self._reserve = reserve_tokens
        self.calls = 0

    @property
    def reserve_tokens(self) -> int:
        """Tokens reserved per score."""
        return self._reserve

    @property
    def reserve_calls(self) -> int:
        """1 when it reserves tokens (it stands for a model), else 0."""
        return 1 if self._reserve else 0

    async def score(self, question: str, solution: str) -> Verdict:
        """Score `solution` by the first key it contains."""
        self.calls += 1
        score = next((s for key, s in self._scores.items() if key in solution), self._default)
        usage: TokenUsage = {
            "prompt_tokens": 0,
            "completion_tokens": self._reserve,
            "llm_calls": 1 if self._reserve else 0,
            "requests": 1 if self._reserve else 0,
        }
        return Verdict(score=score, usage=usage)
