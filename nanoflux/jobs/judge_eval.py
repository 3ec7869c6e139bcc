"""Calibration: how often a judge agrees with labelled answers, so a user knows how far to trust it.

A labelled file holds one JSON object a line: `question`, `reference`, `answer` (the candidate's
final answer), `label` (`correct` or `incorrect`), and optionally `reasoning` and `answer_type`.
The judge runs on each item exactly as in a round (tools first, then its LM), and its verdicts are
compared with the labels: accuracy, precision, recall and F1 of "correct", and a confusion table.
An item the judge fails on (unparseable LM output, an LM error) counts as an "error" verdict: it
lowers accuracy and, for an item labelled correct, recall.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import dspy

from nanoflux.base.errors import NanofluxError
from nanoflux.base.io import read_rows
from nanoflux.jobs.reference_eval import ReferenceEvalReport, evaluate_references, is_solutions_file, load_solutions
from nanoflux.modules import Judge
from nanoflux.spec.model import Spec, load_spec
from nanoflux.verify import ANSWER_TYPES

LABELS = ("correct", "incorrect")
VERDICTS = (*LABELS, "error")
REQUIRED_KEYS = ("question", "reference", "answer", "label")


@dataclass(frozen=True)
class LabelledItem:
    """One labelled answer; `line` is its line in the file, so results point back to it."""

    question: str
    reference: str
    answer: str
    label: str
    reasoning: str = ""
    answer_type: str | None = None
    line: int = 0


@dataclass(frozen=True)
class JudgeEvalReport:
    """The judge's agreement with the labels.

    `confusion[label][verdict]` counts items by label (correct, incorrect) and the judge's verdict
    (correct, incorrect, error); `sources` counts who decided each verdict (tools, judge, error) and
    how many of those agree with the label; `results` holds one row per item.
    """

    model: str
    tools: list[str]
    confusion: dict[str, dict[str, int]]
    sources: dict[str, dict[str, int]]
    results: list[dict[str, Any]] = field(repr=False)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(sum(row.values()) for row in self.confusion.values())

    @property
    def accuracy(self) -> float:
        return _ratio(self.confusion["correct"]["correct"] + self.confusion["incorrect"]["incorrect"], self.total)

    @property
    def precision(self) -> float:
        return _ratio(self.confusion["correct"]["correct"],
                      self.confusion["correct"]["correct"] + self.confusion["incorrect"]["correct"])

    @property
    def recall(self) -> float:
        return _ratio(self.confusion["correct"]["correct"], sum(self.confusion["correct"].values()))

    @property
    def f1(self) -> float:
        return _ratio(2 * self.precision * self.recall, self.precision + self.recall)

    def to_dict(self) -> dict[str, Any]:
        figures = {name: round(getattr(self, name), 4) for name in ("accuracy", "precision", "recall", "f1")}
        return {"model": self.model, "tools": self.tools, "items": self.total, **figures,
                **{k: v for k, v in asdict(self).items() if k not in {"model", "tools"}}}

    def render(self) -> str:
        """The report as a user reads it in a terminal."""
        c = self.confusion
        rows = [f"judge-eval: {self.total} items, judge {self.model}, tools {', '.join(self.tools) or 'none'}",
                f"{'':20}{'judged correct':>16}{'judged incorrect':>18}{'error':>7}"]
        rows += [f"{'labelled ' + label:20}{c[label]['correct']:>16}{c[label]['incorrect']:>18}{c[label]['error']:>7}"
                 for label in LABELS]
        rows.append(f"accuracy {self.accuracy:.3f}  precision {self.precision:.3f}  recall {self.recall:.3f}  "
                    f"F1 {self.f1:.3f}  ({self.seconds:.1f} s)")
        decided = "; ".join(f"{who} decided {s['items']} ({s['agreed']} agree with the label)"
                            for who, s in self.sources.items() if who != "error")
        errors = self.sources.get("error", {}).get("items", 0)
        rows.append(f"verdicts: {decided}" + (f"; {errors} failed" if errors else ""))
        return "\n".join(rows)


def load_labelled(path: str | Path) -> list[LabelledItem]:
    """Read a labelled JSONL file; a NanofluxError names the line and the fix for any bad one."""
    return [_item(row, where, number) for number, row, where in read_rows(path, REQUIRED_KEYS)]


def review_items(run_dir: str | Path) -> list[LabelledItem]:
    """Labelled items from a person's review of a run (`nanoflux review`): one per reviewed played round.

    Each item is the round's question, the defender's answer and the reference; its label is the
    person's reading of the judge's verdict: keeping an example confirms the verdict the judge gave
    (`correct` or `incorrect`), rejecting it says the verdict is wrong, so the label is the other one.
    Rounds with only a note, and failed rounds, give no item. `line` is the round id.
    """
    from nanoflux.base.paths import RunDir
    from nanoflux.engine.curation.decisions import ACCEPT, read_review
    from nanoflux.jobs.stats import journal_records

    run = RunDir(Path(run_dir))
    review = read_review(run.review)
    if not review:
        raise NanofluxError(f"{run_dir} has no reviewed rounds ({run.review.name}); "
                            f"review its examples first: nanoflux review {run_dir}")
    items = []
    for record in journal_records(run.root):
        decision = review.get(record["round_id"], {}).get("decision")
        if not decision or record["status"] != "ok" or record["judge"]["verdict"] not in LABELS:
            continue
        verdict = record["judge"]["verdict"]
        label = verdict if decision == ACCEPT else next(other for other in LABELS if other != verdict)
        items.append(LabelledItem(question=record["question"], reference=record["reference_answer"],
                                  answer=record["defender_answer"], label=label,
                                  reasoning=record.get("defender_reasoning") or "",
                                  answer_type=record.get("answer_type"), line=record["round_id"]))
    if not items:
        raise NanofluxError(f"{run.review} keeps or rejects no played round; keep or reject some in `nanoflux review`")
    return items


def _item(row: dict, where: str, number: int) -> LabelledItem:
    label = str(row["label"]).strip().lower()
    if label not in LABELS:
        raise NanofluxError(f"{where}: label {row['label']!r} is not a label; write `correct` or `incorrect`")
    answer_type = row.get("answer_type")
    if answer_type is not None and answer_type not in ANSWER_TYPES:
        raise NanofluxError(f"{where}: unknown answer_type {answer_type!r}; use one of {', '.join(ANSWER_TYPES)}")
    return LabelledItem(question=str(row["question"]), reference=str(row["reference"]), answer=str(row["answer"]),
                        label=label, reasoning=str(row.get("reasoning") or ""), answer_type=answer_type, line=number)


def evaluate_judge(items: Iterable[LabelledItem], judge: Judge, *, lm: dspy.BaseLM, answer_type: str | None = None,
                   tools: list[str] | None = None) -> JudgeEvalReport:
    """Run `judge` (its LM `lm`) over labelled items and compare its verdicts with the labels.

    `answer_type` applies to items without their own (None: the judge's). A failure on one item
    is recorded as an "error" verdict and the evaluation goes on.
    """
    started = time.perf_counter()
    confusion = {label: dict.fromkeys(VERDICTS, 0) for label in LABELS}
    sources: dict[str, Counter[str]] = {}
    results = []
    for item in items:
        row = _judge_one(item, judge, lm, item.answer_type or answer_type)
        confusion[item.label][row["verdict"]] += 1
        sources.setdefault(row["source"], Counter()).update(items=1, agreed=int(row["verdict"] == item.label))
        results.append(row)
    return JudgeEvalReport(model=lm.model, tools=list(tools or []), confusion=confusion,
                           sources={who: {"items": c["items"], "agreed": c["agreed"]} for who, c in sources.items()},
                           results=results, seconds=round(time.perf_counter() - started, 2))


def _judge_one(item: LabelledItem, judge: Judge, lm: dspy.BaseLM, answer_type: str | None) -> dict[str, Any]:
    row: dict[str, Any] = {"line": item.line, "label": item.label, "answer": item.answer, "reference": item.reference}
    try:
        with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
            result = judge(question=item.question, reference_answer=item.reference, solution_steps=[],
                           reasoning=item.reasoning, answer=item.answer, answer_type=answer_type)
    except Exception as exc:  # noqa: BLE001 - LM output is untrusted: a failed item is a verdict, not a crash
        return {**row, "verdict": "error", "source": "error", "error": f"{type(exc).__name__}: {exc}"[:500]}
    return {**row, "verdict": result.verdict, "source": result.verdict_source,
            "tool_reason": result.answer_check["reason"], "overall": result.overall, "level": result.level}


def judge_eval(path: str | Path | None = None, *, spec: Spec | str | Path | None = None, model: str | None = None,
               out: str | Path | None = None, lm: dspy.BaseLM | None = None,
               from_review: str | Path | None = None) -> JudgeEvalReport | ReferenceEvalReport:
    """Calibrate the judge a spec declares (or a general one) on a labelled file; what `nanoflux judge-eval` runs.

    A file of whole solutions (lines with `solution_steps`, see `reference_eval`) measures the
    reference check instead: how many wrong references it confirms, how many right ones.

    Args:
        path: the labelled JSONL file (or None with `from_review`).
        from_review: a run directory whose `nanoflux review` decisions are the labels (`review_items`);
            its own spec's judge is evaluated unless `spec` is given.
        spec: a Spec or spec file whose judge (rubric, tools, model, agentic setting) is evaluated;
            None: a general judge with the default rubric and the sympy tool, comparing answers by
            their own form ("auto").
        model: replaces the judge's model, e.g. "openai/gpt-4o-mini".
        out: where to write the report as JSON (atomically).
        lm: the judge's LM, instead of one built from the spec (tests, custom backends).
    """
    from nanoflux.clients.lm import check_reachable
    from nanoflux.engine.compiler import build_judge, role_lm
    from nanoflux.jobs.curate import run_spec

    if (path is None) == (from_review is None):
        raise NanofluxError("pass a labelled FILE or --from-review RUN_DIR, not both or neither")
    if from_review is not None:
        items = review_items(from_review)
        spec = spec if spec is not None else run_spec(Path(from_review))
    elif is_solutions_file(path):  # whole solutions: the reference check alone, no LM
        return _write(evaluate_references(load_solutions(path)), out)
    else:
        items = load_labelled(path)
    answer_type = None if spec is not None else "auto"
    if spec is None:
        spec = Spec(name="judge-eval", description="Questions from any domain, each with a reference answer.")
    elif not isinstance(spec, Spec):
        spec = load_spec(spec)
    settings = spec.roles.judge.model_copy(update={"model": model}) if model else spec.roles.judge
    if lm is None:
        lm = role_lm(settings, cache=False)
        check_reachable(lm)
    return _write(evaluate_judge(items, build_judge(spec), lm=lm, answer_type=answer_type, tools=spec.tools), out)


def _write(report: JudgeEvalReport | ReferenceEvalReport, out: str | Path | None) -> Any:
    from nanoflux.base.io import write_json

    if out is not None:
        try:
            write_json(Path(out), report.to_dict())
        except OSError as exc:
            raise NanofluxError(f"cannot write the report to {out} ({exc.strerror}); "
                                "pass --out with a writable path") from None
    return report


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0
