"""What each hop of the inference-gateway path and each operator's metrics endpoint can do with TLS at the
versions the stack pins: a fact per hop, with the upstream file@tag (or page) it was read from and the date.

Code reads these rows: the config refuses the gateway-to-pod hop with TLS on (`GATEWAY_TO_POOL`), and
docs/tls.md's hop table is rendered from `HOPS` (a test holds the doc equal to the code). Pure Python.
"""

from __future__ import annotations

from dataclasses import dataclass

READ_ON = "2026-12-01"
_GAIE = "kubernetes-sigs/gateway-api-inference-extension"
_GWAPI = "kubernetes-sigs/gateway-api"


@dataclass(frozen=True)
class HopFact:
    hop: str
    """Who connects to whom."""
    encrypted: bool
    """What the stack ships: the hop runs over TLS (on a stack with TLS on)."""
    verified: bool
    """The client checks the server's certificate against the stack's CA (or your `tls.cluster_issuer`'s)."""
    how: str
    """What the stack configures, or why it cannot."""
    source: str
    """Where the deciding fact was read (upstream file@tag:lines or a page), and when."""


GATEWAY_TO_POOL = HopFact(
    "internal Gateway (gke-l7-rilb) -> model pods (InferencePool)", False, False,
    "not possible at the pinned versions: an InferencePool's `appProtocol` is an enum of `http` and "
    "`kubernetes.io/h2c` (the API server refuses anything else), and BackendTLSPolicy is defined on Services; "
    "attaching it to an InferencePool is left to implementations, and no GKE page read documents it for "
    "gke-l7-rilb. The config refuses `inference_gateway` with `tls.enabled`; gcp-dev takes the named opt-out",
    f"{_GAIE} api/v1/inferencepool_types.go@v1.5.0:112-123 and @v1.6.0:83-94 (+kubebuilder:validation:Enum="
    f"http;\"kubernetes.io/h2c\"); {_GWAPI} apis/v1/backendtlspolicy_types.go@v1.5.1:119-123 (targetRefs) and "
    "https://gateway-api.sigs.k8s.io/api-types/backendtlspolicy/ (\"Implementations may also decide to support "
    "... any other kind of backend like InferencePool\"); open upstream issue "
    f"https://github.com/{_GAIE}/issues/1556 (\"Gateway to model server\": no scheme in InferencePool or the "
    "picker's answer); https://docs.cloud.google.com/kubernetes-engine/docs/concepts/gateway-security "
    f"(BackendTLSPolicy re-encryption, Service backends); read {READ_ON}")

HOPS: tuple[HopFact, ...] = (
    HopFact("client -> model Service (KServe v2 HTTP/gRPC, OpenAI)", True, True,
            "NGINX terminator beside Triton, certificate `<model>-tls` from cert-manager; clients verify with ca.crt",
            "llm_infra/triton/tls.py (tested by tests/test_tls_handshake.py against the real tritonserver)"),
    HopFact("client -> internal Gateway listener", True, True,
            "HTTPS listener on 443, `tls.certificateRefs` a Secret written by a cert-manager Certificate "
            "(`llm-inference-tls`) from the stack CA or `tls.cluster_issuer`; plain HTTP only with "
            "`inference_gateway.plaintext_listener: true`",
            "Gateway API apis/v1/gateway_types.go@v1.5.1 (a single certificateRef to a Secret of type "
            "kubernetes.io/tls: Core support); https://docs.cloud.google.com/kubernetes-engine/docs/how-to/"
            "secure-gateway (a Kubernetes Secret in tls.certificateRefs is a listener certificate source, the "
            "one to use where SSL certificates and Certificate Manager are not) and .../concepts/gateway-security; "
            f"the per-class rows of .../gatewayclass-capabilities were read only in excerpts; read {READ_ON}"),
    GATEWAY_TO_POOL,
    HopFact("internal Gateway -> endpoint picker (ext-proc, 9002)", True, False,
            "the picker serves its own self-signed certificate (`--secure-serving`); the gateway's client side "
            "is the implementation's (GKE's) and takes no CA from us",
            f"{_GAIE} pkg/epp/server/options.go@v1.5.0 (secure-serving, cert-path); api/v1 "
            f"EndpointPickerRef (\"MUST use TLS by default\"); read {READ_ON}"),
    HopFact("endpoint picker -> model pods' metrics", True, False,
            "https with `insecureSkipVerify: true`: the picker's HTTP data source sets only InsecureSkipVerify "
            "(no CA, no server name) and dials the pod's IP, which no cert-manager certificate of ours names",
            f"{_GAIE} pkg/epp/framework/plugins/datalayer/source/http/datasource.go@v1.5.0:43-55,92-95 "
            f"(TLSClientConfig{{InsecureSkipVerify}}, Host: GetMetricsHost()); read {READ_ON}"),
    HopFact("Prometheus -> model pods' metrics", True, True,
            "ServiceMonitor scheme https, tlsConfig.ca from the model's Secret, serverName <model>.<ns>.svc",
            "llm_infra/triton/workload.py; policy no-plaintext-listener-outside-pod"),
    HopFact("KEDA -> Prometheus", True, True,
            "Prometheus' web TLS (cert `monitoring/prometheus-tls`); TriggerAuthentication with the CA",
            "kedacore/keda pkg/scalers/prometheus_scaler.go@v2.16.0; llm_infra/kubernetes/operators.py"),
    HopFact("Prometheus -> DCGM exporter metrics (9400)", True, True,
            "the exporter serves TLS from an exporter-toolkit web config (`DCGM_EXPORTER_WEB_CONFIG_FILE`) with "
            "certificate `dcgm-exporter-tls` from cert-manager, re-read on every handshake; the ServiceMonitor "
            "scrapes https with its ca.crt and serverName `dcgm-exporter.<ns>.svc`",
            "NVIDIA/dcgm-exporter pkg/cmd/app.go@3.3.9-3.6.1:186-189, pkg/dcgmexporter/server.go@3.3.9-3.6.1:41-45,84; "
            f"prometheus/exporter-toolkit web/tls_config.go@v0.11.0:40-58,361-363; read {READ_ON}"),
    HopFact("Prometheus -> KEDA operator metrics (8080)", False, False,
            "not possible at the pin: the operator's controller-runtime metrics server is built with a bind "
            "address only (no SecureServing, no TLS flag); the NetworkPolicy admits the monitoring namespace only",
            f"kedacore/keda cmd/operator/main.go@v2.16.0:91,154-155; read {READ_ON}"),
    HopFact("scraper -> cert-manager controller, webhook and cainjector metrics (9402)", True, False,
            "each serves TLS from cert-manager's own serving CA (`metricsTLSConfig.dynamic`, Secret "
            "`cert-manager-metrics-ca`); the stack creates no scrape of them (the Prometheus Operator's CRDs "
            "install after cert-manager), so a scraper of yours verifies with that Secret's CA",
            "cert-manager/cert-manager pkg/apis/config/{controller,webhook,cainjector}/v1alpha1/types.go@v1.21.2 "
            "(metricsTLSConfig), pkg/apis/config/shared/v1alpha1/types_tlsconfig.go@v1.21.2:40-55, "
            "deploy/charts/cert-manager/values.yaml@v1.21.2:314-322 and values.schema.json (the Go module; "
            f"tests/test_tls.py validates our values against it); read {READ_ON}"),
)


def markdown_table() -> str:
    """docs/tls.md's hop table."""
    rows = ["| Hop | Encrypted | Verified | How | Source |", "|---|---|---|---|---|"]
    for h in HOPS:
        rows.append(f"| {h.hop} | {'yes' if h.encrypted else 'no'} | {'yes' if h.verified else 'no'} | "
                    f"{h.how} | {h.source} |")
    return "\n".join(rows)
