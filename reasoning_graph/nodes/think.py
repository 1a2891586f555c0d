"""`think`: sample fresh solutions for one branch (one request when the prompt is shared),
or, in step search, the next step of a beam (and, for `lookahead`, its greedy rollout)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, Literal

from reasoning_graph.answers import extract_answer, states_final_answer
from reasoning_graph.confidence import (
    DEFAULT_TOP_K,
    ConfidenceSettings,
    mean_logprob,
    measure_confidence,
)
from reasoning_graph.errors import ProviderError, ProviderResponseError
from reasoning_graph.events import CandidateEvent, FailureEvent, emit, record, trace
from reasoning_graph.nodes import NodeFunction
from reasoning_graph.online_stop import can_stop_online, mark_online
from reasoning_graph.prompts import continue_messages, solve_messages
from reasoning_graph.providers.base import ChatMessage, Completion, Generation, Generator
from reasoning_graph.providers.progress import each_completion
from reasoning_graph.state import Candidate, Event, Failure, ThinkTask
from reasoning_graph.usage import add_usage

__all__ = [
    "candidate_event",
    "candidate_record",
    "check_count",
    "failure_update",
    "first_step",
    "make_think_node",
    "new_candidate",
    "top_logprobs",
]


def new_candidate(
    completion: Completion,
    *,
    candidate_id: str,
    node: Literal["think", "revise"],
    seed: int,
    chain: int | None = None,
    round_: int = 0,
    parent_id: str | None = None,
    confidence: ConfidenceSettings | None = None,
) -> Candidate:
    """A candidate from a completion, its answer extracted and not yet scored; with the
    completion's logprobs, its mean logprob and token confidence (measured with
    `confidence`, DeepConf's settings when `None`)."""
    return {
        "id": candidate_id,
        "parent_id": parent_id,
        "chain": chain,
        "round": round_,
        "node": node,
        "text": completion.text,
        "answer": extract_answer(completion.text),
        "score": None,
        "finish_reason": completion.finish_reason,
        "completion_tokens": completion.completion_tokens,
        "seed": completion.seed if completion.seed is not None else seed,
        "mean_logprob": mean_logprob(completion.logprobs or []),
        "confidence": measure_confidence(completion.logprobs, confidence),
    }


def candidate_event(candidate: Candidate) -> CandidateEvent:
    """The live `candidate` event of a finished candidate."""
    return {
        "type": "candidate",
        "id": candidate["id"],
        "answer": candidate["answer"],
        "score": candidate["score"],
        "node": candidate["node"],
        "chain": candidate["chain"],
        "round": candidate["round"],
        "confidence": candidate.get("confidence"),
    }


def candidate_record(candidate: Candidate, *, streamed: bool = False, **extra: Any) -> Event:
    """Stream a `candidate` event for a finished candidate (unless it was `streamed` as its
    generation ended); return its trace entry (the event's fields and `extra`)."""
    event = candidate_event(candidate)
    if streamed:
        return trace(candidate["node"], event, **extra)
    return record(candidate["node"], event, **extra)


class _LiveCandidates:
    """Streams each candidate of one `generate` call as its completion is reported
    (`providers.progress`), once; `made(index, completion)` builds the candidate."""

    def __init__(self, ids: list[str], made: Callable[[int, Completion], Candidate]) -> None:
        self._ids = ids
        self._made = made
        self.streamed: set[str] = set()

    def __call__(self, index: int, completion: Completion) -> None:
        if not 0 <= index < len(self._ids) or self._ids[index] in self.streamed:
            return
        emit(candidate_event(self._made(index, completion)))
        self.streamed.add(self._ids[index])


async def generate_live(
    generator: Generator,
    task: ThinkTask,
    messages: Sequence[ChatMessage],
    made: Callable[[int, Completion], Candidate],
    **extra: Any,
) -> tuple[Generation, dict[str, Candidate], set[str]]:
    """Sample the task's completions of `messages` in one `generate` call, streaming each
    candidate as its completion ends; return the generation, the candidates (built by
    `made`) and the ids already streamed.

    Raises:
        ProviderError: The generator failed, or returned other than one completion per id.
    """
    live = _LiveCandidates(task["ids"], made)
    with each_completion(live):
        generation = await generator.generate(
            messages,
            n=len(task["ids"]),
            max_tokens=task["max_tokens"],
            temperature=task["temperature"],
            seed=task["seeds"][0],
            logprobs=task["logprobs"],
            top_logprobs=top_logprobs(task),
            **extra,
        )
    check_count(generation, len(task["ids"]))
    candidates = {task["ids"][i]: made(i, c) for i, c in enumerate(generation.completions)}
    return generation, candidates, live.streamed


def failure_update(node: str, ids: list[str], error: ProviderError) -> dict[str, Any]:
    """The state update of a branch that failed after its retries; streams a `failure`."""
    failure: Failure = {
        "node": node,
        "candidate_ids": ids,
        "error": type(error).__name__,
        "message": str(error),
    }
    event: FailureEvent = {"type": "failure", **failure}
    return {"failures": [failure], "events": [record(node, event, kind="branch_failed")]}


def check_count(generation: Generation, expected: int) -> None:
    """Raise `ProviderResponseError` unless the generator returned `expected` completions."""
    if len(generation.completions) != expected:
        raise ProviderResponseError(
            f"the generator returned {len(generation.completions)} completions for n={expected}"
        )


def top_logprobs(task: ThinkTask) -> int:
    """Alternatives per token a task asks for: its confidence `k` when it asks for logprobs."""
    if not task["logprobs"]:
        return 0
    settings = task.get("confidence")
    return settings["top_k"] if settings is not None else DEFAULT_TOP_K


def first_step(text: str, separator: str) -> str:
    """The first step of `text`: up to the first `separator`, stripped ("" when none).

    Servers stop at the separator already; cutting here keeps fakes and servers that
    ignore `stop` honest, so a beam's text always splits into exactly its steps.
    """
    return text.strip().split(separator, 1)[0].strip()


def _join(partial: str, step: str, separator: str) -> str:
    if not step:
        return partial
    return f"{partial}{separator}{step}" if partial else step


def make_think_node(
    generator: Generator, *, system_prompt: str | None = None
) -> NodeFunction[ThinkTask]:
    """Build the `think` node over `generator`."""

    async def rollout(
        question: str, text: str, steps: int, max_tokens: int, separator: str, seed: int
    ) -> tuple[str, list[Generation]]:
        """Greedy (temperature 0) continuation of `text` for up to `steps` steps."""
        generations: list[Generation] = []
        for _ in range(steps):
            try:
                generation = await generator.generate(
                    continue_messages(question, text, system_prompt=system_prompt),
                    n=1,
                    max_tokens=max_tokens,
                    temperature=0.0,
                    stop=[separator],
                    seed=seed,
                )
                check_count(generation, 1)
            except ProviderError:
                break  # score what was rolled out so far
            generations.append(generation)
            step = first_step(generation.completions[0].text, separator)
            text = _join(text, step, separator)
            if not step or states_final_answer(step):
                break
        return text, generations

    async def think_step(state: ThinkTask) -> dict[str, Any]:
        question, partial = state["question"], state.get("partial", "")
        separator = state.get("step_separator", "\n\n")
        messages = (
            continue_messages(question, partial, system_prompt=system_prompt)
            if partial
            else solve_messages(question, system_prompt=system_prompt)
        )
        round_ = state.get("round", 0)

        def made(index: int, completion: Completion) -> Candidate:
            step = first_step(completion.text, separator)
            text = _join(partial, step, separator)
            complete = not step or states_final_answer(step) or state.get("final_step", False)
            candidate = new_candidate(
                completion,
                candidate_id=state["ids"][index],
                node="think",
                seed=state["seeds"][index],
                chain=state["chains"][index],
                round_=round_,
                parent_id=state.get("parent_id"),
                confidence=state.get("confidence"),
            )
            return {
                **candidate,
                "text": text,
                "answer": extract_answer(text),
                "complete": bool(complete),
                "step_scores": None,
                "rollout": None,
            }

        try:
            generation, candidates, streamed = await generate_live(
                generator, state, messages, made, stop=[separator]
            )
        except ProviderError as error:
            return failure_update("think", state["ids"], error)
        rollout_steps = state.get("rollout_steps", 0)
        usage = generation.usage
        if rollout_steps > 0:
            growing = [c for c in candidates.values() if not c["complete"]]
            rolled = await asyncio.gather(
                *(
                    rollout(
                        question,
                        c["text"],
                        rollout_steps,
                        state["max_tokens"],
                        separator,
                        c["seed"] or 0,
                    )
                    for c in growing
                )
            )
            for candidate, (text, generations) in zip(growing, rolled, strict=True):
                candidates[candidate["id"]] = {**candidate, "rollout": text}
                for extra in generations:
                    usage = add_usage(usage, extra.usage)
        events = [
            candidate_record(
                c,
                streamed=c["id"] in streamed,
                parent_id=c["parent_id"],
                complete=c.get("complete", False),
            )
            for c in candidates.values()
        ]
        return {"candidates": candidates, "usage": {"think": usage}, "events": events}

    stops_online = can_stop_online(generator)

    async def think(state: ThinkTask) -> dict[str, Any]:
        if "partial" in state:
            return await think_step(state)
        online = state.get("online_stop")
        watch: dict[str, Any] = {}  # a provider that can stop a trace gets the threshold
        if online is not None and stops_online:
            watch["online_stop"] = online

        def made(index: int, completion: Completion) -> Candidate:
            candidate = new_candidate(
                completion,
                candidate_id=state["ids"][index],
                node="think",
                seed=state["seeds"][index],
                chain=state["chains"][index],
                confidence=state.get("confidence"),
            )
            if online is None:
                return candidate
            return mark_online(candidate, supported=stops_online)

        try:
            generation, candidates, streamed = await generate_live(
                generator,
                state,
                solve_messages(state["question"], system_prompt=system_prompt),
                made,
                **watch,
            )
        except ProviderError as error:
            return failure_update("think", state["ids"], error)
        return {
            "candidates": candidates,
            "usage": {"think": generation.usage},
            "events": [
                candidate_record(c, streamed=c["id"] in streamed) for c in candidates.values()
            ],
        }

    return think
