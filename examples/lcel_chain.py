"""`ReasoningChatModel` in an LCEL chain: `prompt | model | StrOutputParser()`.

`ReasoningChatModel` is a LangChain `BaseChatModel` that answers by running the reasoning
graph, so it drops into any chain. The parser gets the selected answer (the `text` block);
the winning solution is a `reasoning` content block, and `usage_metadata` counts every
sample once. Its generator here is the embedded model; any LangChain chat model works too
(`generator=ChatOpenAI(...)`).

Runs on the embedded SmolLM2-135M-Instruct (the `local` extra), no key:

    python examples/lcel_chain.py
"""

from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from reasoning_graph import ReasoningConfig
from reasoning_graph.chat_model import ReasoningChatModel
from reasoning_graph.providers.llama_cpp import LlamaCppProvider


def main() -> None:
    model = ReasoningChatModel(
        generator=LlamaCppProvider(),
        config=ReasoningConfig(strategy="self_consistency", n=3, max_tokens=48),
    )
    prompt = ChatPromptTemplate.from_messages([("human", "What is {a} + {b}?")])
    chain = prompt | model | StrOutputParser()
    print(f"chain answer: {chain.invoke({'a': 17, 'b': 25})}")

    message = (prompt | model).invoke({"a": 17, "b": 25})  # the whole message
    print(f"usage: {message.usage_metadata}")
    print(
        f"strategy: {message.response_metadata['strategy']}, "
        f"difficulty: {message.response_metadata['difficulty']}"
    )


if __name__ == "__main__":
    main()
