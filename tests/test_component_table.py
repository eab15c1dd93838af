"""The component reference (docs/components.md) is what scripts/component_table.py generates from the code.

The script reads the source with `ast`; these tests hold it to what Python itself sees
when the modules are imported (the same components, the same Args fields, the same
required keys and outputs), so the table cannot silently drift from the API.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import subprocess
import sys
import typing

import pulumi
import pytest

from llm_infra.plan import find_project

ROOT = find_project().root


def _script():
    spec = importlib.util.spec_from_file_location("component_table", ROOT / "scripts" / "component_table.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["component_table"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


ct = _script()
GROUPS = ct.components()
BY_NAME = {c.name: c for _, comps in GROUPS for c in comps}


REFERENCE = ROOT / "docs" / "components.md"


def test_component_reference_is_current_and_the_readme_links_to_it():
    readme = REFERENCE.read_text()
    assert ct.updated(readme, ct.render(GROUPS)) == readme, "run: python scripts/component_table.py"
    assert ct.main(["--check"]) == 0
    assert "(docs/components.md)" in (ROOT / "README.md").read_text()


def test_check_fails_on_a_stale_table(tmp_path, monkeypatch, capsys):
    readme = REFERENCE.read_text()
    stale = tmp_path / "components.md"
    stale.write_text(readme.replace("Name of the namespace.", "Name of a namespace.", 1))
    monkeypatch.setattr(ct, "README", stale)
    assert ct.main(["--check"]) == 1
    assert "stale" in capsys.readouterr().err
    assert ct.main([]) == 0 and stale.read_text() == readme


def _runtime_components(package: str) -> dict[str, type]:
    found = {}
    for path in sorted((ROOT / package.replace(".", "/")).glob("*.py")):
        module = importlib.import_module(f"{package}.{path.stem}")
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and issubclass(obj, pulumi.ComponentResource) and obj.__module__ == module.__name__:
                found[name] = obj
    return found


def test_the_table_lists_every_exported_component_and_every_cloud_component():
    import llm_infra

    exported = {n for n in llm_infra.__all__
                if inspect.isclass(getattr(llm_infra, n)) and issubclass(getattr(llm_infra, n), pulumi.ComponentResource)}
    titles = [t for t, _ in GROUPS]
    assert {c.name for c in GROUPS[0][1]} == exported
    for folder in ("aws", "gcp", "azure"):
        [(_, comps)] = [(t, c) for t, c in GROUPS if f"`llm_infra.{folder}`" in t]
        assert {c.name for c in comps} == set(_runtime_components(f"llm_infra.{folder}")), folder
    assert len(titles) == 4 and len(BY_NAME) == sum(len(c) for _, c in GROUPS)


def _runtime_class(name: str) -> type:
    return getattr(importlib.import_module(BY_NAME[name].module), name)


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_table_inputs_and_outputs_match_what_python_sees(name):
    component = BY_NAME[name]
    cls = _runtime_class(name)
    args = inspect.get_annotations(cls.__init__)["args"]
    assert typing.is_typeddict(args) and args.__name__ == component.args
    hints = args.__annotations__
    assert [f.name for f in component.inputs] == list(hints)
    assert {f.name for f in component.inputs if not f.required} == set(args.__optional_keys__)
    # Every public class annotation is an output, as Pulumi's schema inference reads it.
    outputs = [k for k in inspect.get_annotations(cls) if not k.startswith("_")]
    assert outputs and [f.name for f in component.outputs] == outputs


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_every_component_input_and_output_is_described(name):
    component = BY_NAME[name]
    assert component.doc, name
    for f in component.inputs + component.outputs:
        assert f.doc, (name, f.name)
        assert f"| `{f.name}` |" in REFERENCE.read_text()


def test_the_script_runs_where_neither_pulumi_nor_llm_infra_is_installed():
    # -I -S: no site-packages and not the working directory, so no cloud SDK, no pulumi, no llm_infra.
    proc = subprocess.run([sys.executable, "-I", "-S", str(ROOT / "scripts" / "component_table.py"), "--check"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
