"""Every stack passes every mandatory rule, and every rule fires on a resource that breaks it."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable

import pytest

from llm_infra.plan import policy_violations
from llm_infra.policies import MANDATORY, Context, Resource, all_rules, evaluate
from llm_infra.policies.pulumi_options import credential_outputs_are_secret

from _stacks import STACKS, stack, with_changed_config


def resources_of(name: str) -> list[Resource]:
    return [Resource(r.type, r.name, copy.deepcopy(r.inputs), r.protect, r.retain_on_delete, r.urn)
            for r in stack(name).resources]


def kserve_resources_of(name: str) -> list[Resource]:
    """Stack `name` with `openai_api: false` on every model: clients get the plain tritonserver."""
    def kserve(config):
        for m in config["llm-infra:models"]:
            m["openai_api"] = False
    return [Resource(r.type, r.name, copy.deepcopy(r.inputs), r.protect, r.retain_on_delete, r.urn)
            for r in with_changed_config(name, kserve).resources]


@pytest.mark.parametrize("name", STACKS)
def test_every_stack_passes_every_mandatory_rule(name):
    violations = [v for v in policy_violations(name, stack(name)) if v.enforcement == MANDATORY]
    assert violations == []


# --- negative cases: each mutation breaks exactly one invariant ---------------------------

def _find(resources: list[Resource], kind: str, name: str | None = None) -> Resource:
    return next(r for r in resources if r.kind == kind and (name is None or r.inputs["metadata"]["name"] == name))


def _triton(resources: list[Resource]) -> dict:
    return _find(resources, "StatefulSet", "llama-3-8b").inputs["spec"]["template"]


def _container(resources, name="triton") -> dict:
    spec = _triton(resources)["spec"]
    return next(c for c in spec["containers"] + spec["initContainers"] if c["name"] == name)


def _device_plugin(resources) -> dict:
    return next(r for r in resources if r.kind == "DaemonSet" and "device-plugin" in r.inputs["metadata"]["name"]
                ).inputs["spec"]["template"]["spec"]


def _remove(resources: list[Resource], kind: str, predicate: Callable[[Resource], bool]) -> list[Resource]:
    return [r for r in resources if not (r.kind == kind and predicate(r))]


def triton_listens_on_every_address(rs):
    # Triton's listeners on 0.0.0.0 again (tritonserver's --http-address, the OpenAI frontend's --host):
    # plaintext reachable from outside the pod.
    triton = _container(rs)
    triton["args"] = [a for a in triton["args"] if not a.startswith(("--http-address=", "--host="))]
    return rs


def tolerate_without_gpu(rs):
    dcgm_svc = _find(rs, "StatefulSet", "toy-llm").inputs["spec"]["template"]["spec"]
    for c in dcgm_svc["containers"]:
        c["resources"]["limits"].pop("nvidia.com/gpu", None)
        c["resources"]["requests"].pop("nvidia.com/gpu", None)
    return rs


def privileged(rs):
    _container(rs, "cache-sync")["securityContext"]["allowPrivilegeEscalation"] = True
    return rs


def root_triton(rs):
    _container(rs)["securityContext"]["runAsNonRoot"] = False
    return rs


def latest_image(rs):
    _container(rs)["image"] = "nvcr.io/nvidia/tritonserver:latest"
    return rs


def host_root(rs):
    _device_plugin(rs)["volumes"].append({"name": "root", "hostPath": {"path": "/"}})
    return rs


def plugin_not_critical(rs):
    _device_plugin(rs)["priorityClassName"] = "system-cluster-critical"
    return rs


def load_balancer(rs):
    _find(rs, "Service", "llama-3-8b").inputs["spec"]["type"] = "LoadBalancer"
    return rs


def no_default_deny(rs):
    # Pods selected by no policy at all are open in both directions.
    return _remove(rs, "NetworkPolicy", lambda r: r.inputs["metadata"]["namespace"] == "llm-serving")


def metadata_reachable(rs):
    policy = _find(rs, "NetworkPolicy", "llama-3-8b-triton")
    policy.inputs["spec"]["egress"][0]["to"][0]["ipBlock"]["except"] = []
    return rs


def model_control_explicit(rs):
    # The vLLM pod runs explicit mode for the engine health check, naming its model; loading
    # every model of the repository ('*') is what the rule refuses.
    args = _container(rs)["args"]
    args[:] = [a for a in args if not a.startswith("--load-model=")] + ["--load-model=*"]
    return rs


def frontend_without_kserve_frontends(rs):
    # Under Triton's OpenAI frontend the probes ask the KServe HTTP endpoints of the same server.
    args = _container(rs)["args"]
    args.remove("--enable-kserve-frontends")
    return rs


def frontend_kserve_port_admitted(rs):
    # The frontend's KServe ports have no restricted admin APIs: admitting a client namespace to
    # one of them opens shared-memory registration, log and trace settings to it.
    policy = _find(rs, "NetworkPolicy", "llama-3-8b-triton")
    policy.inputs["spec"]["ingress"][0]["ports"].append({"protocol": "TCP", "port": 8000})
    return rs


def short_startup(rs):
    _container(rs)["startupProbe"]["failureThreshold"] = 3
    return rs


def short_grace(rs):
    _triton(rs)["spec"]["terminationGracePeriodSeconds"] = 30
    return rs


def no_pdb(rs):
    return _remove(rs, "PodDisruptionBudget", lambda r: r.inputs["metadata"]["name"] == "llama-3-8b")


def cpu_trigger(rs):
    _find(rs, "ScaledObject", "llama-3-8b").inputs["spec"]["triggers"].append(
        {"type": "cpu", "name": "cpu", "metricType": "Utilization", "metadata": {"value": "70"}})
    return rs


def unlabelled_namespace(rs):
    _find(rs, "Namespace", "llm-serving").inputs["metadata"]["labels"].pop("pod-security.kubernetes.io/enforce")
    return rs


def no_quota(rs):
    return _remove(rs, "ResourceQuota", lambda r: r.inputs["metadata"]["namespace"] == "llm-serving")


def unprotected_key(rs):
    return [*rs, Resource("aws:kms/key:Key", "stack-key", {"enableKeyRotation": True}, protect=True,
                          retain_on_delete=False)]


# --- GCP: a resource of the gcp-prod stack, broken, added to the baseline -----------------

def _gcp(type_: str, name_suffix: str = "") -> Resource:
    return next(r for r in resources_of("gcp-prod") if r.type == type_ and r.name.endswith(name_suffix))


def _gke() -> Resource:
    return _gcp("gcp:container/cluster:Cluster")


def _gpu_pool() -> Resource:
    return _gcp("gcp:container/nodePool:NodePool", "pool-h100-node-pool")


def gke_secrets_in_plain_etcd(rs):
    cluster = _gke()
    cluster.inputs["databaseEncryption"] = {"state": "DECRYPTED"}
    return [*rs, cluster]


def gke_boot_disk_with_googles_key(rs):
    pool = _gpu_pool()
    del pool.inputs["nodeConfig"]["bootDiskKmsKey"]
    return [*rs, pool]


def gke_without_secure_boot(rs):
    pool = _gpu_pool()
    pool.inputs["nodeConfig"]["shieldedInstanceConfig"]["enableSecureBoot"] = False
    return [*rs, pool]


def gke_node_metadata_exposed(rs):
    pool = _gpu_pool()
    pool.inputs["nodeConfig"]["workloadMetadataConfig"]["mode"] = "GCE_METADATA"
    return [*rs, pool]


def gke_default_compute_account(rs):
    cluster = _gke()
    cluster.inputs["nodeConfig"]["serviceAccount"] = "498765432109-compute@developer.gserviceaccount.com"
    return [*rs, cluster]


def gke_control_plane_open(rs):
    cluster = _gke()
    cluster.inputs["masterAuthorizedNetworksConfig"]["cidrBlocks"].append({"cidrBlock": "0.0.0.0/0"})
    return [*rs, cluster]


def gke_legacy_abac(rs):
    cluster = _gke()
    cluster.inputs["enableLegacyAbac"] = True
    return [*rs, cluster]


def gke_gpu_pool_on_shared_hosts(rs):
    pool = _gpu_pool()
    del pool.inputs["nodeConfig"]["soleTenantConfig"]
    return [*rs, _gcp("gcp:compute/nodeGroup:NodeGroup"), pool]


def gke_with_our_device_plugin(rs):
    return [*rs, _gke()]  # the existing stack deploys the plugin


def gcs_bucket_public(rs):
    bucket = _gcp("gcp:storage/bucket:Bucket")
    bucket.inputs["publicAccessPrevention"] = "inherited"
    return [*rs, bucket]


def kms_key_never_rotates(rs):
    key = _gcp("gcp:kms/cryptoKey:CryptoKey")
    del key.inputs["rotationPeriod"]
    return [*rs, key]


def kms_key_for_everyone(rs):
    binding = _gcp("gcp:kms/cryptoKeyIAMBinding:CryptoKeyIAMBinding")
    binding.inputs["members"].append("allAuthenticatedUsers")
    return [*rs, binding]


def gke_gpu_pool_untainted(rs):
    pool = _gpu_pool()
    pool.inputs["nodeConfig"]["taints"] = []
    return [*rs, pool]


# --- Azure: a resource of the azure-prod stack, broken, added to the baseline -------------

def _azure(type_: str, name_suffix: str = "") -> Resource:
    return next(r for r in resources_of("azure-prod") if r.type == type_ and r.name.endswith(name_suffix))


def _aks() -> Resource:
    return _azure("azure-native:containerservice:ManagedCluster")


def _aks_gpu_pool() -> Resource:
    return _azure("azure-native:containerservice:AgentPool", "pool-h100-agent-pool")


def aks_open_to_the_internet(rs):
    cluster = _aks()
    cluster.inputs["apiServerAccessProfile"].update(enablePrivateCluster=False, authorizedIPRanges=["0.0.0.0/0"])
    return [*rs, cluster]


def aks_etcd_without_kms(rs):
    cluster = _aks()
    cluster.inputs["securityProfile"]["azureKeyVaultKms"]["enabled"] = False
    return [*rs, cluster]


def aks_gpu_pool_without_host_encryption(rs):
    pool = _aks_gpu_pool()
    pool.inputs["enableEncryptionAtHost"] = False
    return [*rs, pool]


def aks_local_accounts(rs):
    cluster = _aks()
    cluster.inputs["disableLocalAccounts"] = False
    return [*rs, cluster]


def aks_dedicated_pool_without_host_group(rs):
    pool = _aks_gpu_pool()
    pool.inputs["tags"]["llm-infra.io/isolation"] = "dedicated-host"
    return [*rs, pool]


def aks_pool_on_shared_hosts_by_exception(rs):
    return [*rs, _aks_gpu_pool()]


def aks_without_network_policy(rs):
    cluster = _aks()
    cluster.inputs["networkProfile"].pop("networkPolicy")
    return [*rs, cluster]


def aks_audit_logs_go_nowhere(rs):
    return [*rs, _aks()]


def key_vault_without_purge_protection(rs):
    vault = _azure("azure-native:keyvault:Vault")
    vault.inputs["properties"]["enablePurgeProtection"] = False
    return [*rs, vault]


def model_storage_with_shared_keys(rs):
    account = _azure("azure-native:storage:StorageAccount")
    account.inputs["allowSharedKeyAccess"] = True
    return [*rs, account]


# --- AWS: the prod stack's AWS resources, one of them broken, added to the baseline -------
# The whole AWS side comes along (it passes every rule), so that stack rules see the
# references they follow (subnets, route tables, role attachments, bucket settings).

def _aws_resources(stack_name: str = "prod") -> list[Resource]:
    return [r for r in resources_of(stack_name) if r.type.startswith("aws:")]


def _one(rs: list[Resource], type_: str, name_suffix: str = "") -> Resource:
    return next(r for r in rs if r.type == type_ and r.name.endswith(name_suffix))


def _doc(r: Resource, key: str = "policy") -> dict:
    return json.loads(r.inputs[key])


def _set_doc(r: Resource, doc: dict, key: str = "policy") -> None:
    r.inputs[key] = json.dumps(doc)


def eks_secrets_with_aws_owned_key(rs):
    aws = _aws_resources()
    del _one(aws, "aws:eks/cluster:Cluster").inputs["encryptionConfig"]
    return [*rs, *aws]


def kms_key_without_rotation(rs):
    aws = _aws_resources()
    _one(aws, "aws:kms/key:Key").inputs["enableKeyRotation"] = False
    return [*rs, *aws]


def eks_endpoint_open_to_everyone(rs):
    aws = _aws_resources()
    _one(aws, "aws:eks/cluster:Cluster").inputs["vpcConfig"].update(
        endpointPublicAccess=True, publicAccessCidrs=["0.0.0.0/0"])
    return [*rs, *aws]


def eks_audit_log_unencrypted(rs):
    aws = _aws_resources()
    del _one(aws, "aws:cloudwatch/logGroup:LogGroup").inputs["kmsKeyId"]
    return [*rs, *aws]


def eks_creator_stays_admin(rs):
    aws = _aws_resources()
    _one(aws, "aws:eks/cluster:Cluster").inputs["accessConfig"]["bootstrapClusterCreatorAdminPermissions"] = True
    return [*rs, *aws]


def launch_template_allows_imdsv1(rs):
    aws = _aws_resources()
    _one(aws, "aws:ec2/launchTemplate:LaunchTemplate", "pool-h100-lt").inputs["metadataOptions"]["httpTokens"] = "optional"
    return [*rs, *aws]


def gpu_node_without_toolkit_settings(rs):
    # The existing stack's plugin hands GPUs over as volume mounts; prod's GPU node keeps the AMI's toolkit.
    aws = _aws_resources()
    lt = _one(aws, "aws:ec2/launchTemplate:LaunchTemplate", "pool-h100-lt")
    del lt.inputs["userData"]
    return [*rs, *aws]


def gke_model_egress_to_the_internet(rs):
    # The existing stack's model egress opens every public address on 443; a private googleapis.com zone
    # (gcp-prod's) means only private.googleapis.com is needed.
    zone = _gcp("gcp:dns/managedZone:ManagedZone")
    return [*rs, zone]


def launch_template_unencrypted_volume(rs):
    aws = _aws_resources()
    lt = _one(aws, "aws:ec2/launchTemplate:LaunchTemplate", "pool-h100-lt")
    lt.inputs["blockDeviceMappings"][0]["ebs"]["encrypted"] = "false"
    return [*rs, *aws]


def dedicated_tenancy_vpc(rs):
    aws = _aws_resources()
    _one(aws, "aws:ec2/vpc:Vpc").inputs["instanceTenancy"] = "dedicated"
    return [*rs, *aws]


def node_group_in_public_subnet(rs):
    # The public subnets hand out no IPs, but route to the internet gateway: still no place for nodes.
    aws = _aws_resources()
    _one(aws, "aws:eks/nodeGroup:NodeGroup", "pool-h100-node-group").inputs["subnetIds"].append(
        "prod-cluster-network-public-eu-west-1a-id")
    return [*rs, *aws]


def cni_policy_on_node_role(rs):
    aws = _aws_resources()
    aws.append(Resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "prod-cluster-pool-l4-node-role-cni",
                        {"role": "llm-prod-l4-node", "policyArn": "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"}))
    return [*rs, *aws]


def wildcard_action_in_role_policy(rs):
    aws = _aws_resources()
    policy = _one(aws, "aws:iam/rolePolicy:RolePolicy", "autoscaler-policy")
    doc = _doc(policy)
    doc["Statement"][0]["Action"].append("ec2:*")
    _set_doc(policy, doc)
    return [*rs, *aws]


def irsa_trust_for_a_whole_namespace(rs):
    aws = _aws_resources()
    role = _one(aws, "aws:iam/role:Role", "models-llama-3-8b-role")
    doc = _doc(role, "assumeRolePolicy")
    condition = doc["Statement"][0]["Condition"]
    sub = next(k for k in condition["StringEquals"] if k.endswith(":sub"))
    condition["StringLike"] = {sub: "system:serviceaccount:llm-serving:*"}
    del condition["StringEquals"][sub]
    _set_doc(role, doc, "assumeRolePolicy")
    return [*rs, *aws]


def model_role_reads_the_whole_bucket(rs):
    aws = _aws_resources()
    policy = _one(aws, "aws:iam/rolePolicy:RolePolicy", "models-llama-3-8b-read")
    doc = _doc(policy)
    read = next(s for s in doc["Statement"] if s["Sid"] == "ReadOwnPrefix")
    read["Resource"] = "arn:aws:s3:::example-llm-prod-models/*"
    _set_doc(policy, doc)
    return [*rs, *aws]


def model_bucket_unversioned(rs):
    aws = _aws_resources()
    _one(aws, "aws:s3/bucketVersioning:BucketVersioning").inputs["versioningConfiguration"]["status"] = "Suspended"
    return [*rs, *aws]


# --- content of Kubernetes objects (kubernetes_content) ------------------------------------

def ingress_from_every_namespace(rs):
    policy = _find(rs, "NetworkPolicy", "llama-3-8b-triton")
    policy.inputs["spec"]["ingress"][0]["from"][0]["namespaceSelector"] = {}
    return rs


def capability_added(rs):
    _container(rs)["securityContext"]["capabilities"]["add"] = ["NET_ADMIN"]
    return rs


def host_port(rs):
    _container(rs, "tls-proxy")["ports"][0]["hostPort"] = 8000  # the pod's ports are the TLS terminator's
    return rs


def token_mounted(rs):
    _triton(rs)["spec"]["automountServiceAccountToken"] = True
    return rs


def token_in_env(rs):
    _container(rs)["env"].append({"name": "HF_TOKEN", "value": "hf_" + "x" * 34})
    return rs


def external_ips(rs):
    _find(rs, "Service", "llama-3-8b").inputs["spec"]["externalIPs"] = ["203.0.113.10"]
    return rs


def ingress_object(rs):
    service = _find(rs, "Service", "llama-3-8b")
    meta = copy.deepcopy(service.inputs["metadata"])
    backend = {"service": {"name": meta["name"], "port": {"number": 8000}}}
    return [*rs, Resource("kubernetes:networking.k8s.io/v1:Ingress", service.name.replace("service", "ingress"), {
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta,
        "spec": {"rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}}]}})]


def cluster_admin_binding(rs):
    binding = next(r for r in resources_of("prod") if r.kind == "ClusterRoleBinding")
    binding.inputs["roleRef"]["name"] = "cluster-admin"
    return [*rs, binding]


# --- trust, keys and scopes on the clouds ------------------------------------------------

def role_trusts_everyone(rs):
    aws = _aws_resources()
    role = _one(aws, "aws:iam/role:Role", "models-llama-3-8b-role")
    doc = _doc(role, "assumeRolePolicy")
    doc["Statement"].append({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"})
    _set_doc(role, doc, "assumeRolePolicy")
    return [*rs, *aws]


def gke_legacy_datapath(rs):
    cluster = _gke()
    cluster.inputs["datapathProvider"] = "LEGACY_DATAPATH"
    return [*rs, cluster]


def gcp_identity_for_a_whole_namespace(rs):
    member = _gcp("gcp:serviceaccount/iAMMember:IAMMember", "llama-3-8b-workload-identity")
    member.inputs["member"] = "serviceAccount:acme-llm-prod.svc.id.goog[llm-serving/*]"
    return [*rs, member]


def aks_node_public_ip(rs):
    pool = _aks_gpu_pool()
    pool.inputs["enableNodePublicIP"] = True
    return [*rs, pool]


def public_blob_container(rs):
    container = _azure("azure-native:storage:BlobContainer", "llama-3-8b-container")
    container.inputs["publicAccess"] = "Blob"
    return [*rs, container]


def federated_subject_wildcard(rs):
    credential = _azure("azure-native:managedidentity:FederatedIdentityCredential", "llama-3-8b-federation")
    credential.inputs["subject"] = "system:serviceaccount:llm-serving:*"
    return [*rs, credential]


def blob_reader_on_the_account(rs):
    assignment = _azure("azure-native:authorization:RoleAssignment", "models-llama-3-8b-read")
    assignment.inputs["scope"] = assignment.inputs["scope"].split("/blobServices/")[0]
    return [*rs, assignment]


def _with_operators() -> list[Resource]:
    """The existing stack with `monitoring.install_operators` on: KEDA and the Prometheus stack as Helm releases."""
    from _stacks import with_changed_config

    def operators(raw):
        raw.setdefault("llm-infra:monitoring", {})["install_operators"] = True

    return [Resource(r.type, r.name, copy.deepcopy(r.inputs), r.protect, r.retain_on_delete, r.urn)
            for r in with_changed_config("existing", operators).resources]


def helm_creates_its_namespace(rs):
    operators = _with_operators()
    keda = next(r for r in operators if r.type == "kubernetes:helm.sh/v3:Release" and r.inputs["name"] == "keda")
    keda.inputs["createNamespace"] = True
    return [r for r in operators if not (r.kind == "Namespace" and r.inputs["metadata"]["name"] == "keda")]


def gpu_admission_unbound(rs):
    """The existing stack's plan without the GPU admission policy's binding (the policy judges nothing)."""
    return [r for r in rs if r.kind != "ValidatingAdmissionPolicyBinding"]


NEGATIVE: dict[str, Callable[[list[Resource]], list[Resource]]] = {
    "gpu-admission-policy-installed": gpu_admission_unbound,
    "helm-releases-in-prepared-namespaces": helm_creates_its_namespace,
    "aws-trust-and-keys-in-own-account": role_trusts_everyone,
    "gke-network-policy-enforced": gke_legacy_datapath,
    "gcp-model-access-scoped": gcp_identity_for_a_whole_namespace,
    "aks-nodes-without-public-ips": aks_node_public_ip,
    "blob-containers-private": public_blob_container,
    "federated-credentials-scoped": federated_subject_wildcard,
    "azure-role-assignments-scoped": blob_reader_on_the_account,
    "network-policy-no-open-peers": ingress_from_every_namespace,
    "no-added-capabilities": capability_added,
    "no-host-ports-or-namespaces": host_port,
    "service-account-token-not-mounted": token_mounted,
    "secrets-not-in-env": token_in_env,
    "services-no-external-ips": external_ips,
    "no-ingress-objects": ingress_object,
    "rbac-least-privilege": cluster_admin_binding,
    "gpu-taint-tolerated-only-by-gpu-workloads": tolerate_without_gpu,
    "containers-hardened": privileged,
    "triton-non-root-with-gpu-limits": root_triton,
    "images-pinned": latest_image,
    "host-paths-limited": host_root,
    "no-plaintext-listener-outside-pod": triton_listens_on_every_address,
    "device-plugin-node-critical": plugin_not_critical,
    "services-cluster-ip-only": load_balancer,
    "network-policy-selects-every-pod": no_default_deny,
    "egress-blocks-node-metadata": metadata_reachable,
    "triton-locked-down": frontend_without_kserve_frontends,
    "triton-frontend-kserve-in-pod": frontend_kserve_port_admitted,
    "triton-probes": short_startup,
    "triton-grace-period": short_grace,
    "triton-availability": no_pdb,
    "autoscaling-on-inference-metrics": cpu_trigger,
    "namespace-pod-security": unlabelled_namespace,
    "gpu-namespace-quota-and-restricted": no_quota,
    "keys-protected-and-retained": unprotected_key,
    "gke-secrets-encrypted": gke_secrets_in_plain_etcd,
    "gke-boot-disks-cmek": gke_boot_disk_with_googles_key,
    "gke-shielded-nodes": gke_without_secure_boot,
    "gke-workload-identity": gke_node_metadata_exposed,
    "gke-nodes-minimal-service-account": gke_default_compute_account,
    "gke-private-cluster": gke_control_plane_open,
    "gke-legacy-access-off": gke_legacy_abac,
    "gke-dedicated-gpu-pools-sole-tenant": gke_gpu_pool_on_shared_hosts,
    "gke-no-own-device-plugin": gke_with_our_device_plugin,
    "gcs-bucket-hardened": gcs_bucket_public,
    "kms-key-rotates": kms_key_never_rotates,
    "kms-key-users-are-service-agents": kms_key_for_everyone,
    "gke-gpu-pools-tainted": gke_gpu_pool_untainted,
    "aks-api-server-private": aks_open_to_the_internet,
    "aks-etcd-kms": aks_etcd_without_kms,
    "aks-disks-encrypted": aks_gpu_pool_without_host_encryption,
    "aks-identity-entra-only": aks_local_accounts,
    "aks-dedicated-isolation": aks_dedicated_pool_without_host_group,
    "aks-shared-host-exception": aks_pool_on_shared_hosts_by_exception,
    "aks-network-policy": aks_without_network_policy,
    "aks-control-plane-logs": aks_audit_logs_go_nowhere,
    "key-vault-hardened": key_vault_without_purge_protection,
    "model-storage-hardened": model_storage_with_shared_keys,
    "eks-secrets-encrypted": eks_secrets_with_aws_owned_key,
    "aws-kms-key-hardened": kms_key_without_rotation,
    "eks-endpoint-private": eks_endpoint_open_to_everyone,
    "eks-control-plane-logs": eks_audit_log_unencrypted,
    "eks-access-entries-only": eks_creator_stays_admin,
    "eks-node-imdsv2": launch_template_allows_imdsv1,
    "eks-node-volumes-encrypted": launch_template_unencrypted_volume,
    "eks-dedicated-tenancy": dedicated_tenancy_vpc,
    "eks-gpu-nodes-match-the-device-list": gpu_node_without_toolkit_settings,
    "gke-model-egress-private-google-apis": gke_model_egress_to_the_internet,
    "eks-nodes-private": node_group_in_public_subnet,
    "eks-node-role-minimal": cni_policy_on_node_role,
    "iam-no-wildcard-actions": wildcard_action_in_role_policy,
    "iam-irsa-trust-scoped": irsa_trust_for_a_whole_namespace,
    "iam-model-roles-read-only": model_role_reads_the_whole_bucket,
    "s3-bucket-hardened": model_bucket_unversioned,
}


def test_every_rule_has_a_negative_case():
    assert set(NEGATIVE) == {r.id for r in all_rules()}


@pytest.mark.parametrize("rule_id", sorted(NEGATIVE))
def test_rule_fires_on_a_resource_that_breaks_it(rule_id):
    context = Context(production=False)
    baseline = resources_of("existing")
    assert [v for v in evaluate(baseline, context) if v.rule == rule_id] == []
    broken = NEGATIVE[rule_id](resources_of("existing"))
    fired = [v for v in evaluate(broken, context) if v.rule == rule_id]
    assert fired, f"{rule_id} did not fire"
    assert all(v.message for v in fired)


def test_production_rules_fire_on_a_development_stack():
    violations = evaluate(resources_of("existing"), Context(production=True))
    messages = [v.message for v in violations if v.rule == "triton-availability"]
    assert any("at least 2 replicas" in m for m in messages)
    assert any("must not scale to zero" in m for m in messages)


def test_rules_stay_silent_on_values_unknown_at_preview():
    rs = resources_of("existing")
    # The engine's placeholder for a boolean not yet computed.
    _container(rs)["securityContext"]["allowPrivilegeEscalation"] = "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7"
    assert [v for v in evaluate(rs, Context(production=False)) if v.rule == "containers-hardened"] == []


def test_credential_outputs_must_be_secret():
    assert credential_outputs_are_secret({"kubeconfig": "x", "endpoint": "y"}, set()) == [
        "stack output 'kubeconfig' holds a credential: export it with pulumi.Output.secret(...)"
    ]
    assert credential_outputs_are_secret({"kubeconfig": "x"}, {"kubeconfig"}) == []


# --- AWS: exactness, production, and values unknown at preview ---------------------------

AWS_RULES = {"eks-secrets-encrypted", "aws-kms-key-hardened", "eks-endpoint-private", "eks-control-plane-logs",
             "eks-access-entries-only", "eks-node-imdsv2", "eks-node-volumes-encrypted", "eks-dedicated-tenancy",
             "eks-nodes-private", "eks-node-role-minimal", "iam-no-wildcard-actions", "iam-irsa-trust-scoped",
             "iam-model-roles-read-only", "s3-bucket-hardened"}


@pytest.mark.parametrize("rule_id", sorted(AWS_RULES))
def test_aws_negative_case_breaks_exactly_its_rule(rule_id):
    fired = {v.rule for v in evaluate(NEGATIVE[rule_id](resources_of("existing")), Context(production=False))}
    assert fired == {rule_id}


def test_production_puts_aws_nodes_on_dedicated_hardware():
    # dev is shared tenancy: fine for development, not for production.
    dev = _aws_resources("dev")
    assert [v for v in evaluate(dev, Context(production=False)) if v.enforcement == MANDATORY] == []
    fired = [v for v in evaluate(dev, Context(production=True)) if v.enforcement == MANDATORY]
    assert fired and {v.rule for v in fired} == {"eks-dedicated-tenancy"}
    assert all("placement.tenancy 'dedicated'" in v.message for v in fired)


def test_aws_rules_stay_silent_on_values_unknown_at_preview():
    unknown_string, unknown_bool = "04da6b54-80e4-46f7-96ec-b56ff0331ba9", "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7"
    unknown_array = "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2"
    rs = _aws_resources("staging")
    for r in rs:
        # Documents built from outputs, and ids of resources not created yet, are unknown as a whole.
        for key in ("policy", "assumeRolePolicy", "bucket", "kmsKeyId", "subnetIds", "role"):
            if key in r.inputs:
                r.inputs[key] = unknown_array if key == "subnetIds" else unknown_string
        if r.type == "aws:eks/cluster:Cluster":
            r.inputs["vpcConfig"].update(endpointPublicAccess=unknown_bool, publicAccessCidrs=unknown_array)
            r.inputs["encryptionConfig"]["provider"]["keyArn"] = unknown_string
            r.inputs["enabledClusterLogTypes"] = unknown_array
            r.inputs["accessConfig"] = unknown_string  # a whole object not known yet
        if r.type == "aws:ec2/launchTemplate:LaunchTemplate":
            r.inputs["metadataOptions"]["httpPutResponseHopLimit"] = "3eeb2bf0-c639-47a8-9e75-3b44932eb421"
            r.inputs["blockDeviceMappings"][0]["ebs"]["kmsKeyId"] = unknown_string
            r.inputs["placement"] = unknown_string
        if r.type == "aws:s3/bucketVersioning:BucketVersioning":
            r.inputs["versioningConfiguration"] = unknown_string
    assert [v for v in evaluate(rs, Context(production=True)) if v.rule in AWS_RULES] == []


def test_aks_public_api_server_limited_to_an_allowlist_passes():
    # azure-native's key is authorizedIPRanges: a rule reading another spelling never sees the allowlist.
    rs = resources_of("azure-prod")
    cluster = _one(rs, "azure-native:containerservice:ManagedCluster")
    cluster.inputs["apiServerAccessProfile"].update(enablePrivateCluster=False, authorizedIPRanges=["203.0.113.0/24"])
    assert [v for v in evaluate(rs, Context()) if v.rule == "aks-api-server-private"] == []
    cluster.inputs["apiServerAccessProfile"]["authorizedIPRanges"].append("0.0.0.0/0")
    assert [v.message for v in evaluate(rs, Context()) if v.rule == "aks-api-server-private"] == [
        "authorizedIPRanges contains 0.0.0.0/0: list the networks that may reach the API server"]


# --- more content checks on real plans --------------------------------------------------

def _fired(rs, rule_id, production=False):
    return [v.message for v in evaluate(rs, Context(production=production)) if v.rule == rule_id]


def test_an_explicit_metadata_egress_fires_unless_it_is_gkes_metadata_server():
    rs = resources_of("existing")
    policy = _find(rs, "NetworkPolicy", "llama-3-8b-triton")
    policy.inputs["spec"]["egress"].append({"to": [{"ipBlock": {"cidr": "169.254.169.254/32"}}],
                                            "ports": [{"protocol": "TCP", "port": 80}]})
    assert _fired(rs, "egress-blocks-node-metadata")
    # GKE's stacks keep exactly that /32 for the GKE metadata server, annotated by the workload.
    assert _fired(resources_of("gcp-prod"), "egress-blocks-node-metadata") == []


@pytest.mark.parametrize("cidr", ["169.254.0.0/16", "128.0.0.0/1", "160.0.0.0/3"])
def test_any_block_that_contains_the_metadata_address_fires(cidr):
    rs = resources_of("existing")
    _find(rs, "NetworkPolicy", "llama-3-8b-triton").inputs["spec"]["egress"][0]["to"] = [{"ipBlock": {"cidr": cidr}}]
    assert _fired(rs, "egress-blocks-node-metadata")


def test_an_egress_rule_without_peers_fires_both_content_rules():
    rs = resources_of("existing")
    del _find(rs, "NetworkPolicy", "llama-3-8b-triton").inputs["spec"]["egress"][0]["to"]
    assert _fired(rs, "egress-blocks-node-metadata")
    assert _fired(rs, "network-policy-no-open-peers")


def test_triton_loading_every_model_in_explicit_mode_fires():
    rs = model_control_explicit(kserve_resources_of("existing"))
    assert _fired(rs, "triton-locked-down") == ["with --model-control-mode=explicit, name each model in --load-model (not '*')"]


def test_triton_without_restricted_admin_apis_fires():
    rs = kserve_resources_of("existing")
    assert _fired(rs, "triton-locked-down") == []
    args = _container(rs)["args"]
    _container(rs)["args"] = [a for a in args if not a.startswith("--grpc-restricted-protocol")]
    assert _fired(rs, "triton-locked-down") == [
        "restrict Triton's ['model-repository', 'model-config', 'shared-memory', 'statistics', 'trace', 'logging'] "
        "APIs: --grpc-restricted-protocol=model-repository,model-config,shared-memory,statistics,trace,logging:"
        "<header>=<key> (clients of a model never need them)"]


def test_the_policy_knows_the_apis_the_workload_restricts():
    from llm_infra.policies.kubernetes import TRITON_RESTRICTED_APIS
    from llm_infra.triton.args import RESTRICTED_APIS

    assert TRITON_RESTRICTED_APIS == RESTRICTED_APIS


def test_a_secret_read_into_env_fires():
    rs = resources_of("existing")
    _container(rs)["env"].append({"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}})
    assert _fired(rs, "secrets-not-in-env")


def test_wildcard_role_fires():
    role = next(r for r in resources_of("prod") if r.kind == "ClusterRole")
    role.inputs["rules"][0]["verbs"] = ["*"]
    assert _fired([*resources_of("existing"), role], "rbac-least-privilege")


# --- the stack's own account -------------------------------------------------------------

def _in_own_account(stack_name: str, rs: list[Resource]) -> list[str]:
    from llm_infra.plan import stack_accounts, stack_config

    context = Context(production=False, accounts=stack_accounts(stack_config(stack_name)[0]))
    assert context.accounts
    return [v.message for v in evaluate(rs, context) if v.enforcement == MANDATORY]


def test_a_role_trusting_a_foreign_account_fires():
    aws = _aws_resources()
    assert _in_own_account("prod", aws) == []
    role = _one(aws, "aws:iam/role:Role", "models-llama-3-8b-role")
    role.inputs["assumeRolePolicy"] = role.inputs["assumeRolePolicy"].replace("210987654321", "999999999999")
    assert any("trusts 'arn:aws:iam::999999999999:oidc-provider/" in m for m in _in_own_account("prod", aws))


def test_a_key_of_a_foreign_account_fires():
    aws = _aws_resources()
    lt = _one(aws, "aws:ec2/launchTemplate:LaunchTemplate", "pool-h100-lt")
    lt.inputs["blockDeviceMappings"][0]["ebs"]["kmsKeyId"] = "arn:aws:kms:eu-west-1:999999999999:key/theirs"
    assert any(m.startswith("blockDeviceMappings[0].ebs.kmsKeyId uses a key of account 999999999999")
               for m in _in_own_account("prod", aws))


def test_a_foreign_workload_pool_fires_on_gcp():
    member = _gcp("gcp:serviceaccount/iAMMember:IAMMember", "llama-3-8b-workload-identity")
    member.inputs["member"] = "serviceAccount:other-project.svc.id.goog[llm-serving/triton-llama-3-8b]"
    assert any("another project's workload pool" in m for m in _in_own_account("gcp-prod", [member]))


def test_a_role_assignment_in_a_foreign_subscription_fires_on_azure():
    assignment = _azure("azure-native:authorization:RoleAssignment", "models-llama-3-8b-read")
    assert _in_own_account("azure-prod", [assignment]) == []
    assignment.inputs["scope"] = assignment.inputs["scope"].replace("7c9e1a40-2d6b-4f83-b5e7-0a4c3d9f1e62",
                                                                    "00000000-0000-0000-0000-000000000000")
    assert any("not the stack's" in m for m in _in_own_account("azure-prod", [assignment]))


def test_operator_namespaces_are_the_stacks_own_and_labelled():
    operators = _with_operators()
    releases = [r for r in operators if r.type == "kubernetes:helm.sh/v3:Release"]
    namespaces = {r.inputs["metadata"]["name"]: r.inputs["metadata"]["labels"] for r in operators if r.kind == "Namespace"}
    assert {r.inputs["namespace"] for r in releases} == {"keda", "monitoring"}
    for release in releases:
        assert release.inputs["createNamespace"] is False
        assert namespaces[release.inputs["namespace"]]["pod-security.kubernetes.io/enforce"] in ("baseline", "privileged")
    assert [v for v in evaluate(operators, Context(production=False)) if v.enforcement == MANDATORY] == []
