"""The graph `langgraph dev` serves to LangGraph Studio (see `langgraph.json`).

By default it runs over the embedded SmolLM2-135M-Instruct on llama.cpp (the `local`
extra). Importing this module builds and compiles the graph but loads no model:
`LlamaCppProvider` finds the weights file and loads it on the first generation. Set
`REASONING_GRAPH_BASE_URL` and `REASONING_GRAPH_MODEL` (and `OPENAI_API_KEY` if the server
wants one) to run it over an OpenAI-compatible server instead; `REASONING_GRAPH_PROVIDER`
names the backend outright (`reasoning_graph.providers.registry`). Studio supplies its own
checkpointer, so the graph is compiled without one.

Every run takes its `ReasoningConfig` from LangGraph's `context` (or `configurable`): an
assistant is a saved configuration, and a run's own context overrides it field by field;
unset fields keep this graph's config (`n=4`, `max_tokens=256`). See
`reasoning_graph.nodes.per_run`.

```bash
pip install -e '.[local]' "langgraph-cli[inmem]"
langgraph dev
```
"""

from __future__ import annotations

import os

from reasoning_graph.config import ReasoningConfig
from reasoning_graph.graph import create_reasoning_graph
from reasoning_graph.providers.registry import make_generator

__all__ = ["CONFIG", "UPSTREAM_ENV", "generator", "graph"]

UPSTREAM_ENV = {
    "provider": "REASONING_GRAPH_PROVIDER",
    "model": "REASONING_GRAPH_MODEL",
    "base_url": "REASONING_GRAPH_BASE_URL",
}
"""The environment variables that choose the served graph's model (`make_generator`'s
options); with none set, the embedded model."""

CONFIG = ReasoningConfig(n=4, max_tokens=256)
"""The served graph's config: what a run's context does not set."""

generator = make_generator(
    os.environ.get(UPSTREAM_ENV["provider"]),
    model=os.environ.get(UPSTREAM_ENV["model"]),
    base_url=os.environ.get(UPSTREAM_ENV["base_url"]),
)
"""The model; the embedded one loads its weights on the first generation, not here."""

graph = create_reasoning_graph(generator, config=CONFIG).compile(name="reasoning_graph")
