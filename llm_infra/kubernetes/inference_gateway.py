"""InferenceGateway: inference routing by the Gateway API Inference Extension (GAIE), opt-in per stack.

With `inference_gateway.enabled`, every model gets, in its own namespace:

- an InferencePool (`inference.networking.k8s.io/v1`) selecting the model's Triton pods;
- its endpoint picker (EPP): a ServiceAccount, a namespaced Role (get/list/watch pods and
  inferencepools, nothing else), a ConfigMap with its EndpointPickerConfig, a Deployment that
  runs under Pod Security `restricted` and a ClusterIP Service for the gateway's ext-proc calls;
- NetworkPolicies: the gateway to the EPP's ext-proc port and to the model's routed port, the EPP
  to the model pods' metrics port, to DNS and to the API server;
- an HTTPRoute under `/<model>/` whose backendRef is the InferencePool.

and the stack gets one Gateway in its own locked-down namespace, with a GatewayClass that
provisions an internal load balancer only. Off (the default), a model is reached through its
ClusterIP Service only, as before.

The EPP is fed by metrics our engines really export at the pinned tags (`ENGINE_METRICS`, held
to `llm_infra.triton.upstream.METRICS` by tests); what an engine does not export is left out of
its engine config (an empty spec: the EPP does not scrape it) and said in `ENGINE_METRICS`.

Every fact about the upstream project and the clouds is a row below with its source and the date
it was read (`READ_ON`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s
import yaml

from .. import versions
from ..ordering import waits_like_component
from ..triton.args import HTTP_PORT, METRICS_PORT
from ..triton.openai import OPENAI_PORT
from .cert_manager import certificate_spec
from .operators import _API_PEER, _API_PORTS
from .tenant_namespace import TenantNamespace
from ..catalog.gateways import (  # re-exported: the gateway classes' facts live in the bottom layer
    DEFAULT_GATEWAY_CLASS as DEFAULT_GATEWAY_CLASS,
    GATEWAY_CLASSES as GATEWAY_CLASSES,
    GKE_CRDS_PREINSTALLED as GKE_CRDS_PREINSTALLED,
    INTERNAL_LB_ANNOTATIONS as INTERNAL_LB_ANNOTATIONS,
    INTERNAL_LB_SOURCES as INTERNAL_LB_SOURCES,
    GatewayClassFact as GatewayClassFact,
    gateway_class as gateway_class,
    installs_crds as installs_crds,
)
from ..config.gateway import config_problems as config_problems  # re-exported
from ..config.gateway import listener_tls as listener_tls  # re-exported

if TYPE_CHECKING:
    from ..config import ModelConfig

READ_ON = "2026-12-01"
GAIE_REPO = "kubernetes-sigs/gateway-api-inference-extension"
GAIE_TAG = versions.GATEWAY_API_INFERENCE_EXTENSION_VERSION
GAIE_COMMIT = "df9f8909fe06fe2dfd4a6fc0bd0c01a0acabf849"
GAIE_DATE = "2026-04-18"
GATEWAY_API_REPO = "kubernetes-sigs/gateway-api"
GATEWAY_API_TAG = versions.GATEWAY_API_VERSION

INFERENCE_POOL_API = "inference.networking.k8s.io/v1"
GATEWAY_API = "gateway.networking.k8s.io/v1"
POOL_GROUP = "inference.networking.k8s.io"

# Ports of the EPP (pkg/epp/server/options.go@v1.5.0: DefaultGrpcPort 9002, GRPCHealthPort 9003, MetricsPort 9090).
EXT_PROC_PORT = 9002
EPP_HEALTH_PORT = 9003
EPP_METRICS_PORT = 9090
EPP_CONFIG_MOUNT = "/config"
EPP_CONFIG_FILE = "epp.yaml"
GATEWAY_NAME = "llm-inference"
EPP_MODEL_LABEL = "llm-infra.io/picks-for"
GATEWAY_LISTENER_PORT = 443
GATEWAY_PLAINTEXT_PORT = 80  # only with the named opt-out `inference_gateway.plaintext_listener`
GATEWAY_CERT_SECRET = "llm-inference-tls"
TLS_OPT_OUT_ANNOTATION = "llm-infra.io/tls"  # as the model pods' (llm_infra.policies.tls)
# Resources of one EPP. The upstream chart asks 4 CPU and 8 GiB for high-QPS scale tests
# (config/charts/epplib/values.yaml@v1.5.0); one model's picker needs far less.
EPP_RESOURCES = {"requests": {"cpu": "500m", "memory": "512Mi", "ephemeral-storage": "64Mi"},
                 "limits": {"cpu": "2", "memory": "2Gi", "ephemeral-storage": "256Mi"}}
EPP_RUN_AS_UID = 65532  # the distroless image's nonroot user


def _gaie(path: str, line: int | str = "") -> str:
    return f"{GAIE_REPO} {path}@{GAIE_TAG}" + (f":{line}" if line != "" else "")


# --- the endpoint picker's command line ------------------------------------------------


@dataclass(frozen=True)
class EppFlag:
    """One flag of the EPP at the pinned tag: its default, what we pass, and why."""

    name: str
    default: str
    passed: str | None
    """The value we pass (None: left at its default)."""
    why: str
    source: str


_OPTIONS = "pkg/epp/server/options.go"
EPP_FLAGS: dict[str, EppFlag] = {f.name: f for f in (
    EppFlag("grpc-port", "9002", str(EXT_PROC_PORT), "the ext-proc port the InferencePool's endpointPickerRef names",
            _gaie(_OPTIONS, 126)),
    EppFlag("ha-enable-leader-election", "false", None, "one replica (the upstream chart's recommended pattern)",
            _gaie(_OPTIONS, 127)),
    EppFlag("pool-group", "inference.networking.k8s.io", POOL_GROUP, "InferencePool v1", _gaie(_OPTIONS, 129)),
    EppFlag("pool-namespace", "'' (then $NAMESPACE, else default)", "<model namespace>", "the model's namespace",
            _gaie(_OPTIONS, 131)),
    EppFlag("pool-name", "''", "<model name>", "the model's InferencePool", _gaie(_OPTIONS, 133)),
    EppFlag("endpoint-selector", "''", None, "exclusive with pool-name", _gaie(_OPTIONS, 134)),
    EppFlag("model-server-metrics-port", "0 (the pool's targetPorts[0])", "<the model's metrics port>",
            "Triton serves /metrics on its own port, not on the routed one (deprecated, still read: "
            "pkg/epp/datastore/datastore.go@v1.5.0:296-316)", _gaie(_OPTIONS, 147)),
    EppFlag("model-server-metrics-scheme", "http", None, "deprecated: the metrics-data-source plugin's `scheme`",
            _gaie(_OPTIONS, 141)),
    EppFlag("model-server-metrics-path", "/metrics", None, "deprecated: the metrics-data-source plugin's `path`",
            _gaie(_OPTIONS, 144)),
    EppFlag("refresh-metrics-interval", "50ms", None, "", _gaie(_OPTIONS, 153)),
    EppFlag("metrics-staleness-threshold", "2s", None, "", _gaie(_OPTIONS, 156)),
    EppFlag("total-queued-requests-metric", "vllm:num_requests_waiting", None,
            "refused when set (Validate, options.go:228-240): metrics come from engineConfigs", _gaie(_OPTIONS, 158)),
    EppFlag("total-running-requests-metric", "vllm:num_requests_running", None, "as total-queued-requests-metric",
            _gaie(_OPTIONS, 161)),
    EppFlag("kv-cache-usage-percentage-metric", "vllm:kv_cache_usage_perc", None, "as total-queued-requests-metric",
            _gaie(_OPTIONS, 164)),
    EppFlag("lora-info-metric", "vllm:lora_requests_info", None, "as total-queued-requests-metric",
            _gaie(_OPTIONS, 167)),
    EppFlag("cache-info-metric", "vllm:cache_config_info", None, "as total-queued-requests-metric",
            _gaie(_OPTIONS, 170)),
    EppFlag("tracing", "true", "false", "no OpenTelemetry collector is deployed", _gaie(_OPTIONS, 175)),
    EppFlag("metrics-port", "9090", str(EPP_METRICS_PORT), "", _gaie(_OPTIONS, 177)),
    EppFlag("grpc-health-port", "9003", str(EPP_HEALTH_PORT), "the probes' port", _gaie(_OPTIONS, 178)),
    EppFlag("enable-pprof", "true", "false", "no profiling endpoints in production", _gaie(_OPTIONS, 180)),
    EppFlag("cert-path", "'' (a self-signed certificate)", None, "the self-signed certificate encrypts ext-proc; the gateway implementation (GKE) takes no CA for "
            "the picker, so one from the stack CA would not be verified either (llm_infra.catalog.hop_tls)",
            _gaie(_OPTIONS, 182)),
    EppFlag("secure-serving", "true", "true", "ext-proc over TLS", _gaie(_OPTIONS, 188)),
    EppFlag("metrics-endpoint-auth", "true", "true",
            "its /metrics needs a token allowed by a SubjectAccessReview; no cluster role is granted, so none is scraped",
            _gaie(_OPTIONS, 189)),
    EppFlag("config-file", "''", f"{EPP_CONFIG_MOUNT}/{EPP_CONFIG_FILE}", "the EndpointPickerConfig below",
            _gaie(_OPTIONS, 191)),
    EppFlag("zap-encoder", "console", "json", "controller-runtime's zap flags (pkg/common/observability/logging/"
            "options.go@v1.5.0:59-62)", _gaie("pkg/common/observability/logging/options.go", 59)),
)}


def epp_args(model: ModelConfig) -> list[str]:
    """The EPP's command line for one model: every flag a row of `EPP_FLAGS`."""
    values = {
        "pool-name": model.name, "pool-namespace": model.namespace,
        "model-server-metrics-port": str(scraped_port(model)),
        **{f.name: f.passed for f in EPP_FLAGS.values() if f.passed is not None and not f.passed.startswith("<")},
    }
    return [f"--{name}={value}" for name, value in values.items()]


# --- what feeds the picker: the engines' own metrics -------------------------------------


@dataclass(frozen=True)
class EngineMetrics:
    """The core-metrics-extractor's engine config for one backend (PromQL instant-selector specs).

    None: the pinned engine exports no such series; the spec is passed empty, which the EPP
    reads as "do not scrape" (factories.go@v1.5.0:36-63, site-src/guides/epp-configuration/config-text.md
    "Disabling a specific metric")."""

    engine: str
    queued: str | None
    running: str | None
    kv_usage: str | None
    cache_block_size: str | None
    cache_num_blocks: str | None
    missing: tuple[str, ...]
    """What the EPP cannot get from this backend, and why."""


_PENDING = "nv_inference_pending_request_count"
_NO_LORA = ("LoRA: none of the pinned backends exports vLLM's lora_requests_info; no adapter-aware routing",)


def engine_metrics(model: ModelConfig) -> EngineMetrics:
    """The metrics the EPP reads for a model's backend (families and labels in llm_infra.triton.upstream)."""
    if model.backend == "tensorrtllm":
        # The backend's own gauges, as the EPP's built-in `triton-tensorrt-llm` engine reads them
        # (pkg/epp/framework/plugins/datalayer/extractor/metrics/factories.go@v1.5.0:110-119).
        return EngineMetrics(
            "triton-tensorrtllm",
            queued='nv_trt_llm_request_metrics{request_type="waiting"}',
            running='nv_trt_llm_request_metrics{request_type="scheduled"}',
            kv_usage='nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type="fraction"}',
            cache_block_size='nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type="tokens_per"}',
            cache_num_blocks='nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type="max"}',
            missing=_NO_LORA,
        )
    pending = f'{_PENDING}{{model="{model.name}"}}'
    if model.backend == "vllm":
        return EngineMetrics(
            "triton-vllm", queued=pending, running=None, kv_usage=None, cache_block_size=None, cache_num_blocks=None,
            missing=(
                "queue: Triton's pending count only (requests not yet handed to execute()); the vLLM engine's own "
                "waiting queue, vllm:num_requests_waiting, is not exported by vllm_backend r26.01",
                "running requests: vllm:num_requests_running is not exported by vllm_backend r26.01",
                "KV-cache usage: vllm:kv_cache_usage_perc (and gpu_cache_usage_perc) is not exported by vllm_backend "
                "r26.01; the kv-cache-utilization scorer is left out, the prefix-cache scorer tracks prefixes itself",
                *_NO_LORA,
            ),
        )
    return EngineMetrics(
        "triton-python", queued=pending, running=None, kv_usage=None, cache_block_size=None, cache_num_blocks=None,
        missing=("running requests: Triton core exports no in-flight gauge per model",
                 "KV-cache usage: a python model has no KV cache Triton knows of", *_NO_LORA),
    )


def metric_specs(model: ModelConfig) -> list[str]:
    """Every metric spec the EPP is given for `model`."""
    m = engine_metrics(model)
    return [s for s in (m.queued, m.running, m.kv_usage, m.cache_block_size, m.cache_num_blocks) if s]


def routed_port(model: ModelConfig) -> int:
    """The port the InferencePool targets: the OpenAI-compatible frontend's port, or with `openai_api:
    false` Triton's HTTP port (KServe v2)."""
    return OPENAI_PORT if model.openai_api else HTTP_PORT


def scraped_port(model: ModelConfig) -> int:
    """The port the picker reads the model's /metrics on: under the OpenAI frontend its own port (it serves
    Triton's metrics at GET /metrics, llm_infra.triton.openai.REPLACED), else Triton's metrics port."""
    return OPENAI_PORT if model.openai_api else METRICS_PORT


def request_parser(model: ModelConfig) -> str:
    """The EPP's request parser: `openai-parser` (its default) reads OpenAI bodies and rejects others
    (pkg/epp/framework/plugins/requesthandling/parsers/openai/openai.go@v1.5.0:188); KServe v2 bodies
    go through `passthrough-parser` (no prefix-cache input)."""
    return "passthrough-parser" if routed_port(model) == HTTP_PORT else "openai-parser"


def endpoint_picker_config(model: ModelConfig, *, tls: bool = False) -> dict:
    """The EndpointPickerConfig (apix/config/v1alpha1@v1.5.0) for one model: the upstream default
    profile (pkg/epp/config/loader/defaults.go@v1.5.0:46-101) less what its engine cannot feed."""
    m = engine_metrics(model)
    scorers = [("queue-scorer", 2.0)]
    if m.kv_usage:
        scorers.append(("kv-cache-utilization-scorer", 2.0))
    scorers.append(("prefix-cache-scorer", 3.0))
    engine = {
        "name": m.engine,
        "queuedRequestsSpec": m.queued or "",
        "runningRequestsSpec": m.running or "",
        "kvUsageSpec": m.kv_usage or "",
        "loraSpec": "",
        "cacheInfoSpec": "",
        **({"cacheBlockSizeSpec": m.cache_block_size} if m.cache_block_size else {}),
        **({"cacheNumBlocksSpec": m.cache_num_blocks} if m.cache_num_blocks else {}),
    }
    parser = request_parser(model)
    return {
        "apiVersion": "inference.networking.x-k8s.io/v1alpha1",
        "kind": "EndpointPickerConfig",
        "plugins": [
            *({"name": s, "type": s} for s, _ in scorers),
            {"name": parser, "type": parser},
            {"name": "metrics-data-source", "type": "metrics-data-source",
             # Over TLS where the pods serve it; the data source at v1.5.0 takes no CA, only
             # insecureSkipVerify (pkg/epp/framework/plugins/datalayer/source/metrics/datasource.go@v1.5.0:46-57):
             # the scrape is encrypted, the server is not verified.
             "parameters": {"scheme": "https", "path": "/metrics", "insecureSkipVerify": True} if tls
             else {"scheme": "http", "path": "/metrics"}},
            {"name": "core-metrics-extractor", "type": "core-metrics-extractor",
             "parameters": {"defaultEngine": m.engine, "engineConfigs": [engine]}},
        ],
        "schedulingProfiles": [{"name": "default",
                                "plugins": [{"pluginRef": s, "weight": w} for s, w in scorers]}],
        "parser": {"pluginRef": parser},
        "dataLayer": {"sources": [{"pluginRef": "metrics-data-source",
                                   "extractors": [{"pluginRef": "core-metrics-extractor"}]}]},
    }


# --- gateway classes per cloud ----------------------------------------------------------


# --- the component --------------------------------------------------------------------


class InferenceGatewayArgs(TypedDict):
    provider: k8s.Provider
    """Explicit Kubernetes provider of the cluster; every child uses it."""
    models: Sequence[ModelConfig]
    """The models to route (validated `ModelConfig`s)."""
    gateway_class: str
    """GatewayClass of the Gateway (an implementation that supports InferencePool, internal load balancers only)."""
    pod_selectors: Mapping[str, Mapping[str, str]]
    """Per model name, the labels that select its Triton pods."""
    namespace: NotRequired[str]
    """Namespace of the Gateway. Defaults to `llm-gateway`."""
    gateway_annotations: NotRequired[Mapping[str, str]]
    """Annotations for the Service an in-cluster implementation creates (`spec.infrastructure`), e.g. the cloud's
    internal load balancer annotation. Defaults to none."""
    source_cidrs: NotRequired[Sequence[str]]
    """Private ranges a managed load balancer's proxies connect from. Defaults to none."""
    install_crds: NotRequired[bool]
    """Install the pinned Gateway API and InferencePool CRDs. Defaults to false (the cluster has them)."""
    image: NotRequired[str]
    """EPP image. Defaults to `llm_infra.versions.ENDPOINT_PICKER_IMAGE`."""
    tls: NotRequired[bool]
    """The model pods serve TLS (a stack's `tls.enabled`): the picker reads their metrics over https. Defaults to false."""
    listener_issuer: NotRequired[str | None]
    """The ClusterIssuer that signs the Gateway listener's certificate: the listener speaks HTTPS on 443 with it.
    Defaults to none: plain HTTP on 80 (the named opt-out `inference_gateway.plaintext_listener`)."""
    hostname: NotRequired[str | None]
    """The name clients use for the Gateway (the listener's `hostname`, the certificate's DNS name). Defaults to
    none: any name is routed; the certificate names `llm-inference.<namespace>`."""


def gateway_dns_name(namespace: str) -> str:
    """The DNS name the Gateway's certificate carries when `inference_gateway.hostname` is not set."""
    return f"{GATEWAY_NAME}.{namespace}"


def crd_urls() -> list[str]:
    """The pinned CRDs' release manifests (what `install_crds` applies)."""
    return [
        f"https://github.com/{GATEWAY_API_REPO}/releases/download/{GATEWAY_API_TAG}/standard-install.yaml",
        f"https://github.com/{GAIE_REPO}/releases/download/{GAIE_TAG}/v1-manifests.yaml",
    ]


def _labels(model_name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": "endpoint-picker", "app.kubernetes.io/instance": model_name,
            "app.kubernetes.io/component": "inference-routing", "app.kubernetes.io/managed-by": "llm-infra",
            # Not `llm-infra.io/model`: that label finds a model's Triton pods.
            EPP_MODEL_LABEL: model_name}


def _epp_security() -> dict:
    return {"allowPrivilegeEscalation": False, "privileged": False, "readOnlyRootFilesystem": True,
            "runAsNonRoot": True, "runAsUser": EPP_RUN_AS_UID, "runAsGroup": EPP_RUN_AS_UID,
            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}


class InferenceGateway(pulumi.ComponentResource):
    """A private Gateway and, per model, an InferencePool with its endpoint picker and HTTPRoute."""

    routes: pulumi.Output[dict[str, str]]
    """Per model name, the path on the Gateway's address that reaches it (`https://<gateway>/<model>/`; `http://` with the plaintext opt-out)."""
    gateway: pulumi.Output[str]
    """The Gateway as `namespace/name`."""

    def __init__(self, name: str, args: InferenceGatewayArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-infra:index:InferenceGateway", name, None, opts)
        provider = args["provider"]
        gw_ns = args.get("namespace", "llm-gateway")
        # Children wait for what the component waits for (the models' namespaces, the operators).
        child = waits_like_component(pulumi.ResourceOptions(parent=self, provider=provider), opts)
        models = list(args["models"])
        sources = [{"ipBlock": {"cidr": c}} for c in args.get("source_cidrs", ())]
        from_gateway = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": gw_ns}}}, *sources]

        crds: list[pulumi.Resource] = []
        if args.get("install_crds", False):
            crds.append(k8s.yaml.v2.ConfigFile(f"{name}-crds-gateway-api", file=crd_urls()[0], opts=child))
            crds.append(k8s.yaml.v2.ConfigFile(f"{name}-crds-inference-pool", file=crd_urls()[1], opts=child))
        after_crds = child.merge(pulumi.ResourceOptions(depends_on=crds))

        namespace = TenantNamespace(f"{name}-ns", {"provider": provider, "namespace": gw_ns, "gpu_quota": 0,
                                                   "labels": {"llm-infra.io/role": "gateway"}},
                                    opts=pulumi.ResourceOptions(parent=self))
        issuer = args.get("listener_issuer")
        hostname = args.get("hostname")
        allowed = {"kinds": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}],
                   "namespaces": {"from": "Selector", "selector": {"matchExpressions": [{
                       "key": "kubernetes.io/metadata.name", "operator": "In",
                       "values": sorted({m.namespace for m in models})}]}}}
        gateway_meta: dict = {"name": GATEWAY_NAME, "namespace": gw_ns,
                              "labels": {"app.kubernetes.io/managed-by": "llm-infra"}}
        listener: dict
        certificate: list[pulumi.Resource] = []
        if issuer:
            # HTTPS with a certificate from cert-manager in the Gateway's own namespace (no ReferenceGrant):
            # a single certificateRef to a kubernetes.io/tls Secret is Core support (llm_infra.catalog.hop_tls).
            certificate.append(k8s.apiextensions.CustomResource(
                f"{name}-certificate", api_version="cert-manager.io/v1", kind="Certificate",
                metadata={"name": GATEWAY_CERT_SECRET, "namespace": gw_ns,
                          "labels": {"app.kubernetes.io/managed-by": "llm-infra"}},
                spec=certificate_spec(GATEWAY_CERT_SECRET, [hostname or gateway_dns_name(gw_ns)], issuer),
                opts=child.merge(pulumi.ResourceOptions(depends_on=[namespace]))))
            listener = {"name": "https", "port": GATEWAY_LISTENER_PORT, "protocol": "HTTPS",
                        "tls": {"mode": "Terminate", "certificateRefs": [
                            {"group": "", "kind": "Secret", "name": GATEWAY_CERT_SECRET}]}}
        else:
            listener = {"name": "http", "port": GATEWAY_PLAINTEXT_PORT, "protocol": "HTTP"}
            gateway_meta["annotations"] = {TLS_OPT_OUT_ANNOTATION: "disabled"}
        if hostname:
            listener["hostname"] = hostname
        listener["allowedRoutes"] = allowed
        gateway_spec: dict = {"gatewayClassName": args["gateway_class"], "listeners": [listener]}
        if args.get("gateway_annotations"):
            gateway_spec["infrastructure"] = {"annotations": dict(args["gateway_annotations"])}
        k8s.apiextensions.CustomResource(
            f"{name}-gateway", api_version=GATEWAY_API, kind="Gateway", metadata=gateway_meta,
            spec=gateway_spec,
            opts=after_crds.merge(pulumi.ResourceOptions(depends_on=[*crds, namespace, *certificate])))

        routes: dict[str, str] = {}
        for m in models:
            self._model(f"{name}-{m.name}", m, args, gw_ns, from_gateway, child, after_crds)
            routes[m.name] = f"{'https' if issuer else 'http'}://<gateway {gw_ns}/{GATEWAY_NAME}>/{m.name}/"
        self.routes = pulumi.Output.from_input(routes)
        self.gateway = pulumi.Output.from_input(f"{gw_ns}/{GATEWAY_NAME}")
        self.register_outputs({"routes": self.routes, "gateway": self.gateway})

    def _model(self, name: str, m: ModelConfig, args: InferenceGatewayArgs, gw_ns: str, from_gateway: list,
               child: pulumi.ResourceOptions, after_crds: pulumi.ResourceOptions) -> None:
        ns = m.namespace
        epp = f"{m.name}-epp"
        labels = _labels(m.name)
        epp_selector = {"app.kubernetes.io/name": "endpoint-picker", EPP_MODEL_LABEL: m.name}
        pods = dict(args["pod_selectors"][m.name])
        port = routed_port(m)

        sa = k8s.core.v1.ServiceAccount(f"{name}-epp-sa", metadata={"name": epp, "namespace": ns, "labels": labels},
                                        opts=child)
        role = k8s.rbac.v1.Role(f"{name}-epp-role", metadata={"name": epp, "namespace": ns, "labels": labels}, rules=[
            # What the EPP watches (config/charts/epplib/templates/_rbac.yaml and inferencepool/templates/rbac.yaml@v1.5.0);
            # InferenceObjective and InferenceModelRewrite are read only where their CRDs exist (none are installed).
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": [POOL_GROUP], "resources": ["inferencepools"], "verbs": ["get", "list", "watch"]},
        ], opts=child)
        binding = k8s.rbac.v1.RoleBinding(
            f"{name}-epp-binding", metadata={"name": epp, "namespace": ns, "labels": labels},
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": epp},
            subjects=[{"kind": "ServiceAccount", "name": epp, "namespace": ns}], opts=child)
        config = k8s.core.v1.ConfigMap(
            f"{name}-epp-config", metadata={"name": epp, "namespace": ns, "labels": labels},
            data={EPP_CONFIG_FILE: yaml.safe_dump(endpoint_picker_config(m, tls=args.get("tls", False)), sort_keys=False)}, opts=child)
        probe = {"grpc": {"port": EPP_HEALTH_PORT, "service": "inference-extension"}}
        k8s.apps.v1.Deployment(
            f"{name}-epp", metadata={"name": epp, "namespace": ns, "labels": labels, "annotations": {
                "checkov.io/skip1": "CKV_K8S_43=images are pinned to release tags in llm_infra.versions; "
                                    "mirrors of a dedicated cluster re-digest them",
                "checkov.io/skip2": "CKV_K8S_38=the picker watches its pods and InferencePool through the API "
                                    "(a Role limited to get/list/watch on those two)"}},
            spec={
                "replicas": 1,
                # One active picker (its prefix-cache state is in memory): the upstream chart's Recreate strategy.
                "strategy": {"type": "Recreate"},
                "selector": {"matchLabels": epp_selector},
                "template": {"metadata": {"labels": labels}, "spec": {
                    "serviceAccountName": epp,
                    "automountServiceAccountToken": True,  # it watches pods and its InferencePool
                    "enableServiceLinks": False,
                    "terminationGracePeriodSeconds": 30,
                    "securityContext": {"runAsNonRoot": True, "runAsUser": EPP_RUN_AS_UID,
                                        "runAsGroup": EPP_RUN_AS_UID, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [{
                        "name": "epp",
                        "image": args.get("image") or versions.ENDPOINT_PICKER_IMAGE,
                        "imagePullPolicy": "Always",
                        "args": epp_args(m),
                        "env": [{"name": "NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                        "ports": [{"name": "grpc", "containerPort": EXT_PROC_PORT, "protocol": "TCP"},
                                  {"name": "grpc-health", "containerPort": EPP_HEALTH_PORT, "protocol": "TCP"},
                                  {"name": "metrics", "containerPort": EPP_METRICS_PORT, "protocol": "TCP"}],
                        "resources": {k: dict(v) for k, v in EPP_RESOURCES.items()},
                        "livenessProbe": {**probe, "initialDelaySeconds": 5, "periodSeconds": 10},
                        "readinessProbe": {**probe, "periodSeconds": 2},
                        "securityContext": _epp_security(),
                        "volumeMounts": [{"name": "config", "mountPath": EPP_CONFIG_MOUNT, "readOnly": True},
                                         {"name": "tmp", "mountPath": "/tmp"}],
                    }],
                    "volumes": [{"name": "config", "configMap": {"name": epp}},
                                {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
                }},
            },
            opts=child.merge(pulumi.ResourceOptions(depends_on=[sa, role, binding, config])))
        k8s.core.v1.Service(
            f"{name}-epp-service", metadata={"name": epp, "namespace": ns, "labels": labels},
            spec={"type": "ClusterIP", "selector": epp_selector,
                  "ports": [{"name": "grpc-ext-proc", "port": EXT_PROC_PORT, "targetPort": "grpc", "protocol": "TCP"}]},
            opts=child)

        def policy(suffix: str, spec: dict) -> None:
            k8s.networking.v1.NetworkPolicy(f"{name}-{suffix}", metadata={
                "name": f"{m.name}-{suffix}", "namespace": ns, "labels": labels}, spec=spec, opts=child)

        policy("epp", {
            "podSelector": {"matchLabels": epp_selector}, "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": from_gateway, "ports": [{"protocol": "TCP", "port": EXT_PROC_PORT}]}],
            "egress": [
                {"to": [{"podSelector": {"matchLabels": pods}}],
                 "ports": [{"protocol": "TCP", "port": scraped_port(m)}]},
                {"to": [_API_PEER], "ports": _API_PORTS},
            ],
        })
        policy("from-gateway", {
            "podSelector": {"matchLabels": pods}, "policyTypes": ["Ingress"],
            "ingress": [
                {"from": from_gateway, "ports": [{"protocol": "TCP", "port": port}]},
                {"from": [{"podSelector": {"matchLabels": epp_selector}}],
                 "ports": [{"protocol": "TCP", "port": scraped_port(m)}]},
            ],
        })

        k8s.apiextensions.CustomResource(
            f"{name}-inference-pool", api_version=INFERENCE_POOL_API, kind="InferencePool",
            metadata={"name": m.name, "namespace": ns, "labels": labels},
            spec={"selector": {"matchLabels": pods}, "targetPorts": [{"number": port}], "appProtocol": "http",
                  # The upstream chart's choice: with the picker down, the gateway still routes to a ready pod.
                  "endpointPickerRef": {"group": "", "kind": "Service", "name": epp,
                                        "port": {"number": EXT_PROC_PORT}, "failureMode": "FailOpen"}},
            opts=after_crds)
        k8s.apiextensions.CustomResource(
            f"{name}-route", api_version=GATEWAY_API, kind="HTTPRoute",
            metadata={"name": m.name, "namespace": ns, "labels": labels},
            spec={
                "parentRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": GATEWAY_NAME,
                                "namespace": gw_ns}],
                "rules": [{
                    "matches": [{"path": {"type": "PathPrefix", "value": f"/{m.name}/"}}],
                    "filters": [{"type": "URLRewrite", "urlRewrite": {
                        "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}}],
                    "backendRefs": [{"group": POOL_GROUP, "kind": "InferencePool", "name": m.name}],
                }],
            },
            opts=after_crds)


def flags_markdown() -> str:
    """The EPP flag table (docs/inference-gateway.md holds it verbatim)."""
    rows = [f"| flag | default at {GAIE_TAG} | we pass | why | source |", "| --- | --- | --- | --- | --- |"]
    for f in EPP_FLAGS.values():
        rows.append(f"| `--{f.name}` | `{f.default}` | {f'`{f.passed}`' if f.passed else '-'} | {f.why} | `{f.source}` |")
    return "\n".join(rows) + "\n"


_SPEC = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?$")


def parse_metric_spec(spec: str) -> tuple[str, dict[str, str]]:
    """`family{label="value",...}` (the EPP's PromQL instant-selector form, quotes optional) as (family, labels)."""
    match = _SPEC.match(spec.strip())
    if not match:
        raise ValueError(f"not a metric spec: {spec!r}")
    labels: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in (match.group(2) or "").split(","))):
        key, _, value = pair.partition("=")
        labels[key.strip()] = value.strip().strip('"')
    return match.group(1), labels


def metric_spec_problems(epp_config: Mapping, backend: str) -> list[str]:
    """Every metric an EndpointPickerConfig names that the pinned `backend` image does not export, one line each
    (families, labels and label values from llm_infra.triton.upstream.METRICS)."""
    from ..triton import upstream

    problems: list[str] = []
    for plugin in epp_config.get("plugins", []):
        if plugin.get("type") != "core-metrics-extractor":
            continue
        for engine in (plugin.get("parameters") or {}).get("engineConfigs", []):
            for key, spec in engine.items():
                if not key.endswith("Spec") or not spec:
                    continue
                where = f"engineConfigs[{engine.get('name')}].{key}"
                family, labels = parse_metric_spec(spec)
                fact = upstream.metric_fact(family)
                if family in upstream.NOT_EXPORTED:
                    problems.append(f"{where}: {family} is not exported ({upstream.NOT_EXPORTED[family]})")
                    continue
                if fact is None or fact.exported_by not in ("triton", backend):
                    problems.append(f"{where}: expected a series the pinned {backend} image exports "
                                    f"(llm_infra.triton.upstream.METRICS), got {family!r}")
                    continue
                for label, value in labels.items():
                    if label not in fact.labels:
                        problems.append(f"{where}: {family} has no label {label!r} (labels {list(fact.labels)})")
                    elif fact.label_values and label in fact.label_values and value not in fact.label_values[label]:
                        problems.append(f"{where}: {family}{{{label}}} is one of {list(fact.label_values[label])}, "
                                        f"got {value!r}")
    return problems
