"""Watch the graph think: print its live `stream_mode="custom"` events as they arrive.

Each event is a small dict with a `type`: `plan`, `difficulty`, `candidate`, `scored`,
`early_stop`, `budget`, `selected`, ... (see `reasoning_graph.events`);
`describe_event` renders one as the CLI's live view does. The strategy here scores every
candidate with the default LLM judge, so `scored` events show up too.

Runs on the embedded SmolLM2-135M-Instruct (the `local` extra), no key:

    python examples/streaming_events.py
"""

import asyncio
from typing import cast

from reasoning_graph import ReasoningConfig, create_reasoning_graph
from reasoning_graph.events import ReasoningEvent, describe_event
from reasoning_graph.providers.llama_cpp import LlamaCppProvider


async def main() -> None:
    config = ReasoningConfig(strategy="weighted_vote", n=3, max_tokens=48)
    graph = create_reasoning_graph(LlamaCppProvider(), config=config).compile()
    async for event in graph.astream({"question": "What is 17 + 25?"}, stream_mode="custom"):
        print(f"[{event['type']}] {describe_event(cast(ReasoningEvent, event))}")


if __name__ == "__main__":
    asyncio.run(main())
