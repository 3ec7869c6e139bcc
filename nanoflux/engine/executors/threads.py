"""Threads on one machine: enough for API models (I/O bound) and for the embedded model's lock."""

import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait

from nanoflux.engine.executors.base import Feed, Record, Task


class ThreadExecutor:
    """Keeps up to `threads` rounds in flight and yields records as they finish.

    Refills first: a slot that frees gets its next task before the record that freed it is
    yielded, so the caller's work on that record (the runner curates and journals it) overlaps the
    rounds in flight instead of leaving the slot idle. A `Feed` sees the finished records before
    that next task is pulled.

    Each round plays on a daemon thread of its own. On Ctrl-C or an early stop, the rounds in flight
    are abandoned (the runner journals none of them; `--resume` plays them again): a round blocked in
    an LM call or a generation must not keep the process alive, as a `ThreadPoolExecutor`'s worker
    does (the interpreter joins those at exit, however long the call still takes).
    """

    def __init__(self, threads: int = 1):
        self.threads = threads

    def run(self, play: Callable[[Task], Record], tasks: Iterable[Task]) -> Iterator[Record]:
        pending: set[Future[Record]] = set()
        source = iter(tasks)
        feed = source if isinstance(source, Feed) else None

        def refill() -> None:
            while len(pending) < self.threads and (task := next(source, None)) is not None:
                pending.add(_start(play, task))

        refill()
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            pending.difference_update(done)
            records = [future.result() for future in done]
            if feed is not None:
                feed.finished(records)
            refill()
            yield from records


_playing: set[threading.Thread] = set()  # the round threads of this process still running
_lock = threading.Lock()


def rounds_in_flight() -> int:
    """Rounds still playing on this process's threads: after an interrupted run, those it abandoned."""
    with _lock:
        return len(_playing)


def _start(play: Callable[[Task], Record], task: Task) -> Future[Record]:
    """`play(task)` on a new daemon thread; the future holds its record (or what it raised)."""
    future: Future[Record] = Future()

    def target() -> None:
        future.set_running_or_notify_cancel()
        try:
            future.set_result(play(task))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future, as an executor does
            future.set_exception(exc)
        finally:
            with _lock:
                _playing.discard(thread)

    thread = threading.Thread(target=target, name=f"nanoflux-round-{task.get('round_id')}", daemon=True)
    with _lock:
        _playing.add(thread)
    thread.start()
    return future
