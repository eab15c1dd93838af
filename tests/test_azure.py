"""The Azure platform's guarantees (SECURITY.md 23-42) on azure-dev and azure-prod, through the mock-engine harness.

Under the mock engine a resource's outputs are its inputs plus what Azure would compute
(`llm_infra.azure.mock_outputs`: principal and client ids, key URIs, the OIDC issuer), so
these tests follow references from one resource to another the way Azure resolves them.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml

from llm_infra.azure import naming
from llm_infra.azure.mock_outputs import computed
from llm_infra.catalog.azure import DEDICATED_HOST_SKUS, GPU_VM_SIZES, check_vm_size, dedicated_host_problem
from llm_infra.config import ConfigError, parse_stack_config
from llm_infra.plan import find_project, policy_violations
from llm_infra.policies import ADVISORY, MANDATORY, Context, Resource, evaluate
from llm_infra.testing import CapturedResource, ProgramResult, run_program, unwrap_secrets

from _stacks import rejected

from _stacks import stack

AZURE_STACKS = ("azure-dev", "azure-prod")
CLUSTER = "azure-native:containerservice:ManagedCluster"
AGENT_POOL = "azure-native:containerservice:AgentPool"
ROLE = "azure-native:authorization:RoleAssignment"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"


def raw_config(name: str) -> dict[str, Any]:
    data = yaml.safe_load((find_project().stack_config_dir / f"Pulumi.{name}.yaml").read_text())
    return {k.split(":", 1)[1]: v for k, v in data["config"].items()}


def config(name: str):
    return parse_stack_config(raw_config(name))


def only(result: ProgramResult, type_: str, suffix: str = "") -> CapturedResource:
    found = [r for r in result.of_type(type_) if r.name.endswith(suffix)]
    assert len(found) == 1, (type_, suffix, [r.name for r in found])
    return found[0]


def arm_id(name: str, provider: str, *parts: str) -> str:
    c = config(name)
    return naming.resource_id(c.azure.subscription_id, c.azure.resource_group(c.environment), provider, *parts)


def outputs(r: CapturedResource) -> dict[str, Any]:
    """What Azure computes for the resource (as the mock engine hands it to the program)."""
    tenant = r.inputs.get("tenantId")
    return computed(r.type, r.name, r.inputs, tenant)


def identity_of(result: ProgramResult, resource_name: str) -> dict[str, Any]:
    """The computed outputs (principal and client id) of the user-assigned identity with that Azure name."""
    ident = next(r for r in result.of_type(IDENTITY) if r.inputs["resourceName"] == resource_name)
    return outputs(ident)


def assignments_of(result: ProgramResult, principal_id: str) -> list[dict[str, Any]]:
    return [r.inputs for r in result.of_type(ROLE) if r.inputs.get("principalId") == principal_id]


def role_id(role: str) -> str:
    return naming.ROLES[role]


@pytest.fixture(scope="module", params=AZURE_STACKS)
def any_stack(request) -> tuple[str, ProgramResult]:
    return request.param, stack(request.param)


@pytest.fixture(scope="module")
def prod() -> ProgramResult:
    return stack("azure-prod")


@pytest.fixture(scope="module")
def dev() -> ProgramResult:
    return stack("azure-dev")


# --- 23: private API server ---------------------------------------------------------------------

def test_api_server_is_private_and_in_the_vnet(any_stack):
    name, result = any_stack
    profile = only(result, CLUSTER).inputs["apiServerAccessProfile"]
    assert profile["enablePrivateCluster"] is True
    assert "authorizedIPRanges" not in profile
    assert profile["enableVnetIntegration"] is True
    assert profile["subnetId"] == arm_id(name, "Microsoft.Network", "virtualNetworks", f"llm-{config(name).environment}-vnet",
                                         "subnets", "api-server")
    assert profile["disableRunCommand"] is True


# --- 24: etcd KMS with the Key Vault key, user-assigned control plane -------------------------------

def test_etcd_is_encrypted_with_the_key_vault_key(any_stack):
    name, result = any_stack
    cluster = only(result, CLUSTER).inputs
    key = only(result, "azure-native:keyvault:Key")
    vault = only(result, "azure-native:keyvault:Vault")
    kms = cluster["securityProfile"]["azureKeyVaultKms"]
    assert kms["enabled"] is True
    assert kms["keyId"] == outputs(key)["keyUriWithVersion"]
    assert kms["keyId"].startswith(f"https://{vault.inputs['vaultName']}.vault.azure.net/keys/{key.inputs['keyName']}/")
    assert kms["keyVaultNetworkAccess"] == "Private"
    assert kms["keyVaultResourceId"] == arm_id(name, "Microsoft.KeyVault", "vaults", vault.inputs["vaultName"])
    control_plane = f"llm-{config(name).environment}-control-plane"
    assert cluster["identity"] == {"type": "UserAssigned", "userAssignedIdentities": [
        arm_id(name, "Microsoft.ManagedIdentity", "userAssignedIdentities", control_plane)]}


def test_control_plane_may_use_the_key_before_the_cluster_exists(any_stack):
    name, result = any_stack
    principal = identity_of(result, f"llm-{config(name).environment}-control-plane")["principalId"]
    grants = {(a["roleDefinitionId"].rsplit("/", 1)[1], a["scope"]) for a in assignments_of(result, principal)}
    vault_id = only(result, CLUSTER).inputs["securityProfile"]["azureKeyVaultKms"]["keyVaultResourceId"]
    assert (role_id("Key Vault Crypto User"), f"{vault_id}/keys/llm-infra") in grants
    assert (role_id("Key Vault Contributor"), vault_id) in grants  # AKS creates the KMS private link
    cluster = only(result, CLUSTER)
    role_urns = {r.urn for r in result.of_type(ROLE) if r.inputs.get("principalId") == principal}
    assert role_urns and all(r.type == ROLE for r in result.resources if r.urn in role_urns)
    # Never a subscription- or group-wide grant.
    assert all("/providers/" in scope for _, scope in grants), grants
    assert cluster.inputs["securityProfile"]["azureKeyVaultKms"]["keyVaultResourceId"]


def test_control_plane_holds_reader_not_contributor_on_the_disk_encryption_set(any_stack):
    # AKS (BYOK for managed disks): the cluster identity "needs Reader access to the DiskEncryptionSet".
    name, result = any_stack
    principal = identity_of(result, f"llm-{config(name).environment}-control-plane")["principalId"]
    des = arm_id(name, "Microsoft.Compute", "diskEncryptionSets", f"llm-{config(name).environment}-des")
    on_des = [a["roleDefinitionId"].rsplit("/", 1)[1] for a in assignments_of(result, principal)
              if a["scope"].lower() == des.lower()]
    assert on_des == [role_id("Reader")], on_des


def test_control_plane_audit_logs_go_to_a_workspace_with_retention(any_stack):
    name, result = any_stack
    env = config(name).environment
    setting = only(result, "azure-native:monitor:DiagnosticSetting")
    assert setting.inputs["resourceUri"] == arm_id(name, "Microsoft.ContainerService", "managedClusters", f"llm-{env}")
    enabled = {log["category"] for log in setting.inputs["logs"] if log["enabled"]}
    assert {"kube-audit", "kube-audit-admin", "guard", "kube-apiserver"} <= enabled
    workspace = only(result, "azure-native:operationalinsights:Workspace")
    assert setting.inputs["workspaceId"] == arm_id(name, "Microsoft.OperationalInsights", "workspaces",
                                                   workspace.inputs["workspaceName"])
    assert workspace.inputs["retentionInDays"] == config(name).azure.log_retention_days == 365
    assert workspace.inputs["features"]["disableLocalAuth"] is True


def test_a_cluster_whose_audit_logs_go_nowhere_breaks_the_policy(prod):
    from llm_infra.policies import Context, Resource, evaluate

    resources = [Resource(r.type, r.name, r.inputs, r.protect, r.retain_on_delete, r.urn) for r in prod.resources
                 if r.type != "azure-native:monitor:DiagnosticSetting"]
    fired = [v.message for v in evaluate(resources, Context(production=True)) if v.rule == "aks-control-plane-logs"]
    assert fired == ["cluster llm-prod: add a diagnostic setting that sends kube-audit, kube-audit-admin, guard "
                     "to a Log Analytics workspace"]


# --- 25: host encryption and the Disk Encryption Set -------------------------------------------------

def test_every_gpu_pool_has_host_encryption(any_stack):
    _, result = any_stack
    pools = result.of_type(AGENT_POOL)
    assert pools
    assert all(p.inputs["enableEncryptionAtHost"] is True for p in pools)
    assert all(p["enableEncryptionAtHost"] is True for p in only(result, CLUSTER).inputs["agentPoolProfiles"])


def test_node_disks_use_the_disk_encryption_set(any_stack):
    name, result = any_stack
    env = config(name).environment
    des_id = arm_id(name, "Microsoft.Compute", "diskEncryptionSets", f"llm-{env}-des")
    assert only(result, CLUSTER).inputs["diskEncryptionSetID"] == des_id
    des = only(result, "azure-native:compute:DiskEncryptionSet").inputs
    key = only(result, "azure-native:keyvault:Key")
    assert des["activeKey"]["keyUrl"] == outputs(key)["keyUri"]  # versionless: follows rotation
    assert des["rotationToLatestKeyVersionEnabled"] is True
    assert des["encryptionType"] == "EncryptionAtRestWithCustomerKey"
    sc = result.k8s("StorageClass", "llm-encrypted-premium")
    assert sc["provisioner"] == "disk.csi.azure.com"
    assert sc["parameters"]["diskEncryptionSetID"] == des_id
    assert sc["volumeBindingMode"] == "WaitForFirstConsumer" and sc["allowVolumeExpansion"] is True
    claims = [s.inputs["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"]
              for s in result.kubernetes_objects("StatefulSet")]
    assert claims and set(claims) == {"llm-encrypted-premium"}


def test_disk_encryption_set_identity_holds_exactly_the_crypto_role_on_the_key(any_stack):
    name, result = any_stack
    principal = identity_of(result, f"llm-{config(name).environment}-des-identity")["principalId"]
    [grant] = assignments_of(result, principal)
    vault = only(result, "azure-native:keyvault:Vault").inputs["vaultName"]
    assert grant["roleDefinitionId"].endswith(role_id("Key Vault Crypto Service Encryption User"))
    assert grant["scope"] == arm_id(name, "Microsoft.KeyVault", "vaults", vault, "keys", "llm-infra")


# --- 26: identity -------------------------------------------------------------------------------

def test_local_accounts_are_off_and_rbac_is_entra(any_stack):
    name, result = any_stack
    cluster = only(result, CLUSTER).inputs
    assert cluster["disableLocalAccounts"] is True
    assert cluster["enableRBAC"] is True
    assert cluster["aadProfile"] == {"managed": True, "enableAzureRBAC": True,
                                     "adminGroupObjectIDs": config(name).azure.admin_group_object_ids}
    assert cluster["oidcIssuerProfile"]["enabled"] is True
    assert cluster["securityProfile"]["workloadIdentity"]["enabled"] is True


# --- 27: dedicated isolation -----------------------------------------------------------------------

def test_no_nc_or_nd_size_runs_on_a_dedicated_host():
    nvidia_llm_sizes = [s for s, (gpu, _) in GPU_VM_SIZES.items() if gpu != "nvidia-m60"]
    assert nvidia_llm_sizes
    assert all(dedicated_host_problem(s) for s in nvidia_llm_sizes)
    assert all(dedicated_host_problem(s) is None for s in DEDICATED_HOST_SKUS)


def test_prod_gpu_pools_are_on_shared_hosts_only_by_the_named_exception(prod):
    pools = prod.of_type(AGENT_POOL)
    assert {p.inputs["tags"]["llm-infra.io/isolation"] for p in pools} == {"shared-host-accepted"}
    assert all("hostGroupID" not in p.inputs for p in pools)
    advisories = [v for v in policy_violations("azure-prod", prod) if v.enforcement == ADVISORY
                  and v.rule == "aks-shared-host-exception"]
    assert len(advisories) == len(pools)


def test_a_production_pool_on_shared_hosts_without_the_exception_breaks_the_policy(prod):
    pool = copy.deepcopy(only(prod, AGENT_POOL, "pool-a100-agent-pool"))
    pool.inputs["tags"]["llm-infra.io/isolation"] = "shared"
    fired = evaluate([Resource(pool.type, pool.name, pool.inputs)], Context(production=True))
    assert [v.rule for v in fired if v.enforcement == MANDATORY] == ["aks-dedicated-isolation"]


def test_a_dedicated_host_group_takes_only_sizes_that_a_host_sku_runs():
    from llm_infra.azure.gpu_node_pool import AksGpuNodePool

    def program(vm_size: str, gpu: str, gpus: int) -> None:
        AksGpuNodePool("pool", {"resource_group_name": "rg", "cluster_name": "c", "pool": "m60", "gpu": gpu,
                                "gpus_per_node": gpus, "vm_size": vm_size, "node_subnet_id": "subnet",
                                "host_group_id": "/hostGroups/hg"})

    ok = run_program(lambda: program("Standard_NV12s_v3", "nvidia-m60", 1))
    pool = only(ok, AGENT_POOL)
    assert pool.inputs["hostGroupID"] == "/hostGroups/hg"
    assert pool.inputs["tags"]["llm-infra.io/isolation"] == "dedicated-host"
    registered: list[str] = []
    with pytest.raises(ValueError, match="host_group_id: expected a VM size that an Azure Dedicated Host SKU runs"):
        run_program(lambda: program("Standard_ND96isr_H100_v5", "nvidia-h100-80gb", 8), on_register=registered.append)
    assert registered == []


# --- 28, 29, 30 ----------------------------------------------------------------------------------

def test_network_policy_is_on(any_stack):
    _, result = any_stack
    net = only(result, CLUSTER).inputs["networkProfile"]
    assert (net["networkPlugin"], net["networkPluginMode"], net["networkPolicy"]) == ("azure", "overlay", "cilium")


def test_key_vault_has_purge_protection_and_no_public_access(any_stack):
    _, result = any_stack
    props = only(result, "azure-native:keyvault:Vault").inputs["properties"]
    assert props["enablePurgeProtection"] is True and props["enableSoftDelete"] is True
    assert props["enableRbacAuthorization"] is True
    assert props["publicNetworkAccess"] == "Disabled"
    assert props["networkAcls"] == {"defaultAction": "Deny", "bypass": "AzureServices", "ipRules": [],
                                    "virtualNetworkRules": []}
    endpoint = only(result, "azure-native:network:PrivateEndpoint", "key-endpoint").inputs
    assert endpoint["privateLinkServiceConnections"][0]["groupIds"] == ["vault"]


def test_the_key_is_hsm_backed_and_rotates(prod):
    key = only(prod, "azure-native:keyvault:Key").inputs["properties"]
    assert (key["kty"], key["keySize"]) == ("RSA-HSM", 3072)
    [action] = key["rotationPolicy"]["lifetimeActions"]
    assert action == {"action": {"type": "rotate"}, "trigger": {"timeAfterCreate": "P180D"}}
    assert "expires" not in key["attributes"]  # KMS must keep decrypting with the previous version


def test_key_and_vault_are_protected_and_retained(any_stack):
    _, result = any_stack
    for type_ in ("azure-native:keyvault:Vault", "azure-native:keyvault:Key"):
        r = only(result, type_)
        assert r.protect and r.retain_on_delete, type_


def test_model_storage_is_private_and_encrypted_with_the_key(any_stack):
    _, result = any_stack
    account = only(result, "azure-native:storage:StorageAccount").inputs
    vault = only(result, "azure-native:keyvault:Vault").inputs["vaultName"]
    assert account["encryption"]["keySource"] == "Microsoft.Keyvault"
    assert account["encryption"]["keyVaultProperties"] == {"keyName": "llm-infra",
                                                           "keyVaultUri": f"https://{vault}.vault.azure.net/"}
    assert account["encryption"]["requireInfrastructureEncryption"] is True
    assert account["allowBlobPublicAccess"] is False and account["enableHttpsTrafficOnly"] is True
    assert account["minimumTlsVersion"] == "TLS1_2" and account["allowSharedKeyAccess"] is False
    assert account["publicNetworkAccess"] == "Disabled"
    assert account["networkRuleSet"]["defaultAction"] == "Deny"
    assert all(c.inputs["publicAccess"] == "None" for c in result.of_type("azure-native:storage:BlobContainer"))


def test_model_identity_reads_only_its_container(any_stack):
    name, result = any_stack
    c = config(name)
    issuer = computed(CLUSTER, "", only(result, CLUSTER).inputs, c.azure.tenant_id)["oidcIssuerProfile"]["issuerURL"]
    for m in c.models:
        account, container = m.weights_uri.split("//", 1)[1].split(".", 1)[0], m.weights_uri.split("/")[3]
        ident = identity_of(result, f"llm-{c.environment}-model-{m.name}")
        [grant] = assignments_of(result, ident["principalId"])
        assert grant["roleDefinitionId"].endswith(role_id("Storage Blob Data Reader"))
        assert grant["scope"] == arm_id(name, "Microsoft.Storage", "storageAccounts", account, "blobServices",
                                        "default", "containers", container)
        [fed] = [r.inputs for r in result.of_type("azure-native:managedidentity:FederatedIdentityCredential")
                 if r.inputs["resourceName"] == f"llm-{c.environment}-model-{m.name}"]
        assert fed["issuer"] == issuer
        assert fed["subject"] == f"system:serviceaccount:{m.namespace}:triton-{m.name}"
        assert fed["audiences"] == ["api://AzureADTokenExchange"]


def test_every_triton_pod_lands_on_its_pool_with_its_identity(any_stack):
    name, result = any_stack
    c = config(name)
    pools = {p.inputs["nodeLabels"]["llm-infra.io/gpu-pool"]: p.inputs for p in result.of_type(AGENT_POOL)}
    for m in c.models:
        sts = result.k8s("StatefulSet", m.name, m.namespace)
        pod = sts["spec"]["template"]
        pool = pools[pod["spec"]["nodeSelector"]["llm-infra.io/gpu-pool"]]
        assert pod["spec"]["nodeSelector"]["llm-infra.io/gpu-pool"] == m.gpu_pool
        # The pod tolerates every taint of its pool, including the one AKS adds to spot nodes.
        taints = list(pool["nodeTaints"])
        if pool.get("scaleSetPriority") == "Spot":
            taints.append("kubernetes.azure.com/scalesetpriority=spot:NoSchedule")
        for taint in taints:
            key, effect = taint.split("=")[0], taint.rsplit(":", 1)[1]
            assert any(t["key"] == key and t["effect"] == effect for t in pod["spec"]["tolerations"]), taint
        assert pod["metadata"]["labels"]["azure.workload.identity/use"] == "true"
        sa = result.k8s("ServiceAccount", pod["spec"]["serviceAccountName"], m.namespace)
        ident = identity_of(result, f"llm-{c.environment}-model-{m.name}")
        assert sa["metadata"]["annotations"]["azure.workload.identity/client-id"] == ident["clientId"]
        assert sa["metadata"]["annotations"]["azure.workload.identity/tenant-id"] == c.azure.tenant_id
        sync = next(x for x in pod["spec"]["initContainers"] if x["name"] == "cache-sync")
        env = {e["name"]: e.get("value") for e in sync["env"]}
        assert env["AZURE_STORAGE_ACCOUNT"] == m.weights_uri.split("//", 1)[1].split(".", 1)[0]


def test_gpu_pools_are_tainted_labelled_and_scale_from_their_minimum(any_stack):
    name, result = any_stack
    for p in config(name).gpu_pools:
        pool = only(result, AGENT_POOL, f"pool-{p.name}-agent-pool").inputs
        assert pool["mode"] == "User" and pool["nodeTaints"] == ["nvidia.com/gpu=true:NoSchedule"]
        assert pool["nodeLabels"]["llm-infra.io/gpu-pool"] == p.name
        assert (pool["enableAutoScaling"], pool["minCount"], pool["maxCount"]) == (True, p.min_nodes, p.max_nodes)
        assert pool["vmSize"] == p.instance_type and pool["enableNodePublicIP"] is False


def test_dev_scales_to_zero_and_prod_spans_zones(dev, prod):
    assert {p.inputs["minCount"] for p in dev.of_type(AGENT_POOL)} == {0}
    for p in prod.of_type(AGENT_POOL):
        assert p.inputs["minCount"] >= 2 and len(p.inputs["availabilityZones"]) >= 2
    system = only(prod, CLUSTER).inputs["agentPoolProfiles"][0]
    assert system["mode"] == "System" and system["vmSize"] not in GPU_VM_SIZES
    assert system["availabilityZones"] == ["1", "2", "3"]


def test_the_device_plugin_is_ours_and_the_upgrade_channel_is_set(any_stack):
    _, result = any_stack
    assert result.outputs["device_plugin_deployed"] is True
    assert [d for d in result.kubernetes_objects("DaemonSet") if "device-plugin" in d.k8s_name]
    upgrade = only(result, CLUSTER).inputs["autoUpgradeProfile"]
    assert upgrade == {"upgradeChannel": "patch", "nodeOSUpgradeChannel": "NodeImage"}


# --- 41: secrets, explicit provider ------------------------------------------------------------------

def test_kubeconfig_output_is_secret(any_stack):
    _, result = any_stack
    assert "kubeconfig" in result.secret_outputs
    provider = only(result, "pulumi:providers:kubernetes")
    assert "kubeconfig" in provider.secret_paths
    kubeconfig = json.loads(unwrap_secrets(provider.inputs["kubeconfig"]))
    user = kubeconfig["users"][0]["user"]
    assert user["exec"]["command"] == "kubelogin" and "token" not in user
    server = kubeconfig["clusters"][0]["cluster"]["server"]
    assert server == f"https://{outputs(only(result, CLUSTER))['privateFQDN']}:443"


def test_every_kubernetes_object_uses_the_clusters_explicit_provider(any_stack):
    _, result = any_stack
    provider = only(result, "pulumi:providers:kubernetes")
    objects = result.kubernetes_objects()
    assert objects and all(o.provider and o.provider.startswith(provider.urn) for o in objects)


def test_every_azure_resource_uses_the_pinned_provider(any_stack):
    name, result = any_stack
    provider = only(result, "pulumi:providers:azure-native")
    assert provider.inputs["subscriptionId"] == config(name).azure.subscription_id
    azure = [r for r in result.resources if r.type.startswith("azure-native:")]
    assert azure and all(r.provider and r.provider.startswith(provider.urn) for r in azure)


# --- 42: bad config fails naming the field, before any resource ------------------------------------------

def _set(path: str, value: Any):
    """Change a stack config (full `llm-infra:` keys) at a dotted path of the plain keys."""
    def change(raw: dict[str, Any]) -> None:
        *parents, last = f"llm-infra:{path}".split(".")
        node: Any = raw
        for p in parents:
            node = node[int(p)] if p.isdigit() else node[p]
        node[int(last) if last.isdigit() else last] = value
    return change


@pytest.mark.parametrize(("stack_name", "path", "value", "field", "expected"), [
    ("azure-prod", "azure.authorized_ip_ranges", ["203.0.113.0/24", "0.0.0.0/0"], "azure.authorized_ip_ranges[1]",
     "explicit allowlist"),
    ("azure-prod", "azure.shared_host_gpu_pools", ["a100"], "gpu_pools[1].instance_type",
     "Azure Dedicated Host SKU runs"),
    ("azure-dev", "models.0.weights_uri", "s3://llm-dev-models/llama", "models[0].weights_uri",
     "https://ACCOUNT.blob.core.windows.net/ URI for cloud 'azure'"),
    ("azure-dev", "gpu_pools.0.instance_type", "Standard_NC24ads_A100_v4x", "gpu_pools[0].instance_type",
     "Azure GPU VM sizes"),
    ("azure-prod", "gpu_pools.1.instance_type", "Standard_NC24ads_A100_v4", "gpu_pools[1].instance_type",
     "8 x nvidia-h100-80gb"),
    ("azure-dev", "models.1.weights_uri", "https://llmdevmodels.blob.core.windows.net/llama-3-8b/toy",
     "models[1].weights_uri", "container of the model's own"),
    ("azure-dev", "models.1.weights_uri", "https://othermodels.blob.core.windows.net/toy-llm/v1",
     "models[1].weights_uri", "the stack's storage account 'llmdevmodels'"),
    ("azure-dev", "azure.admin_group_object_ids", [], "azure.admin_group_object_ids", "at least 1"),
    ("azure-dev", "azure.existing_node_subnet_id",
     "/subscriptions/3f2b8c1e-6a4d-4e7b-9c2a-1d5e8f0a7b36/resourceGroups/net/providers/Microsoft.Network/"
     "virtualNetworks/hub/subnets/nodes", "azure.existing_api_server_subnet_id", "together"),
    ("azure-prod", "gpu_pools.0.zones", ["1"], "gpu_pools[0].zones", "at least 2 zones"),
])
def test_bad_azure_config_is_rejected_naming_the_field_with_nothing_registered(stack_name, path, value, field, expected):
    problems = rejected(stack_name, _set(path, value))
    assert any(p.startswith(f"{field}: ") and expected in p for p in problems), problems


def test_azure_section_is_required_and_only_for_azure():
    problems = rejected("azure-dev", lambda raw: raw.pop("llm-infra:azure"))
    assert any(p.startswith("azure: expected subscription_id") for p in problems)
    raw = raw_config("azure-dev") | {"cloud": "existing", "existing": {"storage_class": "x"}}
    with pytest.raises(ConfigError) as info:
        parse_stack_config(raw)
    assert any(p.startswith("azure: expected only with cloud 'azure'") for p in info.value.problems)


def test_gpu_and_vm_size_must_agree():
    assert check_vm_size("nvidia-l4", 1, None) is not None and check_vm_size("nvidia-l4", 1, None)[0] == "gpu"
    assert check_vm_size("nvidia-h100-80gb", 1, None)[0] == "gpus_per_node"
    assert check_vm_size("nvidia-h100-80gb", 8, None) is None
    assert check_vm_size("nvidia-a100-80gb", 1, "Standard_NC24ads_A100_v4") is None


def test_names_fit_azure_limits():
    vault = naming.key_vault_name("a-very-long-environment-name", "3f2b8c1e-6a4d-4e7b-9c2a-1d5e8f0a7b36")
    assert 3 <= len(vault) <= 24
    assert naming.agent_pool_name("h100") == "h100"
    long = naming.agent_pool_name("a-very-long-pool-name")
    assert long.isalnum() and long.islower() and len(long) <= 12
