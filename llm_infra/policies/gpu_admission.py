"""A stack that serves models installs the GPU admission policy (llm_infra.kubernetes.gpu_admission).

On AKS the device plugin stays `envvar` (no node bootstrap hook), so a container that names GPUs itself,
or a pod on a GPU node without a GPU request, sees GPUs it was not given; the ValidatingAdmissionPolicy
refuses both on every cloud. This rule checks that it is there and means it: failing closed, judging
pods, naming the toolkit's selectors and the GPU resource, bound with Deny to every namespace but the
GPU agents', never a model's. Model namespaces labelled `llm-infra.io/gpu-admission: disabled` are the
stack's named opt-out (`gpu_admission.enabled: false`) and are not judged.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from . import Context, Resource, Rule, get, known
from .kubernetes import _is_triton

# Names the library gives them (llm_infra.kubernetes.gpu_admission; a test keeps them equal).
POLICY_NAME = "llm-infra-gpu-isolation"
OPT_OUT_LABEL = "llm-infra.io/gpu-admission"
OPT_OUT_VALUE = "disabled"
DEVICE_SELECTOR_ENV = ("NVIDIA_VISIBLE_DEVICES", "NVIDIA_DRIVER_CAPABILITIES", "NVIDIA_IMEX_CHANNELS",
                       "NVIDIA_MIG_CONFIG_DEVICES", "NVIDIA_MIG_MONITOR_DEVICES")
GPU_RESOURCE = "nvidia.com/gpu"
NAME_LABEL = "kubernetes.io/metadata.name"


def _named(resources: list[Resource], kind: str) -> list[Resource]:
    return [r for r in resources if r.kind == kind and get(r.inputs, "metadata", "name") == POLICY_NAME]


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)


def _policy_problems(policy: Resource) -> Iterator[str]:
    spec = get(policy.inputs, "spec") or {}
    failure = spec.get("failurePolicy") if isinstance(spec, Mapping) else None
    if known(failure) and failure != "Fail":
        yield f"{policy.label}: failurePolicy {failure!r}: set Fail (an error must refuse, not admit)"
    rules = get(spec, "matchConstraints", "resourceRules")
    if isinstance(rules, list) and not any(isinstance(r, Mapping) and "pods" in (r.get("resources") or [])
                                           for r in rules):
        yield f"{policy.label}: matchConstraints.resourceRules judge no pods: include pods"
    text = " ".join(_strings([spec.get("variables"), spec.get("validations")])) if isinstance(spec, Mapping) else ""
    missing = [name for name in (*DEVICE_SELECTOR_ENV, GPU_RESOURCE) if name not in text]
    if missing:
        yield f"{policy.label}: its rules never name {', '.join(missing)}: use the library's policy (gpu_admission)"


def _binding_problems(binding: Resource, model_namespaces: set[str]) -> Iterator[str]:
    actions = get(binding.inputs, "spec", "validationActions")
    if isinstance(actions, list) and all(known(a) for a in actions) and "Deny" not in actions:
        yield f"{binding.label}: validationActions {actions}: include Deny"
    selector = get(binding.inputs, "spec", "matchResources", "namespaceSelector")
    if not isinstance(selector, Mapping) or not selector:
        return
    expressions = selector.get("matchExpressions") or []
    if selector.get("matchLabels") or not all(
            isinstance(e, Mapping) and e.get("key") == NAME_LABEL and e.get("operator") == "NotIn" for e in expressions):
        yield (f"{binding.label}: namespaceSelector {dict(selector)}: bind every namespace but the exempt ones "
               f"({NAME_LABEL} NotIn [...])")
        return
    exempt = {v for e in expressions for v in e.get("values") or [] if known(v)}
    for ns in sorted(exempt & model_namespaces):
        yield f"{binding.label}: exempts model namespace {ns}: its pods could see GPUs they were not given"


def gpu_admission_installed(resources: list[Resource], _: Context) -> Iterator[str]:
    model_namespaces = {ns for r in resources if _is_triton(r)
                        for ns in [get(r.inputs, "metadata", "namespace")] if isinstance(ns, str) and known(ns)}
    if not model_namespaces:
        return
    labels: dict[str, Any] = {get(r.inputs, "metadata", "name"): get(r.inputs, "metadata", "labels") or {}
                              for r in resources if r.kind == "Namespace"}
    if all(get(labels.get(ns), OPT_OUT_LABEL) == OPT_OUT_VALUE for ns in model_namespaces):
        return  # the named opt-out
    policies, bindings = _named(resources, "ValidatingAdmissionPolicy"), _named(resources, "ValidatingAdmissionPolicyBinding")
    where = f"models in {', '.join(sorted(model_namespaces))}"
    if not policies:
        yield (f"{where}: no ValidatingAdmissionPolicy {POLICY_NAME}: any pod could name GPUs itself or sit on a "
               "GPU node without one (set gpu_admission.enabled: false to opt out)")
    if not [b for b in bindings if get(b.inputs, "spec", "policyName") == POLICY_NAME]:
        yield f"{where}: no ValidatingAdmissionPolicyBinding of {POLICY_NAME}: the policy judges nothing unbound"
    for policy in policies:
        yield from _policy_problems(policy)
    for binding in bindings:
        yield from _binding_problems(binding, model_namespaces)


RULES: list[Rule] = [
    Rule("gpu-admission-policy-installed",
         "A stack serving models refuses, at admission, pods that name GPUs themselves or sit on GPU nodes "
         "without one.", "31", "stack", gpu_admission_installed),
]
