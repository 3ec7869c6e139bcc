"""The one tool registry: specs name tools from here, and agents receive their functions.

A `Tool` names plain typed functions with docstrings, so its `functions` can be handed straight
to `dspy.ReAct(signature, tools=tool.functions)`; `functions_for(sandbox)` gives those of a tool that
runs code bound to the spec's sandbox. Functions are named as `module:attribute` and imported on
first use: validating a spec loads neither Biopython nor pint. Every function an agent receives
returns within `limits.TOOL_TIMEOUT_S` (or raises TimeoutError saying so), whatever its arguments.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nanoflux.base.errors import NanofluxError
from nanoflux.verify.limits import TOOL_TIMEOUT_S

if TYPE_CHECKING:
    from nanoflux.verify.sandbox import Sandbox


def _load(path: str) -> Any:
    module, attribute = path.split(":")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class Tool:
    """A named group of functions an agent may call; `description` tells the agent when to use them.

    `function_paths` name the functions (`module:attribute`); `bind_path` names, for a tool that runs
    code, a function of a `Sandbox` that returns them bound to it.
    """

    name: str
    description: str
    function_paths: tuple[str, ...] = ()
    bind_path: str | None = None

    @property
    def functions(self) -> list[Callable]:
        return [time_limited(_load(path)) for path in self.function_paths]

    def functions_for(self, box: Sandbox) -> list[Callable]:
        """The functions, those that run code running it in `box`."""
        return [time_limited(f) for f in _load(self.bind_path)(box)] if self.bind_path else self.functions


def time_limited(function: Callable, timeout_s: float = TOOL_TIMEOUT_S) -> Callable:
    """`function` (same name, signature and docstring, which the agent reads) returning within `timeout_s`.

    The call runs in a daemon thread: past the limit the agent gets a TimeoutError as the tool's error and
    goes on, while the thread finishes on its own (the tools cap their inputs, so it does).
    """

    @functools.wraps(function)
    def limited(*args: Any, **kwargs: Any) -> Any:
        done: Future = Future()

        def run() -> None:
            try:
                done.set_result(function(*args, **kwargs))
            except BaseException as exc:  # noqa: BLE001 - the caller raises it
                done.set_exception(exc)

        threading.Thread(target=run, name=f"tool-{function.__name__}", daemon=True).start()
        try:
            return done.result(timeout=timeout_s)
        except FutureTimeout:
            raise TimeoutError(f"{function.__name__} did not finish within {timeout_s:g} s; ask for something "
                               "smaller") from None

    return limited


def _paths(module: str, *names: str) -> tuple[str, ...]:
    return tuple(f"{module}:{name}" for name in names)


TOOLS: dict[str, Tool] = {
    tool.name: tool
    for tool in (
        Tool("sympy", "Exact algebra: solve equations, simplify expressions, check two expressions are equal.",
             _paths("nanoflux.tools.sympy", "solve_equation", "simplify_expression", "expressions_equal")),
        Tool("python", "Run Python in a sandbox (no network, no files, 5 s) with sympy, math, statistics and Bio.",
             _paths("nanoflux.verify.sandbox", "execute_python"), bind_path="nanoflux.tools.registry:_python_tools"),
        Tool("genomics", "DNA/protein and Mendelian genetics: reverse complement, translation, GC content, ORFs, "
                         "Hardy-Weinberg and Punnett-square ratios.",
             _paths("nanoflux.verify.genomics", "reverse_complement", "translate", "gc_content", "find_orfs",
                    "hardy_weinberg", "punnett_ratios")),
        Tool("units", "Unit conversion and dose arithmetic: mg/kg doses, infusion rates, volumes to draw up.",
             _paths("nanoflux.verify.units", "convert_units", "weight_based_dose", "infusion_rate", "volume_for_dose")),
    )
}


def _python_tools(box: Sandbox) -> list[Callable]:
    from nanoflux.verify.sandbox import python_tool

    return [python_tool(box)]


def tool_names() -> list[str]:
    """Names a spec may list under `tools:`, sorted."""
    return sorted(TOOLS)


def get_tool(name: str) -> Tool:
    """The tool called `name`; a NanofluxError naming the known tools (and the closest one) otherwise."""
    if name in TOOLS:
        return TOOLS[name]
    close = difflib.get_close_matches(name, TOOLS, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise NanofluxError(f"unknown tool {name!r}; known tools: {', '.join(tool_names())}.{hint}")
