"""The thread executor refills first: a freed slot gets its next task before the caller sees what freed it."""

import threading
import time
from collections.abc import Iterator, Sequence

from nanoflux import parse_spec
from nanoflux.engine.executors import ThreadExecutor, executor_for
from nanoflux.engine.executors.base import Feed, Record, Task
from nanoflux.spec.model import apply_overrides


def play(task: Task) -> Record:
    return {"round_id": task["round_id"]}  # type: ignore[typeddict-item]


class Log:
    """A `Feed` over round ids that writes down, in order, what the executor did with it."""

    def __init__(self, rounds: int):
        self.events: list[str] = []
        self._ids = iter(range(rounds))

    def __iter__(self) -> Iterator[Task]:
        return self

    def __next__(self) -> Task:
        round_id = next(self._ids)
        self.events.append(f"pull {round_id}")
        return {"round_id": round_id}

    def finished(self, records: Sequence[Record]) -> None:
        self.events += [f"finished {record['round_id']}" for record in records]


def test_a_feed_sees_a_finished_round_then_its_slot_is_refilled_then_the_round_is_yielded() -> None:
    log = Log(3)
    assert isinstance(log, Feed)
    for record in ThreadExecutor(1).run(play, log):
        log.events.append(f"yield {record['round_id']}")
    assert log.events == ["pull 0", "finished 0", "pull 1", "yield 0", "finished 1", "pull 2", "yield 1",
                          "finished 2", "yield 2"]


def test_no_more_rounds_than_threads_play_at_once_and_each_record_is_yielded_once() -> None:
    lock, running, most = threading.Lock(), [0], [0]

    def counted(task: Task) -> Record:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.001)  # long enough for other rounds to overlap it
        with lock:
            running[0] -= 1
        return play(task)

    seen = [record["round_id"] for record in ThreadExecutor(4).run(counted, ({"round_id": i} for i in range(40)))]
    assert sorted(seen) == list(range(40)) and 1 <= most[0] <= 4


def test_an_embedded_model_plays_two_rounds_at_once_unless_threads_says_otherwise() -> None:
    spec = parse_spec("name: a\ndescription: d\n")
    assert executor_for(spec, ["openai/x", "local/smollm2-135m"]).threads == 2  # one role on the embedded model
    assert executor_for(spec, ["openai/x", "scripted/judge"]).threads == 1
    assert executor_for(parse_spec("name: a\ndescription: d\nthreads: 1\n"), ["local/smollm2-135m"]).threads == 1
    assert executor_for(apply_overrides(spec, threads=8), ["openai/x"]).threads == 8
