"""Inference routing by the Gateway API Inference Extension (`inference_gateway`), on the shipped gcp-dev
stack (option on) and the others (off): the objects, what feeds the endpoint picker, its command line
against the pinned release's source, hardening, config errors and the plan."""

from __future__ import annotations

import copy
import json
import re
import subprocess
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from _stacks import rejected, stack, with_changed_config
from llm_infra import plan_sections, versions
from llm_infra.gcp.naming import PROXY_ONLY_CIDR
from llm_infra.guardrails import DEFAULT_IMAGE_REGISTRIES
from llm_infra.kubernetes import inference_gateway as gaie
from llm_infra.triton import upstream
from llm_infra.triton.openai import OPENAI_PORT

ON = "gcp-dev"


def _objects(result, kind):
    return [o for o in result.kubernetes_objects() if o.kind == kind]


def _epp_config(result, namespace, model):
    (cm,) = [c for c in result.kubernetes_objects("ConfigMap")
             if c.k8s_namespace == namespace and c.k8s_name == f"{model}-epp"]
    return yaml.safe_load(cm.inputs["data"][gaie.EPP_CONFIG_FILE])


def test_every_model_gets_an_inference_pool_route_and_picker_when_on():
    result = stack(ON)
    config_models = {(o.k8s_namespace, o.k8s_name) for o in result.kubernetes_objects("StatefulSet")}
    pools = {(p.k8s_namespace, p.k8s_name): p for p in _objects(result, "InferencePool")}
    assert set(pools) == config_models
    services = {(s.k8s_namespace, s.k8s_name): s for s in result.kubernetes_objects("Service")}
    for (ns, name), pool in pools.items():
        assert pool.inputs["apiVersion"] == "inference.networking.k8s.io/v1"
        spec = pool.inputs["spec"]
        # The pool selects exactly the model's Triton pods, as its Service does.
        assert spec["selector"]["matchLabels"] == services[(ns, name)].inputs["spec"]["selector"]
        assert spec["targetPorts"] == [{"number": OPENAI_PORT}]  # the OpenAI frontend (openai_api, the default)
        assert spec["endpointPickerRef"]["name"] == f"{name}-epp"
        assert (ns, f"{name}-epp") in services
        (route,) = [r for r in _objects(result, "HTTPRoute") if r.k8s_namespace == ns and r.k8s_name == name]
        (rule,) = route.inputs["spec"]["rules"]
        assert rule["backendRefs"] == [{"group": "inference.networking.k8s.io", "kind": "InferencePool", "name": name}]
        assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": f"/{name}/"}}]
    (gateway,) = _objects(result, "Gateway")
    assert gateway.inputs["spec"]["gatewayClassName"] == "gke-l7-rilb"
    allowed = gateway.inputs["spec"]["listeners"][0]["allowedRoutes"]["namespaces"]["selector"]["matchExpressions"][0]
    assert sorted(allowed["values"]) == sorted({ns for ns, _ in pools})
    assert result.outputs["inference_routes"] == {
        name: f"https://<gateway llm-gateway/llm-inference>/{name}/" for _, name in pools}


# --- the Gateway's listener: HTTPS with a cert-manager certificate (issue 17 item 3) ----------------


def test_the_gateway_listens_with_https_and_a_certificate_from_the_stack_ca():
    result = stack(ON)
    (gateway,) = _objects(result, "Gateway")
    (listener,) = gateway.inputs["spec"]["listeners"]
    assert (listener["protocol"], listener["port"]) == ("HTTPS", 443)
    assert listener["tls"] == {"mode": "Terminate", "certificateRefs": [
        {"group": "", "kind": "Secret", "name": gaie.GATEWAY_CERT_SECRET}]}
    # The Secret is written by a Certificate in the Gateway's own namespace, signed by the stack's CA chain,
    # which the stack creates although its model pods take the TLS opt-out.
    (cert,) = [c for c in _objects(result, "Certificate") if c.k8s_namespace == gateway.k8s_namespace]
    assert cert.inputs["spec"]["secretName"] == gaie.GATEWAY_CERT_SECRET
    assert cert.inputs["spec"]["dnsNames"] == ["llm-inference.llm-gateway"]
    assert cert.inputs["spec"]["issuerRef"]["name"] == "llm-infra-ca"
    assert "llm-infra-ca" in {i.k8s_name for i in _objects(result, "ClusterIssuer")}
    assert "server auth" in cert.inputs["spec"]["usages"]


def test_a_hostname_names_the_listener_and_the_certificate_and_your_issuer_signs_it():
    def change(raw):
        _gateway(raw, hostname="llm.internal.example.com")
        raw["llm-infra:tls"] = {"enabled": False, "cluster_issuer": "corp-pki"}

    result = with_changed_config(ON, change)
    (gateway,) = _objects(result, "Gateway")
    assert gateway.inputs["spec"]["listeners"][0]["hostname"] == "llm.internal.example.com"
    (cert,) = _objects(result, "Certificate")
    assert cert.inputs["spec"]["dnsNames"] == ["llm.internal.example.com"]
    assert cert.inputs["spec"]["issuerRef"]["name"] == "corp-pki"
    assert not _objects(result, "ClusterIssuer")  # yours, not the stack's


def test_plain_http_on_the_listener_takes_the_named_opt_out():
    result = with_changed_config(ON, lambda raw: _gateway(raw, plaintext_listener=True))
    (gateway,) = _objects(result, "Gateway")
    (listener,) = gateway.inputs["spec"]["listeners"]
    assert (listener["protocol"], listener["port"]) == ("HTTP", 80) and "tls" not in listener
    assert gateway.inputs["metadata"]["annotations"] == {"llm-infra.io/tls": "disabled"}
    # Nothing else asks for a certificate on this stack: no cert-manager CA chain either.
    assert not _objects(result, "Certificate") and not _objects(result, "ClusterIssuer")
    assert result.outputs["inference_routes"]["toy-llm"].startswith("http://")


@pytest.mark.parametrize("name", ["dev", "azure-dev", "existing"])
def test_off_a_model_is_reached_through_its_cluster_ip_service_only(name):
    result = stack(name)
    assert not _objects(result, "InferencePool") and not _objects(result, "HTTPRoute") and not _objects(result, "Gateway")
    assert not [d for d in result.kubernetes_objects("Deployment") if d.k8s_name.endswith("-epp")]
    assert "inference_routes" not in result.outputs
    for sts in result.kubernetes_objects("StatefulSet"):
        (svc,) = [s for s in result.kubernetes_objects("Service")
                  if s.k8s_namespace == sts.k8s_namespace and s.k8s_name == sts.k8s_name]
        assert svc.inputs["spec"]["type"] == "ClusterIP"


# --- what feeds the picker ------------------------------------------------------------------


def test_every_metric_the_picker_reads_is_exported_by_the_pinned_engine():
    from llm_infra.plan import stack_config

    result = stack(ON)
    backend_of = {m["name"]: m["backend"] for m in stack_config(ON)[0]["llm-infra:models"]}
    backends = {(sts.k8s_namespace, sts.k8s_name): backend_of[sts.k8s_name]
                for sts in result.kubernetes_objects("StatefulSet")}
    assert set(backends.values()) == {"vllm", "python"}
    for (ns, name), backend in backends.items():
        doc = _epp_config(result, ns, name)
        assert gaie.metric_spec_problems(doc, backend) == []
        (engine,) = next(p for p in doc["plugins"] if p["type"] == "core-metrics-extractor")["parameters"]["engineConfigs"]
        # Triton's own gauge feeds the queue scorer; nothing the engine lacks is scraped.
        assert engine["queuedRequestsSpec"] == f'nv_inference_pending_request_count{{model="{name}"}}'
        assert engine["runningRequestsSpec"] == engine["kvUsageSpec"] == engine["loraSpec"] == ""


def test_tensorrtllm_feeds_queue_running_and_kv_cache_from_its_own_gauges():
    model = SimpleNamespace(name="llm", namespace="ns", backend="tensorrtllm", openai_api=True)
    doc = gaie.endpoint_picker_config(model)
    assert gaie.metric_spec_problems(doc, "tensorrtllm") == []
    assert [p["pluginRef"] for p in doc["schedulingProfiles"][0]["plugins"]] == [
        "queue-scorer", "kv-cache-utilization-scorer", "prefix-cache-scorer"]
    families = {gaie.parse_metric_spec(s)[0] for s in gaie.metric_specs(model)}
    assert families == {"nv_trt_llm_request_metrics", "nv_trt_llm_kv_cache_block_metrics"}


@pytest.mark.parametrize("spec, expected", [
    ("vllm:num_requests_waiting", r"vllm:num_requests_waiting is not exported"),
    ("vllm:kv_cache_usage_perc", r"vllm:kv_cache_usage_perc is not exported"),
    ("vllm:lora_requests_info", r"vllm:lora_requests_info is not exported"),
    ('nv_trt_llm_request_metrics{request_type="waiting"}', r"expected a series the pinned vllm image exports"),
    ('nv_inference_pending_request_count{queue="x"}', r"has no label 'queue'"),
])
def test_a_metric_the_engine_does_not_export_breaks_the_shipped_plan(spec, expected):
    doc = copy.deepcopy(_epp_config(stack(ON), "llm-serving", "llama-3-8b"))
    extractor = next(p for p in doc["plugins"] if p["type"] == "core-metrics-extractor")
    extractor["parameters"]["engineConfigs"][0]["queuedRequestsSpec"] = spec
    (problem,) = gaie.metric_spec_problems(doc, "vllm")
    assert re.search(expected, problem), problem
    assert problem.startswith("engineConfigs[triton-vllm].queuedRequestsSpec: ")


def test_what_the_picker_cannot_get_is_said_per_backend():
    for backend in ("vllm", "python", "tensorrtllm"):
        metrics = gaie.engine_metrics(SimpleNamespace(name="m", namespace="ns", backend=backend))
        assert metrics.missing and all("LoRA" in m or "not exported" in m or "no " in m for m in metrics.missing)
    vllm = gaie.engine_metrics(SimpleNamespace(name="m", namespace="ns", backend="vllm"))
    assert vllm.kv_usage is None and any("kv_cache_usage_perc" in m for m in vllm.missing)
    assert "vllm:kv_cache_usage_perc" in upstream.NOT_EXPORTED


# --- the picker's command line against the pinned release's source ---------------------------


@lru_cache(maxsize=1)
def _gaie_source() -> Path:
    """The pinned release's module (the Go module proxy serves this exact version; scripts/real-engine.sh fetches it)."""
    got = subprocess.run(["go", "mod", "download", "-json", f"sigs.k8s.io/gateway-api-inference-extension@{gaie.GAIE_TAG}"],
                         capture_output=True, text=True, timeout=300, cwd="/")
    info = json.loads(got.stdout)
    assert not info.get("Error"), info
    return Path(info["Dir"])


def _defined_flags(source: Path) -> dict[str, int]:
    text = (source / "pkg/epp/server/options.go").read_text()
    flags = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        match = re.search(r'fs\.\w+Var\(&opts\.\w+, "([a-z-]+)"', line)
        if match:
            flags[match.group(1)] = lineno
    return flags


def test_every_picker_flag_is_defined_by_the_pinned_release():
    source = _gaie_source()
    defined = _defined_flags(source)
    options = (source / "pkg/epp/server/options.go").read_text()
    refused = re.search(r"deprecatedMetricFlags := \[\]string\{(.*?)\}", options, re.S)
    assert refused, "options.go no longer refuses the metric flags"
    refused_flags = set(re.findall(r'"([a-z-]+)"', refused.group(1)))
    deployments = [d for d in stack(ON).kubernetes_objects("Deployment") if d.k8s_name.endswith("-epp")]
    assert deployments
    for d in deployments:
        (container,) = d.inputs["spec"]["template"]["spec"]["containers"]
        for arg in container["args"]:
            flag = arg.removeprefix("--").split("=", 1)[0]
            assert flag in gaie.EPP_FLAGS, flag
            if flag.startswith("zap-"):
                continue  # controller-runtime's zap flag set, bound in logging/options.go
            assert flag in defined, f"--{flag} is not a flag of the EPP at {gaie.GAIE_TAG}"
            assert flag not in refused_flags, f"--{flag} is refused at start-up at {gaie.GAIE_TAG}"
    # The table's line numbers are the source's.
    for f in gaie.EPP_FLAGS.values():
        if f.source.startswith(f"{gaie.GAIE_REPO} pkg/epp/server/options.go"):
            assert f.source.endswith(f":{defined[f.name]}"), (f.name, defined.get(f.name))


def test_the_picker_config_names_plugins_and_fields_of_the_pinned_release():
    source = _gaie_source()
    go = "\n".join(p.read_text() for p in (source / "pkg/epp").rglob("*.go") if not p.name.endswith("_test.go"))
    types = (source / "apix/config/v1alpha1/endpointpickerconfig_types.go").read_text()
    for ns, name in [("llm-serving", "llama-3-8b"), ("llm-sandbox", "toy-llm")]:
        doc = _epp_config(stack(ON), ns, name)
        for plugin in doc["plugins"]:
            assert re.search(rf'Type\w*\s*=\s*"{re.escape(plugin["type"])}"', go), plugin["type"]
        for key in ("plugins", "schedulingProfiles", "parser", "dataLayer"):
            assert f'json:"{key}' in types, key
        extractor = next(p for p in doc["plugins"] if p["type"] == "core-metrics-extractor")["parameters"]
        for key in [*extractor, *extractor["engineConfigs"][0]]:
            assert re.search(rf'json:"{key}[",]', go), key
        source_params = next(p for p in doc["plugins"] if p["type"] == "metrics-data-source")["parameters"]
        for key in source_params:
            assert re.search(rf'json:"{key}"', go), key


def test_the_pool_crd_accepts_what_we_pass():
    crd = yaml.safe_load((_gaie_source() / "config/crd/bases/inference.networking.k8s.io_inferencepools.yaml").read_text())
    (version,) = crd["spec"]["versions"]
    schema = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert version["name"] == "v1" and version["served"]
    for pool in _objects(stack(ON), "InferencePool"):
        spec = pool.inputs["spec"]
        assert set(schema["required"]) <= set(spec) <= set(schema["properties"])
        assert spec["endpointPickerRef"]["failureMode"] in schema["properties"]["endpointPickerRef"]["properties"][
            "failureMode"]["enum"]
        assert spec["appProtocol"] in schema["properties"]["appProtocol"]["enum"]


def test_the_pinned_pool_crd_offers_no_tls_protocol_so_the_gateway_to_pod_refusal_stands():
    """The sourced row the config's refusal reads (llm_infra.catalog.hop_tls) holds for the pinned release's CRD:
    an InferencePool cannot ask its gateway for TLS to the pods."""
    from llm_infra.catalog.hop_tls import GATEWAY_TO_POOL

    crd = yaml.safe_load((_gaie_source() / "config/crd/bases/inference.networking.k8s.io_inferencepools.yaml").read_text())
    (version,) = crd["spec"]["versions"]
    protocols = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["appProtocol"]["enum"]
    assert protocols == ["http", "kubernetes.io/h2c"]
    assert not GATEWAY_TO_POOL.encrypted and "inferencepool_types.go@v1.5.0:112-123" in GATEWAY_TO_POOL.source


# --- hardening ------------------------------------------------------------------------------


def test_the_picker_runs_restricted_least_privilege_and_from_an_allowed_registry():
    result = stack(ON)
    for d in [d for d in result.kubernetes_objects("Deployment") if d.k8s_name.endswith("-epp")]:
        pod = d.inputs["spec"]["template"]["spec"]
        (c,) = pod["containers"]
        assert c["image"] == versions.ENDPOINT_PICKER_IMAGE
        assert c["image"].split("/", 1)[0] in DEFAULT_IMAGE_REGISTRIES
        sc = c["securityContext"]
        assert sc["runAsNonRoot"] and not sc["allowPrivilegeEscalation"] and sc["readOnlyRootFilesystem"]
        assert sc["capabilities"] == {"drop": ["ALL"]} and sc["seccompProfile"] == {"type": "RuntimeDefault"}
        assert c["resources"]["limits"]["memory"] and c["resources"]["limits"]["cpu"]
        assert "--enable-pprof=false" in c["args"] and "--secure-serving=true" in c["args"]
    for role in result.kubernetes_objects("Role"):
        if not role.k8s_name.endswith("-epp"):
            continue
        assert role.inputs["rules"] == [
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["inference.networking.k8s.io"], "resources": ["inferencepools"],
             "verbs": ["get", "list", "watch"]},
        ]
    assert not [r for r in result.kubernetes_objects("ClusterRole") if "epp" in (r.k8s_name or "")]


def test_network_policies_open_only_the_gateway_to_picker_and_picker_to_metrics_paths():
    result = stack(ON)
    policies = {p.k8s_name: p.inputs["spec"] for p in result.kubernetes_objects("NetworkPolicy")
                if p.k8s_namespace == "llm-serving"}
    epp = policies["llama-3-8b-epp"]
    # The Gateway's namespace and, on GKE, the proxy-only subnet the internal load balancer connects from.
    assert epp["ingress"] == [{"from": [{"namespaceSelector": {"matchLabels": {
        "kubernetes.io/metadata.name": "llm-gateway"}}}, {"ipBlock": {"cidr": PROXY_ONLY_CIDR}}],
        "ports": [{"protocol": "TCP", "port": gaie.EXT_PROC_PORT}]}]
    assert epp["egress"][0]["ports"] == [{"protocol": "TCP", "port": OPENAI_PORT}]  # the frontend serves /metrics
    assert "169.254.0.0/16" in epp["egress"][1]["to"][0]["ipBlock"]["except"]
    to_model = policies["llama-3-8b-from-gateway"]
    # The Gateway and the picker both reach the OpenAI frontend's port (it serves /metrics too).
    assert [r["ports"] for r in to_model["ingress"]] == [[{"protocol": "TCP", "port": OPENAI_PORT}],
                                                        [{"protocol": "TCP", "port": OPENAI_PORT}]]


# --- config errors and the plan -------------------------------------------------------------


def _gateway(raw, **values):
    raw["llm-infra:inference_gateway"] = {**raw.get("llm-infra:inference_gateway", {}), **values}
    # The extension reaches the pods over http or h2c only: turning it on takes the named TLS opt-out.
    raw["llm-infra:tls"] = {"enabled": False}


def test_the_gateway_with_tls_on_is_refused_naming_why():
    def both_on(raw):
        _gateway(raw, enabled=True)
        raw["llm-infra:tls"] = {"enabled": True}

    assert rejected(ON, both_on) == [
        "inference_gateway.enabled: the gateway reaches an InferencePool's pods over http or h2c only (InferencePool "
        "appProtocol at GAIE v1.5.0 and v1.6.0; no BackendTLSPolicy for an InferencePool documented for the class: "
        "llm_infra.catalog.hop_tls.GATEWAY_TO_POOL), and every model port speaks TLS; set tls.enabled: false to route "
        "through it, got both on"]


@pytest.mark.parametrize("name, values, expected", [
    (ON, {"gateway_class": "gke-l7-regional-external-managed"},
     "inference_gateway.gateway_class: expected an internal load balancer's class ['gke-l7-rilb'], got "
     "'gke-l7-regional-external-managed' (reachable from outside the network)"),
    (ON, {"gateway_class": "gke-l7-rilb-mc"},
     "inference_gateway.gateway_class: 'gke-l7-rilb-mc' does not support InferencePool backends; expected ['gke-l7-rilb']"),
    ("dev", {"enabled": True},
     "inference_gateway.gateway_class: required on cloud 'aws' (the GatewayClass of an implementation that supports "
     "InferencePool and provisions internal load balancers), got nothing"),
    (ON, {"source_cidrs": ["8.8.8.0/24"]},
     "inference_gateway.source_cidrs[0]: expected a private range (the load balancer's proxies), got '8.8.8.0/24'"),
    (ON, {"namespace": "llm-serving"},
     "inference_gateway.namespace: expected a namespace of its own, got 'llm-serving' (a model's or monitoring's)"),
])
def test_config_errors_are_one_line_naming_the_field(name, values, expected):
    assert rejected(name, lambda raw: _gateway(raw, **values)) == [expected]


def test_gke_gets_its_gateway_controller_and_the_load_balancer_s_proxy_only_subnet():
    result = stack(ON)
    (cluster,) = result.of_type("gcp:container/cluster:Cluster")
    assert cluster.inputs["gatewayApiConfig"] == {"channel": "CHANNEL_STANDARD"}
    (proxy,) = [s for s in result.of_type("gcp:compute/subnetwork:Subnetwork")
                if s.inputs.get("purpose") == "REGIONAL_MANAGED_PROXY"]
    assert proxy.inputs["ipCidrRange"] == PROXY_ONLY_CIDR and proxy.inputs["role"] == "ACTIVE"
    off = stack("gcp-prod")
    assert "gatewayApiConfig" not in off.of_type("gcp:container/cluster:Cluster")[0].inputs
    assert not [s for s in off.of_type("gcp:compute/subnetwork:Subnetwork") if s.inputs.get("purpose")]


def test_a_named_class_with_the_internal_annotation_turns_it_on_for_aws():
    result = with_changed_config("dev", lambda raw: _gateway(raw, enabled=True, gateway_class="istio"))
    (gateway,) = _objects(result, "Gateway")
    assert gateway.inputs["spec"]["gatewayClassName"] == "istio"
    assert gateway.inputs["spec"]["infrastructure"]["annotations"] == gaie.INTERNAL_LB_ANNOTATIONS["aws"]
    # A cluster the stack creates on AWS gets the pinned CRDs before any of their objects.
    crds = [r for r in result.resources if r.type == "kubernetes:yaml/v2:ConfigFile"]
    assert sorted(r.inputs["file"] for r in crds) == sorted(gaie.crd_urls())
    assert all(versions.GATEWAY_API_INFERENCE_EXTENSION_VERSION in u or versions.GATEWAY_API_VERSION in u
               for u in gaie.crd_urls())


def test_the_plan_shows_each_route():
    lines = plan_sections.inference_routes(stack(ON))
    assert lines[1] == "  gateway llm-gateway/llm-inference: class gke-l7-rilb, internal load balancer"
    assert lines[2] == "    listener https: HTTPS :443, certificate Secret llm-inference-tls (cert-manager)"
    assert "  route /llama-3-8b/ -> InferencePool llm-serving/llama-3-8b (port 9000, picker llama-3-8b-epp:9002, " \
           "FailOpen)" in lines
    assert '    picker reads: queuedRequests nv_inference_pending_request_count{model="llama-3-8b"}' in lines
    assert plan_sections.inference_routes(stack("dev")) == []


def test_the_flag_table_in_the_docs_is_the_code_s():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "inference-gateway.md").read_text()
    assert gaie.flags_markdown() in doc
