"""Issue 14.6: on a cluster the stack creates, KEDA and the Prometheus Operator are installed
(pinned, hardened) before any of their custom resources."""

from __future__ import annotations

import pytest
from _stacks import STACKS, rejected, stack, with_changed_config

from llm_infra import versions
from llm_infra.config.gateway import issues_certificates
from llm_infra.plan import parsed_config, policy_violations, summary
from llm_infra.policies import MANDATORY

CLOUD_STACKS = [s for s in STACKS if parsed_config(s).cloud != "existing"]
HELM = "kubernetes:helm.sh/v3:Release"
# The API groups whose CRDs the operators install.
OPERATOR_GROUPS = {"keda.sh": "keda", "monitoring.coreos.com": "kube-prometheus-stack", "cert-manager.io": "cert-manager"}


def _releases(result):
    return {r.inputs["name"]: r for r in result.of_type(HELM)}


def _custom_resources(result):
    return [r for r in result.kubernetes_objects() if r.inputs["apiVersion"].split("/")[0] in OPERATOR_GROUPS]


def _waits_for(result, resource, release) -> bool:
    return release.urn in resource.dependencies


def test_there_are_cloud_stacks_and_each_creates_custom_resources():
    assert len(CLOUD_STACKS) == 7
    for name in CLOUD_STACKS:
        kinds = {r.kind for r in _custom_resources(stack(name))}
        assert {"ScaledObject", "ServiceMonitor", "PrometheusRule"} <= kinds, name


@pytest.mark.parametrize("name", CLOUD_STACKS)
def test_a_created_cluster_gets_pinned_keda_and_kube_prometheus_stack(name):
    releases = _releases(stack(name))
    # gcp-dev's pods opt out of TLS, but its Gateway's listener takes a certificate from the stack's CA.
    tls = {"cert-manager"} if issues_certificates(parsed_config(name)) else set()
    assert set(releases) == {"keda", "kube-prometheus-stack", *tls}, name
    for release, pinned in (("keda", versions.KEDA_CHART), ("kube-prometheus-stack", versions.KUBE_PROMETHEUS_STACK_CHART)):
        inputs = releases[release].inputs
        assert (inputs["chart"], inputs["version"], inputs["repositoryOpts"]["repo"]) == \
            (pinned["chart"], pinned["version"], pinned["repo"]), (name, release)
        assert inputs["atomic"] is True and inputs["createNamespace"] is False


@pytest.mark.parametrize("name", CLOUD_STACKS)
def test_every_custom_resource_waits_for_the_chart_that_installs_its_crd(name):
    result = stack(name)
    releases = _releases(result)
    for cr in _custom_resources(result):
        release = releases[OPERATOR_GROUPS[cr.inputs["apiVersion"].split("/")[0]]]
        assert _waits_for(result, cr, release), (name, cr.kind, cr.name)


def test_the_existing_cluster_keeps_its_own_operators():
    assert _releases(stack("existing")) == {}


@pytest.mark.parametrize("name", CLOUD_STACKS)
def test_operator_namespaces_are_baseline_warn_restricted_and_default_deny_before_the_charts(name):
    result = stack(name)
    releases = _releases(result)
    mon = parsed_config(name).monitoring.namespace
    for ns, release in (("keda", releases["keda"]), (mon, releases["kube-prometheus-stack"])):
        labels = result.k8s("Namespace", ns)["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "baseline", (name, ns)
        assert labels["pod-security.kubernetes.io/warn"] == labels["pod-security.kubernetes.io/audit"] == "restricted"
        policies = {r.k8s_name: r for r in result.kubernetes_objects("NetworkPolicy") if r.k8s_namespace == ns}
        deny = policies["default-deny"].inputs["spec"]
        assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
        assert "ingress" not in deny and "egress" not in deny
        # The namespace, its quota and every policy exist before the chart's pods start.
        for r in [*policies.values(), *(r for r in result.kubernetes_objects("Namespace") if r.k8s_name == ns)]:
            assert r.urn in release.dependencies, (name, ns, r.name)
    # KEDA may query Prometheus, and only on its port.
    keda_query = result.k8s("NetworkPolicy", "allow-keda-queries", mon)["spec"]["ingress"]
    assert keda_query == [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}}}],
                           "ports": [{"protocol": "TCP", "port": 9090}]}]


@pytest.mark.parametrize("name", CLOUD_STACKS)
def test_grafanas_admin_password_is_generated_and_secret(name):
    result = stack(name)
    mon = parsed_config(name).monitoring.namespace
    secret = next(r for r in result.kubernetes_objects("Secret") if r.k8s_name == "grafana-admin")
    assert secret.k8s_namespace == mon
    assert "stringData" in secret.secret_paths
    password = result.one("pulumi-python:dynamic:Resource", f"{parsed_config(name).environment}-operators-grafana-admin-password")
    assert password.inputs["length"] >= 32
    values = _releases(result)["kube-prometheus-stack"].inputs["values"]["grafana"]
    assert values["admin"] == {"existingSecret": "grafana-admin", "userKey": "admin-user", "passwordKey": "admin-password"}
    assert "adminPassword" not in values  # never the chart's well-known default
    assert secret.urn in _releases(result)["kube-prometheus-stack"].dependencies


@pytest.mark.parametrize("name", CLOUD_STACKS)
def test_the_operators_pass_the_stacks_own_rules(name):
    result = stack(name)
    violations = [v for v in policy_violations(name, result) if v.enforcement == MANDATORY]
    assert violations == [], violations


def test_a_chart_can_come_from_a_mirror_or_a_local_path():
    def mirror(raw):
        raw["llm-infra:monitoring"]["keda_chart"] = {"repo": "https://charts.example.internal/keda", "version": "2.16.1"}
        raw["llm-infra:monitoring"]["prometheus_chart"] = {"path": "/opt/charts/kube-prometheus-stack-66.3.0.tgz"}

    releases = _releases(with_changed_config("prod", mirror))
    assert releases["keda"].inputs["repositoryOpts"]["repo"] == "https://charts.example.internal/keda"
    assert releases["keda"].inputs["version"] == "2.16.1"
    prom = releases["kube-prometheus-stack"].inputs
    assert prom["chart"] == "/opt/charts/kube-prometheus-stack-66.3.0.tgz" and "repositoryOpts" not in prom


def test_a_chart_source_with_both_a_path_and_a_repository_is_refused():
    def both(raw):
        raw["llm-infra:monitoring"]["keda_chart"] = {"path": "charts/keda", "repo": "https://kedacore.github.io/charts"}

    problems = rejected("prod", both)
    assert any(p.startswith("monitoring.keda_chart") and "path" in p for p in problems), problems


def test_install_operators_false_leaves_them_out_and_then_nothing_orders_the_custom_resources():
    def off(raw):
        raw["llm-infra:monitoring"]["install_operators"] = False

    result = with_changed_config("dev", off)
    # cert-manager stays (tls.install_cert_manager decides it); KEDA and Prometheus are left out.
    assert set(_releases(result)) == {"cert-manager"}
    assert not any(_waits_for(result, cr, r) for cr in _custom_resources(result) for r in result.of_type(HELM)
                   if r.inputs["name"] != "cert-manager")
    assert "operators: none installed by this stack (monitoring.install_operators false)" in summary("dev", result)


@pytest.mark.parametrize("name", CLOUD_STACKS)
def test_the_plan_summary_shows_the_operator_install_order(name):
    result = stack(name)
    text = summary(name, result)
    section = text.split("operators, in install order:")[1].split("\n\n")[0]
    lines = [line.strip() for line in section.strip().splitlines()]
    if not parsed_config(name).tls.enabled:
        # gcp-dev: the named TLS opt-out for the pods (Prometheus serves plain HTTP), but cert-manager and the
        # stack's CA come first for the inference Gateway's listener certificate.
        assert lines[0].startswith("1. namespace cert-manager: ")
        assert lines[1].startswith(f"2. helm cert-manager {versions.CERT_MANAGER_CHART['version']}")
        assert lines[2].startswith("3. ClusterIssuer llm-infra-selfsigned-root (self-signed)")
        assert lines[3].startswith("4. namespaces keda, ")
        assert lines[5].startswith(f"6. helm kube-prometheus-stack {versions.KUBE_PROMETHEUS_STACK_CHART['version']}")
        assert lines[6].startswith(f"7. helm keda {versions.KEDA_CHART['version']}")
        assert lines[7] == (f"8. then {len(_custom_resources(result))} custom resources (ScaledObject, ServiceMonitor, "
                            "PrometheusRule, ClusterIssuer, Certificate), each after its chart")
        return
    assert lines[0].startswith("1. namespace cert-manager: ")
    assert lines[1].startswith(f"2. helm cert-manager {versions.CERT_MANAGER_CHART['version']}")
    assert lines[2].startswith("3. ClusterIssuer llm-infra-selfsigned-root (self-signed)")
    assert lines[3].startswith("4. namespaces keda, ")
    assert lines[5].startswith("6. certificate monitoring/prometheus-tls")
    assert lines[6].startswith(f"7. helm kube-prometheus-stack {versions.KUBE_PROMETHEUS_STACK_CHART['version']}")
    assert lines[7].startswith(f"8. helm keda {versions.KEDA_CHART['version']}")
    count = len(_custom_resources(result))
    assert lines[8] == (f"9. then {count} custom resources (ScaledObject, TriggerAuthentication, ServiceMonitor, "
                        "PrometheusRule, ClusterIssuer, Certificate), each after its chart")
