"""`reasoning_tool`: the reasoning graph as a LangChain tool another agent can call."""

from __future__ import annotations

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field

from reasoning_graph.answers import AnswerMatcher
from reasoning_graph.config import ReasoningConfig
from reasoning_graph.errors import ConfigurationError
from reasoning_graph.providers.base import Generator
from reasoning_graph.reasoner import Reasoner
from reasoning_graph.result import Result
from reasoning_graph.verifiers.base import Verifier

__all__ = ["DEFAULT_TOOL_DESCRIPTION", "ReasonInput", "evidence_summary", "reasoning_tool"]

DEFAULT_TOOL_DESCRIPTION = (
    "Answer a hard question (math, logic, multi-step reasoning) by sampling several "
    "solutions, checking them and choosing the best supported answer. Input: the full, "
    "self-contained question. Output: the answer and how strongly the solutions agreed."
)


class ReasonInput(BaseModel):
    """The tool's arguments."""

    question: str = Field(description="The full, self-contained question to answer.")


def evidence_summary(result: Result) -> str:
    """A short account of why `result.answer` won: agreement, scores, difficulty, spend.

    Example:
        ```python
        evidence_summary(result)
        # "Answer: 42\\nEvidence: 3 of 4 candidates agree (self_consistency); ..."
        ```
    """
    answers = [c.answer for c in result.candidates]
    agreeing = 0
    if result.answer is not None:
        matcher = AnswerMatcher()
        agreeing = sum(1 for a in answers if a is not None and matcher.same(a, result.answer))
    parts = [f"{agreeing} of {len(answers)} candidates agree ({result.strategy})"]
    selected = result.selected
    if selected is not None and selected.score is not None:
        parts.append(f"selected {selected.id} scored {selected.score:.2f}")
    if result.difficulty.bin is not None:
        parts.append(f"difficulty {result.difficulty.bin}/5")
    calls = result.usage.llm_calls
    parts.append(
        f"{result.usage.completion_tokens} completion tokens in {calls} "
        f"call{'' if calls == 1 else 's'}"
    )
    if result.failures:
        parts.append(f"{len(result.failures)} branch(es) failed")
    answer = result.answer if result.answer is not None else "(no answer found)"
    return f"Answer: {answer}\nEvidence: {'; '.join(parts)}."


def reasoning_tool(
    generator: Generator,
    *,
    verifier: Verifier | None = None,
    config: ReasoningConfig | None = None,
    name: str = "reason",
    description: str = DEFAULT_TOOL_DESCRIPTION,
) -> BaseTool:
    """Expose the reasoning graph as a LangChain tool.

    The tool takes one argument, `question`; its content is the answer with a short
    evidence summary (`evidence_summary`) and its artifact (`response_format=
    "content_and_artifact"`) is the full `Result`. It runs async (`ainvoke`); a sync
    `invoke` outside an event loop works too. The graph is compiled here, once, and every
    call reuses it (a `Reasoner`).

    Args:
        generator: The model that writes the solutions.
        verifier: Scores candidates; defaults to an LLM judge over `generator` for the
            strategies that need scores.
        config: What to spend and how; defaults to `ReasoningConfig()`. `review=True` is
            refused: a tool call cannot wait for a person.
        name: The tool's name; defaults to `"reason"`.
        description: What the calling model reads; defaults to `DEFAULT_TOOL_DESCRIPTION`.

    Returns:
        A `StructuredTool` to pass to `create_agent(tools=[...])` or `bind_tools`.

    Raises:
        ConfigurationError: `config.review` is on.

    Example:
        ```python
        from reasoning_graph import ReasoningConfig
        from reasoning_graph.tool import reasoning_tool

        tool = reasoning_tool(generator, config=ReasoningConfig(n=8))
        message = await tool.ainvoke(
            {"type": "tool_call", "id": "1", "name": "reason", "args": {"question": "17+25?"}}
        )
        message.content, message.artifact.answer
        ```
    """
    config = config or ReasoningConfig()
    if config.review:
        raise ConfigurationError(
            "reasoning_tool cannot pause for review; pass a config with review=False, or "
            "use the graph as a subgraph to review its answers"
        )

    reasoner = Reasoner(generator, verifier=verifier, config=config)

    async def reason(question: str) -> tuple[str, Result]:
        result = await reasoner.ainvoke(question)
        return evidence_summary(result), result

    def reason_blocking(question: str) -> tuple[str, Result]:
        result = reasoner.invoke(question)
        return evidence_summary(result), result

    return StructuredTool.from_function(
        func=reason_blocking,
        coroutine=reason,
        name=name,
        description=description,
        args_schema=ReasonInput,
        response_format="content_and_artifact",
    )
