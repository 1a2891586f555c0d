"""`EmbeddedLlama`: llama-cpp-python's `Llama` with the two hooks `LlamaCppProvider` needs.

Imported only when a `LlamaCppProvider` is built, since it imports `llama_cpp`.

- **Extra buffer types off.** llama.cpp's CPU backend can keep weights in "extra" buffer
  types: repacked layouts and, on CPUs that report AMX, the AMX backend. A llama.cpp built
  with native CPU detection (pip's default build) on an AMX CPU inside a VM that has not
  enabled the AMX tile state dies with `Illegal instruction` in `ggml_backend_amx_mul_mat`
  at the first generation. The model parameter `use_extra_bufts = False` keeps the weights
  in plain CPU buffers, so that path is never taken. `Llama.__init__` builds the
  parameters and loads the model in one go and takes no argument for this field, so
  `EmbeddedLlama` sets it as `Llama.__init__` assigns `self.model_params`, before the
  model loads.
- **Sampled tokens.** `sample_listener`, when set, is called with every token the model
  samples. A logits processor sees each step's logits but never the token drawn from the
  last one (it is not fed back to the model), and per-token logprobs need it
  (`llama_logprobs.TokenLogprobRecorder`).

Importing `llama_cpp` opens `/dev/null` twice (`llama_cpp._utils`, for silencing llama.cpp
while it loads a model) and never closes it, so every process that imported it warned
`ResourceWarning: unclosed file '/dev/null'` at exit. This module closes those two files
when the interpreter exits, before it collects them.
"""

from __future__ import annotations

import atexit
import io
from collections.abc import Callable
from typing import Any

from llama_cpp import _utils
from llama_cpp.llama import Llama
from llama_cpp.llama_cpp import llama_model_params

__all__ = ["EmbeddedLlama"]


def _close_devnull_files() -> None:
    """Close the `/dev/null` files `llama_cpp._utils` opened at import."""
    for name in ("outnull_file", "errnull_file"):
        file = getattr(_utils, name, None)
        if isinstance(file, io.IOBase):
            file.close()


atexit.register(_close_devnull_files)


class EmbeddedLlama(Llama):
    """A `Llama` that loads without extra buffer types unless asked, and reports each
    sampled token to `sample_listener`.

    Not thread-safe, like `Llama`: set the listener and sample under one lock.

    Args:
        model_path: The `.gguf` file.
        extra_buffer_types: Let llama.cpp use its extra buffer types (AMX, weight
            repacking). Defaults to False.
        **options: Passed to `Llama` (`n_ctx`, `n_threads`, `chat_format`, `verbose`...).
    """

    def __init__(
        self, model_path: str, *, extra_buffer_types: bool = False, **options: Any
    ) -> None:
        self.extra_buffer_types = extra_buffer_types
        self.sample_listener: Callable[[int], None] | None = None
        super().__init__(model_path, **options)

    @property
    def model_params(self) -> llama_model_params:
        """The model parameters the model was loaded with (llama.cpp's struct)."""
        return self._model_params

    @model_params.setter
    def model_params(self, params: llama_model_params) -> None:
        params.use_extra_bufts = self.extra_buffer_types
        self._model_params = params

    def sample(self, *args: Any, **kwargs: Any) -> int:
        """Sample the next token as `Llama.sample` does, then tell `sample_listener`."""
        token = int(super().sample(*args, **kwargs))
        if self.sample_listener is not None:
            self.sample_listener(token)
        return token
