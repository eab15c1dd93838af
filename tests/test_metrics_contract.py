"""Every PromQL query the platform generates parses, and names only series the pinned images export.

The queries: ScaledObject triggers, PrometheusRule expressions and Grafana dashboard targets,
from every shipped stack and from a workload of each backend (tensor-parallel or not). Each
is parsed by promql-parser (a port of Prometheus' own parser) and each series, label matcher
and grouping label is held to llm_infra.triton.upstream.METRICS, the table of what the pinned
Triton and backend releases export, with the upstream file and line of each.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import promql_parser
import pulumi
import pulumi_kubernetes as k8s
import pytest

from llm_infra.config import BatchingConfig, ModelConfig, MonitoringConfig
from llm_infra.contract import ClusterContract
from llm_infra.testing import ProgramResult, run_program
from llm_infra.triton import metrics, upstream
from llm_infra.triton.model_repository import render_model_repository
from llm_infra.triton.workload import TritonLlmWorkload

from _stacks import STACKS, stack


def _model(backend: str, gpus: int = 1, **extra) -> ModelConfig:
    return ModelConfig(name=f"m-{backend}-{gpus}", backend=backend, weights_uri="s3://models-bucket/m",
                       weights_size_gib=8.0, gpu_pool="h100", gpus_per_replica=gpus, min_replicas=1, max_replicas=4,
                       batching=BatchingConfig(max_batch_size=32),
                       python_model="builtin:toy_llm" if backend == "python" else None, **extra)


MODELS = [_model("vllm"), _model("vllm", 4), _model("tensorrtllm"), _model("tensorrtllm", 2), _model("python")]


def run_models(models: list[ModelConfig], monitoring: MonitoringConfig | None = None) -> ProgramResult:
    def program() -> None:
        provider = k8s.Provider("cluster-k8s", kubeconfig=pulumi.Output.secret("kubeconfig"))
        contract = ClusterContract(provider=provider, storage_class="llm-cache-encrypted", encryption_key="k",
                                   manages_device_plugin=False, bind_model_identity=None)  # type: ignore[arg-type]
        for model in models:
            TritonLlmWorkload(model.name, {"model": model, "cluster": contract.workload_cluster(),
                                           "monitoring": monitoring or MonitoringConfig()})

    return run_program(program)


@pytest.fixture(scope="module")
def backends() -> ProgramResult:
    return run_models(MODELS)


def queries(result: ProgramResult) -> Iterator[tuple[str, str]]:
    """(where, query) for every PromQL query in the program's objects."""
    for obj in result.kubernetes_objects():
        inputs = obj.inputs
        name = inputs["metadata"]["name"]
        if obj.kind == "ScaledObject":
            for t in inputs["spec"]["triggers"]:
                if t["type"] == "prometheus":
                    yield f"ScaledObject {name} trigger {t['name']}", t["metadata"]["query"]
        elif obj.kind == "PrometheusRule":
            for group in inputs["spec"]["groups"]:
                for rule in group["rules"]:
                    yield f"PrometheusRule {name} {rule.get('record') or rule.get('alert')}", rule["expr"]
        elif obj.kind == "ConfigMap" and (inputs.get("metadata", {}).get("labels") or {}).get("grafana_dashboard"):
            for content in inputs["data"].values():
                for panel in json.loads(content)["panels"]:
                    for target in panel["targets"]:
                        yield f"dashboard {name} panel {panel['title']!r}", target["expr"]


def selectors(node) -> Iterator[tuple[str, list[tuple[str, str, str]], list[str]]]:
    """(series, [(label, op, value)], grouping labels) of every vector selector in a parsed query."""
    grouping: list[str] = []
    stack = [node]
    found = []
    while stack:
        n = stack.pop()
        kind = type(n).__name__
        if kind == "VectorSelector":
            matchers = [(m.name, str(m.op), m.value) for m in n.matchers.matchers]
            found.append((n.name, matchers))
        elif kind == "MatrixSelector":
            stack.append(n.vector_selector)
        elif kind == "Call":
            stack.extend(n.args)
        elif kind == "AggregateExpr":
            if n.modifier is not None:
                grouping.extend(n.modifier.labels)
            stack.append(n.expr)
            if n.param is not None:
                stack.append(n.param)
        elif kind == "BinaryExpr":
            stack.extend([n.lhs, n.rhs])
        elif kind in ("ParenExpr", "UnaryExpr", "SubqueryExpr"):
            stack.append(n.expr)
    for name, matchers in found:
        yield name, matchers, grouping


def check(where: str, query: str) -> list[str]:
    """What is wrong with one query against the table (empty when nothing)."""
    try:
        parsed = promql_parser.parse(query)
    except ValueError as exc:
        return [f"{where}: does not parse: {exc}: {query}"]
    problems = []
    for series, matchers, grouping in selectors(parsed):
        if series in upstream.NOT_EXPORTED:
            problems.append(f"{where}: {series} is not exported: {upstream.NOT_EXPORTED[series]}")
            continue
        fact = upstream.metric_fact(series)
        if fact is None and series not in metrics.RECORDED:
            problems.append(f"{where}: {series} is in no upstream table row and no recording rule")
            continue
        allowed = set(upstream.SCRAPE_LABELS) | (set(fact.labels) if fact else {"namespace", "model"})
        for label, _op, value in matchers:
            if label not in allowed:
                problems.append(f"{where}: {series} has no label {label!r}")
            elif fact and fact.label_values and label in fact.label_values and value not in fact.label_values[label]:
                problems.append(f"{where}: {series}{{{label}}} is never {value!r} ({fact.label_values[label]})")
        for label in grouping:
            if label not in allowed:
                problems.append(f"{where}: groups {series} by {label!r}, which it does not carry")
    return problems


def test_every_query_of_every_stack_parses_and_names_exported_series():
    problems = []
    for name in STACKS:
        found = list(queries(stack(name)))
        assert found, f"stack {name} generates no query"
        problems += [p for where, q in found for p in check(f"{name}: {where}", q)]
    assert problems == []


def test_every_query_of_every_backend_parses_and_names_exported_series(backends):
    found = list(queries(backends))
    assert {w.split()[1] for w, _ in found if w.startswith("ScaledObject")} == {m.name for m in MODELS}
    assert [p for where, q in found for p in check(where, q)] == []


def test_the_check_catches_a_series_no_release_exports():
    # What the platform queried before: exported by no released vllm_backend.
    assert check("trigger", 'sum(vllm:num_requests_waiting{namespace="n",model="m"})') == [
        "trigger: vllm:num_requests_waiting is not exported: " + upstream.NOT_EXPORTED["vllm:num_requests_waiting"]]
    assert check("rule", 'sum(nv_trt_llm_request_metrics{model="m",request_type="queued"})') != []
    assert check("rule", 'sum(vllm:e2e_request_latency_seconds_sum{engine="0"})') != []
    assert check("rule", "sum(rate(x[1m]") != []


def test_every_table_row_cites_an_upstream_file_at_a_pinned_ref():
    refs = {r.backend_ref for r in upstream.RELEASES.values()} | {
        f"v{r.triton_version}" for r in upstream.RELEASES.values()}
    for fact in upstream.METRICS.values():
        assert fact.source.ref in refs and fact.source.line, fact
    for fact in upstream.PARAMETERS.values():
        assert fact.source.ref in refs and fact.source.line, fact


def _scaled_object(result: ProgramResult, model: ModelConfig) -> dict:
    return result.k8s("ScaledObject", model.name)["spec"]


def test_decoupled_models_scale_on_requests_in_the_engine_not_on_triton_queue(backends):
    for model in MODELS:
        triggers = {t["name"]: t for t in _scaled_object(backends, model)["triggers"]}
        if model.backend == "python":
            assert set(triggers) == {"queue-compute-ratio"}
            continue
        assert set(triggers) == {"engine-requests-in-flight"}, model.name
        trigger = triggers["engine-requests-in-flight"]
        assert trigger["metricType"] == "AverageValue"
        # Per replica: 0.8 of the engine's batch (vLLM max_num_seqs, TensorRT-LLM max active requests).
        assert float(trigger["metadata"]["threshold"]) == 0.8 * model.batching.max_batch_size
        assert "ignoreNullValues" not in trigger["metadata"]
        query = trigger["metadata"]["query"]
        if model.backend == "vllm":
            # Little's law: the rate of the end-to-end latency sum is the mean number in flight.
            assert query == metrics.vllm_in_flight(model.namespace, model.name)
            assert "vllm:e2e_request_latency_seconds_sum" in query
        else:
            assert 'request_type="active"' in query and "nv_trt_llm_request_metrics" in query


def test_vllm_reports_its_metrics_with_the_value_the_pinned_backend_reads():
    config = render_model_repository(_model("vllm"))["config.pbtxt"]
    fact = upstream.PARAMETERS[("vllm", "REPORT_CUSTOM_METRICS")]
    assert fact.accepted == ("true",) and fact.source.ref == upstream.RELEASES["vllm"].backend_ref
    assert 'key: "REPORT_CUSTOM_METRICS"\n  value {\n    string_value: "true"' in config
    engine = json.loads(render_model_repository(_model("vllm"))["1/model.json"])
    assert engine["disable_log_stats"] is False  # the backend reports only with stats on


def _alerts(result: ProgramResult, model: ModelConfig) -> dict[str, str]:
    groups = result.k8s("PrometheusRule", f"{model.name}-triton")["spec"]["groups"]
    return {r["alert"]: r["expr"] for g in groups for r in g["rules"] if "alert" in r}


def test_vllm_failures_and_stalls_alert_on_the_engine_not_on_triton_counters(backends):
    # Triton counts a failed or hung vLLM request as a success and shows it pending 0
    # (tests/test_client_contract.py shows the failure counter staying 0 on the real server).
    alerts = _alerts(backends, MODELS[0])
    assert "TritonPendingRequestsStuck" not in alerts
    assert "vllm:e2e_request_latency_seconds_count" in alerts["VllmEngineStalled"]
    assert "nv_inference_request_success" in alerts["VllmEngineStalled"]
    assert "VllmRequestsFailing" in alerts
    python_alerts = _alerts(backends, MODELS[-1])
    assert "TritonPendingRequestsStuck" in python_alerts and "VllmEngineStalled" not in python_alerts


def test_the_metric_table_in_the_docs_is_the_code_table():
    from pathlib import Path

    docs = (Path(__file__).parent.parent / "docs" / "versions.md").read_text()
    assert upstream.metrics_markdown() in docs
    assert upstream.matrix_markdown() in docs


def test_a_stock_kube_prometheus_stack_selects_every_monitor_and_rule_and_scrapes_each_pod_once():
    # kube-prometheus-stack's Prometheus selects ServiceMonitors and PrometheusRules labelled
    # `release: <release name>`; a ServiceMonitor matching two Services scrapes each pod twice.
    checked = 0
    for name in STACKS:
        result = stack(name)
        services = [s.inputs for s in result.kubernetes_objects("Service")]
        for obj in result.kubernetes_objects():
            if obj.kind not in ("ServiceMonitor", "PrometheusRule"):
                continue
            checked += 1
            meta = obj.inputs["metadata"]
            assert meta["labels"].get("release") == "kube-prometheus-stack", (name, obj.kind, meta["name"])
            if obj.kind == "ServiceMonitor":
                spec = obj.inputs["spec"]
                namespaces = (spec.get("namespaceSelector") or {}).get("matchNames") or [meta["namespace"]]
                match = spec["selector"]["matchLabels"]
                selected = [s["metadata"]["name"] for s in services
                            if s["metadata"].get("namespace") in namespaces
                            and all((s["metadata"].get("labels") or {}).get(k) == v for k, v in match.items())]
                assert len(selected) == 1, (name, meta["name"], selected)
    assert checked
