"""AwsNetwork: the VPC the cluster and its nodes live in, or the user's existing one.

A new VPC is in default tenancy (EKS does not support dedicated-tenancy VPCs; dedicated
isolation is set per node on the launch template). Nodes get private subnets only, in
every zone; public subnets exist only to hold the NAT gateways, and no subnet hands out
public IPs. The VPC's default security group is emptied (CIS AWS 5.4).
"""

import ipaddress
from collections.abc import Mapping, Sequence
from typing import NotRequired, TypedDict

import pulumi
import pulumi_aws as aws


class AwsNetworkArgs(TypedDict):
    cluster_name: str
    """EKS cluster that uses the subnets (for the `kubernetes.io/cluster/<name>` tags)."""
    zones: Sequence[str]
    """Availability zones, at least 2."""
    vpc_cidr: NotRequired[str]
    """CIDR of the new VPC, /16 to /24. Defaults to `10.40.0.0/16`."""
    single_nat_gateway: NotRequired[bool]
    """One NAT gateway for every zone (cheaper, not zone-redundant). Defaults to `False`: one per zone."""
    existing_vpc_id: NotRequired[str]
    """Use this VPC instead of creating one (with `existing_private_subnet_ids`). Defaults to a new VPC."""
    existing_private_subnet_ids: NotRequired[Mapping[str, str]]
    """Zone -> private subnet id of the existing VPC. Defaults to new subnets."""


def subnet_cidrs(vpc_cidr: str, zone_count: int) -> tuple[list[str], list[str]]:
    """Private subnets: a quarter of the VPC per zone (room for VPC CNI pod IPs); public: small slices of the last quarter."""
    net = ipaddress.IPv4Network(vpc_cidr)
    quarters = list(net.subnets(prefixlen_diff=2))
    public = list(quarters[3].subnets(prefixlen_diff=2))
    return [str(q) for q in quarters[:zone_count]], [str(p) for p in public[:zone_count]]


class AwsNetwork(pulumi.ComponentResource):
    """Private subnets in at least two zones behind NAT, or the user's existing VPC."""

    vpc_id: pulumi.Output[str]
    """The VPC."""
    private_subnet_ids: pulumi.Output[list[str]]
    """Private subnets in zone order: the only subnets nodes and the control plane's interfaces use."""
    zones: pulumi.Output[list[str]]
    """Zones of the private subnets, in the same order."""

    def __init__(self, name: str, args: AwsNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        zones = list(args["zones"])
        existing = args.get("existing_private_subnet_ids")
        if existing is None and not 2 <= len(zones) <= 3:
            raise ValueError(f"zones: expected 2 or 3 zones, got {zones!r}")
        super().__init__("llm-infra:index:AwsNetwork", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cluster = args["cluster_name"]
        self.subnets_by_zone: dict[str, pulumi.Output[str]] = {}

        if existing is not None:
            vpc_id = args.get("existing_vpc_id")
            if not vpc_id:
                raise ValueError("existing_vpc_id: expected the VPC of existing_private_subnet_ids, got nothing")
            self.vpc_id = pulumi.Output.from_input(vpc_id)
            self.subnets_by_zone = {z: pulumi.Output.from_input(s) for z, s in existing.items()}
        else:
            vpc_cidr = args.get("vpc_cidr", "10.40.0.0/16")
            private_cidrs, public_cidrs = subnet_cidrs(vpc_cidr, len(zones))
            vpc = aws.ec2.Vpc(
                f"{name}-vpc",
                cidr_block=vpc_cidr,
                instance_tenancy="default",  # EKS rejects dedicated-tenancy VPCs
                enable_dns_support=True,
                enable_dns_hostnames=True,
                tags={"Name": f"{cluster}"},
                opts=child,
            )
            aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=vpc.id, ingress=[], egress=[],
                                         tags={"Name": f"{cluster}-default-unused"}, opts=child)
            igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags={"Name": cluster}, opts=child)
            public_rt = aws.ec2.RouteTable(
                f"{name}-public-rt", vpc_id=vpc.id,
                routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)],
                tags={"Name": f"{cluster}-public"}, opts=child,
            )
            nats: list[aws.ec2.NatGateway] = []
            for i, zone in enumerate(zones):
                public = aws.ec2.Subnet(
                    f"{name}-public-{zone}",
                    vpc_id=vpc.id, availability_zone=zone, cidr_block=public_cidrs[i],
                    map_public_ip_on_launch=False,  # only the NAT gateway's Elastic IP is public
                    tags={"Name": f"{cluster}-public-{zone}", "llm-infra.io/subnet": "public-nat-only"},
                    opts=child,
                )
                aws.ec2.RouteTableAssociation(f"{name}-public-{zone}", subnet_id=public.id,
                                              route_table_id=public_rt.id, opts=child)
                if not args.get("single_nat_gateway", False) or not nats:
                    eip = aws.ec2.Eip(f"{name}-nat-{zone}", domain="vpc", tags={"Name": f"{cluster}-nat-{zone}"},
                                      opts=child.merge(pulumi.ResourceOptions(depends_on=[igw])))
                    nats.append(aws.ec2.NatGateway(f"{name}-nat-{zone}", allocation_id=eip.allocation_id,
                                                   subnet_id=public.id, tags={"Name": f"{cluster}-{zone}"},
                                                   opts=child))
                private = aws.ec2.Subnet(
                    f"{name}-private-{zone}",
                    vpc_id=vpc.id, availability_zone=zone, cidr_block=private_cidrs[i],
                    map_public_ip_on_launch=False,
                    tags={"Name": f"{cluster}-private-{zone}", "kubernetes.io/role/internal-elb": "1",
                          f"kubernetes.io/cluster/{cluster}": "shared"},
                    opts=child,
                )
                private_rt = aws.ec2.RouteTable(
                    f"{name}-private-rt-{zone}", vpc_id=vpc.id,
                    routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nats[-1].id)],
                    tags={"Name": f"{cluster}-private-{zone}"}, opts=child,
                )
                aws.ec2.RouteTableAssociation(f"{name}-private-{zone}", subnet_id=private.id,
                                              route_table_id=private_rt.id, opts=child)
                self.subnets_by_zone[zone] = private.id
            self.vpc_id = vpc.id

        self.private_subnet_ids = pulumi.Output.all(*self.subnets_by_zone.values())
        self.zones = pulumi.Output.from_input(list(self.subnets_by_zone))
        self.register_outputs({"vpc_id": self.vpc_id, "private_subnet_ids": self.private_subnet_ids,
                               "zones": self.zones})

    def subnet_ids(self, zones: Sequence[str] | None = None) -> pulumi.Output[list[str]]:
        """Private subnet ids of `zones` (all zones when None)."""
        wanted = list(zones) if zones else list(self.subnets_by_zone)
        return pulumi.Output.all(*(self.subnets_by_zone[z] for z in wanted))
