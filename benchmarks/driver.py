"""The driver's own work per round, timed inside a run, and a round's calls: shared by benchmarks/compile.py and
benchmarks/scale.py."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from nanoflux.engine.curation.decide import Curator
from nanoflux.engine.curation.novelty import NoveltyFilter
from nanoflux.engine.journal import Journal
from nanoflux.spec.model import Spec


class DriverProbe:
    """Times the driver's per-round work inside a run by wrapping the three methods it calls, and counts the calls
    (`append_many` once for each group of rounds journaled together).

    Also notes when the first round is handed out (the first `nearest`) and when each group of rounds is
    journaled, with the driver process's CPU time at both ends.
    """

    METHODS = ((NoveltyFilter, "nearest"), (Curator, "decide"), (Journal, "append_many"))

    def __init__(self) -> None:
        self.spent: dict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()
        self.first_handout: tuple[float, float] | None = None
        self.last_append: tuple[float, float] | None = None

    @contextmanager
    def installed(self) -> Iterator[DriverProbe]:
        originals = [(owner, name, getattr(owner, name)) for owner, name in self.METHODS]
        for owner, name, method in originals:
            setattr(owner, name, self._timed(name, method))
        try:
            yield self
        finally:
            for owner, name, method in originals:
                setattr(owner, name, method)

    def _timed(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            if name == "nearest" and self.first_handout is None:
                self.first_handout = (time.perf_counter(), time.process_time())
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.spent[name] += time.perf_counter() - start
                self.calls[name] += 1
                if name == "append_many":
                    self.last_append = (time.perf_counter(), time.process_time())

        return timed


def calls_per_round(spec: Spec) -> int:
    """A round's LM calls, one after another: the attacker, the defender, each solve, the judge (the ideal
    rate of N parallel rounds at L seconds a call is N / (calls x L))."""
    return 3 + spec.roles.judge.solves
