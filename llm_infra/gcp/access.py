"""The deployer's path to a private GKE endpoint from a connected network.

GKE admits to the private endpoint only `master_authorized_networks` (the config requires
every deployer network to be inside one). The control plane lives in a Google-owned VPC
peered with the cluster's; peering does not carry the routes your VPC learned from Cloud
VPN or Interconnect unless they are exported: "To access the controller from on-premises
or from another VPC network connected by Cloud VPN or Cloud Interconnect, enable route
export from your VPC network to the Google-owned VPC network" (Google Cloud, Creating GKE
private clusters with network proxies for controller access,
https://cloud.google.com/architecture/creating-kubernetes-engine-private-clusters-with-net-proxies,
read 2026-12-01). A network connected by another VPC peering cannot reach it at all
(peering is not transitive): its runner needs to sit in the cluster's VPC or behind VPN.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp


def export_routes_to_control_plane(name: str, cluster: gcp.container.Cluster, project: str,
                                   network: pulumi.Input[str], opts: pulumi.ResourceOptions
                                   ) -> gcp.compute.NetworkPeeringRoutesConfig:
    """Export the VPC's custom (VPN, Interconnect) routes over the control plane's peering."""
    return gcp.compute.NetworkPeeringRoutesConfig(
        f"{name}-control-plane-routes",
        project=project,
        network=network,
        peering=cluster.private_cluster_config.apply(lambda c: c.peering_name if c else None),
        export_custom_routes=True,
        import_custom_routes=False,
        opts=opts,
    )
