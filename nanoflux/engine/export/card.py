"""The dataset card: `dataset/README.md` in the Hugging Face format, written from the manifest and spec (no LM).

Its YAML header names one `configs` entry per dataset file, so `datasets.load_dataset(DATASET_DIR, "sft")`
reads the folder as it is, and the Hub shows the same when the folder is uploaded. The body says what the
data is and how it was made: the spec, the models, the selection, the counts, and (when the manifest has
them) the `decontamination` and `review` results. It is written before the manifest, which vouches for it
under `card` (`write_card`'s return).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from nanoflux.base.io import write_atomic
from nanoflux.base.names import ROLES
from nanoflux.base.paths import DATASET_FILES, RunDir
from nanoflux.base.rundir import file_entry
from nanoflux.engine.journal import (
    RoundRecord,
    confirmed_and_defender_failed,
    corrected_after,
    outcome_counts,
    reference_status,
)
from nanoflux.spec.model import Spec

SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"))
FILE_PURPOSE = {"sft": "conversational messages for TRL's `SFTTrainer`",
                "dpo": "prompt/chosen/rejected pairs for TRL's `DPOTrainer`",
                "rlvr": "prompts with their verified answer for TRL's `GRPOTrainer` (`nanoflux.rewards`)",
                "stepwise": "solution steps labelled by the tools' check for TRL's `PRMTrainer`",
                "revision": "multi-turn conversations for TRL's `SFTTrainer`: the defender's wrong answer, the "
                            "feedback it was shown, its answer the tools verified",
                "examples": "each example's provenance: round, topic, level, models, program"}


def write_card(out_dir: Path, spec: Spec, manifest: dict[str, Any]) -> dict[str, Any]:
    """Write `out_dir/dataset/README.md` from a manifest about to be written; returns its manifest entry."""
    card = RunDir(out_dir).card
    write_atomic(card, render_card(spec, manifest))
    return file_entry(out_dir, card.relative_to(out_dir).as_posix())


def verification(spec: Spec, kept: list[RoundRecord]) -> dict[str, Any]:
    """What "verified" meant for the kept rounds (the manifest's `verification`, the card's Limitations): the rule
    the judge applied, how many kept references it confirmed, and what became of the defender's answers in them
    (`outcomes`: `nanoflux.engine.journal.outcome_counts`)."""
    judge = spec.roles.judge
    return {"rule": "solves" if judge.solves else "steps", "solves": judge.solves, "agree": judge.agree,
            "solver": spec.roles.solver_settings().model if judge.solves else None,
            "required": spec.curation.require_verified_reference,
            "kept": dict(Counter(reference_status(record["judge"]) for record in kept)),
            "kept_defender_failed": sum(map(confirmed_and_defender_failed, kept)),
            "outcomes": outcome_counts(kept)}


def render_card(spec: Spec, manifest: dict[str, Any]) -> str:
    """The card's text: YAML header, then Markdown sections for each fact the manifest holds."""
    files = manifest.get("dataset", {})
    loadable, default = _loadable(files), _default_config(files)
    header = {
        "license": spec.output.license or "other",
        "language": spec.output.language,
        "task_categories": ["text-generation", "question-answering"],
        "size_categories": [size_category(max((entry.get("rows", 0) for entry in files.values()), default=0))],
        "tags": ["synthetic", "nanoflux", *(["rlvr"] if "rlvr" in files else [])],
        "pretty_name": spec.name,
        "configs": [{"config_name": name, "data_files": [{"split": "train", "path": DATASET_FILES[name]}],
                     **({"default": True} if name == default else {})}
                    for name in loadable],
        # As `datasets` writes it (splits with name, num_bytes, num_examples). It caches a local folder
        # under its name and this header alone: the sizes keep two dataset folders with other contents
        # from sharing one cache entry.
        "dataset_info": [{"config_name": name, "splits": [{"name": "train", "num_bytes": size,
                                                           "num_examples": files[name].get("rows", 0)}],
                          "download_size": size, "dataset_size": size}
                         for name in loadable for size in (files[name].get("bytes", 0),)],
    }
    sections = [f"# {spec.name}\n\n{spec.description.strip()}\n\nMade by NanoFlux: an attacker model asked, a "
                "defender answered, and a judge with the spec's tools graded each round; the rounds kept are "
                "those below.",
                _files(files), _making(spec, manifest), _counts(manifest), _answers(spec, manifest),
                _decontamination(manifest.get("decontamination")),
                _review(manifest.get("counts", {}).get("review")),
                _limitations(manifest.get("verification")),
                _usage(files)]
    front = yaml.safe_dump(header, sort_keys=False, allow_unicode=True)
    return f"---\n{front}---\n\n" + "\n\n".join(section for section in sections if section) + "\n"


def size_category(rows: int) -> str:
    """The Hub's size category for a dataset of `rows` examples."""
    return next((name for bound, name in SIZE_CATEGORIES if rows < bound), "n>1M")


def _loadable(files: dict[str, Any]) -> list[str]:
    """The files that get a config: an empty one has none, since `datasets` cannot load a split of no rows."""
    return [name for name, entry in files.items() if name in DATASET_FILES and entry.get("rows", 0)]


def _default_config(files: dict[str, Any]) -> str | None:
    return next((name for name in ("sft", "dpo", "rlvr", "stepwise", "revision", "examples")
                 if name in _loadable(files)), None)


def _files(files: dict[str, Any]) -> str:
    rows = [f"| {f'`{name}`' if entry.get('rows', 0) else f'(none: `{name}` is empty)'} | `{DATASET_FILES[name]}` "
            f"| {entry.get('rows', 0)} | {FILE_PURPOSE.get(name, '')} |"
            for name, entry in files.items() if name in DATASET_FILES]
    return "## Files\n\n| config | file | rows | for |\n|---|---|---|---|\n" + "\n".join(rows)


def _making(spec: Spec, manifest: dict[str, Any]) -> str:
    """The spec's topics, the models per role, and the selection (a run's `curation`, a curate's `selection`)."""
    models = "\n".join(f"- {role}: `{spec.roles.settings(role).model}`" for role in ROLES)
    topics = ", ".join(spec.topics) or "(none: the attacker chose)"
    selection = manifest.get("selection") or manifest.get("curation") or {}
    settings = ", ".join(f"{key} `{value}`" for key, value in selection.items()
                         if key in ("band", "hops", "steps", "length", "novelty", "size", "seed") and value is not None)
    return (f"## How it was made\n\nTopics: {topics}.\n\nModels:\n{models}\n\n"
            f"Selection: {settings or 'the spec defaults'}; tools: {', '.join(spec.tools) or 'none'}; "
            f"spec digest `{spec.digest()}`.")


def _counts(manifest: dict[str, Any]) -> str:
    counts = manifest.get("counts", {})
    shown = {key: counts[key] for key in ("rounds_requested", "rounds_played", "rounds", "failed", "eligible",
                                          "accepted", "selected", "acceptance_rate") if key in counts}
    lines = [f"- {key.replace('_', ' ')}: {value}" for key, value in shown.items()]
    reasons = counts.get("reasons") or {}
    rejected = [f"- {reason}: {count}" for reason, count in sorted((r, n) for r, n in reasons.items()
                                                                    if r and r != "accepted")]
    text = "## Counts\n\n" + "\n".join(lines)
    return text + ("\n\nWhy the other rounds were not kept:\n\n" + "\n".join(rejected) if rejected else "")


def _answers(spec: Spec, manifest: dict[str, Any]) -> str:
    """What became of the defender's answers in the kept rounds (right at once, corrected after k critiques, never
    corrected), and whether the rows carry reasoning traces (`output.reasoning`) and in how many."""
    lines = []
    if found := (manifest.get("verification") or {}).get("outcomes"):
        after = corrected_after(found)
        lines.append(f"Of the kept rounds, the defender answered right at once in {found['right']}, corrected its "
                     f"answer after the judge's critique in {found['corrected']}{f' ({after})' if after else ''}, "
                     f"and stayed wrong in {found['uncorrected']} (`roles.judge.revise` sets how many tries it gets).")
    files = manifest.get("dataset", {})
    if spec.output.reasoning == "none":
        lines.append("Reasoning traces: not included (`output.reasoning: none`).")
    else:
        carried = "; ".join(f"{files[name]['traces']} of the {files[name]['rows']} `{name}` rows"
                            for name in ("sft", "revision") if "traces" in files.get(name, {}))
        what = ("the attacker's, beside the verified solution of rounds whose reference is confirmed"
                if spec.output.reasoning == "attacker" else
                "the defender's, with its own answer where the tools verified it right")
        lines.append(f"Reasoning traces: {what}, as the assistant message's `reasoning_content` (what the chat "
                     f"templates of thinking models render as their `<think>` block): {carried or 'no rows'}.")
    return "## The defender's answers and reasoning traces\n\n" + "\n\n".join(lines)


def _decontamination(found: Any) -> str:
    """Per benchmark: questions checked and matched (`manifest["decontamination"]`), when the run has it."""
    if not found:
        return ""
    rows = [f"| {entry['path']} | {entry['items']} | {entry['checked']} | {entry['matched']} |"
            for entry in found["benchmarks"]]
    return (f"## Decontamination\n\nEach question was checked against these benchmarks: a shared word "
            f"{found['ngram']}-gram, or a cosine similarity of {found['threshold']} or more "
            f"({found['embedding_model']}), rejected it.\n\n"
            "| benchmark | items | questions checked | matched |\n|---|---|---|---|\n" + "\n".join(rows))


def _review(found: Any) -> str:
    """What a person decided (`manifest["counts"]["review"]`: reviewed, rejected, kept...), when there is a review."""
    if not found:
        return ""
    if isinstance(found, dict):
        return "## Human review\n\n" + "\n".join(f"- {key}: {value}" for key, value in found.items())
    return f"## Human review\n\n{found}"


def _limitations(found: dict[str, Any] | None) -> str:
    """What "verified" establishes for these rows and what it does not, with the run's own counts."""
    if not found:
        return ""
    kept = found.get("kept", {})
    confirmed, total = kept.get("confirmed", 0), sum(kept.values())
    if found["rule"] == "solves":
        rule = (f"a reference counts as confirmed when at least {found['agree']} of {found['solves']} independent "
                f"solves by `{found['solver']}`, which saw neither the reference, the attacker's steps nor the "
                "defender's answer, reached the same answer, and the tools found no step of its worked solution "
                "false. Solves by one model can share its mistakes: agreement makes a wrong reference rare, not "
                "impossible.")
    else:
        rule = ("a reference counts as confirmed when the tools recomputed every step of its worked solution and "
                "they hold. That shows the steps consistent, not that their method answers the question: with no "
                "independent solves (`roles.judge.solves: 0`), a confirmed reference can still be wrong.")
    unconfirmed = "" if found.get("required") else (
        " Unconfirmed references were kept too (`curation.require_verified_reference: false`).")
    others = "".join(f", {n} {status}" for status, n in sorted(kept.items()) if status != "confirmed")
    return (f'## Limitations\n\nWhat "verified" means here: {rule}\n\n'
            f"Of the {total} kept rounds, {confirmed} have a confirmed reference{others}; in "
            f"{found.get('kept_defender_failed', 0)} of those the defender answered wrong.{unconfirmed}\n\n"
            "Not established: that each question is unambiguous and well posed (a model judged that, on a rubric); "
            "that the worked solution takes the best method; that the questions are free of benchmark overlap "
            "beyond what the Decontamination section lists.")


def _usage(files: dict[str, Any]) -> str:
    name = _default_config(files) or "sft"
    train = {"sft": "SFTTrainer", "dpo": "DPOTrainer", "rlvr": "GRPOTrainer", "stepwise": "PRMTrainer",
             "revision": "SFTTrainer"}.get(name)
    trainer = (f"\n\nfrom trl import {train}\n# {train}(model=..., train_dataset=data, ...).train()" if train else "")
    return (f"## Use\n\n```python\nfrom datasets import load_dataset\n\n"
            f'data = load_dataset("path/to/this/folder", "{name}", split="train"){trainer}\n```\n\n'
            "Or fine-tune with LoRA: `nanoflux finetune path/to/this/folder/"
            f"{DATASET_FILES.get(name, 'sft.jsonl')}`.\n\n"
            "Publish the folder as it is (this card comes along):\n\n"
            "```bash\nhf upload USER/NAME path/to/this/folder . --repo-type dataset\n```")
