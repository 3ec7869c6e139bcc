"""Hand-made journal records, shaped exactly like the runner's, and run directories holding them."""

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path

from nanoflux.base.paths import JOURNAL_NAME
from nanoflux.base.scoring import level_name
from nanoflux.engine.journal import Journal, Revision, RoundRecord
from nanoflux.spec.model import parse_spec

START = datetime(2025, 1, 1, tzinfo=UTC)  # round N of a hand-made run starts N seconds after it


def make_record(round_id: int, *, question: str | None = None, reference: str = "17", verdict: str = "incorrect",
                overall: float = 4.0, accepted: bool = True, reason: str = "accepted", status: str = "ok",
                topic: str = "arithmetic", hops: int = 2, steps: list[str] | None = None,
                reference_check: str = "match", similarity: float | None = 0.2) -> RoundRecord:
    task = {"round_id": round_id, "topic": topic, "hops": hops, "answer_type": "numeric", "avoid": [],
            "program_hash": "p0", "started_at": (START + timedelta(seconds=round_id)).isoformat()}
    if status != "ok":
        return {**task, "status": status, "error": "AdapterParseError: no JSON", "error_kind": "parse",
                "failed_role": "attacker", "failed_model": "local/smollm2-135m", "failed_api_base": None,
                "seconds": 0.1, "curation": {"accepted": False, "reason": "failed"}}
    return {
        **task, "status": "ok",
        "question": question or f"A crate holds {round_id + 3} boxes of 4 apples and 5 loose apples. How many apples?",
        "reference_answer": reference,
        "solution_steps": ["3 * 4 = 12", "12 + 5 = 17"] if steps is None else steps,
        "annotation": "Multiplication before addition; the trap is adding first.",
        "defender_reasoning": "3 + 4 + 5 = 12", "defender_answer": "12",
        "judge": {"scores": {"correctness": 2, "clarity": 4}, "overall": overall, "level": level_name(overall),
                  "verdict": verdict, "verdict_source": "tools", "critique": "Added instead of multiplying.",
                  "reference_check": {"verdict": reference_check, "reason": "recomputed", "evidence": {}},
                  "answer_check": {"verdict": "mismatch", "reason": "12 != 17", "evidence": {}}, "tool_calls": []},
        "models": {"attacker": "local/smollm2-135m", "defender": "local/smollm2-135m", "judge": "local/smollm2-135m"},
        "roles": {role: {"model": "local/smollm2-135m", "seconds": 0.1, "input_tokens": 10, "output_tokens": 5}
                  for role in ("attacker", "defender", "judge")},
        "seconds": 0.3,
        "curation": {"accepted": accepted, "reason": reason, "similarity": similarity, "nearest_id": None},
    }


CRATE = "A crate holds 3 boxes of 4 apples and 5 loose apples. How many apples?"


def checked_record(round_id: int, reference: str, steps: list[str], **kwargs) -> RoundRecord:
    """A round on `CRATE` whose reference check is the real one (`check_reference`), with its per-step evidence."""
    from nanoflux.verify import check_reference

    record = make_record(round_id, question=CRATE, reference=reference, steps=steps, **kwargs)
    record["judge"]["reference_check"] = check_reference(reference, steps, question=CRATE,
                                                         answer_type="numeric").to_dict()
    return record


# A question, a rewording of it (a duplicate at the default threshold) and distinct questions on its topic.
ACCEPTED = "What is the role of DNA polymerase during DNA replication?"
REWORDING = "During DNA replication, what does DNA polymerase do?"
SAME_TOPIC = [
    "Which enzyme unwinds the double helix at the replication fork?",
    "Why is the lagging strand synthesized as Okazaki fragments?",
    "How does the proofreading activity of DNA polymerase lower the mutation rate?",
]

TOPICS = ["rates", "geometry", "probability"]
DISTINCT = [
    "A pump fills a 600 litre tank in 5 hours and a drain empties it in 12 hours. "
    "With both open, how long does filling take?",
    "Two cyclists start 90 km apart and ride towards each other at 12 km/h and 18 km/h. "
    "After how many hours do they meet?",
    "A printer makes 40 pages a minute for 7 minutes, then jams for 3 minutes. How many pages after 15 minutes?",
    "A rectangle has perimeter 46 cm and one side 9 cm longer than the other. What is its area?",
    "A circle is inscribed in a square of side 10. "
    "What is the area between the circle and the square, to two decimals?",
    "The legs of a right triangle are 20 and 21. What is the radius of its inscribed circle?",
    "Two fair dice are rolled. What is the probability that their product is even?",
    "An urn holds 4 red and 6 blue balls; three are drawn without replacement. What is the chance all are blue?",
    "A coin is flipped 8 times. In how many sequences do exactly 3 heads appear?",
    "How many positive divisors does 7200 have?",
    "What is the remainder when 3 to the power 100 is divided by 7?",
    "A shop discounts a jacket by 20% and then adds 15% tax. What percent of the original price is paid?",
]


def make_run(path: Path, records: list[RoundRecord], curation: str = "{}") -> Path:
    spec = parse_spec(f"name: t\ndescription: d\ntopics: {TOPICS}\ncuration: {curation}\n")
    path.mkdir(parents=True)
    (path / "spec.json").write_text(spec.model_dump_json())
    journal = Journal(path / JOURNAL_NAME)
    for record in records:
        journal.append(record)
    return path


def with_solves(record: RoundRecord, answers: list[str | None], *, agree: int = 2) -> RoundRecord:
    """`record` judged with independent solves that answered `answers`: its confirmation is the real rule's
    (`nanoflux.verify.confirm`), and its `solves` are journaled as a Round writes them."""
    from nanoflux.verify.confirm import confirm_reference

    check = record["judge"]["reference_check"]
    confirmation = confirm_reference(record["reference_answer"], check["verdict"], answers, agree=agree,
                                     answer_type="numeric", steps_reason=check["reason"]).to_dict()
    record["judge"]["confirmation"] = confirmation  # type: ignore[typeddict-item]
    verdicts = confirmation["verdicts"]
    record["solves"] = [{"model": "local/smollm2-135m", "answer": answer, "solution": "...", "error": None,
                         "agreement": verdict} for answer, verdict in zip(answers, verdicts, strict=True)]
    return record


def with_traces(record: RoundRecord, **traces: str) -> RoundRecord:
    """`record` with the reasoning traces of the roles named (`defender="..."`), journaled as a Round keeps them."""
    record["traces"] = traces
    return record


def revised(record: RoundRecord, answer: str, *, right: bool, source: str = "tools", trace: str | None = None,
            feedback: str | None = None) -> Revision:
    """Another answer by `record`'s defender after a critique, judged as a Round judges it: `right` against the
    reference (decided by `source`), shown `feedback` (by default the tools' finding and the judge's critique)."""
    judge = copy.deepcopy(record["judge"])
    judge.update(verdict="correct" if right else "incorrect", verdict_source=source,  # type: ignore[call-arg]
                 critique="Right now." if right else "Still wrong.",
                 answer_check={"verdict": "match" if right else "mismatch",
                               "reason": f"{answer} {'==' if right else '!='} {record['reference_answer']}",
                               "evidence": {}})
    shown = feedback or f"The judge found your answer wrong: {record['judge']['critique']}"
    return {"feedback": shown, "reasoning": f"Reworked: {answer}", "answer": answer, "judge": judge,
            **({"trace": trace} if trace else {})}  # type: ignore[typeddict-item]


def with_revisions(record: RoundRecord, *revisions: Revision) -> RoundRecord:
    """`record` with the defender's later answers, in order (`roles.judge.revise`)."""
    record["revisions"] = list(revisions)
    return record
