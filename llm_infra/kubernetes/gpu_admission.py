"""Admission control that keeps GPUs with the pods they were allocated to (defence in depth, every cloud).

The NVIDIA container toolkit hands a container the GPUs its environment names. On AKS the device plugin
must stay `envvar` (no node bootstrap hook for the toolkit's settings: `llm_infra.guardrails`), so a
container that names GPUs itself, or any CUDA image (they set `NVIDIA_VISIBLE_DEVICES=all`) running on a
GPU node without an allocation, sees every GPU of the node. Elsewhere the device list strategy closes
most of that, but not on an existing cluster whose nodes were never configured.

A `ValidatingAdmissionPolicy` (CEL, in the API server; no webhook to run) therefore refuses, outside
the exempt namespaces:

- `gpu-env`: a container, init container or ephemeral container that sets one of the toolkit's device
  or capability selectors (`DEVICE_SELECTOR_ENV`) by value or `valueFrom`;
- `gpu-env-from`: in a pod that requests GPUs, `envFrom` without a prefix (its keys, invisible at
  admission, could be one of those names) or with a prefix that starts with `NVIDIA_`;
- `gpu-node-without-gpu`: a pod that tolerates the GPU taint, or requires the GPU pool label, while no
  container or init container has a `nvidia.com/gpu` limit above zero. A toleration of every taint
  (`operator: Exists` without a key) counts in the stack's own namespaces only: node agents of every
  cloud (kube-proxy, CNI, log and metrics collectors) carry one, in namespaces we cannot list.

Pods and the pod templates of Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs are
judged, so a bad workload fails at `pulumi up` / `kubectl apply` rather than as FailedCreate events of a
controller (which pulumi-kubernetes would only report as an await timeout).

Exempt: `kube-system` (the device plugin, `device_plugin.NAMESPACE`, and every cloud's node agents) and
the DCGM exporter's namespace. Both DaemonSets need every GPU of the node: their images set
`NVIDIA_VISIBLE_DEVICES=all` and their manifests tolerate the GPU taint without requesting a GPU
(`EXEMPTION_SOURCES`). Users add others (a GPU Operator's namespace) with `gpu_admission.exempt_namespaces`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from llm_infra.config import ConfigError
from llm_infra.contract import DEFAULT_GPU_POOL_LABEL, GPU_TAINT_KEY
from llm_infra.facts import Source

POLICY_NAME = "llm-infra-gpu-isolation"
GPU_RESOURCE = "nvidia.com/gpu"
# Always exempt: the device plugin runs here (device_plugin.NAMESPACE), as does every cloud's node agent.
SYSTEM_NAMESPACE = "kube-system"
# The stack's own namespaces carry this label (TenantNamespace); a toleration of every taint counts there.
PART_OF_LABEL = ("app.kubernetes.io/part-of", "llm-infra")
# The named opt-out, on each model namespace, so the plan (and the policy rule) can see it.
OPT_OUT_LABEL = "llm-infra.io/gpu-admission"
OPT_OUT_VALUE = "disabled"

# The container toolkit's environment variables that choose which devices and driver capabilities a
# container gets (internal/config/image/envvars.go@v1.20.0). Not refused: NVIDIA_REQUIRE_* and
# NVIDIA_DISABLE_REQUIRE (version checks; they grant nothing), and CUDA_VISIBLE_DEVICES, which the CUDA
# runtime reads inside the container: it only narrows or reorders the devices the container already has.
DEVICE_SELECTOR_ENV = (
    "NVIDIA_VISIBLE_DEVICES",
    "NVIDIA_DRIVER_CAPABILITIES",
    "NVIDIA_IMEX_CHANNELS",
    "NVIDIA_MIG_CONFIG_DEVICES",
    "NVIDIA_MIG_MONITOR_DEVICES",
)
VALIDATION_ACTIONS = ("Deny", "Audit")

SOURCES = (
    Source("https://kubernetes.io/docs/reference/access-authn-authz/validating-admission-policy/",
           "ValidatingAdmissionPolicy and its Binding, admissionregistration.k8s.io/v1: stable since Kubernetes "
           "v1.30 (every version in versions.SUPPORTED_KUBERNETES_VERSIONS); variables, messageExpression, "
           "matchConditions, namespaceObject, validationActions Deny/Audit/Warn, failurePolicy Fail by default."),
    Source("https://github.com/kubernetes/enhancements/tree/master/keps/sig-api-machinery/3488-cel-admission-control",
           "KEP-3488 CEL for Admission Control: alpha v1.26, beta v1.28, GA v1.30."),
    Source("https://github.com/NVIDIA/nvidia-container-toolkit/blob/v1.20.0/internal/config/image/envvars.go",
           "The toolkit's device and capability selectors: NVIDIA_VISIBLE_DEVICES, NVIDIA_DRIVER_CAPABILITIES, "
           "NVIDIA_IMEX_CHANNELS, NVIDIA_MIG_CONFIG_DEVICES, NVIDIA_MIG_MONITOR_DEVICES; NVIDIA_REQUIRE_* checks."),
    Source("https://github.com/kubernetes/kubernetes/blob/master/pkg/kubelet/kubelet_pods.go",
           "GenerateRunContainerOptions starts from the device manager's options (the plugin's Allocate env) and "
           "appends the container's own env after them (read through code search in several releases, not at a "
           "pinned tag): a runtime that applies them in order lets a container's NVIDIA_VISIBLE_DEVICES replace "
           "the GPUs it was allocated under `envvar`."),
)
EXEMPTION_SOURCES = (
    Source("https://github.com/NVIDIA/k8s-device-plugin/blob/v0.17.0/deployments/container/Dockerfile",
           "The device plugin image sets ENV NVIDIA_VISIBLE_DEVICES=all (line 71) and "
           "NVIDIA_DRIVER_CAPABILITIES=compute,utility: it enumerates every GPU of the node to advertise them; "
           "deployments/static/nvidia-device-plugin.yml@v0.17.0 runs it in kube-system, tolerating nvidia.com/gpu "
           "with no GPU request."),
    Source("https://github.com/NVIDIA/dcgm-exporter/blob/3.3.9-3.6.1/docker/Dockerfile.ubuntu22.04",
           "The DCGM exporter image sets ENV NVIDIA_VISIBLE_DEVICES=all (line 82): it reads every GPU's counters; "
           "dcgm-exporter.yaml@3.3.9-3.6.1 requests no GPU."),
)


def _cel_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


def policy_spec(gpu_pool_label: str = DEFAULT_GPU_POOL_LABEL) -> dict[str, Any]:
    """The ValidatingAdmissionPolicy's spec, in the API's own field names."""
    env = _cel_list(DEVICE_SELECTOR_ENV)
    gpu = f"'{GPU_RESOURCE}'"
    label = f"'{gpu_pool_label}'"

    def gpu_limit(c: str) -> str:
        return (f"has({c}.resources) && has({c}.resources.limits) && {gpu} in {c}.resources.limits && "
                f"string({c}.resources.limits[{gpu}]) != '0'")

    variables = [
        ("spec", "object.kind == 'Pod' ? object.spec : (object.kind == 'CronJob' ? "
                 "object.spec.jobTemplate.spec.template.spec : object.spec.template.spec)"),
        ("path", "object.kind == 'Pod' ? 'spec' : (object.kind == 'CronJob' ? "
                 "'spec.jobTemplate.spec.template.spec' : 'spec.template.spec')"),
        ("containers", "variables.spec.containers"
                       " + (has(variables.spec.initContainers) ? variables.spec.initContainers : [])"
                       " + (has(variables.spec.ephemeralContainers) ? variables.spec.ephemeralContainers : [])"),
        ("requestsGpu", f"variables.containers.exists(c, {gpu_limit('c')})"),
        ("ownNamespace", f"has(namespaceObject.metadata.labels) && '{PART_OF_LABEL[0]}' in "
                         f"namespaceObject.metadata.labels && namespaceObject.metadata.labels['{PART_OF_LABEL[0]}'] "
                         f"== '{PART_OF_LABEL[1]}'"),
        ("toleratesGpu", f"has(variables.spec.tolerations) && variables.spec.tolerations.exists(t, "
                         f"(has(t.key) && t.key == '{GPU_TAINT_KEY}') || ((!has(t.key) || t.key == '') && "
                         f"has(t.operator) && t.operator == 'Exists' && variables.ownNamespace))"),
        ("selectsGpuPool", f"(has(variables.spec.nodeSelector) && {label} in variables.spec.nodeSelector) || "
                           "(has(variables.spec.affinity) && has(variables.spec.affinity.nodeAffinity) && "
                           "has(variables.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution) && "
                           "variables.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
                           ".nodeSelectorTerms.exists(term, has(term.matchExpressions) && term.matchExpressions"
                           f".exists(e, e.key == {label} && e.operator in ['In', 'Exists'])))"),
        ("envSetters", f"variables.containers.filter(c, has(c.env) && c.env.exists(e, e.name in {env}))"),
        ("envFromSetters", "variables.containers.filter(c, has(c.envFrom) && c.envFrom.exists(s, "
                           "!has(s.prefix) || s.prefix == '' || s.prefix.startsWith('NVIDIA_')))"),
    ]
    validations = [
        {
            "expression": "size(variables.envSetters) == 0",
            "messageExpression": (
                "'gpu-env: container ' + variables.envSetters[0].name + ' sets ' + "
                f"variables.envSetters[0].env.filter(e, e.name in {env})[0].name + ' (' + variables.path + "
                "'.containers[].env): only the device plugin chooses the GPUs a container sees; remove it "
                f"(llm-infra {POLICY_NAME})'"),
            "reason": "Forbidden",
        },
        {
            "expression": "!variables.requestsGpu || size(variables.envFromSetters) == 0",
            "messageExpression": (
                "'gpu-env-from: container ' + variables.envFromSetters[0].name + ' of a GPU pod takes envFrom "
                "without a prefix (' + variables.path + '.containers[].envFrom[].prefix): its keys could name "
                f"the GPUs it sees; give it a prefix that does not start with NVIDIA_ (llm-infra {POLICY_NAME})'"),
            "reason": "Forbidden",
        },
        {
            "expression": "variables.requestsGpu || !(variables.toleratesGpu || variables.selectsGpuPool)",
            "messageExpression": (
                "'gpu-node-without-gpu: the pod ' + (variables.toleratesGpu ? 'tolerates the "
                f"{GPU_TAINT_KEY} taint (' + variables.path + '.tolerations)' : 'requires the GPU pool label "
                f"{gpu_pool_label} (' + variables.path + '.nodeSelector or .affinity.nodeAffinity)') + ' but no "
                f"container has a {GPU_RESOURCE} limit (' + variables.path + '.containers[].resources.limits): "
                f"on a GPU node it would see GPUs it was not given; request a GPU or stay off GPU nodes "
                f"(llm-infra {POLICY_NAME})'"),
            "reason": "Forbidden",
        },
    ]
    return {
        "failurePolicy": "Fail",
        "matchConstraints": {
            "resourceRules": [
                {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
                 "resources": ["pods", "pods/ephemeralcontainers"]},
                {"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
                 "resources": ["deployments", "statefulsets", "daemonsets", "replicasets"]},
                {"apiGroups": ["batch"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
                 "resources": ["jobs", "cronjobs"]},
            ],
        },
        # An object on its way out (finalizers being removed) is never held back by a rule it predates.
        "matchConditions": [{"name": "not-being-deleted", "expression": "!has(object.metadata.deletionTimestamp)"}],
        "variables": [{"name": n, "expression": e} for n, e in variables],
        "validations": validations,
    }


def exempt_namespaces(extra: Sequence[str] = (), dcgm_namespace: str | None = None) -> list[str]:
    """kube-system, the DCGM exporter's namespace (where the stack runs it) and the user's, sorted."""
    return sorted({SYSTEM_NAMESPACE, *([dcgm_namespace] if dcgm_namespace else []), *extra})


def binding_spec(exempt: Sequence[str]) -> dict[str, Any]:
    """The binding: every namespace but the exempt ones, denied and audited."""
    return {
        "policyName": POLICY_NAME,
        "validationActions": list(VALIDATION_ACTIONS),
        "matchResources": {
            "namespaceSelector": {"matchExpressions": [
                {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": list(exempt)}]},
        },
    }


class GpuAdmissionPolicyArgs(TypedDict):
    provider: k8s.Provider
    """Explicit Kubernetes provider of the cluster; the default provider is never used."""
    gpu_pool_label: NotRequired[str]
    """Node label whose value is the GPU pool's name. Defaults to `llm-infra.io/gpu-pool`."""
    exempt_namespaces: NotRequired[Sequence[str]]
    """Namespaces whose pods may see every GPU of a node (device plugin, DCGM exporter, a GPU Operator).
    `kube-system` is always exempt. Defaults to `kube-system` only."""


class GpuAdmissionPolicy(pulumi.ComponentResource):
    """A ValidatingAdmissionPolicy and its binding: no pod outside the exempt namespaces names GPUs itself or
    sits on a GPU node without requesting one."""

    policy_name: pulumi.Output[str]
    """Name of the ValidatingAdmissionPolicy (and of its binding)."""

    def __init__(self, name: str, args: GpuAdmissionPolicyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        provider = args.get("provider")
        if not isinstance(provider, k8s.Provider):
            raise ConfigError(f"provider: expected an explicit pulumi_kubernetes.Provider, got {type(provider).__name__}")
        extra = args.get("exempt_namespaces", ())
        if isinstance(extra, str) or not all(isinstance(n, str) and n for n in extra):
            raise ConfigError(f"exempt_namespaces: expected a list of namespace names, got {extra!r}")
        label = args.get("gpu_pool_label", DEFAULT_GPU_POOL_LABEL)
        super().__init__("llm-infra:index:GpuAdmissionPolicy", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        labels = {PART_OF_LABEL[0]: PART_OF_LABEL[1]}
        policy = k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
            f"{name}-policy",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=POLICY_NAME, labels=labels),
            spec=policy_spec(label),
            opts=child,
        )
        k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
            f"{name}-binding",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=POLICY_NAME, labels=labels),
            spec=binding_spec(exempt_namespaces(extra)),
            opts=child.merge(pulumi.ResourceOptions(depends_on=[policy])),
        )
        self.policy_name = pulumi.Output.from_input(POLICY_NAME)
        self.register_outputs({"policy_name": self.policy_name})
