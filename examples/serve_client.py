"""Talk to `reasoning-graph serve` with the openai SDK: a plain reply, then a streamed one.

    reasoning-graph serve &                                  # the embedded model on :8000
    SERVER_URL=http://127.0.0.1:8000 python examples/serve_client.py

With `SERVER_URL` unset, the example starts the server itself (uvicorn on a free loopback
port, on a background thread) in front of `BASE_URL` / `MODEL` / `API_KEY` (any
OpenAI-compatible upstream), or, with `BASE_URL` unset too, in front of the bundled stub
upstream `reasoning_graph.testing.OpenAIStubServer` (needs the `dev` extra's aiohttp), so it
runs offline with no key and no model; the stub's replies are canned, so the answer is 42.
Needs the `serve` extra (starlette, uvicorn).
"""

import os
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import openai
import uvicorn

from reasoning_graph import ReasoningConfig
from reasoning_graph.serve import ServeSettings, create_app


@contextmanager
def local_server(settings: ServeSettings) -> Iterator[str]:
    """Run the server on a free loopback port on a background thread; yield its URL."""
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), port=0, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join()


def main() -> None:
    with ExitStack() as stack:
        url = os.environ.get("SERVER_URL")
        if url is None:
            base_url = os.environ.get("BASE_URL")
            model = os.environ.get("MODEL", "stub-model")
            if base_url is None:
                from reasoning_graph.testing import OpenAIStubServer

                base_url = stack.enter_context(OpenAIStubServer()).base_url
                print(f"BASE_URL unset: the upstream is the local stub server at {base_url}")
            settings = ServeSettings(
                base_url=base_url,
                model=model,
                upstream_api_key=os.environ.get("API_KEY", "not-needed"),
                config=ReasoningConfig(max_tokens=128),
            )
            url = stack.enter_context(local_server(settings))
            print(f"serving on {url}")
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="not-needed")

        # The model name picks the strategy and its size: self_consistency with 4 samples.
        reply = client.chat.completions.create(
            model="self_consistency@4",
            messages=[{"role": "user", "content": "What is 17 + 25?"}],
        )
        message = reply.choices[0].message
        assert reply.usage is not None
        print(f"answer: {message.content}")
        print(f"reasoning: {(message.reasoning_content or '')[:60]!r}")  # type: ignore[attr-defined]
        print(f"usage: {reply.usage.completion_tokens} completion tokens over every call")

        # Streaming: the search's progress as reasoning_content, then the answer.
        stream = client.chat.completions.create(
            model="weighted_vote@2",
            messages=[{"role": "user", "content": "What is 17 + 25?"}],
            stream=True,
            stream_options={"include_usage": True},
            extra_body={"reasoning_graph": {"seed": 7}},
        )
        answer = ""
        for chunk in stream:
            if not chunk.choices:
                print(f"streamed usage: {chunk.usage.total_tokens if chunk.usage else '-'} tokens")
                continue
            delta = chunk.choices[0].delta
            for line in (delta.model_extra or {}).get("reasoning_content", "").splitlines():
                if line.startswith(("plan", "think", "scored", "selected")):
                    print(f"  | {line}")
            answer += delta.content or ""
        print(f"streamed answer: {answer}")


if __name__ == "__main__":
    main()
