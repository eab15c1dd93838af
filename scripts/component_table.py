#!/usr/bin/env python3
"""Write the component reference (docs/components.md) from the components' own docstrings.

    python scripts/component_table.py           # rewrite docs/components.md between the markers
    python scripts/component_table.py --check   # exit 1 when docs/components.md is stale

Reads the source with `ast` (nothing is imported, so no cloud SDK is needed): every
ComponentResource that `llm_infra.__all__` exports, then every one in each cloud plug-in's folder
(the clouds `llm_infra/clouds.py` registers, in its order; each titled by its package docstring). A component's inputs are the
fields of the TypedDict its `__init__` takes as `args`, each with the docstring under it
(the same text Pulumi's schema inference reads); its outputs are its public class-level
annotations (`pulumi.Output[...]`, or a resource) and their docstrings. Whether other Pulumi languages can
use it comes from `llm_infra/multilanguage.py` (`BASE_HOSTED`, and each cloud package's `_COMPONENTS`,
which `HOSTED` serves), which must list every component.
"""

from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "llm_infra"
README = ROOT / "docs" / "components.md"  # the reference the README links to
START = "<!-- components:start -->"
END = "<!-- components:end -->"


def clouds() -> list[tuple[str, str]]:
    """(folder, title) of each cloud `llm_infra/clouds.py` registers (`from .<folder> import plugin as ...`), in
    its order; the title is the package docstring's text before its first colon (`AWS: a private EKS ...`)."""
    found = []
    for node in ast.parse((PACKAGE / "clouds.py").read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and any(a.name == "plugin" for a in node.names):
            folder = node.module or ""
            doc = ast.get_docstring(ast.parse((PACKAGE / folder / "__init__.py").read_text())) or folder
            found.append((folder, doc.split(":", 1)[0]))
    order = {}
    for node in ast.walk(ast.parse((PACKAGE / "clouds.py").read_text())):
        if isinstance(node, ast.Attribute) and node.attr == "PLUGIN" and isinstance(node.value, ast.Name):
            order.setdefault(node.value.id, len(order))
    return sorted(found, key=lambda ft: order.get(ft[0], len(order)))


@dataclass
class Field:
    name: str
    type: str
    required: bool
    doc: str


@dataclass
class Component:
    name: str
    module: str
    doc: str
    args: str
    inputs: list[Field] = field(default_factory=list)
    outputs: list[Field] = field(default_factory=list)


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def _module_path(module: str) -> Path:
    path = ROOT / module.replace(".", "/")
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _is_component(cls: ast.ClassDef) -> bool:
    return any(ast.unparse(base) in ("pulumi.ComponentResource", "ComponentResource") for base in cls.bases)


def _unwrap(annotation: ast.expr, *names: str) -> tuple[ast.expr, bool]:
    """The annotation inside `NotRequired[...]` / `Required[...]` etc., and whether a wrapper was removed."""
    if isinstance(annotation, ast.Subscript) and ast.unparse(annotation.value).split(".")[-1] in names:
        return annotation.slice, True
    return annotation, False


def _type(annotation: ast.expr) -> str:
    text = ast.unparse(annotation)
    return text.replace("pulumi.Input", "Input").replace("pulumi.Output", "Output").replace("typing.", "")


def _documented_fields(cls: ast.ClassDef) -> list[tuple[ast.AnnAssign, str]]:
    """Each annotated class attribute with the string literal right under it."""
    out: list[tuple[ast.AnnAssign, str]] = []
    body = cls.body
    for i, node in enumerate(body):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and not node.target.id.startswith("_"):
            nxt = body[i + 1] if i + 1 < len(body) else None
            doc = nxt.value.value if (isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant)
                                      and isinstance(nxt.value.value, str)) else ""
            out.append((node, doc))
    return out


def _classes(module: str) -> dict[str, ast.ClassDef]:
    tree = ast.parse(_module_path(module).read_text())
    return {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}


def _component(module: str, cls: ast.ClassDef, classes: dict[str, ast.ClassDef]) -> Component:
    init = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__")
    arg = next(a for a in init.args.args if a.arg == "args")
    args_name = ast.unparse(arg.annotation).strip("'\"")
    args_cls = classes[args_name]
    total = not any(k.arg == "total" and isinstance(k.value, ast.Constant) and k.value.value is False
                    for k in args_cls.keywords)
    inputs = []
    for node, doc in _documented_fields(args_cls):
        inner, optional = _unwrap(node.annotation, "NotRequired")
        inner, required = _unwrap(inner, "Required")
        inputs.append(Field(node.target.id, _type(inner), (total and not optional) or required, _one_line(doc)))
    outputs = []
    for node, doc in _documented_fields(cls):  # every public class annotation is an output, as for the analyzer
        inner, _ = _unwrap(node.annotation, "Output")
        outputs.append(Field(node.target.id, _type(inner), True, _one_line(doc)))
    return Component(cls.name, module, _one_line(ast.get_docstring(cls)), args_name, inputs, outputs)


def public_exports() -> list[tuple[str, str]]:
    """(name, module) of every name in `llm_infra.__all__`, in the order `_EXPORTS` lists them."""
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else (node.targets[0] if isinstance(node, ast.Assign) else None)
        if isinstance(target, ast.Name) and target.id == "_EXPORTS":
            return list(ast.literal_eval(node.value).items())
    raise SystemExit("llm_infra/__init__.py: expected an _EXPORTS mapping of public names to modules")


def _literal(path: Path, name: str) -> dict[str, str]:
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.AnnAssign | ast.Assign):
            target = node.target if isinstance(node, ast.AnnAssign) else node.targets[0]
            if isinstance(target, ast.Name) and target.id == name and node.value is not None:
                return dict(ast.literal_eval(node.value))
    raise SystemExit(f"{path.relative_to(ROOT)}: expected a {name} mapping of components to modules")


def hosted() -> dict[str, str]:
    """`HOSTED` of llm_infra/multilanguage.py (component -> module), read with ast: its `BASE_HOSTED`, then each
    registered cloud package's `_COMPONENTS` (Args left out), ordered by module as `Cloud.components` orders them."""
    served = _literal(PACKAGE / "multilanguage.py", "BASE_HOSTED")
    for folder, _ in clouds():
        table = _literal(PACKAGE / folder / "__init__.py", "_COMPONENTS")
        served |= {name: f"llm_infra.{folder}.{module}"
                   for name, module in sorted(table.items(), key=lambda kv: (kv[1], kv[0])) if not name.endswith("Args")}
    return served


def components() -> list[tuple[str, list[Component]]]:
    """The components, grouped: what `llm_infra` exports, then each cloud's."""
    groups: list[tuple[str, list[Component]]] = []
    exported = []
    for name, module in public_exports():
        classes = _classes(module)
        if name in classes and _is_component(classes[name]):
            exported.append(_component(module, classes[name], classes))
    groups.append(("Platform and Kubernetes layer (`from llm_infra import ...`)", exported))
    for folder, title in clouds():
        found = []
        for path in sorted((PACKAGE / folder).glob("*.py")):
            module = f"llm_infra.{folder}.{path.stem}"
            classes = _classes(module)
            found += [_component(module, c, classes) for c in classes.values() if _is_component(c)]
        groups.append((f"{title} (`llm_infra.{folder}`)", found))
    served = hosted()
    for _, comps in groups:
        for c in comps:
            if served.get(c.name) != c.module:
                raise SystemExit(f"llm_infra/multilanguage.py: HOSTED must map {c.name} to {c.module}")
    return groups


def _cell(text: str) -> str:
    return text.replace("|", "\\|") or "—"


def render(groups: list[tuple[str, list[Component]]]) -> str:
    lines = [
        START,
        "<!-- Generated by scripts/component_table.py from the Args and output docstrings; do not edit. -->",
        "## Components",
        "",
        "Every component with its inputs and outputs, generated from the docstrings of its Args",
        "TypedDict and its output annotations (`python scripts/component_table.py`; a test fails",
        "when this table is stale). Child resources are named `<name>-<child>`; every type token",
        "is `llm-infra:index:<Component>`.",
        "",
        "**Other languages.** `PulumiPlugin.yaml` makes this repository a Pulumi plugin package:",
        "`pulumi package add <this repository>` from a TypeScript, Go, C#, Java or YAML program",
        "generates an SDK for every component below, served by `python -m llm_infra` (Pulumi's",
        "Python component provider host, schema inferred from the Args). Config inputs (`model`,",
        "`monitoring`, `config`, ...) take the fields of the stack config (see *Stack config*),",
        "camelCased in other languages; `examples/yaml-consumer` uses the package.",
        "",
    ]
    for title, comps in groups:
        lines += [f"### {title}", "", "| component | what it is | inputs (**required**) | outputs |",
                  "| --- | --- | --- | --- |"]
        for c in comps:
            ins = ", ".join(f"**`{f.name}`**" if f.required else f"`{f.name}`" for f in c.inputs)
            outs = ", ".join(f"`{f.name}`" for f in c.outputs)
            lines.append(f"| [`{c.name}`](#{c.name.lower()}) | {_cell(c.doc)} | {_cell(ins)} | {_cell(outs)} |")
        lines.append("")
    lines += ["### Inputs and outputs", ""]
    for _, comps in groups:
        for c in comps:
            lines += [
                f"<details id=\"{c.name.lower()}\"><summary><code>{c.name}</code> "
                f"(<code>{c.module}</code>, type <code>llm-infra:index:{c.name}</code>)</summary>",
                "",
                f"{c.doc}",
                "",
                f"Inputs (`{c.args}`):",
                "",
                "| input | type | required | description |",
                "| --- | --- | --- | --- |",
            ]
            lines += [f"| `{f.name}` | `{_cell(f.type)}` | {'yes' if f.required else 'no'} | {_cell(f.doc)} |"
                      for f in c.inputs]
            lines += ["", "Outputs:", "", "| output | type | description |", "| --- | --- | --- |"]
            lines += [f"| `{f.name}` | `{_cell(f.type)}` | {_cell(f.doc)} |" for f in c.outputs]
            lines += ["", "</details>", ""]
    lines.append(END)
    return "\n".join(lines)


def updated(readme: str, table: str) -> str:
    if readme.count(START) != 1 or readme.count(END) != 1 or readme.index(START) > readme.index(END):
        raise SystemExit(f"{README.name}: expected one {START} ... {END} block")
    return readme[: readme.index(START)] + table + readme[readme.index(END) + len(END):]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/components.md is stale")
    args = parser.parse_args(argv)
    current = README.read_text()
    new = updated(current, render(components()))
    if args.check:
        if new != current:
            print("docs/components.md: the component table is stale; run python scripts/component_table.py",
                  file=sys.stderr)
            return 1
        return 0
    if new != current:
        README.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
