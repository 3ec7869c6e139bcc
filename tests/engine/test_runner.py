"""Every round samples afresh, and a round played again asks what it asked before: the run's cache
is its replay log. Checked from the server's side: how many requests reached it."""

from pathlib import Path

from nanoflux import parse_spec
from nanoflux.engine.journal import read_journal
from nanoflux.engine.runner import rollout_id
from nanoflux.jobs.compile import compile_spec
from tests.support.faultserver import FaultServer, fault_spec

# Two topics and hops 2-4 make 6 attacker prompts; a band no round reaches keeps the `avoid` list empty, so
# without a per-round key half of the rounds would ask what an earlier one asked and be answered from the cache.
ROUNDS = 12
CALLS = 3 + 3  # a round's requests: attacker, defender and judge, and the default 3 solves (each its own key)


def _spec(server: FaultServer) -> str:
    return (fault_spec(server).replace("rounds: 6\n", f"rounds: {ROUNDS}\n")
            .replace("curation: {band: L3-L5}", "curation: {band: 1-1.1, size: 100}"))


def _questions(run: Path) -> list[str]:
    return [record["question"] for record in read_journal(run / "rounds.jsonl")]


def test_n_rounds_make_6n_requests_and_each_round_writes_its_own_question(tmp_path: Path) -> None:
    with FaultServer() as server:  # a distinct answer for every request
        result = compile_spec(parse_spec(_spec(server)), out=tmp_path / "run", cache_dir=tmp_path / "cache",
                              progress=False)
    assert result.progress.played == ROUNDS and result.progress.failed == 0 and result.progress.accepted == 0
    assert server.count() == CALLS * ROUNDS
    assert len(set(_questions(result.run_dir))) == ROUNDS
    records = read_journal(result.run_dir / "rounds.jsonl")
    assert len({record["rollout_id"] for record in records}) == ROUNDS
    assert result.manifest["run_id"]


def test_a_resume_replays_rounds_the_journal_lost_from_the_cache_without_a_request(tmp_path: Path) -> None:
    with FaultServer() as server:
        spec = parse_spec(_spec(server))
        run = compile_spec(spec, out=tmp_path / "run", cache_dir=tmp_path / "cache", progress=False).run_dir
        before = _questions(run)
        journal = run / "rounds.jsonl"
        lines = journal.read_text().splitlines(keepends=True)
        journal.write_text("".join(lines[:-3]))  # killed before its last three rounds were journaled
        requests = server.count()
        compile_spec(spec, out=run, cache_dir=tmp_path / "cache", resume=True, progress=False)
    assert server.count() == requests, "the replayed rounds were answered from the cache"
    assert _questions(run) == before


def test_two_runs_of_one_spec_sample_apart_even_on_one_cache(tmp_path: Path) -> None:
    with FaultServer() as server:
        spec = parse_spec(_spec(server))
        first = compile_spec(spec, out=tmp_path / "first", cache_dir=tmp_path / "cache", progress=False).run_dir
        second = compile_spec(spec, out=tmp_path / "second", cache_dir=tmp_path / "cache", progress=False).run_dir
    assert server.count() == 2 * CALLS * ROUNDS
    assert not set(_questions(first)) & set(_questions(second))


def test_the_key_differs_by_run_round_and_attempt_and_is_stable() -> None:
    keys = {rollout_id(run, round_id, attempt) for run in ("a", "b") for round_id in range(50) for attempt in (1, 2)}
    assert len(keys) == 200
    assert rollout_id("a", 3, 1) == rollout_id("a", 3, 1)
    assert all(0 <= key < 2**60 for key in keys)
