"""Fixtures shared by the reliability suites."""

from __future__ import annotations

import logging

import pytest

# Every library a request passes through, so that a leak logged at DEBUG anywhere is seen.
LOGGERS = (
    "openai",
    "httpx",
    "httpx2",
    "httpcore",
    "httpcore2",
    "aiohttp",
    "langchain",
    "langgraph",
)


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """`caplog` capturing every record at DEBUG, the HTTP libraries' included."""
    caplog.set_level(logging.DEBUG)
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog
