"""`llm-infra plan`: what it writes is what the stack builds, secrets never leave."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from llm_infra.cli import main
from llm_infra.plan import SECRET_PLACEHOLDER, find_project, model_repositories
from llm_infra.triton.model_repository import render_model_repository

from _stacks import stack

ROOT = find_project().root


@pytest.fixture(scope="module")
def plan_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("plan")
    assert main(["plan", "existing", "--out", str(out), "--project", str(ROOT)]) == 0
    return out


def test_resources_json_lists_every_resource_with_its_parent_and_provider(plan_dir):
    resources = json.loads((plan_dir / "resources.json").read_text())
    assert len(resources) == len(stack("existing").resources)
    for r in resources:
        assert set(r) >= {"type", "name", "parent", "provider", "inputs"}
    kube = [r for r in resources if r["type"].startswith("kubernetes:") and "kind" in r["inputs"]]
    assert kube and all(r["provider"] for r in kube)


def test_secrets_never_appear_in_the_plan(plan_dir):
    for path in plan_dir.rglob("*"):
        if path.is_file():
            assert SECRET_PLACEHOLDER not in path.read_text(), path
    provider = next(r for r in json.loads((plan_dir / "resources.json").read_text())
                    if r["type"] == "pulumi:providers:kubernetes")
    assert provider["inputs"]["kubeconfig"] == "[secret]"


def test_manifests_are_one_kubernetes_object_per_file(plan_dir):
    files = sorted((plan_dir / "manifests").glob("*.yaml"))
    assert len(files) == len(stack("existing").kubernetes_objects())
    for f in files:
        docs = list(yaml.safe_load_all(f.read_text()))
        assert len(docs) == 1
        assert {"apiVersion", "kind", "metadata"} <= set(docs[0])
    kinds = [yaml.safe_load(f.read_text())["kind"] for f in files]
    assert kinds[0] == "Namespace"


def test_model_repository_is_the_one_mounted_into_triton(plan_dir):
    result = stack("existing")
    repos = model_repositories(result)
    assert set(repos) == {"llama-3-8b", "toy-llm"}
    config = load_stack_config_for("existing")
    for model in config.models:
        expected = render_model_repository(model, weights_dir="/cache/weights")
        written = {str(p.relative_to(plan_dir / "model_repository" / model.name)): p.read_text()
                   for p in (plan_dir / "model_repository" / model.name).rglob("*") if p.is_file()}
        assert written == expected == repos[model.name]


def load_stack_config_for(name: str):
    from llm_infra.config import parse_stack_config
    from llm_infra.plan import stack_config

    config, secrets = stack_config(name)
    return parse_stack_config({k.split(":", 1)[1]: v for k, v in config.items() if k not in secrets})


def test_outputs_hold_every_models_endpoints(plan_dir):
    outputs = json.loads((plan_dir / "outputs.json").read_text())
    assert outputs["model_endpoints"]["llama-3-8b"]["http"] == "https://llama-3-8b.llm-serving.svc.cluster.local:8000"
    assert outputs["device_plugin_deployed"] is True


def test_bad_config_exits_1_naming_the_field_and_writes_nothing(tmp_path, capsys):
    project = tmp_path / "project"
    (project / "stacks").mkdir(parents=True)
    shutil.copy(ROOT / "Pulumi.yaml", project / "Pulumi.yaml")
    shutil.copy(ROOT / "stacks" / "__main__.py", project / "stacks" / "__main__.py")
    data = yaml.safe_load((ROOT / "stacks" / "Pulumi.existing.yaml").read_text())
    data["config"]["llm-infra:gpu_pools"][0]["max_nodes"] = 0
    (project / "stacks" / "Pulumi.broken.yaml").write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    assert main(["plan", "broken", "--out", str(out), "--project", str(project)]) == 1
    err = capsys.readouterr().err
    assert "gpu_pools[0].max_nodes: expected greater than or equal to 1, got 0" in err
    assert not out.exists()


def test_unknown_stack_exits_1(tmp_path, capsys):
    assert main(["plan", "nope", "--out", str(tmp_path / "o"), "--project", str(ROOT)]) == 1
    assert "stack 'nope'" in capsys.readouterr().err


def test_the_console_script_runs_the_plan(tmp_path):
    exe = Path(sys.executable).parent / "llm-infra"
    proc = subprocess.run([str(exe), "plan", "existing", "--out", str(tmp_path / "o")], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "llm-serving/llama-3-8b: https://llama-3-8b.llm-serving.svc.cluster.local:8000" in proc.stdout
    assert "secret: kubernetes lab-cluster-k8s input kubeconfig" in proc.stdout


CLOUD_SDKS = {"pulumi_aws", "pulumi_gcp", "pulumi_azure_native", "pulumi_eks", "pulumi_awsx"}


def test_importing_llm_infra_imports_no_cloud_sdk():
    code = (
        "import sys, llm_infra; from llm_infra import LlmPlatform, TritonLlmWorkload; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {CLOUD_SDKS!r}))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


@pytest.mark.parametrize("name", ["existing", "dev", "gcp-dev", "azure-dev"])
def test_validating_and_pricing_a_stack_imports_no_cloud_sdk(name):
    # Config validation and the cost estimate read each cloud's pure-Python tables
    # (instance types, machine types, VM sizes); the SDK loads only when resources are built.
    code = (
        "import sys; from llm_infra.plan import parsed_config; from llm_infra.planning.stack import plan_stack; "
        f"plan_stack(parsed_config({name!r})); "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {CLOUD_SDKS!r}))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert proc.stdout.strip() == "[]"


def test_every_public_name_resolves():
    import llm_infra

    for name in llm_infra.__all__:
        assert getattr(llm_infra, name) is not None, name
