"""Issue 14.9: `pulumi destroy` leaves exactly the documented resources (docs/teardown.md)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from _stacks import STACKS, stack, with_changed_config

from llm_infra.plan import parsed_config, summary

DOC = Path(__file__).resolve().parents[1] / "docs" / "teardown.md"
ROW = re.compile(r"^\| (aws|gcp|azure) \| `([^`]+)` \| (1|per model) \| (yes|no) \| (yes|no) \|")


def documented(cloud: str, models: int, *, delete_model_data: bool = False) -> Counter:
    rows = [ROW.match(line) for line in DOC.read_text().splitlines()]
    expected: Counter = Counter()
    for row in filter(None, rows):
        if row.group(1) != cloud or (delete_model_data and row.group(5) == "no"):
            continue
        expected[(row.group(2), row.group(4) == "yes")] += models if row.group(3) == "per model" else 1
    return expected


def kept(result) -> Counter:
    """What destroy leaves: every protected or retained resource, with whether it is protected."""
    for r in result.resources:
        assert not r.protect or r.retain_on_delete, f"{r.name}: protected but not retained"
    return Counter((r.type, r.protect) for r in result.resources if r.custom and (r.protect or r.retain_on_delete))


def test_the_table_covers_every_cloud():
    for cloud in ("aws", "gcp", "azure"):
        assert documented(cloud, 1), cloud


@pytest.mark.parametrize("name", STACKS)
def test_destroy_leaves_exactly_the_documented_resources(name):
    config = parsed_config(name)
    expected = documented(config.cloud, len(config.models)) if config.cloud != "existing" else Counter()
    assert kept(stack(name)) == expected


@pytest.mark.parametrize("name", ["dev", "gcp-dev", "azure-dev"])
def test_deleting_the_model_data_leaves_only_the_keys(name):
    def delete_data(raw):
        raw["llm-infra:teardown"] = {"delete_model_data": True}

    result = with_changed_config(name, delete_data)
    config = parsed_config(name)
    assert kept(result) == documented(config.cloud, len(config.models), delete_model_data=True)
    for bucket in [*result.of_type("aws:s3/bucket:Bucket"), *result.of_type("gcp:storage/bucket:Bucket")]:
        assert bucket.inputs["forceDestroy"] is True


@pytest.mark.parametrize("name", ["prod", "gcp-dev"])
def test_a_protected_cluster_is_named_in_the_plan_until_its_protection_is_turned_off(name):
    text = summary(name, stack(name))
    assert "while its deletion protection is on" in text

    def unprotect(raw):
        raw["llm-infra:teardown"] = {"cluster_deletion_protection": False}

    result = with_changed_config(name, unprotect)
    clusters = [*result.of_type("aws:eks/cluster:Cluster"), *result.of_type("gcp:container/cluster:Cluster")]
    assert clusters and all(c.inputs["deletionProtection"] is False for c in clusters)
    assert "while its deletion protection is on" not in summary(name, result)


@pytest.mark.parametrize("name", STACKS)
def test_the_plan_lists_every_retained_resource(name):
    result = stack(name)
    text = summary(name, result).split("pulumi destroy (docs/teardown.md):")[1].split("\n\n")[0]
    for r in result.resources:
        if r.custom and r.retain_on_delete:
            assert f"    {r.type.split(':')[-1]} {r.name}\n" in text + "\n", r.name
    if not any(r.retain_on_delete for r in result.resources):
        assert "retained: nothing" in text


def test_a_key_that_loses_its_retention_breaks_the_documented_list():
    # The documented list is what the plan says: a key no longer retained would be deleted.
    result = stack("prod")
    key = result.one("aws:kms/key:Key")
    key.retain_on_delete, key.protect = False, False
    try:
        with pytest.raises(AssertionError):
            assert kept(result) == documented("aws", len(parsed_config("prod").models))
    finally:
        key.retain_on_delete, key.protect = True, True
