"""Rounds on Ray actors: one journal writer, each round written once, nothing lost when a worker dies.

One local Ray instance serves the module; workers build their role LMs from `StandIn`, a
picklable factory of scripted LMs, so no test loads a real model.
"""

import json
import logging
import os
import random
import re
import shutil
import socket
import time
from pathlib import Path
from typing import Any

import pytest
import ray
from click.testing import CliRunner
from diskcache import FanoutCache

from nanoflux import parse_spec
from nanoflux.base.paths import EMBEDDING_CACHE, NOVELTY_DIR
from nanoflux.cli import main
from nanoflux.engine.executors import ThreadExecutor
from nanoflux.engine.executors.ray import RayExecutor
from nanoflux.engine.journal import read_journal
from nanoflux.jobs.compile import compile_spec
from nanoflux.jobs.curate import curate
from nanoflux.modules import RoleLMs
from nanoflux.testing import SCENES, ScriptedEngine, scripted_roles
from tests.engine.executors.test_threads import Log
from tests.engine.executors.test_threads import play as echo
from tests.support.faultserver import REASONING_TOKENS, THOUGHT, FaultServer, fault_spec

SPEC = """
name: jars
description: Counting jars on shelves.
topics: [shelves, crates]
questions: {hops: 2-4}
curation: {band: L3-L5}
rounds: 12
"""


def deterministic_answer(role: str, prompt: str) -> dict[str, Any]:
    """The same (topic, hops) always gives the same question, so later rounds repeat earlier ones."""
    if role == "attacker":
        topic = re.search(r"\[\[ ## topic ## \]\]\n(.*)\n", prompt).group(1)
        hops = int(re.search(r"\[\[ ## hops ## \]\]\n(\d+)", prompt).group(1))
        return {"question": SCENES[(5 * (topic == "crates") + hops) % len(SCENES)].format(n=hops),
                "reference_answer": str(3 * hops + 5), "solution_steps": [f"{hops} * 3 + 5 = {3 * hops + 5}"],
                "annotation": "Multiply before adding."}
    if role == "defender":
        return {"reasoning": "I add everything.", "answer": "0"}
    return {"scores": {"correctness": 4, "rigor": 4, "completeness": 4, "clarity": 4}, "verdict": "incorrect",
            "critique": "Wrong total."}


class StandInEngine(ScriptedEngine):
    """Sleeps a random time per call (so rounds finish out of order), can log calls, can kill its actor once."""

    def __init__(self, jitter: float, call_log: Path | None, kill_marker: Path | None):
        super().__init__(deterministic_answer)
        self.jitter, self.call_log, self.kill_marker = jitter, call_log, kill_marker

    def complete(self, request: Any) -> Any:
        if self.kill_marker and "reference_answer" in json.dumps(request.config.response_format or {}):
            try:
                os.close(os.open(self.kill_marker, os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                pass
            else:
                ray.kill(ray.get_runtime_context().current_actor)  # mid-round: the attacker is being called
                time.sleep(10)
                self.kill_marker.with_suffix(".survived").touch()  # only if the kill did not land
        start = time.time()
        time.sleep(random.uniform(0, self.jitter))
        response = super().complete(request)
        if self.call_log:
            with (self.call_log / request.model.replace("/", "_")).open("a") as log:
                log.write(f"{start} {time.time()}\n")
        return response


class StandIn:
    """A picklable `spec -> RoleLMs`: each Ray worker builds its own scripted LMs with it."""

    def __init__(self, jitter: float = 0.0, call_log: Path | None = None, kill_marker: Path | None = None):
        self.jitter, self.call_log, self.kill_marker = jitter, call_log, kill_marker

    def __call__(self, spec: Any) -> RoleLMs:
        return scripted_roles(StandInEngine(self.jitter, self.call_log, self.kill_marker))


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=80 * 1024**2, log_to_driver=False)
    yield
    ray.shutdown()


def play(tmp_path: Path, executor: Any, *, out: str = "run", lms: Any = None, **kwargs: Any):
    return compile_spec(parse_spec(SPEC), out=tmp_path / out, cache_dir=tmp_path / "cache", lms=lms or StandIn(),
                        executor=executor, progress=False, **kwargs)


def journaled_ids(run_dir: Path) -> list[int]:
    return [record["round_id"] for record in read_journal(run_dir / "rounds.jsonl")]


def accepted_ids(run_dir: Path) -> list[int]:
    return [r["round_id"] for r in read_journal(run_dir / "rounds.jsonl") if r["curation"]["accepted"]]


def test_an_unreachable_cluster_is_one_clear_error_with_exit_code_2(tmp_path: Path) -> None:
    assert not ray.is_initialized(), "runs before the module's Ray instance starts"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: nothing listens there
    spec = tmp_path / "jars.yaml"
    spec.write_text(SPEC)
    result = CliRunner().invoke(main, ["compile", str(spec), "--out", str(tmp_path / "run"), "--executor", "ray",
                                       "--address", f"ray://127.0.0.1:{port}"])
    assert result.exit_code == 2
    assert f"ray://127.0.0.1:{port}" in result.output and "ray start --head" in result.output


def test_ray_workers_journal_each_round_once_and_accept_what_threads_accept(tmp_path: Path, local_ray: None) -> None:
    threads = play(tmp_path, ThreadExecutor(1), out="threads")
    on_ray = play(tmp_path, RayExecutor(workers=2, threads=2), out="ray", lms=StandIn(jitter=0.3))
    assert journaled_ids(on_ray.run_dir) == list(range(12))  # every round once, in round-id order
    assert accepted_ids(on_ray.run_dir) == accepted_ids(threads.run_dir)
    assert 0 < len(accepted_ids(threads.run_dir)) < 12, "the stand-in repeats questions: novelty must decide"
    played = read_journal(on_ray.run_dir / "rounds.jsonl")
    assert all(len(r["solves"]) == 3 and r["roles"]["solver"]["calls"] == 3 for r in played), \
        "each worker rebuilds the solver's LM and plays every solve"


def test_a_feed_sees_a_finished_round_then_its_actor_is_refilled_then_the_round_is_yielded(local_ray: None) -> None:
    log = Log(3)
    for record in RayExecutor(workers=1).run(echo, log):
        log.events.append(f"yield {record['round_id']}")
    assert log.events == ["pull 0", "finished 0", "pull 1", "yield 0", "finished 1", "pull 2", "yield 1",
                          "finished 2", "yield 2"]


def niceness(task: dict[str, Any]) -> dict[str, Any]:
    return {"round_id": task["round_id"], "nice": os.getpriority(os.PRIO_PROCESS, 0)}


def test_rounds_on_actors_play_at_the_drivers_priority_not_rays_nice_15(local_ray: None) -> None:
    [record] = RayExecutor(workers=1).run(niceness, Log(1))
    assert record["nice"] == os.getpriority(os.PRIO_PROCESS, 0), "a niced actor starves behind any busy process"


def test_a_round_handed_out_on_ray_as_the_dataset_filled_is_played_but_not_journaled(
        tmp_path: Path, local_ray: None, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="nanoflux")
    log = tmp_path / "calls"
    log.mkdir()
    spec = parse_spec(SPEC.replace("curation: {", "curation: {size: 2, "))
    result = compile_spec(spec, out=tmp_path / "run", cache_dir=tmp_path / "cache", lms=StandIn(call_log=log),
                          executor=RayExecutor(workers=1), progress=False)
    filled = accepted_ids(result.run_dir)[-1]
    assert len(accepted_ids(result.run_dir)) == 2 and journaled_ids(result.run_dir) == list(range(filled + 1))
    assert len((log / "scripted_a").read_text().splitlines()) == filled + 2, \
        "the next round took the actor before the round that filled the dataset was curated"
    assert f"round {filled + 1} was handed out as the dataset filled; not journaled" in caplog.text


def test_resume_goes_on_whichever_executor_ran_the_first_part(tmp_path: Path, local_ray: None) -> None:
    play(tmp_path, ThreadExecutor(2), rounds=4)
    play(tmp_path, RayExecutor(workers=2), rounds=8, resume=True)
    result = play(tmp_path, ThreadExecutor(2), rounds=12, resume=True)
    assert journaled_ids(result.run_dir) == list(range(12))
    assert result.manifest["counts"]["rounds_played"] == 12


@pytest.mark.slow
def test_workers_name_the_failing_role_the_breaker_stops_them_and_resume_replays_on_ray(
        tmp_path: Path, local_ray: None) -> None:
    with FaultServer(default="500") as server:  # workers build their LMs from the spec and call it themselves
        spec = parse_spec(fault_spec(server, breaker=2))
        options = {"out": tmp_path / "run", "cache_dir": tmp_path / "cache", "progress": False}
        broken = compile_spec(spec, executor=RayExecutor(workers=2), **options)
        assert broken.progress.breaker["role"] == "attacker" and broken.progress.breaker["api_base"] == server.api_base
        failed = journaled_ids(broken.run_dir)
        assert 2 <= len(failed) <= 3 and server.count() == len(failed), "2 workers: at most one more in flight"
        server.default = "ok"
        resumed = compile_spec(spec, executor=RayExecutor(workers=2), resume=True, **options)
    assert resumed.progress.breaker is None and resumed.manifest["counts"]["rounds_played"] == 6
    assert resumed.manifest["counts"]["attempts"] == 6 + len(failed) and resumed.manifest["counts"]["failed"] == 0


@pytest.mark.slow
def test_ray_workers_cache_in_the_runs_cache_dir_not_dspys_default(tmp_path: Path, local_ray: None) -> None:
    requests = []
    for name in ("first", "second"):  # the same spec and the same answers, each run with a cache of its own
        with FaultServer() as server:
            spec = parse_spec(fault_spec(server))
            compile_spec(spec, executor=RayExecutor(workers=2), out=tmp_path / name,
                         cache_dir=tmp_path / f"{name}-cache", progress=False)
            requests.append(server.count())
        with FanoutCache(directory=str(tmp_path / f"{name}-cache"), shards=16) as cache:
            assert len(cache) > 0, "the workers' answers are in the run's cache"
    assert requests[0] > 0 and requests[1] > 0, "no run was answered from another run's cache"


@pytest.mark.slow
def test_a_worker_killed_mid_round_costs_no_round_and_repeats_none(tmp_path: Path, local_ray: None,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="nanoflux")
    marker = tmp_path / "killed"
    result = play(tmp_path, RayExecutor(workers=2, threads=2), lms=StandIn(jitter=0.2, kill_marker=marker))
    assert marker.exists() and not marker.with_suffix(".survived").exists(), "one actor died mid-round"
    assert "died mid-round; round" in caplog.text and "takes the place of" in caplog.text
    assert journaled_ids(result.run_dir) == list(range(12))
    assert result.manifest["counts"]["failed"] == 0


@pytest.mark.slow
def test_calls_to_one_api_model_stay_within_the_limit_across_workers(tmp_path: Path, local_ray: None) -> None:
    log = tmp_path / "calls"
    log.mkdir()
    play(tmp_path, RayExecutor(workers=2, threads=2, max_concurrent_calls=1), rounds=6,
         lms=StandIn(jitter=0.2, call_log=log))
    for model_log in log.iterdir():
        calls = sorted(tuple(map(float, line.split())) for line in model_log.read_text().splitlines())
        assert len(calls) >= 6
        assert all(later[0] >= earlier[1] for earlier, later in zip(calls, calls[1:], strict=False)), model_log.name


@pytest.mark.slow
def test_a_models_rpm_holds_across_workers_one_actor_keeping_its_schedule(tmp_path: Path, local_ray: None) -> None:
    with FaultServer() as server:  # workers build their LMs from the spec, each with the limit
        spec = parse_spec(fault_spec(server).replace("num_retries: 0}", "num_retries: 0, rpm: 120}"))
        compile_spec(spec, executor=RayExecutor(workers=2, threads=3), out=tmp_path / "run", rounds=10,
                     cache_dir=tmp_path / "cache", progress=False)
        assert server.count() >= 15  # 30 calls, less any DSPy answered from its cache
        # 120 a minute is 10 in any 5 s, plus the few that a busy machine's delays bunch up at the server (the
        # window once held 12 with 2 test workers on 2 cores); 10 from each worker would be 20.
        assert server.busiest(5.0) <= 14, "120 a minute: 10 in any 5 s, not 10 from each worker"


@pytest.mark.slow
def test_curate_on_ray_selects_the_same_dataset_as_curate_here(tmp_path: Path, local_ray: None) -> None:
    run = play(tmp_path, ThreadExecutor(1)).run_dir
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    (copy / NOVELTY_DIR / EMBEDDING_CACHE).unlink()  # so Ray Data computes every embedding
    here = curate(run, band="L4", seed=3, out=tmp_path / "here")
    on_ray = curate(copy, band="L4", seed=3, out=tmp_path / "on-ray", executor="ray")
    for name in ("sft.jsonl", "dpo.jsonl", "examples.jsonl"):
        assert (here.out_dir / "dataset" / name).read_text() == (on_ray.out_dir / "dataset" / name).read_text()
    assert on_ray.manifest["counts"] == here.manifest["counts"]


@pytest.mark.slow
def test_ray_workers_journal_the_revisions_and_the_traces_of_a_thinking_model(tmp_path: Path, local_ray: None) -> None:
    with FaultServer(thinking="field") as server:  # its defender is always wrong: each round revises once
        spec = parse_spec(fault_spec(server).replace("judge: {", "judge: {revise: 1, "))
        result = compile_spec(spec, executor=RayExecutor(workers=2), out=tmp_path / "run", rounds=4,
                              cache_dir=tmp_path / "cache", progress=False)
    records = read_journal(result.run_dir / "rounds.jsonl")
    assert [r["status"] for r in records] == ["ok"] * 4, [r.get("error") for r in records]
    for record in records:
        assert record["traces"] == {role: THOUGHT.replace("{role}", role) for role in ("attacker", "defender", "judge")}
        assert [(revision["answer"], revision["trace"]) for revision in record["revisions"]] == [
            ("0", THOUGHT.replace("{role}", "defender"))]
        assert record["roles"]["defender"] == {**record["roles"]["defender"], "calls": 2,
                                               "reasoning_tokens": 2 * REASONING_TOKENS}
    assert result.manifest["counts"]["outcomes"]["revisions"] == 4
