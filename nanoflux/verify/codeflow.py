"""Where the number a solution's python prints comes from: a data-flow analysis of its syntax tree.

`print(len('abcde'))` prints 5 and writes no 5: the reference check must not take it for a value the
code computed. `trace` follows every value from the literals it is made of to what the code prints,
through assignments, arithmetic, loops, comprehensions, the functions the code defines and those of
math, fractions, statistics, itertools and sympy. A value counts as computed from numbers only when
every source is a number literal; it is "opaque" (and the reason named) when part of it comes from
text (a string's length, a character code, `int('5')`), from True/False used as a number (a count of
booleans, `sum` of True), or from how many items a literal lists (`len([2, 2, 2])`, a count kept in a
loop over a literal), or from digits written side by side as text (`f'{a}{b}'`, `print(a, b, sep='')`, a
number shown in another base: `f'{a:o}'`). Code the analysis cannot follow (other modules, `eval`,
classes, output written other than by `print`) is `unsure`, and so is code that takes longer to follow
than its time limit. Both make the reference undecidable; nothing here runs the code.
"""

from __future__ import annotations

import ast
import builtins
import re
import string
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from .limits import MAX_CODE_NODES

_EMPTY: frozenset = frozenset()
# Modules whose functions compute their result from their arguments' values and print nothing.
MODULES = {"math", "cmath", "fractions", "decimal", "statistics", "itertools", "functools", "operator", "sympy"}
_SYMBOLS = {"symbols", "Symbol", "var", "Function"}  # sympy functions whose text argument is a name, no number
_VALUE_BUILTINS = {"abs", "round", "min", "max", "pow", "divmod", "float", "int", "complex", "sum", "list", "tuple",
                   "set", "frozenset", "sorted", "reversed", "iter", "next", "dict", "zip", "range", "enumerate",
                   "map", "filter", "len", "bool", "any", "all", "str", "repr", "format", "chr", "ord", "print",
                   "isinstance", "hash"}
_MUTATORS = {"append", "extend", "insert", "add", "update", "setdefault", "appendleft"}
_POSITIONS = {"count", "index", "find", "rfind", "rindex"}  # methods whose result counts items or places
_TEXT_METHODS = {"join", "format", "upper", "lower", "strip", "lstrip", "rstrip", "replace", "title", "capitalize",
                 "zfill", "center", "ljust", "rjust"}
_MAX_CALL_DEPTH = 8
_MAX_LOOP_PASSES = 8
_MAX_STEPS = 200_000  # expressions followed in all (loops are followed again until their flows settle)
_TIMEOUT_S = 5.0  # the analysis's own time limit: each step unions sets of sources, so steps alone bound no time
_TRUTH_METHODS = {"startswith", "endswith", "has", "equals", "compare", "could_extract_minus_sign"}
# Functions of the modules that answer True/False (besides those named is...: math.isfinite, sympy.isprime).
# (sympy's Eq, Lt are relations the code solves, no True/False.)
_TRUTH_FUNCTIONS = {"lt", "le", "eq", "ne", "ge", "gt", "not_", "truth", "contains", "is_", "is_not", "ask"}
_TEXT_FUNCTIONS = {"srepr", "latex", "pretty", "sstr", "sstrrepr", "pformat", "mathml", "python", "ccode", "fcode",
                   "pycode", "octave_code", "jscode", "rcode", "julia_code", "mathematica_code", "maple_code",
                   "rust_code", "glsl_code", "cxxcode", "dotprint"}
# sympy's functions that write to stdout themselves
_PRINTERS = re.compile(r"print|pprint|pretty_print|preview|init_printing|init_session|test|doctest|interactive")
_BUILTINS = frozenset(dir(builtins)) - _VALUE_BUILTINS
_BYTES = "bytes (character codes)"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # the line breaks of python's tokenizer (not str.splitlines's)
_SPLICED = "digits of separate values written side by side as text (or a number written in another base)"
# A value marker in a printed text with what may stand next to it: another value with only spaces,
# separators or digits between ("22", "2 200", "2.5", "2e5"), or digits the code writes itself ("2{x}").
_VALUE = "\x00"
_SPLICE = re.compile(r"\x00(?:[\s\d.,_']|[eE][-+]?)*\x00|[\d.][\s.,_']*\x00|\x00(?:[\s.,_']*|[eE][-+]?)\d")
# A format spec that writes digits other than the value's own: another base, a digit fill, zero padding.
_SPLICING_SPEC = re.compile(r"[bcoxXn]$|^(?:.?[<>=^])?[-+ ]?z?#?0\d|^\d[<>=^]|#")
_PERCENT_FIELD = re.compile(r"%(?:\([^)]*\))?([-#0 +]*)(?:\d+|\*)?(?:\.(?:\d+|\*))?[hlL]?([diouxXeEfFgGcrsa%])")


@dataclass(frozen=True)
class Flow:
    """What a value is computed from: `numbers` (literals as written), `opaque` (why part of it is no
    computation from numbers), whether it (or an item of it) may be True/False (`truth`) or text (`text`),
    what its item count comes from (`size`: numbers and opaque reasons), and the loops whose current item
    it holds (`loops`: a loop's count matters to a value only when it does not add the loop's items)."""

    numbers: frozenset[str] = _EMPTY
    opaque: frozenset[str] = _EMPTY
    truth: bool = False
    text: bool = False
    size: tuple[frozenset[str], frozenset[str]] = (_EMPTY, _EMPTY)
    loops: frozenset[int] = _EMPTY
    digits: bool = False  # text the code writes with digits in it ("2")
    spliced: bool = False  # text whose digits may come from several values side by side (f"{a}{b}")

    def __or__(self, other: Flow) -> Flow:
        return Flow(self.numbers | other.numbers, self.opaque | other.opaque, self.truth or other.truth,
                    self.text or other.text, (self.size[0] | other.size[0], self.size[1] | other.size[1]),
                    self.loops | other.loops, self.digits or other.digits, self.spliced or other.spliced)

    def shows_digits(self) -> bool:
        """Whether it prints digits: a number, or text made from one or written with digits."""
        return not self.text or bool(self.numbers or self.opaque or self.digits or self.spliced)

    def data(self) -> Flow:
        """Only the sources: how a condition or an index shapes a value."""
        return Flow(self.numbers, self.opaque, loops=self.loops)

    def number(self) -> Flow:
        """The value used as a number: text or True/False in it become opaque."""
        opaque = self.opaque | ({"text (a string read as a number)"} if self.text else _EMPTY) | (
            {"True/False used as a number (a count of booleans)"} if self.truth else _EMPTY)
        return Flow(self.numbers, opaque, loops=self.loops)

    def count(self) -> Flow:
        """How many items it has, as a number (`len`): from its size, or opaque for a text's length or a
        value whose size the analysis did not follow (`len(kwargs)`, `len(divmod(a, b))`)."""
        unknown = not self.text and self.size == (_EMPTY, _EMPTY)
        opaque = self.size[1] | ({"the length of a text"} if self.text else _EMPTY) | (
            {"how many items a value holds, which the check does not follow"} if unknown else _EMPTY)
        return Flow(self.size[0], opaque)

    def sized(self, by: Flow) -> Flow:
        return replace(self, size=(self.size[0] | by.numbers, self.size[1] | by.opaque))


def _union(flows: Iterable[Flow]) -> Flow:
    out = Flow()
    for flow in flows:
        out = out | flow
    return out


@dataclass
class Trace:
    """What `trace` found: the flow of the last output (the last `print` in the code, or its final
    expression), of all outputs together, the number literals and the numbers written inside strings,
    and `unsure`: why the analysis could not follow the code (then the flows mean nothing)."""

    printed: Flow = field(default_factory=Flow)
    outputs: Flow = field(default_factory=Flow)
    literals: list[str] = field(default_factory=list)
    strings: list[str] = field(default_factory=list)
    unsure: str | None = None


class _Unsure(Exception):
    """The code does something this analysis does not follow; the message says what."""


def trace(code: str, timeout_s: float = _TIMEOUT_S) -> Trace:
    """Follow what `code` prints back to its sources (see the module docstring) within `timeout_s`;
    never raises."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return Trace(unsure=f"does not parse ({type(exc).__name__})")
    if sum(1 for _ in ast.walk(tree)) > MAX_CODE_NODES:
        return Trace(unsure=f"is longer than the check follows (more than {MAX_CODE_NODES} syntax nodes)")
    found, lines = Trace(), _LINE_BREAK.split(code)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, complex)) and \
                not isinstance(node.value, bool):
            found.literals.append(_written(lines, node))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.strings.append(node.value)
    try:
        analysis = _Analysis(lines, time.monotonic() + timeout_s)
        analysis.block(tree.body)
        shown = {where: flow for where, flow in analysis.prints.items() if flow.numbers or flow.opaque}
        if shown:  # the last print that prints a value (a label alone prints none)
            found.printed = shown[max(shown)]
        elif not analysis.prints and tree.body and isinstance(tree.body[-1], ast.Expr):
            found.printed = analysis.expr(tree.body[-1].value).number()  # the value a REPL shows
        # What the code put into containers may reach the output through another name for them.
        found.outputs = _union(analysis.prints.values()) | found.printed | analysis.heap
    except _Unsure as exc:
        found.unsure = str(exc)
    except RecursionError:
        found.unsure = "nests deeper than the check follows"
    return found


class _Analysis:
    """One pass over the statements (loops repeated until their flows settle), scopes as dicts of flows."""

    def __init__(self, lines: list[str], deadline: float) -> None:
        self.scopes: list[dict[str, Flow]] = [{}]
        self.functions: dict[str, ast.FunctionDef | ast.Lambda] = {}
        self.modules: dict[str, str] = {}  # name -> module ("math", or "math.sqrt" for `from math import sqrt`)
        self.star = False  # `from sympy import *`: a name the code does not define may be the module's
        self.prints: dict[tuple[int, int], Flow] = {}  # by where the print call is
        self.heap = Flow()  # every value put into a container (`append`, `x[i] = ...`), which aliases share
        self.control: list[Flow] = []  # the conditions the current statement runs under
        self.loops: list[tuple[int, Flow]] = []  # enclosing for-loops: (id, where their count comes from)
        self.branching = 0  # inside a branch or loop, an assignment may not happen: flows are joined
        self.returns: list[Flow] = []
        self.depth = 0
        self.steps = 0
        self.lines = lines
        self.deadline = deadline

    # statements

    def block(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            self.stmt(stmt)

    def stmt(self, node: ast.stmt) -> None:
        self.tick()
        if isinstance(node, ast.Expr):
            self.expr(node.value)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda) and \
                    [type(t) for t in node.targets] == [ast.Name]:
                self.functions[node.targets[0].id] = node.value  # "f = lambda x: 2 * x": a function
                self.scopes[-1].pop(node.targets[0].id, None)
            elif node.value is not None:
                value = self.expr(node.value)
                for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    self.assign(target, value)
        elif isinstance(node, ast.AugAssign):
            self.assign(node.target, self.expr(node.target) | self.expr(node.value), joined=True)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            self.imports(node)
        elif isinstance(node, ast.FunctionDef):
            if node.decorator_list:
                raise _Unsure("decorates a function")
            self.functions[node.name] = node
            self.scopes[-1].pop(node.name, None)
        elif isinstance(node, ast.If):
            self.branch(node.test, [node.body, node.orelse])
        elif isinstance(node, ast.While):
            self.loop(None, node.test, node.body, node.orelse)
        elif isinstance(node, ast.For):
            self.loop(node.target, node.iter, node.body, node.orelse)
        elif isinstance(node, ast.Try):
            self.branching += 1
            for handler in node.handlers:  # "except ZeroDivisionError as e": len(e.args) counts no number
                if handler.name:
                    self.assign(ast.Name(handler.name), Flow(opaque=frozenset({"an exception's details"})))
            for body in (node.body, *(h.body for h in node.handlers), node.orelse, node.finalbody):
                self.block(body)
            self.branching -= 1
        elif isinstance(node, ast.With):
            for item in node.items:
                value = self.expr(item.context_expr)
                if item.optional_vars is not None:
                    self.assign(item.optional_vars, value)
            self.block(node.body)
        elif isinstance(node, ast.Return):
            self.returns.append((self.expr(node.value) if node.value else Flow()) | self.conditions())
        elif isinstance(node, (ast.Assert, ast.Raise)):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self.expr(child)
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                self.expr(target)
        elif not isinstance(node, (ast.Pass, ast.Break, ast.Continue)):
            raise _Unsure(f"uses {type(node).__name__.lower()} statements")

    def imports(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            module = node.module if isinstance(node, ast.ImportFrom) else alias.name
            if (module or "").split(".")[0] not in MODULES or getattr(node, "level", 0):
                raise _Unsure(f"imports {module or 'a relative module'}")
            if alias.name == "*" and isinstance(node, ast.ImportFrom):
                self.star = True
            else:
                name = alias.asname or alias.name.split(".")[0]
                self.modules[name] = f"{module}.{alias.name}" if isinstance(node, ast.ImportFrom) else module

    def branch(self, test: ast.expr, bodies: list[list[ast.stmt]]) -> None:
        self.control.append(_condition(self.expr(test)))
        self.branching += 1
        for body in bodies:
            self.block(body)
        self.branching -= 1
        self.control.pop()

    def loop(self, target: ast.expr | None, iterable: ast.expr, body: list[ast.stmt],
             orelse: list[ast.stmt]) -> None:
        """Repeat the body until no flow changes; a for-loop's items carry a mark of the loop, and what its
        count comes from reaches every value the body changes without adding an item."""
        mark = id(iterable)
        self.branching += 1
        for _ in range(_MAX_LOOP_PASSES):
            before = [dict(scope) for scope in self.scopes], dict(self.prints), self.heap
            source = self.expr(iterable)
            if target is None:
                self.control.append(_condition(source))
            else:
                self.control.append(Flow())
                self.loops.append((mark, Flow(*source.size)))
                self.assign(target, replace(source, size=(_EMPTY, _EMPTY), loops=source.loops | {mark}))
            self.block(body)
            self.control.pop()
            if target is not None:
                self.loops.pop()
            if before == ([dict(scope) for scope in self.scopes], self.prints, self.heap):
                break
        else:
            raise _Unsure("has loops whose values do not settle")
        self.block(orelse)
        self.branching -= 1

    def conditions(self) -> Flow:
        return _union(self.control)

    def assign(self, target: ast.expr, value: Flow, *, joined: bool = False) -> None:
        value = value | self.conditions()
        for mark, count in self.loops:
            if mark not in value.loops:  # "count += 1" in a loop: the value is the loop's count
                value = value | count
        if isinstance(target, ast.Name):
            scope = self.scopes[-1]
            if target.id in self.functions or target.id in self.modules or target.id == "print":
                raise _Unsure(f"rebinds the name {target.id}")
            old = self.lookup(target.id, missing=None)
            scope[target.id] = value | old if (joined or self.branching) and old is not None else value
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self.assign(element.value if isinstance(element, ast.Starred) else element, value, joined=joined)
        elif isinstance(target, (ast.Subscript, ast.Attribute)):
            index = self.expr(target.slice).data() if isinstance(target, ast.Subscript) else Flow()
            self.update(target.value, value | index)
        else:
            raise _Unsure(f"assigns to a {type(target).__name__.lower()}")

    def update(self, base: ast.expr, value: Flow) -> None:
        """`base[i] = value`, `base.append(value)`: the container holds the value too."""
        while isinstance(base, (ast.Subscript, ast.Attribute)):
            base = base.value
        if not isinstance(base, ast.Name):
            raise _Unsure("changes a value it cannot name")
        scope = next((scope for scope in reversed(self.scopes) if base.id in scope), None)
        if scope is None:
            raise _Unsure(f"changes {base.id}, which it does not define")
        count = _union(self.control) | _union(c for _, c in self.loops)  # each pass may add an item
        scope[base.id] = scope[base.id] | replace(value, size=scope[base.id].size).sized(count)
        self.heap = self.heap | value.data()

    def lookup(self, name: str, missing: str | None = "") -> Flow | None:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        if missing is None:
            return None
        raise _Unsure(f"uses the name {name}, which it does not define")

    # expressions

    def tick(self) -> None:
        self.steps += 1
        if self.steps > _MAX_STEPS:
            raise _Unsure("takes more steps to follow than the check allows")
        if self.steps % 64 == 0 and time.monotonic() > self.deadline:
            raise _Unsure("takes longer to follow than the check allows")

    def expr(self, node: ast.expr) -> Flow:
        self.tick()
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool):
                return Flow(truth=True)
            if isinstance(node.value, (int, float, complex)):
                return Flow(frozenset({_written(self.lines, node)}))
            if isinstance(node.value, bytes):  # b"\x05"[0] is 5
                return Flow(frozenset(), frozenset({_BYTES}), text=True, size=(_EMPTY, frozenset({_BYTES})))
            if isinstance(node.value, str):
                return Flow(text=True, size=(_EMPTY, frozenset({"the length of a text"})),
                            digits=any(c.isdigit() for c in node.value))
            return Flow()
        if isinstance(node, ast.Name):
            if node.id in self.functions:  # passed as a value (to map, reduce): what its body adds
                return self.user(self.functions[node.id], [], {})
            if any(node.id in scope for scope in self.scopes) or not (
                    node.id in self.modules or node.id in _VALUE_BUILTINS - {"print"} or self.starred(node.id)):
                return self.lookup(node.id) if node.id != "__name__" else Flow(text=True)
            return Flow()  # a module, a builtin passed as a value ("key=len"), a name `import *` gave
        if isinstance(node, ast.BinOp):
            left, right = self.expr(node.left), self.expr(node.right)
            if isinstance(node.op, ast.Mod) and left.text:  # "%d" % x: formatting
                return replace(left | right.data(), text=True, spliced=_percent_splices(node.left, right))
            sized = (left.size != (_EMPTY, _EMPTY)) or (right.size != (_EMPTY, _EMPTY))
            if left.text and right.text or sized or (left.text or right.text) and isinstance(node.op, ast.Mult):
                both = left | right  # text or list arithmetic ("ab" * 3, [0] * 5): the count comes from both sides
                if isinstance(node.op, ast.Mult):  # str(2) * 2 is "22"
                    digits = any(f.text and f.shows_digits() for f in (left, right))
                    return replace(both.sized(left.data() | right.data()), spliced=both.spliced or digits)
                if left.text and right.text and isinstance(node.op, ast.Add):  # str(2) + str(2) is "22"
                    return replace(both, spliced=both.spliced or left.shows_digits() and right.shows_digits())
                return both
            return left.number() | right.number()  # text with a number is no text at run time: b"\x01"[0] + 2
        if isinstance(node, ast.UnaryOp):
            inner = self.expr(node.operand)
            return Flow(truth=True) | inner.data() if isinstance(node.op, ast.Not) else inner.number()
        if isinstance(node, ast.BoolOp):
            return _union(self.expr(value) for value in node.values)
        if isinstance(node, ast.Compare):
            return replace(_union(self.expr(n).data() for n in (node.left, *node.comparators)), truth=True)
        if isinstance(node, ast.IfExp):
            return self.expr(node.test).data() | self.expr(node.body) | self.expr(node.orelse)
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            items = _union(self.expr(e.value if isinstance(e, ast.Starred) else e) for e in node.elts)
            return replace(items, size=(_EMPTY, frozenset({"how many items a literal lists"})))
        if isinstance(node, ast.Dict):
            keys = _union(self.expr(k).data() for k in node.keys if k is not None)
            values = _union(self.expr(v) for v in node.values)
            return replace(keys | values, size=(_EMPTY, frozenset({"how many items a literal lists"})))
        if isinstance(node, ast.Subscript):
            base, index = self.expr(node.value), self.expr(node.slice)
            flow = replace(base, size=(_EMPTY, _EMPTY)) | index.data()
            return flow.sized(Flow(*base.size) | index.data()) if isinstance(node.slice, ast.Slice) else flow
        if isinstance(node, ast.Slice):
            return _union(self.expr(part).number() for part in (node.lower, node.upper, node.step) if part)
        if isinstance(node, ast.Attribute):
            if node.attr.startswith("__"):
                raise _Unsure(f"reads the attribute {node.attr}")
            if isinstance(node.value, ast.Name) and node.value.id in self.modules:
                if _PRINTERS.match(node.attr):
                    raise _Unsure(f"prints with {node.attr}")
                return Flow()  # math.pi, sympy.oo: a constant of the module
            base = self.expr(node.value)
            if node.attr.startswith("is_"):  # sympy's x.is_even: True/False
                return replace(base.data(), truth=True)
            return replace(base, text=True) if node.attr == "name" else base  # Symbol("abc").name
        if isinstance(node, ast.JoinedStr):
            values = [self.expr(v.value) for v in node.values if isinstance(v, ast.FormattedValue)]
            return replace(_union(v.data() for v in values), text=True, digits=_joined_digits(node),
                           spliced=any(v.spliced for v in values) or _joined_splices(node, values))
        if isinstance(node, ast.FormattedValue):
            return self.expr(node.value)
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            return self.comprehension(node)
        if isinstance(node, ast.NamedExpr):
            value = self.expr(node.value)
            self.assign(node.target, value)
            return value
        if isinstance(node, ast.Starred):
            return self.expr(node.value)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Lambda):
            return self.user(node, [], {})
        raise _Unsure(f"uses {type(node).__name__.lower()} expressions")

    def comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp) -> Flow:
        self.scopes.append({})
        count, marks = Flow(), set()
        try:
            for generator in node.generators:
                source = self.expr(generator.iter)
                marks.add(id(generator))
                self.scopes[-1].update(_names(generator.target, replace(source, size=(_EMPTY, _EMPTY),
                                                                        loops=source.loops | {id(generator)})))
                count = count | Flow(*source.size)
                for condition in generator.ifs:
                    count = count | self.expr(condition).data()
            is_dict = isinstance(node, ast.DictComp)
            items = self.expr(node.key) | self.expr(node.value) if is_dict else self.expr(node.elt)
        finally:
            self.scopes.pop()
        if not marks & items.loops:  # "sum(1 for c in text)": each item is the count's, not the items'
            items = items | count
        return replace(items, loops=items.loops - marks).sized(count.data())

    def call(self, node: ast.Call) -> Flow:
        args = [self.expr(a) for a in node.args]
        keywords = {k.arg: self.expr(k.value) for k in node.keywords}
        func = node.func
        if isinstance(func, ast.Attribute):
            root = func.value
            if isinstance(root, ast.Name) and root.id in self.modules:
                return self.module_call(f"{self.modules[root.id]}.{func.attr}", args, keywords)
            if func.attr.startswith("__"):
                raise _Unsure(f"calls {func.attr}")
            return self.method(func, self.expr(root), args, keywords)
        if isinstance(func, ast.Lambda):
            return self.user(func, args, keywords)
        if not isinstance(func, ast.Name):
            return self.expr(func) | _union(args) | _union(keywords.values())
        name = func.id
        if name in self.functions:
            return self.user(self.functions[name], args, keywords)
        if name in self.modules:
            return self.module_call(self.modules[name], args, keywords)
        if any(name in scope for scope in self.scopes):
            raise _Unsure(f"calls {name}, a value it computed")
        if name in _VALUE_BUILTINS:
            return self.builtin(node, name, args, keywords)
        if self.starred(name):
            return self.module_call(name, args, keywords)
        raise _Unsure(f"calls {name}")

    def starred(self, name: str) -> bool:
        """Whether `name` may be one the code's `from sympy import *` gave it: no builtin (`dir`,
        `globals`, `getattr`, `open`), no dunder, no name the code binds (an exception's is opaque)."""
        return self.star and not name.startswith("__") and name not in _BUILTINS

    def builtin(self, node: ast.Call, name: str, args: list[Flow], keywords: dict[str, Flow]) -> Flow:
        every = _union(args) | _union(keywords.values())
        if name == "print":
            if "file" in keywords:
                raise _Unsure("prints to a file")
            shown = _union(flow.data() if flow.text else flow.number() for flow in args)  # f-strings: their values
            if _print_splices(node, args):
                shown = shown | Flow(opaque=frozenset({_SPLICED}))
            where = (node.lineno, node.col_offset)
            self.prints[where] = self.prints.get(where, Flow()) | shown | self.conditions()
            return Flow()
        if name == "len":
            return every.count()
        if name == "ord":
            return Flow(opaque=frozenset({"a character code (ord)"}))
        if name == "hash":
            return Flow(opaque=frozenset({"a hash"}))
        if name == "format":  # format(x, "o"): a number written in another base
            spec = node.args[1] if len(node.args) > 1 else None
            splices = spec is not None and not (isinstance(spec, ast.Constant) and isinstance(spec.value, str)
                                                and not _SPLICING_SPEC.search(spec.value))
            return replace(every.data(), text=True, spliced=every.spliced or splices)
        if name in ("str", "repr", "chr"):
            return replace(every.data(), text=True)
        if name in ("bool", "any", "all", "isinstance"):
            return replace(every.data(), truth=True)
        if name in ("int", "float", "complex", "abs", "round", "pow", "divmod", "sum", "min", "max"):
            return _union(a.number() for a in args) | _union(k.number() for k in keywords.values())
        if name == "range":
            numbers = _union(a.number() for a in args)
            return numbers.sized(numbers)
        if name == "enumerate":  # the index is a position: where the count comes from
            return every | Flow(*every.size).data()
        if name == "divmod":  # a pair, whatever its values
            return every.number().sized(Flow(opaque=frozenset({"how many items a literal lists"})))
        if name in ("map", "filter"):
            function = node.args[0] if node.args else None
            mark, source = id(node), _union(args[1:])
            items = replace(source, size=(_EMPTY, _EMPTY), loops=source.loops | {mark})
            mapped = self.reference_call(function, items) if function is not None else items
            if mark not in mapped.loops:  # map(lambda c: 1, "abc"): each item is the count's
                mapped = mapped | Flow(*source.size)
            items, mapped = (replace(f, loops=f.loops - {mark}) for f in (items, mapped))
            result = (mapped if name == "map" else items | mapped.data()).sized(Flow(*_union(args[1:]).size))
            return result.sized(mapped.data()) if name == "filter" else result
        if name == "set":
            return every.sized(every.data())  # duplicates removed: the count depends on the values
        if name == "dict" and keywords:  # dict(a=1, b=2): as many items as it names
            return every.sized(Flow(opaque=frozenset({"how many items a literal lists"})))
        return every  # list, tuple, sorted, reversed, zip, dict, iter, next, frozenset

    def reference_call(self, function: ast.expr, item: Flow) -> Flow:
        """What calling `function` (a name or lambda passed to map or filter) on an item gives."""
        if isinstance(function, ast.Lambda):
            return self.user(function, [item], {})
        if isinstance(function, ast.Name) and function.id in self.functions:
            return self.user(self.functions[function.id], [item], {})
        if isinstance(function, ast.Name) and function.id in _VALUE_BUILTINS - {"print"}:
            return self.builtin(ast.Call(func=function, args=[], keywords=[]), function.id, [item], {})
        if isinstance(function, (ast.Name, ast.Attribute)):
            self.expr(function)
            return item
        raise _Unsure("maps a function it cannot follow")

    def module_call(self, path: str, args: list[Flow], keywords: dict[str, Flow]) -> Flow:
        name = path.rsplit(".", 1)[-1]
        if _PRINTERS.match(name):
            raise _Unsure(f"prints with {name}")
        if name in _SYMBOLS:  # sympy.symbols("x"): a name, no number; how many: as many as the text names
            return Flow(size=(_EMPTY, frozenset({"how many names a text lists"})))
        every = _union(args) | _union(keywords.values())
        if path.startswith("itertools.") or name in ("permutations", "combinations", "product"):
            return every.sized(every.data() | Flow(*every.size))  # how many tuples: from the values and sizes
        if name in ("countOf", "indexOf", "length_hint"):  # operator's: a count or a place
            return (args[0].count() if args else Flow()) | every.data()
        if name in _TRUTH_FUNCTIONS or name.startswith("is") and name != "isqrt":
            return replace(every.data(), truth=True)  # operator.lt, math.isfinite, sympy.isprime
        if name in _TEXT_FUNCTIONS:
            return replace(every.data(), text=True)  # sympy.srepr(x): text
        # Fraction("3/4"), sympify("5"): a number read from text is opaque; how many solutions: from the values
        return every.number().sized(every.data())

    def method(self, func: ast.Attribute, base: Flow, args: list[Flow], keywords: dict[str, Flow]) -> Flow:
        every = _union(args) | _union(keywords.values())
        name = func.attr
        if name in ("write", "writelines"):
            raise _Unsure(f"writes output with {name}")
        if name == "encode":
            return Flow(opaque=frozenset({_BYTES}), text=True, size=(_EMPTY, frozenset({_BYTES})))
        if name in _TRUTH_METHODS or name.startswith("is"):  # "a".isdigit(), (2.0).is_integer()
            return replace(base.data() | every.data(), truth=True)
        if name in ("bit_length", "bit_count"):
            return Flow(opaque=frozenset({"a count of binary digits"}))
        if name in _MUTATORS:
            items = every if name != "extend" else every.sized(Flow(*every.size))
            self.update(func.value, items)
            return Flow()
        if name in _POSITIONS:
            if base.text:
                return Flow(opaque=frozenset({f"a position or count in a text ({name})"}))
            return base.count() | base.data() | every.data()
        if name == "split" or name in _TEXT_METHODS:
            splices = base.spliced or every.spliced or _method_splices(func, base, args)
            flow = replace(base.data() | every.data(), text=True, digits=base.digits or every.digits, spliced=splices)
            return flow.sized(Flow(opaque=frozenset({"the items of a split text"}))) if name == "split" else flow
        return base | every

    def user(self, function: ast.FunctionDef | ast.Lambda, args: list[Flow], keywords: dict[str, Flow]) -> Flow:
        """A call of a function the code defines: its body followed with the parameters bound to the arguments."""
        if self.depth >= _MAX_CALL_DEPTH:
            raise _Unsure("calls its functions deeper than the check follows (recursion)")
        params = function.args
        names = [a.arg for a in (*params.posonlyargs, *params.args, *params.kwonlyargs)]
        scope = {name: Flow() for name in names}
        for name, flow in zip(names, args, strict=False):
            scope[name] = flow
        extra = _union(args[len(names):]) | _union(self.expr(d) for d in (*params.defaults, *params.kw_defaults) if d)
        for name, flow in keywords.items():
            if name in scope:
                scope[name] = flow
            else:
                extra = extra | flow
        for packed in (params.vararg, params.kwarg):  # *args, **kwargs: as many as the call lists
            if packed:
                scope[packed.arg] = extra.sized(Flow(opaque=frozenset({"how many arguments a call lists"})))
        saved = self.returns, self.control, self.loops, self.branching
        self.scopes.append({k: v | extra for k, v in scope.items()})
        self.returns, self.control, self.loops, self.branching = [], [], [], 0
        self.depth += 1
        try:
            if isinstance(function, ast.Lambda):
                result = self.expr(function.body)
            else:
                self.block(function.body)
                result = _union(self.returns)
        finally:
            self.depth -= 1
            self.scopes.pop()
            self.returns, self.control, self.loops, self.branching = saved
        return result | extra


def _written(lines: list[str], node: ast.Constant) -> str:
    """A number literal as the code writes it ("1_000" as "1000"), read from the code's lines split once
    (`ast.get_source_segment` splits the whole code again on every call: quadratic in its length)."""
    line = lines[node.lineno - 1].encode() if node.lineno == node.end_lineno else b""
    text = line[node.col_offset:node.end_col_offset].decode(errors="replace") if line else repr(node.value)
    return text.replace("_", "")


def _splices(pieces: list[str]) -> bool:
    """Whether the text the pieces make (constant text, or `_VALUE` where a value's digits go) may put
    digits of two values side by side, or a value's next to digits the code writes."""
    return bool(_SPLICE.search("".join(pieces)))


def _field(spec: str | None) -> str:
    """The piece a replacement field makes: a value, or two (digits not the value's own) for a splicing spec."""
    return _VALUE * 2 if spec and _SPLICING_SPEC.search(spec) else _VALUE


def _joined_digits(node: ast.JoinedStr) -> bool:
    return any(isinstance(v, ast.Constant) and any(c.isdigit() for c in str(v.value)) for v in node.values)


def _joined_splices(node: ast.JoinedStr, values: list[Flow]) -> bool:
    """f"{a}{b}", f"{a}.{b}", f"2{a}", f"{a:o}": digits of values side by side, or not the value's own."""
    pieces, shown = [], iter(values)
    for part in node.values:
        if isinstance(part, ast.Constant):
            pieces.append(str(part.value))
            continue
        flow = next(shown)
        spec = part.format_spec
        if spec is not None and not all(isinstance(v, ast.Constant) for v in spec.values):
            return True  # a spec computed at run time
        text = "".join(str(v.value) for v in spec.values) if spec is not None else None
        pieces.append(_field(text) if flow.shows_digits() else "")
    return _splices(pieces)


def _percent_splices(template: ast.expr, values: Flow) -> bool:
    """"%d%d" % (a, b), "%o" % a: as `_joined_splices`; a template the code computes splices if it may."""
    if not (isinstance(template, ast.Constant) and isinstance(template.value, str)):
        return values.shows_digits()
    parts = _PERCENT_FIELD.split(template.value)  # text, flags, type, text, flags, type, ..., text
    pieces = parts[::3]
    for k, (flags, kind) in enumerate(zip(parts[1::3], parts[2::3], strict=True)):
        pieces.insert(2 * k + 1, "%" if kind == "%" else _VALUE * 2 if "0" in flags or kind in "oxXc" else _VALUE)
    return _splices(pieces)


def _method_splices(func: ast.Attribute, base: Flow, args: list[Flow]) -> bool:
    """"{}{}".format(a, b), "".join(digits), str(a).zfill(5): digits side by side."""
    template = func.value if isinstance(func.value, ast.Constant) and isinstance(func.value.value, str) else None
    if func.attr == "format":
        if template is None:
            return any(a.shows_digits() for a in args)
        try:
            fields = list(string.Formatter().parse(template.value))
        except ValueError:
            return True
        return _splices([p for text, name, spec, _ in fields for p in (text, _field(spec) if name is not None else "")])
    if func.attr == "join":
        shown = any(a.shows_digits() for a in args)
        return shown and (template is None or _splices([_VALUE, template.value, _VALUE]))
    if func.attr in ("zfill", "center", "ljust", "rjust"):
        return base.shows_digits() and (func.attr == "zfill" or len(args) > 1)
    return False


def _print_splices(node: ast.Call, args: list[Flow]) -> bool:
    """print(a, b, sep=""), print(a, end=""): the printed line may put digits of values side by side."""
    def constant(name: str, default: str) -> str | None:
        given = next((k.value for k in node.keywords if k.arg == name), None)
        if given is None or isinstance(given, ast.Constant) and given.value is None:
            return default
        return given.value if isinstance(given, ast.Constant) and isinstance(given.value, str) else None

    sep, end = constant("sep", " "), constant("end", "\n")
    shown = [a.shows_digits() for a in args]
    if any(shown) and (end is None or "\n" not in end):
        return True  # the next print goes on the same line
    pieces = []
    for arg, digits in zip(node.args, shown, strict=True):
        if pieces:
            pieces.append(sep if sep is not None else "")
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            pieces.append(arg.value)
        else:
            pieces.append((_VALUE * 2 if isinstance(arg, ast.Starred) else _VALUE) if digits else "")
    return any(flow.spliced for flow in args) or _splices(pieces)


def _condition(flow: Flow) -> Flow:
    """What a test decides by: its sources, and a container's size ("while items:")."""
    return flow.data() | Flow(*flow.size)


def _names(target: ast.expr, flow: Flow) -> dict[str, Flow]:
    """The names a comprehension's target binds, each to the item's flow."""
    if isinstance(target, ast.Name):
        return {target.id: flow}
    if isinstance(target, (ast.Tuple, ast.List)):
        return {k: v for element in target.elts for k, v in _names(element, flow).items()}
    raise _Unsure("binds a comprehension's items to something other than names")
