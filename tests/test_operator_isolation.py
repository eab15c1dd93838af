"""The operators' namespaces (KEDA, monitoring) as the real API server takes them (issue 16.5).

Each is created by the stack with Pod Security labels, a default-deny NetworkPolicy and only the
allowances the pinned charts need (ports read from the charts' templates,
`operators.CHART_PORT_SOURCES`). The plan's Namespace and NetworkPolicy objects of a shipped
stack go to a real kube-apiserver (strict field validation) and are read back unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from _stacks import stack
from llm_infra.kubernetes.operators import CHART_PORT_SOURCES, KEDA_API_SERVER_PORTS, PROMETHEUS_OPERATOR_WEBHOOK_PORT
from llm_infra.local.cluster import LocalCluster

pytestmark = pytest.mark.real_engine

OPERATOR_NAMESPACES = ("keda", "monitoring")


def _objects(kind: str) -> list[dict[str, Any]]:
    out = []
    for r in stack("dev").kubernetes_objects(kind):
        ins = r.inputs
        ns = ins["metadata"].get("namespace") if kind != "Namespace" else ins["metadata"]["name"]
        if ns in OPERATOR_NAMESPACES:
            out.append({k: v for k, v in ins.items() if k in ("metadata", "spec")})
    return out


def _ports(policies: list[dict[str, Any]], namespace: str, direction: str) -> set[int]:
    return {p["port"] for pol in policies if pol["metadata"]["namespace"] == namespace
            for rule in pol["spec"].get(direction) or [] for p in rule.get("ports") or []}


def test_every_operator_namespace_denies_by_default_and_opens_only_the_charts_ports() -> None:
    policies = _objects("NetworkPolicy")
    for ns in OPERATOR_NAMESPACES:
        [deny] = [p for p in policies if p["metadata"]["namespace"] == ns and p["metadata"]["name"] == "default-deny"]
        assert deny["spec"]["podSelector"] in ({}, None) or not deny["spec"]["podSelector"].get("matchLabels")
        assert sorted(deny["spec"]["policyTypes"]) == ["Egress", "Ingress"]
    assert _ports(policies, "keda", "ingress") >= set(KEDA_API_SERVER_PORTS)
    assert PROMETHEUS_OPERATOR_WEBHOOK_PORT in _ports(policies, "monitoring", "ingress")
    assert all("github.com" in s.url and s.says for s in CHART_PORT_SOURCES)


def test_the_real_api_server_takes_the_operator_namespaces_and_policies_as_planned(tmp_path: Path) -> None:
    namespaces, policies = _objects("Namespace"), _objects("NetworkPolicy")
    assert {n["metadata"]["name"] for n in namespaces} == set(OPERATOR_NAMESPACES)
    with LocalCluster(tmp_path / "cluster") as cluster:
        for ns in namespaces:
            cluster.request("POST", "/api/v1/namespaces?fieldValidation=Strict",
                            {"apiVersion": "v1", "kind": "Namespace", **ns})
        for pol in policies:
            body = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", **pol}
            cluster.request("POST", f"/apis/networking.k8s.io/v1/namespaces/{pol['metadata']['namespace']}"
                                    "/networkpolicies?fieldValidation=Strict", body)
        for ns in namespaces:
            stored = cluster.request("GET", f"/api/v1/namespaces/{ns['metadata']['name']}")
            assert ns["metadata"]["labels"].items() <= stored["metadata"]["labels"].items()
        for pol in policies:
            stored = cluster.request("GET", f"/apis/networking.k8s.io/v1/namespaces/{pol['metadata']['namespace']}"
                                            f"/networkpolicies/{pol['metadata']['name']}")
            assert _normal(stored["spec"]) == _normal(pol["spec"]), pol["metadata"]["name"]


def _normal(value: Any) -> Any:
    """The spec without empty values the server drops or defaults it fills (protocol TCP)."""
    if isinstance(value, dict):
        out = {k: _normal(v) for k, v in value.items() if v not in (None, {}, [])}
        if "port" in out and "protocol" not in out:
            out["protocol"] = "TCP"
        return out
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value
