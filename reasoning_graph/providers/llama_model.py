"""`EmbeddedLlama`: llama-cpp-python's `Llama` with the one hook `LlamaCppProvider` needs.

Imported only when a `LlamaCppProvider` is built, since it imports `llama_cpp`.

- **Sampled tokens.** `sample_listener`, when set, is called with every token the model
  samples. A logits processor sees each step's logits but never the token drawn from the
  last one (it is not fed back to the model), and per-token logprobs need it
  (`llama_logprobs.TokenLogprobRecorder`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llama_cpp.llama import Llama

__all__ = ["EmbeddedLlama"]


class EmbeddedLlama(Llama):
    """A `Llama` that reports each sampled token to `sample_listener`.

    Not thread-safe, like `Llama`: set the listener and sample under one lock.

    Args:
        model_path: The `.gguf` file.
        **options: Passed to `Llama` (`n_ctx`, `n_threads`, `chat_format`, `verbose`...).
    """

    def __init__(self, model_path: str, **options: Any) -> None:
        self.sample_listener: Callable[[int], None] | None = None
        super().__init__(model_path, **options)

    def sample(self, *args: Any, **kwargs: Any) -> int:
        """Sample the next token as `Llama.sample` does, then tell `sample_listener`."""
        token = int(super().sample(*args, **kwargs))
        if self.sample_listener is not None:
            self.sample_listener(token)
        return token
