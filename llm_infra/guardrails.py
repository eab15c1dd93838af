"""What a stack config may not ask for, judged by content: the red team's classes (issue 16).

`llm_infra.config` validates shape and what each cloud can build; this module refuses
what would be harmful although well-formed. Each check returns one line per problem that
names the field path, echoes a short prefix of the value (`config.shown`) and says what
is expected. Everything runs inside config validation, before any resource is registered.

`text_problems` runs on the raw mapping (keys included); `stack_problems` on the
validated `StackConfig`.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
import zoneinfo
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from . import versions

if TYPE_CHECKING:
    from .config import ModelConfig, StackConfig

# --- limits, each with why ---------------------------------------------------------------

# Public IPv4 addresses an allowlist to a control plane may open in total (private ranges
# reach only a private endpoint and are not counted). A /24 is a generous VPN or CI egress
# range; a production stack opening more is opening the endpoint to strangers.
ALLOWLIST_PUBLIC_ADDRESSES = {True: 256, False: 65_536}  # production -> limit
# Ranges that never route on the internet: RFC 1918 and the shared address space of RFC 6598.
_PRIVATE_RANGES = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                                          "100.64.0.0/10"))
# Audit (control-plane) logs kept at least a year in production: incident response looks
# back that far, and PCI DSS 10.5.1 asks for 12 months of audit trail history.
MIN_AUDIT_LOG_RETENTION_DAYS_PRODUCTION = 365
# No config value is longer (the longest are ARNs and subnet ids); longer text is refused unread.
MAX_TEXT = 4096
# A python model is one file mounted through a ConfigMap (1 MiB for all of a model's files).
MAX_PYTHON_MODEL_BYTES = 256 * 1024

# Namespaces that belong to Kubernetes or to the platform's own components; no model or
# client may live there, and the monitoring namespace is never a model's.
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease", "default", "keda",
                               "gpu-operator", "nvidia-device-plugin", "cert-manager"})

# Registries the pinned images come from; `image_registries` in the stack adds mirrors.
DEFAULT_IMAGE_REGISTRIES = tuple(sorted({
    image.split("/", 1)[0]
    for image in [*versions.TRITON_IMAGES.values(), *versions.MODEL_SYNC_IMAGES.values(),
                  versions.NVIDIA_DEVICE_PLUGIN_IMAGE, versions.DCGM_EXPORTER_IMAGE, versions.TLS_PROXY_IMAGE,
                  *versions.CLUSTER_AUTOSCALER_IMAGES.values(), versions.ENDPOINT_PICKER_IMAGE]
}))

# Region and zone names by shape: each cloud plug-in's `region_pattern` and `zone_pattern` (the cloud facts
# tables say which exist; these refuse what cannot be one). A zone on `existing` is a node label value.
EXISTING_ZONE_PATTERN = r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"

# Annotations through which a model's service account gets a cloud identity, and their form.
IDENTITY_ANNOTATIONS = {
    "eks.amazonaws.com/role-arn": re.compile(r"^arn:aws(-cn|-us-gov)?:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$"),
    "iam.gke.io/gcp-service-account": re.compile(r"^[a-z][-a-z0-9]{4,28}[a-z0-9]@[a-z][-a-z0-9]{4,28}[a-z0-9]"
                                                  r"\.iam\.gserviceaccount\.com$"),
    "azure.workload.identity/client-id": re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$"),
}
# Accounts every workload of a project could hold: never a model's identity.
_DEFAULT_ACCOUNTS = re.compile(r"^(\d+-compute@developer\.gserviceaccount\.com|[a-z][-a-z0-9]*@appspot\.gserviceaccount\.com)$")

# Shapes of credentials that must never sit in config (it lands in ConfigMaps and state).
_SECRET_VALUES = re.compile(
    r"(hf_[A-Za-z0-9]{20,}|AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{20,}"
    r"|sk-[A-Za-z0-9_-]{20,}|xox[abposr]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35}|-----BEGIN [A-Z ]*PRIVATE KEY"
    r"|eyJ[A-Za-z0-9_-]{8,200}\.eyJ|[a-z][a-z0-9+.-]{0,20}://[^/\s:@]{1,200}:[^/\s@]{1,200}@"
    r"|AccountKey=[A-Za-z0-9+/=]{20,}|SharedAccessSignature|[?&]sig=[A-Za-z0-9%+/=]{20,})"
)
_SECRET_KEYS = re.compile(r"(?i)(token|secret|passw|api[-_]?key|access[-_]?key|credential|private[-_]?key|auth)")
# Free text the user may write in any language; everything else is an identifier, a URI or a number.
_FREE_TEXT_FIELDS = frozenset({"display_name"})
# Weights URIs become IAM resource patterns and bucket prefixes: no wildcard or variable syntax.
_URI_PREFIX = re.compile(r"^[A-Za-z0-9._/-]*$")

_CRON_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (("minute", 0, 59, {}), ("hour", 0, 23, {}), ("day of month", 1, 31, {}),
                ("month", 1, 12, {m: i + 1 for i, m in enumerate(
                    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])}),
                ("day of week", 0, 7, {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}))


def _shown(value: Any) -> str:
    from .config import shown

    return shown(value)


# --- the raw mapping: keys and text --------------------------------------------------------


def text_problems(raw: Any, path: str = "") -> list[str]:
    """Keys are printable ASCII; values carry no control or invisible characters, and no
    look-alike letters outside free text; nothing looks like a credential."""
    problems: list[str] = []
    if isinstance(raw, dict):
        for key, value in raw.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and (bad := _bad_char(key, ascii_only=True)):
                where = f"{path}.{_shown(key)}" if path else _shown(key)
                problems.append(f"{where}: expected a key of printable ASCII characters (a look-alike or "
                                f"invisible character makes it another key), got {bad}")
                continue
            problems += text_problems(value, where)
            if path.endswith("engine_args") and isinstance(key, str) and _SECRET_KEYS.search(key):
                problems.append(f"{where}: expected no credentials in engine_args (they land in a ConfigMap and "
                                "in the stack's state); give the engine a secret through the model's identity")
    elif isinstance(raw, list):
        for i, value in enumerate(raw):
            problems += text_problems(value, f"{path}[{i}]")
    elif isinstance(raw, float) and (raw != raw or raw in (float("inf"), float("-inf"))):
        problems.append(f"{path}: expected a finite number, got {raw!r}")
    elif isinstance(raw, str) and len(raw) > MAX_TEXT:
        problems.append(f"{path}: expected at most {MAX_TEXT} characters, got {len(raw)}")
    elif isinstance(raw, str):
        field = path.rsplit(".", 1)[-1]
        bad = _bad_char(raw, ascii_only=field not in _FREE_TEXT_FIELDS)
        if bad:
            problems.append(f"{path}: expected text without control, invisible or look-alike characters, got {bad} "
                            f"in {_shown(raw)}")
        elif _SECRET_VALUES.search(raw):
            problems.append(f"{path}: expected no credential in stack config (it lands in ConfigMaps and the "
                            "stack's state), got a value shaped like one")
    return problems


def _bad_char(text: str, *, ascii_only: bool) -> str | None:
    for i, ch in enumerate(text):
        code = ord(ch)
        if ch == " " and not ascii_only:
            continue
        if 0x21 <= code <= 0x7E or (ch == " " and i not in (0, len(text) - 1)):
            continue
        if not ascii_only and code > 0x7F and unicodedata.category(ch)[0] not in "CZ":
            continue
        name = unicodedata.name(ch, f"U+{code:04X}")
        return f"{ch!a} ({name}) at position {i}"
    return None


# --- the validated config -------------------------------------------------------------------


def stack_problems(config: StackConfig) -> list[str]:
    problems: list[str] = []
    problems += _region_problems(config)
    problems += _namespace_problems(config)
    if config.production:
        for i, pool in enumerate(config.gpu_pools):
            if pool.spot:
                problems.append(f"gpu_pools[{i}].spot: expected false in a production stack (spot capacity is "
                                "reclaimed at the cloud's will; production serves on-demand), got true")
        for cloud in _clouds():
            problems += cloud.production_problems(config)
        if config.device_plugin.time_slicing_replicas is not None:
            problems.append(f"device_plugin.time_slicing_replicas: expected none in a production stack (time-sliced "
                            "GPUs share memory between pods with no isolation), "
                            f"got {config.device_plugin.time_slicing_replicas}")
    for i, model in enumerate(config.models):
        problems += _model_problems(f"models[{i}]", model, config)
    problems += _prometheus_problems(config.monitoring.prometheus_url)
    problems += _allowlist_problems(config)
    problems += _identity_problems(config)
    problems += _device_list_problems(config)
    return problems


def device_list_strategy(config: StackConfig) -> str | None:
    """The device plugin's device list strategy for this stack: the configured one, else the cloud's
    (its plug-in's `device_list_strategy`, sourced in `catalog/<cloud>_facts.py`); None where the cloud or
    cluster runs its own plugin."""
    from .config import cloud_plugin

    plugin = cloud_plugin(config.cloud)
    if (plugin is not None and plugin.facts.MANAGES_DEVICE_PLUGIN) or (
            config.existing is not None and config.existing.manages_device_plugin):
        return None
    if config.device_plugin.device_list_strategy is not None:
        return config.device_plugin.device_list_strategy
    if plugin is not None and plugin.device_list_strategy is not None:
        return plugin.device_list_strategy(config)
    from .device_list import DEFAULT_DEVICE_LIST_STRATEGY

    return DEFAULT_DEVICE_LIST_STRATEGY


def _device_list_problems(config: StackConfig) -> list[str]:
    from .config import cloud_plugin

    given = config.device_plugin.device_list_strategy
    if given is None:
        return []
    field = "device_plugin.device_list_strategy"
    if device_list_strategy(config) is None:
        return [f"{field}: expected none where the cloud or cluster runs its own device plugin (GKE's gives each "
                f"container only its allocated GPU devices), got {given}"]
    plugin = cloud_plugin(config.cloud)
    return plugin.device_list_problems(config, field, given) if plugin is not None else []


def _clouds() -> list[Any]:
    """Every registered cloud plug-in (each checks its own settings block, on any stack)."""
    from .clouds import CLOUDS

    return list(CLOUDS.values())


def _region_problems(config: StackConfig) -> list[str]:
    from .config import cloud_plugin

    problems: list[str] = []
    plugin = cloud_plugin(config.cloud)
    if config.region is not None and plugin is not None and not re.match(plugin.region_pattern, config.region):
        problems.append(f"region: expected a {config.cloud} region name (e.g. {plugin.region_example}), "
                        f"got {_shown(config.region)}")
        return problems
    if config.cloud == "existing" and config.region is not None:
        problems.append(f"region: expected none for cloud 'existing' (the cluster's region is its own), "
                        f"got {_shown(config.region)}")
    region = config.region or ""
    zone = plugin.zone_pattern(region) if plugin is not None else EXISTING_ZONE_PATTERN
    zones: list[tuple[str, str]] = []
    for i, pool in enumerate(config.gpu_pools):
        zones += [(f"gpu_pools[{i}].zones[{j}]", z) for j, z in enumerate(pool.zones or [])]
    for cloud in _clouds():
        zones += cloud.zone_fields(config)
    for where, value in zones:
        if not re.match(zone, value):
            problems.append(f"{where}: expected a zone of region {region!r} "
                            f"({'a node label value' if config.cloud == 'existing' else 'its name and a letter'}), "
                            f"got {_shown(value)}")
    return problems


def _namespace_problems(config: StackConfig) -> list[str]:
    problems: list[str] = []
    monitoring = config.monitoring.namespace
    if monitoring in SYSTEM_NAMESPACES:
        problems.append(f"monitoring.namespace: expected a namespace of its own, not one of Kubernetes' or the "
                        f"platform's {sorted(SYSTEM_NAMESPACES)}, got {monitoring!r}")
    for i, model in enumerate(config.models):
        if model.namespace in SYSTEM_NAMESPACES or model.namespace == monitoring:
            problems.append(f"models[{i}].namespace: expected a tenant namespace of the models' own, never a system "
                            f"namespace {sorted(SYSTEM_NAMESPACES)} or the monitoring namespace ({monitoring!r}), "
                            f"got {model.namespace!r}")
        for j, client in enumerate(model.clients):
            if client in SYSTEM_NAMESPACES or client == monitoring:
                problems.append(f"models[{i}].clients[{j}]: expected an application namespace, never a system "
                                f"namespace or the monitoring namespace (anything running there could call the "
                                f"model), got {client!r}")
    return problems


def _model_problems(where: str, model: ModelConfig, config: StackConfig) -> list[str]:
    problems: list[str] = []
    _scheme, _bucket, prefix = _parse_uri(model.weights_uri)
    if not _URI_PREFIX.match(prefix) or any(part in (".", "..") for part in prefix.split("/")):
        problems.append(f"{where}.weights_uri: expected a prefix of letters, digits, '.', '_', '-' and '/' (it "
                        "becomes an IAM resource pattern: '*' or '?' would let this model read others' weights), "
                        f"got {_shown(model.weights_uri)}")
    remote = model.engine_args.get("trust_remote_code")
    if remote not in (None, False, "false", "False", 0) and config.production and not model.acknowledge_remote_code:
        problems.append(f"{where}.engine_args.trust_remote_code: expected false in a production stack (it runs "
                        "Python shipped with the weights) unless acknowledge_remote_code is true, "
                        f"got {_shown(remote)}")
    if model.python_model:
        problems += _python_model_problems(f"{where}.python_model", model.python_model)
    if model.image is not None:
        problems += _image_problems(f"{where}.image", model.image, config.image_registries)
    if model.active_hours is not None:
        hours = model.active_hours
        if hours.timezone not in _time_zones():
            problems.append(f"{where}.active_hours.timezone: expected an IANA time zone such as Europe/Berlin, "
                            f"got {_shown(hours.timezone)}")
        for field in ("start", "end"):
            bad = cron_problem(getattr(hours, field))
            if bad:
                problems.append(f"{where}.active_hours.{field}: {bad}")
    return problems


def _parse_uri(uri: str) -> tuple[str, str, str]:
    from .config import parse_weights_uri

    return parse_weights_uri(uri)


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(z for z in zoneinfo.available_timezones() if z not in {"localtime", "posixrules", "Factory"})


def cron_problem(expression: str) -> str | None:
    """A 5-field cron expression as KEDA's cron scaler reads it (numbers, ranges, lists, steps, names)."""
    fields = expression.split(" ")
    if len(fields) != 5 or any(not f for f in fields):
        return f"expected 5 cron fields separated by single spaces, got {_shown(expression)}"
    for text, (name, low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
        for item in text.split(","):
            base, _, step = item.partition("/")
            if step and (not step.isdigit() or not 1 <= int(step) <= high):
                return f"expected a step of 1 to {high} in the {name} field, got {_shown(expression)}"
            if base == "*":
                continue
            bounds = base.split("-")
            if len(bounds) > 2 or any(not _cron_value(b, low, high, names) for b in bounds):
                return f"expected {name} values from {low} to {high}, got {_shown(expression)}"
    return None


def _cron_value(text: str, low: int, high: int, names: dict[str, int]) -> bool:
    if text.lower() in names:
        return True
    return text.isdigit() and len(text) <= 2 and low <= int(text) <= high


def _python_model_problems(where: str, python_model: str) -> list[str]:
    from .triton.model_repository import BUILTIN_PREFIX, builtin_python_models

    if python_model.startswith(BUILTIN_PREFIX):
        name = python_model[len(BUILTIN_PREFIX):]
        if name not in builtin_python_models():
            return [f"{where}: expected one of {[BUILTIN_PREFIX + n for n in builtin_python_models()]} or a file "
                    f"under the program's directory, got {_shown(python_model)}"]
        return []
    base = Path.cwd().resolve()
    try:
        path = (base / python_model).resolve(strict=True)
    except (OSError, RuntimeError):
        return [f"{where}: expected a .py file under the program's directory ({base}), got {_shown(python_model)}, "
                "which does not exist"]
    if not path.is_relative_to(base) or path.suffix != ".py" or not path.is_file():
        return [f"{where}: expected a .py file under the program's directory ({base}); only that is mounted into "
                f"the cluster, got {_shown(python_model)}"]
    size = path.stat().st_size
    if size > MAX_PYTHON_MODEL_BYTES:
        return [f"{where}: expected at most {MAX_PYTHON_MODEL_BYTES // 1024} KiB (it is mounted from a ConfigMap), "
                f"got {size // 1024} KiB"]
    return []


def _image_problems(where: str, image: str, extra: list[str]) -> list[str]:
    match = re.match(r"^([a-z0-9.-]+(?::[0-9]+)?)/([a-z0-9._/-]+)(?::([A-Za-z0-9_][A-Za-z0-9._-]{0,127}))?"
                     r"(?:@(sha256:[0-9a-f]+))?$", image)
    if not match or "." not in match.group(1) and ":" not in match.group(1):
        return [f"{where}: expected REGISTRY/REPOSITORY:TAG or @sha256:DIGEST with the registry named, "
                f"got {_shown(image)}"]
    registry, repository, tag, digest = match.groups()
    allowed = [*DEFAULT_IMAGE_REGISTRIES, *extra]
    full = f"{registry}/{repository}"
    if not any(full == a or full.startswith(a.rstrip("/") + "/") or registry == a for a in allowed):
        return [f"{where}: expected an image from an allowed registry {allowed} (add your mirror to "
                f"image_registries), got {_shown(image)}"]
    if digest is not None and len(digest) != len("sha256:") + 64:
        return [f"{where}: expected a sha256 digest of 64 hex digits, got {_shown(digest)}"]
    if tag is None and digest is None:
        return [f"{where}: expected a pinned image (a release tag or @sha256 digest), got {_shown(image)}"]
    if tag == "latest" and digest is None:
        return [f"{where}: expected a release tag or a digest, not 'latest' (it moves), got {_shown(image)}"]
    return []


def _prometheus_problems(url: str) -> list[str]:
    where = "monitoring.prometheus_url"
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port
    except ValueError:
        return [f"{where}: expected an http(s) URL, got {_shown(url)}"]
    if parts.username is not None or parts.password is not None:
        return [f"{where}: expected no credentials in the URL, got {_shown(url.split('@')[-1])} with some"]
    if parts.query or parts.fragment:
        return [f"{where}: expected a URL without query or fragment, got {_shown(url)}"]
    in_cluster = host.endswith((".svc", ".svc.cluster.local"))
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None and (address.is_link_local or address.is_loopback or address.is_unspecified):
        return [f"{where}: expected Prometheus' service, not a link-local, loopback or unspecified address, "
                f"got {_shown(url)}"]
    if parts.scheme != "https" and not in_cluster:
        return [f"{where}: expected an in-cluster service (NAME.NAMESPACE.svc) or an https URL (queries cross "
                f"the network in clear otherwise), got {_shown(url)}"]
    return []


def _allowlist_problems(config: StackConfig) -> list[str]:
    lists = [entry for cloud in _clouds() for entry in cloud.allowlists(config)]
    problems = []
    limit = ALLOWLIST_PUBLIC_ADDRESSES[config.production]
    for field, cidrs in lists:
        networks = []
        for cidr in cidrs:
            try:
                networks.append(ipaddress.IPv4Network(cidr, strict=False))
            except ValueError:
                continue  # reported by the field's own check
        public = sum(n.num_addresses for n in ipaddress.collapse_addresses(networks)
                     if not any(n.subnet_of(p) for p in _PRIVATE_RANGES))
        if public > limit:
            problems.append(f"{field}: expected at most {limit} public addresses in total in a "
                            f"{'production' if config.production else 'non-production'} stack (the whole list "
                            f"is judged: 0.0.0.0/1 and 128.0.0.0/1 are the internet), got {public}")
    return problems


def _identity_problems(config: StackConfig) -> list[str]:
    problems: list[str] = []
    for cloud in _clouds():
        problems += cloud.identity_problems(config)
    if config.existing is not None:
        seen: dict[tuple[str, str], str] = {}
        for model, annotations in config.existing.model_identities.items():
            where = f"existing.model_identities.{model}"
            known = [k for k in annotations if k in IDENTITY_ANNOTATIONS]
            if not known:
                problems.append(f"{where}: expected one of {sorted(IDENTITY_ANNOTATIONS)}, got "
                                f"{_shown(sorted(annotations))}")
            for key, value in annotations.items():
                pattern = IDENTITY_ANNOTATIONS.get(key)
                if pattern is None:
                    continue
                if _DEFAULT_ACCOUNTS.match(value):
                    problems.append(f"{where}.{key}: expected a service account of this model's own, never a "
                                    f"project's default compute account (every workload could hold it), got {_shown(value)}")
                elif not pattern.match(value):
                    problems.append(f"{where}.{key}: expected {pattern.pattern}, got {_shown(value)}")
                elif (key, value) in seen:
                    problems.append(f"{where}.{key}: expected an identity of this model's own (model "
                                    f"{seen[(key, value)]!r} has it, and could read these weights), got {_shown(value)}")
                seen.setdefault((key, value), model)
    return problems
