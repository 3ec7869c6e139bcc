"""A run directory has one writer, a reader never sees two generations mixed, and a damaged or full
disk is one clear message: each tested from the outside, with real second processes and real kills."""

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from nanoflux import NanofluxError, parse_spec
from nanoflux.base.paths import LOCK_NAME
from nanoflux.base.rundir import exclusive
from nanoflux.cli import main
from nanoflux.engine.journal import read_journal
from nanoflux.jobs.compile import compile_spec
from nanoflux.jobs.train import dataset_file
from nanoflux.testing import ScriptedEngine, default_answers, scripted_roles
from tests.support import ROOT
from tests.support.fakes import SCRIPTED_SPEC

SPEC = SCRIPTED_SPEC + "curation: {band: L3-L5, require_verified_reference: true}\n"
ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}

# Holds the lock on argv[1] until killed; prints "held" once it has it.
HOLDER = "import sys, time; from pathlib import Path; from nanoflux.base.rundir import exclusive\n" \
         "with exclusive(Path(sys.argv[1])):\n    print('held', flush=True)\n    time.sleep(120)\n"

# The real CLI, with the spec's role LMs swapped for scripted ones (nothing else is touched).
SCRIPTED_CLI = textwrap.dedent("""
    import sys
    import nanoflux.jobs.compile
    from nanoflux.testing import ScriptedEngine, scripted_roles
    nanoflux.jobs.compile.build_role_lms = lambda spec: scripted_roles(ScriptedEngine(latency={latency}))
    nanoflux.jobs.compile.check_reachable = lambda lm: None
    from nanoflux.cli import main
    main(sys.argv[1:])
""")


def scripted_cli(*args: str, latency: float = 0.0, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", SCRIPTED_CLI.format(latency=latency), *args], env=ENV,
                            cwd=ROOT, text=True, **popen)


def run(out: Path, **kwargs):
    options = {"out": out, "cache_dir": out.parent / "cache", "lms": scripted_roles(), "progress": False}
    return compile_spec(parse_spec(SPEC), **{**options, **kwargs})


def hold(run_dir: Path) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(run_dir)], env=ENV, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_compile_exits_2_naming_the_holder_and_writes_nothing(tmp_path: Path) -> None:
    spec_file, out = tmp_path / "jars.yaml", tmp_path / "run"
    spec_file.write_text(SPEC)
    first = scripted_cli("compile", str(spec_file), "--out", str(out), "--rounds", "200", "--cache-dir",
                         str(tmp_path / "c"), latency=0.2, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(read_journal(out / "rounds.jsonl")) < 2:
            time.sleep(0.05)
        second = scripted_cli("compile", str(spec_file), "--out", str(out), "--resume", "--rounds", "200",
                              "--cache-dir", str(tmp_path / "c2"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _, err = second.communicate(timeout=120)
        assert first.poll() is None, "the first run must outlast the second"
    finally:
        first.send_signal(signal.SIGINT)  # Ctrl-C: the first run journals what finished and writes its manifest
        first.wait(timeout=120)  # it exits in under 1 s, even at load 6 (benchmarks/interrupt.py): no round waited on
    assert second.returncode == 2
    assert f"PID {first.pid}" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "c2").exists(), "the second process configured its LM cache: it got past the lock"
    assert first.returncode == 0
    ids = [r["round_id"] for r in read_journal(out / "rounds.jsonl")]
    assert ids == list(range(len(ids))) and 2 <= len(ids) < 200  # each round once, in order: one writer appended
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["rounds_played"] == len(ids) and manifest["interrupted"]


def test_the_lock_goes_with_a_killed_holder(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    holder = hold(run_dir)
    with pytest.raises(NanofluxError, match=f"PID {holder.pid}"):
        run(run_dir)
    assert not (run_dir / "rounds.jsonl").exists() and not (run_dir / "spec.json").exists()
    holder.kill()  # SIGKILL: no clean-up code runs in the holder
    holder.wait()
    assert run(run_dir).manifest["counts"]["rounds_played"] == 6
    assert (run_dir / LOCK_NAME).read_text().strip() == str(os.getpid())


def test_optimize_never_writes_into_a_run_or_a_held_directory(tmp_path: Path) -> None:
    from nanoflux.jobs.optimize import optimize_spec, parse_recipe

    recipe, engine = parse_recipe({"optimizer": "BootstrapFewShot"}), ScriptedEngine()
    run_dir = tmp_path / "run"
    run(run_dir)
    program = (run_dir / "program.json").read_bytes()
    with pytest.raises(NanofluxError, match="holds a compile run"):
        optimize_spec(parse_spec(SPEC), recipe, out=run_dir, lms=scripted_roles(engine), progress=False)
    assert (run_dir / "program.json").read_bytes() == program
    holder = hold(tmp_path / "opt")
    try:
        with pytest.raises(NanofluxError, match=f"PID {holder.pid}"):
            optimize_spec(parse_spec(SPEC), recipe, out=tmp_path / "opt", lms=scripted_roles(engine), progress=False)
    finally:
        holder.kill()
        holder.wait()
    assert engine.calls == [] and not (tmp_path / "opt" / "novelty").exists()


def test_curate_and_report_read_a_locked_run_and_write_only_under_curated(tmp_path: Path) -> None:
    from nanoflux.jobs.curate import curate
    from nanoflux.jobs.report.page import build_report

    run_dir = tmp_path / "run"
    run(run_dir)
    (run_dir / "report.html").unlink()
    before = {path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file()}
    holder = hold(run_dir)
    try:
        result = curate(run_dir, band="L4")
        build_report(result.out_dir)
    finally:
        holder.kill()
        holder.wait()
    after = {path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file()}
    changed = {path for path in after if before.get(path) != after[path]} - {run_dir / LOCK_NAME}
    assert changed and all(path.is_relative_to(run_dir / "curated") for path in changed)
    for own in (run_dir, run_dir / "dataset", run_dir / "novelty" / "x"):
        with pytest.raises(NanofluxError, match="run's own directory"):
            curate(run_dir, band="L4", out=own)


def test_a_question_in_the_collection_without_its_journal_line_is_not_a_duplicate_of_its_replay(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run(run_dir)
    journal = run_dir / "rounds.jsonl"
    lines = journal.read_text().splitlines(keepends=True)
    assert json.loads(lines[-1])["round_id"] == 5 and json.loads(lines[-1])["curation"]["accepted"]
    journal.write_text("".join(lines[:-1]))  # killed after the collection took round 5, before its journal line
    # The replay asks the same question (question n is about round n: the counter starts at 5).
    engine = ScriptedEngine(default_answers(itertools.count(5)))
    run(run_dir, lms=scripted_roles(engine), resume=True)
    replayed = read_journal(journal)[-1]
    assert replayed["round_id"] == 5 and replayed["question"] == json.loads(lines[-1])["question"]
    assert replayed["curation"]["accepted"] and replayed["curation"]["nearest_id"] != "5"


KILLED_IN_FINAL_WRITES = textwrap.dedent("""
    import itertools, os, signal
    from nanoflux import parse_spec
    from nanoflux.jobs.compile import compile_spec
    from nanoflux.testing import ScriptedEngine, default_answers, scripted_roles
    replace = os.replace
    def dies_before_dpo(src, dst):  # SIGKILL once sft.jsonl is in place and dpo.jsonl is still a temporary
        if str(dst).endswith("dpo.jsonl"):
            os.kill(os.getpid(), signal.SIGKILL)
        replace(src, dst)
    os.replace = dies_before_dpo
    compile_spec(parse_spec({spec!r}), out={out!r}, rounds=6, resume=True, cache_dir={cache!r},
                 lms=scripted_roles(ScriptedEngine(default_answers(itertools.count(4)))), progress=False)
""")


def test_a_kill_during_the_final_writes_leaves_one_generation_a_reader_can_trust(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run(run_dir, rounds=4)
    script = KILLED_IN_FINAL_WRITES.format(spec=SPEC, out=str(run_dir), cache=str(tmp_path / "cache"))
    killed = subprocess.run([sys.executable, "-c", script], env=ENV, cwd=ROOT, timeout=300)
    assert killed.returncode == -signal.SIGKILL
    assert len(read_journal(run_dir / "rounds.jsonl")) == 6
    rows = {name: len((run_dir / "dataset" / f"{name}.jsonl").read_text().splitlines()) for name in ("sft", "dpo")}
    assert rows == {"sft": 6, "dpo": 4}, "the kill must land between the two dataset files"
    assert list((run_dir / "dataset").glob(".*.tmp")), "the killed write leaves its temporary"
    with pytest.raises(NanofluxError, match="interrupted"):
        dataset_file(run_dir, "sft")  # new bytes the old manifest does not vouch for: refused, not mixed
    assert len(dataset_file(run_dir, "dpo").read_text().splitlines()) == 4  # the manifest's generation

    result = run(run_dir, rounds=6, resume=True)
    assert not list(run_dir.rglob("*.tmp"))
    assert result.manifest["counts"]["rounds_played"] == 6
    for name in ("sft", "dpo"):
        assert len(dataset_file(run_dir, name).read_text().splitlines()) \
            == result.manifest["dataset"][name]["rows"] == 6


def test_stale_temporaries_are_removed_when_the_writer_opens_the_directory(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    (run_dir / "dataset").mkdir(parents=True)
    stale = [run_dir / ".manifest.json.x1.tmp", run_dir / "dataset" / ".sft.jsonl.x2.tmp"]
    for path in stale:
        path.write_text("half")
    keep = run_dir / "notes.tmp"
    keep.write_text("mine")
    with exclusive(run_dir):
        assert not any(path.exists() for path in stale) and keep.exists()


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from nanoflux.cli import main; main()", *args], env=ENV, cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("damage", [
    lambda line: '{"round_id": 2, "status": "ok", garbage\n',  # not JSON
    lambda line: "{}\n",  # JSON, but no record: every reader indexed it and crashed
    lambda line: line.replace('"round_id": 2', '"round_id": "two"'),
    lambda line: line.replace('"status": "ok"', '"status": "done"'),
], ids=["not-json", "empty-object", "round-id-a-word", "unknown-status"])
def test_a_corrupt_journal_line_is_one_message_with_its_file_and_line(tmp_path: Path, damage) -> None:
    run_dir = tmp_path / "run"
    run(run_dir)
    journal = run_dir / "rounds.jsonl"
    lines = journal.read_text().splitlines(keepends=True)
    lines[2] = damage(lines[2])
    assert lines[2] != journal.read_text().splitlines(keepends=True)[2]
    journal.write_text("".join(lines))
    spec_file = tmp_path / "jars.yaml"
    spec_file.write_text(SPEC)
    for args in (("stats", str(run_dir)), ("report", str(run_dir)),
                 ("compile", str(spec_file), "--out", str(run_dir), "--resume")):
        result = cli(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert f"{journal}:3:" in result.stderr and "delete that line" in result.stderr
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_spec_that_is_a_symlink_loop_is_one_message(tmp_path: Path) -> None:
    loop = tmp_path / "loop.yaml"
    loop.symlink_to(tmp_path / "loop.yaml")
    for args in (("validate", str(loop)), ("compile", str(loop), "--out", str(tmp_path / "run"))):
        result = cli(*args)
        assert result.returncode == 2 and str(loop) in result.stderr and "symbolic links" in result.stderr
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("option", [("--threads", "1000"), ("--workers", "99999"), ("--model", "judge=nonsense"),
                                    ("--rounds", "-1"), ("--rounds", "abc"), ("--threads", "0"), ("--max-cost", "x")])
def test_an_invalid_override_is_one_line(tmp_path: Path, option: tuple[str, str]) -> None:
    result = CliRunner().invoke(main, ["compile", str(ROOT / "specs" / "math.yaml"), "--out", str(tmp_path / "run"),
                                       *option])
    assert result.exit_code == 2 and option[1].split("=")[-1] in result.output and "pydantic" not in result.output
    assert len(result.output.strip().splitlines()) == 1 and result.output.startswith("error: "), result.output


# The run dir lives on a 16 MiB tmpfs in a private mount namespace: a first run of 3 rounds sets it up,
# a filler leaves 80 KiB, and the resumed run fills the disk mid-round. The LM cache is elsewhere (as in
# ~/.cache); the run is copied out, with the CLI's exit code and stderr, for the test to read.
DISK_FULL = textwrap.dedent("""
    set -e
    mount -t tmpfs -o size=16m tmpfs "$SMALL"
    cd "$ROOT"
    python=$1
    "$python" -c "$SCRIPT" compile "$SPEC_FILE" --out "$SMALL/run" --rounds 3 --cache-dir "$OUT/cache" 2>/dev/null
    free=$(df -k --output=avail "$SMALL" | tail -1)
    dd if=/dev/zero of="$SMALL/filler" bs=1k count=$((free - 80)) 2>/dev/null
    rc=0
    "$python" -c "$SCRIPT" compile "$SPEC_FILE" --out "$SMALL/run" --rounds 100 --resume --cache-dir "$OUT/cache" \
        2>"$OUT/stderr" || rc=$?
    echo $rc >"$OUT/rc"
    cp -a "$SMALL/run" "$OUT/run"
""")


def on_a_small_disk(tmp_path: Path, script: str, env: dict[str, str], *, timeout: float) -> tuple[Path, Path]:
    """Run `script` (bash; $1 is this Python) in a mount namespace of its own, where it mounts a small tmpfs
    on $SMALL; it compiles $SPEC_FILE and leaves its exit code in $OUT/rc. Skips where no namespace is allowed."""
    small, out = tmp_path / "small", tmp_path / "out"
    small.mkdir()
    out.mkdir()
    spec_file = tmp_path / "jars.yaml"
    spec_file.write_text(SPEC)
    env = {**ENV, **env, "SMALL": str(small), "OUT": str(out), "SPEC_FILE": str(spec_file)}
    for wrapper in (["unshare", "--mount"], ["unshare", "--user", "--map-root-user", "--mount"]):
        done = subprocess.run([*wrapper, "bash", "-c", script, "small-disk", sys.executable], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=timeout)
        if (out / "rc").exists():
            return small, out
    pytest.skip(f"no small filesystem can be mounted here: {done.stderr.strip()[-300:]}")


@pytest.mark.slow  # two CLI processes on a filling disk: about a minute
def test_a_full_disk_is_one_message_and_loses_no_journaled_round(tmp_path: Path) -> None:
    _, out = on_a_small_disk(tmp_path, DISK_FULL, {"ROOT": str(ROOT), "SCRIPT": SCRIPTED_CLI.format(latency=0.0)},
                             timeout=600)
    stderr = (out / "stderr").read_text()
    messages = [line for line in re.split(r"[\r\n]", stderr) if line.strip() and not re.search(r"\d+%\|", line)]
    assert (out / "rc").read_text().strip() == "2", stderr
    assert "Traceback" not in stderr and len(messages) == 1 and "no space left" in messages[0]
    run_dir = out / "run"
    journaled = (run_dir / "rounds.jsonl").read_text()
    kept = [json.loads(line) for line in journaled.splitlines()]  # every line whole: no torn or half record
    assert journaled.endswith("\n") and 3 < len(kept) < 100, "the disk must fill mid-run"
    # With space again, the resumed run keeps every journaled round exactly and plays each missing one once.
    result = run(run_dir, rounds=len(kept) + 3, resume=True)
    after = read_journal(run_dir / "rounds.jsonl")
    assert after[: len(kept)] == kept and sorted(r["round_id"] for r in after) == list(range(len(kept) + 3))
    assert result.manifest["counts"]["rounds_played"] == len(kept) + 3


# The LM cache (--cache-dir, ~/.cache by default) may sit on another disk than the run: here a full 1 MiB tmpfs.
CACHE_ON_FULL_DISK = textwrap.dedent("""
    set -e
    mount -t tmpfs -o size=1m tmpfs "$SMALL"
    dd if=/dev/zero of="$SMALL/filler" bs=4k 2>/dev/null || true
    rc=0
    "$1" -c "from nanoflux.cli import main; main()" compile "$SPEC_FILE" --out "$OUT/run" --cache-dir "$SMALL/cache" \
        2>"$OUT/stderr" || rc=$?
    echo $rc >"$OUT/rc"
""")


def test_an_lm_cache_on_a_full_disk_is_one_message_naming_it(tmp_path: Path) -> None:
    small, out = on_a_small_disk(tmp_path, CACHE_ON_FULL_DISK, {}, timeout=300)
    stderr = (out / "stderr").read_text()
    assert (out / "rc").read_text().strip() == "2", stderr
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1
    assert f"cannot write {small / 'cache'}: no space left" in stderr
    assert not (out / "run" / "rounds.jsonl").exists()
