"""Per-token log-probabilities of a llama.cpp completion, read while it samples.

llama-cpp-python computes logprobs only for a model built with `logits_all=True`, which
keeps the logits of every position (about 7x slower per token on SmolLM2-135M). They are not
needed: at every decoding step llama.cpp hands the last position's logits row to the
`logits_processor`s of the request, also with `logits_all=False`. `TokenLogprobRecorder`
is such a processor. It copies the row (llama.cpp reuses the buffer), and when the token
drawn from it is known (`EmbeddedLlama` reports every sampled token), it keeps the token's
log-probability and the top-k alternatives of that row:

    logprob(t) = z[t] - max(z) - log(sum_j exp(z[j] - max(z)))

where `z` is the raw logits row. The processor runs before the sampler chain, so this is the
model's own distribution at temperature 1, before repetition penalties, top-k/top-p and
temperature are applied: the same distribution OpenAI and vLLM report, and the same values
llama-cpp-python returns with `logits_all=True`, whatever temperature the sample used.

`OnlineStop` builds on the recorder to stop a trace whose confidence falls (DeepConf online,
`reasoning_graph.online_stop`). llama-cpp-python (0.3.36) takes `stopping_criteria` only in
`create_completion`, not in `create_chat_completion`, so the stop is a second logits
processor: once the monitor says stop, it hands the sampler a row where only the
end-of-generation token is possible. The completion then ends as any other does: the token
that crossed the threshold is its last (in its text and `completion_tokens`), and the forced
end token, like every end token, is sampled but not part of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from reasoning_graph.errors import ProviderError
from reasoning_graph.online_stop import TraceMonitor
from reasoning_graph.providers.base import TokenLogprob
from reasoning_graph.state import OnlineStopSettings

__all__ = ["OnlineStop", "TokenLogprobRecorder"]


@dataclass(frozen=True)
class _Step:
    token: int
    logprob: float
    top_ids: list[int]
    top_logprobs: list[float]


class TokenLogprobRecorder:
    """Collects the log-probability of each token one llama.cpp completion samples.

    Pass `observe` as the request's logits processor and `sampled` as the model's sample
    listener; one recorder serves one completion, on one thread.

    Args:
        top_logprobs: How many of the most likely tokens to keep per step (0: none).

    Example:
        ```python
        recorder = TokenLogprobRecorder(top_logprobs=2)
        recorder.observe(input_ids, logits_row)  # from llama.cpp, before sampling
        recorder.sampled(token)  # the token drawn from that row
        recorder.logprobs(1, piece=lambda t: vocab[t])  # [TokenLogprob(...)]
        ```
    """

    def __init__(self, top_logprobs: int) -> None:
        self._top = top_logprobs
        self._row: npt.NDArray[np.float32] | None = None
        self._steps: list[_Step] = []

    def observe(
        self, input_ids: npt.NDArray[np.intc], scores: npt.NDArray[np.single]
    ) -> npt.NDArray[np.single]:
        """Keep a copy of this step's logits row; return the row unchanged (a logits processor)."""
        self._row = np.array(scores, dtype=np.float32)
        return scores

    def sampled(self, token: int) -> None:
        """Record the token drawn from the row `observe` saw last."""
        row, self._row = self._row, None
        if row is None:
            raise ProviderError(
                f"llama.cpp sampled token {token} without passing its logits row to the "
                "logits processor; this llama-cpp-python version cannot give logprobs "
                "this way, so generate without logprobs=True."
            )
        if not 0 <= token < row.size:
            raise ProviderError(
                f"llama.cpp sampled token {token} from a logits row of {row.size} entries; "
                "the row is not the whole vocabulary, so generate without logprobs=True."
            )
        shifted = row - row.max()
        log_norm = np.log(np.exp(shifted).sum())
        k = min(self._top, row.size)
        top_ids: list[int] = []
        if k:
            candidates = np.argpartition(shifted, row.size - k)[row.size - k :]
            top_ids = candidates[np.argsort(-shifted[candidates], kind="stable")].tolist()
        self._steps.append(
            _Step(
                token=token,
                logprob=float(shifted[token] - log_norm),
                top_ids=top_ids,
                top_logprobs=[float(shifted[i] - log_norm) for i in top_ids],
            )
        )

    def logprobs(self, count: int, piece: Callable[[int], str]) -> list[TokenLogprob]:
        """The first `count` sampled tokens as `TokenLogprob`s, their text from `piece`.

        `count` is the completion's token count: a completion that ended on an
        end-of-generation token sampled one token more, which is not part of its text.
        Alternatives that share a text keep the most likely one's logprob.
        """
        if count > len(self._steps):
            raise ProviderError(
                f"llama.cpp reported {count} completion tokens but sampled {len(self._steps)}; "
                "generate without logprobs=True."
            )
        return [_token_logprob(step, piece) for step in self._steps[:count]]

    def last(self, piece: Callable[[int], str]) -> TokenLogprob:
        """The token sampled last, as `logprobs` spells it.

        Raises:
            ProviderError: No token was sampled yet.
        """
        if not self._steps:
            raise ProviderError("llama.cpp asked for the last token before sampling one.")
        return _token_logprob(self._steps[-1], piece)


def _token_logprob(step: _Step, piece: Callable[[int], str]) -> TokenLogprob:
    """A recorded step as a `TokenLogprob`; alternatives that share a text keep the most
    likely one's logprob."""
    top: dict[str, float] = {}
    for token_id, logprob in zip(step.top_ids, step.top_logprobs, strict=True):
        top.setdefault(piece(token_id), logprob)
    return TokenLogprob(token=piece(step.token), logprob=step.logprob, top_logprobs=top)


class OnlineStop:
    """Ends a llama.cpp trace once its group confidence falls below the threshold
    (`reasoning_graph.online_stop.TraceMonitor`).

    Pass `sampled` as the model's sample listener (it records the token's logprobs with the
    recorder, then shows the token to the monitor) and `end` as the request's logits
    processor after the recorder's `observe`; one serves one completion.

    Args:
        recorder: The completion's recorder (its `observe` runs first).
        settings: The threshold, window and `k`.
        piece: A token's text, as the recorded logprobs spell it.
        end_token: The model's end-of-generation token (`Llama.token_eos()`).

    Example:
        ```python
        stop = OnlineStop(recorder, {"threshold": 1.2, "window": 64, "top_k": 20}, piece, 2)
        llm.sample_listener = stop.sampled
        processors = LogitsProcessorList([recorder.observe, stop.end])
        llm.create_chat_completion(..., logits_processor=processors)
        stop.stopped  # whether it cut the completion
        ```
    """

    def __init__(
        self,
        recorder: TokenLogprobRecorder,
        settings: OnlineStopSettings,
        piece: Callable[[int], str],
        end_token: int,
    ) -> None:
        self._recorder = recorder
        self._monitor = TraceMonitor(settings)
        self._piece = piece
        self._end_token = end_token

    @property
    def stopped(self) -> bool:
        """Whether the trace's confidence fell below the threshold."""
        return self._monitor.stopped

    def sampled(self, token: int) -> None:
        """Record the token drawn (`TokenLogprobRecorder.sampled`) and watch it."""
        self._recorder.sampled(token)
        self._monitor.observe(self._recorder.last(self._piece))

    def end(
        self, input_ids: npt.NDArray[np.intc], scores: npt.NDArray[np.single]
    ) -> npt.NDArray[np.single]:
        """A logits processor: the row unchanged, or, once stopped, a row where only the
        end-of-generation token can be sampled (whatever the temperature or sampler)."""
        if not self._monitor.stopped:
            return scores
        ended = np.full_like(scores, -np.inf)
        ended[self._end_token] = 0.0
        return ended
