"""Rate limits hold a model's requests and tokens per minute across threads, as its server counts them.

The pacer's arithmetic is checked on a clock the tests move; the limit itself against a real
OpenAI-compatible server (tests/support/faultserver.py), from the times it received each request.
"""

from concurrent.futures import ThreadPoolExecutor

import dspy
import pytest

from nanoflux import parse_spec
from nanoflux.clients.lm import make_lm
from nanoflux.clients.ratelimit import Limit, Pacer, RateLimiter, estimate_tokens, model_key, model_limits, pacer
from nanoflux.clients.usage import token_usage
from nanoflux.engine.compiler import build_role_lms
from nanoflux.spec.model import Spec
from tests.support.faultserver import FaultServer

MODEL = "openai/fault"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_requests_go_evenly_spaced_at_the_limits_pace_and_an_idle_spell_saves_up_no_burst() -> None:
    clock = Clock()
    pacer = Pacer(clock)
    assert [pacer.reserve("m", Limit(rpm=60), 0) for _ in range(3)] == [0, 1, 2]
    clock.now = 100.0
    assert [pacer.reserve("m", Limit(rpm=60), 0) for _ in range(2)] == [0, 1]
    assert pacer.reserve("other", Limit(rpm=60), 0) == 0, "each model keeps its own schedule"


def test_booked_tokens_hold_the_next_call_until_they_have_flowed_at_the_limits_rate() -> None:
    clock = Clock()
    pacer = Pacer(clock)
    limit = Limit(rpm=600, tpm=600)  # 10 tokens a second
    assert pacer.reserve("m", limit, 100) == 0
    assert pacer.reserve("m", limit, 5) == 10, "100 tokens take 10 s at 600 a minute"
    assert pacer.reserve("m", limit, 5) == 10.5


def test_a_call_that_used_fewer_tokens_than_it_booked_lets_the_next_go_sooner_never_before_one_booked() -> None:
    clock = Clock()
    pacer = Pacer(clock)
    limit = Limit(tpm=600)
    pacer.reserve("m", limit, 100)
    pacer.settle("m", limit, booked=100, used=20)
    assert pacer.reserve("m", limit, 100) == 2, "20 tokens flow in 2 s"
    pacer.reserve("m", limit, 5)  # booked at 12 s
    pacer.settle("m", limit, booked=100, used=0)
    assert pacer.reserve("m", limit, 0) == 12, "calls keep the order they were booked in"


def roles_on(server: FaultServer, **extra: str) -> Spec:
    """A spec whose roles all call `server`; `extra` adds settings to a role, e.g. attacker="rpm: 60"."""
    role = f"model: {MODEL}, api_base: '{server.api_base}', structured_output: true, timeout: 10, num_retries: 0"
    roles = ", ".join(f"{name}: {{{role}{', ' + extra[name] if name in extra else ''}}}"
                      for name in ("attacker", "defender", "judge"))
    return parse_spec(f"name: jars\ndescription: Counting jars.\nroles: {{alternate: false, {roles}}}\n")


def test_roles_on_one_model_share_the_strictest_limit_they_set_and_local_models_have_none() -> None:
    with FaultServer() as server:
        spec = roles_on(server, attacker="rpm: 600, tpm: 90000", defender="rpm: 300")
    roles = [spec.roles.attacker, spec.roles.defender, spec.roles.judge]
    assert model_limits(roles) == {model_key(MODEL, server.api_base): Limit(rpm=300, tpm=90000)}
    elsewhere = spec.roles.judge.model_copy(update={"api_base": "http://127.0.0.1:1/v1", "rpm": 10})
    local = spec.roles.judge.model_copy(update={"model": "local/smollm2-135m", "api_base": None, "rpm": 10})
    assert model_limits([*roles, elsewhere, local])[model_key(MODEL, elsewhere.api_base)] == Limit(rpm=10)
    assert len(model_limits([*roles, elsewhere, local])) == 2


def test_the_solver_on_the_judges_model_is_paced_by_the_limit_it_shares_with_the_roles_there() -> None:
    with FaultServer() as server:
        spec = roles_on(server, attacker="rpm: 600", judge="rpm: 120, tpm: 50000")
        lms = build_role_lms(spec)
        assert spec.roles.settings("solver").rpm == 120, "the solver takes the judge's settings"
        limiters = {role: [c for c in getattr(lms, role).callbacks if isinstance(c, RateLimiter)]
                    for role in ("judge", "solver")}
        assert [(c.key, c.limit) for c in limiters["solver"]] == [(c.key, c.limit) for c in limiters["judge"]] == [
            (model_key(MODEL, server.api_base), Limit(rpm=120, tpm=50000))]
        # A solve's copy of the LM (its own rollout key) keeps the limiter: its calls are paced with the rest.
        assert any(isinstance(c, RateLimiter) for c in lms.solver.copy(rollout_id=1).callbacks)


RPM = 300  # 5 requests a second
CALLS = 80  # about 16 s at that pace
WINDOW = 10.0  # seconds: the limit allows RPM * WINDOW / 60 = 50 requests in any window this long


def test_32_threads_calling_two_roles_on_one_model_stay_within_its_rpm_as_the_server_counts_them() -> None:
    with FaultServer() as server:
        lms = build_role_lms(roles_on(server, attacker=f"rpm: {2 * RPM}", defender=f"rpm: {RPM}"))
        with ThreadPoolExecutor(max_workers=32) as pool:
            answers = list(pool.map(lambda i: (lms.attacker if i % 2 else lms.defender)(f"call {i}"), range(CALLS)))
        times = [received for _, _, received in server.requests]
        busiest = server.busiest(WINDOW)
    assert len(answers) == len(times) == CALLS
    assert busiest <= 1.1 * RPM * WINDOW / 60, "never more than the limit (within 10%) in any window"
    achieved = (len(times) - 1) / (max(times) - min(times)) * 60
    assert achieved >= 0.6 * RPM, f"the limiter starves its callers: {achieved:.0f} requests/min"  # loose: slow CI


def test_a_call_answered_from_dspys_cache_waits_for_nothing_and_books_nothing() -> None:
    with FaultServer() as server:
        lm = make_lm(MODEL, api_base=server.api_base, rpm=2)  # a request every 30 s
        lm("the same question")
        lm("the same question")  # from the cache: were it booked, this would wait 30 s
        assert server.count() == 1
    wait = pacer().reserve(model_key(MODEL, server.api_base), Limit(rpm=2), 0)
    assert wait <= 30, "the next request's slot is 30 s after the one request, not 60 s"


def test_tokens_are_booked_up_front_then_corrected_to_the_usage_the_server_reports() -> None:
    with FaultServer() as server:  # it reports 10 prompt and 20 completion tokens a call
        lm = make_lm(MODEL, api_base=server.api_base, max_tokens=4000, tpm=600)  # 10 tokens a second
        with dspy.track_usage() as round_usage:
            lm("a question")
    assert token_usage(round_usage) == {MODEL: {"input_tokens": 10, "output_tokens": 20, "reasoning_tokens": 0}}, \
        "the round still counts"
    wait = pacer().reserve(model_key(MODEL, server.api_base), Limit(tpm=600), 0)
    assert wait <= 3, "30 tokens flow in 3 s; the 4,000 booked would have held the next call 400 s"


@pytest.mark.parametrize(("inputs", "expected"), [
    ({"prompt": "x" * 400}, 100 + 512),
    ({"messages": [{"role": "system", "content": "x" * 40}, {"role": "user", "content": "y" * 40}],
      "kwargs": {"max_tokens": 64}}, 20 + 64),
])
def test_a_calls_tokens_are_estimated_from_its_prompt_plus_its_max_tokens(inputs: dict, expected: int) -> None:
    assert estimate_tokens(make_lm(MODEL, api_base="http://127.0.0.1:1/v1", max_tokens=512), inputs) == expected
