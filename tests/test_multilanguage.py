"""The multi-language package: Pulumi's schema inference, run in-process over every component.

Every public component (what `llm_infra` exports) and every cloud component is served by
the package, and Pulumi's analyzer infers it completely: present, every input, output and
type property described, nothing rejected. Then the package's own provider constructs
components from inputs shaped as the engine delivers them from a YAML, TypeScript or Go
program (camelCase names, every number a float), and the result is the same as the
Python API's. Finally the plugin is started the way Pulumi's Python language host starts
it and asked for its schema over gRPC.
"""

import importlib
import inspect
import json
import re
import runpy
import subprocess
import sys
import typing
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from llm_infra import multilanguage
from llm_infra.config import (
    ConfigError,
    DevicePluginConfig,
    ModelConfig,
    MonitoringConfig,
    StackConfig,
    schema_type,
)
from llm_infra.plan import find_project, parsed_config
from llm_infra.testing import run_program

ROOT = find_project().root
TOKEN = "llm-infra:index:{}"
CONFIG_MODELS = (StackConfig, ModelConfig, MonitoringConfig, DevicePluginConfig)


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


@lru_cache(maxsize=None)
def analyzed() -> dict[str, Any]:
    from pulumi.provider.experimental.analyzer import Analyzer

    return Analyzer(multilanguage.PACKAGE_NAME).analyze(multilanguage.hosted_components())


@lru_cache(maxsize=None)
def provider():
    return multilanguage.provider("0.1.0")


@lru_cache(maxsize=None)
def schema() -> dict[str, Any]:
    return json.loads(provider().schema)


# --- the schema -------------------------------------------------------------------------------


def test_every_public_component_is_served_by_the_package():
    assert set(multilanguage.HOSTED) == set(COMPONENTS)
    for name, module in multilanguage.HOSTED.items():
        assert COMPONENTS[name].__module__ == module, name
    assert set(analyzed()["component_definitions"]) == set(COMPONENTS)


def _described(text: str | None) -> bool:
    return bool(" ".join((text or "").split()))


def test_every_input_output_and_type_property_is_described_and_every_optional_input_names_its_default():
    result = analyzed()
    for name, definition in result["component_definitions"].items():
        assert _described(definition.description), name
        assert definition.inputs and definition.outputs, name
        for field, prop in {**definition.inputs, **definition.outputs}.items():
            assert _described(prop.description), (name, field)
        for field, prop in definition.inputs.items():
            if prop.optional:
                assert "Defaults to" in prop.description, (name, field)
    for type_name, definition in result["type_definitions"].items():
        assert _described(definition.description), type_name
        for field, prop in definition.properties.items():
            assert _described(prop.description), (type_name, field)
            if prop.optional:
                assert "Defaults to" in prop.description, (type_name, field)


def test_every_schema_type_is_the_packages_own_and_depends_only_on_the_cloud_and_kubernetes_providers():
    result = analyzed()
    for type_name, definition in result["type_definitions"].items():
        assert definition.module.startswith("llm_infra."), (type_name, definition.module)
    assert {d.name for d in result["dependencies"]} <= {"kubernetes", "aws", "gcp", "azure-native"}


def test_output_types_inside_maps_and_lists_have_names_that_camel_case_leaves_alone():
    # The provider host renames the keys of an output object only when the output *is* that
    # object; inside a map or list it hands the Python dict over as is. So such a type's
    # property names must read the same in both spellings, or other languages would miss them.
    result = analyzed()
    checked = 0
    for definition in result["component_definitions"].values():
        for prop in definition.outputs.values():
            inner = prop.items or prop.additional_properties
            if inner is not None and inner.ref and inner.ref.startswith("#/types/"):
                nested = result["type_definitions"][inner.ref.rsplit(":", 1)[-1]]
                assert all(k == v for k, v in nested.properties_mapping.items()), nested.name
                checked += 1
    assert checked  # LlmPlatform.model_endpoints


def _literals(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) is typing.Literal:
        return list(typing.get_args(annotation))
    return [x for arg in typing.get_args(annotation) for x in _literals(arg)]


def _config_models() -> set[type]:
    found: set[type] = set()

    def walk(model: type) -> None:
        if model in found:
            return
        found.add(model)
        for info in model.model_fields.values():
            stack = [info.annotation]
            while stack:
                t = stack.pop()
                if inspect.isclass(t) and issubclass(t, ModelConfig.__mro__[1]):
                    walk(t)
                stack += list(typing.get_args(t))

    for model in CONFIG_MODELS:
        walk(model)
    return found


@pytest.mark.parametrize("model", sorted(_config_models(), key=lambda m: m.__name__), ids=lambda m: m.__name__)
def test_config_inputs_are_the_config_models_fields_with_their_own_docs_and_every_choice_named(model):
    from pulumi.provider.experimental.analyzer import Analyzer

    definition = analyzed()["type_definitions"][model.__name__]
    assert definition.python_type is schema_type(model)
    assert set(definition.properties_mapping.values()) == set(model.model_fields)
    analyzer = Analyzer("check")
    for field, info in model.model_fields.items():
        prop = definition.properties[next(k for k, v in definition.properties_mapping.items() if v == field)]
        assert prop.optional == (not info.is_required()), (model.__name__, field)
        # The description is the docstring under the pydantic field itself: one definition.
        assert prop.description == analyzer.get_docstring(model, field), (model.__name__, field)
        missing = [choice for choice in _literals(info.annotation) if str(choice) not in prop.description]
        assert not missing, (model.__name__, field, missing)


def test_the_schema_names_every_component_by_its_python_type_token():
    resources = schema()["resources"]
    assert set(resources) == {TOKEN.format(n) for n in COMPONENTS}
    for name, cls in COMPONENTS.items():
        assert f'"{TOKEN.format(name)}"' in inspect.getsource(cls), name
        assert resources[TOKEN.format(name)]["isComponent"] is True
    workload = resources[TOKEN.format("TritonLlmWorkload")]["inputProperties"]
    assert workload["model"] == {**workload["model"], "$ref": "#/types/llm-infra:index:ModelConfig", "plain": True}
    cluster = schema()["types"]["llm-infra:index:WorkloadCluster"]["properties"]
    assert cluster["provider"]["$ref"].endswith("/resources/pulumi:providers:kubernetes")


# --- components built by the package's provider, from inputs as the engine delivers them -------


def _wire(value: Any, spec: dict[str, Any]) -> Any:
    """`value` (Python names) as the engine hands it to the provider: schema names, numbers as floats."""
    if "$ref" in spec and spec["$ref"].startswith("#/types/"):
        properties = schema()["types"][spec["$ref"][len("#/types/"):]]["properties"]
        by_python = {_snake(k): k for k in properties}
        return {by_python[k]: _wire(v, properties[by_python[k]]) for k, v in value.items() if v is not None}
    if spec.get("type") == "array":
        return [_wire(v, spec["items"]) for v in value]
    if spec.get("type") == "object" and "additionalProperties" in spec:
        return {k: _wire(v, spec["additionalProperties"]) for k, v in value.items()}
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _inputs(component: str, values: dict[str, Any]) -> dict[str, Any]:
    spec = schema()["resources"][TOKEN.format(component)]["inputProperties"]
    out = {}
    for key, value in values.items():
        wire = next(k for k in spec if _snake(k) == key)
        out[wire] = value if isinstance(value, pulumi.Resource | pulumi.Output) else _wire(value, spec[wire])
    return out


def _registrations(result) -> list[tuple[str, str, str]]:
    return sorted((r.type, r.name, json.dumps(r.inputs, sort_keys=True, default=str)) for r in result.resources)


MODEL = {
    "name": "mistral-7b", "backend": "vllm", "weights_uri": "s3://my-models/mistralai/Mistral-7B-Instruct-v0.3",
    "weights_size_gib": 15, "revision": "547a43522dbc3e4c4ef161cebd9b275907b852fedc6a4d63a59f1cbc3be8c09a", "gpu_pool": "l4", "min_replicas": 1, "max_replicas": 2,
    "clients": ["chat-frontend"], "batching": {"max_batch_size": 32, "preferred_batch_sizes": [8, 16]},
    "engine_args": {"gpu_memory_utilization": 0.85, "enforce_eager": True}, "shape": "Mistral-7B-v0.3",
}
ROLE = {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/mistral-weights"}


def _workload(construct: bool, model: dict[str, Any] = MODEL) -> Any:
    import pulumi_kubernetes as k8s

    from llm_infra import TritonLlmWorkload

    def program() -> None:
        cluster = k8s.Provider("cluster", kubeconfig=pulumi.Output.secret("kubeconfig"))
        args = {"model": model, "cluster": {"provider": cluster, "storage_class": "encrypted-ssd", "zone_label": "zone"},
                "service_account_annotations": ROLE, "production": False,
                "monitoring": {"namespace": "observability"}}
        if construct:
            wire = _inputs("TritonLlmWorkload", {**args, "cluster": {}})
            wire["cluster"] = {"provider": cluster, "storageClass": "encrypted-ssd", "zoneLabel": "zone"}
            state = provider().construct("mistral", TOKEN.format("TritonLlmWorkload"), wire).state
            pulumi.export("http", state["httpEndpoint"])
        else:
            workload = TritonLlmWorkload("mistral", {**args, "model": ModelConfig.model_validate(model),
                                                     "monitoring": MonitoringConfig(namespace="observability")})
            pulumi.export("http", workload.http_endpoint)

    return run_program(program)


def test_a_workload_built_from_another_languages_inputs_is_the_python_apis_workload():
    python, hosted = _workload(construct=False), _workload(construct=True)
    assert _registrations(hosted) == _registrations(python)
    assert hosted.outputs == python.outputs == {"http": "http://mistral-7b.llm-serving.svc.cluster.local:8000"}
    sts = hosted.k8s("StatefulSet", "mistral-7b", "llm-serving")
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] == "encrypted-ssd"
    assert hosted.k8s("ServiceAccount", "triton-mistral-7b", "llm-serving")["metadata"]["annotations"] == ROLE


def _rejected(model: Callable[[], dict[str, Any]]) -> str:
    """What the provider says to `model` (made inside the program), after registering no component."""
    from pulumi.provider.server import ComponentInitError

    registered: list[str] = []
    with pytest.raises(ComponentInitError) as info:
        run_program(lambda: _workload_program(model()), on_register=registered.append)
    assert not [r for r in registered if r.startswith("llm-infra:")], registered
    assert isinstance(info.value.__context__, ConfigError)
    return str(info.value.__context__)


def _workload_program(model: dict[str, Any]) -> None:
    import pulumi_kubernetes as k8s

    cluster = k8s.Provider("cluster", kubeconfig="kubeconfig")
    wire = _inputs("TritonLlmWorkload", {"cluster": {}, "production": False})
    wire["model"] = model
    wire["cluster"] = {"provider": cluster, "storageClass": "encrypted-ssd"}
    provider().construct("mistral", TOKEN.format("TritonLlmWorkload"), wire)


def test_bad_input_from_another_language_is_rejected_naming_the_field_before_anything_is_registered():
    good = _wire(MODEL, {"$ref": "#/types/llm-infra:index:ModelConfig"})
    assert "model.batching.max_batch_size: expected less than or equal to 4096, got 5000" in _rejected(
        lambda: {**good, "batching": {"maxBatchSize": 5000.0}})
    from pulumi.errors import InputPropertyError

    with pytest.raises(InputPropertyError, match=r"model\.gpusPerReplica: expected a whole number, got 1\.5"):
        run_program(lambda: _workload_program({**good, "gpusPerReplica": 1.5}))
    assert "model.active_hours: expected a window" in _rejected(lambda: {**good, "minReplicas": 0.0})


def test_a_config_input_that_is_an_output_of_another_resource_is_rejected_naming_the_field():
    good = _wire(MODEL, {"$ref": "#/types/llm-infra:index:ModelConfig"})
    from pulumi.output import Unknown

    message = _rejected(lambda: {**good, "revision": pulumi.Output.from_input("v0.3")})
    assert "model.revision: expected a plain value known before deployment" in message
    # At preview the engine hands over a value that only the deployment will compute as Unknown.
    message = _rejected(lambda: {**good, "clients": ["chat-frontend", Unknown()]})
    assert "model.clients[1]: expected a plain value known before deployment" in message


def _platform(construct: bool, stack: str) -> Any:
    from llm_infra import LlmPlatform

    config = parsed_config(stack)

    def program() -> None:
        if construct:
            provider().construct(config.environment, TOKEN.format("LlmPlatform"),
                                 _inputs("LlmPlatform", {"config": config.model_dump(), "kubeconfig": "kubeconfig"}))
        else:
            LlmPlatform(config.environment, {"config": config, "kubeconfig": "kubeconfig"})

    return run_program(program, {"aws:region": config.region} if config.region else None)


@pytest.mark.parametrize("stack", ["existing", "dev"])
def test_a_whole_platform_from_another_languages_config_is_the_python_apis_platform(stack):
    hosted = _platform(construct=True, stack=stack)
    assert _registrations(hosted) == _registrations(_platform(construct=False, stack=stack))
    assert any(r.type == "kubernetes:apps/v1:StatefulSet" for r in hosted.resources)


# --- the plugin as Pulumi runs it -------------------------------------------------------------


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


def test_python_m_llm_infra_serves_every_component_with_the_packages_version(monkeypatch):
    import pulumi.provider

    calls = []
    monkeypatch.setattr(pulumi.provider, "main", lambda served, args: calls.append((served, args)))
    monkeypatch.setattr(sys, "argv", ["llm_infra", "127.0.0.1:1"])
    monkeypatch.delitem(sys.modules, "llm_infra.__main__", raising=False)
    runpy.run_module("llm_infra", run_name="__main__")
    [(served, args)] = calls
    assert args == ["127.0.0.1:1"]
    assert json.loads(served.schema)["version"] == __import__("llm_infra").__version__
    assert set(json.loads(served.schema)["resources"]) == {TOKEN.format(n) for n in multilanguage.HOSTED}


def test_integer_inputs_reach_components_as_ints_and_fractions_are_refused_naming_the_field():
    import pulumi_kubernetes as k8s
    from pulumi.errors import InputPropertyError

    def program(quota: float) -> None:
        cluster = k8s.Provider("cluster", kubeconfig="kubeconfig")
        provider().construct("serving", TOKEN.format("TenantNamespace"),
                             {"provider": cluster, "namespace": "llm-serving", "gpuQuota": quota})

    result = run_program(lambda: program(4.0))
    assert result.k8s("ResourceQuota", "gpu-quota", "llm-serving")["spec"]["hard"] == {"requests.nvidia.com/gpu": "4"}
    with pytest.raises(InputPropertyError, match=r"gpuQuota: expected a whole number, got 4\.5"):
        run_program(lambda: program(4.5))


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
            served = json.loads(stub.GetSchema(provider_pb2.GetSchemaRequest(version=0), timeout=120).schema)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert served["name"] == "llm-infra" and served["version"] == __import__("llm_infra").__version__
    assert set(served["resources"]) == {TOKEN.format(n) for n in multilanguage.HOSTED}
    assert served["types"] == schema()["types"]


def test_component_table_lists_exactly_the_served_components():
    import importlib.util

    spec = importlib.util.spec_from_file_location("component_table_ml", ROOT / "scripts" / "component_table.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["component_table_ml"] = module
    spec.loader.exec_module(module)
    assert module.hosted() == multilanguage.HOSTED
    listed = {c.name for _, group in module.components() for c in group}
    assert listed == set(COMPONENTS)
    assert not Path(ROOT / "docs" / "multilanguage.md").read_text().count("Python-only for now")


# --- the YAML example, built through the package's provider ------------------------------------


def _floats(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_floats(v) for v in value]
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _resolve(value: Any, env: dict[str, Any]) -> Any:
    if isinstance(value, str):
        whole = re.fullmatch(r"\$\{([\w-]+)(?:\.(\w+))?\}", value)
        if whole:
            head, attribute = whole.groups()
            return env[head].state[attribute] if attribute else env[head]
        assert "${" not in value, value
        return value
    if isinstance(value, list):
        return [_resolve(v, env) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, env) for k, v in value.items()}
    return value


def test_yaml_example_builds_under_the_mock_engine_through_the_package_provider():
    """Each resource of the YAML program constructed by the package's provider, as the engine would."""
    program = yaml.safe_load((ROOT / "examples" / "yaml-consumer" / "Pulumi.yaml").read_text())
    role = "arn:aws:iam::123456789012:role/mistral-weights"

    def run() -> None:
        env: dict[str, Any] = {k: v.get("default", f"<{k}>") for k, v in program["config"].items()}
        env["roleArn"] = role
        for name, resource in program["resources"].items():
            properties = _floats(_resolve(resource.get("properties") or {}, env))
            if resource["type"] == "pulumi:providers:kubernetes":  # the program's own provider
                import pulumi_kubernetes as k8s

                env[name] = k8s.Provider(name, kubeconfig=pulumi.Output.secret(properties["kubeconfig"]),
                                         enable_server_side_apply=properties["enableServerSideApply"])
                continue
            env[name] = provider().construct(name, resource["type"], properties, pulumi.ResourceOptions())
        for key, ref in program["outputs"].items():
            head, attribute = re.fullmatch(r"\$\{([\w-]+)\.(\w+)\}", ref).groups()
            pulumi.export(key, env[head].state[attribute])

    result = run_program(run, project="yaml-consumer")
    [cluster] = result.of_type("pulumi:providers:kubernetes")
    assert cluster.secret_paths == ["kubeconfig"]
    assert all(r.provider and r.provider.startswith(cluster.urn) for r in result.kubernetes_objects())
    assert result.outputs == {"httpEndpoint": "http://mistral-7b.llm-serving.svc.cluster.local:8000",
                              "grpcEndpoint": "mistral-7b.llm-serving.svc.cluster.local:8001",
                              "servingNamespace": "llm-serving", "devicePluginDeployed": True}
    sts = result.k8s("StatefulSet", "mistral-7b", "llm-serving")
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] == "encrypted-ssd"
    assert result.k8s("ServiceAccount", "triton-mistral-7b", "llm-serving")["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": role}
    assert result.k8s("ResourceQuota", "gpu-quota", "llm-serving")["spec"]["hard"] == {"requests.nvidia.com/gpu": "4"}
    assert {r.type for r in result.resources if r.type.startswith("llm-infra:")} == {
        TOKEN.format(r["type"].rsplit(":", 1)[-1]) for r in program["resources"].values()
        if r["type"].startswith("llm-infra:")} | {
        TOKEN.format(n) for n in ("NvidiaDevicePlugin", "DcgmExporter", "TenantNamespace")}


def test_with_the_base_install_the_plugin_serves_the_kubernetes_layer_and_names_the_extra_for_a_cloud(tmp_path):
    # The base install has no cloud SDK: a subprocess in which none can be imported.
    (tmp_path / "sitecustomize.py").write_text(
        "import sys\n"
        "class _Hide:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('pulumi_aws', 'pulumi_gcp', 'pulumi_azure_native'):\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, _Hide())\n")
    code = (
        "import json, sys\n"
        "from llm_infra import multilanguage\n"
        "p = multilanguage.provider('0.0.0')\n"
        "print(json.dumps(sorted(json.loads(p.schema)['resources'])))\n"
        "try:\n"
        "    p.construct('eks', 'llm-infra:index:EksCluster', {})\n"
        "except ValueError as exc:\n"
        "    print(exc)\n"
        "print(sorted(m for m in sys.modules if m.startswith(('pulumi_aws', 'pulumi_gcp', 'pulumi_azure'))))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={**__import__("os").environ, "PYTHONPATH": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    served, refusal, imported = proc.stdout.splitlines()
    base = {n for n in multilanguage.HOSTED if multilanguage.extra_of(n) is None}
    assert set(json.loads(served)) == {TOKEN.format(n) for n in base}
    assert refusal == ("llm-infra:index:EksCluster needs llm-infra's aws extra (pulumi_aws is not installed): "
                       "pip install 'llm-infra[aws]'")
    assert imported == "[]"
