"""The AWS platform's guarantees (SECURITY.md 1-12, 31, 38, 41, 42) on the dev, staging and prod stacks.

Two views of each stack:

- `plain(name)`: exactly what `llm-infra plan` shows (the harness's mocks return a
  resource's inputs as its outputs, so provider-computed attributes such as a KMS key's
  ARN are absent);
- `plain(name)`: the same program with mocks that also return the attributes AWS would
  compute (ARNs, the cluster's OIDC issuer, the node group's Auto Scaling group), so
  that tests can follow the wiring: "this volume is encrypted with *the stack's* key".
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from typing import Any

import pytest

import llm_infra.testing as harness
from llm_infra.aws.key import AUTOSCALING_SERVICE_ROLE
from llm_infra.config import parse_stack_config, parse_weights_uri
from llm_infra.plan import find_project, run_stack, run_stack_program, stack_config
from llm_infra.testing import CapturedResource, ProgramResult

from _stacks import rejected, with_changed_config

AWS_STACKS = ["dev", "staging", "prod"]
KEY = "aws:kms/key:Key"
ROLE = "aws:iam/role:Role"
ATTACH = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
INLINE = "aws:iam/rolePolicy:RolePolicy"
LT = "aws:ec2/launchTemplate:LaunchTemplate"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
CLUSTER = "aws:eks/cluster:Cluster"
SUBNET = "aws:ec2/subnet:Subnet"
OIDC = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
ADDON = "aws:eks/addon:Addon"


# --- the two views --------------------------------------------------------------------


@lru_cache(maxsize=None)
def plain(name: str) -> ProgramResult:
    return run_stack(name)


@lru_cache(maxsize=None)
def config(name: str):
    raw, secret = stack_config(name)
    return parse_stack_config({k.split(":", 1)[1]: v for k, v in raw.items() if k not in secret})


def the_key_arn(result: ProgramResult) -> str:
    return result.one(KEY).outputs["arn"]


def policy(doc: Any) -> dict:
    return json.loads(doc) if isinstance(doc, str) else doc


def actions(statement: dict) -> list[str]:
    a = statement["Action"]
    return [a] if isinstance(a, str) else list(a)


def role_named(result: ProgramResult, role_name: str) -> CapturedResource:
    found = [r for r in result.of_type(ROLE) if r.inputs["name"] == role_name]
    assert len(found) == 1, role_name
    return found[0]


def attachments_of(result: ProgramResult, role: CapturedResource) -> set[str]:
    return {a.inputs["policyArn"].split("/")[-1] for a in result.of_type(ATTACH) if a.inputs["role"] == role.inputs["name"]}


def inline_of(result: ProgramResult, role: CapturedResource) -> list[dict]:
    return [policy(p.inputs["policy"]) for p in result.of_type(INLINE) if p.inputs["role"] == f"{role.name}-id"]


# --- 2: the key -----------------------------------------------------------------------


@pytest.mark.parametrize("name", AWS_STACKS)
def test_key_is_protected_and_retained(name):
    key = plain(name).one(KEY)
    assert key.protect is True
    assert key.retain_on_delete is True
    assert key.inputs["enableKeyRotation"] is True
    assert key.inputs["deletionWindowInDays"] == 30
    alias = plain(name).one("aws:kms/alias:Alias")
    assert alias.inputs["name"] == f"alias/llm-{name}"


@pytest.mark.parametrize("name", AWS_STACKS)
def test_the_cluster_creator_may_create_the_eks_grant_without_grant_is_for_aws_resource(name):
    # EKS User Guide: CreateCluster does not support kms:GrantIsForAWSResource; with it as the only
    # CreateGrant the deployer has, creating the cluster with secrets encryption fails.
    cfg = config(name)
    doc = policy(plain(name).one(KEY).inputs["policy"])
    deployer = cfg.aws.admin_principal_arns[0]
    usable = [s for s in doc["Statement"] if "kms:CreateGrant" in actions(s)
              and "kms:GrantIsForAWSResource" not in json.dumps(s.get("Condition", {}))
              and deployer in s.get("Condition", {}).get("ArnEquals", {}).get("aws:PrincipalArn", [])]
    assert len(usable) == 1, doc
    assert "kms:DescribeKey" in actions(usable[0])
    assert usable[0]["Principal"] == {"AWS": f"arn:aws:iam::{cfg.aws.account_id}:root"}
    assert sorted(usable[0]["Condition"]["ArnEquals"]["aws:PrincipalArn"]) == sorted(cfg.aws.admin_principal_arns)


@pytest.mark.parametrize("name", AWS_STACKS)
def test_key_policy_names_its_principals_and_no_wildcards(name):
    cfg = config(name)
    account = cfg.aws.account_id
    doc = policy(plain(name).one(KEY).inputs["policy"])
    by_sid = {s["Sid"]: s for s in doc["Statement"]}
    for s in doc["Statement"]:
        assert s["Effect"] == "Allow"
        principal = s["Principal"]
        assert principal != "*" and "*" not in json.dumps(principal), s
        assert all("*" not in a for a in actions(s)), s
    root = f"arn:aws:iam::{account}:root"
    assert by_sid["KeyAdministration"]["Principal"] == {"AWS": root}
    assert not {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"} & set(actions(by_sid["KeyAdministration"]))
    # EKS through the cluster role, EBS through the Auto Scaling service-linked role.
    assert by_sid["EksSecretsEncryption"]["Condition"]["ArnEquals"]["aws:PrincipalArn"] == [
        f"arn:aws:iam::{account}:role/llm-{name}-cluster"]
    assert by_sid["NodeVolumesViaAutoScaling"]["Principal"] == {
        "AWS": f"arn:aws:iam::{account}:role/{AUTOSCALING_SERVICE_ROLE}"}
    assert by_sid["NodeVolumeGrantsViaAutoScaling"]["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    logs = by_sid["ControlPlaneLogs"]
    assert logs["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}
    assert logs["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"] == (
        f"arn:aws:logs:eu-west-1:{account}:log-group:/aws/eks/llm-{name}/cluster")
    # Model workloads: decrypt only, through S3 only, exactly the stack's model roles.
    models = by_sid["ModelWeightsDecryptViaS3"]
    assert actions(models) == ["kms:Decrypt"]
    assert models["Condition"]["StringEquals"] == {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}
    assert sorted(models["Condition"]["ArnEquals"]["aws:PrincipalArn"]) == sorted(
        f"arn:aws:iam::{account}:role/llm-{name}-model-{m.name}" for m in cfg.models)


@pytest.mark.parametrize("name", AWS_STACKS)
def test_every_policy_we_write_allows_no_wildcard_action(name):
    result = plain(name)
    docs = [policy(r.inputs["policy"]) for r in result.resources
            if r.type in (KEY, INLINE, "aws:s3/bucketPolicy:BucketPolicy")]
    docs += [policy(r.inputs["assumeRolePolicy"]) for r in result.of_type(ROLE)]
    assert len(docs) > 10
    for doc in docs:
        for s in doc["Statement"]:
            if s["Effect"] == "Allow":
                assert all(a != "*" and not a.endswith("*") for a in actions(s)), s
    attached = {a.inputs["policyArn"] for a in result.of_type(ATTACH)}
    assert not any("AdministratorAccess" in p or "FullAccess" in p for p in attached)


# --- 1, 3, 4, 5: the control plane --------------------------------------------------------


@pytest.mark.parametrize("name", AWS_STACKS)
def test_cluster_secrets_are_encrypted_with_the_stack_key(name):
    result = plain(name)
    enc = result.one(CLUSTER).inputs["encryptionConfig"]
    assert enc["resources"] == ["secrets"]
    assert enc["provider"]["keyArn"] == the_key_arn(result)


@pytest.mark.parametrize("name", AWS_STACKS)
def test_public_endpoint_off_or_allowlisted(name):
    vpc = plain(name).one(CLUSTER).inputs["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True
    allowlist = config(name).aws.public_access_cidrs
    if allowlist:
        assert vpc["endpointPublicAccess"] is True
        assert vpc["publicAccessCidrs"] == allowlist
        assert "0.0.0.0/0" not in vpc["publicAccessCidrs"]
    else:
        assert vpc["endpointPublicAccess"] is False
        assert "publicAccessCidrs" not in vpc


def test_only_staging_opens_an_allowlisted_public_endpoint():
    assert plain("staging").one(CLUSTER).inputs["vpcConfig"]["publicAccessCidrs"] == ["203.0.113.0/24"]
    assert plain("prod").one(CLUSTER).inputs["vpcConfig"]["endpointPublicAccess"] is False


@pytest.mark.parametrize("name", AWS_STACKS)
def test_control_plane_logs_go_to_a_key_encrypted_log_group_with_retention(name):
    result = plain(name)
    assert {"api", "audit", "authenticator"} <= set(result.one(CLUSTER).inputs["enabledClusterLogTypes"])
    group = result.one("aws:cloudwatch/logGroup:LogGroup")
    assert group.inputs["name"] == f"/aws/eks/llm-{name}/cluster"
    assert group.inputs["kmsKeyId"] == the_key_arn(result)
    assert group.inputs["retentionInDays"] == config(name).aws.log_retention_days


@pytest.mark.parametrize("name", AWS_STACKS)
def test_access_entries_only_and_the_creator_is_not_admin(name):
    result = plain(name)
    access = result.one(CLUSTER).inputs["accessConfig"]
    assert access == {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False}
    admins = config(name).aws.admin_principal_arns
    assert sorted(e.inputs["principalArn"] for e in result.of_type("aws:eks/accessEntry:AccessEntry")) == sorted(admins)
    associations = result.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    assert sorted(a.inputs["principalArn"] for a in associations) == sorted(admins)
    for a in associations:
        assert a.inputs["policyArn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
        assert a.inputs["accessScope"] == {"type": "cluster"}


@pytest.mark.parametrize("name", AWS_STACKS)
def test_kubernetes_version_is_pinned_and_addons_are_managed(name):
    result = plain(name)
    assert result.one(CLUSTER).inputs["version"] == config(name).aws.kubernetes_version
    assert result.one(CLUSTER).inputs["bootstrapSelfManagedAddons"] is False
    addons = {a.inputs["addonName"]: a.inputs for a in result.of_type(ADDON)}
    assert set(addons) == {"vpc-cni", "coredns", "kube-proxy", "aws-ebs-csi-driver"}
    # The VPC CNI enforces the NetworkPolicies that every pod is selected by.
    assert json.loads(addons["vpc-cni"]["configurationValues"]) == {"enableNetworkPolicy": "true"}
    cni = role_named(result, f"llm-{name}-vpc-cni")
    account = config(name).aws.account_id
    assert addons["vpc-cni"]["serviceAccountRoleArn"] == f"arn:aws:iam::{account}:role/llm-{name}-vpc-cni"
    assert attachments_of(result, cni) == {"AmazonEKS_CNI_Policy"}
    csi = role_named(result, f"llm-{name}-ebs-csi")
    assert addons["aws-ebs-csi-driver"]["serviceAccountRoleArn"] == f"arn:aws:iam::{account}:role/llm-{name}-ebs-csi"
    assert attachments_of(result, csi) == {"AmazonEBSCSIDriverPolicy"}
    [kms] = inline_of(result, csi)
    for s in kms["Statement"]:
        assert s["Resource"] == the_key_arn(result)
    grants = next(s for s in kms["Statement"] if "kms:CreateGrant" in actions(s))
    assert grants["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}


@pytest.mark.parametrize("name", AWS_STACKS)
def test_irsa_roles_trust_only_their_service_accounts(name):
    result = plain(name)
    issuer = f"oidc.eks.eu-west-1.amazonaws.com/id/LLM-{name.upper()}"
    provider_arn = f"arn:aws:iam::{config(name).aws.account_id}:oidc-provider/{issuer}"
    oidc = result.one(OIDC)
    assert oidc.inputs["clientIdLists"] == ["sts.amazonaws.com"]
    assert oidc.inputs["url"] == f"https://{issuer}"
    expected = {f"llm-{name}-vpc-cni": "kube-system:aws-node",
                f"llm-{name}-ebs-csi": "kube-system:ebs-csi-controller-sa",
                f"llm-{name}-cluster-autoscaler": "kube-system:cluster-autoscaler"}
    for role_name, sa in expected.items():
        [statement] = policy(role_named(result, role_name).inputs["assumeRolePolicy"])["Statement"]
        assert statement["Principal"] == {"Federated": provider_arn}
        assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert statement["Condition"] == {"StringEquals": {f"{issuer}:sub": f"system:serviceaccount:{sa}",
                                                           f"{issuer}:aud": "sts.amazonaws.com"}}


# --- 6-10, 31: nodes ----------------------------------------------------------------------


@pytest.mark.parametrize("name", AWS_STACKS)
def test_launch_templates_require_imdsv2_with_hop_limit_one_and_no_key_pair(name):
    templates = plain(name).of_type(LT)
    assert len(templates) == len(config(name).gpu_pools) + 1  # + the system nodes
    for lt in templates:
        assert lt.inputs["metadataOptions"] == {"httpEndpoint": "enabled", "httpTokens": "required",
                                                "httpPutResponseHopLimit": 1, "instanceMetadataTags": "disabled"}
        assert "keyName" not in lt.inputs
        assert "networkInterfaces" not in lt.inputs
    for ng in plain(name).of_type(NODE_GROUP):
        assert "remoteAccess" not in ng.inputs


@pytest.mark.parametrize("name", AWS_STACKS)
def test_gpu_root_volume_is_encrypted_with_the_stack_key(name):
    result = plain(name)
    for lt in result.of_type(LT):
        volumes = lt.inputs["blockDeviceMappings"]
        assert volumes
        for v in volumes:
            assert v["ebs"]["encrypted"] == "true"
            assert v["ebs"]["kmsKeyId"] == the_key_arn(result)
            assert v["ebs"]["volumeType"] == "gp3"


def test_bottlerocket_encrypts_its_os_and_data_volumes():
    raw, secret = stack_config("dev")
    raw = copy.deepcopy(raw)
    raw["llm-infra:aws"]["ami_type"] = "BOTTLEROCKET_x86_64_NVIDIA"
    result = run_stack_program(raw, secret)
    pool = next(lt for lt in result.of_type(LT) if lt.name.endswith("pool-l4-lt"))
    assert [v["deviceName"] for v in pool.inputs["blockDeviceMappings"]] == ["/dev/xvda", "/dev/xvdb"]
    assert all(v["ebs"]["kmsKeyId"] == the_key_arn(result) for v in pool.inputs["blockDeviceMappings"])
    assert result.one(NODE_GROUP, "dev-cluster-pool-l4-node-group").inputs["amiType"] == "BOTTLEROCKET_x86_64_NVIDIA"


@pytest.mark.parametrize("name", AWS_STACKS)
def test_dedicated_isolation_sets_dedicated_tenancy_on_nodes_never_on_the_vpc(name):
    result = plain(name)
    dedicated = config(name).isolation == "dedicated"
    for lt in result.of_type(LT):
        if dedicated:
            assert lt.inputs["placement"] == {"tenancy": "dedicated"}
        else:
            assert "placement" not in lt.inputs
    assert result.one("aws:ec2/vpc:Vpc").inputs["instanceTenancy"] == "default"


@pytest.mark.parametrize("name", AWS_STACKS)
def test_nodes_only_in_private_subnets_without_public_ips(name):
    result = plain(name)
    subnets = result.of_type(SUBNET)
    private = {f"{s.name}-id" for s in subnets if "-private-" in s.name}
    zones = {s.inputs["availabilityZone"] for s in subnets if "-private-" in s.name}
    assert len(zones) >= 2
    for s in subnets:
        assert s.inputs["mapPublicIpOnLaunch"] is False
        if "-private-" in s.name:
            assert s.inputs["tags"]["kubernetes.io/role/internal-elb"] == "1"
    for ng in result.of_type(NODE_GROUP):
        assert set(ng.inputs["subnetIds"]) <= private, ng.name
    assert set(result.one(CLUSTER).inputs["vpcConfig"]["subnetIds"]) <= private


@pytest.mark.parametrize("name", AWS_STACKS)
def test_node_role_has_only_worker_and_ecr_policies(name):
    result = plain(name)
    node_groups = result.of_type(NODE_GROUP)
    assert len(node_groups) == len(config(name).gpu_pools) + 1
    for ng in node_groups:
        role = role_named(result, ng.inputs["nodeRoleArn"].split("/")[-1])
        assert attachments_of(result, role) == {"AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly"}
        assert inline_of(result, role) == []


# The EC2 type each shipped pool runs on: one L4 (g6.2xlarge, as the README's stack table says) or eight H100s.
INSTANCE_TYPES = {"dev": {"l4": "g6.2xlarge"}, "staging": {"l4": "g6.2xlarge"},
                  "prod": {"l4": "g6.2xlarge", "h100": "p5.48xlarge"}}


@pytest.mark.parametrize("name", AWS_STACKS)
def test_gpu_pools_are_tainted_labelled_and_tagged_to_scale_from_zero(name):
    result = plain(name)
    cfg = config(name)
    for pool in cfg.gpu_pools:
        ng = result.one(NODE_GROUP, f"{name}-cluster-pool-{pool.name}-node-group").inputs
        assert ng["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}]
        assert ng["labels"]["llm-infra.io/gpu-pool"] == pool.name
        assert ng["amiType"] in ("AL2023_x86_64_NVIDIA", "BOTTLEROCKET_x86_64_NVIDIA")
        assert ng["capacityType"] == ("SPOT" if pool.spot else "ON_DEMAND")
        assert ng["instanceTypes"] == [INSTANCE_TYPES[name][pool.name]]
        assert ng["scalingConfig"] == {"minSize": pool.min_nodes, "maxSize": pool.max_nodes,
                                       "desiredSize": pool.min_nodes}
        template = "k8s.io/cluster-autoscaler/node-template"
        expected = {
            f"{template}/resources/nvidia.com/gpu": str(pool.gpus_per_node),
            f"{template}/taint/nvidia.com/gpu": "true:NoSchedule",
            f"{template}/label/llm-infra.io/gpu-pool": pool.name,
            "k8s.io/cluster-autoscaler/enabled": "true",
            f"k8s.io/cluster-autoscaler/llm-{name}": "owned",
        }
        assert expected.items() <= ng["tags"].items()
        # EKS does not copy node group tags to the Auto Scaling group: the templates are set there too.
        asg_tags = {t.inputs["tag"]["key"]: t.inputs["tag"]["value"]
                    for t in result.of_type("aws:autoscaling/tag:Tag")
                    if t.inputs["autoscalingGroupName"] == f"eks-{ng['nodeGroupName']}-asg"}
        assert {k: v for k, v in expected.items() if k.startswith(template)}.items() <= asg_tags.items()


def test_dev_has_a_pool_that_scales_to_zero_and_a_model_that_does():
    cfg = config("dev")
    assert any(p.min_nodes == 0 and p.spot for p in cfg.gpu_pools)
    assert any(m.min_replicas == 0 for m in cfg.models)
    ng = plain("dev").one(NODE_GROUP, "dev-cluster-pool-l4-node-group").inputs
    assert ng["scalingConfig"]["minSize"] == 0


def test_prod_is_dedicated_on_demand_multi_zone_with_two_pools():
    cfg = config("prod")
    assert cfg.production and cfg.isolation == "dedicated"
    assert {p.gpu for p in cfg.gpu_pools} == {"nvidia-l4", "nvidia-h100-80gb"}
    result = plain("prod")
    for ng in result.of_type(NODE_GROUP):
        assert ng.inputs["capacityType"] == "ON_DEMAND"
        assert len(set(ng.inputs["subnetIds"])) >= 2
    assert all(m.min_replicas >= 2 for m in cfg.models)
    assert len(result.kubernetes_objects("PodDisruptionBudget")) == len(cfg.models)


def test_a_pool_with_zones_gets_only_their_subnets():
    raw, secret = stack_config("prod")
    raw = copy.deepcopy(raw)
    raw["llm-infra:gpu_pools"][1]["zones"] = ["eu-west-1a", "eu-west-1b"]
    result = run_stack_program(raw, secret)
    ng = result.one(NODE_GROUP, "prod-cluster-pool-h100-node-group")
    assert sorted(ng.inputs["subnetIds"]) == ["prod-cluster-network-private-eu-west-1a-id",
                                             "prod-cluster-network-private-eu-west-1b-id"]


# --- autoscaler -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", AWS_STACKS)
def test_cluster_autoscaler_scales_only_this_clusters_node_groups(name):
    result = plain(name)
    role = role_named(result, f"llm-{name}-cluster-autoscaler")
    [doc] = inline_of(result, role)
    account = config(name).aws.account_id
    unscoped = [a for s in doc["Statement"] if s["Resource"] == "*" for a in actions(s)]
    assert all(s["Effect"] == "Allow" for s in doc["Statement"])
    # On every resource ("*") the autoscaler may only read: no call there changes anything.
    assert unscoped and all(a.split(":")[1].startswith(("Describe", "Get")) for a in unscoped), unscoped
    # ... and it may read what it needs to scale from zero (upstream's minimal policy,
    # kubernetes/autoscaler cluster-autoscaler/cloudprovider/aws/README.md, "Minimal IAM Permissions Policy").
    assert {"autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
            "ec2:DescribeLaunchTemplateVersions", "ec2:DescribeInstanceTypes"} <= set(unscoped)
    write = next(s for s in doc["Statement"] if "autoscaling:SetDesiredCapacity" in actions(s))
    assert sorted(actions(write)) == ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"]
    assert write["Condition"] == {"StringEquals": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/llm-{name}": "owned"}}
    assert write["Resource"].startswith(f"arn:aws:autoscaling:eu-west-1:{account}:autoScalingGroup:")
    describe_ng = next(s for s in doc["Statement"] if actions(s) == ["eks:DescribeNodegroup"])
    assert describe_ng["Resource"] == f"arn:aws:eks:eu-west-1:{account}:nodegroup/llm-{name}/*/*"

    deployment = result.k8s("Deployment", "cluster-autoscaler", "kube-system")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert (f"--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,"
            f"k8s.io/cluster-autoscaler/llm-{name}") in container["command"]
    assert container["image"].endswith(f"v{config(name).aws.kubernetes_version}.0")
    sa = result.k8s("ServiceAccount", "cluster-autoscaler", "kube-system")
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == (
        f"arn:aws:iam::{account}:role/llm-{name}-cluster-autoscaler")
    rules = result.k8s("ClusterRole", "cluster-autoscaler")["rules"]
    assert not any("*" in r.get("verbs", []) + r.get("resources", []) + r.get("apiGroups", []) for r in rules)


# --- 11, 12: model store and identities -----------------------------------------------------


@pytest.mark.parametrize("name", AWS_STACKS)
def test_model_bucket_is_encrypted_private_versioned_and_tls_only(name):
    result = plain(name)
    bucket_name = parse_weights_uri(config(name).models[0].weights_uri)[1]
    bucket = result.one("aws:s3/bucket:Bucket")
    assert bucket.inputs["bucket"] == bucket_name
    assert bucket.inputs["forceDestroy"] is False
    [rule] = result.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration").inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": the_key_arn(result)}
    assert rule["bucketKeyEnabled"] is True
    block = result.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                         "restrictPublicBuckets"))
    versioning = result.one("aws:s3/bucketVersioning:BucketVersioning").inputs
    assert versioning["versioningConfiguration"]["status"] == "Enabled"
    doc = policy(result.one("aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    tls = next(s for s in doc["Statement"] if s["Sid"] == "DenyInsecureTransport")
    assert tls["Effect"] == "Deny"
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert tls["Resource"] == [f"arn:aws:s3:::{bucket_name}", f"arn:aws:s3:::{bucket_name}/*"]
    assert all(s["Effect"] == "Deny" for s in doc["Statement"])


@pytest.mark.parametrize("name", AWS_STACKS)
def test_workload_role_trusts_only_its_service_account(name):
    result = plain(name)
    issuer = f"oidc.eks.eu-west-1.amazonaws.com/id/LLM-{name.upper()}"
    for m in config(name).models:
        role = role_named(result, f"llm-{name}-model-{m.name}")
        [statement] = policy(role.inputs["assumeRolePolicy"])["Statement"]
        assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert statement["Principal"] == {"Federated": result.one(OIDC).outputs["arn"]}
        assert result.one(OIDC).outputs["arn"].endswith(f":oidc-provider/{issuer}")
        assert statement["Condition"] == {"StringEquals": {
            f"{issuer}:sub": f"system:serviceaccount:{m.namespace}:triton-{m.name}",
            f"{issuer}:aud": "sts.amazonaws.com"}}


@pytest.mark.parametrize("name", AWS_STACKS)
def test_workload_role_reads_its_own_prefix_only_and_decrypts_through_s3(name):
    result = plain(name)
    for m in config(name).models:
        _, bucket, prefix = parse_weights_uri(m.weights_uri)
        role = role_named(result, f"llm-{name}-model-{m.name}")
        assert attachments_of(result, role) == set()
        [doc] = inline_of(result, role)
        by_action = {a: s for s in doc["Statement"] for a in actions(s)}
        assert set(by_action) == {"s3:ListBucket", "s3:GetObject", "kms:Decrypt"}
        assert by_action["s3:ListBucket"]["Resource"] == f"arn:aws:s3:::{bucket}"
        assert by_action["s3:ListBucket"]["Condition"] == {"StringLike": {"s3:prefix": [f"{prefix}/", f"{prefix}/*"]}}
        assert by_action["s3:GetObject"]["Resource"] == f"arn:aws:s3:::{bucket}/{prefix}/*"
        assert by_action["kms:Decrypt"]["Resource"] == the_key_arn(result)
        assert by_action["kms:Decrypt"]["Condition"] == {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}


@pytest.mark.parametrize("name", AWS_STACKS)
def test_every_triton_pod_lands_on_its_pool_with_its_identity(name):
    result = plain(name)
    cfg = config(name)
    pools = {ng.inputs["labels"]["llm-infra.io/gpu-pool"]: ng.inputs for ng in result.of_type(NODE_GROUP)
             if "llm-infra.io/gpu-pool" in ng.inputs["labels"]}
    for m in cfg.models:
        sts = result.k8s("StatefulSet", m.name, m.namespace)
        pod = sts["spec"]["template"]["spec"]
        assert pod["nodeSelector"] == {"llm-infra.io/gpu-pool": m.gpu_pool}
        pool = pools[m.gpu_pool]
        # The pod tolerates exactly the taint its pool carries.
        taint = pool["taints"][0]
        assert {"key": taint["key"], "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
        triton = next(c for c in pod["containers"] if c["name"] == "triton")
        assert int(triton["resources"]["limits"]["nvidia.com/gpu"]) <= cfg.pool(m.gpu_pool).gpus_per_node
        sa = result.k8s("ServiceAccount", pod["serviceAccountName"], m.namespace)
        assert sa["metadata"]["annotations"] == {
            "eks.amazonaws.com/role-arn": f"arn:aws:iam::{cfg.aws.account_id}:role/llm-{name}-model-{m.name}"}
        assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] == "llm-encrypted-gp3"


@pytest.mark.parametrize("name", AWS_STACKS)
def test_storage_class_is_gp3_encrypted_with_the_stack_key(name):
    result = plain(name)
    sc = result.k8s("StorageClass", "llm-encrypted-gp3")
    assert sc["provisioner"] == "ebs.csi.aws.com"
    assert sc["parameters"]["type"] == "gp3"
    assert sc["parameters"]["encrypted"] == "true"
    assert sc["parameters"]["kmsKeyId"] == the_key_arn(result)
    assert sc["volumeBindingMode"] == "WaitForFirstConsumer"
    assert sc["allowVolumeExpansion"] is True


# --- providers, outputs ---------------------------------------------------------------------


@pytest.mark.parametrize("name", AWS_STACKS)
def test_every_resource_uses_an_explicit_provider(name):
    result = plain(name)
    aws_provider = result.one("pulumi:providers:aws")
    assert aws_provider.inputs["region"] == "eu-west-1"
    assert json.loads(aws_provider.inputs["allowedAccountIds"]) == [config(name).aws.account_id]
    k8s_provider = result.one("pulumi:providers:kubernetes")
    for r in result.resources:
        if r.custom and r.type.startswith("aws:"):
            assert r.provider and r.provider.startswith(aws_provider.urn), r.name
        if r.is_kubernetes_object:
            assert r.provider and r.provider.startswith(k8s_provider.urn), r.name


@pytest.mark.parametrize("name", AWS_STACKS)
def test_kubeconfig_output_is_secret(name):
    result = plain(name)
    assert "kubeconfig" in result.secret_outputs
    assert result.masked_outputs()["kubeconfig"] == harness.SECRET_MASK
    kubeconfig = json.loads(result.outputs["kubeconfig"])
    user = kubeconfig["users"][0]["user"]
    assert "token" not in user and user["exec"]["command"] == "aws"
    assert user["exec"]["args"][-4:-2] == ["--cluster-name", f"llm-{name}"]
    assert kubeconfig["clusters"][0]["cluster"]["server"] == result.one(CLUSTER).outputs["endpoint"]
    provider = result.one("pulumi:providers:kubernetes")
    assert "kubeconfig" in provider.secret_paths


@pytest.mark.parametrize("name", AWS_STACKS)
def test_eks_runs_our_device_plugin(name):
    result = plain(name)
    assert result.outputs["device_plugin_deployed"] is True
    assert result.kubernetes_objects("DaemonSet")


def test_the_prod_plan_shows_the_aws_platform(tmp_path):
    from llm_infra.cli import main

    assert main(["plan", "prod", "--out", str(tmp_path), "--project", str(find_project().root)]) == 0
    resources = json.loads((tmp_path / "resources.json").read_text())
    types = {r["type"] for r in resources}
    assert {KEY, CLUSTER, NODE_GROUP, LT, "aws:s3/bucket:Bucket", OIDC} <= types
    key = next(r for r in resources if r["type"] == KEY)
    assert key["protect"] is True and key["retain_on_delete"] is True
    assert json.loads((tmp_path / "outputs.json").read_text())["kubeconfig"] == harness.SECRET_MASK


# --- 42: bad AWS config fails before any resource, naming the field ---------------------------


def test_open_public_endpoint_is_rejected_naming_the_field():
    problems = rejected("staging", lambda raw: raw["llm-infra:aws"].update(
        public_access_cidrs=["203.0.113.0/24", "0.0.0.0/0"]))
    assert len(problems) == 1
    assert problems[0].startswith("aws.public_access_cidrs[1]: expected an explicit allowlist")
    assert problems[0].endswith("got '0.0.0.0/0'")


def test_host_tenancy_with_spot_is_rejected_naming_the_pool():
    def host_with_spot(raw):
        raw["llm-infra:aws"].update(
            dedicated_tenancy="host",
            host_resource_group_arn="arn:aws:resource-groups:eu-west-1:123456789012:group/gpu-hosts")
        raw["llm-infra:gpu_pools"][0]["spot"] = True
    problems = rejected("staging", host_with_spot)
    assert problems == ["gpu_pools[0].spot: expected false: EC2 runs no Spot Instances on Dedicated Hosts "
                        "(aws.dedicated_tenancy 'host'; "
                        "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_SpotPlacement.html), got true"]


def test_staging_runs_dedicated_instances_on_demand():
    # Staging once asked for Dedicated Spot on g6.xlarge, which EC2 does not offer: the node group never launched.
    cfg = config("staging")
    assert cfg.isolation == "dedicated" and not any(p.spot for p in cfg.gpu_pools)
    for ng in plain("staging").of_type(NODE_GROUP):
        if ng.inputs.get("labels", {}).get("llm-infra.io/gpu-pool"):
            assert ng.inputs["capacityType"] == "ON_DEMAND"
    for lt in plain("staging").of_type(LT):
        assert lt.inputs["placement"] == {"tenancy": "dedicated"}


def test_dedicated_spot_on_a_size_ec2_does_not_offer_is_rejected():
    problems = rejected("staging", lambda raw: raw["llm-infra:gpu_pools"][0].update(spot=True))
    assert problems == [
        "gpu_pools[0].spot: expected false or the largest size of the family (g6.48xlarge): EC2 offers Dedicated "
        "Spot Instances only on the largest or metal size of a family "
        "(https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-requests.html), got spot with dedicated 'g6.2xlarge'"]


def test_dedicated_spot_on_the_largest_size_is_planned():
    def largest(raw):
        raw["llm-infra:gpu_pools"][0].update(spot=True, instance_type="g6.48xlarge", gpus_per_node=8)
    result = with_changed_config("staging", largest)
    groups = [ng for ng in result.of_type(NODE_GROUP) if ng.inputs["capacityType"] == "SPOT"]
    assert [ng.inputs["instanceTypes"] for ng in groups] == [["g6.48xlarge"]]
    assert {lt.inputs["placement"]["tenancy"] for lt in result.of_type(LT)} == {"dedicated"}


def test_dedicated_tenancy_on_a_family_without_a_sourced_row_is_rejected():
    problems = rejected("prod", lambda raw: raw["llm-infra:gpu_pools"][1].update(
        instance_type="p5en.48xlarge", gpu="nvidia-h200-141gb"))
    assert any(p.startswith("gpu_pools[1].instance_type: expected an instance type offered as a Dedicated "
                            "Instance") for p in problems), problems


def test_host_tenancy_uses_the_host_resource_group():
    raw, secret = stack_config("prod")
    raw = copy.deepcopy(raw)
    arn = "arn:aws:resource-groups:eu-west-1:210987654321:group/gpu-hosts"
    raw["llm-infra:aws"].update(dedicated_tenancy="host", host_resource_group_arn=arn)
    result = run_stack_program(raw, secret)
    for lt in result.of_type(LT):
        assert lt.inputs["placement"] == {"tenancy": "host", "hostResourceGroupArn": arn}


@pytest.mark.parametrize(("change", "expected"), [
    (lambda raw: raw["llm-infra:models"][1].update(weights_uri="s3://another-bucket/toy-llm"),
     "models[1].weights_uri: expected the stack's model bucket 'example-llm-dev-models'"),
    (lambda raw: raw["llm-infra:models"][1].update(weights_uri="s3://example-llm-dev-models/meta-llama/Llama-3.1-8B-Instruct/x"),
     "models[1].weights_uri: expected a prefix that does not overlap models[0]'s"),
    (lambda raw: raw["llm-infra:models"][1].update(weights_uri="s3://example-llm-dev-models"),
     "models[1].weights_uri: expected s3://BUCKET/PREFIX with a prefix of the model's own"),
    (lambda raw: raw["llm-infra:gpu_pools"][0].update(instance_type="p5.48xlarge", gpu="nvidia-h100-80gb"),
     "gpu_pools[0].gpus_per_node: expected 8 (the GPUs of p5.48xlarge), got 1"),
    (lambda raw: raw["llm-infra:gpu_pools"][0].update(instance_type="g6.xlarge", gpu="nvidia-a10g"),
     "gpu_pools[0].instance_type: expected an instance type with nvidia-a10g GPUs, got 'g6.xlarge'"),
    (lambda raw: raw["llm-infra:gpu_pools"][0].update(instance_type=None, gpus_per_node=2),
     "gpu_pools[0].instance_type: expected an EC2 instance type: llm-infra knows no nvidia-l4 type with 2 GPUs"),
    (lambda raw: raw["llm-infra:gpu_pools"][0].update(zones=["us-east-1a"]),
     "gpu_pools[0].zones[0]: expected one of the stack's zones"),
    (lambda raw: raw["llm-infra:aws"].update(admin_principal_arns=["arn:aws:iam::123456789012:role/*"]),
     "aws.admin_principal_arns[0]: expected an IAM role or user ARN without wildcards"),
    (lambda raw: raw["llm-infra:aws"].update(vpc_id="vpc-0123456789abcdef0"),
     "aws.private_subnet_ids: expected vpc_id and private_subnet_ids together"),
    (lambda raw: raw["llm-infra:aws"].update(log_retention_days=42),
     "aws.log_retention_days: expected a CloudWatch Logs retention period"),
])
def test_bad_aws_config_is_rejected_before_any_resource(change, expected):
    problems = rejected("dev", change)
    assert any(p.startswith(expected) for p in problems), problems


def test_production_pools_need_two_zones():
    problems = rejected("prod", lambda raw: raw["llm-infra:gpu_pools"][0].update(zones=["eu-west-1a"]))
    assert problems == ["gpu_pools[0].zones: expected at least 2 zones in a production stack, got ['eu-west-1a']"]


def test_an_aws_section_on_another_cloud_isrejected():
    problems = rejected("existing", lambda raw: raw.update({"llm-infra:aws": {"account_id": "123456789012"}}))
    assert "aws: expected only with cloud 'aws', got it with cloud 'existing'" in problems


# --- an existing VPC ---------------------------------------------------------------------------


def test_existing_vpc_is_used_as_given():
    raw, secret = stack_config("prod")
    raw = copy.deepcopy(raw)
    subnets = {"eu-west-1a": "subnet-0aaaaaaaaaaaaaaaa", "eu-west-1b": "subnet-0bbbbbbbbbbbbbbbb"}
    raw["llm-infra:aws"].update(vpc_id="vpc-0123456789abcdef0", private_subnet_ids=subnets)
    result = run_stack_program(raw, secret)
    assert not result.of_type("aws:ec2/vpc:Vpc") and not result.of_type(SUBNET)
    assert not result.of_type("aws:ec2/natGateway:NatGateway")
    assert sorted(result.one(CLUSTER).inputs["vpcConfig"]["subnetIds"]) == sorted(subnets.values())
    for ng in result.of_type(NODE_GROUP):
        assert sorted(ng.inputs["subnetIds"]) == sorted(subnets.values())
