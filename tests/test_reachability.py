"""Issue 14.4: the deployer reaches the private API endpoint on the first `pulumi up`, on every cloud."""

from __future__ import annotations

import ipaddress

import pytest
from _stacks import STACKS, rejected, stack, with_changed_config

from llm_infra.plan import parsed_config, summary

CLOUD_STACKS = [s for s in STACKS if parsed_config(s).cloud != "existing"]
SG_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"


@pytest.mark.parametrize("name", CLOUD_STACKS)
def test_every_cloud_stack_names_the_networks_it_is_deployed_from(name):
    config = parsed_config(name)
    assert config.access.deployer_cidrs, name
    assert stack(name).outputs["deployer_access"]["from"] == config.access.deployer_cidrs


@pytest.mark.parametrize("name", [s for s in CLOUD_STACKS if parsed_config(s).cloud == "aws"])
def test_eks_cluster_security_group_admits_443_from_exactly_the_deployer_networks(name):
    result = stack(name)
    cluster = result.one("aws:eks/cluster:Cluster")
    group = cluster.outputs["vpcConfig"]["clusterSecurityGroupId"]
    rules = result.of_type(SG_RULE)
    assert sorted(r.inputs["cidrIpv4"] for r in rules) == sorted(parsed_config(name).access.deployer_cidrs)
    for r in rules:
        assert (r.inputs["securityGroupId"], r.inputs["ipProtocol"], r.inputs["fromPort"], r.inputs["toPort"]) == \
            (group, "tcp", 443, 443)
        assert cluster.urn in r.dependencies  # the group exists only once EKS made it


def test_without_deployer_networks_no_ingress_is_opened():
    def none(raw):
        raw.pop("llm-infra:access")

    result = with_changed_config("dev", none)
    assert result.of_type(SG_RULE) == []
    assert "reachable from: inside the stack's own network only" in summary("dev", result)


@pytest.mark.parametrize("name", [s for s in CLOUD_STACKS if parsed_config(s).cloud == "gcp"])
def test_gke_exports_the_vpcs_routes_to_the_control_planes_peering(name):
    result = stack(name)
    cluster = result.one("gcp:container/cluster:Cluster")
    routes = result.one("gcp:compute/networkPeeringRoutesConfig:NetworkPeeringRoutesConfig")
    assert routes.inputs["peering"] == cluster.outputs["privateClusterConfig"]["peeringName"]
    assert routes.inputs["exportCustomRoutes"] is True and routes.inputs["importCustomRoutes"] is False
    authorized = [ipaddress.IPv4Network(n["cidrBlock"])
                  for n in cluster.inputs["masterAuthorizedNetworksConfig"]["cidrBlocks"]]
    for cidr in parsed_config(name).access.deployer_cidrs:
        assert any(ipaddress.IPv4Network(cidr).subnet_of(a) for a in authorized), cidr


def test_a_gke_deployer_network_outside_the_authorized_networks_is_refused():
    def outside(raw):
        raw["llm-infra:access"] = {"deployer_cidrs": ["10.99.0.0/24"]}

    problems = rejected("gcp-dev", outside)
    assert any(p.startswith("access.deployer_cidrs[0]: expected inside one of gcp.master_authorized_networks")
               for p in problems), problems


def test_a_public_deployer_network_is_refused():
    def public(raw):
        raw["llm-infra:access"] = {"deployer_cidrs": ["52.95.0.0/16"]}

    problems = rejected("prod", public)
    assert any("deployer_cidrs[0]" in p and "private network" in p for p in problems), problems


@pytest.mark.parametrize("name", [s for s in CLOUD_STACKS if parsed_config(s).cloud == "azure"])
def test_aks_private_api_server_resolves_from_the_deployer_network(name):
    profile = stack(name).one("azure-native:containerservice:ManagedCluster").inputs["apiServerAccessProfile"]
    assert profile["enablePrivateCluster"] is True
    # Published in public DNS with its private address: a routed network needs no private DNS zone link.
    assert profile["enablePrivateClusterPublicFQDN"] is True


@pytest.mark.parametrize("name", STACKS)
def test_the_plan_shows_the_deployers_path(name):
    text = summary(name, stack(name))
    section = text.split("deployer's path to the cluster (docs/access.md):")[1].split("\n\n")[0]
    path = stack(name).outputs["deployer_access"]
    assert f"  endpoint: {path['endpoint']}" in section
    assert f"  reachable from: {', '.join(path['from'])}" in section
    assert "runner:" in section and "PULUMI_RUNNER" in section


@pytest.mark.parametrize("name", CLOUD_STACKS)
def test_each_stack_file_writes_the_path_down(name):
    from llm_infra.plan import find_project

    text = (find_project().stack_config_dir / f"Pulumi.{name}.yaml").read_text()
    assert "# Deployer's path (docs/access.md)" in text


def test_the_workflows_run_cloud_stacks_only_from_the_deployer_network():
    from test_workflows import steps, workflows

    flows = workflows()
    preview = flows["preview.yml"]["jobs"]["preview"]
    first = steps(preview)[0]
    assert first["name"] == "Deployer path" and "vars.PULUMI_RUNNER == ''" in first["if"]
    assert "matrix.cloud != 'existing'" in first["if"] and "exit 1" in first["run"]
    for job_name, job in flows["apply.yml"]["jobs"].items():
        cloud = parsed_config(job_name).cloud
        first = steps(job)[0]
        if cloud == "existing":
            assert first.get("name") != "Deployer path"
            continue
        # Before any checkout or cloud sign-in: a GitHub-hosted runner can never reach the private endpoint.
        assert first["name"] == "Deployer path" and first["if"] == "vars.PULUMI_RUNNER == ''", job_name
        assert "access.deployer_cidrs" in first["run"] and "exit 1" in first["run"]
