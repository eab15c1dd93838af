"""Model pods reach the internet on 443 and the weight store's private endpoint, nothing else private.

A NetworkPolicy selects pods, not containers, and matches addresses, not hostnames (FQDN
rules exist only as Cilium/Calico/GKE extensions): the sync init container and Triton share
one rule, and public store and identity endpoints (S3, STS, storage.googleapis.com, Entra ID)
are reached by address range. What a rule can close, it closes: the node's metadata service,
and every private address (the VPC, other pods and services) but the store's private endpoint;
on GKE in the stack's own network, every public address but private.googleapis.com.
"""

from __future__ import annotations

import ipaddress

import pulumi_kubernetes as k8s
import pytest

from llm_infra.config import ConfigError
from llm_infra.contract import PRIVATE_RANGES
from llm_infra.policies import Context, evaluate

from llm_infra.catalog.gcp_facts import PRIVATE_GOOGLE_APIS_CIDR, PRIVATE_GOOGLE_APIS_SOURCE

from _stacks import STACKS, stack, with_changed_config
from test_policies import _find, resources_of


def _model_egress(name: str) -> list[dict]:
    return [p.inputs["spec"]["egress"] for p in stack(name).kubernetes_objects("NetworkPolicy")
            if p.inputs["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name") == "triton"]


@pytest.mark.parametrize("name", [n for n in STACKS if not n.startswith("gcp")])
def test_model_pods_reach_no_private_address_but_the_stores_endpoint(name):
    for egress in _model_egress(name):
        https = next(rule for rule in egress if rule["ports"] == [{"protocol": "TCP", "port": 443}])
        internet, *endpoints = https["to"]
        assert internet["ipBlock"]["cidr"] == "0.0.0.0/0"
        assert set(internet["ipBlock"]["except"]) == {"169.254.0.0/16", *PRIVATE_RANGES}
        if not name.startswith("azure"):  # Azure's private endpoint: the next test
            assert endpoints == []


def test_azure_models_reach_the_blob_private_endpoint_subnet():
    # The store's private endpoint sits in the stack's endpoint subnet (azure.network.plan_subnets).
    for name in ("azure-prod", "azure-dev"):
        subnets = {r.inputs["subnetName"]: r.inputs["addressPrefix"] for r in stack(name).resources
                   if r.type == "azure-native:network:Subnet"}
        for egress in _model_egress(name):
            peers = egress[0]["to"][1:]
            assert peers == [{"ipBlock": {"cidr": subnets["endpoints"]}}]


@pytest.mark.parametrize("name", ["gcp-dev", "gcp-prod"])
def test_gke_models_reach_only_private_google_apis(name):
    # The network the stack creates resolves every *.googleapis.com name to private.googleapis.com
    # (a private zone on the VPC), so 443 goes to that /30 only: no public address besides.
    resources = stack(name).resources
    [zone] = [r.inputs for r in resources if r.type == "gcp:dns/managedZone:ManagedZone"]
    assert zone["dnsName"] == "googleapis.com." and zone["visibility"] == "private"
    assert zone["privateVisibilityConfig"]["networks"]
    records = {r.inputs["name"]: r.inputs for r in resources if r.type == "gcp:dns/recordSet:RecordSet"}
    assert records["*.googleapis.com."]["type"] == "CNAME"
    assert records["*.googleapis.com."]["rrdatas"] == ["private.googleapis.com."]
    addresses = {ipaddress.ip_address(a) for a in records["private.googleapis.com."]["rrdatas"]}
    assert addresses == set(ipaddress.ip_network(PRIVATE_GOOGLE_APIS_CIDR))
    assert "199.36.153.8/30" in PRIVATE_GOOGLE_APIS_SOURCE.says
    for egress in _model_egress(name):
        https = next(rule for rule in egress if rule["ports"] == [{"protocol": "TCP", "port": 443}])
        assert https["to"] == [{"ipBlock": {"cidr": PRIVATE_GOOGLE_APIS_CIDR}}]


def test_gke_in_the_users_network_keeps_public_443_as_a_documented_limit():
    def existing_network(raw):
        raw["llm-infra:gcp"].update({"network": "corp-vpc", "subnetwork": "gke",
                                     "pods_range_name": "pods", "services_range_name": "services"})

    result = with_changed_config("gcp-dev", existing_network)
    assert not [r for r in result.resources if r.type.startswith("gcp:dns/")]
    for p in result.kubernetes_objects("NetworkPolicy"):
        if p.inputs["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name") == "triton":
            assert p.inputs["spec"]["egress"][0]["to"][0]["ipBlock"]["cidr"] == "0.0.0.0/0"


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "10.0.0.0/8", "8.0.0.0/8", "not-a-cidr"])
def test_a_public_egress_range_must_be_a_narrow_public_one(cidr):
    from llm_infra.triton.workload import _cluster

    from llm_infra.testing import run_program

    def program():
        _cluster({"provider": k8s.Provider("p", kubeconfig="x"), "storage_class": "s", "public_egress_cidrs": [cidr]})

    with pytest.raises(ConfigError) as info:
        run_program(program)
    [problem] = info.value.problems
    assert problem.startswith("cluster.public_egress_cidrs[0]: expected"), problem


def test_the_gcp_policy_knows_the_private_google_apis_range():
    from llm_infra.policies.gcp import _PRIVATE_NETS, PRIVATE_GOOGLE_APIS_CIDR as POLICY_CIDR

    assert POLICY_CIDR == PRIVATE_GOOGLE_APIS_CIDR and _PRIVATE_NETS == PRIVATE_RANGES


def test_the_policy_knows_the_private_ranges():
    from llm_infra.policies.kubernetes_content import PRIVATE_RANGES as POLICY_RANGES

    assert POLICY_RANGES == PRIVATE_RANGES


def test_model_egress_open_to_private_addresses_fires():
    rs = resources_of("existing")
    _find(rs, "NetworkPolicy", "llama-3-8b-triton").inputs["spec"]["egress"][0]["to"][0]["ipBlock"]["except"] = [
        "169.254.0.0/16"]
    fired = [v.message for v in evaluate(rs, Context(production=False)) if v.rule == "network-policy-no-open-peers"]
    assert fired == [
        "egress[0]: egress to ipBlock 0.0.0.0/0 reaches private addresses ['10.0.0.0/8', '172.16.0.0/12', "
        "'192.168.0.0/16', '100.64.0.0/10'] (the VPC, other pods and services): add them to ipBlock.except, and "
        "name a private endpoint as its own peer"]


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "8.8.8.0/24", "169.254.0.0/16", "not-a-cidr"])
def test_a_store_endpoint_must_be_a_private_range(cidr):
    from test_workload import run_workload

    with pytest.raises(ConfigError, match=r"cluster\.store_egress_cidrs\[0\]"):
        run_workload(store_egress_cidrs=[cidr])
