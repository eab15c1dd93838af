"""AzureKey: the environment's Key Vault and customer-managed key.

- The vault authorizes with Azure RBAC only (no access policies), keeps soft delete (90
  days) and purge protection, and is closed to the public network by default: the
  network ACL denies everything except trusted Azure services (Disk Encryption Sets and
  Storage reach the key through that bypass), and a private endpoint in the stack's VNet,
  with its `privatelink.vaultcore.azure.net` zone, carries everything else.
- The deployer: `pulumi up` creates the key through Azure Resource Manager (the Key Vault
  resource provider), not the vault's data plane, but Key Vault refuses key creation in a
  private vault that has no private endpoint (AKS docs, "Turn on KMS for a private key
  vault"), so the endpoint is created before the key. An IP allowlist ("allow public
  access from specific networks") is not offered: AKS KMS does not support that vault
  firewall mode (AKS docs, KMS limitations). Nothing in the stack reads the data plane.
- The key is RSA-HSM 3072 in a premium vault (FIPS 140 Level 3 HSM), RSA 3072 in a
  standard one; Key Vault rotates it on a schedule. No expiry is set on any version:
  AKS KMS must be able to decrypt with the previous version until every secret is
  re-encrypted (AKS docs, "Rotate existing keys").
- Vault and key are Pulumi-protected and retained on delete: losing either loses etcd
  secrets, node disks and model weights for good.
"""

from typing import NotRequired, TypedDict

import pulumi
import pulumi_azure_native as azure_native

from .naming import after, resource_id

KEY_SIZE_BITS = 3072
VAULT_DNS_ZONE = "privatelink.vaultcore.azure.net"


class AzureKeyArgs(TypedDict):
    subscription_id: str
    """Subscription of the vault (for its resource id)."""
    resource_group_name: str
    """Resource group of the vault (it must exist first)."""
    location: str
    """Azure region of the vault."""
    tenant_id: str
    """Entra ID tenant that authorizes access to the vault."""
    vault_name: str
    """Globally unique vault name, 3-24 characters."""
    key_name: NotRequired[str]
    """Name of the key. Defaults to `llm-infra`."""
    sku: NotRequired[str]
    """`premium` (HSM-backed RSA-HSM key) or `standard` (software RSA key). Defaults to `premium`."""
    rotation_days: NotRequired[int]
    """Days after which Key Vault creates a new key version. Defaults to 180."""
    private_endpoint_subnet_id: NotRequired[pulumi.Input[str] | None]
    """Subnet of the vault's private endpoint. Defaults to none (then only trusted Azure services reach the vault)."""
    vnet_id: NotRequired[pulumi.Input[str] | None]
    """VNet linked to the vault's private DNS zone (with `private_endpoint_subnet_id`). Defaults to none."""
    public_network_access: NotRequired[bool]
    """Open the vault's public endpoint (still behind its Deny ACL). Defaults to `False`."""
    soft_delete_retention_days: NotRequired[int]
    """Days a deleted vault or key stays recoverable, 7-90. Defaults to 90."""


class AzureKey(pulumi.ComponentResource):
    """An RBAC-only, purge-protected, private Key Vault with a rotating RSA key; both protected and retained."""

    vault_id: pulumi.Output[str]
    """Resource id of the vault."""
    vault_uri: pulumi.Output[str]
    """Data-plane URI of the vault (https://NAME.vault.azure.net/)."""
    key_name: pulumi.Output[str]
    """Name of the key."""
    key_resource_id: pulumi.Output[str]
    """Resource id of the key (the scope of key-level role assignments)."""
    key_uri: pulumi.Output[str]
    """Versionless key URI (Disk Encryption Set and Storage follow rotation through it)."""
    key_uri_with_version: pulumi.Output[str]
    """Key URI with the current version (AKS KMS needs a version)."""

    def __init__(self, name: str, args: AzureKeyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        sku = args.get("sku", "premium")
        if sku not in ("premium", "standard"):
            raise ValueError(f"sku: expected 'premium' or 'standard', got {sku!r}")
        rotation = args.get("rotation_days", 180)
        if not 28 <= rotation <= 730:
            raise ValueError(f"rotation_days: expected 28 to 730, got {rotation!r}")
        retention = args.get("soft_delete_retention_days", 90)
        if not 7 <= retention <= 90:
            raise ValueError(f"soft_delete_retention_days: expected 7 to 90, got {retention!r}")
        if (args.get("private_endpoint_subnet_id") is None) != (args.get("vnet_id") is None):
            raise ValueError("private_endpoint_subnet_id: expected together with vnet_id (the endpoint's DNS zone link)")
        super().__init__("llm-infra:index:AzureKey", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        keep = pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True)
        rg = args["resource_group_name"]
        location = args["location"]
        key_name = args.get("key_name", "llm-infra")
        vault_name = args["vault_name"]

        vault = azure_native.keyvault.Vault(
            f"{name}-vault",
            vault_name=vault_name,
            resource_group_name=rg,
            location=location,
            properties=azure_native.keyvault.VaultPropertiesArgs(
                tenant_id=args["tenant_id"],
                sku=azure_native.keyvault.SkuArgs(family="A", name=sku),
                enable_rbac_authorization=True,
                enable_soft_delete=True,
                soft_delete_retention_in_days=retention,
                enable_purge_protection=True,
                enabled_for_deployment=False,
                enabled_for_disk_encryption=False,
                enabled_for_template_deployment=False,
                public_network_access="Enabled" if args.get("public_network_access", False) else "Disabled",
                network_acls=azure_native.keyvault.NetworkRuleSetArgs(
                    default_action="Deny", bypass="AzureServices", ip_rules=[], virtual_network_rules=[]),
            ),
            tags={"llm-infra.io/purpose": "customer-key"},
            opts=keep,
        )

        before_key: list[pulumi.Resource] = []
        if args.get("private_endpoint_subnet_id") is not None:
            endpoint = azure_native.network.PrivateEndpoint(
                f"{name}-endpoint",
                resource_group_name=rg,
                location=location,
                private_endpoint_name=f"{name}-endpoint",
                subnet=azure_native.network.SubnetArgs(id=args["private_endpoint_subnet_id"]),
                private_link_service_connections=[azure_native.network.PrivateLinkServiceConnectionArgs(
                    name="vault", private_link_service_id=after(vault, resource_id(args["subscription_id"], rg, "Microsoft.KeyVault", "vaults", vault_name)), group_ids=["vault"])],
                opts=child,
            )
            zone = azure_native.privatedns.PrivateZone(
                f"{name}-dns-zone", private_zone_name=VAULT_DNS_ZONE, resource_group_name=rg, location="Global",
                opts=child)
            link = azure_native.privatedns.VirtualNetworkLink(
                f"{name}-dns-link", private_zone_name=after(zone, VAULT_DNS_ZONE), resource_group_name=rg, location="Global",
                virtual_network=azure_native.privatedns.SubResourceArgs(id=args["vnet_id"]),
                registration_enabled=False, opts=child)
            group = azure_native.network.PrivateDnsZoneGroup(
                f"{name}-dns-group", private_endpoint_name=after(endpoint, f"{name}-endpoint"), resource_group_name=rg,
                private_dns_zone_configs=[azure_native.network.PrivateDnsZoneConfigArgs(
                    name="vault", private_dns_zone_id=zone.id)],
                opts=child)
            before_key = [endpoint, link, group]

        key = azure_native.keyvault.Key(
            f"{name}-key",
            key_name=key_name,
            vault_name=after(vault, vault_name),
            resource_group_name=rg,
            properties=azure_native.keyvault.KeyPropertiesArgs(
                kty="RSA-HSM" if sku == "premium" else "RSA",
                key_size=KEY_SIZE_BITS,
                key_ops=["wrapKey", "unwrapKey", "encrypt", "decrypt"],
                attributes=azure_native.keyvault.KeyAttributesArgs(enabled=True, exportable=False),
                rotation_policy=azure_native.keyvault.RotationPolicyArgs(
                    lifetime_actions=[azure_native.keyvault.LifetimeActionArgs(
                        action=azure_native.keyvault.ActionArgs(type="rotate"),
                        trigger=azure_native.keyvault.TriggerArgs(time_after_create=f"P{rotation}D"),
                    )],
                ),
            ),
            tags={"llm-infra.io/purpose": "customer-key"},
            opts=keep.merge(pulumi.ResourceOptions(depends_on=before_key)),
        )

        self.vault = vault
        self.key = key
        vault_id = resource_id(args["subscription_id"], rg, "Microsoft.KeyVault", "vaults", vault_name)
        self.vault_id = after(vault, vault_id)
        self.vault_uri = after(vault, f"https://{vault_name}.vault.azure.net/")
        self.key_name = after(key, key_name)
        self.key_resource_id = after(key, f"{vault_id}/keys/{key_name}")
        self.key_uri = after(key, f"https://{vault_name}.vault.azure.net/keys/{key_name}")
        self.key_uri_with_version = key.key_uri_with_version
        self.register_outputs({
            "vault_id": self.vault_id, "vault_uri": self.vault_uri, "key_name": self.key_name,
            "key_resource_id": self.key_resource_id, "key_uri": self.key_uri,
            "key_uri_with_version": self.key_uri_with_version,
        })
