"""AzureModelStore: the storage account that holds model weights, and one read-only identity per model.

The account is named by the stack's `models[].weights_uri`
(`https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX`): every model of an Azure stack
lives in the same account, each in a container of its own, because a container is the
narrowest scope a plain role assignment can have. The account:
encrypted with the customer key (through its own user-assigned identity holding only
`Key Vault Crypto Service Encryption User` on the key, following key rotation) with
infrastructure double encryption; no public blob access; HTTPS only; TLS 1.2 minimum;
shared-key (and so SAS) access off, Entra ID only; public network access off with a
default-deny network ACL; a private endpoint for blob in the stack's VNet. Uploading
weights happens from inside the VNet (or through the private endpoint).

`bind` gives a model's service account its own user-assigned identity with
`Storage Blob Data Reader` on that model's container only, and a federated credential that
trusts exactly `system:serviceaccount:<namespace>:<service account>` from the cluster's
OIDC issuer for the `api://AzureADTokenExchange` audience.
"""

from collections.abc import Mapping
from typing import NotRequired, TypedDict

import pulumi
import pulumi_azure_native as azure_native

from ..config import parse_weights_uri
from ..contract import ModelIdentityRequest, WorkloadIdentity
from .naming import (
    CLIENT_ID_ANNOTATION,
    TOKEN_EXCHANGE_AUDIENCE,
    USE_LABEL,
    after,
    assignment_name,
    resource_id,
    role_definition_id,
    short,
)

BLOB_DNS_ZONE = "privatelink.blob.core.windows.net"
KEY_ROLE = "Key Vault Crypto Service Encryption User"
READ_ROLE = "Storage Blob Data Reader"
TENANT_ANNOTATION = "azure.workload.identity/tenant-id"


class AzureModelStoreArgs(TypedDict):
    subscription_id: str
    """Subscription of the account."""
    tenant_id: str
    """Entra ID tenant of the model identities."""
    resource_group_name: str
    """Resource group of the account and the model identities."""
    location: str
    """Azure region."""
    account_name: str
    """Storage account name (3-24 lowercase letters and digits, globally unique), from the models' weights URIs."""
    containers: Mapping[str, str]
    """Per model name, its container."""
    vault_uri: pulumi.Input[str]
    """URI of the Key Vault with the customer key."""
    key_name: pulumi.Input[str]
    """Name of the customer key (versionless: the account follows rotation)."""
    key_resource_id: pulumi.Input[str]
    """Resource id of the key (scope of the account identity's role)."""
    oidc_issuer: pulumi.Input[str]
    """OIDC issuer URL of the cluster whose service accounts may be bound."""
    cluster_name: str
    """Cluster name (names the model identities)."""
    endpoint_subnet_id: NotRequired[pulumi.Input[str] | None]
    """Subnet of the blob private endpoint (with `vnet_id`). Defaults to none: no network path at all."""
    vnet_id: NotRequired[pulumi.Input[str] | None]
    """VNet linked to the blob private DNS zone. Defaults to none."""
    sku: NotRequired[str]
    """Storage redundancy. Defaults to `Standard_ZRS`."""
    azure_provider: NotRequired[azure_native.Provider | None]
    """azure-native provider for the model identities, which live under the model workloads. Defaults to the inherited one."""
    retain_data: NotRequired[bool]
    """Leave the storage account, its containers and the identity that lets it use the customer key in the
    subscription on `pulumi destroy`. Defaults to `True`."""


class AzureModelStore(pulumi.ComponentResource):
    """A customer-key-encrypted, private, Entra-only storage account for weights, and per-model reader identities."""

    account_name: pulumi.Output[str]
    """Name of the storage account."""
    account_id: pulumi.Output[str]
    """Resource id of the storage account."""

    def __init__(self, name: str, args: AzureModelStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if (args.get("endpoint_subnet_id") is None) != (args.get("vnet_id") is None):
            raise ValueError("endpoint_subnet_id: expected together with vnet_id (the endpoint's DNS zone link)")
        super().__init__("llm-infra:index:AzureModelStore", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # The data, and what it needs to stay readable with the retained key, outlive the stack unless told otherwise.
        keep = child.merge(pulumi.ResourceOptions(retain_on_delete=args.get("retain_data", True)))
        sub, rg, location = args["subscription_id"], args["resource_group_name"], args["location"]
        account_name = args["account_name"]
        account_id = resource_id(sub, rg, "Microsoft.Storage", "storageAccounts", account_name)

        identity_name = f"{account_name}-cmk"
        identity = azure_native.managedidentity.UserAssignedIdentity(
            f"{name}-cmk-identity", resource_name_=identity_name, resource_group_name=rg, location=location, opts=keep)
        identity_id = after(identity, resource_id(sub, rg, "Microsoft.ManagedIdentity", "userAssignedIdentities",
                                                  identity_name))
        key_grant = azure_native.authorization.RoleAssignment(
            f"{name}-cmk-key-access",
            role_assignment_name=assignment_name(account_name, "cmk", KEY_ROLE),
            principal_id=identity.principal_id,
            principal_type="ServicePrincipal",
            role_definition_id=role_definition_id(sub, KEY_ROLE),
            scope=args["key_resource_id"],
            description=f"llm-infra: storage account {account_name} encrypts with the customer key",
            opts=keep,
        )
        account = azure_native.storage.StorageAccount(
            f"{name}-account",
            account_name=account_name,
            resource_group_name=rg,
            location=location,
            kind="StorageV2",
            sku=azure_native.storage.SkuArgs(name=args.get("sku", "Standard_ZRS")),
            access_tier="Hot",
            identity=azure_native.storage.IdentityArgs(type="UserAssigned", user_assigned_identities=[identity_id]),
            encryption=azure_native.storage.EncryptionArgs(
                key_source="Microsoft.Keyvault",
                key_vault_properties=azure_native.storage.KeyVaultPropertiesArgs(
                    key_name=args["key_name"], key_vault_uri=args["vault_uri"]),
                encryption_identity=azure_native.storage.EncryptionIdentityArgs(
                    encryption_user_assigned_identity=identity_id),
                require_infrastructure_encryption=True,
                services=azure_native.storage.EncryptionServicesArgs(
                    blob=azure_native.storage.EncryptionServiceArgs(enabled=True, key_type="Account"),
                    file=azure_native.storage.EncryptionServiceArgs(enabled=True, key_type="Account"),
                ),
            ),
            allow_blob_public_access=False,
            enable_https_traffic_only=True,
            minimum_tls_version="TLS1_2",
            allow_shared_key_access=False,
            default_to_o_auth_authentication=True,
            allow_cross_tenant_replication=False,
            allowed_copy_scope="PrivateLink",
            is_local_user_enabled=False,
            is_sftp_enabled=False,
            public_network_access="Disabled",
            network_rule_set=azure_native.storage.NetworkRuleSetArgs(
                default_action="Deny", bypass="None", ip_rules=[], virtual_network_rules=[]),
            tags={"llm-infra.io/cluster": args["cluster_name"], "llm-infra.io/purpose": "model-weights"},
            opts=keep.merge(pulumi.ResourceOptions(depends_on=[key_grant])),
        )

        self._containers: dict[str, str] = {}
        for model, container in sorted(args["containers"].items()):
            azure_native.storage.BlobContainer(
                f"{name}-{model}-container",
                container_name=container,
                account_name=after(account, account_name),
                resource_group_name=rg,
                public_access="None",
                metadata={"llm-infra-model": model},
                opts=keep,
            )
            self._containers[model] = container

        if args.get("endpoint_subnet_id") is not None:
            endpoint = azure_native.network.PrivateEndpoint(
                f"{name}-endpoint",
                private_endpoint_name=f"{name}-endpoint",
                resource_group_name=rg,
                location=location,
                subnet=azure_native.network.SubnetArgs(id=args["endpoint_subnet_id"]),
                private_link_service_connections=[azure_native.network.PrivateLinkServiceConnectionArgs(
                    name="blob", private_link_service_id=after(account, account_id), group_ids=["blob"])],
                opts=child,
            )
            zone = azure_native.privatedns.PrivateZone(
                f"{name}-dns-zone", private_zone_name=BLOB_DNS_ZONE, resource_group_name=rg, location="Global",
                opts=child)
            azure_native.privatedns.VirtualNetworkLink(
                f"{name}-dns-link", private_zone_name=after(zone, BLOB_DNS_ZONE), resource_group_name=rg,
                location="Global", virtual_network=azure_native.privatedns.SubResourceArgs(id=args["vnet_id"]),
                registration_enabled=False, opts=child)
            azure_native.network.PrivateDnsZoneGroup(
                f"{name}-dns-group", private_endpoint_name=after(endpoint, f"{name}-endpoint"), resource_group_name=rg,
                private_dns_zone_configs=[azure_native.network.PrivateDnsZoneConfigArgs(
                    name="blob", private_dns_zone_id=after(zone, resource_id(sub, rg, "Microsoft.Network",
                                                                              "privateDnsZones", BLOB_DNS_ZONE)))],
                opts=child)

        self._name = name
        self._provider = args.get("azure_provider")
        self._sub, self._rg, self._location = sub, rg, location
        self._tenant = args["tenant_id"]
        self._account = account_name
        self._account_id = account_id
        self._issuer = args["oidc_issuer"]
        self._cluster = args["cluster_name"]
        self.identities: dict[str, azure_native.managedidentity.UserAssignedIdentity] = {}
        self.account = account
        self.account_name = after(account, account_name)
        self.account_id = after(account, account_id)
        self.register_outputs({"account_name": self.account_name, "account_id": self.account_id})

    def container_id(self, container: str) -> str:
        return f"{self._account_id}/blobServices/default/containers/{container}"

    def bind(self, request: ModelIdentityRequest, opts: pulumi.ResourceOptions) -> WorkloadIdentity:
        """One identity for the model's service account: read its container, nothing else."""
        container = self._containers.get(request.model)
        if container is None:
            raise ValueError(f"model {request.model!r}: expected one of the store's models {sorted(self._containers)}")
        scheme, bucket, prefix = parse_weights_uri(request.weights_uri)
        if scheme != "azureblob" or bucket != f"{self._account}/{container}":
            raise ValueError(f"weights_uri of model {request.model!r}: expected "
                             f"https://{self._account}.blob.core.windows.net/{container}/..., got {request.weights_uri!r}")
        child = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(provider=self._provider))
        identity_name = short(f"{self._cluster}-model-{request.model}", 128)
        identity = azure_native.managedidentity.UserAssignedIdentity(
            f"{self._name}-{request.model}-identity", resource_name_=identity_name, resource_group_name=self._rg,
            location=self._location,
            tags={"llm-infra.io/cluster": self._cluster, "llm-infra.io/model": request.model}, opts=child)
        azure_native.authorization.RoleAssignment(
            f"{self._name}-{request.model}-read",
            role_assignment_name=assignment_name(self._account, container, request.model, READ_ROLE),
            principal_id=identity.principal_id,
            principal_type="ServicePrincipal",
            role_definition_id=role_definition_id(self._sub, READ_ROLE),
            scope=self.container_id(container),
            description=f"llm-infra model {request.model}: read container {container} only",
            opts=child,
        )
        azure_native.managedidentity.FederatedIdentityCredential(
            f"{self._name}-{request.model}-federation",
            federated_identity_credential_resource_name=f"{request.namespace}-{request.service_account}",
            resource_name_=after(identity, identity_name),
            resource_group_name=self._rg,
            issuer=self._issuer,
            subject=f"system:serviceaccount:{request.namespace}:{request.service_account}",
            audiences=[TOKEN_EXCHANGE_AUDIENCE],
            opts=child,
        )
        self.identities[request.model] = identity
        return WorkloadIdentity(
            service_account_annotations={CLIENT_ID_ANNOTATION: identity.client_id, TENANT_ANNOTATION: self._tenant},
            pod_labels={USE_LABEL: "true"},
            description=f"{request.namespace}/{request.service_account} -> managed identity {identity_name} "
                        f"(Storage Blob Data Reader on {self._account}/{container}{'/' + prefix if prefix else ''})",
        )
