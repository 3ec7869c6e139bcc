"""A failing server costs no round: timeouts, retries, the circuit breaker, and replay on --resume.

Every role talks to a real OpenAI-compatible server (tests/support/faultserver.py) through DSPy, which
fails exactly as each test plans; the tests count the requests it received.
"""

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nanoflux import parse_spec
from nanoflux.engine.budget import Spending
from nanoflux.engine.journal import read_journal
from nanoflux.jobs.compile import compile_spec
from nanoflux.jobs.report.packing import decode_page
from nanoflux.jobs.stats import run_stats
from tests.support import ROOT
from tests.support.fakes import invoke
from tests.support.faultserver import CLIENTS, FaultServer, fault_spec

CALLS_PER_ROUND = 3 + 3  # attacker, defender, 3 solves, judge: one request each when nothing fails


def compile_against(server: FaultServer, tmp_path: Path, *, spec: str | None = None, **kwargs):
    options = {"out": tmp_path / "run", "cache_dir": tmp_path / "cache", "progress": False}
    return compile_spec(parse_spec(spec or fault_spec(server)), **{**options, **kwargs})


def attempts(run_dir: Path) -> list[tuple[int, int, str]]:
    return [(r["round_id"], r["attempt"], r["status"]) for r in read_journal(run_dir / "rounds.jsonl")]


def test_a_server_answering_only_500_trips_the_breaker_and_resume_replays_exactly_the_failed_rounds(
        tmp_path: Path) -> None:
    with FaultServer(default="500") as server:
        server.plan(*["ok"] * CALLS_PER_ROUND)  # round 0 is played whole; then the server breaks
        spec_path = tmp_path / "spec.yaml"
        spec_path.write_text(fault_spec(server))
        run_dir, cache = tmp_path / "run", tmp_path / "cache"

        broken = invoke("compile", str(spec_path), "--out", str(run_dir), "--cache-dir", str(cache))
        assert broken.exit_code == 1, broken.output
        assert server.count() == CALLS_PER_ROUND + 3 and server.count("500") == 3, \
            "3 failed rounds, one refused request each"
        assert "the attacker's model openai/fault at " + server.api_base in broken.output
        assert "injected failure" in broken.output and "Traceback" not in broken.output
        assert "failed rounds: LM call failed 3." in broken.output
        manifest = json.loads((run_dir / "manifest.json").read_text())
        assert manifest["circuit_breaker"]["role"] == "attacker" and manifest["circuit_breaker"]["after"] == 3
        assert manifest["counts"]["rounds_played"] == 4 and manifest["counts"]["failures"] == {"lm": 3}
        assert manifest["dataset"]["sft"]["rows"] == 1 \
            == len((run_dir / "dataset" / "sft.jsonl").read_text().splitlines())
        assert "The run stopped early: 3 rounds in a row failed" in decode_page((run_dir / "report.html").read_bytes())
        command = next(line for line in broken.output.splitlines()
                       if "continue with: " in line).split("continue with: ")[1]
        assert shlex.split(command) == ["nanoflux", "compile", str(spec_path), "--out", str(run_dir), "--resume",
                                        "--cache-dir", str(cache)]

        server.default = "ok"  # the server is back
        resumed = invoke(*shlex.split(command)[1:])
        assert resumed.exit_code == 0, resumed.output
        assert server.count() == CALLS_PER_ROUND + 3 + 5 * CALLS_PER_ROUND, \
            "rounds 1-3 again and rounds 4-5, never round 0"

    assert attempts(run_dir) == [(0, 1, "ok"), (1, 1, "failed"), (2, 1, "failed"), (3, 1, "failed"),
                                 (1, 2, "ok"), (2, 2, "ok"), (3, 2, "ok"), (4, 1, "ok"), (5, 1, "ok")]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["circuit_breaker"] is None
    assert manifest["counts"]["rounds_played"] == 6 and manifest["counts"]["attempts"] == 9
    assert manifest["counts"]["failed"] == 0 and manifest["counts"]["accepted"] == 6
    assert manifest["dataset"]["sft"]["rows"] == 6
    stats = run_stats(run_dir)
    assert stats["rounds_played"] == 6 and stats["by_verdict"] == {"incorrect": {"rounds": 6, "accepted": 6}}


@pytest.mark.parametrize("client", CLIENTS)
def test_a_hanging_server_fails_the_call_after_the_role_timeout(tmp_path: Path, client: str) -> None:
    with FaultServer(default="hang", hang_limit=30) as server:
        started = time.monotonic()
        result = compile_against(server, tmp_path, spec=fault_spec(server, timeout=1, model=CLIENTS[client]), rounds=1)
        elapsed = time.monotonic() - started
    [record] = read_journal(result.run_dir / "rounds.jsonl")
    assert record["error_kind"] == "lm" and record["failed_role"] == "attacker"
    assert "timed out" in record["error"].lower() and "Timeouts(" not in record["error"]
    if client == "dspy":  # its message says how to raise the limit: in the spec's words
        assert "raise it with roles.attacker.timeout in the spec" in record["error"]
    assert record["seconds"] < 10 and elapsed < 30, "one call of 1 s, not litellm's 600 s (the server holds 30 s)"


@pytest.mark.parametrize("client", CLIENTS)
def test_a_429_is_retried_after_the_wait_its_retry_after_asks(tmp_path: Path, client: str) -> None:
    with FaultServer(retry_after=2) as server:
        server.plan("429")
        result = compile_against(server, tmp_path, spec=fault_spec(server, num_retries=1, model=CLIENTS[client]),
                                 rounds=1)
        (_, _, refused), (_, _, retried) = server.requests[:2]
    [record] = read_journal(result.run_dir / "rounds.jsonl")
    assert record["status"] == "ok"
    assert server.count("429") == 1 and server.count() == 1 + CALLS_PER_ROUND
    assert retried - refused >= 1.9, "Retry-After: 2 honoured (DSPy's own first backoff is 1 s)"


@pytest.mark.parametrize("behaviour", ["500", "429", "drop", "not_json", "truncated"])
def test_every_kind_of_server_failure_is_an_lm_failure_of_the_role_that_called(tmp_path: Path, behaviour: str) -> None:
    with FaultServer() as server:
        server.plan("ok", behaviour)  # the attacker's call succeeds, the defender's fails
        result = compile_against(server, tmp_path, rounds=1)
    [record] = read_journal(result.run_dir / "rounds.jsonl")
    assert record["status"] == "failed" and record["error_kind"] == "lm"
    assert (record["failed_role"], record["failed_model"], record["failed_api_base"]) == (
        "defender", "openai/fault", server.api_base)
    assert result.progress.failures == {"lm": 1} and result.progress.breaker["role"] == "defender"


def test_a_solve_whose_call_fails_fails_the_round_as_the_solvers_and_keeps_the_calls_paid(tmp_path: Path) -> None:
    with FaultServer() as server:
        server.plan("ok", "ok", "ok", "500")  # the attacker, the defender and one solve answered; the next solve fails
        result = compile_against(server, tmp_path, rounds=1)
    [record] = read_journal(result.run_dir / "rounds.jsonl")
    assert (record["status"], record["error_kind"], record["failed_role"]) == ("failed", "lm", "solver")
    assert set(record["roles"]) == {"attacker", "defender", "solver"} and "calls" not in record["roles"]["solver"]


def test_a_run_shorter_than_the_breaker_whose_every_round_failed_exits_1(tmp_path: Path) -> None:
    with FaultServer(default="500") as server:
        spec_path = tmp_path / "spec.yaml"
        spec_path.write_text(fault_spec(server, breaker=5))
        broken = invoke("compile", str(spec_path), "--rounds", "2", "--out", str(tmp_path / "run"),
                        "--cache-dir", str(tmp_path / "cache"))
    assert broken.exit_code == 1, broken.output
    assert server.count() == 2
    assert "stopped after 2 rounds in a row failed calling the attacker's model" in broken.output


def test_an_answer_that_does_not_parse_resets_the_breaker_count(tmp_path: Path) -> None:
    with FaultServer() as server:
        server.plan("500", "garbage", "500", "ok", "ok", "ok")  # rounds 0 and 2 lm, round 1 parse, round 3 ok
        result = compile_against(server, tmp_path, spec=fault_spec(server, breaker=2), rounds=4)
    assert result.progress.breaker is None and result.progress.failures == {"lm": 2, "parse": 1}
    assert [status for _, _, status in attempts(result.run_dir)] == ["failed", "failed", "failed", "ok"]


def test_with_threads_the_breaker_stops_taking_rounds_and_journals_those_in_flight(tmp_path: Path) -> None:
    threads, limit = 3, 3
    with FaultServer(default="500") as server:
        result = compile_against(server, tmp_path, spec=fault_spec(server, breaker=limit), rounds=12, threads=threads)
    played = attempts(result.run_dir)
    assert result.progress.breaker["after"] == limit
    assert limit <= len(played) <= limit + threads - 1 and server.count() == len(played)
    assert result.manifest["counts"]["rounds_played"] == len(played)


def test_a_server_that_dies_mid_run_fails_the_rounds_after_it_as_lm_failures(tmp_path: Path) -> None:
    with FaultServer() as dying:
        dying.plan(*["ok"] * CALLS_PER_ROUND, "die")
        result = compile_against(dying, tmp_path, spec=fault_spec(dying, breaker=10), rounds=3)
    assert dying.count() == CALLS_PER_ROUND + 1, "nothing reached it after it died"
    assert [status for _, _, status in attempts(result.run_dir)] == ["ok", "failed", "failed"]
    assert result.progress.failures == {"lm": 2} and result.progress.breaker is None


def test_output_that_does_not_parse_is_kept_on_resume_and_played_again_with_retry_failed(tmp_path: Path) -> None:
    with FaultServer() as server:
        server.plan("garbage")
        first = compile_against(server, tmp_path, rounds=2)
        assert server.count() == 1 + CALLS_PER_ROUND
        [failed] = [r for r in read_journal(first.run_dir / "rounds.jsonl") if r["status"] == "failed"]
        assert failed["error_kind"] == "parse" and failed["failed_role"] == "attacker"

        compile_against(server, tmp_path, rounds=2, resume=True)
        assert server.count() == 1 + CALLS_PER_ROUND, "--resume keeps a parse failure: no request"

        retried = compile_against(server, tmp_path, rounds=2, resume=True, retry_failed=True)
        assert server.count() == 1 + 2 * CALLS_PER_ROUND
    assert attempts(retried.run_dir) == [(0, 1, "failed"), (1, 1, "ok"), (0, 2, "ok")]
    counts = retried.manifest["counts"]
    assert (counts["rounds_played"], counts["failed"], counts["accepted"], counts["attempts"]) == (2, 0, 2, 3)


def test_verbose_says_on_stderr_when_a_server_is_sent_another_schema_format(tmp_path: Path) -> None:
    with FaultServer(default="json_object") as server:
        spec_path = tmp_path / "spec.yaml"
        spec_path.write_text(fault_spec(server))
        runs = {name: invoke(*flags, "compile", str(spec_path), "--rounds", "1", "--out", str(tmp_path / name),
                             "--cache-dir", str(tmp_path / f"{name}-cache"))
                for name, flags in (("quiet", ()), ("verbose", ("-v",)))}
    assert all(result.exit_code == 0 for result in runs.values()), {k: r.output for k, r in runs.items()}
    switched = (f"INFO nanoflux.clients.lm: openai/fault at {server.api_base} refused the json_schema response format; "
                "sending it json_object from now on")
    assert switched in runs["verbose"].stderr and switched not in runs["quiet"].output
    assert "INFO" not in runs["quiet"].output


def test_retry_failed_without_resume_is_refused(tmp_path: Path) -> None:
    spec = ROOT / "specs" / "math.yaml"
    result = invoke("compile", str(spec), "--retry-failed", "--out", str(tmp_path / "run"))
    assert result.exit_code == 2 and "add --resume" in result.output


def test_resume_of_a_run_with_nothing_left_to_play_needs_no_server(tmp_path: Path) -> None:
    """A kill during the final writes is finished with --resume, though the server has gone away since."""
    with FaultServer() as server:
        spec_path = tmp_path / "spec.yaml"
        spec_path.write_text(fault_spec(server))
        args = ["compile", str(spec_path), "--rounds", "2", "--out", str(tmp_path / "run"),
                "--cache-dir", str(tmp_path / "cache")]
        assert invoke(*args).exit_code == 0
    manifest = tmp_path / "run" / "manifest.json"
    manifest.unlink()  # as if killed before the manifest was written
    finished = invoke(*args, "--resume")
    assert finished.exit_code == 0, finished.output
    assert json.loads(manifest.read_text())["counts"]["rounds_played"] == 2


def test_a_failed_round_keeps_the_calls_it_paid_for(tmp_path: Path) -> None:
    """Each answer the server gives costs 10 + 20 tokens: the journal, stats and budget count a failed round's too."""
    with FaultServer() as server:
        server.plan("ok", "500")  # the attacker is answered, the defender's call fails
        lm_failed = compile_against(server, tmp_path / "lm", rounds=1)
    with FaultServer(default="garbage") as server:  # answered, but nothing parses
        parse_failed = compile_against(server, tmp_path / "parse", rounds=1)
        answers = server.count()
    [record] = read_journal(lm_failed.run_dir / "rounds.jsonl")
    assert record["error_kind"] == "lm"
    assert {role: (call["input_tokens"], call["output_tokens"]) for role, call in record["roles"].items()} == {
        "attacker": (10, 20)}
    assert run_stats(lm_failed.run_dir)["roles"]["attacker"]["input_tokens"] == 10
    assert Spending.of(read_journal(lm_failed.run_dir / "rounds.jsonl")).spent("max_tokens") == 30
    [record] = read_journal(parse_failed.run_dir / "rounds.jsonl")
    assert record["error_kind"] == "parse" and answers >= 1
    assert record["roles"]["attacker"]["input_tokens"] == 10 * answers


def test_ctrl_c_while_a_round_waits_on_a_hung_server_exits_at_once_keeping_the_finished_rounds(
        tmp_path: Path) -> None:
    """The real CLI in its own process: SIGINT while round 2's first call hangs. The round in flight is abandoned
    (the exit never waits for its call), rounds 0 and 1 stay journaled, the lock goes, and --resume completes."""
    with FaultServer(hang_limit=300) as server:
        server.plan(*["ok"] * (2 * CALLS_PER_ROUND), "hang")  # then `ok` again, for the resume
        spec_path, run_dir = tmp_path / "spec.yaml", tmp_path / "run"
        spec_path.write_text(fault_spec(server, timeout=300))  # the client would wait as long as the server hangs
        command = [sys.executable, "-c", "from nanoflux.cli import main; main()", "compile", str(spec_path),
                   "--out", str(run_dir), "--rounds", "4", "--cache-dir", str(tmp_path / "cache")]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        first = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)
        try:
            deadline = time.monotonic() + 240  # imports, the embedding model and two rounds, on a busy machine
            while not (server.count("hang") and len(attempts(run_dir)) == 2) and first.poll() is None \
                    and time.monotonic() < deadline:
                time.sleep(0.05)
            assert server.count("hang") == 1 and len(attempts(run_dir)) == 2, "round 2 never reached the hung call"
            first.send_signal(signal.SIGINT)
            sent = time.monotonic()
            out, err = first.communicate(timeout=120)
            waited = time.monotonic() - sent
        finally:
            first.kill()
        assert first.returncode == 0, err
        assert waited < 30, f"the exit took {waited:.1f} s after Ctrl-C (about 0.5 s on an idle machine)"
        assert "Interrupted. Finished rounds are kept" in out and "Traceback" not in err
        assert attempts(run_dir) == [(0, 1, "ok"), (1, 1, "ok")], "the round in flight is not journaled"
        manifest = json.loads((run_dir / "manifest.json").read_text())
        assert manifest["interrupted"] and manifest["counts"]["rounds_played"] == 2
        resumed = invoke(*command[3:], "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert [round_id for round_id, _, status in attempts(run_dir) if status == "ok"] == [0, 1, 2, 3]
    assert json.loads((run_dir / "manifest.json").read_text())["interrupted"] is False
