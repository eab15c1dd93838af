"""GPUs stay with the pods they were allocated to: the admission policy every stack installs (gpu_admission).

The policy and binding are taken from a shipped stack's plan exactly as the stack renders them and
POSTed to a real kube-apiserver 1.34 (`LocalCluster`, fieldValidation=Strict); then pods and workloads
are created against it: what it must refuse is refused with its message, and the stack's own model
workloads, device plugin and DCGM exporter (from the same plan) are admitted.
"""

from __future__ import annotations

import copy
import json
import time
import urllib.error
from typing import Any

import pytest

from _stacks import STACKS, rejected, stack, with_changed_config
from llm_infra.kubernetes import device_plugin
from llm_infra.kubernetes.gpu_admission import (
    DEVICE_SELECTOR_ENV,
    EXEMPTION_SOURCES,
    OPT_OUT_LABEL,
    POLICY_NAME,
    SOURCES,
    SYSTEM_NAMESPACE,
)
from llm_infra.kubernetes.gpu_layer import DEFAULT_DCGM_NAMESPACE
from llm_infra.local.cluster import LocalCluster
from llm_infra.versions import SUPPORTED_KUBERNETES_VERSIONS

POLICY = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy"
BINDING = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding"
PATHS = {"Pod": "/api/v1/namespaces/{ns}/pods", "Deployment": "/apis/apps/v1/namespaces/{ns}/deployments",
         "StatefulSet": "/apis/apps/v1/namespaces/{ns}/statefulsets",
         "DaemonSet": "/apis/apps/v1/namespaces/{ns}/daemonsets",
         "ReplicaSet": "/apis/apps/v1/namespaces/{ns}/replicasets", "Job": "/apis/batch/v1/namespaces/{ns}/jobs",
         "CronJob": "/apis/batch/v1/namespaces/{ns}/cronjobs", "ServiceAccount": "/api/v1/namespaces/{ns}/serviceaccounts"}


def _object(stack_name: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    [r] = [r for r in stack(stack_name).kubernetes_objects(kind) if r.inputs["metadata"]["name"] == name
           and r.inputs["metadata"].get("namespace") == namespace]
    return copy.deepcopy(dict(r.inputs))


# --- the plan ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", STACKS)
def test_every_stack_installs_the_policy_and_binds_it_to_every_namespace_but_the_gpu_agents(name):
    result = stack(name)
    [policy] = [r for r in result.resources if r.type == POLICY]
    [binding] = [r for r in result.resources if r.type == BINDING]
    spec = policy.inputs["spec"]
    assert spec["failurePolicy"] == "Fail"
    assert {r["resources"][0] for r in spec["matchConstraints"]["resourceRules"]} == {"pods", "deployments", "jobs"}
    assert binding.inputs["spec"]["policyName"] == policy.inputs["metadata"]["name"] == POLICY_NAME
    assert "Deny" in binding.inputs["spec"]["validationActions"]
    [exempt] = binding.inputs["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"]
    assert exempt["key"] == "kubernetes.io/metadata.name" and exempt["operator"] == "NotIn"
    # The device plugin's and the DCGM exporter's namespaces, where the stack runs them; nothing else.
    runs_dcgm = any(r.inputs["metadata"]["name"] == "dcgm-exporter" for r in result.kubernetes_objects("DaemonSet"))
    assert set(exempt["values"]) == {SYSTEM_NAMESPACE} | ({DEFAULT_DCGM_NAMESPACE} if runs_dcgm else set())
    assert device_plugin.NAMESPACE == SYSTEM_NAMESPACE
    models = {r.inputs["metadata"]["namespace"] for r in result.kubernetes_objects("StatefulSet")}
    assert models and not models & set(exempt["values"])


def test_the_opt_out_removes_the_policy_and_marks_the_model_namespaces():
    result = with_changed_config("dev", lambda raw: raw.__setitem__("llm-infra:gpu_admission", {"enabled": False}))
    assert not [r for r in result.resources if r.type in (POLICY, BINDING)]
    models = {r.inputs["metadata"]["namespace"] for r in result.kubernetes_objects("StatefulSet")}
    labels = {r.inputs["metadata"]["name"]: r.inputs["metadata"].get("labels", {})
              for r in result.kubernetes_objects("Namespace")}
    assert all(labels[ns][OPT_OUT_LABEL] == "disabled" for ns in models)


def test_extra_exemptions_join_and_a_model_namespace_is_refused():
    result = with_changed_config("existing", lambda raw: raw.__setitem__(
        "llm-infra:gpu_admission", {"exempt_namespaces": ["gpu-operator"]}))
    [binding] = [r for r in result.resources if r.type == BINDING]
    assert "gpu-operator" in binding.inputs["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"][0]["values"]
    problems = rejected("dev", lambda raw: raw.__setitem__("llm-infra:gpu_admission",
                                                          {"exempt_namespaces": ["llm-serving"]}))
    assert problems == ["gpu_admission.exempt_namespaces[0]: expected a namespace other than a model's (its pods "
                        "would see GPUs they were not given), got 'llm-serving'"]


def test_the_policy_rests_on_sourced_facts():
    assert min(SUPPORTED_KUBERNETES_VERSIONS, key=lambda v: tuple(map(int, v.split(".")))) >= "1.30"
    assert any("v1.30" in s.says for s in SOURCES) and all(s.url.startswith("https://") for s in SOURCES)
    assert "NVIDIA_VISIBLE_DEVICES" in DEVICE_SELECTOR_ENV and "CUDA_VISIBLE_DEVICES" not in DEVICE_SELECTOR_ENV
    assert all("NVIDIA_VISIBLE_DEVICES=all" in s.says for s in EXEMPTION_SOURCES)


# --- the real API server -----------------------------------------------------------------------------

def _post(cluster: LocalCluster, obj: dict[str, Any]) -> dict[str, Any]:
    kind = obj["kind"]
    if kind == "Namespace":
        path = "/api/v1/namespaces"
    else:
        path = PATHS[kind].format(ns=obj["metadata"]["namespace"])
    return cluster.request("POST", f"{path}?fieldValidation=Strict", obj)


def _refusal(cluster: LocalCluster, obj: dict[str, Any]) -> tuple[int, str]:
    """(HTTP status, message) of the API server's answer to creating `obj`; (201, '') when admitted."""
    try:
        _post(cluster, obj)
    except urllib.error.HTTPError as exc:
        body = json.loads(exc.read() or b"{}")
        return exc.code, body.get("message", "")
    return 201, ""


def _pod(name: str, namespace: str, *, env: list | None = None, tolerations: list | None = None,
         gpu: str | None = None, node_selector: dict | None = None) -> dict[str, Any]:
    # Pod Security `restricted` (the model namespaces') answers before this policy: the pods pass it.
    container: dict[str, Any] = {"name": "c", "image": "registry.invalid/none:0", "securityContext": {
        "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": True,
        "runAsUser": 10001, "seccompProfile": {"type": "RuntimeDefault"}}}
    if env:
        container["env"] = env
    if gpu is not None:
        container["resources"] = {"limits": {"nvidia.com/gpu": gpu}}
    spec: dict[str, Any] = {"containers": [container]}
    if tolerations:
        spec["tolerations"] = tolerations
    if node_selector:
        spec["nodeSelector"] = node_selector
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A real control plane holding the dev plan's policy, binding and model namespaces."""
    with LocalCluster(tmp_path_factory.mktemp("gpu-admission") / "cluster") as cluster:
        for ns in stack("dev").kubernetes_objects("Namespace"):
            _post(cluster, copy.deepcopy(dict(ns.inputs)))
        cluster.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                       "metadata": {"name": "plain"}})
        for kind, path in ((POLICY, "validatingadmissionpolicies"), (BINDING, "validatingadmissionpolicybindings")):
            [r] = [r for r in stack("dev").resources if r.type == kind]
            cluster.request("POST", f"/apis/admissionregistration.k8s.io/v1/{path}?fieldValidation=Strict",
                            copy.deepcopy(dict(r.inputs)))
        # The policy takes effect once the API server's informers see it: wait for the first refusal.
        deadline = time.monotonic() + 60
        while _refusal(cluster, _pod("probe", "plain", env=[{"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"}]))[0] != 403:
            cluster.request("DELETE", "/api/v1/namespaces/plain/pods/probe?gracePeriodSeconds=0")
            assert time.monotonic() < deadline, "the policy never took effect"
            time.sleep(1)
        yield cluster


@pytest.mark.real_engine
def test_the_real_api_server_type_checks_the_policy_cleanly(cluster):
    deadline = time.monotonic() + 60
    while True:
        status = cluster.get(f"/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/{POLICY_NAME}")
        if status.get("status", {}).get("observedGeneration"):
            break
        assert time.monotonic() < deadline, status
        time.sleep(1)
    warnings = (status["status"].get("typeChecking") or {}).get("expressionWarnings") or []
    conditions = status["status"].get("conditions") or []
    assert not [c for c in conditions if c.get("status") == "False"], conditions
    # Warnings only about the fields one kind lacks (a Pod has no spec.template): the rules themselves type-check.
    assert all("template" in w["warning"] or "jobTemplate" in w["warning"] for w in warnings), warnings


@pytest.mark.real_engine
@pytest.mark.parametrize("variable", DEVICE_SELECTOR_ENV[:2])
def test_a_pod_naming_gpus_itself_is_forbidden(cluster, variable):
    code, message = _refusal(cluster, _pod(f"names-{variable.lower().replace('_', '-')}", "llm-serving",
                                           env=[{"name": variable, "value": "all"}], gpu="1",
                                           tolerations=[GPU_TOLERATION]))
    assert code == 403, message
    assert f"gpu-env: container c sets {variable} (spec.containers[].env)" in message, message
    assert POLICY_NAME in message


@pytest.mark.real_engine
def test_the_selector_from_a_config_map_is_forbidden_too(cluster):
    env = [{"name": "NVIDIA_VISIBLE_DEVICES",
            "valueFrom": {"configMapKeyRef": {"name": "gpus", "key": "all"}}}]
    code, message = _refusal(cluster, _pod("value-from", "llm-serving", env=env, gpu="1", tolerations=[GPU_TOLERATION]))
    assert code == 403 and "gpu-env: container c sets NVIDIA_VISIBLE_DEVICES" in message, message
    pod = _pod("env-from", "llm-serving", gpu="1", tolerations=[GPU_TOLERATION])
    pod["spec"]["containers"][0]["envFrom"] = [{"configMapRef": {"name": "settings"}}]
    code, message = _refusal(cluster, pod)
    assert code == 403 and "gpu-env-from: container c of a GPU pod takes envFrom without a prefix" in message, message
    pod["metadata"]["name"] = "env-from-prefixed"
    pod["spec"]["containers"][0]["envFrom"] = [{"configMapRef": {"name": "settings"}, "prefix": "APP_"}]
    assert _refusal(cluster, pod) == (201, "")


@pytest.mark.real_engine
@pytest.mark.parametrize("namespace", ["llm-serving", "plain"])
def test_a_pod_on_gpu_nodes_without_a_gpu_is_forbidden(cluster, namespace):
    code, message = _refusal(cluster, _pod("tolerates", namespace, tolerations=[GPU_TOLERATION]))
    assert code == 403, message
    assert ("gpu-node-without-gpu: the pod tolerates the nvidia.com/gpu taint (spec.tolerations) but no container "
            "has a nvidia.com/gpu limit") in message, message
    code, message = _refusal(cluster, _pod("zero", namespace, tolerations=[GPU_TOLERATION], gpu="0"))
    assert code == 403 and "gpu-node-without-gpu" in message, message
    code, message = _refusal(cluster, _pod("selects", namespace, node_selector={"llm-infra.io/gpu-pool": "l4"}))
    assert code == 403 and "requires the GPU pool label llm-infra.io/gpu-pool (spec.nodeSelector" in message, message


@pytest.mark.real_engine
def test_a_toleration_of_every_taint_counts_in_the_stacks_namespaces_only(cluster):
    everything = [{"operator": "Exists"}]
    code, message = _refusal(cluster, _pod("everything", "llm-serving", tolerations=everything))
    assert code == 403 and "gpu-node-without-gpu" in message, message
    # Node agents of every cloud tolerate every taint in namespaces the stack does not own.
    assert _refusal(cluster, _pod("everything", "plain", tolerations=everything)) == (201, "")


@pytest.mark.real_engine
def test_workload_templates_are_refused_when_they_are_applied(cluster):
    template = _pod("x", "plain", tolerations=[GPU_TOLERATION])
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "sneaky", "namespace": "plain"},
                  "spec": {"selector": {"matchLabels": {"app": "sneaky"}},
                           "template": {"metadata": {"labels": {"app": "sneaky"}}, "spec": template["spec"]}}}
    code, message = _refusal(cluster, deployment)
    assert code == 403 and "tolerates the nvidia.com/gpu taint (spec.template.spec.tolerations)" in message, message
    cron = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "sneaky", "namespace": "plain"},
            "spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
                **_pod("x", "plain", env=[{"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"}])["spec"],
                "restartPolicy": "Never"}}}}}}
    code, message = _refusal(cluster, cron)
    assert code == 403 and "(spec.jobTemplate.spec.template.spec.containers[].env)" in message, message


@pytest.mark.real_engine
def test_ordinary_workloads_without_gpus_are_admitted(cluster):
    """No rule errors on objects that leave optional fields out (failurePolicy Fail would refuse them all)."""
    spec = _pod("x", "plain")["spec"]
    template = {"metadata": {"labels": {"app": "plain"}}, "spec": spec}
    objects = [
        _pod("plain", "plain", env=[{"name": "CUDA_VISIBLE_DEVICES", "value": "0"}]),
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "plain", "namespace": "plain"},
         "spec": {"selector": {"matchLabels": {"app": "plain"}}, "template": template}},
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "plain", "namespace": "plain"},
         "spec": {"selector": {"matchLabels": {"app": "plain"}}, "template": template}},
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "plain", "namespace": "plain"},
         "spec": {"template": {"spec": {**spec, "restartPolicy": "Never"}}}},
    ]
    for obj in objects:
        assert _refusal(cluster, obj) == (201, ""), obj["kind"]


@pytest.mark.real_engine
def test_the_stacks_own_model_workloads_and_gpu_agents_are_admitted(cluster):
    """The dev plan's model StatefulSets (weight-copy init container, TLS proxy, Triton with its GPUs), its pods
    as the StatefulSet controller creates them, the device plugin and the DCGM exporter: all admitted."""
    for ns, account in (("llm-serving", "triton-llama-3-8b"), ("llm-sandbox", "triton-toy-llm")):
        _post(cluster, _object("dev", "ServiceAccount", account, ns))
    for ns, name in (("llm-serving", "llama-3-8b"), ("llm-sandbox", "toy-llm")):
        assert _refusal(cluster, _object("dev", "StatefulSet", name, ns)) == (201, ""), name
    for ns, name in ((SYSTEM_NAMESPACE, "nvidia-device-plugin-daemonset"), (DEFAULT_DCGM_NAMESPACE, "dcgm-exporter")):
        assert _refusal(cluster, _object("dev", "DaemonSet", name, ns)) == (201, ""), name
    deadline = time.monotonic() + 90
    while True:
        pods = cluster.get("/api/v1/namespaces/llm-sandbox/pods")["items"]
        if [p for p in pods if p["metadata"]["name"] == "toy-llm-0"]:
            break
        events = cluster.get("/api/v1/namespaces/llm-sandbox/events")["items"]
        refused = [e["message"] for e in events if e.get("reason") == "FailedCreate"]
        assert not refused, refused
        assert time.monotonic() < deadline, "the StatefulSet controller created no pod"
        time.sleep(1)
    # The exemption is what admits the GPU agents: the same DaemonSet anywhere else is refused.
    plugin = _object("dev", "DaemonSet", "nvidia-device-plugin-daemonset", SYSTEM_NAMESPACE)
    plugin["metadata"]["namespace"] = "plain"
    code, message = _refusal(cluster, plugin)
    assert code == 403 and "gpu-node-without-gpu" in message, message



# --- the policy rule (llm_infra.policies.gpu_admission) ----------------------------------------------

def _resources(name: str, result=None) -> list:
    from llm_infra.policies import Resource

    return [Resource(r.type, r.name, copy.deepcopy(r.inputs), r.protect, r.retain_on_delete, r.urn)
            for r in (result or stack(name)).resources]


def _fired(resources: list) -> list[str]:
    from llm_infra.policies import Context, evaluate
    from llm_infra.policies.gpu_admission import RULES

    return [v.message for v in evaluate(resources, Context(production=False), RULES)]


def test_the_rule_knows_the_librarys_names():
    from llm_infra.kubernetes import gpu_admission as library
    from llm_infra.policies import gpu_admission as rule

    assert (rule.POLICY_NAME, rule.OPT_OUT_LABEL, rule.OPT_OUT_VALUE, rule.DEVICE_SELECTOR_ENV, rule.GPU_RESOURCE) == (
        library.POLICY_NAME, library.OPT_OUT_LABEL, library.OPT_OUT_VALUE, library.DEVICE_SELECTOR_ENV,
        library.GPU_RESOURCE)


@pytest.mark.parametrize("name", STACKS)
def test_every_shipped_stack_passes_the_rule(name):
    assert _fired(_resources(name)) == []


def test_the_rule_fires_on_a_plan_without_the_policy_unless_the_stack_opted_out():
    plan = _resources("existing")
    without = [r for r in plan if r.kind not in ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")]
    fired = _fired(without)
    assert len(fired) == 2 and f"no ValidatingAdmissionPolicy {POLICY_NAME}" in fired[0], fired
    opted_out = with_changed_config("existing", lambda raw: raw.__setitem__("llm-infra:gpu_admission",
                                                                            {"enabled": False}))
    assert _fired(_resources("existing", opted_out)) == []
    # The label alone on some model namespaces is not an opt-out for the others.
    plan = _resources("dev")
    [serving] = [r for r in plan if r.kind == "Namespace" and r.inputs["metadata"]["name"] == "llm-serving"]
    serving.inputs["metadata"]["labels"][OPT_OUT_LABEL] = "disabled"
    assert _fired([r for r in plan if r.kind != "ValidatingAdmissionPolicyBinding"]), "llm-sandbox is still judged"


def test_the_rule_reads_what_the_policy_and_binding_say():
    plan = _resources("dev")
    [policy] = [r for r in plan if r.kind == "ValidatingAdmissionPolicy"]
    [binding] = [r for r in plan if r.kind == "ValidatingAdmissionPolicyBinding"]
    policy.inputs["spec"]["failurePolicy"] = "Ignore"
    binding.inputs["spec"]["validationActions"] = ["Warn"]
    binding.inputs["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"][0]["values"].append("llm-serving")
    fired = _fired(plan)
    assert any("failurePolicy 'Ignore': set Fail" in m for m in fired), fired
    assert any("validationActions ['Warn']: include Deny" in m for m in fired), fired
    assert any("exempts model namespace llm-serving" in m for m in fired), fired
    policy.inputs["spec"]["validations"] = policy.inputs["spec"]["validations"][2:]
    policy.inputs["spec"]["variables"] = [v for v in policy.inputs["spec"]["variables"] if v["name"] != "envSetters"]
    assert any("never name NVIDIA_VISIBLE_DEVICES" in m for m in _fired(plan))
