"""cert-manager and the stack's certificate authority: what signs every TLS certificate (docs/tls.md).

`CertManager` installs cert-manager as a pinned Helm release (its CRDs with it) into a namespace
locked down first, as `ClusterOperators` does for KEDA and Prometheus. `StackCertificateAuthority`
creates the issuer chain: a self-signed ClusterIssuer that signs only the stack's root, the root
CA certificate (its key stays in cert-manager's namespace), and the CA ClusterIssuer that signs
every model's and Prometheus' certificate. A stack with its own PKI names a ClusterIssuer instead
(`tls.cluster_issuer`) and neither is created. Every custom resource waits for the release that
installs its CRD (`depends_on`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from .. import versions
from ..config.gateway import issues_certificates
from .operators import (
    _CONTROL_PLANE_PEERS,
    OPERATOR_NAMESPACE_POLICIES,
    ChartSpec,
    _chart_inputs,
    chart_spec,
    describe_chart,
    operator_namespace_args,
)
from .tenant_namespace import TenantNamespace

CERT_MANAGER_API = "cert-manager.io/v1"
STACK_CA_ISSUER = "llm-infra-ca"
ROOT_ISSUER = "llm-infra-selfsigned-root"
ROOT_SECRET = "llm-infra-ca"
# cert-manager's webhook port the API server calls (chart value webhook.securePort), and its metrics port.
WEBHOOK_PORT = 10250
METRICS_PORT = 9402
# cert-manager's own metrics (controller, webhook, cainjector: each on 9402) over TLS from a serving CA cert-manager
# keeps itself in this Secret of its namespace (`metricsTLSConfig.dynamic`: cmd/controller/app/options/options.go
# @v1.21.1:213-226, cmd/webhook and cmd/cainjector alike; chart values.yaml@v1.21.1:314-322, 800-806, 1208-1214).
METRICS_CA_SECRET = "cert-manager-metrics-ca"
# Lifetimes: the root for ten years, leaf certificates for 90 days renewed 30 days before they expire.
ROOT_DURATION = "87600h"
LEAF_DURATION = "2160h"
LEAF_RENEW_BEFORE = "720h"


class CertManagerArgs(TypedDict):
    provider: k8s.Provider
    """Explicit Kubernetes provider of the cluster; every child uses it."""
    namespace: NotRequired[str]
    """cert-manager's namespace. Defaults to `cert-manager`."""
    monitoring_namespace: NotRequired[str]
    """Namespace whose Prometheus scrapes cert-manager. Defaults to `monitoring`."""
    chart: NotRequired[ChartSpec]
    """The cert-manager chart. Defaults to `llm_infra.versions.CERT_MANAGER_CHART`."""


class CertManager(pulumi.ComponentResource):
    """cert-manager as a pinned Helm release in a locked-down namespace."""

    install_order: pulumi.Output[list[str]]
    """What is installed, in order."""

    def __init__(self, name: str, args: CertManagerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        provider = args["provider"]
        ns = args.get("namespace", "cert-manager")
        mon_ns = args.get("monitoring_namespace", "monitoring")
        chart = args.get("chart") or chart_spec(versions.CERT_MANAGER_CHART, None)
        super().__init__("llm-infra:index:CertManager", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        part_of = {"app.kubernetes.io/part-of": "llm-infra"}
        namespace = TenantNamespace(f"{name}-ns", operator_namespace_args(provider, ns),
                                    opts=pulumi.ResourceOptions(parent=self))
        guards: list[pulumi.Resource] = [namespace]
        for policy_name, spec in (
            # The API server egress also reaches issuers of your own PKI (Vault, ACME) over HTTPS.
            *OPERATOR_NAMESPACE_POLICIES,
            ("allow-api-server-callbacks", {"policyTypes": ["Ingress"], "ingress": [{
                "from": _CONTROL_PLANE_PEERS, "ports": [{"protocol": "TCP", "port": WEBHOOK_PORT}]}]}),
            ("allow-scrape-from-monitoring", {"policyTypes": ["Ingress"], "ingress": [{
                "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": mon_ns}}}],
                "ports": [{"protocol": "TCP", "port": METRICS_PORT}]}]}),
        ):
            guards.append(k8s.networking.v1.NetworkPolicy(
                f"{name}-{policy_name}",
                metadata={"name": policy_name, "namespace": ns, "labels": part_of},
                spec={"podSelector": {}, **spec},
                opts=child.merge(pulumi.ResourceOptions(depends_on=[namespace])),
            ))
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            name="cert-manager",
            namespace=ns,
            create_namespace=False,
            atomic=True,
            cleanup_on_fail=True,
            timeout=600,
            values=chart_values(ns),
            **_chart_inputs(chart),
            opts=child.merge(pulumi.ResourceOptions(depends_on=guards)),
        )
        self.chart = chart
        self.install_order = pulumi.Output.from_input([
            f"namespace {ns}: Pod Security baseline (restricted warned), default-deny and needed-allow NetworkPolicies",
            f"helm {describe_chart(chart)} into {ns} (CRDs Certificate, Issuer, ClusterIssuer)",
        ])
        self.register_outputs({"install_order": self.install_order})


def metrics_tls(namespace: str, service: str) -> dict:
    """A component's `metricsTLSConfig`: TLS on its metrics port from cert-manager's own serving CA."""
    return {"metricsTLSConfig": {"dynamic": {
        "secretNamespace": namespace, "secretName": METRICS_CA_SECRET,
        "dnsNames": [service, f"{service}.{namespace}.svc", f"{service}.{namespace}.svc.cluster.local"]}}}


def chart_values(namespace: str) -> dict:
    """The cert-manager release's values: CRDs kept, the webhook on 10250, every metrics listener over TLS."""
    return {
        # The chart installs its CRDs and keeps them when the release goes (certificates survive).
        "crds": {"enabled": True, "keep": True},
        "config": metrics_tls(namespace, "cert-manager"),
        "webhook": {"securePort": WEBHOOK_PORT, "config": metrics_tls(namespace, "cert-manager-webhook")},
        "cainjector": {"config": metrics_tls(namespace, "cert-manager-cainjector")},
        "global": {"leaderElection": {"namespace": namespace}},
    }


class StackCertificateAuthorityArgs(TypedDict):
    provider: k8s.Provider
    """Explicit Kubernetes provider of the cluster; every child uses it."""
    namespace: NotRequired[str]
    """cert-manager's cluster resource namespace, where the root's key pair lives. Defaults to `cert-manager`."""
    depends_on: NotRequired[Sequence[pulumi.Resource]]
    """What installs cert-manager's CRDs (the release). Defaults to none (the cluster has them)."""


class StackCertificateAuthority(pulumi.ComponentResource):
    """A self-signed root that signs nothing but itself, and the CA ClusterIssuer `llm-infra-ca` it backs."""

    issuer: pulumi.Output[str]
    """Name of the ClusterIssuer that signs the stack's certificates."""

    def __init__(self, name: str, args: StackCertificateAuthorityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        ns = args.get("namespace", "cert-manager")
        super().__init__("llm-infra:index:StackCertificateAuthority", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args["provider"], depends_on=list(args.get("depends_on", ())))
        labels = {"app.kubernetes.io/part-of": "llm-infra"}
        root_issuer = k8s.apiextensions.CustomResource(
            f"{name}-root-issuer", api_version=CERT_MANAGER_API, kind="ClusterIssuer",
            metadata={"name": ROOT_ISSUER, "labels": labels}, spec={"selfSigned": {}}, opts=child)
        root = k8s.apiextensions.CustomResource(
            f"{name}-root", api_version=CERT_MANAGER_API, kind="Certificate",
            metadata={"name": ROOT_SECRET, "namespace": ns, "labels": labels},
            spec={"isCA": True, "commonName": "llm-infra stack CA", "secretName": ROOT_SECRET,
                  "duration": ROOT_DURATION, "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
                  "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": ROOT_ISSUER}},
            opts=child.merge(pulumi.ResourceOptions(depends_on=[root_issuer])))
        self.ca_issuer = k8s.apiextensions.CustomResource(
            f"{name}-ca-issuer", api_version=CERT_MANAGER_API, kind="ClusterIssuer",
            metadata={"name": STACK_CA_ISSUER, "labels": labels}, spec={"ca": {"secretName": ROOT_SECRET}},
            opts=child.merge(pulumi.ResourceOptions(depends_on=[root])))
        self.issuer = pulumi.Output.from_input(STACK_CA_ISSUER)
        self.register_outputs({"issuer": self.issuer})


def certificate_spec(secret: str, dns_names: Sequence[str], issuer: str) -> dict:
    """A leaf certificate for `dns_names` from ClusterIssuer `issuer`: server and client auth, ECDSA P-256."""
    return {
        "secretName": secret,
        "dnsNames": list(dns_names),
        "duration": LEAF_DURATION,
        "renewBefore": LEAF_RENEW_BEFORE,
        # Server auth for its listeners; client auth so the same pair answers an mTLS peer (KEDA to Prometheus).
        "usages": ["digital signature", "key encipherment", "server auth", "client auth"],
        "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
        "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": issuer},
    }


def tls_issuers(name: str, config, cluster, *, creates_cluster: bool,
                parent: pulumi.Resource) -> tuple[list[pulumi.Resource], list[str]]:
    """What every certificate of a stack waits for, and the plan's install-order lines.

    cert-manager is installed where the stack creates the cluster (`tls.install_cert_manager` decides
    otherwise); the stack's CA chain is created unless `tls.cluster_issuer` names one of your own.
    """
    tls = config.tls
    if not issues_certificates(config):
        return [], []
    install = tls.install_cert_manager
    if install is None:
        install = creates_cluster and config.cloud != "existing"
    ready: list[pulumi.Resource] = []
    order: list[str] = []
    if install:
        installed = CertManager(f"{name}-cert-manager", {
            "provider": cluster.provider, "namespace": tls.cert_manager_namespace,
            "monitoring_namespace": config.monitoring.namespace,
            "chart": chart_spec(versions.CERT_MANAGER_CHART, tls.cert_manager_chart.model_dump()),
        }, opts=pulumi.ResourceOptions(parent=parent))
        ready = [installed.release]
        order += [f"namespace {tls.cert_manager_namespace}: Pod Security baseline (restricted warned), default-deny "
                  "and needed-allow NetworkPolicies",
                  f"helm {describe_chart(installed.chart)} into {tls.cert_manager_namespace} "
                  "(CRDs Certificate, Issuer, ClusterIssuer)"]
    if tls.cluster_issuer is None:
        ca = StackCertificateAuthority(f"{name}-ca", {
            "provider": cluster.provider, "namespace": tls.cert_manager_namespace, "depends_on": ready,
        }, opts=pulumi.ResourceOptions(parent=parent))
        ready = [*ready, ca.ca_issuer]
        order.append(f"ClusterIssuer {ROOT_ISSUER} (self-signed) -> certificate {tls.cert_manager_namespace}/"
                     f"{ROOT_SECRET} (root CA) -> ClusterIssuer {STACK_CA_ISSUER}")
    else:
        order.append(f"ClusterIssuer {tls.cluster_issuer} (yours) signs every certificate")
    return ready, order
