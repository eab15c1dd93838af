"""Every Python example runs offline under the harness and builds what its README says.

The YAML example cannot run offline (the YAML runtime is part of the Pulumi CLI); it is
checked against the schema that Pulumi's own inference produces for the package.
"""

from __future__ import annotations

import json
import re
import runpy
from functools import lru_cache
from typing import Any

import pytest
import yaml

from llm_infra.plan import find_project
from llm_infra.testing import ProgramResult, StackOutputSecret, run_program

EXAMPLES = find_project().root / "examples"

ACCOUNT = "123456789012"
AWS_ADMIN = f"arn:aws:iam::{ACCOUNT}:role/llm-platform-deployer"
AWS_CONFIG = {"aws:region": "eu-west-1", "platform-aws:accountId": ACCOUNT, "platform-aws:adminRoleArn": AWS_ADMIN}
GCP_CONFIG = {"gcp:project": "acme-llm-dev", "gcp:region": "europe-west4",
              "platform-gcp:projectNumber": "412345678901", "platform-gcp:deployerCidr": "10.200.0.0/24"}
AZURE_SUBSCRIPTION = "3f2b8c1e-6a4d-4e7b-9c2a-1d5e8f0a7b36"
AZURE_CONFIG = {"azure-native:location": "westeurope", "azure-native:subscriptionId": AZURE_SUBSCRIPTION,
                "azure-native:tenantId": "9a7c4e21-0b3f-4d8a-a6e5-2c1f7b9d3e40",
                "platform-azure:adminGroupObjectId": "5d0e2a9c-7f41-4b3e-8a16-c9e2f4b7a015",
                "platform-azure:storageAccount": "acmellmdevmodels"}

# What the platform stack (examples/platform-aws) exports, as the engine hands it to a StackReference.
PLATFORM_STACK = "acme/platform-aws/dev"
PLATFORM_ISSUER = "https://oidc.eks.eu-west-1.amazonaws.com/id/LLM-DEV"
PLATFORM_OUTPUTS = {
    "kubeconfig": StackOutputSecret("apiVersion: v1\nkind: Config\nclusters: []\n"),
    "storage_class": "llm-encrypted-gp3",
    "kms_key_arn": f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/0b5e4a2c-platform",
    "oidc_issuer": PLATFORM_ISSUER,
    "oidc_provider_arn": f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/LLM-DEV",
    "region": "eu-west-1",
}
SHARED_CONFIG = {"model-on-shared-platform:platformStack": PLATFORM_STACK, "aws:region": "eu-west-1",
                 "model-on-shared-platform:weightsUri": "s3://acme-search-models/Qwen/Qwen2.5-7B-Instruct",
                 "model-on-shared-platform:weightsKeyArn": f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/search-weights"}


def run_example(name: str, config: dict[str, str], secret_keys: list[str] | None = None, *,
                stack: str = "dev", stack_references: dict[str, dict[str, Any]] | None = None) -> ProgramResult:
    main = EXAMPLES / name / "__main__.py"
    return run_program(lambda: runpy.run_path(str(main), run_name="__main__"), config,
                       project=name, stack=stack, secret_keys=secret_keys or [], stack_references=stack_references)


@lru_cache(maxsize=None)
def platform(name: str, production: bool) -> ProgramResult:
    config = {"platform-aws": AWS_CONFIG, "platform-gcp": GCP_CONFIG, "platform-azure": AZURE_CONFIG}[name]
    return run_example(name, {**config, f"{name}:production": str(production).lower()},
                       stack="prod" if production else "dev")


def python_examples() -> set[str]:
    return {p.name for p in EXAMPLES.iterdir() if (p / "__main__.py").is_file()}


def test_every_example_has_a_project_file_and_readme():
    examples = [p for p in EXAMPLES.iterdir() if p.is_dir()]
    assert examples
    for ex in examples:
        assert (ex / "Pulumi.yaml").is_file() and (ex / "README.md").is_file(), ex
        project = yaml.safe_load((ex / "Pulumi.yaml").read_text())
        assert project["name"] == ex.name, ex
        runtime = project["runtime"]["name"] if isinstance(project["runtime"], dict) else project["runtime"]
        assert runtime in ("python", "yaml"), ex
        assert (runtime == "python") == (ex / "__main__.py").is_file(), ex


def test_every_python_example_has_a_test_here():
    covered = {"triton-on-existing-cluster", "platform-aws", "platform-gcp", "platform-azure", "model-on-shared-platform"}
    assert python_examples() == covered


def _config_keys_read(source: str) -> set[str]:
    """Config keys a program reads: `key` for its own namespace, `namespace:key` for another's."""
    used = set(re.findall(r'config\.(?:require|get|require_secret|get_secret|get_bool|require_bool)\("([^"]+)"\)', source))
    for namespace, key in re.findall(r'pulumi\.Config\("([^"]+)"\)\.(?:require|get)\("([^"]+)"\)', source):
        used.add(f"{namespace}:{key}")
    for var, namespace in re.findall(r'(\w+) = pulumi\.Config\("([^"]+)"\)\n', source):
        used |= {f"{namespace}:{k}" for k in re.findall(rf'{var}\.(?:require|get)\("([^"]+)"\)', source)}
    return used


def test_every_config_key_an_example_reads_is_declared_or_documented():
    for name in python_examples():
        source = (EXAMPLES / name / "__main__.py").read_text()
        declared = yaml.safe_load((EXAMPLES / name / "Pulumi.yaml").read_text()).get("config", {})
        readme = (EXAMPLES / name / "README.md").read_text()
        used = _config_keys_read(source)
        assert used, name
        for key in used:
            if ":" in key:
                # Pulumi rejects a project file that types another namespace's key: the README sets it.
                assert key not in declared and f"pulumi config set {key} " in readme, (name, key)
            else:
                assert key in declared and declared[key].get("description"), (name, key)
                assert f"pulumi config set {key} " in readme or f"pulumi config set --secret {key} " in readme \
                    or "default" in declared[key], (name, key)
        assert all(":" not in key for key in declared), (name, "a project file may only declare its own keys")


# --- triton-on-existing-cluster --------------------------------------------------------


def test_triton_on_existing_cluster(monkeypatch):
    monkeypatch.chdir(EXAMPLES / "triton-on-existing-cluster")
    result = run_example(
        "triton-on-existing-cluster",
        {"triton-on-existing-cluster:kubeconfig": "kubeconfig",
         "triton-on-existing-cluster:roleArn": "arn:aws:iam::123456789012:role/mistral-weights"},
        ["triton-on-existing-cluster:kubeconfig"],
    )
    sts = result.k8s("StatefulSet", "mistral-7b", "llm-serving")
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] == "encrypted-ssd"
    sa = result.k8s("ServiceAccount", "triton-mistral-7b", "llm-serving")
    assert sa["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/mistral-weights"}
    assert result.outputs["http_endpoint"] == "http://mistral-7b.llm-serving.svc.cluster.local:8000"
    assert result.one("pulumi:providers:kubernetes").secret_paths == ["kubeconfig"]


# --- the platform on each cloud ---------------------------------------------------------


def _cache_storage_class(result: ProgramResult, model: str = "llama-3-8b") -> str:
    sts = result.k8s("StatefulSet", model, "llm-serving")
    return sts["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"]


@pytest.mark.parametrize("cloud", ["platform-aws", "platform-gcp", "platform-azure"])
def test_each_cloud_example_builds_the_whole_platform_through_one_explicit_kubernetes_provider(cloud):
    result = platform(cloud, False)
    assert len(result.of_type("llm-infra:index:LlmPlatform")) == 1
    assert [r.name for r in result.of_type("llm-infra:index:TritonLlmWorkload")] == ["dev-llama-3-8b"]
    [k8s_provider] = result.of_type("pulumi:providers:kubernetes")
    objects = result.kubernetes_objects()
    assert objects and all(r.provider and r.provider.startswith(k8s_provider.urn) for r in objects)
    assert "kubeconfig" in result.secret_outputs
    assert result.outputs["model_endpoints"]["llama-3-8b"]["http"] == "http://llama-3-8b.llm-serving.svc.cluster.local:8000"
    # The model cache lives on the cluster's key-encrypted storage class, and the stack says which.
    assert _cache_storage_class(result) == result.outputs["storage_class"]
    assert result.outputs["estimated_monthly_cost_usd"]


def test_aws_example_is_a_private_eks_cluster_with_secrets_encrypted_by_the_protected_stack_key():
    result = platform("platform-aws", False)
    [key] = result.of_type("aws:kms/key:Key")
    assert key.protect
    eks = result.one("aws:eks/cluster:Cluster").inputs
    assert eks["vpcConfig"]["endpointPublicAccess"] is False and eks["vpcConfig"]["endpointPrivateAccess"] is True
    assert eks["encryptionConfig"]["provider"]["keyArn"] == key.outputs["arn"]
    assert result.one("aws:eks/accessEntry:AccessEntry").inputs["principalArn"] == AWS_ADMIN
    assert result.outputs["kms_key_arn"] == key.outputs["arn"]
    assert result.outputs["model_bucket"] == f"{ACCOUNT}-dev-llm-models"


@pytest.mark.parametrize("production", [False, True])
def test_aws_example_gpu_pool_is_spot_and_shared_outside_production_and_dedicated_on_demand_in_it(production):
    result = platform("platform-aws", production)
    pool = next(r.inputs for r in result.of_type("aws:eks/nodeGroup:NodeGroup") if r.inputs["labels"].get("llm-infra.io/gpu-pool") == "l4")
    assert pool["capacityType"] == ("ON_DEMAND" if production else "SPOT")
    assert {"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"} in pool["taints"]
    assert pool["scalingConfig"]["minSize"] == (2 if production else 0)
    template = next(r.inputs for r in result.of_type("aws:ec2/launchTemplate:LaunchTemplate") if r.name.endswith("pool-l4-lt"))
    assert template.get("placement", {}).get("tenancy", "default") == ("dedicated" if production else "default")
    scaler = result.k8s("ScaledObject", "llama-3-8b", "llm-serving")
    assert scaler["spec"]["minReplicaCount"] == (2 if production else 1)


def test_aws_example_exports_what_a_model_stack_needs_to_trust_the_clusters_oidc_provider():
    result = platform("platform-aws", False)
    oidc = result.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider").inputs
    assert result.outputs["oidc_issuer"] == oidc["url"]
    host = oidc["url"].removeprefix("https://")
    assert result.outputs["oidc_provider_arn"] == f"arn:aws:iam::{ACCOUNT}:oidc-provider/{host}"
    assert result.outputs["region"] == "eu-west-1"
    assert result.outputs["storage_class"] == "llm-encrypted-gp3"
    # Exactly the keys the model-on-shared-platform example reads (and the kubeconfig stays secret).
    assert set(PLATFORM_OUTPUTS) <= set(result.outputs)


def test_aws_example_model_role_reads_only_its_own_prefix():
    result = platform("platform-aws", False)
    sa = result.k8s("ServiceAccount", "triton-llama-3-8b", "llm-serving")
    role_arn = sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert role_arn.startswith(f"arn:aws:iam::{ACCOUNT}:role/")
    role = next(r for r in result.of_type("aws:iam/role:Role") if r.inputs.get("name") == role_arn.rsplit("/", 1)[1])
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert set(trust["Condition"]["StringEquals"].values()) == {
        "system:serviceaccount:llm-serving:triton-llama-3-8b", "sts.amazonaws.com"}
    [policy] = [r for r in result.of_type("aws:iam/rolePolicy:RolePolicy") if r.parent == role.parent
                and r.name.endswith("llama-3-8b-read")]
    reads = [s["Resource"] for s in json.loads(policy.inputs["policy"])["Statement"] if s["Action"] == ["s3:GetObject"]]
    assert reads == [f"arn:aws:s3:::{ACCOUNT}-dev-llm-models/meta-llama/Llama-3.1-8B-Instruct/*"]


@pytest.mark.parametrize("production", [False, True])
def test_gcp_example_is_a_private_gke_cluster_with_cmek_disks_and_no_device_plugin_of_ours(production):
    result = platform("platform-gcp", production)
    [key] = result.of_type("gcp:kms/cryptoKey:CryptoKey")
    assert key.protect
    cluster = result.one("gcp:container/cluster:Cluster").inputs
    assert cluster["privateClusterConfig"]["enablePrivateEndpoint"] is True
    assert cluster["masterAuthorizedNetworksConfig"]["cidrBlocks"] == [
        {"cidrBlock": "10.200.0.0/24", "displayName": "deployers"}]
    key_id = "projects/acme-llm-dev/locations/europe-west4/keyRings/llm-{env}/cryptoKeys/llm-{env}".format(
        env="prod" if production else "dev")
    assert cluster["databaseEncryption"] == {"state": "ENCRYPTED", "keyName": key_id}
    pool = next(r.inputs for r in result.of_type("gcp:container/nodePool:NodePool") if r.name.endswith("pool-l4-node-pool"))
    assert pool["nodeConfig"]["bootDiskKmsKey"] == key_id
    assert pool["nodeConfig"].get("spot", False) is (not production)
    assert ("soleTenantConfig" in pool["nodeConfig"]) is production
    # GKE runs the NVIDIA device plugin itself.
    assert result.outputs["device_plugin_deployed"] is False
    assert not result.of_type("llm-infra:index:NvidiaDevicePlugin")
    sa = result.k8s("ServiceAccount", "triton-llama-3-8b", "llm-serving")
    assert sa["metadata"]["annotations"]["iam.gke.io/gcp-service-account"].endswith("@acme-llm-dev.iam.gserviceaccount.com")


@pytest.mark.parametrize("production", [False, True])
def test_azure_example_is_a_private_aks_cluster_with_etcd_kms_and_host_encrypted_gpu_nodes(production):
    result = platform("platform-azure", production)
    aks = result.one("azure-native:containerservice:ManagedCluster").inputs
    assert aks["apiServerAccessProfile"]["enablePrivateCluster"] is True
    kms = aks["securityProfile"]["azureKeyVaultKms"]
    assert kms["enabled"] is True and kms["keyVaultNetworkAccess"] == "Private"
    assert aks["securityProfile"]["workloadIdentity"] == {"enabled": True}
    pool = result.one("azure-native:containerservice:AgentPool").inputs
    assert pool["vmSize"] == "Standard_NC24ads_A100_v4"
    assert pool["enableEncryptionAtHost"] is True and pool["enableNodePublicIP"] is False
    assert "nvidia.com/gpu=true:NoSchedule" in pool["nodeTaints"]
    assert (pool.get("scaleSetPriority") == "Spot") is (not production)
    # Production names the pool as the reported exception to dedicated isolation (no NC/ND dedicated hosts).
    assert (pool["tags"].get("llm-infra.io/isolation") == "shared-host-accepted") is production
    account = result.one("azure-native:storage:StorageAccount").inputs
    assert account["accountName"] == "acmellmdevmodels" and account["publicNetworkAccess"] == "Disabled"
    assert result.outputs["storage_account"] == "acmellmdevmodels"
    sa = result.k8s("ServiceAccount", "triton-llama-3-8b", "llm-serving")
    assert "azure.workload.identity/client-id" in sa["metadata"]["annotations"]


# --- a model on a platform another stack owns ------------------------------------------


@lru_cache(maxsize=None)
def shared() -> ProgramResult:
    return run_example("model-on-shared-platform", SHARED_CONFIG, stack="search-dev",
                       stack_references={PLATFORM_STACK: PLATFORM_OUTPUTS})


def test_shared_platform_model_talks_to_the_platform_cluster_through_its_secret_kubeconfig():
    result = shared()
    [provider] = result.of_type("pulumi:providers:kubernetes")
    assert provider.secret_paths == ["kubeconfig"]
    objects = result.kubernetes_objects()
    assert objects and all(r.provider and r.provider.startswith(provider.urn) for r in objects)
    # Nothing of the platform is rebuilt here: no cluster, no GPU layer, no cloud network.
    assert not [r for r in result.resources if r.type in (
        "llm-infra:index:LlmPlatform", "llm-infra:index:GpuSoftwareLayer", "llm-infra:index:NvidiaDevicePlugin",
        "aws:eks/cluster:Cluster", "aws:kms/key:Key")]
    assert {r.type for r in result.resources if r.custom and not r.type.startswith("kubernetes:")} == {
        "pulumi:providers:kubernetes", "aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy"}


def test_shared_platform_model_caches_on_the_platforms_encrypted_storage_class():
    sts = shared().k8s("StatefulSet", "qwen-2-5-7b", "search")
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] == PLATFORM_OUTPUTS["storage_class"]
    ns = shared().k8s("Namespace", "search")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    quota = shared().k8s("ResourceQuota", "gpu-quota", "search")
    assert quota["spec"]["hard"]["requests.nvidia.com/gpu"] == "3"


def test_shared_platform_model_role_is_trusted_by_the_platform_oidc_provider_for_its_service_account_only():
    result = shared()
    role = result.one("aws:iam/role:Role")
    [statement] = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Principal"] == {"Federated": PLATFORM_OUTPUTS["oidc_provider_arn"]}
    host = PLATFORM_ISSUER.removeprefix("https://")
    assert statement["Condition"]["StringEquals"] == {
        f"{host}:sub": "system:serviceaccount:search:triton-qwen-2-5-7b", f"{host}:aud": "sts.amazonaws.com"}
    sa = result.k8s("ServiceAccount", "triton-qwen-2-5-7b", "search")
    assert sa["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": role.outputs["arn"]}


def test_shared_platform_model_role_reads_only_its_prefix_and_decrypts_only_through_s3():
    policy = json.loads(shared().one("aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["ReadOwnPrefix"]["Resource"] == "arn:aws:s3:::acme-search-models/Qwen/Qwen2.5-7B-Instruct/*"
    assert by_sid["ListOwnPrefix"]["Condition"]["StringLike"]["s3:prefix"] == [
        "Qwen/Qwen2.5-7B-Instruct/", "Qwen/Qwen2.5-7B-Instruct/*"]
    assert by_sid["DecryptViaS3"]["Resource"] == SHARED_CONFIG["model-on-shared-platform:weightsKeyArn"]
    assert by_sid["DecryptViaS3"]["Condition"] == {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}


def test_shared_platform_example_fails_without_the_platform_stack_outputs():
    with pytest.raises(LookupError, match="acme/platform-aws/dev"):
        run_example("model-on-shared-platform", SHARED_CONFIG, stack="search-dev", stack_references={})


# --- the YAML program ------------------------------------------------------------------

YAML_EXAMPLE = EXAMPLES / "yaml-consumer" / "Pulumi.yaml"
# Types of other packages the YAML program may use (the Kubernetes provider resource).
OTHER_PACKAGE_TYPES = {"pulumi:providers:kubernetes"}
_REF = re.compile(r"\$\{([^}]+)\}")
_TYPE_REF = "#/types/"


@lru_cache(maxsize=None)
def package_schema() -> dict[str, Any]:
    """The schema Pulumi's component provider host infers from the components the package serves."""
    from pulumi.provider.experimental.component import ComponentProvider

    from llm_infra.multilanguage import PACKAGE_NAME, hosted_components

    provider = ComponentProvider(hosted_components(), PACKAGE_NAME, None, "0.1.0")
    assert provider.schema is not None
    return json.loads(provider.schema)


def _refs(value: Any) -> list[str]:
    if isinstance(value, str):
        return _REF.findall(value)
    if isinstance(value, dict):
        return [r for v in value.values() for r in _refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in _refs(v)]
    return []


def _head(ref: str) -> str:
    """The root name of a `${...}` property access (`res` of `res.out[0].x` or `res["k"]`)."""
    return re.split(r"[.\[]", ref.strip(), maxsplit=1)[0]


def _check_value(where: str, value: Any, spec: dict[str, Any], schema: dict[str, Any],
                 resources: dict[str, Any], problems: list[str]) -> None:
    """Check a property's value against its schema spec, descending into the package's object types.

    A resource output may not reach a `plain` property; inside a plain object, a property that is not
    plain itself (e.g. `WorkloadCluster.provider`) may take one.
    """
    if isinstance(value, str):
        if spec.get("plain") and any(_head(r) in resources for r in _refs(value)):
            problems.append(f"{where}: plain input given a resource output {value!r}")
        return
    ref = spec.get("$ref", "")
    if ref.startswith(_TYPE_REF) and isinstance(value, dict):
        token = ref[len(_TYPE_REF):]
        object_type = schema["types"].get(token)
        if object_type is None:
            problems.append(f"{where}: the schema has no type {token}")
            return
        properties = object_type.get("properties", {})
        for key, nested in value.items():
            if key not in properties:
                problems.append(f"{where}.{key}: not a property of {token} ({sorted(properties)})")
            else:
                _check_value(f"{where}.{key}", nested, properties[key], schema, resources, problems)
        for required in object_type.get("required", []):
            if required not in value:
                problems.append(f"{where}: required property {required} of {token} is missing")
        return
    if spec.get("type") == "array" and "items" in spec and isinstance(value, list):
        for index, item in enumerate(value):
            _check_value(f"{where}[{index}]", item, spec["items"], schema, resources, problems)
        return
    if spec.get("type") == "object" and "additionalProperties" in spec and isinstance(value, dict):
        for key, item in value.items():
            _check_value(f"{where}.{key}", item, spec["additionalProperties"], schema, resources, problems)
        return
    # A value whose shape the spec does not describe (`pulumi.json#/Any`, a literal of the wrong shape):
    # a plain spec forbids resource outputs anywhere inside it.
    if spec.get("plain") and any(_head(r) in resources for r in _refs(value)):
        problems.append(f"{where}: plain input given a resource output {value!r}")


def yaml_program_problems(program: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """What would make `pulumi up` of a YAML program fail against the package's schema, found without the CLI."""
    problems: list[str] = []
    resources: dict[str, Any] = program.get("resources") or {}
    names = set(program.get("config") or {}) | set(program.get("variables") or {})
    types = schema["resources"]
    for name, resource in resources.items():
        token = resource.get("type", "")
        # Resource options (dependsOn, parent, provider, providers, ...) are not inputs: no type checks,
        # but what they reference must be resources of the program.
        for ref in _refs(resource.get("options") or {}):
            if _head(ref) not in resources:
                problems.append(f"{name}.options: ${{{ref}}} is not a resource of the program")
        if token.startswith("llm-infra:"):
            if token not in types:
                problems.append(f"{name}: type {token} is not in the package (it serves {sorted(types)})")
                continue
            spec = types[token]
            properties = resource.get("properties") or {}
            for prop, value in properties.items():
                if prop not in spec["inputProperties"]:
                    problems.append(f"{name}.{prop}: not an input of {token} ({sorted(spec['inputProperties'])})")
                else:
                    _check_value(f"{name}.{prop}", value, spec["inputProperties"][prop], schema, resources, problems)
            for required in spec.get("requiredInputs", []):
                if required not in properties:
                    problems.append(f"{name}: required input {required} of {token} is missing")
        elif token not in OTHER_PACKAGE_TYPES:
            problems.append(f"{name}: type {token!r} is neither the package's nor an allowed one")
    for ref in _refs({"resources": resources, "variables": program.get("variables") or {},
                      "outputs": program.get("outputs") or {}}):
        head = _head(ref)
        attribute = ref.strip()[len(head):].lstrip(".")
        if head in names and not attribute:
            continue
        if head not in resources:
            problems.append(f"${{{ref}}}: no resource or config key {head!r}")
            continue
        token = resources[head].get("type", "")
        output = re.split(r"[.\[]", attribute, maxsplit=1)[0]
        if attribute and token in types and output not in types[token].get("properties", {}):
            problems.append(f"${{{ref}}}: {token} has no output {output!r}")
    return problems


def test_yaml_example_uses_only_what_the_package_exports_and_is_well_formed():
    program = yaml.safe_load(YAML_EXAMPLE.read_text())
    assert program["runtime"] == "yaml"
    assert (YAML_EXAMPLE.parent / program["packages"]["llm-infra"]).resolve() == find_project().root
    assert (find_project().root / "PulumiPlugin.yaml").is_file()
    used = {r["type"] for r in program["resources"].values()}
    # The program declares its Kubernetes provider itself: pulumi-yaml cannot read one back out of a
    # component's outputs (tests/test_real_engine_yaml.py runs the program under the real pulumi-yaml).
    assert used == {"pulumi:providers:kubernetes", "llm-infra:index:GpuSoftwareLayer",
                    "llm-infra:index:TenantNamespace", "llm-infra:index:TritonLlmWorkload"}
    assert used - OTHER_PACKAGE_TYPES <= set(package_schema()["resources"]), used
    assert yaml_program_problems(program, package_schema()) == []
    mistral = program["resources"]["mistral"]
    assert mistral["properties"]["cluster"] == {"provider": "${cluster}", "storageClass": "${storageClass}"}
    assert mistral["options"]["dependsOn"] == ["${serving}", "${gpu}"]
    # The model's namespace (ModelConfig's default) is the tenant namespace the program creates.
    assert mistral["properties"]["model"].get("namespace", "llm-serving") == \
        program["resources"]["serving"]["properties"]["namespace"]


def test_yaml_check_catches_unknown_types_inputs_and_nested_keys_outputs_into_plain_inputs_and_missing_values():
    program = yaml.safe_load(YAML_EXAMPLE.read_text())
    assert yaml_program_problems(program, package_schema()) == []
    resources = program["resources"]
    # Top level.
    resources["extra"] = {"type": "llm-infra:index:NoSuchComponent", "properties": {}}
    resources["serving"]["properties"]["gpuQuotaa"] = 2
    resources["serving"]["properties"]["namespace"] = "${gpu.dcgmNamespace}"
    del resources["gpu"]["properties"]["provider"]
    program["outputs"]["nope"] = "${serving.endpoint}"
    # Nested in the plain `model` object (ModelConfig, BatchingConfig).
    model = resources["mistral"]["properties"]["model"]
    model["weightsUrl"] = model.pop("weightsUri")
    model["name"] = "${serving.namespace}"
    model["batching"]["maxBatchSizee"] = 8
    # Nested in `cluster` (WorkloadCluster): storageClass is required; zoneLabel is plain.
    cluster = resources["mistral"]["properties"]["cluster"]
    del cluster["storageClass"]
    cluster["zoneLabel"] = "${cluster.storageClass}"
    # Options: a dependency on something that is not a resource.
    resources["mistral"]["options"]["dependsOn"].append("${gpuQuota}")
    resources["mistral"]["options"]["dependsOn"].append("${nothing}")
    problems = "\n".join(yaml_program_problems(program, package_schema()))
    assert "extra: type llm-infra:index:NoSuchComponent is not in the package" in problems
    assert "serving.gpuQuotaa: not an input" in problems
    assert "serving.namespace: plain input" in problems
    assert "gpu: required input provider" in problems
    assert "has no output 'endpoint'" in problems
    assert "mistral.model.weightsUrl: not a property of llm-infra:index:ModelConfig" in problems
    assert "mistral.model: required property weightsUri of llm-infra:index:ModelConfig is missing" in problems
    assert "mistral.model.name: plain input given a resource output" in problems
    assert "mistral.model.batching.maxBatchSizee: not a property of llm-infra:index:BatchingConfig" in problems
    assert "mistral.cluster: required property storageClass of llm-infra:index:WorkloadCluster" in problems
    assert "mistral.cluster.zoneLabel: plain input given a resource output" in problems
    assert "mistral.options: ${gpuQuota} is not a resource of the program" in problems
    assert "${nothing}: no resource or config key 'nothing'" in problems
    # Still fine: resource outputs at the non-plain properties of the plain `cluster` object.
    assert "mistral.cluster.provider" not in problems


def test_yaml_check_allows_outputs_only_where_the_schema_is_not_plain():
    schema = package_schema()
    program = yaml.safe_load(YAML_EXAMPLE.read_text())
    properties = program["resources"]["mistral"]["properties"]
    # A map whose values are not plain (serviceAccountAnnotations) may take an output.
    properties["serviceAccountAnnotations"]["eks.amazonaws.com/role-arn"] = "${cluster.storageClass}"
    assert yaml_program_problems(program, schema) == []
    # One whose values are plain (podLabels) may not.
    properties["podLabels"] = {"azure.workload.identity/use": "${cluster.storageClass}"}
    assert yaml_program_problems(program, schema) == [
        "mistral.podLabels.azure.workload.identity/use: plain input given a resource output '${cluster.storageClass}'"]
    # A whole plain object from an output cannot be checked key by key: it is refused.
    del properties["podLabels"]
    properties["monitoring"] = "${gpu.dcgmNamespace}"
    assert yaml_program_problems(program, schema) == [
        "mistral.monitoring: plain input given a resource output '${gpu.dcgmNamespace}'"]
