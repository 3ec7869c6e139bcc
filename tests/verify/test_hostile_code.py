"""Model-written code through `compile`: a hostile attacker is contained, and the sandbox mode is on record."""

import json
import os
import uuid
from pathlib import Path

from nanoflux import parse_spec
from nanoflux.engine.journal import read_journal
from nanoflux.jobs.compile import compile_spec
from nanoflux.jobs.report.packing import decode_page
from nanoflux.jobs.report.page import build_report
from nanoflux.testing import ScriptedEngine, scripted_roles
from tests.support.fakes import SCRIPTED_SPEC
from tests.verify.attacks import HOOK_BYPASS, requires_isolation

# The steps alone decide (no solves): what is on trial is the code in them, and the scripted solver would
# confirm the reference whatever the code does.
SPEC = SCRIPTED_SPEC.replace("rounds: 6", "rounds: 2") + ("curation: {band: L1-L5, require_verified_reference: true}\n"
                                                         "roles: {judge: {solves: 0}}\n")


def attacker_writing(code: str) -> ScriptedEngine:
    """A scripted run whose attacker gives a right reference (17) and `code` as its solution steps."""
    engine = ScriptedEngine()
    answer = engine.answer

    def hostile(role: str, prompt: str) -> dict:
        reply = answer(role, prompt)
        if role == "attacker":
            reply.update(reference_answer="17", solution_steps=[f"```python\n{code}```"])
        return reply

    engine.answer = hostile
    return engine


def compile_with(tmp_path: Path, engine: ScriptedEngine, spec: str = SPEC):
    return compile_spec(parse_spec(spec), out=tmp_path / "run", cache_dir=tmp_path / "cache",
                        lms=scripted_roles(engine), progress=False)


def reference_checks(run_dir: Path) -> list[dict]:
    records = read_journal(run_dir / "rounds.jsonl")
    assert all("judge" in r for r in records), [r.get("error") for r in records]
    return [record["judge"]["reference_check"] for record in records]


@requires_isolation
def test_a_hostile_attacker_runs_no_shell_reads_no_secret_and_is_not_verified(tmp_path: Path, monkeypatch):
    secret, marker = "hunter2-" + uuid.uuid4().hex, tmp_path / "pwned"
    monkeypatch.setenv("NANOFLUX_TEST_SECRET", secret)
    code = (HOOK_BYPASS + f"import os\nos.system('mkdir -p {tmp_path}; touch {marker}')\n"
            f"print(os.environ)\nprint(open('/proc/{os.getpid()}/environ').read())\nprint(17)\n")
    result = compile_with(tmp_path, attacker_writing(code))
    assert not marker.exists()
    for path in result.run_dir.rglob("*"):
        assert not path.is_file() or secret.encode() not in path.read_bytes(), path
    assert all(check["verdict"] != "match" for check in reference_checks(result.run_dir))
    assert result.manifest["counts"]["accepted"] == 0
    assert result.manifest["sandbox"]["mode"] == "isolated" and result.manifest["sandbox"]["isolation_available"]


def test_without_isolation_code_steps_are_undecidable_and_the_manifest_says_why(tmp_path: Path, monkeypatch):
    marker = tmp_path / "ran"
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap to be found
    result = compile_with(tmp_path, attacker_writing(f"open({str(marker)!r}, 'w').write('x')\nprint(17)\n"))
    assert not marker.exists()
    checks = reference_checks(result.run_dir)
    assert checks and all(c["verdict"] == "undecidable" and "apt-get install bubblewrap" in c["reason"] for c in checks)
    assert result.manifest["sandbox"] == {"mode": "isolated", "isolation_available": False,
                                          "isolation": "bubblewrap ('bwrap') is not installed or not on PATH",
                                          "disk_mb": 64, "sympy_worker_isolated": False}
    assert result.manifest["counts"]["accepted"] == 0
    assert 'id="sandbox-warning"' in decode_page((result.run_dir / "report.html").read_bytes())


def test_unsafe_local_runs_the_code_and_is_recorded_and_shown(tmp_path: Path):
    result = compile_with(tmp_path, attacker_writing("print(3 * 4 + 5)\n"), SPEC + "sandbox: unsafe-local\n")
    assert all(check["verdict"] == "match" for check in reference_checks(result.run_dir))
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    assert manifest["sandbox"]["mode"] == "unsafe-local"
    report = decode_page(build_report(result.run_dir).read_bytes())
    assert 'id="sandbox-warning"' in report and "WITHOUT isolation" in report
    assert "sandbox: unsafe-local (no isolation)" in report  # the summary table's row


@requires_isolation
def test_the_specs_disk_cap_is_the_one_isolated_code_gets(tmp_path: Path):
    """The code counts the MiB files it could write (of 20) and prints the count, which the journal keeps."""
    fill = ("written = 0\ntry:\n    for i in range(20):\n        with open(f'fill{i}', 'wb') as f:\n"
            "            f.write(b'x' * (1 << 20))\n        written += 1\nexcept OSError:\n    pass\n"
            "print(written)\n")
    capped = compile_with(tmp_path / "capped", attacker_writing(fill), SPEC + "sandbox_disk_mb: 8\n")
    assert all(0 < int(check["evidence"]["printed"]) <= 8 for check in reference_checks(capped.run_dir))
    assert capped.manifest["sandbox"]["disk_mb"] == 8
    default = compile_with(tmp_path / "default", attacker_writing(fill))
    assert all(check["evidence"]["printed"] == "20" for check in reference_checks(default.run_dir))
