"""GcpNetwork: the VPC the private cluster lives in, or the user's existing one.

A custom-mode VPC with one regional subnetwork (nodes) and two secondary ranges (pods,
services: a VPC-native cluster), Private Google Access on so that private nodes reach
Google APIs (GCS, Artifact Registry, the GKE metadata server's token exchange) without
public IPs, and a Cloud Router with Cloud NAT for the rest of the egress (e.g. nvcr.io
for the Triton images). Nodes never get public addresses (the cluster has private nodes).
"""

from typing import NotRequired, TypedDict

import pulumi
import pulumi_gcp as gcp

from ..catalog.gcp_facts import PRIVATE_GOOGLE_APIS_ADDRESSES
from .naming import PROXY_ONLY_CIDR

PODS_RANGE = "pods"
SERVICES_RANGE = "services"


class GcpNetworkArgs(TypedDict):
    project: str
    """Project of the network."""
    region: str
    """Region of the subnetwork, router and NAT."""
    name: str
    """Name of the VPC, subnetwork, router and NAT (the cluster name)."""
    subnet_cidr: NotRequired[str]
    """Primary range of the subnetwork (nodes). Defaults to 10.40.0.0/20."""
    pods_cidr: NotRequired[str]
    """Secondary range for pods. Defaults to 10.48.0.0/14."""
    services_cidr: NotRequired[str]
    """Secondary range for services. Defaults to 10.52.0.0/20."""
    proxy_only_subnet: NotRequired[bool]
    """Create the region's proxy-only subnet (`PROXY_ONLY_CIDR`), which GKE's regional internal Application Load
    Balancer (GatewayClass `gke-l7-rilb`, the inference Gateway's) needs. Defaults to false."""
    existing_network: NotRequired[str | None]
    """An existing VPC network; nothing is created. Defaults to none (a new VPC)."""
    existing_subnetwork: NotRequired[str | None]
    """The existing network's subnetwork (Private Google Access must be on). Defaults to none."""
    existing_pods_range_name: NotRequired[str | None]
    """The existing subnetwork's secondary range for pods. Defaults to none."""
    existing_services_range_name: NotRequired[str | None]
    """The existing subnetwork's secondary range for services. Defaults to none."""


class GcpNetwork(pulumi.ComponentResource):
    """A VPC-native network with Private Google Access and Cloud NAT, or the user's existing one."""

    network: pulumi.Output[str]
    """Name of the VPC network."""
    subnetwork: pulumi.Output[str]
    """Name of the subnetwork of the nodes."""
    pods_range_name: pulumi.Output[str]
    """Secondary range of the pods."""
    services_range_name: pulumi.Output[str]
    """Secondary range of the services."""

    def __init__(self, name: str, args: GcpNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        existing = [args.get("existing_network"), args.get("existing_subnetwork"),
                    args.get("existing_pods_range_name"), args.get("existing_services_range_name")]
        if any(existing) and not all(existing):
            raise ValueError("existing_network: expected existing_network, existing_subnetwork, "
                             "existing_pods_range_name and existing_services_range_name together, got only some")
        super().__init__("llm-infra:index:GcpNetwork", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        project, region, base = args["project"], args["region"], args["name"]
        self.created = not all(existing)
        if not self.created:
            network, subnetwork, pods, services = (pulumi.Output.from_input(v) for v in existing if v)
        else:
            vpc = gcp.compute.Network(
                f"{name}-vpc", name=base, project=project, auto_create_subnetworks=False,
                routing_mode="REGIONAL", description=f"llm-infra {base}: private GKE", opts=child)
            subnet = gcp.compute.Subnetwork(
                f"{name}-subnet", name=base, project=project, region=region, network=vpc.id,
                ip_cidr_range=args.get("subnet_cidr", "10.40.0.0/20"),
                secondary_ip_ranges=[
                    gcp.compute.SubnetworkSecondaryIpRangeArgs(range_name=PODS_RANGE,
                                                               ip_cidr_range=args.get("pods_cidr", "10.48.0.0/14")),
                    gcp.compute.SubnetworkSecondaryIpRangeArgs(range_name=SERVICES_RANGE,
                                                               ip_cidr_range=args.get("services_cidr", "10.52.0.0/20")),
                ],
                private_ip_google_access=True,
                log_config=gcp.compute.SubnetworkLogConfigArgs(aggregation_interval="INTERVAL_5_SEC",
                                                               flow_sampling=0.5, metadata="INCLUDE_ALL_METADATA"),
                opts=child,
            )
            if args.get("proxy_only_subnet", False):
                # Envoy-based regional load balancers need one such subnet per region and network, and connect
                # to backends from it (https://docs.cloud.google.com/load-balancing/docs/proxy-only-subnets).
                gcp.compute.Subnetwork(
                    f"{name}-proxy-only", name=f"{base}-proxy-only", project=project, region=region, network=vpc.id,
                    ip_cidr_range=PROXY_ONLY_CIDR, purpose="REGIONAL_MANAGED_PROXY", role="ACTIVE", opts=child)
            router = gcp.compute.Router(f"{name}-router", name=base, project=project, region=region,
                                        network=vpc.id, opts=child)
            gcp.compute.RouterNat(
                f"{name}-nat", name=base, project=project, region=region, router=router.name,
                nat_ip_allocate_option="AUTO_ONLY",
                source_subnetwork_ip_ranges_to_nat="LIST_OF_SUBNETWORKS",
                subnetworks=[gcp.compute.RouterNatSubnetworkArgs(name=subnet.id,
                                                                 source_ip_ranges_to_nats=["ALL_IP_RANGES"])],
                log_config=gcp.compute.RouterNatLogConfigArgs(enable=True, filter="ERRORS_ONLY"),
                opts=child,
            )
            # Every Google API through private.googleapis.com (facts.PRIVATE_GOOGLE_APIS_SOURCE): a private
            # zone on this VPC, so pods reach the weights and token endpoints at one /30, never the internet.
            zone = gcp.dns.ManagedZone(
                f"{name}-googleapis", name=f"{base}-googleapis", project=project, dns_name="googleapis.com.",
                visibility="private", description=f"llm-infra {base}: Google APIs over Private Google Access",
                private_visibility_config=gcp.dns.ManagedZonePrivateVisibilityConfigArgs(
                    networks=[gcp.dns.ManagedZonePrivateVisibilityConfigNetworkArgs(network_url=vpc.id)]),
                opts=child)
            gcp.dns.RecordSet(f"{name}-private-googleapis", project=project, managed_zone=zone.name,
                              name="private.googleapis.com.", type="A", ttl=300,
                              rrdatas=list(PRIVATE_GOOGLE_APIS_ADDRESSES), opts=child)
            gcp.dns.RecordSet(f"{name}-googleapis-cname", project=project, managed_zone=zone.name,
                              name="*.googleapis.com.", type="CNAME", ttl=300,
                              rrdatas=["private.googleapis.com."], opts=child)
            # Names are fixed, so consumers get them once the resources exist.
            network = vpc.id.apply(lambda _: base)
            subnetwork = subnet.id.apply(lambda _: base)
            pods = subnet.id.apply(lambda _: PODS_RANGE)
            services = subnet.id.apply(lambda _: SERVICES_RANGE)
        self.network = network
        self.subnetwork = subnetwork
        self.pods_range_name = pods
        self.services_range_name = services
        self.register_outputs({"network": self.network, "subnetwork": self.subnetwork,
                               "pods_range_name": self.pods_range_name,
                               "services_range_name": self.services_range_name})
