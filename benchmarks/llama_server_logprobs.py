"""Do `python -m llama_cpp.server` and the embedded provider give the same logprobs (issue 11)?

Starts llama-cpp-python's OpenAI-compatible server on the embedded GGUF (one thread,
`--logits_all True`: the server needs it for logprobs), asks it and `LlamaCppProvider` (whose
logprobs come from a logits processor, `providers/llama_logprobs.py`) the same greedy
questions through the package's own providers, and compares token by token: the sampled
tokens, their logprobs and the top-k alternatives.

Usage:
    python benchmarks/llama_server_logprobs.py [--server-python PATH] [--port 8765]
        [--max-tokens 16] [--top-logprobs 5] [--write docs/benchmarks.md]

`--server-python` is an interpreter that has the server's extras (`pip install
'llama-cpp-python[server]'`: fastapi, starlette-context, pydantic-settings) and llama_cpp;
default: this one.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from _docs import provenance, write_section
from _llama_server import SERVED_MODEL, ServerSpec, llama_server

from reasoning_graph.providers.base import ChatMessage, Generation
from reasoning_graph.providers.llama_cpp import LlamaCppProvider
from reasoning_graph.providers.openai import OpenAIProvider

SECTION = "## llama.cpp server vs the embedded provider: logprobs (issue 11)"
QUESTIONS = (
    "Calculate 57 + 65.",
    "State the final answer to the following arithmetic problem: 8 - 3 - 6 =",
    "Find the Greatest Common Divisor (GCD) of these numbers: 12, 18. "
    "Give only the GCD as your final answer.",
)


async def ask(provider: object, question: str, args: argparse.Namespace) -> Generation:
    messages: list[ChatMessage] = [{"role": "user", "content": question}]
    return await provider.generate(  # type: ignore[attr-defined, no-any-return]
        messages, n=1, max_tokens=args.max_tokens, temperature=0.0, seed=0,
        logprobs=True, top_logprobs=args.top_logprobs,
    )  # fmt: skip


async def compare(args: argparse.Namespace) -> list[str]:
    embedded = LlamaCppProvider(n_threads=1)
    served = OpenAIProvider(SERVED_MODEL, base_url=f"http://127.0.0.1:{args.port}/v1")
    lines = [
        "| question | tokens compared | same tokens | max abs logprob diff | same top-k set |",
        "|---|--:|--:|--:|--:|",
    ]
    worst = 0.0
    differing: list[str] = []
    for question in QUESTIONS:
        local = (await ask(embedded, question, args)).completions[0].logprobs or []
        remote = (await ask(served, question, args)).completions[0].logprobs or []
        pairs = list(zip(local, remote, strict=False))
        same = sum(a.token == b.token for a, b in pairs)
        common = [(a, b) for a, b in pairs if a.token == b.token]
        diff = max((abs(a.logprob - b.logprob) for a, b in common), default=float("nan"))
        tops = sum(set(a.top_logprobs) == set(b.top_logprobs) for a, b in common)
        worst = max(worst, diff)
        differing += [
            f"embedded {a.token!r} ({a.logprob:.4f}) vs server {b.token!r} ({b.logprob:.4f})"
            for a, b in pairs
            if a.token != b.token
        ]
        lines.append(
            f"| {question[:40]} | {len(pairs)} (embedded {len(local)}, server {len(remote)}) "
            f"| {same} | {diff:.2e} | {tops}/{len(common)} |"
        )
    lines += ["", f"Largest difference in a sampled token's logprob: {worst:.2e}."]
    if differing:
        lines.append("Tokens whose text differs: " + "; ".join(differing) + ".")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--server-python", default=sys.executable)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--top-logprobs", type=int, default=5)
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    os.environ.setdefault("OPENAI_API_KEY", "EMPTY")
    with llama_server(ServerSpec(python=args.server_python, port=args.port, cpu=None)):
        table = asyncio.run(compare(args))
    section = "\n".join(
        [
            SECTION,
            "",
            *provenance("benchmarks/llama_server_logprobs.py"),
            f"- Greedy (temperature 0), max_tokens {args.max_tokens}, top_logprobs "
            f"{args.top_logprobs}; the server started with `--n_threads 1 --logits_all True`, "
            "asked through `OpenAIProvider`; the embedded model through `LlamaCppProvider` "
            "(logprobs from a logits processor, `logits_all` off)",
            "",
            *table,
            "",
            "The server's requests default to `repeat_penalty` 1.1 (llama-cpp-python's "
            "`server/types.py`; an OpenAI request cannot set it), `create_chat_completion`'s "
            "to 1.0: a sampled token can differ there while the reported logprobs agree.",
            "",
        ]
    )
    print(section)
    if args.write:
        write_section(args.write, SECTION, section)


if __name__ == "__main__":
    main()
