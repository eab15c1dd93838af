"""A cloud is a plug-in (issue 18): one registry line names each cloud's plug-in, which its folder declares
(`llm_infra/<cloud>/plugin.py`), each part lives with its cloud, nothing outside a cloud's own files names
a cloud, and no module imports from a layer above its own (config and catalogs at the bottom, the clouds
and the Kubernetes layer beside each other, platform and stacks on top). docs/architecture.md draws the
layers and has the checklist for adding a cloud; tests/test_cloud_plugin_checklist.py follows it."""

from __future__ import annotations

import ast
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "llm_infra"
# Every cloud folder: the ones that declare a plug-in (`llm_infra/<cloud>/plugin.py`).
CLOUD_NAMES = tuple(sorted(p.parent.name for p in PACKAGE.glob("*/plugin.py")))

# The layers, bottom first. A module belongs to the first entry its name starts with.
BOTTOM = ("llm_infra.versions", "llm_infra.facts", "llm_infra.naming", "llm_infra.checkov", "llm_infra.device_list", "llm_infra.catalog", "llm_infra.planning",
          "llm_infra.config", "llm_infra.guardrails", "llm_infra.policies", "llm_infra.triton.upstream",
          "llm_infra.triton.model_repository")
KUBERNETES = ("llm_infra.kubernetes", "llm_infra.triton", "llm_infra.ordering", "llm_infra.existing")
SHARED = ("llm_infra.contract", "llm_infra.access")
"""What the clouds and the Kubernetes layer both build on: the contract between them, deployer access."""
CLOUDS = tuple(f"llm_infra.{c}" for c in CLOUD_NAMES)
# A cloud folder's declaration of itself sits at the bottom: its package (a lazy name table), its plug-in and
# its mock outputs import only bottom-layer modules (checked below like every other module), so the registry
# (`llm_infra.clouds`, bottom too) and config, fit and cost can read them without importing up a layer.
CLOUD_BOTTOM = frozenset({"llm_infra.clouds", "llm_infra.cloud_plugin", *CLOUDS,
                          *(f"{c}.{m}" for c in CLOUDS for m in ("plugin", "mock_outputs"))})
# Everything else (platform, the plan and its harness, the CLI) is the top.


def _parse(path: Path) -> ast.Module:
    """`ast.parse` on a fresh thread: CPython 3.11's AST recursion guard counts from the caller's stack depth and
    once raised `SystemError: AST constructor recursion depth mismatch` after ~500 tests in one process."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: ast.parse(path.read_text())).result()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def layer(module: str) -> str:
    if module == "llm_infra.triton" or module in CLOUD_BOTTOM or _within(module, BOTTOM):
        return "bottom"  # llm_infra.triton itself is an empty package under the model repository
    for group, prefixes in (("shared", SHARED), ("kubernetes", KUBERNETES), ("cloud", CLOUDS)):
        if _within(module, prefixes):
            return group
    return "top"


RANK = {"bottom": 0, "shared": 1, "kubernetes": 2, "cloud": 2, "top": 3}


def _imports(path: Path, name: str | None = None) -> list[tuple[int, str]]:
    """(line, module) of every llm_infra module `path` (module `name`) imports, at any depth (lazy imports too)."""
    name = name or _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out: list[tuple[int, str]] = []
    for node in ast.walk(_parse(path)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("llm_infra")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("llm_infra"):
                continue
            for alias in node.names:  # `from . import versions` imports the submodule llm_infra.versions
                sub = f"{target}.{alias.name}"
                is_module = (ROOT / Path(*sub.split("."))).with_suffix(".py").is_file() or (
                    ROOT / Path(*sub.split("."))).is_dir()
                out.append((node.lineno, sub if is_module else target))
    return out


SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if "project_template" not in p.parts and "local" not in p.parts[-2:-1])


def test_no_module_imports_from_a_layer_above_it_and_clouds_stay_beside_the_kubernetes_layer():
    wrong = []
    for path in SOURCES:
        source = _module_name(path)
        for line, target in _imports(path):
            if target == "llm_infra":
                continue  # the package's lazy public names; resolved per name below when it matters
            mine, theirs = layer(source), layer(target)
            where = f"{path.relative_to(ROOT)}:{line} imports {target}"
            if RANK[theirs] > RANK[mine]:
                wrong.append(f"{where}: {mine} layer imports from the {theirs} layer above it")
            elif mine == "cloud" and theirs == "kubernetes":
                wrong.append(f"{where}: a cloud imports the Kubernetes layer (they sit side by side)")
            elif mine == "kubernetes" and theirs == "cloud":
                wrong.append(f"{where}: the Kubernetes layer imports a cloud")
            elif mine == theirs == "cloud" and source.split(".")[1] != target.split(".")[1]:
                wrong.append(f"{where}: one cloud imports another")
    assert wrong == []


def test_the_layer_test_sees_an_import_running_up(tmp_path):
    # A bottom-layer module importing the platform, relatively and lazily, is caught.
    bad = tmp_path / "probe.py"
    bad.write_text("def f():\n    from ..platform import LlmPlatform\n")
    assert _imports(bad, "llm_infra.catalog.probe") == [(2, "llm_infra.platform")]
    assert RANK[layer("llm_infra.platform")] > RANK[layer("llm_infra.catalog.probe")]


def test_one_registry_names_every_cloud_and_each_part_lives_with_its_cloud():
    from llm_infra.clouds import CLOUDS, by_provider
    from llm_infra.config import StackConfig, cloud_names
    from llm_infra.extras import cloud_extras
    from llm_infra.multilanguage import HOSTED

    assert CLOUD_NAMES and sorted(CLOUDS) == list(CLOUD_NAMES)
    assert cloud_names() == [*CLOUDS, "existing"]
    for name, cloud in CLOUDS.items():
        assert cloud.settings.__module__ == f"llm_infra.config.{name}"
        assert StackConfig.model_fields[name].annotation == cloud.settings | None
        assert cloud.catalog.__name__ == f"llm_infra.catalog.{name}"
        assert cloud.facts.__name__ == f"llm_infra.catalog.{name}_facts"
        assert cloud.mock_outputs.__name__ == f"llm_infra.{name}.mock_outputs"
        assert cloud.policies.__name__ == f"llm_infra.policies.{name}"
        assert cloud.package.__name__ == f"llm_infra.{name}"
        assert cloud.platform_cluster in cloud.package.__all__
        assert by_provider(cloud.provider) is cloud
        assert cloud_extras()[cloud.extra] == cloud.sdk
        assert cloud.components and all(HOSTED[n] == m and m.startswith(f"llm_infra.{name}.")
                                        for n, m in cloud.components.items())


def _cloud_branches(path: Path) -> list[str]:
    """`x == "aws"`-style comparisons and importlib uses in a module."""
    found = []
    for node in ast.walk(_parse(path)):
        if isinstance(node, ast.Compare):
            for side in (node.left, *node.comparators):
                if isinstance(side, ast.Constant) and side.value in CLOUD_NAMES:
                    found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
            if any(n.startswith("importlib") for n in names):
                found.append(f"{path.name}:{node.lineno}: imports importlib")
    return found


@pytest.mark.parametrize("module", ["platform.py", "testing.py", "planning/cost.py", "config/models.py"])
def test_platform_harness_cost_and_stack_checks_look_clouds_up_instead_of_branching(module):
    assert _cloud_branches(PACKAGE / module) == []


# A cloud's own files: its folder, and its tables and settings at the bottom layer. The rest of the package
# reads a cloud through its plug-in. What still names a cloud outside them is listed here with its reason.
OWN = ("llm_infra/{c}/", "llm_infra/catalog/{c}.py", "llm_infra/catalog/{c}_facts.py", "llm_infra/config/{c}.py",
       "llm_infra/policies/{c}.py")
NAMES_CLOUDS_ON_PURPOSE = {
    "llm_infra/clouds.py": "the one registry line",
    "llm_infra/config/models.py": "StackConfig's typed settings fields of the shipped clouds (`aws:`, `gcp:`, "
                                  "`azure:`), for static types; a plug-in cloud's block needs no field",
    "llm_infra/config/specs.py": "generated from config/models.py",
    "llm_infra/config/__init__.py": "re-exports the shipped clouds' settings models under their old names",
    "llm_infra/policies/__init__.py": "all_rules: the CrossGuard pack (policy/) is published without the library, "
                                      "so it lists the cloud rule modules itself",
    "llm_infra/planning/catalog.py": "the price rows, each naming its cloud (a table: data, not a branch)",
    "llm_infra/catalog/gateways.py": "sourced gateway facts by cloud (internal load balancer annotations)",
    "llm_infra/triton/upstream.py": "the pinned node driver table names the AMI family it was read for",
    "llm_infra/fit.py": "`existing` sizes a node shape with EKS's reservation formula (EXISTING_NODES_AS), a named choice",
    "llm_infra/template.py": "the project template's stack is an AWS stack, so its default extra is aws",
    "llm_infra/local/": "the local real-engine harness (kwok nodes shaped like each cloud's), not the library",
}


def _names_a_cloud(path: Path) -> list[str]:
    """String constants that are a cloud's name, and attribute reads of a shipped cloud's settings block."""
    found = []
    for node in ast.walk(_parse(path)):
        if isinstance(node, ast.Constant) and node.value in CLOUD_NAMES:
            found.append(f"{node.lineno}: {node.value!r}")
        elif isinstance(node, ast.Attribute) and node.attr in CLOUD_NAMES and ast.unparse(node.value) == "config":
            found.append(f"{node.lineno}: config.{node.attr}")
    return found


def test_nothing_outside_a_clouds_own_files_names_a_cloud():
    own = tuple(o.format(c=c) for o in OWN for c in CLOUD_NAMES)
    naming = {}
    for path in SOURCES + sorted((PACKAGE / "local").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(own) or rel.startswith(tuple(NAMES_CLOUDS_ON_PURPOSE)):
            continue
        if found := _names_a_cloud(path):
            naming[rel] = found
    assert naming == {}
