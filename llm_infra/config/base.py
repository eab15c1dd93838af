"""The config package's building blocks: the strict model base, DNS-label types, weights URIs,
network allowlists and the one error shape (`field: expected X, got Y`) every check uses."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field


_DNS_LABEL = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
DnsLabel = Annotated[str, Field(pattern=_DNS_LABEL, min_length=1, max_length=40)]
NamespaceName = Annotated[str, Field(pattern=_DNS_LABEL, min_length=1, max_length=63)]


_AZURE_BLOB = re.compile(r"^https://([a-z0-9]{3,24})\.blob\.core\.windows\.net/([a-z0-9][-a-z0-9]{2,62})(/.*)?$")
_S3 = re.compile(r"^s3://([a-z0-9][-a-z0-9.]{1,61}[a-z0-9])(/.*)?$")
_GS = re.compile(r"^gs://([a-z0-9][-a-z0-9_.]{1,61}[a-z0-9])(/.*)?$")


def shown(value: Any, limit: int = 100) -> str:
    """A short, safe echo of a value a user gave: at most `limit` characters of its repr.

    Errors echo what was given, never all of it (a megabyte string, a 5000-digit integer
    whose repr Python refuses, a structure expanded from YAML aliases).
    """
    if isinstance(value, int) and not isinstance(value, bool) and abs(value).bit_length() > 128:
        return f"an integer of about {int(abs(value).bit_length() * 0.30103) + 1} digits"
    if isinstance(value, str):
        text = repr(value[: limit + 1])
    elif isinstance(value, dict | list | tuple):
        text = _short_container(value, limit)
    else:
        try:
            text = repr(value)
        except (ValueError, RecursionError):
            text = f"a {type(value).__name__}"
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _short_container(value: dict | list | tuple, limit: int) -> str:
    parts: list[str] = []
    size = 0
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for k, v in items:
        part = (f"{shown(k, 20)}: " if isinstance(value, dict) else "") + (
            shown(v, 20) if not isinstance(v, dict | list | tuple) else ("{...}" if isinstance(v, dict) else "[...]"))
        parts.append(part)
        size += len(part) + 2
        if size > limit:
            break
    open_, close = ("{", "}") if isinstance(value, dict) else ("[", "]")
    return open_ + ", ".join(parts) + close


class ConfigError(ValueError):
    """Stack configuration is invalid. Each line names a field, the value and what is expected."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [_bounded(p) for p in ([problems] if isinstance(problems, str) else list(problems))]
        # One problem is one line (what a CLI user and a CI log want); several get a line each.
        sep = " " if len(self.problems) == 1 else "\n  "
        super().__init__("invalid llm-infra stack config:" + sep + "\n  ".join(self.problems))


def _bounded(problem: str, limit: int = 600) -> str:
    """One line, of bounded length: a message never carries a whole hostile value."""
    line = " ".join(str(problem).split()) if "\n" in str(problem) or "\r" in str(problem) else str(problem)
    return line if len(line) <= limit else line[: limit - 1] + "\u2026"


def parse_weights_uri(uri: str) -> tuple[str, str, str]:
    """Split a weights URI into (scheme, bucket or `account/container`, prefix without slashes).

    The scheme is `s3`, `gs` or `azureblob` (for `https://<account>.blob.core.windows.net/...`).
    """
    for scheme, pattern in (("s3", _S3), ("gs", _GS)):
        m = pattern.match(uri)
        if m:
            return scheme, m.group(1), (m.group(2) or "").strip("/")
    m = _AZURE_BLOB.match(uri)
    if m:
        return "azureblob", f"{m.group(1)}/{m.group(2)}", (m.group(3) or "").strip("/")
    raise ValueError(
        "expected s3://BUCKET/PREFIX, gs://BUCKET/PREFIX or "
        f"https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX, got {shown(uri)}"
    )


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _allowlisted_network(field: str, cidr: str, *, what: str, strict: bool = True) -> None:
    """An entry of an allowlist to a private endpoint: a valid IPv4 network, never the whole internet."""
    try:
        net = ipaddress.IPv4Network(cidr, strict=strict)
    except ValueError:
        raise _FieldError(field, f"expected an IPv4 CIDR such as 203.0.113.0/24, got {shown(cidr)}") from None
    if net.prefixlen == 0:
        raise _FieldError(field, f"expected an explicit allowlist of networks (0.0.0.0/0 would open {what} to the "
                          f"whole internet), got {shown(cidr)}")


def _cidr_sized(v: str, smallest: int, largest: int) -> str:
    """A network CIDR whose prefix length lies in [smallest, largest] (e.g. a VPC of /16 to /24)."""
    try:
        net = ipaddress.IPv4Network(v, strict=True)
    except ValueError:
        net = None
    if net is None or not smallest <= net.prefixlen <= largest:
        raise ValueError(f"expected an IPv4 CIDR from /{smallest} to /{largest}, got {shown(v)}")
    return v


class _FieldError(ValueError):
    """A validator's problem with a sub-field, so the message names the full path."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class _Problems(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))
