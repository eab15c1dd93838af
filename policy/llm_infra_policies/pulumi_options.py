"""Rules about how resources are managed rather than what they are (SECURITY.md 2, 41)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from . import Context, Resource, Rule

# Customer keys and the vaults that hold them: losing one loses every volume, secret and
# log it encrypted, so Pulumi must refuse to delete them and keep them on stack removal.
KEY_TYPES = (
    "aws:kms/key:Key",
    "gcp:kms/keyRing:KeyRing",
    "gcp:kms/cryptoKey:CryptoKey",
    "azure-native:keyvault:Vault",
    "azure-native:keyvault:Key",
)

_SECRET_NAME = re.compile(r"(kubeconfig|token|password|secret|credential|private_?key|client_?key)", re.I)


def keys_protected_and_retained(r: Resource, _: Context) -> Iterator[str]:
    if not r.protect:
        yield "protect the key (ResourceOptions(protect=True)): deleting it destroys everything it encrypted"
    if r.retain_on_delete is False:
        yield "retain the key on delete (ResourceOptions(retain_on_delete=True))"


def credential_outputs_are_secret(outputs: Mapping[str, Any], secret_keys: set[str]) -> list[str]:
    """Stack outputs whose names say they hold credentials must be Pulumi secrets (41)."""
    return [
        f"stack output {name!r} holds a credential: export it with pulumi.Output.secret(...)"
        for name in sorted(outputs)
        if _SECRET_NAME.search(name) and name not in secret_keys
    ]


RULES: list[Rule] = [
    Rule("keys-protected-and-retained", "Customer keys and vaults are protected and retained on delete.", "2, 29",
         "resource", keys_protected_and_retained, resource_types=KEY_TYPES),
]
