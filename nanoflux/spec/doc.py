"""The spec reference table, rendered from the spec models, so a default or a description is
written once (in `nanoflux.spec.model`) and the docs' spec page (docs/spec.md) cannot drift from it.

    python -m nanoflux.spec.doc docs/spec.md    # rewrite the page's table from the models
    python -m nanoflux.spec.doc                 # print the table
"""

from __future__ import annotations

import sys
import types
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt, MinLen
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from nanoflux.base.errors import NanofluxError
from nanoflux.base.io import write_atomic
from nanoflux.spec.model import Spec, describe, model_of

START, END = "<!-- spec-table -->", "<!-- /spec-table -->"
PAGE = "docs/spec.md"  # the spec reference page, relative to the repository
REGENERATE = f"python -m nanoflux.spec.doc {PAGE}"
_LIMITS = (Ge, Gt, Le, Lt, MinLen)


@dataclass(frozen=True)
class Row:
    """One field of the spec as the table shows it; `path` is as written in YAML (`curation.band`)."""

    path: str
    type: str
    default: str
    description: str


def rows(model: type[BaseModel] = Spec, prefix: str = "") -> list[Row]:
    """The rows of `model`'s fields, nested mappings flattened into dotted paths and the items of a
    list of mappings as `path[].field`. Sibling mappings of one kind (the three roles) share rows."""
    groups = _kinds(model)
    table: list[Row] = []
    for name, field in model.model_fields.items():
        path, inner = prefix + name, model_of(field.annotation)
        if group := next((g for g in groups if name in g[1]), None):
            if name == group[1][0]:
                table += _shared_rows(model, *group, prefix)
        elif inner is field.annotation and inner is not None:
            table += rows(inner, path + ".")
        else:
            table.append(Row(path, _type(field), _default(field), describe(field)))
            if inner is not None:
                table += rows(inner, path + "[].")
    return table


def render_table(model: type[BaseModel] = Spec) -> str:
    """The Markdown table of `rows(model)`."""
    lines = ["| field | type | default | description |", "|---|---|---|---|"]
    lines += [f"| `{row.path}` | {_cell(row.type)} | {_cell(row.default)} | {_cell(row.description)} |"
              for row in rows(model)]
    return "\n".join(lines)


def replace_table(text: str) -> str:
    """`text` (the spec page) with what lies between the table's markers replaced by the rendered table."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise NanofluxError(f"no spec table to replace: put {START} and {END} on lines of their own around it")
    return f"{text[:start]}{START}\n{render_table()}\n{text[end:]}"


def _kinds(model: type[BaseModel]) -> list[tuple[type[BaseModel], list[str]]]:
    """The spec models that two or more of `model`'s mappings subclass, each with those fields
    (RoleSpec: attacker, defender and judge)."""
    by_base: dict[type[BaseModel], list[str]] = {}
    for name, field in model.model_fields.items():
        inner = model_of(field.annotation)  # a role that may be null (the solver: the judge's settings) counts too
        if inner is not None and get_origin(field.annotation) is not list and inner.__base__.model_fields:
            by_base.setdefault(inner.__base__, []).append(name)
    return [(base, names) for base, names in by_base.items() if len(names) > 1]


def _shared_rows(model: type[BaseModel], base: type[BaseModel], names: list[str], prefix: str) -> list[Row]:
    """`roles.attacker`, `roles.defender`, `roles.judge`, then `roles.<role>.model` ... once, with each
    role's default where they differ, then the fields only one role has (`roles.judge.agentic`)."""
    kinds = {name: model_of(model.model_fields[name].annotation) for name in names}
    placeholder = f"{prefix}<{base.__name__.removesuffix('Spec').lower()}>."
    table = [Row(prefix + name, _type(model.model_fields[name]), "", describe(model.model_fields[name]))
             for name in names]
    for field_name, field in base.model_fields.items():
        defaults = {name: _default(kind.model_fields[field_name]) for name, kind in kinds.items()}
        default = (defaults[names[0]] if len(set(defaults.values())) == 1
                   else ", ".join(f"{name} {value}" for name, value in defaults.items()))
        table.append(Row(placeholder + field_name, _type(field), default, describe(field)))
    table += [Row(f"{prefix}{name}.{field_name}", _type(field), _default(field), describe(field))
              for name, kind in kinds.items() for field_name, field in kind.model_fields.items()
              if field_name not in base.model_fields]
    return table


def _type(field: FieldInfo) -> str:
    """`float in [0, 2]`, `int >= 1 or null`: the type, its bounds, then whether null is allowed."""
    union = get_origin(field.annotation) in (Union, types.UnionType)
    args = get_args(field.annotation) if union else (field.annotation,)
    kinds = [arg for arg in args if arg is not type(None)]
    return (" or ".join(_annotation(kind) for kind in kinds) + _bounds(field.metadata)
            + (" or null" if len(kinds) < len(args) else ""))


def _annotation(annotation: Any) -> str:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        words = [f"`{arg}`" for arg in args]
        return f"{', '.join(words[:-1])} or {words[-1]}" if len(words) > 1 else words[0]
    if origin is list:
        return "list of mappings" if model_of(args[0]) else f"list of {_annotation(args[0])}"
    if origin is tuple:
        return f"[{', '.join(_annotation(arg) for arg in args)}]"
    return "mapping" if model_of(annotation) else getattr(annotation, "__name__", str(annotation))


def _bounds(metadata: Sequence[Any]) -> str:
    """A field's constraints as written after its type: `in [0, 2]`, `>= 1`, `, not empty`."""
    limits = {type(m): getattr(m, fields(m)[0].name) for m in metadata if type(m) in _LIMITS}
    low = ("[", limits[Ge]) if Ge in limits else ("(", limits[Gt]) if Gt in limits else None
    high = (limits[Le], "]") if Le in limits else (limits[Lt], ")") if Lt in limits else None
    if low and high:
        return f" in {low[0]}{low[1]}, {high[0]}{high[1]}"
    if low:
        return f" {'>=' if low[0] == '[' else '>'} {low[1]}"
    if high:
        return f" {'<=' if high[1] == ']' else '<'} {high[0]}"
    if MinLen in limits:
        return ", not empty" if limits[MinLen] == 1 else f", at least {limits[MinLen]}"
    return ""


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, list) and value and isinstance(value[0], BaseModel):
        # A list of mappings, by the short values of each (the rubric: `correctness 0.4`, ...).
        return ", ".join(" ".join(str(v) for v in item.model_dump().values()
                                  if isinstance(v, int | float) or " " not in str(v)) for item in value)
    return f"`{_yaml(value)}`"


def _yaml(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, list | tuple):
        return f"[{', '.join(_yaml(item) for item in value)}]"
    return str(value) if value != "" else '""'


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def main(argv: Sequence[str]) -> int:
    if not argv:
        print(render_table())
        return 0
    path = Path(argv[0])
    write_atomic(path, replace_table(path.read_text(encoding="utf-8")))
    print(f"{path}: spec table rendered from nanoflux.spec.model")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
