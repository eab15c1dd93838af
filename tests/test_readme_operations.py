"""README "Calling a model, the dashboards": each command checked where it can run here.

The toy model's request goes to a real tritonserver 2.51 (nvidia-pytriton wheel, CPU)
serving the repository the `existing` stack generates, and must answer what the README
says. The port-forward targets are the Services and ports the plan builds; the dashboard
commands name the Helm release and namespace the plan installs. (No cluster or Helm chart runs here: the chart's Service names
are read, not rendered.) Teardown is tests/test_teardown.py's.
"""

from __future__ import annotations

import json
import re
import shlex

import pytest
import requests

from llm_infra.plan import find_project, parsed_config
from llm_infra.triton.local_server import LocalTritonServer
from llm_infra.triton.model_repository import write_model_repository

from _stacks import stack, with_changed_config

ROOT = find_project().root


def section() -> str:
    readme = (ROOT / "README.md").read_text()
    text = readme[readme.index("\n## Calling a model, the dashboards\n"):]
    return text[: text.find("\n## ", 1)]


def blocks() -> list[list[list[str]]]:
    """Each ```sh block of the section as commands (shell words, comments dropped)."""
    out = []
    for block in re.findall(r"```sh\n(.*?)```", section(), re.S):
        out.append([shlex.split(line, comments=True) for line in block.splitlines() if line.strip()])
    return out


def port_forward(command: list[str]) -> tuple[str, str, int, int]:
    """(namespace, service, local port, service port) of `kubectl -n NS port-forward svc/NAME L:R [&]`."""
    assert command[:2] == ["kubectl", "-n"] and command[3] == "port-forward", command
    local, remote = command[5].split(":")
    return command[2], command[4].removeprefix("svc/"), int(local), int(remote)


def tls_path(curl: list[str], namespace: str, service: str, local: int) -> str:
    """The path a README curl asks over TLS through the port-forward, after checking that it trusts the
    stack's CA and names the Service by a name its certificate carries (TLS is on by default)."""
    host = f"{service}.{namespace}.svc"
    [cert] = [c for c in stack("existing").kubernetes_objects("Certificate")
              if c.k8s_namespace == namespace and c.k8s_name == f"{service}-tls"]
    assert host in cert.inputs["spec"]["dnsNames"]
    assert curl[curl.index("--cacert") + 1] == "ca.crt"
    assert curl[curl.index("--resolve") + 1] == f"{host}:{local}:127.0.0.1"
    [url] = [w for w in curl if w.startswith("https://")]
    assert url.startswith(f"https://{host}:{local}/"), url
    return url.removeprefix(f"https://{host}:{local}")


def service_port(result, namespace: str, name: str, port: int) -> dict:
    [svc] = [s for s in result.kubernetes_objects("Service") if s.k8s_namespace == namespace and s.k8s_name == name]
    assert svc.inputs["spec"]["type"] == "ClusterIP"
    return next(p for p in svc.inputs["spec"]["ports"] if p["port"] == port)


@pytest.mark.triton
def test_the_toy_models_request_gets_the_readmes_answer_from_a_real_tritonserver(tmp_path):
    forward, curl = blocks()[0]
    namespace, service, local, remote = port_forward(forward)
    assert service_port(stack("existing"), namespace, service, remote)["name"] == "http"
    path = tls_path(curl, namespace, service, local)
    body = json.loads(curl[curl.index("-d") + 1])
    assert path.startswith(f"/v2/models/{service}/generate")
    answer = json.loads(re.search(r"answers `(\{.*?\})`", section()).group(1))

    [model] = [m for m in parsed_config("existing").models if m.name == service]
    weights = tmp_path / "weights"
    weights.mkdir()
    repository = write_model_repository([model], tmp_path / "repository", weights_dir=str(weights),
                                        instance_kind="KIND_CPU")
    with LocalTritonServer(repository, exit_timeout_seconds=5) as server:
        response = requests.post(f"{server.http_url}{path}", json=body,
                                 headers={"Connection": "close"}, timeout=60)
    assert response.status_code == 200, response.text
    assert response.json() == answer


def test_the_vllm_request_goes_to_the_generate_endpoint_of_a_decoupled_model():
    forward, curl = blocks()[1]
    namespace, service, local, remote = port_forward(forward)
    result = stack("existing")
    assert service_port(result, namespace, service, remote)["name"] == "http"
    [model] = [m for m in parsed_config("existing").models if m.name == service]
    assert model.backend == "vllm"
    from llm_infra.plan import model_repositories

    config = model_repositories(result)[service]["config.pbtxt"]
    assert re.search(r"decoupled:\s*true", config), config
    body = json.loads(curl[curl.index("-d") + 1])
    assert tls_path(curl, namespace, service, local) == f"/v2/models/{service}/generate"
    assert set(body) == {"text_input", "parameters"} and "max_tokens" in body["parameters"]


def test_the_dashboard_commands_name_the_release_and_namespace_the_stack_installs():
    commands = blocks()[2]
    result = with_changed_config("existing", lambda c: c.__setitem__(
        "llm-infra:monitoring", {**c.get("llm-infra:monitoring", {}), "install_operators": True}))
    [release] = [r for r in result.resources if r.type == "kubernetes:helm.sh/v3:Release"
                 and r.inputs.get("chart") == "kube-prometheus-stack"]
    name, namespace = release.inputs["name"], release.inputs["namespace"]
    grafana = port_forward(commands[0])
    prometheus = port_forward(commands[2])
    # kube-prometheus-stack names its Services <release>-grafana (port 80) and <release>-prometheus (9090).
    assert grafana == (namespace, f"{name}-grafana", 3000, 80)
    assert prometheus == (namespace, f"{name}-prometheus", 9090, 9090)
    # The admin password: the Secret the stack generates for the release (docs/operators.md).
    assert commands[1][:6] == ["kubectl", "-n", namespace, "get", "secret", "grafana-admin"]
    assert release.inputs["values"]["grafana"]["admin"]["existingSecret"] == "grafana-admin"
    # The sidecar label the release configures is the one every model's dashboard carries.
    label = release.inputs["values"]["grafana"]["sidecar"]["dashboards"]["label"]
    dashboards = [c for c in result.kubernetes_objects("ConfigMap") if c.k8s_name.endswith("-dashboard")]
    assert dashboards and all(c.inputs["metadata"]["labels"][label] == "1" and c.k8s_namespace == namespace
                              for c in dashboards)
