"""The compiled graphs `asolve` reuses: per generator object, weak, and bounded.

`asolve(question, generator=g, n=8)` called in a loop would compile the same graph for
every question. `ReasonerCache` keeps the `Reasoner` of each (generator, verifier, config)
instead, on three conditions:

- **weak**: an entry lives only as long as its generator and verifier objects do. The cached
  graph reaches them through `weakref.proxy`, so the cache keeps nothing alive, and a
  generator's entries go when it is garbage-collected;
- **bounded**: at most `per_generator` configurations per generator (8) and `generators`
  generators (32), the least recently used going first;
- **by identity**: two equal generators are two entries; a generator or verifier that cannot
  be weakly referenced is not cached (each call compiles, as it would without a cache).

`cached_reasoner` uses the package's one cache, shared by `asolve`, `ReasoningChatModel`
and `ReasoningMiddleware`. Hold a `Reasoner` yourself to skip the cache altogether.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from typing import Any, Generic, TypeVar, cast

from reasoning_graph.config import ReasoningConfig
from reasoning_graph.providers.base import Generator
from reasoning_graph.reasoner import Reasoner
from reasoning_graph.verifiers.base import Verifier

__all__ = ["BoundedCache", "ReasonerCache", "cached_reasoner"]

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """A small least-recently-used map: once `size` entries are held, adding drops the oldest.

    Thread-safe.

    Example:
        ```python
        cache: BoundedCache[str, int] = BoundedCache(2)
        cache.put("a", 1); cache.put("b", 2); cache.put("c", 3)
        cache.get("a")  # None: dropped
        ```
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"size={size!r} must be at least 1")
        self.size = size
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> V | None:
        """The value of `key` (now the most recently used), or `None`."""
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        """Hold `value` under `key`, dropping the least recently used entry when full."""
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def pop(self, key: K) -> V | None:
        """Forget `key`; return its value, or `None`."""
        with self._lock:
            return self._entries.pop(key, None)


class _Graphs:
    """The reasoners of one generator: `(verifier id, config) -> (verifier ref, reasoner)`."""

    def __init__(self, generator: weakref.ref[Any], size: int) -> None:
        self.generator = generator
        self.reasoners: BoundedCache[
            tuple[int | None, ReasoningConfig], tuple[weakref.ref[Any] | None, Reasoner]
        ] = BoundedCache(size)


class ReasonerCache:
    """`Reasoner`s by generator object (weakly), then by verifier and config (bounded).

    Args:
        generators: The most generators held at once; defaults to 32.
        per_generator: The most configurations held per generator; defaults to 8.

    Example:
        ```python
        cache = ReasonerCache()
        reasoner = cache.get(generator, None, ReasoningConfig(n=8))
        cache.get(generator, None, ReasoningConfig(n=8)) is reasoner  # True
        ```
    """

    def __init__(self, *, generators: int = 32, per_generator: int = 8) -> None:
        self._per_generator = per_generator
        self._by_generator: BoundedCache[int, _Graphs] = BoundedCache(generators)
        # Weak-reference callbacks can run inside any allocation, even one this cache makes
        # while holding its lock: they only note the dead entry here (list.append is atomic),
        # and the next lookup drops it.
        self._dead: list[tuple[int, weakref.ref[Any]]] = []

    def get(
        self, generator: Generator, verifier: Verifier | None, config: ReasoningConfig
    ) -> Reasoner:
        """The cached `Reasoner` of these three, compiled now if there is none."""
        try:
            graphs = self._graphs(generator)
            verifier_ref = None if verifier is None else weakref.ref(verifier)
        except TypeError:  # cannot be weakly referenced
            return Reasoner(generator, verifier=verifier, config=config)
        key = (None if verifier is None else id(verifier), config)
        held = graphs.reasoners.get(key)
        if held is not None and (held[0] is None or held[0]() is verifier):
            return held[1]
        reasoner = Reasoner(
            cast(Generator, weakref.proxy(generator)),
            verifier=None if verifier is None else cast(Verifier, weakref.proxy(verifier)),
            config=config,
        )
        graphs.reasoners.put(key, (verifier_ref, reasoner))
        return reasoner

    def _graphs(self, generator: Generator) -> _Graphs:
        """The entry of `generator`, made (with a weak reference that drops it) if missing."""
        while self._dead:
            dead_key, ref = self._dead.pop()
            held = self._by_generator.get(dead_key)
            if held is not None and held.generator is ref:
                self._by_generator.pop(dead_key)
        key = id(generator)
        graphs = self._by_generator.get(key)
        if graphs is not None and graphs.generator() is generator:
            return graphs
        dead = self._dead
        graphs = _Graphs(
            weakref.ref(generator, lambda ref: dead.append((key, ref))), self._per_generator
        )
        self._by_generator.put(key, graphs)
        return graphs


_SHARED = ReasonerCache()
"""The package's one cache: weak and bounded, so it keeps no model alive and cannot grow."""


def cached_reasoner(
    generator: Generator, verifier: Verifier | None, config: ReasoningConfig
) -> Reasoner:
    """The shared cache's `Reasoner` of these three, compiled now if there is none.

    Example:
        ```python
        result = await cached_reasoner(generator, None, ReasoningConfig(n=8)).ainvoke(q)
        ```
    """
    return _SHARED.get(generator, verifier, config)
