"""Every file a run directory holds is one that `RunDir` names; the default caches follow the user's home."""

from pathlib import Path

from nanoflux import parse_spec
from nanoflux.base.paths import FinetuneDir, RunDir, dataset_path, dspy_cache_dir, model_cache_dir
from nanoflux.jobs.compile import compile_spec
from nanoflux.testing import scripted_roles
from tests.support.fakes import SCRIPTED_SPEC


def test_every_file_a_compile_run_writes_is_named_by_its_rundir(tmp_path: Path) -> None:
    result = compile_spec(parse_spec(SCRIPTED_SPEC), out=tmp_path / "run", cache_dir=tmp_path / "cache",
                          lms=scripted_roles(), progress=False)
    run = RunDir(result.run_dir)
    assert set(run.root.iterdir()) == {run.journal, run.spec, run.identity, run.program, run.manifest, run.lock,
                                       run.report, run.dataset, run.novelty}
    assert set(run.dataset.iterdir()) == {run.sft, run.dpo, run.examples, run.card}
    assert run.embedding_cache.is_file() and run.novelty_store.is_file()
    assert {name: entry["path"] for name, entry in result.manifest["dataset"].items()} == {
        kind: dataset_path(kind) for kind in ("sft", "dpo", "examples")}
    assert run.root / result.manifest["card"]["path"] == run.card


def test_the_caches_follow_home_and_the_model_cache_its_variable(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("NANOFLUX_MODEL_CACHE", raising=False)
    assert dspy_cache_dir() == tmp_path / ".cache" / "nanoflux" / "dspy"
    assert model_cache_dir() == tmp_path / ".cache" / "nanoflux" / "models"
    monkeypatch.setenv("NANOFLUX_MODEL_CACHE", str(tmp_path / "models"))
    assert model_cache_dir() == tmp_path / "models"


def test_a_finetune_output_names_its_adapter_log_and_plot() -> None:
    files = FinetuneDir(Path("runs/sft"))
    assert (files.adapter, files.log, files.plot, files.manifest) == (
        Path("runs/sft/adapter"), Path("runs/sft/train_log.jsonl"), Path("runs/sft/loss.png"),
        Path("runs/sft/manifest.json"))
