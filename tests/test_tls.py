"""TLS on every hop the stack owns, read from the shipped stacks' plans (docs/tls.md)."""

from __future__ import annotations

import copy

import pytest

from llm_infra import versions
from llm_infra.plan import parsed_config
from llm_infra.policies import Context, Resource, evaluate
from llm_infra.policies import tls as tls_rule
from llm_infra.triton import tls

from _stacks import STACKS, rejected, stack

RULE = "no-plaintext-listener-outside-pod"


def resources_of(name: str) -> list[Resource]:
    return [Resource(r.type, r.name, copy.deepcopy(r.inputs), r.protect, r.retain_on_delete, r.urn)
            for r in stack(name).resources]


def _kind(rs, kind: str, name: str | None = None) -> list[Resource]:
    return [r for r in rs if r.kind == kind and (name is None or r.inputs["metadata"]["name"] == name)]


def _pod(rs, model: str) -> dict:
    return _kind(rs, "StatefulSet", model)[0].inputs["spec"]["template"]["spec"]


def _fired(rs) -> list[str]:
    return [v.message for v in evaluate(rs, Context(production=False)) if v.rule == RULE]


def test_policy_constants_are_the_workloads():
    assert tls_rule.PROXY_CONTAINER == tls.PROXY_CONTAINER
    assert tls_rule.PROXY_CONFIG_FILE == tls.CONFIG_FILE


@pytest.mark.parametrize("name", STACKS)
def test_every_model_endpoint_is_https_and_triton_listens_on_loopback_only(name):
    result = stack(name)
    if not parsed_config(name).tls.enabled:
        # gcp-dev: the named opt-out (the inference gateway reaches pods over http only); the rule reads it.
        for sts in _kind(result.resources, "StatefulSet"):
            assert sts.inputs["spec"]["template"]["metadata"]["annotations"]["llm-infra.io/tls"] == "disabled"
        assert _fired(resources_of(name)) == []
        return
    for model, endpoint in result.outputs["model_endpoints"].items():
        assert endpoint["http"].startswith(f"https://{model}."), endpoint
    for sts in _kind(result.resources, "StatefulSet"):
        spec = sts.inputs["spec"]["template"]["spec"]
        triton = next(c for c in spec["containers"] if c["name"] == "triton")
        frontend = "--enable-kserve-frontends" in triton["args"]
        if frontend:  # Triton's OpenAI frontend binds its OpenAI and KServe listeners to --host
            assert f"--host={tls.LOOPBACK}" in triton["args"]
        else:
            assert set(tls.triton_loopback_args()) <= set(triton["args"])
        assert triton["ports"] == []
        proxy = next(c for c in spec["containers"] if c["name"] == tls.PROXY_CONTAINER)
        assert proxy["image"] == versions.TLS_PROXY_IMAGE
        # The frontend serves the metrics on its OpenAI port.
        assert {p["containerPort"] for p in proxy["ports"]} == ({9000, 8000, 8001} if frontend else {8000, 8001, 8002})
        assert triton["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    assert _fired(resources_of(name)) == []


def test_each_model_has_a_certificate_for_its_services_dns_names():
    rs = stack("dev").resources
    (cert,) = _kind(rs, "Certificate", "llama-3-8b-tls")
    spec = cert.inputs["spec"]
    assert "llama-3-8b.llm-serving.svc" in spec["dnsNames"]
    assert "llama-3-8b.llm-serving.svc.cluster.local" in spec["dnsNames"]
    assert spec["issuerRef"] == {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": "llm-infra-ca"}
    assert spec["secretName"] == "llama-3-8b-tls"


def test_a_created_cluster_gets_pinned_cert_manager_and_the_stack_ca():
    result = stack("dev")
    (release,) = [r for r in result.resources if r.type == "kubernetes:helm.sh/v3:Release"
                  and r.inputs.get("name") == "cert-manager"]
    assert release.inputs["version"] == versions.CERT_MANAGER_CHART["version"]
    assert release.inputs["values"]["crds"] == {"enabled": True, "keep": True}
    issuers = {r.inputs["metadata"]["name"]: r.inputs["spec"] for r in _kind(result.resources, "ClusterIssuer")}
    assert issuers == {"llm-infra-selfsigned-root": {"selfSigned": {}}, "llm-infra-ca": {"ca": {"secretName": "llm-infra-ca"}}}
    (ns,) = _kind(result.resources, "Namespace", "cert-manager")
    assert ns.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"


def test_an_existing_cluster_does_not_get_cert_manager_installed():
    rs = stack("existing").resources
    assert not [r for r in rs if r.type == "kubernetes:helm.sh/v3:Release"]
    assert _kind(rs, "ClusterIssuer", "llm-infra-ca")


def test_prometheus_serves_tls_and_keda_verifies_it():
    rs = stack("dev").resources
    (prom,) = [r for r in rs if r.type == "kubernetes:helm.sh/v3:Release" and r.inputs.get("name") == "kube-prometheus-stack"]
    web = prom.inputs["values"]["prometheus"]["prometheusSpec"]["web"]["tlsConfig"]
    assert web["cert"]["secret"]["name"] == "prometheus-tls"
    (cert,) = _kind(rs, "Certificate", "prometheus-tls")
    assert "prometheus-operated.monitoring.svc" in cert.inputs["spec"]["dnsNames"]
    for scaled in _kind(rs, "ScaledObject"):
        for trigger in scaled.inputs["spec"]["triggers"]:
            if trigger["type"] == "prometheus":
                assert trigger["metadata"]["serverAddress"].startswith("https://prometheus-operated.monitoring.svc")
                assert trigger["metadata"]["authModes"] == "tls"
                (auth,) = _kind(rs, "TriggerAuthentication", trigger["authenticationRef"]["name"])
                assert {t["parameter"] for t in auth.inputs["spec"]["secretTargetRef"]} == {"ca", "cert", "key"}


def test_the_scrape_is_https_verified_against_the_ca():
    rs = stack("dev").resources
    (monitor,) = _kind(rs, "ServiceMonitor", "llama-3-8b")
    (endpoint,) = monitor.inputs["spec"]["endpoints"]
    assert endpoint["scheme"] == "https"
    assert endpoint["tlsConfig"] == {"serverName": "llama-3-8b.llm-serving.svc",
                                     "ca": {"secret": {"name": "llama-3-8b-tls", "key": "ca.crt"}}}


def test_rule_fires_on_a_proxy_listening_in_plaintext():
    rs = resources_of("existing")
    (cm,) = [r for r in rs if r.kind == "ConfigMap" and r.inputs["metadata"]["name"].endswith("-tls-proxy")][:1]
    cm.inputs["data"]["nginx.conf"] = cm.inputs["data"]["nginx.conf"].replace("listen 8000 ssl;", "listen 8000;")
    assert any("listen 8000" in m and "plaintext" in m for m in _fired(rs))


def test_rule_fires_on_the_openai_frontend_listening_on_every_address():
    rs = resources_of("existing")
    (sts,) = _kind(rs, "StatefulSet", "llama-3-8b")
    triton = next(c for c in sts.inputs["spec"]["template"]["spec"]["containers"] if c["name"] == "triton")
    assert f"--host={tls.LOOPBACK}" in triton["args"]
    triton["args"] = [a for a in triton["args"] if not a.startswith("--host=")]
    fired = _fired(rs)
    assert any("OpenAI frontend's openai listener (port 19000)" in m for m in fired), fired
    assert any("kserve http listener" in m for m in fired), fired


def test_rule_fires_on_a_service_that_reaches_a_plaintext_port():
    rs = resources_of("existing")
    (svc,) = _kind(rs, "Service", "llama-3-8b")
    svc.inputs["spec"]["ports"][0]["targetPort"] = 18000  # Triton's loopback HTTP port
    assert any("not a TLS listener" in m for m in _fired(rs))


def test_rule_fires_on_a_plaintext_scrape():
    rs = resources_of("existing")
    (monitor,) = _kind(rs, "ServiceMonitor", "llama-3-8b")
    monitor.inputs["spec"]["endpoints"][0]["scheme"] = "http"
    assert any("scrapes metrics over http" in m for m in _fired(rs))


def test_rule_fires_on_a_gateway_listening_in_plain_http():
    rs = resources_of("gcp-dev")
    assert _fired(rs) == []  # the shipped listener is HTTPS with a certificate Secret
    (gateway,) = _kind(rs, "Gateway")
    listener = gateway.inputs["spec"]["listeners"][0]
    listener.update(protocol="HTTP", port=80)
    del listener["tls"]
    assert _fired(rs) == ["Gateway llm-gateway/llm-inference: listener https (port 80) speaks HTTP: listen with "
                          "HTTPS and a certificate Secret from cert-manager"]


def test_rule_fires_on_an_https_gateway_listener_without_a_certificate():
    rs = resources_of("gcp-dev")
    (gateway,) = _kind(rs, "Gateway")
    gateway.inputs["spec"]["listeners"][0]["tls"]["certificateRefs"] = []
    assert _fired(rs) == ["Gateway llm-gateway/llm-inference: listener https is HTTPS without tls.certificateRefs"]


def test_the_dcgm_exporter_serves_tls_and_prometheus_verifies_it():
    from llm_infra.kubernetes import dcgm_exporter as dcgm

    rs = resources_of("dev")
    (ds,) = _kind(rs, "DaemonSet", "dcgm-exporter")
    pod = ds.inputs["spec"]["template"]["spec"]
    (exporter,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in exporter["env"]}
    assert env[dcgm.WEB_CONFIG_ENV] == f"{dcgm.WEB_CONFIG_DIR}/{dcgm.WEB_CONFIG_FILE}"
    assert exporter["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    secrets = {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    assert secrets == {dcgm.TLS_SECRET}
    (web,) = _kind(rs, "ConfigMap", "dcgm-exporter-web-config")
    assert f"cert_file: {dcgm.TLS_DIR}/tls.crt" in web.inputs["data"][dcgm.WEB_CONFIG_FILE]
    (cert,) = [c for c in _kind(rs, "Certificate", dcgm.TLS_SECRET)]
    assert cert.inputs["spec"]["dnsNames"] == ["dcgm-exporter.gpu-monitoring.svc",
                                               "dcgm-exporter.gpu-monitoring.svc.cluster.local"]
    (monitor,) = _kind(rs, "ServiceMonitor", "dcgm-exporter")
    (endpoint,) = monitor.inputs["spec"]["endpoints"]
    assert endpoint["scheme"] == "https"
    assert endpoint["tlsConfig"] == {"ca": {"secret": {"name": dcgm.TLS_SECRET, "key": "ca.crt"}},
                                     "serverName": "dcgm-exporter.gpu-monitoring.svc"}
    assert _fired(rs) == []


def test_rule_fires_on_a_plaintext_dcgm_scrape():
    rs = resources_of("dev")
    (monitor,) = _kind(rs, "ServiceMonitor", "dcgm-exporter")
    endpoint = monitor.inputs["spec"]["endpoints"][0]
    del endpoint["scheme"], endpoint["tlsConfig"]
    assert _fired(rs) == ["ServiceMonitor gpu-monitoring/dcgm-exporter: scrapes metrics over http: scrape with "
                          "scheme https and tlsConfig.ca (the certificate's CA)"]


def _cert_manager_source():
    """The pinned cert-manager module (chart = app tag; scripts/real-engine.sh fetches it for its CRDs)."""
    import json
    import subprocess
    from pathlib import Path

    got = subprocess.run(["go", "mod", "download", "-json",
                          f"github.com/cert-manager/cert-manager@{versions.CERT_MANAGER_CHART['version']}"],
                         capture_output=True, text=True, timeout=300, cwd="/")
    info = json.loads(got.stdout)
    assert not info.get("Error"), info
    return Path(info["Dir"])


def test_cert_manager_serves_its_own_metrics_over_tls_with_values_the_pinned_chart_accepts():
    import json
    import re

    import jsonschema

    from llm_infra.kubernetes import cert_manager

    (release,) = [r for r in resources_of("dev") if r.type == "kubernetes:helm.sh/v3:Release"
                  and r.inputs.get("name") == "cert-manager"]
    values = release.inputs["values"]
    assert values == cert_manager.chart_values("cert-manager")
    for component in (values["config"], values["webhook"]["config"], values["cainjector"]["config"]):
        dynamic = component["metricsTLSConfig"]["dynamic"]
        assert dynamic["secretName"] == cert_manager.METRICS_CA_SECRET and dynamic["secretNamespace"] == "cert-manager"
    source = _cert_manager_source()
    chart = source / "deploy/charts/cert-manager"
    jsonschema.validate(values, json.loads((chart / "values.schema.json").read_text()))
    # The keys are the components' configuration types' JSON names at the pinned tag.
    for kind in ("controller", "webhook", "cainjector"):
        assert 'json:"metricsTLSConfig"' in (source / f"pkg/apis/config/{kind}/v1alpha1/types.go").read_text()
    shared = (source / "pkg/apis/config/shared/v1alpha1/types_tlsconfig.go").read_text()
    assert {"dynamic", "secretNamespace", "secretName", "dnsNames"} <= set(re.findall(r'json:"(\w+)', shared))
    # With prometheus.enabled (the chart's default) every component keeps its metrics listener on 9402.
    assert "--metrics-listen-address=0" in (chart / "templates/webhook-deployment.yaml").read_text()
    # ... and reads the configuration the values carry.
    for template, key in (("deployment.yaml", ".Values.config"), ("webhook-deployment.yaml", ".Values.webhook.config"),
                          ("cainjector-deployment.yaml", ".Values.cainjector.config")):
        text = (chart / "templates" / template).read_text()
        assert f"{{{{- if {key} }}}}\n          - --config=/var/cert-manager/config/config.yaml" in text, template
    assert "prometheus" not in values


def test_mutual_tls_is_a_named_option():
    conf = tls.nginx_conf(tls.triton_listeners(), mutual=True, open_paths=["/v2/health/ready"])
    assert conf.count("ssl_verify_client optional;") == 2  # http and grpc; metrics takes server TLS only
    assert "ssl_verify_client" not in tls.nginx_conf(tls.triton_listeners(), mutual=False)


@pytest.mark.parametrize(("change", "expected"), [
    (lambda c: c.__setitem__("llm-infra:tls", {"cluster_issuer": "Bad_Name"}), "tls.cluster_issuer"),
    (lambda c: c.__setitem__("llm-infra:tls", {"mutal": True}), "tls.mutal"),
    (lambda c: c.__setitem__("llm-infra:monitoring", {"prometheus_url": "http://prometheus.monitoring.svc:9090"}),
     "monitoring.prometheus_url: expected https://"),
])
def test_bad_tls_config_is_refused_naming_the_field(change, expected):
    problems = rejected("dev", change)
    assert len(problems) == 1 and problems[0].startswith(expected), problems
    assert "\n" not in problems[0]


def test_tls_opt_out_is_named_and_visible():
    from _stacks import with_changed_config

    result = with_changed_config("existing", lambda c: c.__setitem__("llm-infra:tls", {"enabled": False}))
    assert result.outputs["model_endpoints"]["llama-3-8b"]["http"].startswith("http://")
    sts = next(r for r in result.resources if r.kind == "StatefulSet")
    assert sts.inputs["spec"]["template"]["metadata"]["annotations"]["llm-infra.io/tls"] == "disabled"
    # The DCGM exporter follows: plain HTTP, its ServiceMonitor carrying the same opt-out the rule reads.
    (monitor,) = [r for r in result.resources if r.kind == "ServiceMonitor" and r.k8s_name == "dcgm-exporter"]
    assert monitor.inputs["metadata"]["annotations"] == {"llm-infra.io/tls": "disabled"}
    assert "scheme" not in monitor.inputs["spec"]["endpoints"][0]
    assert not [r for r in result.resources if r.kind == "Certificate"]
    resources = [Resource(r.type, r.name, copy.deepcopy(r.inputs), r.protect, r.retain_on_delete, r.urn)
                 for r in result.resources]
    assert _fired(resources) == []


def test_the_hop_table_in_the_docs_is_the_code_s():
    from pathlib import Path

    from llm_infra.catalog import hop_tls

    doc = (Path(__file__).resolve().parents[1] / "docs" / "tls.md").read_text()
    assert hop_tls.markdown_table() in doc
    assert {h.hop for h in hop_tls.HOPS if not h.encrypted} == {
        "internal Gateway (gke-l7-rilb) -> model pods (InferencePool)", "Prometheus -> KEDA operator metrics (8080)"}
