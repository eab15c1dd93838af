"""The GCP platform's guarantees (SECURITY.md 13-22, 31-42) on gcp-dev and gcp-prod, through the harness."""

from __future__ import annotations

import copy
import json
from functools import lru_cache

import pulumi
import pytest

from llm_infra import testing as harness
from llm_infra.config import parse_stack_config, parse_weights_uri
from llm_infra.catalog import gcp as machine_types
from llm_infra.gcp import naming
from llm_infra.gcp.node_service_account import NODE_ROLES
from llm_infra.plan import find_project, run_stack, run_stack_program, stack_config
from llm_infra.testing import CapturedResource, ProgramResult

from _stacks import rejected

GCP_STACKS = ["gcp-dev", "gcp-prod"]
CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
KEY_RING = "gcp:kms/keyRing:KeyRing"
KEY = "gcp:kms/cryptoKey:CryptoKey"
KEY_BINDING = "gcp:kms/cryptoKeyIAMBinding:CryptoKeyIAMBinding"
BUCKET = "gcp:storage/bucket:Bucket"
FOLDER = "gcp:storage/managedFolder:ManagedFolder"
FOLDER_MEMBER = "gcp:storage/managedFolderIamMember:ManagedFolderIamMember"
GSA = "gcp:serviceaccount/account:Account"
GSA_MEMBER = "gcp:serviceaccount/iAMMember:IAMMember"
PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
NODE_TEMPLATE = "gcp:compute/nodeTemplate:NodeTemplate"
NODE_GROUP = "gcp:compute/nodeGroup:NodeGroup"
SUBNET = "gcp:compute/subnetwork:Subnetwork"
NAT = "gcp:compute/routerNat:RouterNat"


class _GkeComputedOutputs(harness._Mocks):
    """Adds what GKE computes on create (endpoint, CA); everything else as the harness does."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        rid, outputs = super().new_resource(args)
        if args.typ == CLUSTER:
            outputs = {**outputs, "endpoint": "172.16.0.34",
                       "masterAuth": {**outputs.get("masterAuth", {}), "clusterCaCertificate": "Q0VSVA=="}}
        return rid, outputs


@lru_cache(maxsize=None)
def plain(name: str) -> ProgramResult:
    return run_stack(name)


@lru_cache(maxsize=None)
def wired(name: str) -> ProgramResult:
    original = harness._Mocks
    harness._Mocks = _GkeComputedOutputs
    try:
        return run_stack(name)
    finally:
        harness._Mocks = original


@lru_cache(maxsize=None)
def config(name: str):
    raw, secret = stack_config(name)
    return parse_stack_config({k.split(":", 1)[1]: v for k, v in raw.items() if k not in secret})


def the_key(result: ProgramResult) -> str:
    """The key's resource path, from the key ring's and key's own inputs."""
    ring, key = result.one(KEY_RING), result.one(KEY)
    r = ring.inputs
    return f"projects/{r['project']}/locations/{r['location']}/keyRings/{r['name']}/cryptoKeys/{key.inputs['name']}"


def node_configs(result: ProgramResult) -> list[tuple[str, dict]]:
    """Every node config: each node pool's, and the cluster's transient default pool's."""
    out = [(r.name, r.inputs["nodeConfig"]) for r in result.of_type(NODE_POOL)]
    return out + [(r.name, r.inputs["nodeConfig"]) for r in result.of_type(CLUSTER)]


def gpu_pools(result: ProgramResult) -> dict[str, CapturedResource]:
    return {r.inputs["name"]: r for r in result.of_type(NODE_POOL) if r.inputs["nodeConfig"].get("guestAccelerators")}


def node_sa_email(result: ProgramResult, name: str) -> str:
    account = next(a for a in result.of_type(GSA) if a.inputs["accountId"].endswith("-nodes"))
    return naming.service_account_email(account.inputs["accountId"], config(name).gcp.project_id)


# --- 13, 14, 2: the key ----------------------------------------------------------------------


@pytest.mark.parametrize("name", GCP_STACKS)
def test_secrets_are_encrypted_with_the_stack_key(name):
    result = plain(name)
    cluster = result.one(CLUSTER)
    assert cluster.inputs["databaseEncryption"] == {"state": "ENCRYPTED", "keyName": the_key(result)}


@pytest.mark.parametrize("name", GCP_STACKS)
def test_gpu_boot_disks_use_the_customer_key(name):
    result = plain(name)
    key = the_key(result)
    assert gpu_pools(result)
    for where, node_config in node_configs(result):
        assert node_config["bootDiskKmsKey"] == key, where


@pytest.mark.parametrize("name", GCP_STACKS)
def test_key_is_protected_and_retained(name):
    result = plain(name)
    for r in (result.one(KEY_RING), result.one(KEY)):
        assert r.protect and r.retain_on_delete, r.name
    key = result.one(KEY).inputs
    days = config(name).gcp.key_rotation_days
    assert key["rotationPeriod"] == f"{days * 86400}s"
    assert key["purpose"] == "ENCRYPT_DECRYPT"
    assert key["destroyScheduledDuration"] == f"{30 * 86400}s"
    assert key["versionTemplate"]["protectionLevel"] == config(name).gcp.key_protection_level


@pytest.mark.parametrize("name", GCP_STACKS)
def test_the_storage_agent_comes_from_the_provider_lookup_that_creates_it(name, monkeypatch):
    # A fresh project has no Cloud Storage agent until it is first looked up: an e-mail spelled by
    # hand names an account that does not exist, and the key binding fails. The stack asks the
    # provider (storage.projects.serviceAccount.get), and binds whatever that answers.
    calls: list[tuple[str, dict]] = []

    def call(self, args):
        calls.append((args.token, dict(args.args)))
        if args.token == "gcp:storage/getProjectServiceAccount:getProjectServiceAccount":
            return {"emailAddress": "looked-up-agent@gs-project-accounts.iam.gserviceaccount.com"}
        return {}

    monkeypatch.setattr(harness._Mocks, "call", call)
    result = run_stack(name)
    lookups = [a for t, a in calls if t == "gcp:storage/getProjectServiceAccount:getProjectServiceAccount"]
    assert [a.get("project") for a in lookups] == [config(name).gcp.project_id]
    members = result.one(KEY_BINDING).inputs["members"]
    assert "serviceAccount:looked-up-agent@gs-project-accounts.iam.gserviceaccount.com" in members
    assert not any("@gs-project-accounts" in m and "looked-up-agent" not in m for m in members)


@pytest.mark.parametrize("name", GCP_STACKS)
def test_exactly_the_three_service_agents_may_use_the_key(name):
    result = plain(name)
    number = config(name).gcp.project_number
    binding = result.one(KEY_BINDING)
    assert binding.inputs["role"] == "roles/cloudkms.cryptoKeyEncrypterDecrypter"
    assert sorted(binding.inputs["members"]) == sorted([
        f"serviceAccount:service-{number}@container-engine-robot.iam.gserviceaccount.com",
        f"serviceAccount:service-{number}@compute-system.iam.gserviceaccount.com",
        f"serviceAccount:service-{number}@gs-project-accounts.iam.gserviceaccount.com",
    ])
    # Authoritative for the role: nothing else grants it on the key.
    assert not result.of_type("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")
    assert binding.inputs["cryptoKeyId"] == f"{result.one(KEY).name}-id"


@pytest.mark.parametrize("name", GCP_STACKS)
def test_model_cache_storage_class_is_encrypted_with_the_stack_key(name):
    result = plain(name)
    sc = result.k8s("StorageClass", "llm-encrypted-pd")
    assert sc["provisioner"] == "pd.csi.storage.gke.io"
    assert sc["parameters"]["disk-encryption-kms-key"] == the_key(result)
    assert sc["parameters"]["type"] == config(name).gcp.cache_disk_type in ("pd-balanced", "pd-ssd")
    assert sc["volumeBindingMode"] == "WaitForFirstConsumer" and sc["allowVolumeExpansion"] is True
    for sts in result.kubernetes_objects("StatefulSet"):
        for claim in sts.inputs["spec"]["volumeClaimTemplates"]:
            assert claim["spec"]["storageClassName"] == "llm-encrypted-pd"


# --- 15, 16, 17: nodes -----------------------------------------------------------------------


@pytest.mark.parametrize("name", GCP_STACKS)
def test_nodes_are_shielded_with_secure_boot(name):
    result = plain(name)
    assert result.one(CLUSTER).inputs["enableShieldedNodes"] is True
    for where, node_config in node_configs(result):
        assert node_config["shieldedInstanceConfig"] == {"enableSecureBoot": True, "enableIntegrityMonitoring": True}, where
        assert node_config["imageType"] == "COS_CONTAINERD", where


@pytest.mark.parametrize("name", GCP_STACKS)
def test_pods_get_workload_identity_never_the_nodes_credentials(name):
    result = plain(name)
    project = config(name).gcp.project_id
    assert result.one(CLUSTER).inputs["workloadIdentityConfig"] == {"workloadPool": f"{project}.svc.id.goog"}
    for where, node_config in node_configs(result):
        assert node_config["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}, where
        assert node_config["metadata"]["disable-legacy-endpoints"] == "true", where


@pytest.mark.parametrize("name", GCP_STACKS)
def test_nodes_never_run_as_the_default_compute_account(name):
    result = plain(name)
    email = node_sa_email(result, name)
    number = config(name).gcp.project_number
    assert email != f"{number}-compute@developer.gserviceaccount.com"
    for where, node_config in node_configs(result):
        assert node_config["serviceAccount"] == email, where
        assert node_config["oauthScopes"] == ["https://www.googleapis.com/auth/cloud-platform"], where
    granted = sorted(m.inputs["role"] for m in result.of_type(PROJECT_MEMBER)
                     if m.inputs["member"] == f"serviceAccount:{email}")
    assert granted == sorted(NODE_ROLES) == sorted([
        "roles/logging.logWriter", "roles/monitoring.metricWriter", "roles/monitoring.viewer",
        "roles/stackdriver.resourceMetadata.writer", "roles/artifactregistry.reader"])
    # Nothing else in the project is granted to anyone by the stack.
    assert all(m.inputs["member"] == f"serviceAccount:{email}" for m in result.of_type(PROJECT_MEMBER))


def test_an_existing_node_service_account_is_used_and_none_created():
    raw, secret = stack_config("gcp-dev")
    raw = copy.deepcopy(raw)
    email = "gke-minimal@acme-llm-dev.iam.gserviceaccount.com"
    raw["llm-infra:gcp"]["node_service_account_email"] = email
    result = run_stack_program(raw, secret)
    assert not result.of_type(PROJECT_MEMBER)
    assert all(not a.inputs["accountId"].endswith("-nodes") for a in result.of_type(GSA))
    assert {c["serviceAccount"] for _, c in node_configs(result)} == {email}


# --- 18, 19: the control plane -------------------------------------------------------------------


@pytest.mark.parametrize("name", GCP_STACKS)
def test_control_plane_is_private_and_reachable_only_from_authorized_networks(name):
    cluster = plain(name).one(CLUSTER).inputs
    assert cluster["privateClusterConfig"]["enablePrivateNodes"] is True
    assert cluster["privateClusterConfig"]["enablePrivateEndpoint"] is True
    authorized = cluster["masterAuthorizedNetworksConfig"]
    assert [b["cidrBlock"] for b in authorized["cidrBlocks"]] == [
        n.cidr_block for n in config(name).gcp.master_authorized_networks]
    assert authorized["privateEndpointEnforcementEnabled"] is True
    assert authorized["gcpPublicCidrsAccessEnabled"] is False


@pytest.mark.parametrize("name", GCP_STACKS)
def test_legacy_access_is_off_and_the_cluster_is_protected(name):
    cluster = plain(name).one(CLUSTER).inputs
    assert cluster["enableLegacyAbac"] is False
    assert cluster["masterAuth"]["clientCertificateConfig"] == {"issueClientCertificate": False}
    assert cluster["deletionProtection"] is True
    assert cluster["releaseChannel"] == {"channel": config(name).gcp.release_channel}
    assert cluster["datapathProvider"] == "ADVANCED_DATAPATH"  # Dataplane V2 enforces NetworkPolicies
    assert cluster["removeDefaultNodePool"] is True and cluster["initialNodeCount"] == 1
    assert cluster["location"] == config(name).region  # regional control plane


@pytest.mark.parametrize("name", GCP_STACKS)
def test_network_is_private_with_google_access_and_nat(name):
    result = plain(name)
    # The nodes' subnetwork (gcp-dev also has its inference Gateway's proxy-only subnet).
    (subnet,) = [s.inputs for s in result.of_type(SUBNET) if not s.inputs.get("purpose")]
    assert subnet["privateIpGoogleAccess"] is True
    ranges = {r["rangeName"] for r in subnet["secondaryIpRanges"]}
    cluster = result.one(CLUSTER).inputs
    assert {cluster["ipAllocationPolicy"]["clusterSecondaryRangeName"],
            cluster["ipAllocationPolicy"]["servicesSecondaryRangeName"]} == ranges == {"pods", "services"}
    nat = result.one(NAT).inputs
    assert nat["sourceSubnetworkIpRangesToNat"] == "LIST_OF_SUBNETWORKS"


def test_an_existing_network_is_used_and_none_created():
    raw, secret = stack_config("gcp-dev")
    raw = copy.deepcopy(raw)
    raw["llm-infra:gcp"].update(network="shared-vpc", subnetwork="gke-europe-west4", pods_range_name="gke-pods",
                                services_range_name="gke-services")
    result = run_stack_program(raw, secret)
    assert not result.of_type("gcp:compute/network:Network") and not result.of_type(SUBNET)
    cluster = result.one(CLUSTER).inputs
    assert (cluster["network"], cluster["subnetwork"]) == ("shared-vpc", "gke-europe-west4")
    assert cluster["ipAllocationPolicy"]["clusterSecondaryRangeName"] == "gke-pods"


# --- 20, 31, 38: GPU pools ---------------------------------------------------------------------


@pytest.mark.parametrize("name", GCP_STACKS)
def test_gpu_pools_match_their_gpu_and_let_gke_install_the_driver(name):
    cfg = config(name)
    pools = gpu_pools(plain(name))
    assert set(pools) == {p.name for p in cfg.gpu_pools}
    for p in cfg.gpu_pools:
        node_config = pools[p.name].inputs["nodeConfig"]
        family = machine_types.GPU_FAMILIES[p.gpu]
        assert node_config["machineType"] == (p.instance_type or family.defaults[p.gpus_per_node])
        assert family.machine_types[node_config["machineType"]] == p.gpus_per_node
        assert node_config["guestAccelerators"] == [{
            "type": family.accelerator, "count": p.gpus_per_node,
            "gpuDriverInstallationConfig": {"gpuDriverVersion": cfg.gcp.gpu_driver_version}}]


@pytest.mark.parametrize("name", GCP_STACKS)
def test_gpu_pools_are_tainted_labelled_and_scale_from_their_minimum(name):
    cfg = config(name)
    pools = gpu_pools(plain(name))
    for p in cfg.gpu_pools:
        pool = pools[p.name].inputs
        assert pool["nodeConfig"]["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}]
        assert pool["nodeConfig"]["labels"]["llm-infra.io/gpu-pool"] == p.name
        assert pool["autoscaling"]["totalMinNodeCount"] == p.min_nodes
        assert pool["autoscaling"]["totalMaxNodeCount"] == p.max_nodes
        assert pool["nodeConfig"]["spot"] is p.spot
        assert pool["nodeLocations"] == (p.zones or cfg.gcp.node_zones(cfg.region))
    # The system pool is untainted: kube-system and DNS run there while GPU pools sit at zero.
    system = next(r for r in plain(name).of_type(NODE_POOL) if r.inputs["name"] == "system").inputs
    assert system["nodeConfig"]["taints"] == [] and "guestAccelerators" not in system["nodeConfig"]


def test_dev_gpu_pool_is_spot_shared_and_scales_to_zero():
    result = plain("gcp-dev")
    [pool] = gpu_pools(result).values()
    assert pool.inputs["nodeConfig"]["spot"] is True
    assert pool.inputs["autoscaling"]["totalMinNodeCount"] == 0
    assert "soleTenantConfig" not in pool.inputs["nodeConfig"]
    assert not result.of_type(NODE_GROUP) and not result.of_type(NODE_TEMPLATE)
    assert any(m.min_replicas == 0 and m.active_hours for m in config("gcp-dev").models)


def test_prod_gpu_pools_run_on_their_own_sole_tenant_node_groups():
    result = plain("gcp-prod")
    cfg = config("gcp-prod")
    templates = {t.name: t.inputs for t in result.of_type(NODE_TEMPLATE)}
    groups = result.of_type(NODE_GROUP)
    for p in cfg.gpu_pools:
        pool = gpu_pools(result)[p.name].inputs
        assert pool["nodeConfig"]["spot"] is False
        assert len(set(pool["nodeLocations"])) >= 2
        mine = [g for g in groups if g.name.startswith(f"gcp-prod-cluster-pool-{p.name}-")]
        assert sorted(g.inputs["zone"] for g in mine) == sorted(pool["nodeLocations"])
        [affinity] = pool["nodeConfig"]["soleTenantConfig"]["nodeAffinities"]
        assert affinity == {"key": "compute.googleapis.com/node-group-name", "operator": "IN",
                            "values": sorted(g.inputs["name"] for g in mine)}
        template = templates[f"gcp-prod-cluster-pool-{p.name}-node-template"]
        assert template["nodeType"] == machine_types.GPU_FAMILIES[p.gpu].sole_tenant_node_type
        for g in mine:
            assert g.inputs["nodeTemplate"] == f"gcp-prod-cluster-pool-{p.name}-node-template-id"
            # Enough hosts in one zone for the whole pool.
            per_host = 8 // p.gpus_per_node
            assert g.inputs["autoscalingPolicy"]["maxNodes"] * per_host >= p.max_nodes


# --- 21: GKE runs the device plugin ------------------------------------------------------


@pytest.mark.parametrize("name", GCP_STACKS)
def test_device_plugin_is_not_deployed_on_gke(name):
    result = plain(name)
    assert result.outputs["device_plugin_deployed"] is False
    for ds in result.kubernetes_objects("DaemonSet"):
        images = [c["image"] for c in ds.inputs["spec"]["template"]["spec"]["containers"]]
        assert not any("k8s-device-plugin" in i for i in images), ds.name


@pytest.mark.parametrize("name", GCP_STACKS)
def test_gpu_metrics_come_from_gkes_managed_dcgm_not_a_second_exporter(name):
    result = plain(name)
    monitoring = result.one("gcp:container/cluster:Cluster").inputs["monitoringConfig"]
    assert "DCGM" in monitoring["enableComponents"]
    assert monitoring["managedPrometheus"]["enabled"] is True
    for ds in result.kubernetes_objects("DaemonSet"):
        images = [c["image"] for c in ds.inputs["spec"]["template"]["spec"]["containers"]]
        assert not any("dcgm-exporter" in i for i in images), ds.name


# --- 22, 11: model store and identities ----------------------------------------------------------


@pytest.mark.parametrize("name", GCP_STACKS)
def test_model_bucket_is_cmek_uniform_private_and_versioned(name):
    result = plain(name)
    cfg = config(name)
    bucket = result.one(BUCKET).inputs
    assert bucket["name"] == (cfg.gcp.model_bucket or naming.default_model_bucket(cfg.gcp.project_id, cfg.environment))
    assert bucket["encryption"] == {"defaultKmsKeyName": the_key(result)}
    assert bucket["uniformBucketLevelAccess"] is True
    assert bucket["publicAccessPrevention"] == "enforced"
    assert bucket["versioning"] == {"enabled": True}
    assert bucket["forceDestroy"] is False
    assert bucket["location"] == cfg.region.upper()  # the key's location


@pytest.mark.parametrize("name", GCP_STACKS)
def test_model_identity_reads_only_its_prefix(name):
    result = plain(name)
    cfg = config(name)
    # No bucket-wide grant at all: every read permission sits on one model's managed folder.
    assert not [r for r in result.resources if r.type.startswith("gcp:storage/bucketIAM")]
    folders = {f.name: f.inputs for f in result.of_type(FOLDER)}
    members = result.of_type(FOLDER_MEMBER)
    assert len(members) == len(cfg.models) == len(folders)
    for m in cfg.models:
        _, bucket, prefix = parse_weights_uri(m.weights_uri)
        account = next(a for a in result.of_type(GSA) if a.name.endswith(f"-{m.name}-gsa")).inputs
        email = naming.service_account_email(account["accountId"], cfg.gcp.project_id)
        [grant] = [g.inputs for g in members if g.inputs["member"] == f"serviceAccount:{email}"]
        assert grant["role"] == "roles/storage.objectViewer"
        assert grant["bucket"] == bucket and grant["managedFolder"] == f"{prefix}/"
        assert folders[next(k for k in folders if k.endswith(f"-{m.name}-folder"))]["name"] == f"{prefix}/"


@pytest.mark.parametrize("name", GCP_STACKS)
def test_only_the_models_kubernetes_service_account_may_impersonate_its_identity(name):
    result = plain(name)
    cfg = config(name)
    bindings = result.of_type(GSA_MEMBER)
    assert len(bindings) == len(cfg.models)
    for m in cfg.models:
        account = next(a for a in result.of_type(GSA) if a.name.endswith(f"-{m.name}-gsa")).inputs
        email = naming.service_account_email(account["accountId"], cfg.gcp.project_id)
        [binding] = [b.inputs for b in bindings if b.inputs["serviceAccountId"].endswith(f"/{email}")]
        assert binding["role"] == "roles/iam.workloadIdentityUser"
        assert binding["member"] == (f"serviceAccount:{cfg.gcp.project_id}.svc.id.goog"
                                     f"[{m.namespace}/triton-{m.name}]")


@pytest.mark.parametrize("name", GCP_STACKS)
def test_every_triton_pod_lands_on_its_pool_with_its_identity(name):
    result = plain(name)
    cfg = config(name)
    pools = gpu_pools(result)
    for m in cfg.models:
        sts = result.k8s("StatefulSet", m.name, m.namespace)
        pod = sts["spec"]["template"]["spec"]
        assert pod["nodeSelector"] == {"llm-infra.io/gpu-pool": m.gpu_pool}
        assert pools[m.gpu_pool].inputs["nodeConfig"]["labels"]["llm-infra.io/gpu-pool"] == m.gpu_pool
        assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
        sa = result.k8s("ServiceAccount", pod["serviceAccountName"], m.namespace)
        account = next(a for a in result.of_type(GSA) if a.name.endswith(f"-{m.name}-gsa")).inputs
        assert sa["metadata"]["annotations"] == {
            "iam.gke.io/gcp-service-account": naming.service_account_email(account["accountId"], cfg.gcp.project_id)}
        # The pod may reach the GKE metadata server (its own identity only) for the token exchange.
        policy = result.k8s("NetworkPolicy", f"{m.name}-triton", m.namespace)
        assert {"to": [{"ipBlock": {"cidr": "169.254.169.254/32"}}],
                "ports": [{"protocol": "TCP", "port": 80}]} in policy["spec"]["egress"]


# --- 41: the kubeconfig is a secret and carries no credential -----------------------------------


@pytest.mark.parametrize("name", GCP_STACKS)
def test_kubeconfig_output_is_secret(name):
    result = wired(name)
    assert "kubeconfig" in result.secret_outputs
    assert result.masked_outputs()["kubeconfig"] == harness.SECRET_MASK
    kubeconfig = json.loads(result.outputs["kubeconfig"])
    user = kubeconfig["users"][0]["user"]
    assert set(user) == {"exec"} and user["exec"]["command"] == "gke-gcloud-auth-plugin"
    assert kubeconfig["clusters"][0]["cluster"] == {"server": "https://172.16.0.34",
                                                    "certificate-authority-data": "Q0VSVA=="}
    provider = result.one("pulumi:providers:kubernetes")
    assert "kubeconfig" in provider.secret_paths


@pytest.mark.parametrize("name", GCP_STACKS)
def test_every_resource_uses_the_stacks_explicit_providers(name):
    result = plain(name)
    gcp_provider = result.one("pulumi:providers:gcp")
    k8s_provider = result.one("pulumi:providers:kubernetes")
    assert gcp_provider.inputs["project"] == config(name).gcp.project_id
    for r in result.resources:
        # A dynamic resource (the generated Grafana password) runs in the program itself: no provider.
        if not r.custom or r.type.startswith(("pulumi:providers:", "pulumi-python:dynamic:")):
            continue
        expected = gcp_provider if r.type.startswith("gcp:") else k8s_provider
        assert r.provider and r.provider.startswith(expected.urn), r.name


def test_the_prod_plan_shows_the_gcp_platform(tmp_path):
    from llm_infra.cli import main

    assert main(["plan", "gcp-prod", "--out", str(tmp_path), "--project", str(find_project().root)]) == 0
    resources = json.loads((tmp_path / "resources.json").read_text())
    types = {r["type"] for r in resources}
    assert {KEY, CLUSTER, NODE_POOL, NODE_TEMPLATE, NODE_GROUP, BUCKET, FOLDER} <= types
    key = next(r for r in resources if r["type"] == KEY)
    assert key["protect"] is True and key["retain_on_delete"] is True
    assert json.loads((tmp_path / "outputs.json").read_text())["kubeconfig"] == harness.SECRET_MASK


# --- 42: bad GCP config fails before any resource, naming the field ---------------------------


def test_open_authorized_network_is_rejected_naming_the_field():
    problems = rejected("gcp-prod", lambda raw: raw["llm-infra:gcp"]["master_authorized_networks"].append(
        {"cidr_block": "0.0.0.0/0", "display_name": "anywhere"}))
    assert problems == ["gcp.master_authorized_networks[2].cidr_block: expected an explicit allowlist of networks "
                        "(0.0.0.0/0 would open the control plane to the whole internet), got '0.0.0.0/0'"]


def test_machine_type_that_sole_tenant_nodes_cannot_run_isrejected():
    def h200(raw):
        raw["llm-infra:gpu_pools"][1].update(gpu="nvidia-h200-141gb", instance_type="a3-ultragpu-8g")
    problems = rejected("gcp-prod", h200)
    assert problems[0] == ("gpu_pools[1].instance_type: expected a machine type that sole-tenant nodes can run "
                           "(isolation 'dedicated'): Compute Engine offers no sole-tenant node type for a3-ultragpu-8g "
                           "(nvidia-h200-141gb); use a G2, A2 or A3 High pool, or isolation 'shared', "
                           "got 'a3-ultragpu-8g'")
    # The price catalog has no europe-west4 row for A3 Ultra either (llm_infra/config/cost.py).
    assert problems[1:] == [p for p in problems if "a3-ultragpu-8g has no sourced price in europe-west4" in p]


def test_the_same_gpu_runs_on_shared_hosts():
    raw, secret = stack_config("gcp-dev")
    raw = copy.deepcopy(raw)
    raw["llm-infra:gpu_pools"][0].update(gpu="nvidia-h200-141gb", instance_type="a3-ultragpu-8g", gpus_per_node=8,
                                         zones=["europe-west4-a"])  # the only europe-west4 zone with A3 Ultra
    raw["llm-infra:cost"] = {"price_region": "us-central1"}  # A3 Ultra is priced in us-central1 only
    result = run_stack_program(raw, secret)
    assert gpu_pools(result)["l4"].inputs["nodeConfig"]["machineType"] == "a3-ultragpu-8g"


def test_wrong_cloud_uri_is_rejected_naming_the_model():
    problems = rejected("gcp-dev", lambda raw: raw["llm-infra:models"][0].update(
        weights_uri="s3://acme-llm-dev-gcp-dev-llm-models/meta-llama/Llama-3.1-8B-Instruct"))
    assert problems == ["models[0].weights_uri: expected a gs:// URI for cloud 'gcp', got "
                        "'s3://acme-llm-dev-gcp-dev-llm-models/meta-llama/Llama-3.1-8B-Instruct'"]


@pytest.mark.parametrize(("stack", "change", "expected"), [
    ("gcp-dev", lambda raw: raw["llm-infra:models"][1].update(weights_uri="gs://another-bucket/toy-llm"),
     "models[1].weights_uri: expected gs://acme-llm-dev-gcp-dev-llm-models/PREFIX (the stack's model bucket"),
    ("gcp-dev", lambda raw: raw["llm-infra:models"][1].update(
        weights_uri="gs://acme-llm-dev-gcp-dev-llm-models/meta-llama/Llama-3.1-8B-Instruct/x"),
     "models[1].weights_uri: expected a prefix that does not overlap models[0]'s"),
    ("gcp-dev", lambda raw: raw["llm-infra:models"][1].update(weights_uri="gs://acme-llm-dev-gcp-dev-llm-models"),
     "models[1].weights_uri: expected gs://acme-llm-dev-gcp-dev-llm-models/PREFIX with a prefix of the model's own"),
    ("gcp-dev", lambda raw: raw["llm-infra:gpu_pools"][0].update(instance_type="a3-highgpu-8g"),
     "gpu_pools[0].instance_type: expected a machine type that carries nvidia-l4"),
    ("gcp-dev", lambda raw: raw["llm-infra:gpu_pools"][0].update(instance_type="g2-standard-24"),
     "gpu_pools[0].instance_type: expected a machine type with gpus_per_node (1) x nvidia-l4, got 'g2-standard-24'"),
    ("gcp-dev", lambda raw: raw["llm-infra:gpu_pools"][0].update(gpu="nvidia-a10g", instance_type=None),
     "gpu_pools[0].gpu: expected a GPU that Compute Engine offers"),
    ("gcp-dev", lambda raw: raw["llm-infra:gpu_pools"][0].update(
        gpu="nvidia-h100-80gb", instance_type="a3-highgpu-1g", spot=False),
     "gpu_pools[0].instance_type: expected spot: true or an on-demand machine type (a3-highgpu-8g)"),
    ("gcp-dev", lambda raw: raw["llm-infra:gpu_pools"][0].update(zones=["us-central1-a"]),
     "gpu_pools[0].zones[0]: expected one of the stack's zones"),
    ("gcp-dev", lambda raw: raw["llm-infra:gcp"].update(zones=["us-central1-a"]),
     "gcp.zones[0]: expected a zone of region 'europe-west4'"),
    ("gcp-dev", lambda raw: raw["llm-infra:gcp"].update(project_number="0123"),
     "gcp.project_number: expected match pattern"),
    ("gcp-dev", lambda raw: raw["llm-infra:gcp"].update(
        node_service_account_email="412345678901-compute@developer.gserviceaccount.com"),
     "gcp.node_service_account_email: expected a dedicated minimal service account"),
    ("gcp-dev", lambda raw: raw["llm-infra:gcp"].update(network="shared-vpc"),
     "gcp.subnetwork: expected with network"),
    ("gcp-dev", lambda raw: raw["llm-infra:gcp"].update(master_authorized_networks=[]),
     "gcp.master_authorized_networks: expected"),
    ("gcp-dev", lambda raw: raw.pop("llm-infra:gcp"),
     "gcp: expected project_id, project_number and master_authorized_networks for cloud 'gcp', got nothing"),
    ("gcp-prod", lambda raw: raw["llm-infra:gpu_pools"][0].update(zones=["europe-west4-b"]),
     "gpu_pools[0].zones: expected at least 2 zones in a production stack"),
    ("gcp-prod", lambda raw: raw["llm-infra:gcp"].update(master_cidr="172.16.0.0/24"),
     "gcp.master_cidr: expected a /28"),
])
def test_bad_gcp_config_is_rejected_before_any_resource(stack, change, expected):
    problems = rejected(stack, change)
    assert any(p.startswith(expected) for p in problems), problems
