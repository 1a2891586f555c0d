"""The graph `langgraph dev` serves to LangGraph Studio (see `langgraph.json`).

It runs over the embedded SmolLM2-135M-Instruct on llama.cpp (the `local` extra). Importing
this module builds and compiles the graph but loads no model: `LlamaCppProvider` finds the
weights file and loads it on the first generation. Studio supplies its own checkpointer, so
the graph is compiled without one.

```bash
pip install -e '.[local]' "langgraph-cli[inmem]"
langgraph dev
```
"""

from __future__ import annotations

from reasoning_graph.config import ReasoningConfig
from reasoning_graph.graph import create_reasoning_graph
from reasoning_graph.providers.llama_cpp import LlamaCppProvider

__all__ = ["generator", "graph"]

generator = LlamaCppProvider()
"""The embedded model; its weights load on the first generation, not here."""

graph = create_reasoning_graph(generator, config=ReasoningConfig(n=4, max_tokens=256)).compile(
    name="reasoning_graph"
)
