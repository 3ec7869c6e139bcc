"""Threads on one machine: enough for API models (I/O bound) and for the embedded model's lock."""

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from nanoflux.engine.executors.base import Feed, Record, Task


class ThreadExecutor:
    """Keeps up to `threads` rounds in flight and yields records as they finish.

    Refills first: a slot that frees gets its next task before the record that freed it is
    yielded, so the caller's work on that record (the runner curates and journals it) overlaps the
    rounds in flight instead of leaving the slot idle. A `Feed` sees the finished records before
    that next task is pulled.
    """

    def __init__(self, threads: int = 1):
        self.threads = threads

    def run(self, play: Callable[[Task], Record], tasks: Iterable[Task]) -> Iterator[Record]:
        pending: set[Future[Record]] = set()
        source = iter(tasks)
        feed = source if isinstance(source, Feed) else None
        pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="nanoflux-round")

        def refill() -> None:
            while len(pending) < self.threads and (task := next(source, None)) is not None:
                pending.add(pool.submit(play, task))

        try:
            refill()
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                pending.difference_update(done)
                records = [future.result() for future in done]
                if feed is not None:
                    feed.finished(records)
                refill()
                yield from records
        finally:
            # On Ctrl-C or an early stop, rounds not yet started are dropped; running ones finish in the background.
            pool.shutdown(wait=False, cancel_futures=True)
