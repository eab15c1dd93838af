"""Config refuses harmful content by class (issue 16 item 1): each class breaks a shipped
stack's config and expects one line naming the field, with nothing registered."""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable
from typing import Any

import pytest

from llm_infra.config import ConfigError, parse_stack_config
from llm_infra.plan import stack_config

from _stacks import rejected

Change = Callable[[dict[str, Any]], None]
K = "llm-infra:"


def set_path(path: str, value: Any) -> Change:
    """A change that sets `path` (e.g. `models[0].engine_args.x`) in the stack's config."""
    def change(raw: dict[str, Any]) -> None:
        first, *rest = re.findall(r"[^.\[\]]+", path)
        if not rest:
            raw[K + first] = value
            return
        node: Any = raw[K + first] if K + first in raw else raw.setdefault(K + first, {})
        for part in rest[:-1]:
            node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
        last = rest[-1]
        if last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value
    return change


def expect(name: str, change: Change, field: str, contains: str = "") -> str:
    problems = rejected(name, change)
    lines = [p for p in problems if p.startswith(f"{field}: ")]
    assert lines, (field, problems)
    assert all("\n" not in p and len(p) <= 600 for p in problems), problems
    matching = [line for line in lines if contains in line]
    assert matching, lines
    return matching[0]


def accepted(name: str, change: Change) -> None:
    """The changed stack config validates (parsed only: the stack program is not run)."""
    raw, secret = stack_config(name)
    raw = copy.deepcopy(raw)
    change(raw)
    parse_stack_config({k[len(K):]: v for k, v in raw.items() if k.startswith(K) and k not in secret})


# --- local files ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/proc/self/environ", "../../../../etc/passwd", "/etc/hostname", "~/.aws/credentials",
                                  "__main__.py.bak", "builtin:../../secrets"])
def test_python_model_only_from_under_the_program_directory(path):
    expect("existing", set_path("models[1].python_model", path), "models[1].python_model")


def test_python_model_through_a_symlink_out_of_the_program_directory_or_too_big(tmp_path, monkeypatch):
    from llm_infra.guardrails import MAX_PYTHON_MODEL_BYTES, _python_model_problems

    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.py").write_text("x = 1\n")
    assert _python_model_problems("m", "model.py") == []
    os.symlink("/etc/hostname", tmp_path / "link.py")
    assert "under the program's directory" in _python_model_problems("m", "link.py")[0]
    (tmp_path / "big.py").write_text("#" * (MAX_PYTHON_MODEL_BYTES + 1))
    assert "expected at most 256 KiB" in _python_model_problems("m", "big.py")[0]


# --- credentials and remote code ------------------------------------------------------------


@pytest.mark.parametrize(("path", "value"), [
    ("models[0].engine_args.hf_token", "x"),
    ("models[0].engine_args.api_key", "x"),
    ("models[0].engine_args.download_dir", "hf_" + "a" * 34),
    ("models[0].engine_args.tokenizer", "https://user:pa55@example.com/tok"),
    ("models[0].revision", "AKIAABCDEFGHIJKLMNOP"),
])
def test_credentials_in_config_are_refused_naming_the_field(path, value):
    expect("prod", set_path(path, value), path, "credential")


@pytest.mark.parametrize("value", [True, "true", 1])
def test_trust_remote_code_in_production_needs_an_acknowledgement(value):
    expect("prod", set_path("models[0].engine_args.trust_remote_code", value),
           "models[0].engine_args.trust_remote_code", "acknowledge_remote_code")

    def acknowledged(raw):
        set_path("models[0].engine_args.trust_remote_code", value)(raw)
        set_path("models[0].acknowledge_remote_code", True)(raw)

    accepted("prod", acknowledged)
    accepted("dev", set_path("models[0].engine_args.trust_remote_code", value))


# --- production capacity and logs -----------------------------------------------------------


@pytest.mark.parametrize("name", ["prod", "gcp-prod", "azure-prod"])
def test_spot_gpu_pools_are_refused_in_production_on_every_cloud(name):
    expect(name, set_path("gpu_pools[0].spot", True), "gpu_pools[0].spot", "production")


@pytest.mark.parametrize("name", ["prod", "gcp-prod", "azure-prod"])
def test_time_slicing_is_refused_in_production(name):
    expect(name, set_path("device_plugin", {"time_slicing_replicas": 4}), "device_plugin.time_slicing_replicas")


def test_audit_log_retention_has_a_minimum_in_production():
    expect("prod", set_path("aws.log_retention_days", 30), "aws.log_retention_days", "at least 365")
    accepted("staging", set_path("aws.log_retention_days", 30))


# --- allowlists by the address space they open ------------------------------------------------

INTERNET = ["0.0.0.0/1", "128.0.0.0/1"]


@pytest.mark.parametrize(("name", "field", "value"), [
    ("prod", "aws.public_access_cidrs", INTERNET),
    ("dev", "aws.public_access_cidrs", INTERNET),
    ("prod", "aws.public_access_cidrs", ["198.51.100.0/24", "203.0.113.0/24"]),
    ("dev", "aws.public_access_cidrs", ["198.0.0.0/15"]),
    ("azure-prod", "azure.authorized_ip_ranges", INTERNET),
    ("azure-dev", "azure.authorized_ip_ranges", ["1.0.0.0/8"]),
])
def test_allowlists_are_judged_by_the_public_address_space_they_open(name, field, value):
    expect(name, set_path(field, value), field, "public addresses")


@pytest.mark.parametrize("name", ["gcp-prod", "gcp-dev"])
def test_gke_authorized_networks_are_judged_as_a_whole(name):
    expect(name, set_path("gcp.master_authorized_networks", [{"cidr_block": c} for c in INTERNET]),
           "gcp.master_authorized_networks", "0.0.0.0/1 and 128.0.0.0/1 are the internet")


def test_a_small_public_allowlist_and_private_ranges_are_accepted():
    accepted("prod", set_path("aws.public_access_cidrs", ["203.0.113.0/25", "198.51.100.7/32"]))
    accepted("gcp-prod", set_path("gcp.master_authorized_networks", [{"cidr_block": "10.0.0.0/8"}]))


# --- weights URIs ----------------------------------------------------------------------------


@pytest.mark.parametrize("uri", [
    "s3://example-llm-prod-models/meta-llama/*",
    "s3://example-llm-prod-models/meta-llama/Llama-3.1-8B-Instruc?",
    "s3://example-llm-prod-models/?",
    "s3://example-llm-prod-models/meta-llama/../Llama-3.1-70B-Instruct",
    "s3://example-llm-prod-models/${aws:username}/x",
])
def test_iam_wildcards_and_variables_in_weights_uris_are_refused(uri):
    expect("prod", set_path("models[0].weights_uri", uri), "models[0].weights_uri")


# --- namespaces ------------------------------------------------------------------------------


@pytest.mark.parametrize("namespace", ["kube-system", "default", "kube-public", "monitoring", "keda"])
def test_a_model_never_lives_in_a_system_or_the_monitoring_namespace(namespace):
    expect("prod", set_path("models[0].namespace", namespace), "models[0].namespace")


@pytest.mark.parametrize("namespace", ["kube-system", "default", "monitoring"])
def test_a_system_or_the_monitoring_namespace_is_never_a_client(namespace):
    expect("existing", set_path("models[0].clients", ["chat-frontend", namespace]), "models[0].clients[1]")


def test_monitoring_never_shares_a_system_namespace():
    expect("gcp-dev", set_path("monitoring.namespace", "kube-system"), "monitoring.namespace")


# --- images and Prometheus -------------------------------------------------------------------


@pytest.mark.parametrize(("image", "contains"), [
    ("docker.io/attacker/tritonserver:24.10-vllm-python-py3", "allowed registry"),
    ("tritonserver:24.10", "registry named"),
    ("nvcr.io/nvidia/tritonserver", "pinned"),
    ("nvcr.io/nvidia/tritonserver:latest", "latest"),
    ("nvcr.io/nvidia/tritonserver@sha256:abc", "64 hex"),
    ("nvcr.io.evil.com/nvidia/tritonserver:24.10", "allowed registry"),
])
def test_images_only_from_allowed_registries_and_pinned(image, contains):
    expect("prod", set_path("models[0].image", image), "models[0].image", contains)


def test_a_configured_mirror_is_allowed():
    mirror = "210987654321.dkr.ecr.eu-west-1.amazonaws.com/nvidia"

    def change(raw):
        raw[K + "image_registries"] = [mirror]
        set_path("models[0].image", f"{mirror}/tritonserver:24.10-vllm-python-py3@sha256:{'a' * 64}")(raw)

    accepted("prod", change)


@pytest.mark.parametrize("url", ["http://prometheus.example.com:9090", "http://10.0.0.5:9090",
                                 "http://169.254.169.254/latest", "https://127.0.0.1:9090",
                                 "http://prometheus-operated.monitoring.svc:9090/?q=x"])
def test_prometheus_only_in_cluster_or_https(url):
    expect("prod", set_path("monitoring.prometheus_url", url), "monitoring.prometheus_url")


def test_prometheus_credentials_in_the_url_are_refused():
    expect("prod", set_path("monitoring.prometheus_url", "https://u:p@prom.example.com"), "monitoring.prometheus_url",
           "credential")
    accepted("prod", set_path("monitoring.prometheus_url", "https://prometheus.example.com"))


# --- identities ------------------------------------------------------------------------------


def test_admins_from_a_foreign_account_are_refused_unless_named():
    foreign = "arn:aws:iam::999999999999:role/contractor"

    def add(raw):
        raw[K + "aws"]["admin_principal_arns"].append(foreign)

    expect("prod", add, "aws.admin_principal_arns[2]", "210987654321")

    def named(raw):
        add(raw)
        raw[K + "aws"]["external_admin_accounts"] = ["999999999999"]

    accepted("prod", named)


@pytest.mark.parametrize("account", ["123456789012-compute@developer.gserviceaccount.com",
                                     "my-project@appspot.gserviceaccount.com"])
def test_default_compute_accounts_are_never_model_identities(account):
    expect("existing", set_path("existing.model_identities.llama-3-8b", {"iam.gke.io/gcp-service-account": account}),
           "existing.model_identities.llama-3-8b.iam.gke.io/gcp-service-account", "default compute account")


def test_two_models_never_share_an_identity():
    def share(raw):
        ids = raw[K + "existing"]["model_identities"]
        ids["toy-llm"] = dict(ids["llama-3-8b"])

    expect("existing", share, "existing.model_identities.toy-llm.eks.amazonaws.com/role-arn", "llama-3-8b")


def test_an_identity_annotation_must_be_a_known_one_of_the_right_form():
    expect("existing", set_path("existing.model_identities.llama-3-8b", {"k": "v"}), "existing.model_identities.llama-3-8b")
    expect("existing", set_path("existing.model_identities.llama-3-8b", {"eks.amazonaws.com/role-arn": "arn:aws:iam::*:role/x"}),
           "existing.model_identities.llama-3-8b.eks.amazonaws.com/role-arn")


# --- regions, zones, cron, time zones ------------------------------------------------------------


@pytest.mark.parametrize(("name", "region"), [("prod", "mars-north-1"), ("prod", "eu-west-1;"), ("gcp-prod", "Europe-West4"),
                                              ("azure-prod", "west europe"), ("existing", "eu-west-1")])
def test_region_values_are_checked(name, region):
    expect(name, set_path("region", region), "region")


@pytest.mark.parametrize(("name", "path", "zone"), [
    ("prod", "gpu_pools[0].zones", ["eu-west-1a", "eu-west-1ab"]),
    ("gcp-prod", "gcp.zones", ["europe-west4-a", "europe-west4"]),
])
def test_zone_values_are_checked(name, path, zone):
    expect(name, set_path(path, zone), f"{path}[1]")


@pytest.mark.parametrize("cron", ["0 25 * * 1-5", "@daily", "0 8 * * 1-5 *", "0  8 * * 1-5", "61 8 * * *",
                                  "0 8 * 13 *", "*/0 * * * *", "0 8 * * mon-fry"])
def test_cron_values_are_checked(cron):
    expect("existing", set_path("models[1].active_hours.start", cron), "models[1].active_hours.start")


def test_cron_accepts_what_keda_reads():
    from llm_infra.guardrails import cron_problem

    for cron in ["0 8 * * 1-5", "*/15 6-18 * * MON-FRI", "0 0 1,15 jan-jun 0", "30 7 * * 7"]:
        assert cron_problem(cron) is None, cron


@pytest.mark.parametrize("tz", ["Mars/Olympus", "localtime", "CET ", "../../etc/passwd"])
def test_time_zones_are_checked(tz):
    expect("existing", set_path("models[1].active_hours.timezone", tz), "models[1].active_hours.timezone")


# --- trailing newlines and look-alikes ---------------------------------------------------------


@pytest.mark.parametrize(("path", "value"), [
    ("region", "eu-west-1\n"),
    ("models[0].weights_uri", "s3://example-llm-prod-models/meta-llama/Llama-3.1-8B-Instruct\n"),
    ("models[0].weights_uri", "s3://example-llm-prod-models/meta-llama/Llama-3.1-8B-Instruct\u200b"),
    ("models[0].weights_uri", "s3://example-llm-prod-models/meta-llama/Llama-3.1-8B-Instruсt"),  # Cyrillic с
    ("monitoring.prometheus_url", "https://prometheus.ехample.com"),  # Cyrillic е, х
    ("models[0].image", "nvcr.io/nvidia/tritonserver:24.10-vllm-python-py3\r"),
])
def test_trailing_newlines_and_look_alikes_in_uris_and_values_are_refused(path, value):
    expect("prod", set_path(path, value), path, "look-alike")


@pytest.mark.parametrize("key", ["gpu_memory_utilizatіon", "gpu_memory_utilization\n", "\u202egpu"])
def test_look_alike_and_invisible_characters_in_keys_are_refused(key):
    expect("prod", set_path(f"models[0].engine_args.{key}", 0.9), f"models[0].engine_args.{key!r}", "printable ASCII")


def test_a_top_level_key_with_a_trailing_newline_is_refused():
    def change(raw):
        raw[K + "isolation\n"] = raw.pop(K + "isolation")

    problems = rejected("prod", change)
    assert any(p.startswith("'isolation\\n': expected a key of printable ASCII") for p in problems), problems


def test_every_error_line_is_short_even_for_huge_values():
    problems = rejected("prod", set_path("models[0].weights_uri", "s3://example-llm-prod-models/" + "*" * 200_000))
    assert all(len(p) <= 600 for p in problems), [len(p) for p in problems]
    with pytest.raises(ConfigError):
        parse_stack_config({"cloud": "x" * 1_000_000})


def test_components_served_to_other_languages_refuse_the_same_text():
    from llm_infra.config import ModelConfig, validate_spec

    spec = {"name": "m", "backend": "vllm", "weights_uri": "s3://models-bucket/m\n", "weights_size_gib": 1, "gpu_pool": "l4"}
    with pytest.raises(ConfigError) as info:
        validate_spec(ModelConfig, spec, field="model")
    assert info.value.problems[0].startswith("model.weights_uri: expected text without control")
