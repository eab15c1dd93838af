"""AzureNetwork: the VNet and subnets of a private AKS cluster, or the user's existing ones.

Azure CNI overlay gives pods addresses outside the VNet, so there is no pod subnet: the
VNet holds a node subnet (its first half), a /28 delegated to AKS for API server VNet
integration (required for KMS with a private Key Vault: AKS docs, KMS limitations) and a
/27 for private endpoints (the Key Vault's). Nodes get no public IPs; egress goes through
the cluster's Standard load balancer.
"""

import ipaddress
from typing import NotRequired, TypedDict

import pulumi
import pulumi_azure_native as azure_native

from .naming import after, resource_id

API_SERVER_DELEGATION = "Microsoft.ContainerService/managedClusters"


def plan_subnets(vnet_cidr: str) -> dict[str, str]:
    """Node, API server and endpoint subnets carved from the VNet's address space."""
    net = ipaddress.IPv4Network(vnet_cidr, strict=True)
    nodes, rest = net.subnets(prefixlen_diff=1)
    api_server = next(rest.subnets(new_prefix=28))
    endpoints = list(rest.subnets(new_prefix=27))[1]
    return {"nodes": str(nodes), "api-server": str(api_server), "endpoints": str(endpoints)}


class AzureNetworkArgs(TypedDict):
    subscription_id: str
    """Subscription of the VNet (for subnet ids)."""
    resource_group_name: str
    """Resource group of a new VNet."""
    location: str
    """Azure region."""
    vnet_name: str
    """Name of a new VNet."""
    vnet_cidr: NotRequired[str]
    """Address space of a new VNet, /16 to /22. Defaults to 10.50.0.0/16."""
    existing_node_subnet_id: NotRequired[str | None]
    """The user's node subnet (with the two below). Defaults to a new VNet."""
    existing_api_server_subnet_id: NotRequired[str | None]
    """The user's API server subnet, delegated to Microsoft.ContainerService/managedClusters. Defaults to a new VNet."""
    existing_endpoint_subnet_id: NotRequired[str | None]
    """The user's subnet for private endpoints. Defaults to a new VNet."""


class AzureNetwork(pulumi.ComponentResource):
    """A VNet with node, API server and private-endpoint subnets (or the user's)."""

    vnet_id: pulumi.Output[str]
    """Resource id of the VNet."""
    node_subnet_id: pulumi.Output[str]
    """Subnet of the nodes."""
    api_server_subnet_id: pulumi.Output[str]
    """Subnet of the API server (VNet integration)."""
    endpoint_subnet_id: pulumi.Output[str]
    """Subnet of private endpoints."""

    def __init__(self, name: str, args: AzureNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        existing = [args.get("existing_node_subnet_id"), args.get("existing_api_server_subnet_id"),
                    args.get("existing_endpoint_subnet_id")]
        if any(existing) and not all(existing):
            raise ValueError("existing_node_subnet_id: expected the node, API server and endpoint subnets together")
        super().__init__("llm-infra:index:AzureNetwork", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if all(existing):
            node, api, endpoints = (pulumi.Output.from_input(s) for s in existing if s)
            self.vnet_id = node.apply(lambda s: s.split("/subnets/")[0])
        else:
            sub, rg, vnet_name = args["subscription_id"], args["resource_group_name"], args["vnet_name"]
            cidrs = plan_subnets(args.get("vnet_cidr", "10.50.0.0/16"))
            vnet = azure_native.network.VirtualNetwork(
                f"{name}-vnet",
                virtual_network_name=vnet_name,
                resource_group_name=rg,
                location=args["location"],
                address_space=azure_native.network.AddressSpaceArgs(address_prefixes=[args.get("vnet_cidr", "10.50.0.0/16")]),
                # Subnets are their own resources below; keep the VNet from fighting over them.
                opts=child.merge(pulumi.ResourceOptions(ignore_changes=["subnets"])),
            )
            vnet_id = resource_id(sub, rg, "Microsoft.Network", "virtualNetworks", vnet_name)
            subnets: dict[str, azure_native.network.Subnet] = {}
            previous: list[pulumi.Resource] = []
            for purpose, cidr in cidrs.items():
                delegations = ([azure_native.network.DelegationArgs(name="aks-api-server", service_name=API_SERVER_DELEGATION)]
                               if purpose == "api-server" else None)
                # Azure serialises changes to one VNet's subnets: create them one after another.
                subnets[purpose] = azure_native.network.Subnet(
                    f"{name}-{purpose}",
                    subnet_name=purpose,
                    virtual_network_name=after(vnet, vnet_name),
                    resource_group_name=rg,
                    address_prefix=cidr,
                    delegations=delegations,
                    default_outbound_access=False,
                    private_endpoint_network_policies="Enabled" if purpose == "endpoints" else None,
                    opts=child.merge(pulumi.ResourceOptions(depends_on=previous)),
                )
                previous = [subnets[purpose]]
            node, api, endpoints = (after(subnets[p], f"{vnet_id}/subnets/{p}") for p in ("nodes", "api-server", "endpoints"))
            self.vnet = vnet
            self.vnet_id = after(vnet, vnet_id)
        self.node_subnet_id = node
        self.api_server_subnet_id = api
        self.endpoint_subnet_id = endpoints
        self.register_outputs({"vnet_id": self.vnet_id, "node_subnet_id": self.node_subnet_id,
                               "api_server_subnet_id": self.api_server_subnet_id,
                               "endpoint_subnet_id": self.endpoint_subnet_id})
