"""Judge-based metrics: what an optimizer maximises when it tunes a role's prompt.

Each metric returns `dspy.Prediction(score=..., feedback=...)`, the form GEPA reads: the score
in 0..1 and the judge's findings as text (tool evidence, critique, what to change), so a
reflective optimizer learns why a round scored as it did, not only how much. Both take GEPA's
five arguments (gold, pred, trace, pred_name, pred_trace); other optimizers pass the first three.
"""

from __future__ import annotations

import threading
from typing import Any

import dspy

from nanoflux.base.scoring import Band
from nanoflux.engine.curation.novelty import NoveltyFilter
from nanoflux.engine.journal import JudgeResult, reference_refuted, reference_verified
from nanoflux.verify import check_answer

# What an attacker's verified question earns. Hardness is the point of the attacker; novelty and
# the band are what the curator requires before a round becomes an example.
ATTACKER_WEIGHTS = {"hard": 0.5, "novel": 0.25, "in_band": 0.25}
# What a defender's answer earns: the tools' verdict and the judge's weighted rubric score.
DEFENDER_WEIGHTS = {"correct": 0.5, "rubric": 0.5}


class AttackerMetric:
    """Scores a played round for the attacker: a question worth keeping is valid, hard, new and in band.

    A question whose reference the tools do not verify scores 0 whatever else it does: a wrong
    reference teaches a model the wrong answer. A verified one earns `ATTACKER_WEIGHTS` for each of:
    the defender got it wrong (or its reasoning scored below the band), it is not a near-duplicate
    of a question in the collection, and the judge's overall score is inside the band.

    Args:
        band: the spec's quality band.
        novelty: the collection the question must be new against (the training run's questions).
        require_verified_reference: as the spec's (`nanoflux.engine.journal.reference_verified`).
    """

    def __init__(self, band: Band, novelty: NoveltyFilter, *, require_verified_reference: bool = True):
        self.band = band
        self.novelty = novelty
        self.require_verified_reference = require_verified_reference
        self._lock = threading.Lock()  # optimizers score from several threads; one chromadb query at a time

    def __call__(self, gold: dspy.Example, pred: dspy.Prediction, trace: Any = None, pred_name: str | None = None,
                 pred_trace: Any = None) -> dspy.Prediction:
        judge: JudgeResult = pred.judge
        reference = judge["reference_check"]
        if not reference_verified(judge, required=self.require_verified_reference):
            how = "refuted" if reference_refuted(judge) else "could not verify"
            return dspy.Prediction(score=0.0, feedback=(
                f"The tools {how} the reference answer {pred.reference_answer!r}: {reference['reason']}. A question "
                "without a verified reference is worthless: write solution steps that each compute one value, "
                "ending exactly at the reference answer."))
        answer = judge["answer_check"]
        overall = float(judge["overall"])
        hard = judge["verdict"] == "incorrect" or overall < self.band.low
        with self._lock:
            seen = self.novelty.check(pred.question)
        in_band = self.band.contains(overall)
        met = {"hard": hard, "novel": seen.novel, "in_band": in_band}
        lines = [f"The tools verified the reference answer ({reference['reason']})."]
        if hard:
            lines.append(f"The defender answered {pred.defender_answer!r}, judged {judge['verdict']} "
                         f"({answer['reason']}): the question is hard enough.")
        else:
            lines.append(f"The defender solved it ({pred.defender_answer!r}, {answer['reason']}): make it harder, "
                         "with more dependent steps or a trap that a careless solver falls into.")
        where = "inside" if in_band else "outside"
        lines.append(f"The judge scored the defender's reasoning {overall:g} ({judge['level']}), {where} the band "
                     f"{self.band}" + ("." if in_band else "; only rounds inside it are kept."))
        if seen.novel:
            lines.append("The question is new." if seen.similarity is None else
                         f"The question is new (similarity {seen.similarity:.2f} to the nearest known one).")
        else:
            lines.append(f"The question repeats a known one (similarity {seen.similarity:.2f} >= "
                         f"{self.novelty.threshold:g}): {seen.nearest_text!r}. Write about something different.")
        if judge.get("critique"):
            lines.append(f"Judge's critique of the answer: {judge['critique']}")
        score = sum(weight for name, weight in ATTACKER_WEIGHTS.items() if met[name])
        return dspy.Prediction(score=round(score, 4), feedback="\n".join(lines))


class DefenderMetric:
    """Scores a defender's answer to a known question: tool-verified correctness and the rubric score.

    Correctness comes from `nanoflux.tools.check_answer` against the gold reference (a verified
    one), never from an LM; the rubric part is the judge's weighted overall score mapped from 1-5
    to 0-1. The feedback carries the reference solution, so a reflective optimizer sees the
    reasoning it should have produced.

    Args:
        answer_type: how answers are compared (the spec's `questions.answer_type`).
    """

    def __init__(self, answer_type: str = "auto"):
        self.answer_type = answer_type

    def __call__(self, gold: dspy.Example, pred: dspy.Prediction, trace: Any = None, pred_name: str | None = None,
                 pred_trace: Any = None) -> dspy.Prediction:
        check = check_answer(str(pred.answer or ""), gold.reference_answer, answer_type=self.answer_type)
        correct = check.verdict == "match"
        judge: JudgeResult = pred.judge
        overall = float(judge["overall"])
        rubric = (overall - 1) / 4
        if correct:
            lines = [f"Correct: {pred.answer!r} matches the reference ({check.reason})."]
        else:
            steps = "; ".join(gold.solution_steps) or "(none given)"
            lines = [f"Wrong: the answer {pred.answer!r} does not match the reference {gold.reference_answer!r} "
                     f"({check.verdict}: {check.reason}). The reference solution: {steps}."]
        scores = ", ".join(f"{name} {value}" for name, value in judge["scores"].items())
        lines.append(f"The judge scored the reasoning {scores}; overall {overall:g} ({judge['level']}).")
        if judge.get("critique"):
            lines.append(f"Judge's critique: {judge['critique']}")
        score = DEFENDER_WEIGHTS["correct"] * correct + DEFENDER_WEIGHTS["rubric"] * rubric
        return dspy.Prediction(score=round(score, 4), feedback="\n".join(lines))
