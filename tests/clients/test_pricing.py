"""One home for prices: litellm's map for API models, 0 for embedded ones, unknown (never free) for the rest."""

import json
import os
import subprocess
import sys
import textwrap

from nanoflux.clients.pricing import Spend, dollars, token_price, unpriced
from tests.support import ROOT

GPT_4O_MINI = (0.15e-6, 0.60e-6)  # USD per input and output token in litellm's bundled map


def usage(model: str, input_tokens: int = 1000, output_tokens: int = 100) -> dict:
    return {"model": model, "seconds": 0.1, "input_tokens": input_tokens, "output_tokens": output_tokens}


def test_an_api_model_is_priced_by_its_name_whatever_server_it_is_routed_to() -> None:
    assert token_price("openai/gpt-4o-mini") == GPT_4O_MINI


def test_an_embedded_model_costs_nothing_and_says_it_is_embedded() -> None:
    spend = Spend()
    spend.add({"attacker": usage("local/smollm2-135m"), "judge": usage("local/other.gguf")})
    assert token_price("local/smollm2-135m") == (0.0, 0.0) and spend.usd() == 0.0
    assert spend.label() == "$0 (embedded)"


def test_a_model_litellm_cannot_price_has_an_unknown_cost_never_a_free_one() -> None:
    spend = Spend()
    spend.add({"attacker": usage("openai/my-own-vllm-model"), "judge": usage("scripted/judge")})
    assert token_price("openai/my-own-vllm-model") is None and token_price("scripted/judge") is None
    assert spend.usd() is None and spend.usd("judge") is None
    assert spend.label() == "unknown price" and "$" not in spend.label()
    assert unpriced(["openai/gpt-4o-mini", "scripted/judge", "local/smollm2-135m"]) == ["scripted/judge"]


def test_a_run_with_priced_and_unpriced_models_shows_the_priced_part_and_the_unknown() -> None:
    spend = Spend()
    spend.add({"attacker": usage("openai/gpt-4o-mini"), "judge": usage("openai/my-own-vllm-model")})
    assert spend.usd("attacker") == 1000 * GPT_4O_MINI[0] + 100 * GPT_4O_MINI[1]
    assert spend.priced_usd() == spend.usd("attacker") and spend.usd() is None
    assert spend.label() == "$0.00021 + unknown price"


def test_tokens_and_cost_are_summed_per_role_and_model_and_scaled_for_a_projection() -> None:
    spend = Spend()
    for _ in range(2):
        spend.add({"attacker": usage("openai/gpt-4o-mini"), "defender": usage("local/smollm2-135m")})
    spend.add(None)  # a failed round records no usage
    assert spend.token_count() == 4 * 1100 and spend.token_count("attacker", "output") == 200
    assert spend.models() == ["local/smollm2-135m", "openai/gpt-4o-mini"]
    assert spend.label("defender") == "$0 (embedded)"
    assert spend.label(scale=1000) == dollars(1000 * 2 * (1000 * GPT_4O_MINI[0] + 100 * GPT_4O_MINI[1])) == "$0.4200"


def test_amounts_read_as_dollars_at_every_scale() -> None:
    assert [dollars(x) for x in (0, 0.000041, 0.0123, 12.346, 1234.5)] == \
        ["$0.0000", "$0.000041", "$0.0123", "$12.35", "$1,234.50"]


# A fresh interpreter with no LITELLM_LOCAL_MODEL_COST_MAP: importing the main job (as a test harness does
# before the CLI runs) and pricing a model must not try the network for litellm's price map.
NO_FETCH = textwrap.dedent("""
    import json, os, sys
    tried = []
    sys.addaudithook(lambda event, args: tried.append(repr(args)[:120])
                     if event in ("socket.getaddrinfo", "socket.connect") else None)
    import nanoflux.jobs.compile
    from nanoflux.clients.pricing import token_price
    price = token_price("openai/gpt-4o-mini")
    from litellm.litellm_core_utils.get_model_cost_map import get_model_cost_map_source_info
    print(json.dumps({"tried": tried, "price": price, "source": get_model_cost_map_source_info(),
                      "env": os.environ.get("LITELLM_LOCAL_MODEL_COST_MAP")}))
""")


def test_importing_the_main_job_then_pricing_never_fetches_litellms_price_map() -> None:
    env = {key: value for key, value in os.environ.items() if key != "LITELLM_LOCAL_MODEL_COST_MAP"}
    done = subprocess.run([sys.executable, "-c", NO_FETCH], env={**env, "PYTHONPATH": str(ROOT)}, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["tried"] == [], "litellm tried the network for its price map"
    assert seen["source"]["source"] == "local" and seen["source"]["url"] is None, "a fetch was tried"
    assert tuple(seen["price"]) == GPT_4O_MINI and seen["env"] == "True"
    assert "model cost map" not in done.stderr
