"""The run report: one self-contained HTML page of what a run made, why rounds were kept or dropped, and its cost.

People look before they train, and a journal of JSON lines is not where they look. The report is
built from the journal and manifests alone (never an LM), so it can be rebuilt at any time, also on
a run that is still going or was killed. Every figure comes from `nanoflux.jobs.stats.run_stats`; plots
are matplotlib PNGs inlined as base64, and every round is embedded packed (`packing`: an index the filters
read, the rest in compressed blocks a small inline script inflates as rounds are listed), so a report of
100,000 rounds stays one file (about 580 bytes a round of real text), lists its first rounds within 2 s
and needs no network.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nanoflux.base.errors import NanofluxError
from nanoflux.base.io import read_jsonl, write_atomic
from nanoflux.base.names import ROLES
from nanoflux.base.paths import JOURNAL_NAME, SPEC_NAME, RunDir
from nanoflux.base.rundir import verified
from nanoflux.base.scoring import Band
from nanoflux.engine.budget import describe_stop
from nanoflux.engine.curation.decisions import UNKEEPABLE, keep_refusal, read_review
from nanoflux.engine.journal import RoundRecord, critiques, outcome
from nanoflux.jobs.report.packing import CHARSET, ESCAPE, SHIFT, encode_page, pack
from nanoflux.jobs.stats import cost_summary, journal_records, outcomes_line, run_stats
from nanoflux.spec.model import CurationSpec

LEVELS = ("L1", "L2", "L3", "L4", "L5")
REPORT_TRACE_CHARS = 1_000  # of each reasoning trace the page shows, its start and its end (`shown_trace`)
ACCEPTED, REJECTED = "#2a9d8f", "#c8553d"
# What became of each example once a person's review is applied, as the examples browser labels and filters it.
STATES = {"accepted": "accepted", "kept": "kept by a person", "rejected": "rejected by a person",
          "dropped": "not kept"}


@dataclass
class RunView:
    """What the report shows: the rounds (with the decisions to show), the spec and manifest, and the selection."""

    run_dir: Path
    source_dir: Path
    records: list[RoundRecord]
    spec: dict[str, Any]
    manifest: dict[str, Any] | None
    band: str
    novelty: float | None
    curated: bool
    decisions: dict[int, dict[str, Any]] = field(default_factory=dict)  # a person's review (`read_review`)


def build_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write the HTML report of a run directory, or of a `nanoflux curate` output, and return its path.

    Args:
        run_dir: a directory made by `nanoflux compile` (finished, still going or killed), or one
            made by `nanoflux curate` (its rounds are the source run's, its decisions the selection's).
        out: where the report goes (default: RUN_DIR/report.html), written atomically.

    Example::

        path = build_report("runs/math-demo")   # then open runs/math-demo/report.html in a browser
    """
    view = load_view(Path(run_dir))
    stats = run_stats(view.source_dir, view.records)
    target = Path(out) if out else RunDir(view.run_dir).report
    write_atomic(target, render(view, stats))
    return target


def load_view(run_dir: Path) -> RunView:
    """Read a run (or a re-curation) without touching it; a directory holding neither is a NanofluxError."""
    if not run_dir.is_dir():
        raise NanofluxError(f"{run_dir} does not exist; "
                            "pass a directory made by `nanoflux compile` or `nanoflux curate`")
    run = RunDir(run_dir)
    manifest = _read_json(run.manifest)
    if manifest and "source" in manifest and not run.journal.exists():
        source = RunDir(Path(manifest["source"]["run_dir"]))
        rewrite = "`nanoflux curate` wrote this file: curate again to rewrite it"
        selected = {row["round_id"] for _, row in read_jsonl(verified(run.examples), fix=rewrite)}
        records: list[RoundRecord] = [
            {**record, "curation": {**record["curation"], "accepted": record["round_id"] in selected,
                                    "reason": "accepted" if record["round_id"] in selected else "not_selected"}}
            for record in journal_records(source.root)]
        selection = manifest["selection"]
        return RunView(run_dir, source.root, records, _read_json(source.spec) or {}, manifest,
                       selection["band"], selection["novelty"], curated=True, decisions=read_review(source.review))
    if not run.journal.exists() and not run.spec.exists():
        raise NanofluxError(f"{run_dir} holds no run (no {JOURNAL_NAME}, no {SPEC_NAME}); "
                            "pass a directory made by `nanoflux compile` or `nanoflux curate`")
    records = journal_records(run_dir) if run.journal.exists() else []
    spec = _read_json(run.spec) or {}
    curation = spec.get("curation", {})
    band = curation.get("band", CurationSpec.model_fields["band"].default)
    return RunView(run_dir, run_dir, records, spec, manifest, band, curation.get("novelty"), curated=False,
                   decisions=read_review(run.review))


def review_page(run_dir: str | Path, review: dict[str, Any]) -> bytes:
    """The report of a run with review buttons per played round (what `nanoflux review` serves, in `CHARSET`).

    `review["decisions"]` (round id -> its current decision and note,
    `nanoflux.engine.curation.decisions.read_review`) replace those read with the run. The page holds no
    secret: its POSTs are guarded by the server's session cookie.
    """
    view = load_view(Path(run_dir))
    if review.get("decisions") is not None:
        view.decisions = {int(round_id): entry for round_id, entry in review["decisions"].items()}
    return render(view, run_stats(view.source_dir, view.records), reviewing=True)


def render(view: RunView, stats: dict[str, Any], *, reviewing: bool = False) -> bytes:
    """The report's HTML in `CHARSET` (`packing.encode_page`), from the Jinja2 template shipped in
    `nanoflux/jobs/report/templates/`; `reviewing`: the review page (`review_page`), with its buttons and keys."""
    from jinja2 import Environment, PackageLoader

    env = Environment(loader=PackageLoader("nanoflux.jobs.report", "templates"), autoescape=True, trim_blocks=True,
                      lstrip_blocks=True)
    env.policies["json.dumps_kwargs"] = {"sort_keys": False}  # scores in rubric order, not alphabetical
    played = stats["rounds_played"]
    required = require_verified(view)
    index, blocks = pack(len(view.records), lambda i: browser_row(
        view.records[i], view.decisions.get(view.records[i]["round_id"]), required=required))
    return encode_page(env.get_template("report.html.j2").render(
        charset=CHARSET, escape=ESCAPE, shift=SHIFT,
        title=f"NanoFlux report: {view.spec.get('name') or view.run_dir.name}",
        run_dir=str(view.run_dir), generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        notice=notice(view, played), sandbox_warning=sandbox_warning(view), stats=stats, summary=summary(view, stats),
        roles=role_rows(stats), plots=plots(view, stats) if played else [],
        reasons=[{"reason": reason, "count": n, "share": n / played}
                 for reason, n in sorted(stats["reasons"].items(), key=lambda item: -item[1])],
        decontamination=(view.manifest or {}).get("decontamination"),
        index=index, blocks=blocks,
        states=STATES,
        filters={"reason": sorted(stats["reasons"]), "topic": list(stats["by_topic"]),
                 "level": [level for level in stats["by_level"] if level != "failed"]},
        reviewing=reviewing,
    ))


def require_verified(view: RunView) -> bool:
    """The spec's `curation.require_verified_reference`, which decides what a person may keep."""
    required = view.spec.get("curation", {}).get("require_verified_reference")
    return CurationSpec.model_fields["require_verified_reference"].default if required is None else required


def notice(view: RunView, played: int) -> str | None:
    """What a reader must know before trusting the figures: an empty, unfinished or re-curated run."""
    if not played:
        return (f"No round has finished yet in {view.source_dir}: the journal ({JOURNAL_NAME}) holds no complete "
                "round. Rebuild the report with `nanoflux report` once rounds are played.")
    if view.curated:
        counts = view.manifest["counts"]
        return (f"A re-curation of {view.source_dir}: {counts['selected']} of {counts['rounds']} rounds selected "
                f"(band {view.band}); rounds not selected are marked not_selected "
                f"(why: {', '.join(f'{k} {v}' for k, v in counts['reasons'].items()) or 'none'}).")
    if view.manifest is None:
        return (f"This run has no manifest yet: it is still going, or was stopped before it finished. "
                f"The figures cover the {played} rounds journaled so far.")
    if view.manifest["counts"]["rounds_played"] != played:
        return (f"The journal holds {played} rounds, the manifest {view.manifest['counts']['rounds_played']}: "
                "the run is still going (or was resumed and stopped). The figures cover the journal.")
    if view.manifest.get("interrupted"):
        return "The run was interrupted (Ctrl-C) before it played all its rounds; `nanoflux compile --resume` goes on."
    if trip := view.manifest.get("circuit_breaker"):
        return (f"The run stopped early: {trip['after']} rounds in a row failed calling the {trip['role']}'s model "
                f"{trip['model']} (last error: {trip['error']}). `nanoflux compile --resume` plays them again.")
    if stop := view.manifest.get("budget_stop"):
        return (f"The run stopped early: {describe_stop(stop)}. `nanoflux compile --resume` with a higher cap "
                "goes on.")
    return None


def sandbox_warning(view: RunView) -> str | None:
    """Said at the top when model-written code ran without isolation, or could not run at all."""
    record = (view.manifest or {}).get("sandbox") or {}
    if (view.spec.get("sandbox") or record.get("mode")) == "unsafe-local":
        return ("Model-written code ran WITHOUT isolation (`sandbox: unsafe-local` in the spec): as the user who "
                "ran nanoflux, with that user's files, environment and network.")
    if record and not record.get("isolation_available", True):
        return (f"Model-written code was not run: the sandbox could not start ({record.get('isolation')}), so the "
                "python in solution steps was judged undecidable. See docs/safety.md.")
    return None


def sandbox_summary(view: RunView) -> str:
    """How the judge ran model-written code in this run, as the manifest recorded it."""
    record = (view.manifest or {}).get("sandbox") or {}
    mode = view.spec.get("sandbox") or record.get("mode") or "isolated"
    if mode == "unsafe-local":
        return "sandbox: unsafe-local (no isolation)"
    if not record:
        return f"sandbox: {mode}"
    if not record.get("isolation_available"):
        return f"sandbox: {mode}, unavailable, so code was not run ({record.get('isolation')})"
    return f"sandbox: {mode} ({record.get('isolation')})"


def summary(view: RunView, stats: dict[str, Any]) -> list[tuple[str, str]]:
    """The summary table's rows: what ran, how much of it was kept, how long it took and what it cost."""
    roles = view.spec.get("roles", {})
    models = {role: (roles.get(role) or {}).get("model") or (view.manifest or {}).get("models", {}).get(role, "?")
              for role in ROLES}
    if models["solver"] == "?":
        del models["solver"]  # a run from before solves
    cost = stats["cost"]
    files = ", ".join(f"{entry['path']} {entry['rows']} rows" for name, entry in
                      (view.manifest or {}).get("dataset", {}).items() if name != "examples")
    if card := (view.manifest or {}).get("card"):
        files += f", dataset card {card['path']}"  # a curate selection has one too
    return [("spec", f"{view.spec.get('name', '?')} ({RunDir(view.source_dir).spec})"),
            ("models", ", ".join(f"{role} {model}" for role, model in models.items())
             + ("; attacker and defender swap every other round" if roles.get("alternate") else "")),
            ("quality band", view.band + (f", novelty threshold {view.novelty}" if view.novelty is not None else "")),
            ("failed rounds", f"{stats['failed']}, of which {stats['parse_failures']} unparseable LM output"),
            ("references", references_summary(stats)),
            ("defender's answers", outcomes_line(stats["outcomes"])),
            ("model-written code", sandbox_summary(view)),
            ("wall time", duration(stats["wall_seconds"])),
            ("cost", cost_summary(cost))] \
        + ([("dataset files", files)] if files else []) + review_rows(view)


def references_summary(stats: dict[str, Any]) -> str:
    """What became of the played rounds' references, and how many the defender failed though they were confirmed."""
    found = stats.get("references") or {}
    text = ", ".join(f"{found.get(status, 0)} {status}" for status in ("confirmed", "refuted", "unconfirmed"))
    return (f"{text}; {stats.get('confirmed_defender_failed', 0)} confirmed ones the defender got wrong "
            "(the best examples)")


def review_rows(view: RunView) -> list[tuple[str, str]]:
    """A person's review as the last export applied it (the manifest's `counts.review`), if there was one."""
    review = (view.manifest or {}).get("counts", {}).get("review")
    if not review:
        return []
    return [("review", f"{review['reviewed']} examples reviewed: {review['kept']} kept, {review['rejected']} rejected; "
                       f"the dataset lost {review['removed']} and gained {review['restored']} curation had dropped")]


def role_rows(stats: dict[str, Any]) -> list[dict[str, Any]]:
    """Per role: calls, tokens, latency and cost (None: no price known)."""
    return [{"role": role, **usage, "usd": stats["cost"]["per_role"].get(role, 0.0),
             "cost": stats["cost"]["labels"].get(role, "")}
            for role, usage in stats["roles"].items()]


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown (the rounds carry no timestamps)"
    minutes, rest = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min {rest} s" if minutes else f"{seconds:.1f} s"


def shown_trace(trace: str) -> str:
    """A reasoning trace as the page shows it: its start and its end, REPORT_TRACE_CHARS characters in all, the
    middle named as left in the journal (which keeps the trace whole). Traces are most of a thinking run's text:
    shown to 3,000 characters, two a round made a report of 10,000 rounds 3.8 times the untraced one (100,000:
    about 225 MB); at 1,000, 2 times (`benchmarks/report.py --traces`). How the model read the question and
    how it concluded are where a reviewer looks first."""
    if len(trace) <= REPORT_TRACE_CHARS:
        return trace
    head, tail = trace[:REPORT_TRACE_CHARS // 2], trace[-(REPORT_TRACE_CHARS // 2):]
    left = len(trace) - len(head) - len(tail)
    return f"{head}\n[... {left:,} more characters of reasoning in {JOURNAL_NAME} ...]\n{tail}"


def browser_row(record: RoundRecord, decision: dict[str, Any] | None = None, *,
                required: bool = True) -> dict[str, Any]:
    """One round as the examples browser shows it (the judge's evidence, not the prompts' bookkeeping): what the
    tools did to each step, the answer check in a line, the solves, each role's reasoning trace, the defender's
    revisions and what became of its answer (`outcome_label`), and a person's decision with why a keep cannot
    hold (`keep_refused`) where the rules will not restore the round."""
    judge: Mapping[str, Any] = record.get("judge") or {}
    curation = record["curation"]
    refusal = keep_refusal(record, require_verified_reference=required) if record["status"] == "ok" else None
    return {
        "id": record["round_id"], "topic": record["topic"], "hops": record["hops"], "status": record["status"],
        "accepted": curation["accepted"], "reason": curation["reason"],
        "similarity": curation.get("similarity"), "nearest_id": _round_id(curation.get("nearest_id")),
        "level": judge.get("level", "failed"),
        "overall": judge.get("overall"), "verdict": judge.get("verdict"), "question": record.get("question"),
        "reference": record.get("reference_answer"),
        "steps": step_rows(record.get("solution_steps") or [], judge.get("reference_check") or {}),
        "reference_check": _check_line(judge.get("reference_check")),
        "answer_check": _check_line(judge.get("answer_check")),
        "annotation": record.get("annotation"), "defender_reasoning": record.get("defender_reasoning"),
        "defender_answer": record.get("defender_answer"), "scores": judge.get("scores") or {},
        "critique": judge.get("critique"), "error": record.get("error"),
        "contamination": curation.get("contamination") or [],
        "evidence": {key: judge[key] for key in ("reference_check", "answer_check", "tool_calls") if judge.get(key)},
        "confirmation": judge.get("confirmation"),
        "solves": [{key: solve.get(key) for key in ("model", "answer", "agreement", "program", "output", "error")}
                   for solve in record.get("solves") or []],
        "traces": {role: shown_trace(trace) for role, trace in (record.get("traces") or {}).items()},
        "revisions": [{"feedback": revision["feedback"], "reasoning": revision["reasoning"],
                       "answer": revision["answer"], "verdict": revision["judge"]["verdict"],
                       "verdict_source": revision["judge"]["verdict_source"],
                       "answer_check": _check_line(revision["judge"].get("answer_check")),
                       "critique": revision["judge"].get("critique"),
                       "trace": shown_trace(revision["trace"]) if revision.get("trace") else None}
                      for revision in record.get("revisions") or []],
        "outcome": outcome_label(record) if record["status"] == "ok" else None,
        "decision": (decision or {}).get("decision"), "note": (decision or {}).get("note") or "",
        "keep_refused": UNKEEPABLE[refusal] if refusal else None,
    }


def outcome_label(record: RoundRecord) -> str:
    """What became of a played round's defender (`outcome`), as the examples browser labels it."""
    name, count = outcome(record)
    if name == "right":
        return "right at once"
    if name == "corrected":
        return f"corrected after {critiques(count)}"
    return f"never corrected ({critiques(count)})" if count else "wrong (no revision asked)"


def step_rows(steps: list[str], check: Mapping[str, Any]) -> list[dict[str, str]]:
    """Each solution step with what the tools did to it (the reference check's `claims` and `skipped`):
    `holds` (every claim in it recomputed and holding), `false` (with the value the tools computed),
    `unchecked` (and why), or `none` (nothing in it to check)."""
    evidence = check.get("evidence") or {}
    claims, skipped = evidence.get("claims") or [], evidence.get("skipped") or []
    rows = []
    for number, text in enumerate(steps, start=1):
        mine = [claim for claim in claims if claim.get("step") == number]
        wrong = [claim for claim in mine if claim.get("holds") is False]
        unread = [item for item in skipped if item.get("step") == number]
        if wrong:
            rows.append({"text": text, "status": "false", "detail": "; ".join(
                f"{claim['claim']} is false" + (f": the tools get {claim['computed']}" if "computed" in claim else "")
                for claim in wrong)})
        elif unread:
            rows.append({"text": text, "status": "unchecked", "detail": "; ".join(
                f"unchecked: {item.get('why')}" for item in unread)})
        elif mine:
            rows.append({"text": text, "status": "holds",
                         "detail": f"recomputed, holds ({len(mine)} claim{'s' if len(mine) > 1 else ''})"})
        else:
            rows.append({"text": text, "status": "none",
                         "detail": "not checked step by step" if evidence.get("method") != "recomputed solution steps"
                         else "no claim the tools could read"})
    return rows


def _check_line(check: Mapping[str, Any] | None) -> str | None:
    """A check in one line: its verdict and reason, and what was compared with what."""
    if not check:
        return None
    evidence = check.get("evidence") or {}
    compared = (f"{evidence['predicted']} vs {evidence['reference']}: "
                if evidence.get("predicted") is not None and evidence.get("reference") is not None else "")
    return f"{compared}{check.get('verdict')} ({check.get('reason')})"


def _round_id(value: Any) -> int | None:
    """A nearest neighbour's round id; None for one from another run (`curation.against`) or none at all."""
    return int(value) if isinstance(value, str) and value.isdigit() else value if isinstance(value, int) else None


# Plots: each draws one figure from the statistics, or returns None when it has nothing to draw.

def plots(view: RunView, stats: dict[str, Any]) -> list[dict[str, str]]:
    """Every plot as {id, title, caption, src}, src an inline PNG data URI."""
    dimensions = [d["name"] for d in view.spec.get("rubric", {}).get("dimensions", [])] or list(stats["scores"])
    drawn = [
        ("acceptance", "Acceptance over the run", "Rounds accepted so far, as a share of rounds played.",
         lambda fig: _acceptance(fig, stats)),
        ("levels", "Levels reached", f"Judged rounds per level; the selected band ({view.band}) is shaded.",
         lambda fig: _levels(fig, stats, view.band)),
        ("scores", "Rubric scores", "How often each rubric dimension got each score.",
         lambda fig: _scores(fig, stats, dimensions)),
        ("similarity", "Novelty", "Similarity of each question to the nearest accepted one; the line is the "
         "threshold at which a question is a duplicate.", lambda fig: _similarity(fig, stats, view.novelty)),
        ("topics", "Topics covered", "Rounds and accepted rounds per topic.", lambda fig: _topics(fig, stats)),
        ("complexity", "Hops and solution length against level", "Each dot is how many rounds of a level had that "
         "many hops or solution steps; the line is the mean.", lambda fig: _complexity(fig, stats)),
        ("defender", "Defender right, by level", "How often the defender answered right at each level: the "
         "difficulty the attacker reached.", lambda fig: _defender(fig, stats)),
        ("roles", "Latency and tokens per role", "Mean seconds per call, and tokens in and out.",
         lambda fig: _roles(fig, stats)),
    ]
    return [{"id": key, "title": title, "caption": caption, "src": src}
            for key, title, caption, draw in drawn if (src := _png(draw)) is not None]


def _png(draw: Callable[[Any], bool]) -> str | None:
    """Draw on a fresh Agg figure (no pyplot state, no display) and return it as a PNG data URI."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 3.4), layout="constrained")
    if not draw(fig):
        return None
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _whole(axis: Any) -> None:
    """Ticks at whole numbers only: an axis of counts, hops or steps."""
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def _acceptance(fig: Any, stats: dict[str, Any]) -> bool:
    curve = stats["acceptance_curve"]
    ax = fig.subplots()
    ax.plot([p["rounds"] for p in curve], [p["rate"] for p in curve], color=ACCEPTED,
            marker="." if len(curve) < 40 else None)
    ax.set(xlabel="rounds played", ylabel="acceptance rate", ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    return True


def _levels(fig: Any, stats: dict[str, Any], band: str) -> bool:
    rows = [stats["by_level"].get(level, {"rounds": 0, "accepted": 0}) for level in LEVELS]
    ax = fig.subplots()
    in_band = [f"L{level}" for level in Band.parse(band).levels()]
    ax.axvspan(LEVELS.index(in_band[0]) - 0.5, LEVELS.index(in_band[-1]) + 0.5, color="#f4d35e", alpha=0.35,
               label=f"band {band}")
    ax.bar(LEVELS, [r["rounds"] - r["accepted"] for r in rows], color=REJECTED, label="not kept")
    ax.bar(LEVELS, [r["accepted"] for r in rows], bottom=[r["rounds"] - r["accepted"] for r in rows],
           color=ACCEPTED, label="accepted")
    ax.set(ylabel="rounds")
    _whole(ax.yaxis)
    ax.legend(fontsize="small")
    return True


def _scores(fig: Any, stats: dict[str, Any], dimensions: list[str]) -> bool:
    if not stats["scores"]:
        return False
    names = [name for name in dimensions if name in stats["scores"]]
    axes = fig.subplots(1, len(names), sharey=True, squeeze=False)[0]
    for ax, name in zip(axes, names, strict=True):
        counts = stats["scores"][name]
        ax.bar(list(counts), list(counts.values()), color="#457b9d")
        ax.set_title(name, fontsize="medium")
        ax.set_xlabel("score")
    axes[0].set_ylabel("rounds")
    _whole(axes[0].yaxis)
    return True


def _similarity(fig: Any, stats: dict[str, Any], threshold: float | None) -> bool:
    similarity = stats["similarity"]
    if not similarity["count"]:
        return False
    ax = fig.subplots()
    bins = similarity["bins"]
    ax.bar([b["low"] for b in bins], [b["count"] for b in bins], width=[b["high"] - b["low"] for b in bins],
           align="edge", color="#457b9d", edgecolor="white")
    if threshold is not None:
        ax.axvline(threshold, color=REJECTED, linestyle="--", label=f"threshold {threshold}")
        ax.legend(fontsize="small")
    ax.set(xlabel="cosine similarity to the nearest accepted question", ylabel="questions", xlim=(0, 1))
    _whole(ax.yaxis)
    return True


def _topics(fig: Any, stats: dict[str, Any]) -> bool:
    topics = list(stats["by_topic"])
    rows = list(stats["by_topic"].values())
    fig.set_figheight(max(2.4, 0.35 * len(topics) + 1))
    ax = fig.subplots()
    ax.barh(topics, [r["rounds"] for r in rows], color="#a8dadc", label="rounds")
    ax.barh(topics, [r["accepted"] for r in rows], color=ACCEPTED, label="accepted")
    ax.invert_yaxis()
    ax.set(xlabel="rounds")
    _whole(ax.xaxis)
    ax.legend(fontsize="small")
    return True


def _complexity(fig: Any, stats: dict[str, Any]) -> bool:
    profile = stats["by_level_profile"]
    if not profile:
        return False
    axes = fig.subplots(1, 2)
    for ax, name, label in ((axes[0], "hops", "hops"), (axes[1], "steps", "solution steps")):
        for level, row in profile.items():
            x = LEVELS.index(level)
            values = [int(v) for v in row[name]]
            ax.scatter([x] * len(values), values, s=[20 + 180 * n / row["rounds"] for n in row[name].values()],
                       color="#457b9d", alpha=0.6)
        ax.plot([LEVELS.index(level) for level in profile], [row[f"mean_{name}"] for row in profile.values()],
                color=REJECTED, marker="_", markersize=14, label="mean")
        ax.set(xticks=range(len(LEVELS)), xticklabels=LEVELS, xlim=(-0.5, len(LEVELS) - 0.5), ylabel=label)
        ax.grid(alpha=0.3)
        _whole(ax.yaxis)
    axes[0].legend(fontsize="small")
    return True


def _defender(fig: Any, stats: dict[str, Any]) -> bool:
    profile = stats["by_level_profile"]
    if not profile:
        return False
    ax = fig.subplots()
    rates = [profile[level]["defender_correct_rate"] if level in profile else 0 for level in LEVELS]
    bars = ax.bar(LEVELS, rates, color="#457b9d")
    ax.bar_label(bars, labels=[f"{profile[level]['defender_correct']}/{profile[level]['rounds']}" if level in profile
                               else "" for level in LEVELS], fontsize="small")
    ax.set(ylabel="defender right", ylim=(0, 1.1))
    return True


def _roles(fig: Any, stats: dict[str, Any]) -> bool:
    usage = stats["roles"]
    if not usage:
        return False
    roles = list(usage)
    left, right = fig.subplots(1, 2)
    left.bar(roles, [usage[role]["mean_seconds"] for role in roles], color="#457b9d")
    left.set(ylabel="seconds per call")
    inputs = [usage[role]["input_tokens"] for role in roles]
    right.bar(roles, inputs, color="#a8dadc", label="input")
    right.bar(roles, [usage[role]["output_tokens"] for role in roles], bottom=inputs, color="#1d3557", label="output")
    right.set(ylabel="tokens")
    _whole(right.yaxis)
    right.legend(fontsize="small")
    return True


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
