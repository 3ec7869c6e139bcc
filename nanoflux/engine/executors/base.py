"""The executor interface: the journal, resume and curation do not care which executor ran a round."""

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

from nanoflux.engine.journal import PlayedRound

Task = dict[str, Any]
Record = PlayedRound  # what playing a task gives: the round, not yet curated


class Executor(Protocol):
    def run(self, play: Callable[[Task], Record], tasks: Iterable[Task]) -> Iterator[Record]:
        """Play tasks and yield each finished record as soon as it completes (any order).

        Tasks are pulled lazily, one when a slot frees, so the caller can build each task from
        the state the run has reached (e.g. the questions accepted so far). `play` never raises:
        it turns a failed round into a failed record. When `tasks` is a `Feed`, an executor may
        hand a freed slot its next task before it yields the record that freed it (refill first),
        after passing that record to `Feed.finished`.
        """
        ...


@runtime_checkable
class Feed(Protocol):
    """Tasks whose next one depends on the rounds that finished: the runner's side of a refill-first executor.

    An executor that refills a freed slot before yielding what finished first passes the finished
    records to `finished` (so a stop condition that a cheap look decides, like the circuit
    breaker, counts them before the next task is pulled), then pulls, then yields those records,
    on which the caller does its slow work (curation, the journal) while the new rounds play.
    """

    def __iter__(self) -> Iterator[Task]: ...

    def __next__(self) -> Task: ...

    def finished(self, records: Sequence[Record]) -> None:
        """These rounds finished (any order); called before the next task is pulled."""
        ...
