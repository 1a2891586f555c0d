"""The model-name grammar and how a request becomes a run's config (pure, no server)."""

from __future__ import annotations

from typing import Any

import pytest

from reasoning_graph import ReasoningConfig
from reasoning_graph.serve import ServeSettings
from reasoning_graph.serve.errors import APIError, Redactor
from reasoning_graph.serve.request import ModelName, parse_model_name, parse_request

SETTINGS = ServeSettings(
    base_url="http://127.0.0.1:9/v1",
    model="m",
    config=ReasoningConfig(strategy="best_of_n", n=4, max_tokens=256),
    request_timeout_s=60,
)


def request(**fields: Any) -> dict[str, Any]:
    return {"model": "reasoning-graph", "messages": [{"role": "user", "content": "2+2?"}]} | fields


@pytest.mark.parametrize(
    ("name", "parsed"),
    [
        ("reasoning-graph", ModelName(None, None, None)),
        ("self_consistency", ModelName("self_consistency", None, None)),
        ("compute_optimal@16", ModelName("compute_optimal", 16, None)),
        ("weighted_vote@8:gpt-4o-mini", ModelName("weighted_vote", 8, "gpt-4o-mini")),
        ("self_consistency@8:qwen2.5:1.5b", ModelName("self_consistency", 8, "qwen2.5:1.5b")),
        ("reasoning-graph:my/model", ModelName(None, None, "my/model")),
    ],
)
def test_model_name_grammar(name: str, parsed: ModelName):
    assert parse_model_name(name) == parsed


@pytest.mark.parametrize(
    "name", ["gpt-4o", "self_consistency@", "self_consistency@x", "reasoning-graph@4", "@8", ""]
)
def test_model_names_outside_the_grammar(name: str):
    with pytest.raises(APIError) as caught:
        parse_model_name(name)
    assert caught.value.status == 400 and caught.value.param == "model"


def test_precedence_defaults_then_name_then_fields_then_reasoning_graph():
    run = parse_request(
        request(
            model="weighted_vote@8",
            temperature=0.1,
            seed=5,
            reasoning_graph={"n": 3, "seed": 9, "early_stop": "settled"},
        ),
        SETTINGS,
    )
    config = run.config
    assert (config.strategy, config.n, config.temperature, config.seed) == (
        "weighted_vote",
        3,
        0.1,
        9,
    )
    assert config.early_stop == "settled" and config.max_tokens == 256
    assert config.deadline_s == 60  # the server's request timeout


def test_max_completion_tokens_is_the_budget_and_wins_over_max_tokens():
    config = parse_request(request(max_tokens=10_000, max_completion_tokens=1_000), SETTINGS).config
    assert config.budget_tokens == 1_000 and config.max_tokens == 256
    config = parse_request(request(max_tokens=100), SETTINGS).config
    assert config.budget_tokens == 100 and config.max_tokens == 100


def test_stream_options_and_stop():
    run = parse_request(
        request(stream=True, stream_options={"include_usage": True}, stop="END"), SETTINGS
    )
    assert (run.stream, run.include_usage, run.stop) == (True, True, ("END",))


def test_redactor_stars_long_keys_anywhere_and_short_ones_as_words():
    redactor = Redactor(["sk-long-secret-1", "abc", None])
    assert redactor.redact("key=sk-long-secret-1!") == "key=**********!"
    assert redactor.redact("abc abcdef") == "********** abcdef"
