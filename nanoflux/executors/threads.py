"""Threads on one machine: enough for API models (I/O bound) and for the embedded model's lock."""

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from nanoflux.executors.base import Record, Task


class ThreadExecutor:
    """Keeps up to `threads` rounds in flight and yields records as they finish."""

    def __init__(self, threads: int = 1):
        self.threads = threads

    def run(self, play: Callable[[Task], Record], tasks: Iterable[Task]) -> Iterator[Record]:
        pending: set[Future[Record]] = set()
        source = iter(tasks)
        pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="nanoflux-round")
        try:
            while True:
                while len(pending) < self.threads and (task := next(source, None)) is not None:
                    pending.add(pool.submit(play, task))
                if not pending:
                    return
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        finally:
            # On Ctrl-C or an early stop, rounds not yet started are dropped; running ones finish in the background.
            pool.shutdown(wait=False, cancel_futures=True)
