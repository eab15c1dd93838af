"""LlmPlatform: picks the cluster for the stack's cloud and wires cluster -> GPU layer -> models.

This module is the only place that knows which cloud a stack targets. The Kubernetes
layer below it sees a `ClusterContract` and nothing else.
"""

from collections import defaultdict
from typing import Any, NotRequired, TypedDict

import pulumi

from . import versions
from .config import ConfigError, StackConfig, StackConfigSpec, validate_spec
from .clouds import CLOUDS
from .cache_volume import cache_read_mib_s, with_load_budget
from .fit import check_fit
from .guardrails import device_list_strategy
from .contract import ClusterContract
from .extras import missing_extra
from .extras import installed as extra_installed
from .kubernetes.gpu_admission import OPT_OUT_LABEL, OPT_OUT_VALUE, GpuAdmissionPolicy, exempt_namespaces
from .kubernetes.gpu_layer import DEFAULT_DCGM_NAMESPACE, GpuSoftwareLayer
from .kubernetes.cert_manager import STACK_CA_ISSUER, tls_issuers
from .kubernetes.operators import PROMETHEUS_PORT, ClusterOperators, ClusterOperatorsArgs, chart_spec
from .kubernetes.tenant_namespace import TenantNamespace
from .planning.stack import plan_stack
from .triton.workload import TritonLlmWorkload, TritonLlmWorkloadArgs


class LlmPlatformArgs(TypedDict):
    config: StackConfigSpec
    """The stack config: the same fields as a stack's `llm-infra:*` keys, validated the same way.
    Python programs may pass a validated `StackConfig` (`llm_infra.config.load_stack_config()`)."""
    kubeconfig: NotRequired[pulumi.Input[str]]
    """Kubeconfig for `cloud: existing`, as a Pulumi secret. Defaults to none (required for `existing`)."""


class ModelEndpoint(TypedDict):
    """Where a model is served inside the cluster."""

    namespace: str
    """Namespace of the model."""
    http: str
    """In-cluster HTTP/REST endpoint (KServe v2 protocol)."""
    grpc: str
    """In-cluster gRPC endpoint."""
    openai: str | None
    """In-cluster base URL of the model's OpenAI-compatible API (`http://<model>.<namespace>.svc.cluster.local:9000/v1`).
    Defaults to none when the model sets `openai_api: false`."""
    account: str
    """Kubernetes service account of the model's pods (bound to the identity that reads its weights)."""


class LlmPlatform(pulumi.ComponentResource):
    """The whole private LLM serving platform of one environment."""

    model_endpoints: pulumi.Output[dict[str, ModelEndpoint]]
    """Per model name: namespace, HTTP and gRPC endpoints, OpenAI base URL, service account."""
    namespaces: pulumi.Output[list[str]]
    """Tenant namespaces the platform created."""
    device_plugin_deployed: pulumi.Output[bool]
    """Whether llm-infra deployed the NVIDIA device plugin (false where the cloud manages it)."""
    model_plans: pulumi.Output[dict[str, Any]]
    """Per model name: GPU fit, and on clouds the instance type, decode bound and estimated cost per million tokens."""
    estimated_monthly_cost_usd: pulumi.Output[dict[str, Any]]
    """Monthly cost at minimum and maximum scale with its breakdown (clouds only; empty for `existing`)."""
    inference_routes: pulumi.Output[dict[str, str]]
    """Per model name, its route on the inference Gateway (empty unless `inference_gateway.enabled`)."""
    kubeconfig: pulumi.Output[str | None]
    """Kubeconfig of the stack's cluster, a secret (for `existing`, the one given; none with a `contract`)."""

    def __init__(self, name: str, args: LlmPlatformArgs, opts: pulumi.ResourceOptions | None = None, *,
                 contract: ClusterContract | None = None) -> None:
        """`contract` (Python only): run on a cluster built elsewhere, e.g. another stack's, instead of the stack's own."""
        config = validate_spec(StackConfig, args.get("config"), field="config")
        self._contract_given = contract is not None
        cluster = contract
        plugin = CLOUDS.get(config.cloud)
        if cluster is None and plugin is None and config.cloud != "existing":
            raise ConfigError(
                f"cloud: expected one of {['existing', *CLOUDS]} in this release of llm-infra "
                f"(or pass a ClusterContract), got {config.cloud!r}"
            )
        if cluster is None and config.cloud == "existing" and args.get("kubeconfig") is None:
            raise ConfigError("kubeconfig: expected the existing cluster's kubeconfig as a Pulumi secret, got nothing")
        if cluster is None and plugin is not None and not extra_installed(plugin.extra):
            raise ConfigError(missing_extra(plugin.extra, f"cloud: {config.cloud}"))
        if cluster is None:
            # Every replica must fit a node of its pool (the cloud's reservations, our DaemonSets).
            check_fit(config)
        super().__init__("llm-infra:index:LlmPlatform", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        # Stack outputs of the cloud cluster (e.g. the kubeconfig, as a secret), for the stack program to export.
        self.cluster_outputs: dict[str, pulumi.Output] = {}
        if cluster is None and plugin is not None:
            platform_cluster = plugin.platform_cluster_class()(f"{name}-cluster", {"config": config}, opts=child)
            self.cluster_outputs = platform_cluster.stack_outputs()
            cluster = platform_cluster.contract
        if cluster is None:
            from .existing import ExistingCluster

            existing = config.existing
            assert existing is not None  # guaranteed by StackConfig for cloud 'existing'
            self.cluster_outputs = {
                "kubeconfig": pulumi.Output.secret(args["kubeconfig"]),
                "deployer_access": pulumi.Output.from_input({
                    "endpoint": "the API server named in the kubeconfig",
                    "from": ["wherever that server is reachable: the runner needs a path to it"],
                    "ingress": "none created (the cluster is not the stack's)",
                    "runner": "GitHub workflows: a runner that reaches that API server (repository variable PULUMI_RUNNER)",
                }),
            }
            cluster = ExistingCluster(
                f"{name}-cluster",
                {
                    "kubeconfig": args["kubeconfig"],
                    "storage_class": existing.storage_class,
                    "manages_device_plugin": existing.manages_device_plugin,
                    "model_identities": existing.model_identities,
                    "zone_label": existing.zone_label,
                },
                opts=child,
            ).contract
        self.cluster = cluster

        # A cluster the stack creates has no KEDA or Prometheus Operator: install them first.
        install_operators = config.monitoring.install_operators
        if install_operators is None:
            install_operators = contract is None and config.cloud != "existing"
        operators: list[pulumi.Resource] = []
        self.operator_install_order: pulumi.Output[list[str]] = pulumi.Output.from_input([])
        # TLS: cert-manager (on a cluster the stack creates), then the issuer chain, before any certificate.
        issuer_ready, install_order = tls_issuers(name, config, cluster, creates_cluster=contract is None,
                                                  parent=self)
        monitoring = config.monitoring
        if (config.tls.enabled and install_operators
                and monitoring.prometheus_url == type(monitoring).model_fields["prometheus_url"].default):
            monitoring = monitoring.model_copy(update={
                "prometheus_url": f"https://prometheus-operated.{monitoring.namespace}.svc:{PROMETHEUS_PORT}"})
        if install_operators:
            installed = self._operators(name, config, cluster, issuer_ready)
            operators = installed.releases
            self.operator_install_order = installed.install_order
        if install_order and install_operators:
            self.operator_install_order = pulumi.Output.all(pulumi.Output.from_input(install_order),
                                                            self.operator_install_order).apply(lambda p: [*p[0], *p[1]])

        gpu_layer = GpuSoftwareLayer(
            f"{name}-gpu",
            {
                "provider": cluster.provider,
                "manages_device_plugin": cluster.manages_device_plugin,
                "manages_gpu_metrics": cluster.manages_gpu_metrics,
                "gpu_node_label": cluster.gpu_pool_label,
                # The strategy the cloud's GPU nodes are configured for (guardrails.device_list_strategy).
                "device_plugin": config.device_plugin.model_copy(
                    update={"device_list_strategy": device_list_strategy(config)}),
                "dcgm_exporter": config.monitoring.dcgm_exporter,
                "monitoring": config.monitoring.enabled,
                "monitoring_namespace": config.monitoring.namespace,
                "service_monitor_labels": dict(config.monitoring.selector_labels),
                "tls_issuer": (config.tls.cluster_issuer or STACK_CA_ISSUER) if config.tls.enabled else None,
            },
            opts=child.merge(pulumi.ResourceOptions(depends_on=[*operators, *issuer_ready])),
        )

        quota: dict[str, int] = defaultdict(int)
        for m in config.models:
            quota[m.namespace] += m.max_replicas * m.gpus_per_replica
        # No pod names GPUs itself or sits on a GPU node without one (gpu_admission; opting out marks the namespaces).
        admission = config.gpu_admission
        gpu_policy: list[pulumi.Resource] = []
        if admission.enabled:
            runs_dcgm = config.monitoring.dcgm_exporter and not cluster.manages_gpu_metrics
            gpu_policy.append(GpuAdmissionPolicy(f"{name}-gpu-admission", {
                "provider": cluster.provider,
                "gpu_pool_label": cluster.gpu_pool_label,
                "exempt_namespaces": exempt_namespaces(admission.exempt_namespaces,
                                                       DEFAULT_DCGM_NAMESPACE if runs_dcgm else None),
            }, opts=child))
        opt_out = {} if admission.enabled else {OPT_OUT_LABEL: OPT_OUT_VALUE}
        tenants = {
            ns: TenantNamespace(f"{name}-ns-{ns}", {"namespace": ns, "gpu_quota": q, "provider": cluster.provider,
                                                   "labels": opt_out},
                                opts=child)
            for ns, q in sorted(quota.items())
        }

        self.workloads: dict[str, TritonLlmWorkload] = {}
        for m in config.models:
            workload_args: TritonLlmWorkloadArgs = {
                # The startup budget reads the weights at the cache volume's real rate on this cloud.
                "model": with_load_budget(config, m) if contract is None else m,
                "cluster": cluster.workload_cluster(), "production": config.production,
                "monitoring": monitoring, "tls": config.tls,
            }
            # ... and pulumi waits for the weight copy at that volume's rate.
            if contract is None and (rate := cache_read_mib_s(config, m)):
                workload_args["cache_write_mib_s"] = rate
            self.workloads[m.name] = TritonLlmWorkload(
                f"{name}-{m.name}",
                workload_args,
                opts=child.merge(pulumi.ResourceOptions(depends_on=[tenants[m.namespace], gpu_layer, *operators,
                                                                          *issuer_ready, *gpu_policy])),
                bind_identity=cluster.bind_model_identity,
            )

        # Inference routing by the Gateway API Inference Extension (opt-in): an InferencePool and its
        # endpoint picker per model behind one internal Gateway.
        self.inference_routes: pulumi.Output[dict[str, str]] = pulumi.Output.from_input({})
        if config.inference_gateway.enabled:
            self.inference_routes = self._inference_gateway(name, config, cluster,
                                                            [*tenants.values(), *operators, *issuer_ready])

        self.model_endpoints = pulumi.Output.all(**{
            n: pulumi.Output.all(namespace=w.namespace, http=w.http_endpoint, grpc=w.grpc_endpoint,
                                 openai=w.openai_base_url, account=w.service_account)
            for n, w in self.workloads.items()
        })
        self.namespaces = pulumi.Output.from_input(sorted(tenants))
        self.kubeconfig = self.cluster_outputs.get("kubeconfig", pulumi.Output.from_input(None))
        self.device_plugin_deployed = gpu_layer.device_plugin_deployed
        planned = plan_stack(config).outputs()
        self.model_plans = pulumi.Output.from_input(planned["model_plans"])
        self.estimated_monthly_cost_usd = pulumi.Output.from_input(planned.get("estimated_monthly_cost_usd", {}))
        self.register_outputs({
            "model_endpoints": self.model_endpoints,
            "namespaces": self.namespaces,
            "device_plugin_deployed": self.device_plugin_deployed,
            "model_plans": self.model_plans,
            "estimated_monthly_cost_usd": self.estimated_monthly_cost_usd,
            "kubeconfig": self.kubeconfig,
            "inference_routes": self.inference_routes,
        })

    def _inference_gateway(self, name: str, config: StackConfig, cluster: ClusterContract,
                           deps: list[pulumi.Resource]) -> pulumi.Output[dict[str, str]]:
        """The stack's Gateway and, per model, an InferencePool with its endpoint picker and HTTPRoute."""
        from .kubernetes import inference_gateway as gaie
        from .triton.workload import pod_selector

        gw = config.inference_gateway
        plugin = CLOUDS.get(config.cloud)
        gateway_class = gaie.gateway_class(config)
        assert gateway_class is not None  # config_problems refuses a stack without one
        routed = gaie.InferenceGateway(f"{name}-inference-gateway", {
            "provider": cluster.provider,
            "models": list(config.models),
            "gateway_class": gateway_class,
            "pod_selectors": {m.name: pod_selector(m) for m in config.models},
            "namespace": gw.namespace,
            "gateway_annotations": dict(plugin.internal_lb_annotations) if plugin is not None else {},
            "source_cidrs": [*gw.source_cidrs, *cluster.gateway_source_cidrs],
            "install_crds": gaie.installs_crds(config),
            "tls": config.tls.enabled,
            "listener_issuer": (config.tls.cluster_issuer or STACK_CA_ISSUER) if gaie.listener_tls(config) else None,
            "hostname": gw.hostname,
        }, opts=pulumi.ResourceOptions(parent=self, depends_on=deps))
        return routed.routes

    def _operators(self, name: str, config: StackConfig, cluster: ClusterContract,
                   issuer_ready: list[pulumi.Resource]) -> ClusterOperators:
        """KEDA and kube-prometheus-stack as pinned Helm releases in locked-down namespaces."""
        monitoring = config.monitoring
        operator_args: ClusterOperatorsArgs = {
            "provider": cluster.provider,
            "monitoring_namespace": monitoring.namespace,
            # Prometheus scrapes the models, the GPU exporter and the cluster autoscaler (kube-system).
            "scrape_namespaces": sorted({m.namespace for m in config.models} | {"gpu-monitoring", "kube-system"}),
            "keda_chart": chart_spec(versions.KEDA_CHART, monitoring.keda_chart.model_dump()),
            "prometheus_chart": chart_spec(versions.KUBE_PROMETHEUS_STACK_CHART, monitoring.prometheus_chart.model_dump()),
        }
        if config.tls.enabled:
            operator_args["tls_issuer"] = config.tls.cluster_issuer or STACK_CA_ISSUER
            operator_args["tls_depends_on"] = issuer_ready
        return ClusterOperators(f"{name}-operators", operator_args, opts=pulumi.ResourceOptions(parent=self))
