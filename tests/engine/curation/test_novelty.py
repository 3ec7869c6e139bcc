"""The novelty filter with the real all-MiniLM-L6-v2 and a real chromadb, in temporary run directories."""

from pathlib import Path

import pytest

from nanoflux.base.errors import NanofluxError
from nanoflux.engine.curation.embeddings import Embedder, load_embedder
from nanoflux.engine.curation.novelty import NoveltyFilter, NoveltyResult
from tests.support.records import ACCEPTED, REWORDING, SAME_TOPIC

pytestmark = pytest.mark.slow

# (accepted, candidate, cosine similarity measured with all-MiniLM-L6-v2 on CPU)
REWORDINGS = [
    (ACCEPTED, REWORDING, 0.949),
    (ACCEPTED, "What role does DNA polymerase play in DNA replication?", 0.973),
    (ACCEPTED, "what is the role of dna polymerase during dna replication ?", 1.0),
    (
        "Find all real solutions of x^2 - 5x + 6 = 0.",
        "Solve the equation x^2 - 5x + 6 = 0 over the real numbers.",
        0.918,
    ),
    (
        "What causes sickle cell anemia at the molecular level?",
        "At the molecular level, what is the cause of sickle cell disease?",
        0.898,
    ),
    (
        "What is the most common cause of community-acquired pneumonia?",
        "Which pathogen most often causes pneumonia acquired in the community?",
        0.882,
    ),
    ("What is the mechanism of action of metformin?", "How does metformin work?", 0.831),
    ("What is the derivative of sin(x) * x^2?", "Differentiate x^2 sin x with respect to x.", 0.829),
]
DIFFERENT_QUESTIONS = [
    (ACCEPTED, SAME_TOPIC[0], 0.595),
    (ACCEPTED, SAME_TOPIC[1], 0.245),
    (ACCEPTED, SAME_TOPIC[2], 0.697),
    (ACCEPTED, "What is the role of RNA polymerase during transcription?", 0.775),
    ("Find all real solutions of x^2 - 5x + 6 = 0.", "Find all real solutions of x^2 + 4x - 21 = 0.", 0.694),
    ("What is the derivative of sin(x) * x^2?", "What is the integral of sin(x) * x^2?", 0.741),
    ("Which codon starts translation in eukaryotes?", "Which codons stop translation?", 0.763),
    (
        "What is the first-line treatment for uncomplicated hypertension in adults?",
        "What is the first-line treatment for type 2 diabetes in adults?",
        0.607,
    ),
]


@pytest.fixture
def novelty(tmp_path: Path) -> NoveltyFilter:
    novelty = NoveltyFilter(tmp_path / "run" / "novelty")
    novelty.add("r1", ACCEPTED)
    return novelty


def test_an_empty_collection_accepts_anything_and_reports_no_neighbour(tmp_path: Path):
    result = NoveltyFilter(tmp_path / "novelty").check(ACCEPTED)

    assert result == NoveltyResult(novel=True, similarity=None, nearest_id=None, nearest_text=None)


def test_an_exact_duplicate_is_rejected_with_similarity_one(novelty: NoveltyFilter):
    result = novelty.check(ACCEPTED)

    assert not result.novel
    assert result.similarity == pytest.approx(1.0, abs=1e-4)
    assert (result.nearest_id, result.nearest_text) == ("r1", ACCEPTED)


@pytest.mark.parametrize(("accepted", "question", "measured", "novel"),
                         [(*row, False) for row in REWORDINGS] + [(*row, True) for row in DIFFERENT_QUESTIONS])
def test_a_rewording_of_an_accepted_question_is_rejected_and_a_different_question_is_novel(
    tmp_path: Path, accepted: str, question: str, measured: float, novel: bool
):
    novelty = NoveltyFilter(tmp_path / "novelty")
    novelty.add("r1", accepted)

    result = novelty.check(question)

    assert result.novel is novel
    assert result.similarity == pytest.approx(measured, abs=0.01)
    assert result.nearest_id == "r1"


def test_the_verdict_serializes_to_a_plain_dict(novelty: NoveltyFilter):
    assert novelty.check(ACCEPTED).to_dict() == {
        "novel": False,
        "similarity": pytest.approx(1.0, abs=1e-4),
        "nearest_id": "r1",
        "nearest_text": ACCEPTED,
    }


def test_adding_the_same_id_twice_keeps_one_entry(novelty: NoveltyFilter):
    novelty.add("r1", ACCEPTED, {"round": 1})
    novelty.add("r1", ACCEPTED, {"round": 1})

    assert len(novelty) == 1


def test_nearest_lists_accepted_questions_closest_first(novelty: NoveltyFilter):
    for i, question in enumerate(SAME_TOPIC):
        novelty.add(f"s{i}", question)

    assert novelty.nearest(REWORDING, k=2)[0] == ACCEPTED
    assert len(novelty.nearest(REWORDING, k=2)) == 2
    assert len(novelty.nearest(REWORDING, k=50)) == 1 + len(SAME_TOPIC)


def test_questions_accepted_by_another_run_count_against_this_one(tmp_path: Path):
    NoveltyFilter(tmp_path / "old-run" / "novelty").add("old-1", ACCEPTED)

    novelty = NoveltyFilter(tmp_path / "new-run" / "novelty", against=[tmp_path / "old-run"])
    result = novelty.check(REWORDING)

    assert not result.novel
    assert (result.nearest_id, result.nearest_text) == ("old-1", ACCEPTED)
    assert novelty.nearest(SAME_TOPIC[0]) == [ACCEPTED]
    assert len(novelty) == 0, "the other run is read, never written"


def test_listing_this_run_in_against_does_not_count_its_questions_twice(novelty: NoveltyFilter):
    same_run = NoveltyFilter(novelty.path, against=[novelty.path.parent])

    assert same_run.nearest(ACCEPTED, k=5) == [ACCEPTED]


def test_a_threshold_outside_zero_to_one_is_refused(tmp_path: Path):
    with pytest.raises(NanofluxError, match="threshold must be in"):
        NoveltyFilter(tmp_path / "novelty", threshold=85)


def test_a_run_without_a_novelty_collection_cannot_be_checked_against(tmp_path: Path):
    with pytest.raises(NanofluxError, match="no novelty collection"):
        NoveltyFilter(tmp_path / "novelty", against=[tmp_path / "never-curated"])


def test_accepted_questions_survive_reopening_the_directory(tmp_path: Path):
    NoveltyFilter(tmp_path / "novelty").add("r1", ACCEPTED, {"round": 1})

    reopened = NoveltyFilter(tmp_path / "novelty")

    assert len(reopened) == 1
    assert reopened.check(REWORDING).nearest_id == "r1"


def test_a_collection_refuses_a_different_embedding_model(tmp_path: Path):
    NoveltyFilter(tmp_path / "novelty").add("r1", ACCEPTED)

    with pytest.raises(NanofluxError, match="built with embedding model 'all-MiniLM-L6-v2'"):
        NoveltyFilter(tmp_path / "novelty", model="sentence-transformers/all-MiniLM-L6-v2")


def test_clearing_forgets_accepted_questions(novelty: NoveltyFilter):
    novelty.clear()

    assert len(novelty) == 0
    assert novelty.check(ACCEPTED).novel


class CountingEncoder:
    """Wraps the shared model's ``encode`` to record the batches of texts that reach it."""

    def __init__(self, encode):
        self.encode = encode
        self.calls: list[list[str]] = []

    def __call__(self, texts, **kwargs):
        self.calls.append(list(texts))
        return self.encode(texts, **kwargs)


@pytest.fixture
def model_calls(monkeypatch: pytest.MonkeyPatch) -> CountingEncoder:
    model = load_embedder()
    counter = CountingEncoder(model.encode)
    monkeypatch.setattr(model, "encode", counter)
    return counter


def test_texts_are_embedded_once_per_run_directory_even_across_reopening(
    tmp_path: Path, model_calls: CountingEncoder
):
    texts = [ACCEPTED, *SAME_TOPIC]
    first = NoveltyFilter(tmp_path / "novelty").embed_many(texts)
    again = NoveltyFilter(tmp_path / "novelty").embed_many(texts)

    assert model_calls.calls == [texts]
    assert (first == again).all()


def test_a_checked_question_is_not_embedded_again_when_added(tmp_path: Path, model_calls: CountingEncoder):
    novelty = NoveltyFilter(tmp_path / "novelty")
    if novelty.check(ACCEPTED).novel:
        novelty.add("r1", ACCEPTED)

    assert model_calls.calls == [[ACCEPTED]]


def test_a_batch_is_embedded_in_one_model_call_with_duplicates_once(
    tmp_path: Path, model_calls: CountingEncoder
):
    vectors = Embedder(cache=tmp_path / "cache.sqlite").embed_many([ACCEPTED, REWORDING, ACCEPTED])

    assert model_calls.calls == [[ACCEPTED, REWORDING]]
    assert vectors.shape == (3, 384)
    assert (vectors[0] == vectors[2]).all()


def test_the_model_is_loaded_once_per_process():
    assert load_embedder("all-MiniLM-L6-v2") is load_embedder("all-MiniLM-L6-v2")


def test_an_unloadable_model_says_how_to_fix_it(tmp_path: Path):
    with pytest.raises(NanofluxError, match="cannot load embedding model .* Use 'all-MiniLM-L6-v2'"):
        load_embedder(str(tmp_path / "no-such-model"))
