"""ClusterOperators: KEDA and the Prometheus Operator stack, installed before any of their custom resources.

On a cluster the stack creates, nothing provides the CRDs of the objects the workload
registers (ScaledObject from KEDA; ServiceMonitor and PrometheusRule from the Prometheus
Operator). This component installs both as pinned Helm releases into namespaces that are
locked down first:

1. the `keda` and monitoring namespaces, each with Pod Security `baseline` enforced and
   `restricted` warned and audited, a
   default-deny NetworkPolicy, DNS egress and a zero GPU quota (`TenantNamespace`), then
   the paths each operator needs (API server, webhooks, Prometheus queries, scraping);
2. Grafana's admin credentials as a Secret whose password is generated once
   (`GeneratedPassword`), never the chart's well-known default;
3. the two Helm releases (`atomic`: a failed install rolls back), which install the CRDs.

`releases` is what every custom resource must wait for (`depends_on`). Each chart comes
from its pinned repository and version in `llm_infra.versions`, or from a `ChartSource`
(another repository, or a chart on disk for an offline or mirrored install).
"""

from collections.abc import Mapping, Sequence
from typing import NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from .. import versions
from ..facts import Source
from .generated_password import GeneratedPassword
from .tenant_namespace import TenantNamespace, TenantNamespaceArgs

# The API server and the cloud's APIs, from anywhere but the node's metadata service.
_API_PEER = {"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.0.0/16"]}}
_API_PORTS = [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}]
# The API server calls webhooks from the control plane's private addresses on every managed cloud
# (EKS: its network interfaces in the VPC; GKE: the control plane range; AKS: the API server subnet
# or its tunnel): admit the private ranges, never the internet.
_CONTROL_PLANE_PEERS = [{"ipBlock": {"cidr": c}} for c in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]
# Every operator namespace's own allowances beside the default-deny: traffic within the namespace, and
# the API server (and, for cert-manager, issuers of your own PKI) over HTTPS.
OPERATOR_NAMESPACE_POLICIES: tuple[tuple[str, dict], ...] = (
    ("allow-within-namespace", {"policyTypes": ["Ingress", "Egress"], "ingress": [{"from": [{"podSelector": {}}]}],
                                "egress": [{"to": [{"podSelector": {}}]}]}),
    ("allow-api-server-egress", {"policyTypes": ["Egress"], "egress": [{"to": [_API_PEER], "ports": _API_PORTS}]}),
)


def operator_namespace_args(provider: k8s.Provider, namespace: str) -> TenantNamespaceArgs:
    """TenantNamespace inputs of an operator's namespace: no GPUs; Pod Security baseline enforced, restricted
    warned and audited, because the charts' pods are rendered by Helm at `pulumi up` and a restricted violation
    in an upstream chart must not fail the install."""
    return {"provider": provider, "namespace": namespace, "gpu_quota": 0, "labels": {"llm-infra.io/role": "operators"},
            "pod_security": "baseline", "pod_security_warn": "restricted"}


# Ports the API server calls back on: KEDA's metrics API server and admission webhooks,
# the Prometheus Operator's admission webhook; read from the pinned charts (CHART_PORT_SOURCES).
KEDA_API_SERVER_PORTS = (6443, 9443)
PROMETHEUS_OPERATOR_WEBHOOK_PORT = 10250
CHART_PORT_SOURCES = (
    Source("https://github.com/kedacore/charts/blob/v2.16.0/keda/values.yaml",
           "metricsServer portHttpsTarget: 6443 (the metrics API server's container port); webhooks.port '' and "
           "templates/webhooks/deployment.yaml passes --port only when set, so the webhook server keeps "
           "controller-runtime's 9443 ('Default is 9443'); operator<->metrics server gRPC stays inside the namespace."),
    Source("https://github.com/prometheus-community/helm-charts/blob/kube-prometheus-stack-66.3.0/charts/"
           "kube-prometheus-stack/values.yaml",
           "prometheusOperator.tls.internalPort: 10250; templates/prometheus-operator/deployment.yaml serves the "
           "admission webhook there (--web.listen-address); Prometheus 9090, Grafana and kube-state-metrics talk "
           "inside the namespace; Grafana's sidecars and the webhook patch jobs call the API server."),
)
PROMETHEUS_PORT = 9090
KUBELET_PORT = 10250
GRAFANA_ADMIN_SECRET = "grafana-admin"
PROMETHEUS_TLS_SECRET = "prometheus-tls"
# Services in front of Prometheus: the operator's governing one, and the chart's (release name + "-prometheus").
PROMETHEUS_SERVICES = ("prometheus-operated", "kube-prometheus-stack-prometheus")
GRAFANA_CA_MOUNT = "/etc/llm-infra/prometheus-ca"


class ChartSpec(TypedDict):
    """Where a Helm chart comes from."""

    chart: str
    """Chart name in its repository."""
    version: NotRequired[str]
    """Chart version. Defaults to the pinned version in `llm_infra.versions`."""
    repo: NotRequired[str]
    """Chart repository URL. Defaults to the upstream repository in `llm_infra.versions`."""
    path: NotRequired[str]
    """A chart directory or archive on the deploying machine instead of a repository. Defaults to none."""


class ClusterOperatorsArgs(TypedDict):
    provider: k8s.Provider
    """Explicit Kubernetes provider of the cluster; every child uses it."""
    monitoring_namespace: NotRequired[str]
    """Namespace of Prometheus, Alertmanager and Grafana. Defaults to `monitoring`."""
    keda_namespace: NotRequired[str]
    """Namespace of KEDA. Defaults to `keda`."""
    scrape_namespaces: NotRequired[Sequence[str]]
    """Namespaces whose pods Prometheus may scrape (model and GPU namespaces). Defaults to none besides its own."""
    keda_chart: NotRequired[ChartSpec]
    """The KEDA chart. Defaults to `llm_infra.versions.KEDA_CHART`."""
    prometheus_chart: NotRequired[ChartSpec]
    """The kube-prometheus-stack chart. Defaults to `llm_infra.versions.KUBE_PROMETHEUS_STACK_CHART`."""
    tls_issuer: NotRequired[str]
    """A cert-manager ClusterIssuer: Prometheus then serves its API only over TLS with a certificate from it
    (KEDA and Grafana verify it against its CA). Defaults to none: plain HTTP."""
    tls_depends_on: NotRequired[Sequence[pulumi.Resource]]
    """What the certificate waits for (cert-manager's release, the issuer). Defaults to none."""


def _chart_inputs(spec: ChartSpec) -> dict:
    """The Release inputs for a chart from a repository (name, version, repo) or from a path."""
    if spec.get("path"):
        return {"chart": spec["path"]}
    return {"chart": spec["chart"], "version": spec["version"], "repository_opts": {"repo": spec["repo"]}}


def chart_spec(pinned: Mapping[str, str], override: Mapping[str, str | None] | None) -> ChartSpec:
    """The pinned chart with an override's repo, version or path applied."""
    given = {k: v for k, v in (override or {}).items() if v is not None}
    if given.get("path"):
        return {"chart": pinned["chart"], "path": given["path"]}
    return {"chart": pinned["chart"], "version": given.get("version", pinned["version"]),
            "repo": given.get("repo", pinned["repo"])}


def describe_chart(spec: ChartSpec) -> str:
    """One line for the plan: which chart, which version, from where."""
    if spec.get("path"):
        return f"{spec['chart']} from {spec['path']}"
    return f"{spec['chart']} {spec['version']} from {spec['repo']}"


class ClusterOperators(pulumi.ComponentResource):
    """KEDA and kube-prometheus-stack as pinned Helm releases in locked-down namespaces."""

    install_order: pulumi.Output[list[str]]
    """What is installed, in order: the namespaces and their policies, then each chart."""

    def __init__(self, name: str, args: ClusterOperatorsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        provider = args["provider"]
        mon_ns = args.get("monitoring_namespace", "monitoring")
        keda_ns = args.get("keda_namespace", "keda")
        if mon_ns == keda_ns:
            raise ValueError(f"keda_namespace: expected a namespace other than the monitoring one, got {keda_ns!r}")
        keda_chart = args.get("keda_chart") or chart_spec(versions.KEDA_CHART, None)
        prom_chart = args.get("prometheus_chart") or chart_spec(versions.KUBE_PROMETHEUS_STACK_CHART, None)
        scraped = sorted({*args.get("scrape_namespaces", ()), keda_ns} - {mon_ns})

        super().__init__("llm-infra:index:ClusterOperators", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        part_of = {"app.kubernetes.io/part-of": "llm-infra"}

        def policy(ns_name: str, policy_name: str, spec: dict, deps: list[pulumi.Resource]) -> k8s.networking.v1.NetworkPolicy:
            return k8s.networking.v1.NetworkPolicy(
                f"{name}-{ns_name}-{policy_name}",
                metadata={"name": policy_name, "namespace": ns_name, "labels": part_of},
                spec={"podSelector": {}, **spec},
                opts=child.merge(pulumi.ResourceOptions(depends_on=deps)),
            )

        namespaces: dict[str, TenantNamespace] = {}
        guards: dict[str, list[pulumi.Resource]] = {}
        for ns_name in (keda_ns, mon_ns):
            namespaces[ns_name] = TenantNamespace(f"{name}-ns-{ns_name}", operator_namespace_args(provider, ns_name),
                                                  opts=pulumi.ResourceOptions(parent=self))
            ns_dep: list[pulumi.Resource] = [namespaces[ns_name]]
            guards[ns_name] = [namespaces[ns_name], *(
                policy(ns_name, policy_name, spec, ns_dep) for policy_name, spec in OPERATOR_NAMESPACE_POLICIES)]

        # KEDA: the API server calls its metrics API server and webhooks; KEDA queries Prometheus.
        guards[keda_ns] += [
            policy(keda_ns, "allow-api-server-callbacks", {
                "policyTypes": ["Ingress"],
                "ingress": [{"from": _CONTROL_PLANE_PEERS, "ports": [{"protocol": "TCP", "port": p} for p in KEDA_API_SERVER_PORTS]}],
            }, [namespaces[keda_ns]]),
            policy(keda_ns, "allow-prometheus-queries", {
                "policyTypes": ["Egress"],
                "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": mon_ns}}}],
                            "ports": [{"protocol": "TCP", "port": PROMETHEUS_PORT}]}],
            }, [namespaces[keda_ns]]),
            policy(keda_ns, "allow-scrape-from-monitoring", {
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": mon_ns}}}]}],
            }, [namespaces[keda_ns]]),
        ]
        # Prometheus: KEDA queries it; the API server calls the operator's webhook; it scrapes
        # the model, GPU and KEDA namespaces and the kubelets.
        guards[mon_ns] += [
            policy(mon_ns, "allow-keda-queries", {
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": keda_ns}}}],
                             "ports": [{"protocol": "TCP", "port": PROMETHEUS_PORT}]}],
            }, [namespaces[mon_ns]]),
            policy(mon_ns, "allow-api-server-callbacks", {
                "policyTypes": ["Ingress"],
                "ingress": [{"from": _CONTROL_PLANE_PEERS, "ports": [{"protocol": "TCP", "port": PROMETHEUS_OPERATOR_WEBHOOK_PORT}]}],
            }, [namespaces[mon_ns]]),
            policy(mon_ns, "allow-scrape-egress", {
                "policyTypes": ["Egress"],
                "egress": [
                    {"to": [{"namespaceSelector": {"matchExpressions": [
                        {"key": "kubernetes.io/metadata.name", "operator": "In", "values": scraped}]}}]},
                    {"to": [_API_PEER], "ports": [{"protocol": "TCP", "port": KUBELET_PORT}]},
                ],
            }, [namespaces[mon_ns]]),
        ]

        password = GeneratedPassword(f"{name}-grafana-admin-password", 32, opts=pulumi.ResourceOptions(parent=self))
        grafana_secret = k8s.core.v1.Secret(
            f"{name}-grafana-admin",
            metadata={"name": GRAFANA_ADMIN_SECRET, "namespace": mon_ns, "labels": part_of},
            type="Opaque",
            # pulumi's Output.secret is a staticmethod typed with the class's own type variable: mypy infers Never.
            string_data={"admin-user": "admin",
                         "admin-password": pulumi.Output.secret(password.result)},  # type: ignore[arg-type]
            opts=child.merge(pulumi.ResourceOptions(depends_on=[namespaces[mon_ns]])),
        )

        self.keda = k8s.helm.v3.Release(
            f"{name}-keda",
            name="keda",
            namespace=keda_ns,
            create_namespace=False,
            atomic=True,
            cleanup_on_fail=True,
            timeout=600,
            **_chart_inputs(keda_chart),
            opts=child.merge(pulumi.ResourceOptions(depends_on=guards[keda_ns])),
        )
        prometheus_values: dict = {"prometheusSpec": {
            # Select every namespace's ServiceMonitors and rules, not only the release's own.
            "serviceMonitorSelectorNilUsesHelmValues": False,
            "podMonitorSelectorNilUsesHelmValues": False,
            "ruleSelectorNilUsesHelmValues": False,
        }}
        grafana_tls: dict = {}
        tls_objects: list[pulumi.Resource] = []
        if args.get("tls_issuer"):
            tls_objects.append(self._prometheus_tls(name, mon_ns, args["tls_issuer"], args.get("tls_depends_on", ()),
                                                    child, [namespaces[mon_ns]]))
            prometheus_values, grafana_tls = prometheus_tls_values(prometheus_values, mon_ns)
        self.prometheus = k8s.helm.v3.Release(
            f"{name}-kube-prometheus-stack",
            name="kube-prometheus-stack",
            namespace=mon_ns,
            create_namespace=False,
            atomic=True,
            cleanup_on_fail=True,
            timeout=900,
            values={
                "prometheus": prometheus_values,
                "grafana": {
                    "admin": {"existingSecret": GRAFANA_ADMIN_SECRET, "userKey": "admin-user",
                              "passwordKey": "admin-password"},
                    "sidecar": {"dashboards": {"enabled": True, "label": "grafana_dashboard"},
                                **grafana_tls.pop("sidecar", {})},
                    **grafana_tls,
                },
                # The node exporter needs the host's network, PID namespace and filesystem,
                # which Pod Security `baseline` forbids; GPU metrics come from DCGM.
                "nodeExporter": {"enabled": False},
                # Managed control planes: these components cannot be scraped from the cluster.
                "kubeControllerManager": {"enabled": False},
                "kubeScheduler": {"enabled": False},
                "kubeEtcd": {"enabled": False},
                "kubeProxy": {"enabled": False},
            },
            **_chart_inputs(prom_chart),
            opts=child.merge(pulumi.ResourceOptions(depends_on=[*guards[mon_ns], grafana_secret, *tls_objects])),
        )
        self.releases: list[pulumi.Resource] = [self.prometheus, self.keda]
        """What every ScaledObject, ServiceMonitor and PrometheusRule must wait for."""
        self.charts = {"kube-prometheus-stack": prom_chart, "keda": keda_chart}
        self.install_order = pulumi.Output.from_input([
            f"namespaces {keda_ns}, {mon_ns}: Pod Security baseline (restricted warned), default-deny and needed-allow "
            "NetworkPolicies",
            f"secret {mon_ns}/{GRAFANA_ADMIN_SECRET}: Grafana admin password generated on create",
            *([f"certificate {mon_ns}/{PROMETHEUS_TLS_SECRET} from ClusterIssuer {args['tls_issuer']}: Prometheus "
               "serves HTTPS only"] if args.get("tls_issuer") else []),
            f"helm {describe_chart(prom_chart)} into {mon_ns} (CRDs ServiceMonitor, PrometheusRule)",
            f"helm {describe_chart(keda_chart)} into {keda_ns} (CRD ScaledObject)",
        ])
        self.register_outputs({"install_order": self.install_order})

    def _prometheus_tls(self, name, mon_ns, issuer, depends_on, child, namespace) -> pulumi.Resource:
        from .cert_manager import CERT_MANAGER_API, certificate_spec

        names = [n for service in PROMETHEUS_SERVICES for n in (
            service, f"{service}.{mon_ns}", f"{service}.{mon_ns}.svc", f"{service}.{mon_ns}.svc.cluster.local")]
        return k8s.apiextensions.CustomResource(
            f"{name}-prometheus-certificate",
            api_version=CERT_MANAGER_API,
            kind="Certificate",
            metadata={"name": PROMETHEUS_TLS_SECRET, "namespace": mon_ns, "labels": {"app.kubernetes.io/part-of": "llm-infra"}},
            spec=certificate_spec(PROMETHEUS_TLS_SECRET, names, issuer),
            opts=child.merge(pulumi.ResourceOptions(depends_on=[*namespace, *depends_on])),
        )


def prometheus_tls_values(prometheus: dict, mon_ns: str) -> tuple[dict, dict]:
    """kube-prometheus-stack values for a Prometheus that serves HTTPS only, and Grafana's datasource that verifies it.

    The operator sets Prometheus' probes to HTTPS itself; the chart's self-scrape and Grafana's
    datasource verify the certificate against the CA in the same Secret.
    """
    secret = {"name": PROMETHEUS_TLS_SECRET}
    server = f"{PROMETHEUS_SERVICES[0]}.{mon_ns}.svc"
    prometheus = {
        **prometheus,
        "prometheusSpec": {**prometheus["prometheusSpec"], "web": {"tlsConfig": {
            "cert": {"secret": {**secret, "key": "tls.crt"}}, "keySecret": {**secret, "key": "tls.key"},
            "minVersion": "TLS12"}}},
        "serviceMonitor": {"scheme": "https", "tlsConfig": {
            "serverName": server, "ca": {"secret": {**secret, "key": "ca.crt"}}}},
    }
    grafana = {
        # The chart's default datasource has no CA setting; this one reads the CA from the mounted Secret
        # (Grafana's provisioning expands $__file{...}).
        "sidecar": {"datasources": {"defaultDatasourceEnabled": False}},
        "extraSecretMounts": [{"name": "prometheus-ca", "secretName": PROMETHEUS_TLS_SECRET,
                               "mountPath": GRAFANA_CA_MOUNT, "readOnly": True}],
        "additionalDataSources": [{
            "name": "Prometheus", "type": "prometheus", "uid": "prometheus", "isDefault": True, "access": "proxy",
            "url": f"https://{server}:{PROMETHEUS_PORT}",
            "jsonData": {"tlsAuthWithCACert": True, "serverName": server},
            "secureJsonData": {"tlsCACert": f"$__file{{{GRAFANA_CA_MOUNT}/ca.crt}}"},
        }],
    }
    return prometheus, grafana
