"""Stack configuration: the only pydantic boundary of the library.

A stack's `Pulumi.<stack>.yaml` holds keys in the `llm-infra` namespace
(`llm-infra:cloud`, `llm-infra:models`, ...). `load_stack_config` reads them, rejects
unknown keys and turns every validation problem into one `ConfigError` whose lines each
name the field path, what was given and what is expected. It runs before any resource
is registered, so bad config never leaves a half-built stack behind.

The package: `base` (model base, error shape, URIs, networks), `aws`, `gcp`, `azure` (each
cloud's settings and checks), `models` (the shared models and `StackConfig`), `loading`
(engine values to a validated config, errors to lines) and `schema` (the models as schema
types for other languages). Every name is re-exported here: `from llm_infra.config import X`.
"""

from .base import (  # noqa: F401
    _allowlisted_network,
    _AZURE_BLOB,
    _bounded,
    _cidr_sized,
    _DNS_LABEL,
    _FieldError,
    _GS,
    _Problems,
    _S3,
    _short_container,
    _Strict,
    ConfigError,
    DnsLabel,
    NamespaceName,
    parse_weights_uri,
    shown,
)
from .aws import (  # noqa: F401
    _aws_problems,
    _IAM_PRINCIPAL,
    _S3_BUCKET_NO_DOTS,
    AwsConfig,
    LOG_RETENTION_DAYS,
)
from .gcp import (  # noqa: F401
    _GCP_NAME,
    _gcp_problems,
    _GCP_PROJECT_ID,
    _GCS_BUCKET_NO_DOTS,
    GcpAuthorizedNetwork,
    GcpConfig,
)
from .azure import (  # noqa: F401
    _azure_problems,
    _AZURE_SUBNET_ID,
    _GUID,
    AzureConfig,
)
from .models import (  # noqa: F401
    _capacity_problems,
    _driver_problems,
    _OWNED_ENGINE_ARGS,
    _unique,
    AccessConfig,
    ActiveHours,
    BatchingConfig,
    CACHE_READ_MIB_S,
    cloud_names,
    cloud_plugin,
    EXISTING_URI_SCHEMES,
    ChartSource,
    CONFIG_NAMESPACE,
    DevicePluginConfig,
    EngineArgValue,
    ExistingClusterConfig,
    GPU_MEMORY_GIB,
    GpuAdmissionConfig,
    GpuPoolConfig,
    InferenceGatewayConfig,
    ModelConfig,
    MonitoringConfig,
    NodeAllocatableConfig,
    TlsConfig,
    SECRET_KEYS,
    StackConfig,
    TeardownConfig,
    uri_schemes,
)
from .loading import (  # noqa: F401
    _describe,
    _json_constant,
    _json_int,
    _path,
    _problems,
    _SCALAR_KEYS,
    from_engine,
    load_stack_config,
    parse_stack_config,
)
from .schema import (  # noqa: F401
    _known_plain,
    _schema_annotation,
    cloud_stack_config,
    M,
    schema_type,
    StackConfigSpec,
    validate_spec,
)

__all__ = [
    'AccessConfig',
    'ActiveHours',
    'AwsConfig',
    'AzureConfig',
    'BatchingConfig',
    'CACHE_READ_MIB_S',
    'cloud_names',
    'cloud_plugin',
    'EXISTING_URI_SCHEMES',
    'ChartSource',
    'cloud_stack_config',
    'CONFIG_NAMESPACE',
    'ConfigError',
    'DevicePluginConfig',
    'DnsLabel',
    'EngineArgValue',
    'ExistingClusterConfig',
    'from_engine',
    'GcpAuthorizedNetwork',
    'GcpConfig',
    'GPU_MEMORY_GIB',
    'GpuAdmissionConfig',
    'GpuPoolConfig',
    'InferenceGatewayConfig',
    'load_stack_config',
    'LOG_RETENTION_DAYS',
    'M',
    'ModelConfig',
    'MonitoringConfig',
    'TlsConfig',
    'NamespaceName',
    'NodeAllocatableConfig',
    'parse_stack_config',
    'parse_weights_uri',
    'schema_type',
    'SECRET_KEYS',
    'shown',
    'StackConfig',
    'StackConfigSpec',
    'TeardownConfig',
    'uri_schemes',
    'validate_spec',
]
