"""A pod gets only the GPUs it was allocated (issue 16.5): the device plugin's device list strategy.

With the plugin's default `envvar` list and the NVIDIA toolkit's defaults, any unprivileged pod on a
GPU node that sets `NVIDIA_VISIBLE_DEVICES=all` (every CUDA image does) sees every GPU, past its
namespace's GPU quota. The secure setup: the plugin hands GPUs over as `/dev/null` mounts under
`/var/run/nvidia-container-devices` (`volume-mounts`), and every GPU node's toolkit takes devices only
from those mounts. Each cloud gets what its node image allows, from the sourced facts:

- EKS AL2023: `volume-mounts`, the toolkit settings written by the GPU launch template's user data;
- AKS: `envvar` (no node bootstrap; README names the limit); volume-mounts refused by config;
- GKE: GKE's own plugin (device nodes per allocation, no NVIDIA runtime); the setting is refused;
- existing clusters: `volume-mounts` unless the user names `envvar`.

The user data's script is run against the real `nvidia-ctk` (built from the Go module proxy at the
toolkit version whose config keys we cite) and the result read back as TOML.
"""

from __future__ import annotations

import base64
import email
import os
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from _stacks import rejected, stack, with_changed_config
from llm_infra.catalog.aws_facts import DEVICE_LIST_STRATEGY_BY_AMI, GPU_NODE_RUNTIME_SOURCES
from llm_infra.aws.node_bootstrap import TOOLKIT_CONFIG, gpu_isolation_script
from llm_infra.device_list import NODE_RUNTIME_SETTINGS, VOLUME_MOUNTS_ROOT
from llm_infra.testing import ProgramResult

NVIDIA_CTK_VERSION = "v1.20.0"
NVIDIA_CTK_MODULE = "github.com/NVIDIA/nvidia-container-toolkit/cmd/nvidia-ctk"


def _daemonset(result: ProgramResult, name: str) -> dict[str, Any]:
    [ds] = [r.inputs for r in result.kubernetes_objects("DaemonSet") if r.inputs["metadata"]["name"] == name]
    return ds


def _strategy(result: ProgramResult) -> str:
    [c] = _daemonset(result, "nvidia-device-plugin-daemonset")["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value") for e in c["env"]}["DEVICE_LIST_STRATEGY"]


def _gpu_launch_templates(result: ProgramResult) -> list[dict[str, Any]]:
    return [r.inputs for r in result.resources
            if r.type == "aws:ec2/launchTemplate:LaunchTemplate" and "-pool-" in r.name]


def _shell_parts(user_data_b64: str) -> list[str]:
    """The shell scripts cloud-init would run: the MIME parts of type text/x-shellscript."""
    message = email.message_from_bytes(base64.b64decode(user_data_b64))
    assert message.is_multipart() and message.get_content_type() == "multipart/mixed"
    return [p.get_payload() for p in message.walk() if p.get_content_type() == "text/x-shellscript"]


@pytest.mark.parametrize("name", ["dev", "staging", "prod"])
def test_eks_gpu_nodes_hand_gpus_over_as_volume_mounts_and_refuse_the_env_var(name: str) -> None:
    result = stack(name)
    assert _strategy(result) == "volume-mounts"
    templates = _gpu_launch_templates(result)
    assert templates
    for template in templates:
        [script] = _shell_parts(template["userData"])
        assert script == gpu_isolation_script()
        for key, value in NODE_RUNTIME_SETTINGS.items():
            assert f"--set {key}={value}" in script
    # The system nodes run no GPU: their template carries no user data.
    system = [r.inputs for r in result.resources
              if r.type == "aws:ec2/launchTemplate:LaunchTemplate" and "-pool-" not in r.name]
    assert system and all(not t.get("userData") for t in system)


def test_the_dcgm_exporter_asks_for_every_gpu_through_the_volume_mount_list() -> None:
    spec = _daemonset(stack("dev"), "dcgm-exporter")["spec"]["template"]["spec"]
    [c] = spec["containers"]
    [mount] = [m for m in c["volumeMounts"] if m["mountPath"] == f"{VOLUME_MOUNTS_ROOT}/all"]
    assert mount["readOnly"] is True
    [volume] = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    assert volume["hostPath"] == {"path": "/dev/null", "type": "CharDevice"}


def test_envvar_is_an_explicit_opt_out_and_then_the_nodes_stay_as_shipped() -> None:
    def opt_out(raw: dict[str, Any]) -> None:
        raw["llm-infra:device_plugin"] = {"device_list_strategy": "envvar"}

    result = with_changed_config("dev", opt_out)
    assert _strategy(result) == "envvar"
    assert all(not t.get("userData") for t in _gpu_launch_templates(result))
    spec = _daemonset(result, "dcgm-exporter")["spec"]["template"]["spec"]
    assert all(v.get("hostPath", {}).get("path") != "/dev/null" for v in spec["volumes"])


def test_aks_keeps_envvar_because_its_nodes_cannot_be_configured() -> None:
    assert _strategy(stack("azure-dev")) == "envvar"
    problems = rejected("azure-dev", lambda raw: raw.__setitem__(
        "llm-infra:device_plugin", {"device_list_strategy": "volume-mounts"}))
    assert problems == ["device_plugin.device_list_strategy: expected envvar on AKS (no node bootstrap can set the "
                        "NVIDIA runtime's accept-nvidia-visible-devices-as-volume-mounts), got volume-mounts"]


def test_gke_runs_its_own_plugin_so_the_setting_is_refused() -> None:
    assert not stack("gcp-dev").kubernetes_objects("DaemonSet") or all(
        r.inputs["metadata"]["name"] != "nvidia-device-plugin-daemonset" for r in stack("gcp-dev").kubernetes_objects("DaemonSet"))
    problems = rejected("gcp-dev", lambda raw: raw.__setitem__(
        "llm-infra:device_plugin", {"device_list_strategy": "envvar"}))
    assert len(problems) == 1 and problems[0].startswith("device_plugin.device_list_strategy: expected none")


def test_bottlerocket_nodes_are_not_configured_so_volume_mounts_is_refused_there() -> None:
    assert DEVICE_LIST_STRATEGY_BY_AMI["BOTTLEROCKET_x86_64_NVIDIA"] == "envvar"

    def bottlerocket(raw: dict[str, Any]) -> None:
        raw.setdefault("llm-infra:aws", {})["ami_type"] = "BOTTLEROCKET_x86_64_NVIDIA"
        raw["llm-infra:device_plugin"] = {"device_list_strategy": "volume-mounts"}

    problems = rejected("dev", bottlerocket)
    assert len(problems) == 1 and problems[0].startswith("device_plugin.device_list_strategy: expected envvar")


def test_an_unknown_strategy_is_one_line_naming_the_field() -> None:
    problems = rejected("existing", lambda raw: raw.__setitem__(
        "llm-infra:device_plugin", {"device_list_strategy": "cdi-cri"}))
    assert len(problems) == 1 and problems[0].startswith("device_plugin.device_list_strategy:")


def test_the_existing_cluster_defaults_to_volume_mounts() -> None:
    assert _strategy(stack("existing")) == "volume-mounts"


def test_every_fact_the_bootstrap_rests_on_has_a_source() -> None:
    assert all(s.url.startswith("https://") and s.says and s.read for s in GPU_NODE_RUNTIME_SOURCES)
    assert NVIDIA_CTK_VERSION in " ".join(s.url for s in GPU_NODE_RUNTIME_SOURCES)


@pytest.fixture(scope="module")
def nvidia_ctk() -> Path:
    """The real nvidia-ctk, built once from the Go module proxy into the user cache (never the repository)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "llm-infra" / f"nvidia-ctk-{NVIDIA_CTK_VERSION}"
    binary = cache / "nvidia-ctk"
    if not binary.exists():
        go = shutil.which("go")
        assert go, "go is needed to build nvidia-ctk (scripts/setup.sh installs it)"
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([go, "install", f"{NVIDIA_CTK_MODULE}@{NVIDIA_CTK_VERSION}"], check=True,
                       env={**os.environ, "GOBIN": str(cache), "GOFLAGS": "-mod=mod"}, timeout=1200)
    return binary


def test_the_user_data_script_sets_the_toolkit_as_the_real_nvidia_ctk_reads_it(nvidia_ctk: Path, tmp_path: Path) -> None:
    # The AMI's config as the toolkit writes its defaults, then the boot script with the path redirected.
    config = tmp_path / "config.toml"
    defaults = subprocess.run([str(nvidia_ctk), "config", "default"], check=True, capture_output=True, text=True)
    config.write_text(defaults.stdout)
    before = tomllib.loads(config.read_text())
    # As the toolkit ships its config: both keys commented out with their (open) defaults in force.
    assert "#accept-nvidia-visible-devices-envvar-when-unprivileged = true" in defaults.stdout
    assert "#accept-nvidia-visible-devices-as-volume-mounts = false" in defaults.stdout
    assert not NODE_RUNTIME_SETTINGS.keys() & before.keys()

    script = gpu_isolation_script().replace(TOOLKIT_CONFIG, str(config)).replace("nvidia-ctk ", f"{nvidia_ctk} ", 1)
    subprocess.run(["bash", "-c", script], check=True, timeout=60)
    after = tomllib.loads(config.read_text())
    assert after["accept-nvidia-visible-devices-envvar-when-unprivileged"] is False
    assert after["accept-nvidia-visible-devices-as-volume-mounts"] is True
    # Nothing else changed.
    rest = {k: v for k, v in after.items() if k not in NODE_RUNTIME_SETTINGS}
    assert rest == {k: v for k, v in before.items() if k not in NODE_RUNTIME_SETTINGS}


def test_the_policy_knows_the_toolkit_settings() -> None:
    from llm_infra.policies.aws import GPU_NODE_RUNTIME_SETTINGS

    assert GPU_NODE_RUNTIME_SETTINGS == tuple(f"{k}={v}" for k, v in NODE_RUNTIME_SETTINGS.items())
