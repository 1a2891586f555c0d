"""What `reasoning-graph solve` shows: the live view on stderr and the summary on stdout."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.status import Status

from reasoning_graph.answers import AnswerMatcher
from reasoning_graph.events import ReasoningEvent, describe_event
from reasoning_graph.result import Result

__all__ = ["LiveView", "print_summary"]

_EVENT_STYLES = {
    "plan": "bold",
    "difficulty": "cyan",
    "early_stop": "yellow",
    "failure": "red",
    "review": "magenta",
    "selected": "green",
    "budget": "dim",
}


class LiveView:
    """The live view on stderr: one line per event above a spinner with the spend so far."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._status = Status("loading the model...", console=console)
        self._candidates = 0

    def __enter__(self) -> LiveView:
        self._status.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._status.stop()

    def __call__(self, event: ReasoningEvent) -> None:
        # Answers come from model text: print them as text, never as rich markup.
        indent = "  " if event["type"] in ("candidate", "scored", "failure") else ""
        self._console.print(
            indent + describe_event(event),
            style=_EVENT_STYLES.get(event["type"], ""),
            markup=False,
            highlight=False,
        )
        if event["type"] == "candidate":
            self._candidates += 1
            self._status.update(f"thinking: {self._candidates} candidate(s)")
        elif event["type"] == "budget":
            self._status.update(
                f"thinking: {self._candidates} candidate(s), "
                f"{event['spent_tokens']} completion tokens, {event['llm_calls']} calls"
            )


def print_summary(result: Result, console: Console) -> None:
    """The answer, the spend and the vote, for a person."""
    # Answers come from model text: print them as text, never as rich markup.
    answer = escape(result.answer) if result.answer is not None else "-"
    console.print(f"[bold]Answer:[/bold] {answer}")
    difficulty = result.difficulty
    level = f"bin {difficulty.bin}/5" if difficulty.bin is not None else "not estimated"
    if difficulty.prior is not None:  # a policy prior: the score is continuous, say it
        given_up = "given up, " if difficulty.gave_up else ""
        score = "" if difficulty.score is None else f"score {difficulty.score:.2f}, "
        level += f" ({given_up}{score}prior {difficulty.prior:.2f})"
    console.print(
        f"{result.strategy}, {len(result.candidates)} candidates, difficulty {level}, "
        f"{result.usage.completion_tokens} completion + {result.usage.prompt_tokens} prompt "
        f"tokens in {result.usage.llm_calls} calls ({result.usage.requests} requests)",
        style="dim",
    )
    answers = [c.answer for c in result.candidates]
    groups = sorted(AnswerMatcher().groups(answers), key=len, reverse=True)
    votes = [f"{answers[group[0]]} x{len(group)}" for group in groups]
    abstained = answers.count(None)
    if abstained:
        votes.append(f"(no answer) x{abstained}")
    console.print("votes: " + ", ".join(votes), style="dim", markup=False)
    if result.failures:
        console.print(f"{len(result.failures)} branch(es) failed and were skipped", style="yellow")
