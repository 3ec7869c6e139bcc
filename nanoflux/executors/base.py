"""The executor interface: the journal, resume and curation do not care which executor ran a round."""

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from nanoflux.journal import PlayedRound

Task = dict[str, Any]
Record = PlayedRound  # what playing a task gives: the round, not yet curated


class Executor(Protocol):
    def run(self, play: Callable[[Task], Record], tasks: Iterable[Task]) -> Iterator[Record]:
        """Play tasks and yield each finished record as soon as it completes (any order).

        Tasks are pulled lazily, one when a slot frees, so the caller can build each task from
        the state the run has reached (e.g. the questions accepted so far). `play` never raises:
        it turns a failed round into a failed record.
        """
        ...
