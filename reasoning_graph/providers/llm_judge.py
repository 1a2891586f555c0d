"""Moved to `reasoning_graph.verifiers.llm_judge`; this path works, with a `DeprecationWarning`,
until the next release."""

from reasoning_graph.providers._moved import moved_to as _moved_to
from reasoning_graph.verifiers import llm_judge as _new

__all__ = list(_new.__all__)
__getattr__ = _moved_to(__name__, _new.__name__)
