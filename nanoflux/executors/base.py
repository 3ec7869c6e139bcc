"""The executor interface: the journal, resume and curation do not care which executor ran a round."""

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

Task = dict[str, Any]
Record = dict[str, Any]


class Executor(Protocol):
    def run(self, play: Callable[[Task], Record], tasks: Iterable[Task]) -> Iterator[Record]:
        """Play tasks and yield each finished record as soon as it completes (any order).

        Tasks are pulled lazily, one when a slot frees, so the caller can build each task from
        the state the run has reached (e.g. the questions accepted so far). `play` never raises:
        it turns a failed round into a failed record.
        """
        ...
