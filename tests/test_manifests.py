"""Every Kubernetes object that every stack renders passes these gates.

1. Built-in kinds validate strictly against each supported Kubernetes version. Unknown fields,
   wrong types and APIs that the version does not serve all fail.
2. Custom resources validate against their reviewed CRD schemas in tests/fixtures/crds/. A kind
   without a fixture fails.
3. checkov reports no failed check.
4. Every checkov suppression is a `checkov.io/skipN: CKV_K8S_<n>=<reason>` annotation, and each
   one suppresses a check that really fails without it.

The negative tests at the end feed each gate small objects that are broken on purpose, to show
that the gate fires.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from typing import Any

import pytest

import manifest_checks as mc
from _stacks import STACKS, stack
from llm_infra.plan import manifests
from llm_infra.versions import SUPPORTED_KUBERNETES_VERSIONS


@functools.lru_cache(maxsize=None)
def _stack_manifests(name: str) -> tuple[dict[str, Any], ...]:
    return tuple(manifests(stack(name)))


def stack_manifests(name: str) -> list[dict[str, Any]]:
    """A fresh copy for each test, so that no test can change what another one sees."""
    return copy.deepcopy(list(_stack_manifests(name)))


# --------------------------------------------------------------------------- the CRD fixtures


def test_every_crd_fixture_is_a_whole_schema_with_a_recorded_source():
    sources = (mc.CRD_FIXTURES / "SOURCES.md").read_text(encoding="utf-8")
    fixtures = sorted(mc.CRD_FIXTURES.glob("*.json"))
    assert {p.name for p in fixtures} >= {
        "keda.sh_v1alpha1_ScaledObject.json",
        "monitoring.coreos.com_v1_ServiceMonitor.json",
        "monitoring.coreos.com_v1_PrometheusRule.json",
    }
    for path in fixtures:
        schema = mc.load_crd_schema(path)
        assert schema.get("type") == "object", path.name
        assert {"apiVersion", "kind", "metadata", "spec"} <= set(schema["properties"]), path.name
        assert schema["properties"]["spec"].get("properties"), f"{path.name}: spec declares no fields"
        assert f"`{path.name}`" in sources, f"{path.name} has no row in SOURCES.md"
    for named in re.findall(r"`([A-Za-z0-9.-]+_[A-Za-z0-9]+_[A-Za-z0-9]+\.json)`", sources):
        assert (mc.CRD_FIXTURES / named).is_file(), f"SOURCES.md names {named}, which does not exist"


# --------------------------------------------------------------------------- every stack


@pytest.mark.parametrize("stack_name", STACKS)
def test_stack_renders_kubernetes_objects(stack_name):
    objects = stack_manifests(stack_name)
    assert objects, f"stack {stack_name} renders no Kubernetes object, so the gates below would check nothing"
    for obj in objects:
        assert obj.get("apiVersion") and obj.get("kind") and (obj.get("metadata") or {}).get("name"), obj


@pytest.mark.parametrize("version", SUPPORTED_KUBERNETES_VERSIONS)
@pytest.mark.parametrize("stack_name", STACKS)
def test_builtin_manifests_validate_strictly(stack_name, version):
    builtin = [obj for obj in stack_manifests(stack_name) if not mc.is_crd_kind(obj)]
    assert builtin, f"stack {stack_name} renders no built-in Kubernetes object"
    errors = []
    for obj in builtin:
        try:
            mc.validate_builtin(obj, version)
        except mc.ManifestCheckError as err:
            errors.append(str(err))
    assert not errors, f"{len(errors)} of {len(builtin)} objects of stack {stack_name} fail Kubernetes {version}:\n" + "\n".join(errors)


@pytest.mark.parametrize("stack_name", STACKS)
def test_custom_resources_match_their_crd_schemas(stack_name):
    custom = [obj for obj in stack_manifests(stack_name) if mc.is_crd_kind(obj)]
    if not custom:
        pytest.skip(f"stack {stack_name} renders no custom resource")
    errors = []
    for obj in custom:
        try:
            mc.validate_crd(obj)
        except mc.ManifestCheckError as err:
            errors.append(str(err))
    assert not errors, "\n".join(errors)


@pytest.mark.checkov
@pytest.mark.parametrize("stack_name", STACKS)
def test_checkov_reports_no_failed_check(stack_name, tmp_path):
    report = mc.run_checkov(stack_manifests(stack_name), tmp_path)
    assert not report["failed"], (
        f"checkov {report['checkov_version']}: {len(report['failed'])} failed checks in stack {stack_name}:\n"
        f"{mc.format_checkov_failures(report)}\n"
        "Fix the object, or suppress one check on it with an annotation "
        "checkov.io/skipN: CKV_K8S_<n>=<why it does not apply>."
    )


@pytest.mark.parametrize("stack_name", STACKS)
def test_checkov_suppressions_are_annotated_checks_with_reasons(stack_name):
    problems = [
        f"{mc.describe(obj)}: {problem}" for obj in stack_manifests(stack_name) for problem in mc.suppression_problems(obj)
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.checkov
@pytest.mark.parametrize("stack_name", STACKS)
def test_every_checkov_suppression_hides_a_real_failure(stack_name, tmp_path):
    objects = stack_manifests(stack_name)
    suppressed = {(check_id, mc.resource_id(obj)) for obj in objects for check_id, _ in mc.checkov_suppressions(obj)}
    if not suppressed:
        pytest.skip(f"stack {stack_name} suppresses no checkov check")
    for obj in objects:
        annotations = obj.get("metadata", {}).get("annotations") or {}
        for key in [k for k in annotations if k.startswith("checkov.io/")]:
            del annotations[key]
    report = mc.run_checkov(objects, tmp_path)
    failing = {(check_id, ident) for check_id, ident, _ in report["failed"]}
    stale = sorted(suppressed - failing)
    assert not stale, f"suppressions of checks that pass anyway (remove them): {stale}"


# --------------------------------------------------------------------------- the gates fire

DIGEST = "sha256:" + "0" * 64


def deployment() -> dict[str, Any]:
    """A small Deployment that passes every gate: strict schema, and every checkov check once a
    NetworkPolicy selects it."""
    container = {
        "name": "web",
        "image": f"registry.example.com/web:1.0@{DIGEST}",
        "imagePullPolicy": "Always",
        "ports": [{"containerPort": 8080}],
        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "128Mi"}},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    pod_spec = {
        "serviceAccountName": "web",
        "automountServiceAccountToken": False,
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "app", "labels": {"app": "web"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": pod_spec},
        },
    }


def pod(name: str) -> dict[str, Any]:
    template = deployment()["spec"]["template"]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "app", **template["metadata"]}, "spec": template["spec"]}


def network_policy() -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "web", "namespace": "app"},
        "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress", "Egress"]},
    }


def scaled_object() -> dict[str, Any]:
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "web", "namespace": "app", "labels": {"app": "web"}},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicaCount": 1,
            "maxReplicaCount": 4,
            "advanced": {
                "horizontalPodAutoscalerConfig": {
                    "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300, "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}}
                }
            },
            "triggers": [
                {"type": "prometheus", "metadata": {"serverAddress": "http://prometheus:9090", "query": "sum(rate(x[1m]))", "threshold": "5"}}
            ],
        },
    }


def service_monitor() -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "web", "namespace": "app"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "endpoints": [{"port": "metrics", "interval": "15s", "path": "/metrics"}],
        },
    }


def prometheus_rule() -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "web", "namespace": "app"},
        "spec": {
            "groups": [
                {
                    "name": "web",
                    "partial_response_strategy": "Warn",  # RE2 pattern ^(?i)(abort|warn)?$
                    "rules": [{"alert": "WebDown", "expr": "up == 0", "for": "5m", "labels": {"severity": "page"}}],
                }
            ]
        },
    }


@pytest.mark.parametrize("version", SUPPORTED_KUBERNETES_VERSIONS)
def test_strict_validation_rejects_unknown_fields_and_wrong_types(version):
    mc.validate_builtin(deployment(), version)  # the control passes

    unknown = deployment()
    unknown["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(mc.ManifestCheckError, match=r"apps/v1 Deployment app/web .*imagePullPolicyy"):
        mc.validate_builtin(unknown, version)

    unknown_top = deployment()
    unknown_top["spec"]["replica"] = 2
    with pytest.raises(mc.ManifestCheckError, match=r"Deployment app/web .*'replica' was unexpected"):
        mc.validate_builtin(unknown_top, version)

    wrong_type = deployment()
    wrong_type["spec"]["replicas"] = "two"
    with pytest.raises(mc.ManifestCheckError, match=r"Deployment app/web .* at spec\.replicas"):
        mc.validate_builtin(wrong_type, version)


def test_strict_validation_rejects_an_api_the_version_does_not_serve():
    hpa = {"apiVersion": "autoscaling/v2beta2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"}, "spec": {}}
    with pytest.raises(mc.ManifestCheckError, match="does not serve"):
        mc.validate_builtin(hpa, SUPPORTED_KUBERNETES_VERSIONS[0])


def test_crd_kinds_are_told_apart_by_api_group():
    assert not mc.is_crd_kind(deployment())
    assert not mc.is_crd_kind({"apiVersion": "v1", "kind": "ConfigMap"})
    assert not mc.is_crd_kind({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget"})
    assert mc.is_crd_kind(scaled_object())
    assert mc.is_crd_kind(service_monitor())
    assert mc.is_crd_kind({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute"})
    with pytest.raises(mc.ManifestCheckError, match="not a built-in"):
        mc.validate_builtin(scaled_object(), SUPPORTED_KUBERNETES_VERSIONS[-1])


@pytest.mark.parametrize("build", [scaled_object, service_monitor, prometheus_rule])
def test_valid_custom_resources_pass_the_crd_gate(build):
    assert mc.crd_errors(build()) == []


def _set(path: str, value: Any):
    def mutate(obj: dict[str, Any]) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        node: Any = obj
        for part in parents:
            node = node[part]
        if isinstance(node, list) and last == len(node):
            node.append(value)
        else:
            node[last] = value

    return mutate


@pytest.mark.parametrize(
    "build, mutate, expected",
    [
        (scaled_object, _set("spec.minReplicaCont", 1), r"spec\.minReplicaCont: unknown field"),
        (scaled_object, _set("spec.triggers.0.metadta", {}), r"spec\.triggers\[0\]\.metadta: unknown field"),
        (scaled_object, _set("spec.scaleTargetRef.nmae", "web"), r"spec\.scaleTargetRef\.nmae: unknown field"),
        (scaled_object, _set("spce", {}), r"spce: unknown field"),
        (scaled_object, _set("spec.maxReplicaCount", "four"), r"spec\.maxReplicaCount: 'four' is not of type 'integer'"),
        (scaled_object, _set("spec.triggers.0.metadata.threshold", 5), r"threshold: 5 is not of type 'string'"),
        (scaled_object, _set("spec.pollingInterval", 2**40), r"out of range for int32"),
        (scaled_object, _set("metadata.lables", {"a": "b"}), r"metadata: .*'lables' was unexpected"),
        (
            scaled_object,
            _set("spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.stabilizationWindowSeconds", 7200),
            r"7200 is greater than the maximum of 3600",
        ),
        (service_monitor, _set("spec.endpoints.0.intervall", "15s"), r"spec\.endpoints\[0\]\.intervall: unknown field"),
        (service_monitor, _set("spec.endpoints.0.interval", "15 seconds"), r"spec\.endpoints\[0\]\.interval: '15 seconds' does not match"),
        (service_monitor, _set("spec.selector", None), r"spec\.selector: None is not of type 'object'"),
        (prometheus_rule, _set("spec.groups.0.rules.0.exprr", "up"), r"spec\.groups\[0\]\.rules\[0\]\.exprr: unknown field"),
        (prometheus_rule, _set("spec.groups.1", {"name": "web", "rules": []}), r"duplicate name .* list of type map"),
        (prometheus_rule, _set("spec.groups.0.partial_response_strategy", "maybe"), r"'maybe' does not match"),
    ],
)
def test_crd_gate_rejects_misspelled_fields_and_wrong_types(build, mutate, expected):
    obj = build()
    mutate(obj)
    with pytest.raises(mc.ManifestCheckError) as raised:
        mc.validate_crd(obj)
    message = str(raised.value)
    assert message.startswith(mc.describe(obj)), message
    assert re.search(expected, message), message


def test_crd_gate_rejects_a_missing_required_field():
    obj = scaled_object()
    del obj["spec"]["triggers"]
    with pytest.raises(mc.ManifestCheckError, match="'triggers' is a required property"):
        mc.validate_crd(obj)


def test_custom_resource_kind_without_a_fixture_fails():
    # The stack registers no namespaced Issuer (its CA is a ClusterIssuer), so none has a fixture.
    issuer = {"apiVersion": "cert-manager.io/v1", "kind": "Issuer", "metadata": {"name": "ca", "namespace": "app"}, "spec": {}}
    with pytest.raises(mc.ManifestCheckError, match=r"no CRD schema fixture tests/fixtures/crds/cert-manager\.io_v1_Issuer\.json"):
        mc.validate_crd(issuer)


@pytest.mark.checkov
def test_checkov_flags_a_privileged_pod_and_passes_its_hardened_twin(tmp_path):
    privileged = pod("web-privileged")
    privileged["spec"]["containers"][0]["securityContext"]["privileged"] = True
    report = mc.run_checkov([pod("web"), privileged, network_policy()], tmp_path)
    failed = {(check_id, ident) for check_id, ident, _ in report["failed"]}
    assert ("CKV_K8S_16", "Pod/app/web-privileged") in failed, mc.format_checkov_failures(report)
    assert {ident for _, ident in failed} == {"Pod/app/web-privileged"}, mc.format_checkov_failures(report)


@pytest.mark.checkov
def test_checkov_honours_a_skip_annotation(tmp_path):
    tagged = deployment()
    tagged["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example.com/web:1.0"
    suppressed = copy.deepcopy(tagged)
    suppressed["metadata"]["name"] = "web-suppressed"
    suppressed["metadata"]["annotations"] = {"checkov.io/skip1": "CKV_K8S_43=the mirror re-tags images"}
    report = mc.run_checkov([tagged, suppressed, network_policy()], tmp_path)
    assert [(c, i) for c, i, _ in report["failed"]] == [("CKV_K8S_43", "Deployment/app/web")], mc.format_checkov_failures(report)
    assert report["skipped"] >= 1
    assert mc.checkov_suppressions(suppressed) == [("CKV_K8S_43", "the mirror re-tags images")]
    assert mc.suppression_problems(suppressed) == []


@pytest.mark.parametrize(
    "key, value, expected",
    [
        ("checkov.io/skip1", "CKV_K8S_43", "non-empty reason"),
        ("checkov.io/skip1", "CKV_K8S_43=", "non-empty reason"),
        ("checkov.io/skip1", "CKV_K8S_43=   ", "non-empty reason"),
        ("checkov.io/skip1", "CKV2_K8S_6=graph check", "CKV_K8S_<n>="),
        ("checkov.io/skip1", "ckv_k8s_43=lower case", "CKV_K8S_<n>="),
        ("checkov.io/skip", "CKV_K8S_43=no number", "checkov.io/skip<N>"),
        ("checkov.io/skip0", "CKV_K8S_43=zero", "checkov.io/skip<N>"),
        ("checkov.io/ignore", "CKV_K8S_43=wrong key", "checkov.io/skip<N>"),
    ],
)
def test_malformed_suppressions_are_reported(key, value, expected):
    obj = deployment()
    obj["metadata"]["annotations"] = {key: value}
    problems = mc.suppression_problems(obj)
    assert len(problems) == 1 and expected in problems[0], problems


def test_suppression_in_a_pod_template_is_reported():
    obj = deployment()
    obj["spec"]["template"]["metadata"]["annotations"] = {"checkov.io/skip1": "CKV_K8S_43=wrong place"}
    problems = mc.suppression_problems(obj)
    assert len(problems) == 1 and "only from the object's own metadata.annotations" in problems[0], problems


def test_checkov_json_shapes_are_all_understood():
    obj = deployment()
    failure = {
        "check_id": "CKV_K8S_16",
        "check_name": "Container should not be privileged",
        "file_path": "/000-Deployment-app-web.yaml",
        "file_abs_path": "/tmp/x/000-Deployment-app-web.yaml",
        "resource": "Deployment.app.web",
    }
    summary = {"passed": 3, "failed": 1, "skipped": 0, "parsing_errors": 0, "resource_count": 2, "checkov_version": mc.CHECKOV_VERSION}
    single = {"check_type": "kubernetes", "results": {"failed_checks": [failure]}, "summary": summary}
    files = {"000-Deployment-app-web.yaml": obj}
    expected = [("CKV_K8S_16", "Deployment/app/web", "000-Deployment-app-web.yaml")]

    assert mc.parse_checkov_output(single, files)["failed"] == expected
    both = mc.parse_checkov_output([single, {"check_type": "secrets", "results": {"failed_checks": []}, "summary": dict(summary, failed=0)}], files)
    assert both["failed"] == expected and both["resource_count"] == 4
    empty = mc.parse_checkov_output(json.loads('{"passed": 0, "failed": 0, "skipped": 0, "parsing_errors": 0, "resource_count": 0}'), files)
    assert empty["failed"] == [] and empty["resource_count"] == 0


def test_a_missing_checkov_is_an_error_that_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_INFRA_CHECKOV", str(tmp_path / "no-such-checkov"))
    with pytest.raises(mc.CheckovUnavailable, match=r"python -m venv \.venv-checkov && \.venv-checkov/bin/pip install checkov==3\.3\.30"):
        mc.run_checkov([deployment()], tmp_path)
