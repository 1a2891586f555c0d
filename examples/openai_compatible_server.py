"""Point reasoning-graph at an OpenAI-compatible server: vLLM, SGLang, Ollama, llama.cpp.

    BASE_URL=http://localhost:8000/v1 MODEL=Qwen/Qwen2.5-1.5B-Instruct \
        python examples/openai_compatible_server.py        # vLLM
    BASE_URL=http://localhost:11434/v1 MODEL=qwen2.5:1.5b \
        python examples/openai_compatible_server.py        # Ollama

`API_KEY` is read too (servers that need none accept any value). With `BASE_URL` unset, the
example starts `reasoning_graph.testing.OpenAIStubServer` on 127.0.0.1 (a scripted local
server that needs the `dev` extra's aiohttp) and talks to it over real HTTP, so it runs
without a key or a model; its replies are canned, so the answer is always 42.
"""

import os
from contextlib import ExitStack

from reasoning_graph import solve
from reasoning_graph.providers import OpenAIProvider


def main() -> None:
    with ExitStack() as stack:
        base_url = os.environ.get("BASE_URL")
        model = os.environ.get("MODEL", "stub-model")
        if base_url is None:
            from reasoning_graph.testing import OpenAIStubServer

            server = stack.enter_context(OpenAIStubServer(honour_n=False))  # like Ollama
            base_url = server.base_url
            print(f"BASE_URL unset: using the local stub server at {base_url}")
        generator = OpenAIProvider(
            model, base_url=base_url, api_key=os.environ.get("API_KEY", "not-needed")
        )
        result = solve("What is 17 + 25?", generator=generator, n=3, max_tokens=48)
        print(f"answer: {result.answer} from {len(result.candidates)} samples of {model}")
        print(
            f"usage: {result.usage.completion_tokens} completion tokens, "
            f"{result.usage.llm_calls} calls"
        )


if __name__ == "__main__":
    main()
