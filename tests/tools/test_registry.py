"""The tool registry: one place the spec names tools from, with functions an agent can call."""

import inspect
import subprocess
import sys

import pytest

from nanoflux.base.errors import NanofluxError
from nanoflux.tools import TOOLS, Tool, get_tool, tool_names
from tests.verify.attacks import requires_isolation


def test_the_registry_lists_the_four_tools():
    assert tool_names() == ["genomics", "python", "sympy", "units"]
    assert all(isinstance(TOOLS[name], Tool) for name in tool_names())


@pytest.mark.parametrize("name", ["genomics", "python", "sympy", "units"])
def test_every_tool_function_is_typed_and_documented_for_an_agent(name):
    tool = get_tool(name)
    assert tool.name == name and tool.description and tool.functions
    for function in tool.functions:
        signature = inspect.signature(function)
        assert function.__doc__, function.__name__
        assert signature.return_annotation is not inspect.Signature.empty, function.__name__
        assert all(p.annotation is not inspect.Parameter.empty for p in signature.parameters.values())


def test_an_unknown_tool_names_the_known_ones_and_the_closest():
    with pytest.raises(NanofluxError) as error:
        get_tool("genomic")
    assert "genomics, python, sympy, units" in str(error.value)
    assert "Did you mean 'genomics'?" in str(error.value)


@requires_isolation
def test_the_python_tool_runs_code_in_the_sandbox():
    (execute,) = get_tool("python").functions
    assert execute("print(6 * 7)")["stdout"] == "42\n"
    assert execute("1 / 0")["error"] == "ZeroDivisionError: division by zero"


def test_validating_a_spec_loads_no_tool_library():
    """Tool names and descriptions come without their functions: neither Biopython nor pint is imported."""
    code = ("import sys; from nanoflux.spec.model import load_spec; load_spec('specs/genomics.yaml'); "
            "load_spec('specs/medical.yaml'); print(sorted(m for m in ('Bio', 'pint', 'sympy') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]"


def test_a_tool_loads_its_functions_on_use():
    code = ("import sys; from nanoflux.tools import get_tool; "
            "names = [f.__name__ for f in get_tool('genomics').functions]; "
            "print('Bio' in sys.modules, names[0])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.split() == ["True", "reverse_complement"]
