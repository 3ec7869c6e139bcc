"""Role LMs: the embedded llama.cpp engine parses reliably, litellm strings route or fail clearly."""

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import dspy
import pytest
from dspy.utils.exceptions import AdapterParseError

from nanoflux.base.errors import NanofluxError
from nanoflux.base.names import EMBEDDED_MODEL
from nanoflux.clients.lm import (
    CHARS_PER_TOKEN,
    CUT_JSON_RETRIES,
    MAX_STRING_CHARS,
    MEMORY_CACHE_ENTRIES,
    LlamaCppEngine,
    LlamaPool,
    bound_schema,
    check_reachable,
    configure_cache,
    llama_contexts,
    llama_pool,
    llama_threads,
    make_lm,
    resolve_gguf,
    restored_cache,
    using_cache,
)


class QuestionAnswer(dspy.Signature):
    """Write one short quiz question about the topic and its short answer."""

    topic: str = dspy.InputField()
    question: str = dspy.OutputField()
    answer: str = dspy.OutputField()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def fresh_cache(tmp_path):
    """A disk cache of this test's own (conftest restores DSPy's after the test)."""
    configure_cache(tmp_path / "cache")
    return tmp_path / "cache"


@pytest.fixture
def embedded(fresh_cache):
    return make_lm(EMBEDDED_MODEL, temperature=0.9, max_tokens=96)


def ask(lm, topic: str, **config) -> dspy.Prediction:
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
        return dspy.Predict(QuestionAnswer)(topic=topic, config=config)


def rhyme(lm) -> None:
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
        dspy.Predict("word -> rhyme")(word="cat")


# --- fast: no model runs -------------------------------------------------------------------


def test_embedded_model_is_a_dspy_lm_that_declares_schema_support():
    lm = make_lm(EMBEDDED_MODEL)
    assert isinstance(lm, dspy.LM) and isinstance(lm.engine, LlamaCppEngine)
    assert lm.supports_response_schema and "response_format" in lm.supported_params
    assert resolve_gguf(EMBEDDED_MODEL).suffix == ".gguf"


def test_any_gguf_file_is_an_embedded_model():
    path = resolve_gguf(EMBEDDED_MODEL)
    assert make_lm(f"local/{path}").engine.path == path


@pytest.mark.parametrize("model, hint", [
    ("gpt-4o-mni", "did you mean openai/gpt-4o-mini"),
    ("foo/bar", "openai/gpt-4o-mini"),
    ("local/smollm2", f"did you mean {EMBEDDED_MODEL}"),
    ("smollm2-135m", f"did you mean {EMBEDDED_MODEL}"),
    ("local/nowhere/model.gguf", "GGUF file not found"),
])
def test_unknown_model_strings_raise_with_the_fix(model, hint):
    with pytest.raises(NanofluxError, match=hint):
        make_lm(model)


def test_litellm_strings_build_without_network():
    for model in ("openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5", "ollama_chat/qwen3"):
        assert make_lm(model).model == model


def test_api_key_env_is_read_and_a_missing_one_is_named(monkeypatch):
    monkeypatch.setenv("MY_VLLM_KEY", "secret")
    assert make_lm("openai/x", api_base="http://h:1/v1", api_key_env="MY_VLLM_KEY").kwargs["api_key"] == "secret"
    monkeypatch.delenv("MY_VLLM_KEY")
    with pytest.raises(NanofluxError, match="MY_VLLM_KEY"):
        make_lm("openai/x", api_key_env="MY_VLLM_KEY")


def test_a_custom_server_never_receives_the_providers_own_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real")
    assert make_lm("openai/x", api_base="http://h:1/v1").kwargs["api_key"] != "sk-real"


def test_structured_output_overrides_what_dspy_knows_about_a_server():
    base = "http://127.0.0.1:1/v1"
    assert not make_lm("openai/smollm2", api_base=base).supports_response_schema
    declared = make_lm("openai/smollm2", api_base=base, structured_output=True)
    assert declared.supports_response_schema and "response_format" in declared.supported_params
    assert "response_format" not in make_lm("openai/smollm2", api_base=base, structured_output=False).supported_params


def test_bound_schema_bounds_every_free_string_and_list_within_the_token_budget():
    schema = {"type": "object", "properties": {
        "q": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}},
        "level": {"type": "string", "enum": ["a", "b"]}, "n": {"type": "integer"}}}
    bounded = bound_schema(schema, max_tokens=200, max_items=4)
    props = bounded["properties"]
    assert props["tags"]["maxItems"] == 4 and "maxLength" not in props["level"]
    characters = props["q"]["maxLength"] + 4 * props["tags"]["items"]["maxLength"]
    assert characters <= CHARS_PER_TOKEN * 200  # filled to the brim, the strings still fit the token budget
    assert "maxLength" not in schema["properties"]["q"]  # the caller's schema is left alone


def test_bound_schema_caps_a_lone_string_below_what_crashes_llama_cpp():
    bounded = bound_schema({"type": "object", "properties": {"critique": {"type": "string"}}}, max_tokens=4096)
    assert bounded["properties"]["critique"]["maxLength"] == MAX_STRING_CHARS <= 1000


def test_check_reachable_names_an_unreachable_address():
    address = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(NanofluxError, match=address):
        check_reachable(make_lm("openai/x", api_base=address), timeout=0.5)
    check_reachable(make_lm(EMBEDDED_MODEL))


def test_check_reachable_names_a_missing_provider_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(NanofluxError, match="OPENAI_API_KEY"):
        check_reachable(make_lm("openai/gpt-4o-mini"))


def test_configure_cache_puts_the_disk_cache_in_the_given_directory(fresh_cache):
    assert dspy.cache.enable_disk_cache and fresh_cache.is_dir()
    configure_cache(None)
    assert not dspy.cache.enable_disk_cache


def test_a_runs_cache_keeps_recent_answers_in_memory_and_every_answer_on_disk(tmp_path):
    """A long run's answers do not pile up in memory: past MEMORY_CACHE_ENTRIES the oldest leave the memory
    layer, and are still answered, from the run's disk cache."""
    with using_cache(tmp_path / "run-cache"):
        requests = [{"model": "m", "messages": [{"role": "user", "content": f"q{i}"}]}
                    for i in range(MEMORY_CACHE_ENTRIES + 10)]
        for number, request in enumerate(requests):
            dspy.cache.put(request, {"answer": number})
        assert len(dspy.cache.memory_cache) == MEMORY_CACHE_ENTRIES
        assert dspy.cache.get(requests[0]) == {"answer": 0}  # from disk


def test_using_cache_swaps_in_a_disk_cache_for_the_block_only(tmp_path):
    callers = dspy.cache
    with using_cache(tmp_path / "run-cache"):
        assert dspy.cache is not callers and dspy.cache.disk_cache_dir == str(tmp_path / "run-cache")
    assert dspy.cache is callers
    with using_cache(None):
        assert dspy.cache is callers


def test_a_cache_dspy_had_not_built_yet_is_left_unbuilt(tmp_path):
    with restored_cache():
        del dspy.cache  # as in a fresh process: DSPy builds its default on first use
        with using_cache(tmp_path / "run-cache"):
            assert dspy.cache.disk_cache_dir == str(tmp_path / "run-cache")
        assert "cache" not in vars(dspy)


def test_a_program_with_the_embedded_lm_saves_and_loads(tmp_path):
    program = dspy.Predict(QuestionAnswer)
    program.lm = make_lm(EMBEDDED_MODEL, temperature=0.3)
    program.save(tmp_path / "program.json")
    loaded = dspy.Predict(QuestionAnswer)
    loaded.load(tmp_path / "program.json", allow_unsafe_lm_state=True)
    assert loaded.lm.model == EMBEDDED_MODEL and isinstance(loaded.lm.engine, LlamaCppEngine)
    assert loaded.lm.kwargs["temperature"] == 0.3


def test_the_embedded_model_takes_half_the_cores_this_process_may_use_for_each_kind_of_work(monkeypatch):
    monkeypatch.delenv("NANOFLUX_LLAMA_THREADS", raising=False)
    monkeypatch.delenv("NANOFLUX_LLAMA_BATCH_THREADS", raising=False)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2, 3, 4, 5}, raising=False)
    assert llama_threads() == (3, 3)
    assert llama_contexts() == 2  # two calls side by side, each on half the cores
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {7}, raising=False)
    assert llama_threads() == (1, 1) and llama_contexts() == 1


def test_a_user_sets_the_embedded_models_threads_and_a_bad_setting_fails_before_the_run(monkeypatch):
    monkeypatch.setenv("NANOFLUX_LLAMA_THREADS", "3")
    monkeypatch.setenv("NANOFLUX_LLAMA_BATCH_THREADS", "5")
    assert llama_threads() == (3, 5)
    monkeypatch.setenv("NANOFLUX_LLAMA_BATCH_THREADS", "all")
    with pytest.raises(NanofluxError, match="NANOFLUX_LLAMA_BATCH_THREADS='all' is not a number of threads"):
        make_lm(EMBEDDED_MODEL)


# --- slow: the real model ------------------------------------------------------------------


@pytest.mark.slow
def test_the_loaded_model_runs_on_the_chosen_threads_and_a_prompt_cache_hit_answers_as_a_miss(fresh_cache):
    lm = make_lm(EMBEDDED_MODEL, temperature=0.0, max_tokens=48, cache=False)
    with llama_pool(lm.engine.path).borrow() as llama:  # the context a lone caller is lent every time
        pass
    assert (llama.context_params.n_threads, llama.context_params.n_threads_batch) == llama_threads()
    cache, restored = llama.cache, []
    load_state = llama.load_state
    llama.load_state = lambda state: restored.append(state.n_tokens) or load_state(state)
    try:
        ask(lm, "the water cycle")
        rhyme(lm)  # another role's prompt in between: llama.cpp's own prefix reuse finds nothing
        restored.clear()
        hit = ask(lm, "the tides")  # shares the signature's instructions with the first call
        assert restored, "the state of the first call was restored"
        llama.set_cache(None)
        rhyme(lm)
        assert ask(lm, "the tides").toDict() == hit.toDict()  # evaluated whole
    finally:
        del llama.load_state
        llama.set_cache(cache)


@pytest.mark.slow
def test_embedded_lm_answers_a_two_field_json_signature_every_time(embedded):
    for topic in ("prime numbers", "photosynthesis", "the French revolution", "DNA replication", "gravity"):
        prediction = ask(embedded, topic)
        assert prediction.question.strip() and prediction.answer.strip()


@pytest.mark.slow
def test_embedded_lm_reports_token_usage(embedded):
    with dspy.context(track_usage=True):
        prediction = ask(embedded, "volcanoes", rollout_id=101)
    usage = prediction.get_lm_usage()[EMBEDDED_MODEL]
    assert usage["prompt_tokens"] > 50 and usage["completion_tokens"] > 0
    assert embedded.history[-1]["usage"]["completion_tokens"] == usage["completion_tokens"]


@pytest.mark.slow
def test_rollout_ids_sample_different_outputs_even_with_the_cache_on(embedded):
    outputs = [tuple(ask(embedded, "the moon", rollout_id=i).values()) for i in range(4)]
    assert len(set(outputs)) > 1
    assert tuple(ask(embedded, "the moon", rollout_id=0).values()) == outputs[0]  # a rollout is cached


@pytest.mark.slow
def test_at_temperature_0_the_grammar_checked_last_answers_as_llama_cpp_python_checking_it_first():
    from llama_cpp import Llama

    path = str(resolve_gguf(EMBEDDED_MODEL))
    schema = {"type": "object", "required": ["question", "steps", "answer"], "properties": {
        "question": {"type": "string"}, "steps": {"type": "array", "items": {"type": "string"}},
        "answer": {"type": "string"}}}
    response_format = {"type": "json_object", "schema": bound_schema(schema, 160)}
    with llama_pool(resolve_gguf(EMBEDDED_MODEL)).borrow() as ours:
        theirs = Llama(model_path=path, n_ctx=2048, n_threads=1, verbose=False)
        for topic in ("trains", "coins", "ages"):
            messages = [{"role": "system", "content": "Write a math word problem, its steps and answer as JSON."},
                        {"role": "user", "content": f"Topic: {topic}"}]
            answers = [llama.create_chat_completion(messages=messages, max_tokens=160, temperature=0.0, seed=1,
                                                    repeat_penalty=1.1, response_format=response_format)
                       for llama in (ours, theirs)]
            assert answers[0]["choices"][0]["message"] == answers[1]["choices"][0]["message"]
            assert answers[0]["usage"]["completion_tokens"] > 10


@pytest.mark.slow
def test_two_contexts_loading_at_once_leave_the_process_printing_where_it_did():
    # llama-cpp-python silences a load by pointing fds 1 and 2 at /dev/null and back: two loads at once used
    # to leave them there, and the run printed nothing more.
    before = [(os.fstat(fd).st_dev, os.fstat(fd).st_ino) for fd in (1, 2)]
    for _ in range(4):  # the loads of a pool of its own each time, overlapping
        pool, both = LlamaPool(resolve_gguf(EMBEDDED_MODEL), size=2), threading.Barrier(2)

        def borrow(pool=pool, both=both):
            with pool.borrow():
                both.wait(timeout=120)  # two contexts lent at once

        workers = [threading.Thread(target=borrow) for _ in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert not both.broken
        assert [(os.fstat(fd).st_dev, os.fstat(fd).st_ino) for fd in (1, 2)] == before


@pytest.mark.slow
def test_calls_from_four_threads_share_the_contexts(embedded):
    lm = embedded.copy(cache=False, max_tokens=48)
    results, errors = [], []

    def work(topic):
        try:
            results.append(ask(lm, topic))
        except Exception as exc:  # noqa: BLE001 - any failure in a thread is collected so the assertion shows it
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in ("rivers", "bees", "stars", "salt")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 4


@pytest.fixture(scope="module")
def llama_server():
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(resolve_gguf(EMBEDDED_MODEL)),
         "--host", "127.0.0.1", "--port", str(port), "--model_alias", "smollm2", "--n_ctx", "4096"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{base}/models", timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("llama_cpp.server did not start")
                time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_openai_compatible_server_gets_the_json_schema_when_declared(llama_server):
    lm = make_lm("openai/smollm2", api_base=llama_server, structured_output=True, max_tokens=96, cache=False)
    check_reachable(lm)
    prediction = ask(lm, "chemistry")
    assert prediction.question.strip() and prediction.answer.strip()
    sent = lm.history[-1]["kwargs"]["response_format"]  # llama-cpp-python's server takes the json_object shape
    assert sent["type"] == "json_object" and set(sent["schema"]["properties"]) == {"question", "answer"}


@pytest.mark.slow
def test_a_json_answer_cut_by_max_tokens_is_sampled_again(fresh_cache):
    tight = make_lm(EMBEDDED_MODEL, temperature=0.9, max_tokens=8, cache=False)
    try:
        ask(tight, "rivers")  # 8 tokens never hold two JSON fields: every sample is cut
    except AdapterParseError:
        pass  # what is left of a cut JSON may or may not be repaired; the resampling is what counts
    assert tight.history[-1]["usage"]["completion_tokens"] == 8 * (1 + CUT_JSON_RETRIES)
