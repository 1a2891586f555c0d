"""Solve one question with `solve` and read the `Result`: the answer and the evidence behind it.

Runs on the embedded SmolLM2-135M-Instruct (llama.cpp on the CPU, the `local` extra), no key:

    python examples/solve_basic.py

A 135M model shows the machinery, not good arithmetic: expect the vote to be wrong sometimes.
"""

from reasoning_graph import solve


def main() -> None:
    result = solve("What is 17 + 25?", strategy="self_consistency", n=3, max_tokens=48)
    print(f"answer: {result.answer}  (strategy {result.strategy})")
    print(f"difficulty: bin {result.difficulty.bin}, agreement {result.difficulty.agreement}")
    for candidate in result.candidates:
        chosen = "*" if candidate.id == result.selected_id else " "
        print(f" {chosen} {candidate.id}: answer={candidate.answer!r} seed={candidate.seed}")
    usage = result.usage
    print(
        f"usage: {usage.prompt_tokens} prompt + {usage.completion_tokens} completion tokens "
        f"in {usage.llm_calls} calls"
    )


if __name__ == "__main__":
    main()
