"""Stack config: valid stacks parse; bad config names the field, and nothing is registered."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_infra.config import ConfigError, parse_stack_config
from llm_infra.guardrails import SYSTEM_NAMESPACES
from llm_infra.plan import find_project, run_stack, run_stack_program, stack_config

from _stacks import STACKS

VALID: dict[str, Any] = {
    "cloud": "existing",
    "environment": "lab",
    "production": False,
    "isolation": "shared",
    "existing": {"storage_class": "encrypted-ssd", "model_identities": {
        "m": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/lab-m-weights"}}},
    "gpu_pools": [{"name": "l4", "gpu": "nvidia-l4", "min_nodes": 0, "max_nodes": 2}],
    "models": [{
        "name": "m", "backend": "vllm", "weights_uri": "s3://models-bucket/m", "weights_size_gib": 16,
        "gpu_pool": "l4", "min_replicas": 1, "max_replicas": 2,
    }],
}


# The same platform on AWS: only s3:// weights are readable there.
# L4 (g6) instances have no sourced eu-west-1 price (docs/planning.md): the stack is estimated at us-east-1's.
VALID_AWS = {k: v for k, v in VALID.items() if k != "existing"} | {"cloud": "aws", "region": "eu-west-1",
                                                                   "cost": {"price_region": "us-east-1"}}


def problems_for(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_stack_config(raw)
    return info.value.problems


def with_change(path: str, value: Any, base: dict[str, Any] = VALID) -> dict[str, Any]:
    raw = copy.deepcopy(base)
    *parents, last = re.findall(r"[^.\[\]]+", path)
    node: Any = raw
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return raw


def test_a_minimal_config_is_accepted_with_the_documented_defaults():
    cfg = parse_stack_config(VALID)
    [model] = cfg.models
    assert (model.name, model.gpu_pool, model.namespace) == ("m", "l4", "llm-serving")
    assert cfg.monitoring.enabled and cfg.monitoring.namespace == "monitoring"
    aws = parse_stack_config(VALID_AWS)
    assert (aws.cloud, aws.region, aws.existing) == ("aws", "eu-west-1", None)


# What the README's stack table says each shipped stack is: its cloud, and production only for the prod stacks.
SHIPPED = {"dev": ("aws", False), "staging": ("aws", False), "prod": ("aws", True), "gcp-dev": ("gcp", False),
           "gcp-prod": ("gcp", True), "azure-dev": ("azure", False), "azure-prod": ("azure", True),
           "existing": ("existing", False)}


@pytest.mark.parametrize("name", STACKS)
def test_every_shipped_stack_file_is_the_stack_the_readme_describes(name):
    config, secret_keys = stack_config(name)
    raw = {k.split(":", 1)[1]: v for k, v in config.items() if k not in secret_keys}
    cfg = parse_stack_config(raw)
    assert (cfg.cloud, cfg.production) == SHIPPED[name]
    assert cfg.models and all(m.gpu_pool in {p.name for p in cfg.gpu_pools} for m in cfg.models)


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("gpu_pools[0].max_nodes", -1, r"^gpu_pools\[0\]\.max_nodes: expected greater than or equal to 1, got -1$"),
        ("gpu_pools[0].min_nodes", 5, r"^gpu_pools\[0\]\.max_nodes: expected >= min_nodes \(5\), got 2$"),
        ("gpu_pools[0].gpu", "nvidia-gtx1080", r"^gpu_pools\[0\]\.gpu: expected one of .*got 'nvidia-gtx1080'$"),
        ("models[0].min_replicas", 3, r"^models\[0\]\.max_replicas: expected >= min_replicas \(3\), got 2$"),
        ("models[0].weights_uri", "ftp://host/x", r"^models\[0\]\.weights_uri: expected s3://.*got 'ftp://host/x'$"),
        ("models[0].backend", "onnx", r"^models\[0\]\.backend: expected 'vllm', 'tensorrtllm' or 'python', got 'onnx'$"),
        ("models[0].gpu_pool", "h100", r"^models\[0\]\.gpu_pool: expected one of \['l4'\], got 'h100'$"),
        ("models[0].gpus_per_replica", 2, r"^models\[0\]\.gpus_per_replica: expected <= gpus_per_node of pool 'l4' \(1\), got 2$"),
        ("models[0].engine_args", {"tensor_parallel_size": 4},
         r"^models\[0\]\.engine_args\.tensor_parallel_size: expected to be left out.*got 4$"),
        ("models[0].min_replicas", 0, r"^models\[0\]\.active_hours: expected a window .*got nothing$"),
        ("models[0].revision", "0e9e39f2",
         r"^models\[0\]\.revision: expected the SHA-256 of the weights' SHA256SUMS checksum list .*got '0e9e39f2'$"),
        ("models[0].weights_size_gib", "16", r"^models\[0\]\.weights_size_gib: expected a valid number, got '16'$"),
        ("models[0].tokenizer", "x", r"^models\[0\]\.tokenizer: unknown key .*got 'x'$"),
        ("environment", "Prod_1", r"^environment: expected a DNS label .*got 'Prod_1'$"),
        ("cloud", "openstack", r"^cloud: expected 'aws', 'gcp', 'azure' or 'existing', got 'openstack'$"),
        ("monitoring", {"prometheus_url": "prometheus:9090"},
         r"^monitoring\.prometheus_url: expected an http\(s\) URL, got 'prometheus:9090'$"),
    ],
)
def test_bad_config_names_the_field_what_was_given_and_what_is_expected(path, value, expected):
    problems = problems_for(with_change(path, value))
    assert any(re.match(expected, p) for p in problems), problems


def test_production_demands_dedicated_isolation_and_two_replicas():
    problems = problems_for({**VALID, "production": True})
    assert "isolation: expected 'dedicated' in a production stack, got 'shared'" in problems
    assert "models[0].min_replicas: expected >= 2 in a production stack, got 1" in problems


def test_a_model_uri_for_another_cloud_is_rejected():
    raw = {**VALID, "cloud": "gcp", "region": "europe-west4", "existing": None}
    raw.pop("existing")
    problems = problems_for(raw)
    assert any(p.startswith("models[0].weights_uri: expected a gs:// URI for cloud 'gcp'") for p in problems), problems


def test_existing_cluster_needs_an_identity_for_every_model():
    raw = with_change("existing", {"storage_class": "encrypted-ssd"})
    assert any(p.startswith("existing.model_identities.m: expected the service-account annotations") for p in problems_for(raw))


def test_autoscaling_without_monitoring_is_rejected():
    raw = with_change("monitoring", {"enabled": False})
    assert any(p.startswith("models[0].max_replicas: autoscaling needs monitoring.enabled") for p in problems_for(raw))


def test_unknown_top_level_keys_are_rejected_in_the_stack_file():
    problems = problems_for({**VALID, "gpu_pool": []})
    assert "gpu_pool: unknown key (expected one of the documented fields), got []" in problems


def _stack_program_config(raw: dict[str, Any]) -> dict[str, Any]:
    return {f"llm-infra:{k}": v for k, v in raw.items()} | {"llm-infra:kubeconfig": "kubeconfig"}


def test_bad_config_registers_no_resource():
    registered: list[str] = []
    bad = with_change("models[0].max_replicas", 0)
    with pytest.raises(ConfigError) as info:
        run_stack_program(_stack_program_config(bad), ["llm-infra:kubeconfig"], on_register=registered.append)
    assert "models[0].max_replicas" in str(info.value)
    assert registered == []


def test_the_same_config_runs_through_the_stack_program():
    result = run_stack_program(_stack_program_config(VALID), ["llm-infra:kubeconfig"])
    assert result.k8s("StatefulSet", "m", "llm-serving")


def test_existing_stack_runs_offline():
    result = run_stack("existing")
    assert {r.k8s_name for r in result.kubernetes_objects("StatefulSet")} == {"llama-3-8b", "toy-llm"}


# --- hostile config: property-based --------------------------------------------------

# (path, invalid value) pairs; each must be rejected with its path in the message.
_MUTATIONS = st.one_of(
    st.tuples(st.just("cloud"), st.one_of(st.integers(), st.text(max_size=8).filter(
        lambda s: s not in {"aws", "gcp", "azure", "existing"}))),
    st.tuples(st.just("environment"), st.one_of(st.integers(), st.from_regex(r"[A-Z_ ]{1,10}", fullmatch=True))),
    st.tuples(st.just("isolation"), st.text(max_size=10).filter(lambda s: s not in {"dedicated", "shared"})),
    st.tuples(st.just("production"), st.one_of(st.integers(), st.text(max_size=5))),
    st.tuples(st.just("gpu_pools[0].max_nodes"), st.one_of(st.integers(max_value=0), st.integers(min_value=1001),
                                                          st.floats(allow_nan=False), st.text(max_size=4))),
    st.tuples(st.just("gpu_pools[0].gpus_per_node"), st.one_of(st.integers(max_value=0), st.integers(min_value=9))),
    st.tuples(st.just("gpu_pools[0].gpu"), st.text(max_size=20).filter(lambda s: not s.startswith("nvidia-"))),
    st.tuples(st.just("gpu_pools[0].spot"), st.one_of(st.integers(), st.text(max_size=5))),
    st.tuples(st.just("models[0].weights_size_gib"), st.one_of(st.floats(max_value=0), st.floats(min_value=4097),
                                                              st.text(max_size=4))),
    st.tuples(st.just("models[0].weights_uri"), st.one_of(
        st.text(max_size=30).filter(lambda s: not s.startswith(("s3://", "gs://", "https://"))),
        st.from_regex(r"gs://[a-z]{3,10}/[a-z]{1,5}", fullmatch=True),
        st.from_regex(r"https://[a-z]{3,10}\.blob\.core\.windows\.net/[a-z]{3,8}/x", fullmatch=True),
    )),
    st.tuples(st.just("models[0].max_replicas"), st.one_of(st.integers(max_value=0), st.integers(min_value=101))),
    st.tuples(st.just("models[0].gpus_per_replica"), st.integers(min_value=2, max_value=64)),
    st.tuples(st.just("models[0].gpu_pool"), st.from_regex(r"[a-z]{1,8}", fullmatch=True).filter(lambda s: s != "l4")),
    st.tuples(st.just("models[0].name"), st.one_of(st.from_regex(r"[A-Z0-9_]{1,8}", fullmatch=True),
                                                  st.text(min_size=41, max_size=60, alphabet="abc"))),
    st.tuples(st.just("models[0].batching"), st.fixed_dictionaries({"max_batch_size": st.integers(max_value=0)})),
    st.tuples(st.just("models[0].exit_timeout_seconds"), st.integers(max_value=4)),
    st.tuples(st.just("models[0].engine_args"), st.fixed_dictionaries({"model": st.text(max_size=5)})),
    st.tuples(st.from_regex(r"models\[0\]\.x_[a-z]{1,6}", fullmatch=True), st.integers()),
    # Cloud-specific: a public endpoint open to the internet, and tenancy the cloud cannot give.
    st.tuples(st.just("aws"), st.fixed_dictionaries({"public_access_cidrs": st.lists(
        st.sampled_from(["0.0.0.0/0", "0.0.0.0/00", "not-a-cidr"]), min_size=1, max_size=3)})),
    st.tuples(st.just("aws"), st.fixed_dictionaries({
        "dedicated_tenancy": st.just("host"),
        "host_resource_group_arn": st.just("arn:aws:resource-groups:eu-west-1:123456789012:group/gpu-hosts")})),
    st.tuples(st.just("isolation"), st.just("host")),
    st.tuples(st.from_regex(r"y_[a-z]{1,6}", fullmatch=True), st.integers()),
    # Harmful content (issue 16): each class, with values drawn around it.
    st.tuples(st.just("models[0].weights_uri"), st.from_regex(r"s3://models-bucket/m[a-z/]{0,6}[*?][a-z*?/]{0,6}",
                                                              fullmatch=True)),
    st.tuples(st.just("models[0].namespace"), st.sampled_from(sorted(SYSTEM_NAMESPACES) + ["monitoring"])),
    st.tuples(st.just("models[0].clients"), st.lists(st.sampled_from(sorted(SYSTEM_NAMESPACES)), min_size=1, max_size=3)),
    st.tuples(st.just("models[0].image"), st.one_of(
        st.from_regex(r"(docker\.io|ghcr\.io|quay\.io|nvcr\.io\.[a-z]{2,5}\.com)/[a-z]{1,8}/triton:[0-9.]{1,5}",
                      fullmatch=True),
        st.from_regex(r"nvcr\.io/nvidia/tritonserver(:latest)?", fullmatch=True),
        st.from_regex(r"nvcr\.io/nvidia/tritonserver@sha256:[0-9a-f]{0,63}", fullmatch=True))),
    st.tuples(st.just("models[0].engine_args"), st.one_of(
        st.dictionaries(st.sampled_from(["hf_token", "api_key", "HF_AUTH", "aws_secret_access_key", "password"]),
                        st.text(max_size=8), min_size=1, max_size=2),
        st.fixed_dictionaries({"download_dir": st.from_regex(r"hf_[A-Za-z0-9]{24,30}", fullmatch=True)}),
        st.fixed_dictionaries({"x": st.floats(allow_nan=True, allow_infinity=True).filter(lambda f: f != f or abs(f) == float("inf"))}))),
    st.tuples(st.just("models[0].python_model"), st.sampled_from(["/proc/self/environ", "../../etc/passwd", "/etc/shadow"])),
    st.tuples(st.just("monitoring"), st.fixed_dictionaries({"prometheus_url": st.one_of(
        st.from_regex(r"http://[a-z]{1,10}\.(com|net|io)(:[0-9]{2,4})?", fullmatch=True),
        st.from_regex(r"https?://[a-z]{1,5}:[a-z]{1,5}@prometheus-operated\.monitoring\.svc", fullmatch=True),
        st.just("http://169.254.169.254/"))})),
    st.tuples(st.just("monitoring"), st.fixed_dictionaries({"namespace": st.sampled_from(sorted(SYSTEM_NAMESPACES))})),
    st.tuples(st.just("aws"), st.fixed_dictionaries({"public_access_cidrs": st.lists(
        st.sampled_from(["0.0.0.0/1", "128.0.0.0/1", "64.0.0.0/2", "1.0.0.0/8", "8.0.0.0/7"]), min_size=1, max_size=3)})),
    st.tuples(st.just("aws"), st.fixed_dictionaries({
        "account_id": st.just("123456789012"),
        "admin_principal_arns": st.lists(st.from_regex(r"arn:aws:iam::9[0-9]{11}:role/[a-z]{1,8}", fullmatch=True),
                                         min_size=1, max_size=2)})),
    st.tuples(st.just("region"), st.one_of(
        st.sampled_from(["mars-north-1", "eu-west-1\n", "eu-west-1 ", "EU-WEST-1", "europe-west4", "eu-west-1;rm"]),
        st.text(min_size=1, max_size=12).filter(lambda s: not re.match(r"^[a-z]{2}-[a-z]+-[1-9]$", s)))),
    st.tuples(st.just("gpu_pools[0].zones"), st.lists(st.from_regex(r"eu-west-1[a-z]{2,3}|us-east-1[a-c]|[A-Z]{1,3}",
                                                                    fullmatch=True), min_size=1, max_size=3)),
    st.tuples(st.just("models[0].weights_uri"), st.sampled_from([
        "s3://models-bucket/m\n", "s3://models-bucket/m\u200b", "s3://models-bucket/\u043c", "s3://m\u043edels-bucket/m",
        "s3://models-bucket/m\u202e"])),
    st.tuples(st.just("models[0].engine_args"), st.dictionaries(
        st.sampled_from(["gpu_memory_utilizati\u043en", "max_model_len\n", "\u200benforce_eager"]),
        st.integers(1, 9), min_size=1, max_size=2)),
    # Issue 16.5: the device list is volume-mounts or the named envvar opt-out, nothing else.
    st.tuples(st.just("device_plugin"), st.fixed_dictionaries({"device_list_strategy": st.one_of(
        st.sampled_from(["cdi-cri", "cdi-annotations", "", "Envvar", "volume_mounts", "envvar\n", "volume-mounts,envvar"]),
        st.text(max_size=12).filter(lambda s: s not in ("envvar", "volume-mounts")), st.integers(), st.booleans())})),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_MUTATIONS)
def test_hostile_config_is_rejected_naming_the_field_before_any_resource(mutation):
    path, value = mutation
    registered: list[str] = []
    with pytest.raises(ConfigError) as info:
        run_stack_program(_stack_program_config(with_change(path, value, VALID_AWS)), ["llm-infra:kubeconfig"],
                          on_register=registered.append)
    assert registered == []
    problems = info.value.problems
    field = path.split(".")[-1] if not path.startswith("models[0].gpus_per_replica") else "gpus_per_replica"
    assert any(field.split("[")[0] in p for p in problems), (path, value, problems)
    # Each problem is one short line that starts with the field path (a hostile key is shown quoted).
    assert all(re.match(r"^([A-Za-z0-9_.\[\]/-]|'[^']*')+: ", p) for p in problems), problems
    assert all("\n" not in p and len(p) <= 600 for p in problems), problems


def test_stack_files_are_plain_yaml_mappings():
    for name in STACKS:
        data = yaml.safe_load((find_project().stack_config_dir / f"Pulumi.{name}.yaml").read_text())
        assert set(data) == {"config"}
