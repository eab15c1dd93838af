"""What Azure computes on create, for the offline mock engine (pure Python, no pulumi_azure_native).

`llm_infra.testing` merges these into a mocked resource's outputs (its inputs), so that the
plan and the tests can follow references: the versioned key URI that etcd KMS uses, the
client id a service account is annotated with, the OIDC issuer a federated credential
trusts. Values are derived deterministically from names; nothing here reaches Azure.
It also returns `identity.userAssignedIdentities` the way Azure does (a map keyed by
identity id), where the SDK takes a list as input.
"""

import hashlib
import uuid
from collections.abc import Callable, Mapping
from typing import Any


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "llm-infra-mock:" + "/".join(parts)))


def computed(type_: str, name: str, inputs: Mapping[str, Any], tenant_id: str | None) -> dict[str, Any]:
    """Computed outputs of one azure-native resource (merged over its echoed inputs)."""
    out: dict[str, Any] = {}
    identity = inputs.get("identity")
    if isinstance(identity, Mapping) and isinstance(identity.get("userAssignedIdentities"), list):
        ids = [i for i in identity["userAssignedIdentities"] if isinstance(i, str)]
        out["identity"] = {**identity, "userAssignedIdentities": {
            i: {"principalId": _uuid(i, "principal"), "clientId": _uuid(i, "client")} for i in ids}}
    if type_ == "azure-native:managedidentity:UserAssignedIdentity":
        rn = str(inputs.get("resourceName", name))
        out |= {"principalId": _uuid(rn, "principal"), "clientId": _uuid(rn, "client"),
                "tenantId": tenant_id or _uuid("tenant")}
    elif type_ == "azure-native:keyvault:Key":
        uri = f"https://{inputs.get('vaultName')}.vault.azure.net/keys/{inputs.get('keyName', name)}"
        version = hashlib.md5(f"{uri}/1".encode()).hexdigest()  # noqa: S324 (a name, not a digest of secrets)
        out |= {"keyUri": uri, "keyUriWithVersion": f"{uri}/{version}"}
    elif type_ == "azure-native:containerservice:ManagedCluster":
        prefix = str(inputs.get("dnsPrefix", name))
        location = str(inputs.get("location", "westeurope"))
        suffix = hashlib.sha256(prefix.encode()).hexdigest()
        out |= {
            "fqdn": f"{prefix}-{suffix[:8]}.hcp.{location}.azmk8s.io",
            "privateFQDN": f"{prefix}-{suffix[:8]}.{suffix[8:44]}.privatelink.{location}.azmk8s.io",
            "oidcIssuerProfile": {**(inputs.get("oidcIssuerProfile") or {}),
                                  "issuerURL": f"https://{location}.oic.prod-aks.azure.com/"
                                               f"{tenant_id or _uuid('tenant')}/{_uuid(prefix, 'issuer')}/"},
        }
    return out


def resource_outputs(type_: str, name: str, inputs: Mapping[str, Any], config: Callable[[str], Any]) -> dict[str, Any]:
    """`computed` with the tenant read from the stack's config (`config` reads a stack config key)."""
    azure = config("llm-infra:azure")
    return computed(type_, name, inputs, azure.get("tenant_id") if isinstance(azure, Mapping) else None)


def call_outputs(token: str, args: Mapping[str, Any], config: Callable[[str], Any]) -> dict[str, Any]:
    """Azure provider functions the stack calls: none need an answer offline."""
    return {}
