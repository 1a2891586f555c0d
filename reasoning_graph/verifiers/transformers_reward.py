"""`TransformersRewardVerifier`: a process or outcome reward model run locally with transformers.

transformers and torch are imported when the verifier is built from a model name, never at
import time; install them with `pip install 'reasoning-graph[hf]'`. The model runs one
forward pass per score in a worker thread, one pass at a time.
"""

from __future__ import annotations

import asyncio
import importlib
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol, Unpack

from reasoning_graph.errors import ConfigurationError, ModelNotFoundError, ProviderResponseError
from reasoning_graph.messages import ChatMessage
from reasoning_graph.usage import TokenUsage
from reasoning_graph.verifiers.reward_format import RewardFormat, RewardModel, RewardOptions

__all__ = ["RewardForward", "RewardTokenizer", "TransformersRewardVerifier"]

_INSTALL_HINT = "pip install 'reasoning-graph[hf]'"

RewardForward = Callable[[list[int]], Sequence[Sequence[float]]]
"""One forward pass: token ids in, class probabilities out. A process model returns one row
per token; an outcome model returns one row (its classes) for the whole input."""


class RewardTokenizer(Protocol):
    """The part of a Hugging Face tokenizer the verifier uses."""

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        """Token ids of `text`."""
        ...

    def apply_chat_template(
        self, conversation: list[ChatMessage], *, tokenize: bool, add_generation_prompt: bool
    ) -> Any:
        """The conversation rendered with the model's chat template."""
        ...


class TransformersRewardVerifier(RewardModel):
    """Score solutions with a reward model loaded locally by transformers.

    Process models (`kind="process"`, e.g. Qwen2.5-Math-PRM, Math-Shepherd) read each step's
    score at the marker put after it: the positive-class probability of the softmax over the
    model's classes (Qwen: the 2-class head; Math-Shepherd: the logits of its good and bad
    tokens, `label_token_ids`). Outcome models (`kind="outcome"`, a sequence classifier) score
    the whole solution; their `score_steps()` runs one pass per prefix.

    Build it from a model name (loads the weights), or, to reuse loaded components or to
    test, with `from_components(tokenizer, forward)`.

    Example:
        ```python
        prm = TransformersRewardVerifier("Qwen/Qwen2.5-Math-PRM-7B", device="cuda")
        verdict = await prm.score("What is 2 + 2?", "2 + 2 = 4.\\n\\nThe answer is 4.")
        ```
    """

    def __init__(
        self,
        model_name_or_path: str,
        *,
        device: str = "cuda",
        step_token_id: int | None = None,
        label_token_ids: tuple[int, int] | None = None,
        torch_dtype: str = "auto",
        trust_remote_code: bool = True,
        **options: Unpack[RewardOptions],
    ) -> None:
        """Load the tokenizer and model.

        Args:
            model_name_or_path: A Hugging Face model id or a local directory.
            device: Where the model runs, e.g. `"cuda"`, `"cuda:1"`, `"cpu"`.
            step_token_id: The marker's token id. Defaults to encoding `step_marker`, which
                must be one token.
            label_token_ids: For a causal LM used as a PRM (Math-Shepherd), the vocabulary ids
                of its (good, bad) tokens; the score is the softmax over these two logits, so
                pass `positive_index=0`. Defaults to the model's own class head.
            torch_dtype: The weights' dtype name (`"auto"`, `"bfloat16"`, ...).
            trust_remote_code: Allow the model's own modelling code (Qwen PRMs need it).
            **options: The prompt format (`kind`, `step_separator`, `step_marker`,
                `prompt_format` (`"chat"` renders the tokenizer's chat template),
                `system_prompt`, `positive_index`, `aggregation`); each omitted one takes its
                `RewardFormat` default (a Qwen2.5-Math PRM's).

        Raises:
            ModelNotFoundError: transformers or torch is not installed, or the model cannot
                be loaded; the message names the extra to install.
            ConfigurationError: An option is out of range.
        """
        reward_format = RewardFormat(**options)
        try:  # through importlib: no stubs needed, and nothing heavy at import time
            torch: Any = importlib.import_module("torch")
            transformers: Any = importlib.import_module("transformers")
        except ImportError as exc:
            raise ModelNotFoundError(
                f"TransformersRewardVerifier needs transformers and torch ({exc.name} is "
                f"missing): {_INSTALL_HINT}"
            ) from exc
        if reward_format.kind == "outcome":
            auto_model: Any = transformers.AutoModelForSequenceClassification
        elif label_token_ids is not None:
            auto_model = transformers.AutoModelForCausalLM
        else:
            auto_model = transformers.AutoModel
        dtype = torch_dtype if torch_dtype == "auto" else getattr(torch, torch_dtype, None)
        if dtype is None:
            raise ConfigurationError(f"torch_dtype={torch_dtype!r} is not a torch dtype name.")
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(
                model_name_or_path, trust_remote_code=trust_remote_code
            )
            model = auto_model.from_pretrained(
                model_name_or_path, torch_dtype=dtype, trust_remote_code=trust_remote_code
            )
            model = model.to(device).eval()
        except OSError as exc:
            raise ModelNotFoundError(
                f"Could not load {model_name_or_path!r}: {exc}. Check the model id or path "
                "(and HF_TOKEN for a gated model)."
            ) from exc
        forward = _torch_forward(torch, model, device, label_token_ids)
        self._setup(tokenizer, forward, model_name_or_path, step_token_id, reward_format)

    @classmethod
    def from_components(
        cls,
        tokenizer: RewardTokenizer,
        forward: RewardForward,
        *,
        name: str = "reward-model",
        step_token_id: int | None = None,
        **options: Unpack[RewardOptions],
    ) -> TransformersRewardVerifier:
        """Build a verifier from a loaded tokenizer and a forward function; loads nothing.

        Args:
            tokenizer: A Hugging Face tokenizer (or anything with `encode` and
                `apply_chat_template`).
            forward: Token ids in, class probabilities out; see `RewardForward`.
            name: The model's name, for repr and errors.

        `step_token_id` and the prompt-format `**options` are as in the constructor.
        """
        verifier = cls.__new__(cls)
        verifier._setup(tokenizer, forward, name, step_token_id, RewardFormat(**options))
        return verifier

    def _setup(
        self,
        tokenizer: RewardTokenizer,
        forward: RewardForward,
        name: str,
        step_token_id: int | None,
        reward_format: RewardFormat,
    ) -> None:
        if step_token_id is None and reward_format.kind == "process":
            marker = reward_format.step_marker
            marker_ids = tokenizer.encode(marker.strip(), add_special_tokens=False)
            if len(marker_ids) != 1:
                raise ConfigurationError(
                    f"step_marker={marker!r} is {len(marker_ids)} tokens for {name!r}; "
                    "pass step_token_id=... for the token the PRM scores at."
                )
            step_token_id = marker_ids[0]
        self._tokenizer = tokenizer
        self._forward = forward
        self._name = name
        self._marker_id = step_token_id
        self._format = reward_format
        self._lock = threading.Lock()  # one forward pass at a time, from any event loop

    def __repr__(self) -> str:
        return f"TransformersRewardVerifier({self._name!r}, kind={self._format.kind!r})"

    async def _outcome(self, question: str, solution: str) -> tuple[float, TokenUsage]:
        return await asyncio.to_thread(self._outcome_pass, question, solution)

    async def _process(self, question: str, steps: list[str]) -> tuple[list[float], TokenUsage]:
        return await asyncio.to_thread(self._process_pass, question, steps)

    # -- worker-thread code -------------------------------------------------------------------

    def _ids(self, question: str, answer: str) -> list[int]:
        prompt = self._format.prompt(question, answer)
        if isinstance(prompt, str):
            return self._tokenizer.encode(prompt)
        text = self._tokenizer.apply_chat_template(
            prompt, tokenize=False, add_generation_prompt=False
        )
        return self._tokenizer.encode(str(text), add_special_tokens=False)

    def _run(self, ids: list[int]) -> Sequence[Sequence[float]]:
        with self._lock:
            return self._forward(ids)

    def _outcome_pass(self, question: str, solution: str) -> tuple[float, TokenUsage]:
        ids = self._ids(question, solution)
        rows = self._run(ids)
        if not rows:
            raise ProviderResponseError(f"{self._name!r} returned no class probabilities.")
        return self._format.probability(rows[-1], where=repr(self._name)), _usage(len(ids))

    def _process_pass(self, question: str, steps: list[str]) -> tuple[list[float], TokenUsage]:
        ids = self._ids(question, self._format.marked(steps))
        rows = self._run(ids)
        positions = [i for i, token in enumerate(ids) if token == self._marker_id]
        if len(positions) != len(steps) or len(rows) != len(ids):
            raise ProviderResponseError(
                f"{self._name!r}: {len(steps)} steps, but the marker token {self._marker_id} "
                f"occurs {len(positions)} times in {len(ids)} tokens and the model returned "
                f"{len(rows)} rows. Check step_marker / step_token_id against the PRM's card."
            )
        where = repr(self._name)
        scores = [self._format.probability(rows[i], where=where) for i in positions]
        return scores, _usage(len(ids))


def _usage(prompt_tokens: int) -> TokenUsage:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": 0, "llm_calls": 1, "requests": 1}


def _torch_forward(
    torch: Any, model: Any, device: str, label_token_ids: tuple[int, int] | None
) -> RewardForward:
    """Wrap a loaded model as a `RewardForward`: softmax (or sigmoid for one class) of logits."""

    def forward(ids: list[int]) -> list[list[float]]:
        with torch.no_grad():
            output = model(input_ids=torch.tensor([ids], device=device))
        logits = getattr(output, "logits", None)
        if logits is None:
            logits = output[0]  # Qwen PRMs' remote code returns a tuple
        if label_token_ids is not None:
            logits = logits[..., list(label_token_ids)]
        logits = logits.float()
        probs = logits.softmax(dim=-1) if logits.shape[-1] > 1 else logits.sigmoid()
        rows: list[Any] = probs[0].tolist()
        return rows if rows and isinstance(rows[0], list) else [rows]

    return forward
