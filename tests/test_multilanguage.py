"""The multi-language package: Pulumi's schema inference, run in-process over the components.

Every public component (what `llm_infra` exports) and every cloud component is either
hosted by the package, and then inferred completely (present, every input and output
described, no type rejected), or listed as not inferable with the reason, and then the
analyzer really rejects it, for the fields the reason names. The plugin is started the way
Pulumi's Python language host starts it and asked for its schema over gRPC.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import re
import runpy
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from llm_infra import multilanguage
from llm_infra.plan import find_project

ROOT = find_project().root
TOKEN = "llm-infra:index:{}"


def _every_component() -> dict[str, type[pulumi.ComponentResource]]:
    import llm_infra

    found = {n: getattr(llm_infra, n) for n in llm_infra.__all__
             if inspect.isclass(getattr(llm_infra, n)) and issubclass(getattr(llm_infra, n), pulumi.ComponentResource)}
    for folder in ("aws", "gcp", "azure"):
        for path in sorted((ROOT / "llm_infra" / folder).glob("*.py")):
            module = importlib.import_module(f"llm_infra.{folder}.{path.stem}")
            found |= {n: c for n, c in vars(module).items() if inspect.isclass(c)
                      and issubclass(c, pulumi.ComponentResource) and c.__module__ == module.__name__}
    return found


COMPONENTS = _every_component()


def analyze(components: list[type[pulumi.ComponentResource]]) -> dict[str, Any]:
    from pulumi.provider.experimental.analyzer import Analyzer

    return Analyzer(multilanguage.PACKAGE_NAME).analyze(components)


def test_every_component_is_either_hosted_or_listed_with_its_reason():
    hosted, excluded = set(multilanguage.HOSTED), set(multilanguage.NOT_INFERABLE)
    assert not hosted & excluded
    assert hosted | excluded == set(COMPONENTS)
    assert all(reason.strip() for reason in multilanguage.NOT_INFERABLE.values())


def test_the_hosted_components_infer_completely_with_every_input_and_output_described():
    analyzed = analyze(multilanguage.hosted_components())
    definitions = analyzed["component_definitions"]
    assert set(definitions) == set(multilanguage.HOSTED)
    for name, definition in definitions.items():
        assert definition.description, name
        assert definition.inputs and definition.outputs, name
        for field, prop in {**definition.inputs, **definition.outputs}.items():
            assert " ".join((prop.description or "").split()), (name, field)
        for field, prop in definition.inputs.items():
            if prop.optional:
                assert "Defaults to" in prop.description, (name, field)
    # Nothing but plain types and the Kubernetes provider reference: no rejected or opaque type.
    assert analyzed["type_definitions"] == {}
    assert {d.name for d in analyzed["dependencies"]} == {"kubernetes"}


def test_the_schema_names_every_hosted_component_by_its_python_type_token():
    from pulumi.provider.experimental.component import ComponentProvider

    schema = json.loads(ComponentProvider(multilanguage.hosted_components(), multilanguage.PACKAGE_NAME).schema)
    assert set(schema["resources"]) == {TOKEN.format(n) for n in multilanguage.HOSTED}
    for name in multilanguage.HOSTED:
        source = inspect.getsource(COMPONENTS[name])
        assert f'"{TOKEN.format(name)}"' in source  # the token the Python class registers
        resource = schema["resources"][TOKEN.format(name)]
        assert resource["isComponent"] is True
        assert resource["inputProperties"]["provider"]["$ref"].endswith("/resources/pulumi:providers:kubernetes")


@pytest.mark.parametrize("name", sorted(multilanguage.NOT_INFERABLE))
def test_a_component_listed_as_not_inferable_is_rejected_by_the_analyzer(name):
    with pytest.raises(Exception):  # noqa: B017 (the analyzer raises bare Exception, TypeError, ValueError, ...)
        analyze([COMPONENTS[name]])


def _rejected_fields(name: str) -> set[str]:
    """Fields the analyzer rejects one by one, with string annotations resolved in the module."""
    from pulumi.provider.experimental.analyzer import Analyzer

    cls = COMPONENTS[name]
    module = sys.modules[cls.__module__]
    args = inspect.get_annotations(cls.__init__)["args"]
    args = getattr(module, args) if isinstance(args, str) else args
    rejected = set()
    for owner, annotations, output in ((args, args.__annotations__, False), (cls, inspect.get_annotations(cls), True)):
        for field, annotation in annotations.items():
            text = annotation.__forward_arg__ if isinstance(annotation, typing.ForwardRef) else annotation
            if output and not str(text).startswith("pulumi.Output["):
                continue
            resolved = eval(text, vars(module)) if isinstance(text, str) else text  # noqa: S307 (our own source)
            try:
                Analyzer(multilanguage.PACKAGE_NAME).analyze_property(
                    resolved, owner, field, can_be_plain=not output, is_component_output=output)
            except Exception:  # noqa: BLE001
                rejected.add(field)
    return rejected


@pytest.mark.parametrize("name", sorted(multilanguage.NOT_INFERABLE))
def test_each_stated_reason_names_exactly_what_the_analyzer_rejects(name):
    reason = multilanguage.NOT_INFERABLE[name]
    future = "from __future__ import annotations" in Path(inspect.getfile(COMPONENTS[name])).read_text()
    assert ("from __future__ import annotations" in reason) == future
    named = set(re.findall(r"`(\w+)`", reason.replace("`from __future__ import annotations`", "")))
    rejected = _rejected_fields(name)
    assert rejected <= named, (name, rejected - named)
    # Fields named in the reason are the rejected ones (type names like `StackConfig` aside).
    fields = {f for f in named if f.islower() or "_" in f}
    assert fields - {"list", "dict", "contract"} <= rejected | {"contract"}, (name, fields - rejected)


def test_the_reasons_use_only_the_analyzers_own_limits():
    # A component whose fields all pass one by one is blocked by its module's future import alone.
    for name, reason in multilanguage.NOT_INFERABLE.items():
        if not _rejected_fields(name) and name != "ExistingCluster":
            assert reason == multilanguage._FUTURE, name


# --- the plugin as Pulumi runs it ---------------------------------------------------------


def test_plugin_manifest_and_entry_point():
    manifest = yaml.safe_load((ROOT / "PulumiPlugin.yaml").read_text())
    assert manifest["runtime"]["name"] == "python"
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert manifest["runtime"]["options"]["virtualenv"] == project["runtime"]["options"]["virtualenv"]
    # No root __main__.py: Pulumi's Python host then runs `python -m pulumi.run.plugin <project.name>`.
    assert not (ROOT / "__main__.py").exists()
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^name = "llm-infra"$', pyproject, re.M) and "build-backend" in pyproject
    assert multilanguage.PACKAGE_NAME == "llm-infra"


def test_python_m_llm_infra_hosts_exactly_the_hosted_components(monkeypatch):
    import pulumi.provider.experimental as experimental

    calls = []
    monkeypatch.setattr(experimental, "component_provider_host", lambda **kw: calls.append(kw))
    monkeypatch.delitem(sys.modules, "llm_infra.__main__", raising=False)
    runpy.run_module("llm_infra", run_name="__main__")
    [call] = calls
    assert call["name"] == "llm-infra" and call["version"] == __import__("llm_infra").__version__
    assert [c.__name__ for c in call["components"]] == list(multilanguage.HOSTED)


def test_the_plugin_started_as_pulumi_starts_it_serves_the_schema_over_grpc():
    import grpc
    from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

    # What pulumi-language-python runs for a buildable package without a root __main__.py.
    proc = subprocess.Popen([sys.executable, "-m", "pulumi.run.plugin", "llm-infra", "127.0.0.1:1"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = proc.stdout.readline().strip()
        assert port.isdigit(), proc.stderr.read() if proc.poll() is not None else port
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = provider_pb2_grpc.ResourceProviderStub(channel)
            schema = json.loads(stub.GetSchema(provider_pb2.GetSchemaRequest(version=0), timeout=60).schema)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert schema["name"] == "llm-infra" and schema["version"] == __import__("llm_infra").__version__
    assert set(schema["resources"]) == {TOKEN.format(n) for n in multilanguage.HOSTED}


# --- the YAML example, built through the package's provider --------------------------------


def _resolve(value: Any, env: dict[str, Any]) -> Any:
    if isinstance(value, str):
        whole = re.fullmatch(r"\$\{([\w-]+)\}", value)
        if whole:
            return env[whole.group(1)]
        assert "${" not in value, value
        return value
    if isinstance(value, list):
        return [_resolve(v, env) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, env) for k, v in value.items()}
    return value


def test_yaml_example_builds_under_the_mock_engine_through_the_package_provider():
    """Each resource of the YAML program constructed by the package's provider, as the engine would."""
    import pulumi_kubernetes as k8s
    from pulumi.provider.experimental.component import ComponentProvider

    from llm_infra.testing import run_program

    program = yaml.safe_load((ROOT / "examples" / "yaml-consumer" / "Pulumi.yaml").read_text())
    provider = ComponentProvider(multilanguage.hosted_components(), multilanguage.PACKAGE_NAME)

    def run() -> None:
        env: dict[str, Any] = {k: v.get("default", f"<{k}>") for k, v in program["config"].items()}
        for name, resource in program["resources"].items():
            properties = _resolve(resource.get("properties") or {}, env)
            if resource["type"] == "pulumi:providers:kubernetes":
                env[name] = k8s.Provider(name, kubeconfig=pulumi.Output.secret(properties["kubeconfig"]),
                                         enable_server_side_apply=properties["enableServerSideApply"])
            else:
                env[name] = provider.construct(name, resource["type"], properties, pulumi.ResourceOptions())
        for key, ref in program["outputs"].items():
            resource, attribute = re.fullmatch(r"\$\{([\w-]+)\.(\w+)\}", ref).groups()
            pulumi.export(key, env[resource].state[attribute])

    result = run_program(run, project="yaml-consumer")
    [cluster] = result.of_type("pulumi:providers:kubernetes")
    assert all(r.provider and r.provider.startswith(cluster.urn) for r in result.kubernetes_objects())
    assert result.outputs == {"devicePluginDaemonSet": "nvidia-device-plugin-daemonset",
                              "dcgmService": "dcgm-exporter", "servingNamespace": "llm-serving"}
    assert result.k8s("ResourceQuota", "gpu-quota", "llm-serving")["spec"]["hard"] == {"requests.nvidia.com/gpu": "4"}
    assert result.k8s("Namespace", "llm-serving")["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert {r.type for r in result.resources if r.type.startswith("llm-infra:")} == {
        TOKEN.format(n) for n in multilanguage.HOSTED}


def test_component_table_reads_the_same_lists_as_the_package():
    import importlib.util

    spec = importlib.util.spec_from_file_location("component_table_ml", ROOT / "scripts" / "component_table.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["component_table_ml"] = module
    spec.loader.exec_module(module)
    assert module.multilanguage() == (multilanguage.HOSTED, multilanguage.NOT_INFERABLE)
    readme = (ROOT / "README.md").read_text()
    for name, reason in multilanguage.NOT_INFERABLE.items():
        assert f"Python only: {reason}." in readme, name
