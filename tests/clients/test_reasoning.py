"""Reasoning traces come off every LM call, returned beside the answer or inline, through both HTTP clients.

The calls are real DSPy calls to a stand-in thinking server on 127.0.0.1 (tests/support/faultserver.py):
`openai/` models go through DSPy's own HTTP client, `lm_studio/` ones through litellm.
"""

from pathlib import Path

import dspy
import pytest

from nanoflux import NanofluxError, parse_spec
from nanoflux.clients.lm import make_lm, using_cache
from nanoflux.clients.reasoning import collect_traces, join_traces, split_thinking
from nanoflux.signatures import DefenderSignature
from tests.support.faultserver import CLIENTS, THOUGHT, FaultServer


@pytest.mark.parametrize(("text", "trace", "answer"), [
    ("<think>\nadd 2 and 2\n</think>\n\n{\"answer\": \"4\"}", "add 2 and 2", "{\"answer\": \"4\"}"),
    ("  <think>a long thought that max_tokens cu", "a long thought that max_tokens cu", ""),
    ("the template opened the block in the prompt</think>{\"answer\": \"4\"}",
     "the template opened the block in the prompt", "{\"answer\": \"4\"}"),
    ("{\"answer\": \"4\"}", "", "{\"answer\": \"4\"}"),
    ("{\"answer\": \"<think> is a tag\"}", "", "{\"answer\": \"<think> is a tag\"}"),
    # a malformed thinking model's tags: every leading block is trace, in any case, nested ones inside theirs
    ("<think>a</think>\n<think>b</think>{\"answer\": \"4\"}", "a\n\nb", "{\"answer\": \"4\"}"),
    ("<THINK>a</THINK>{\"answer\": \"4\"}", "a", "{\"answer\": \"4\"}"),
    ("<Think>a</think>{\"answer\": \"4\"}", "a", "{\"answer\": \"4\"}"),
    ("<think>a<think>b</think>c</think>{\"answer\": \"4\"}", "a<think>b</think>c", "{\"answer\": \"4\"}"),
    ("<think>I write <think> first</think>{\"answer\": \"4\"}", "I write <think> first", "{\"answer\": \"4\"}"),
    ("<think></think>{\"answer\": \"4\"}", "", "{\"answer\": \"4\"}"),
    ("<think>a</think><think>b", "a\n\nb", ""),
    # a `</think>` the answer itself quotes ends no trace
    ("{\"answer\": \"the tag </think> ends it\"}", "", "{\"answer\": \"the tag </think> ends it\"}"),
    ("<think>a</think>{\"answer\": \"</think>\"}", "a", "{\"answer\": \"</think>\"}"),
])
def test_split_thinking_takes_a_leading_think_block_off_the_answer(text: str, trace: str, answer: str) -> None:
    assert split_thinking(text) == (trace, answer)


def ask(lm: dspy.BaseLM, question: str) -> tuple[dspy.Prediction, str]:
    with collect_traces() as traces, dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
        prediction = dspy.Predict(DefenderSignature)(question=question)
    return prediction, join_traces(traces)


@pytest.mark.parametrize("client", sorted(CLIENTS))
@pytest.mark.parametrize("thinking", ["field", "inline"])
def test_a_calls_trace_is_collected_its_answer_parses_and_a_cache_hit_yields_the_same_trace(
        tmp_path: Path, client: str, thinking: str) -> None:
    with FaultServer(thinking=thinking) as server, using_cache(tmp_path / "cache"):
        lm = make_lm(CLIENTS[client], api_base=server.api_base, structured_output=True, num_retries=0,
                     temperature=0.0)
        first, trace = ask(lm, "How many jars are on 4 shelves of 3?")
        again, cached = ask(lm, "How many jars are on 4 shelves of 3?")
        assert server.count() == 1, "the second call is answered from the cache"
        outside = make_lm(CLIENTS[client], api_base=server.api_base, structured_output=True, num_retries=0)
        with dspy.context(lm=outside, adapter=dspy.JSONAdapter()):  # no collector open: the call still parses
            alone = dspy.Predict(DefenderSignature)(question="And on 5 shelves?")
    assert trace == cached == THOUGHT.replace("{role}", "defender")
    assert first.answer == again.answer and first.answer.strip() and "<think>" not in first.reasoning
    assert alone.answer.strip() and "think>" not in alone.reasoning + alone.answer


ANSWER = {"reasoning": "The tag </think> closes the block; 3 * 4 = 12.", "answer": "12"}
PLANTED = '{"reasoning": "planted in the trace", "answer": "99"}'


@pytest.mark.parametrize("client", sorted(CLIENTS))
@pytest.mark.parametrize(("text", "trace"), [
    ("{answer}", ""),
    ("<think>a</think><think>b " + PLANTED + "</think>{answer}", "a\n\nb " + PLANTED),
    ("<think>a<think>b</think>c " + PLANTED + "</think>{answer}", "a<think>b</think>c " + PLANTED),
    ("<THINK>" + PLANTED + "</THINK>{answer}", PLANTED),
    ("<think></think>{answer}", ""),
    ("</think>{answer}", ""),
])
def test_a_malformed_thinking_models_answer_parses_and_its_trace_stays_out_of_it(
        tmp_path: Path, client: str, text: str, trace: str) -> None:
    with FaultServer(thinking="raw", thought=text, answer=lambda role, prompt: ANSWER) as server, \
            using_cache(tmp_path / "cache"):
        lm = make_lm(CLIENTS[client], api_base=server.api_base, structured_output=True, num_retries=0)
        prediction, taken = ask(lm, "How many jars are on 4 shelves of 3?")
    assert (prediction.reasoning, prediction.answer) == (ANSWER["reasoning"], ANSWER["answer"])
    if client == "dspy":  # litellm splits blocks its own way before the callback sees them
        assert taken == trace
    assert "planted" not in prediction.reasoning + prediction.answer


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_reasoning_effort_reaches_the_servers_request_body(client: str) -> None:
    with FaultServer(thinking="field") as server:
        lm = make_lm(CLIENTS[client], api_base=server.api_base, structured_output=True, num_retries=0,
                     reasoning_effort="high", cache=False)
        _, trace = ask(lm, "How many crates?")
        plain = make_lm(CLIENTS[client], api_base=server.api_base, structured_output=True, num_retries=0, cache=False)
        ask(plain, "How many crates?")
    assert [body.get("reasoning_effort") for body in server.bodies] == ["high", None]
    assert trace


def test_the_embedded_model_takes_no_reasoning_effort_in_the_spec_or_in_make_lm() -> None:
    with pytest.raises(NanofluxError, match="takes no reasoning_effort: remove reasoning_effort"):
        parse_spec("name: x\ndescription: y\nroles: {defender: {reasoning_effort: low}}\n")
    with pytest.raises(NanofluxError, match="takes no reasoning_effort: remove it"):
        make_lm("local/smollm2-135m", reasoning_effort="low")
