"""GeneratedPassword: a random password made once, on create, and kept (as a secret) in the stack's state.

A Pulumi dynamic resource, so it needs no provider plugin beyond the Pulumi SDK itself
(pulumi_random is not a dependency of llm-infra). The value is drawn from `secrets` when
the resource is created and only then; every later `pulumi up` reads it back from the
state, where it is encrypted like every other secret output. Changing `length` makes a
new password.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import pulumi
import pulumi.dynamic as dynamic


class _PasswordProvider(dynamic.ResourceProvider):
    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        length = int(props["length"])
        # token_urlsafe(n) gives about 1.3 characters per byte; cut to the requested length.
        value = secrets.token_urlsafe(length)[:length]
        return dynamic.CreateResult(id_=uuid.uuid4().hex, outs={"length": length, "result": value})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        changed = int(olds.get("length", 0)) != int(news["length"])
        return dynamic.DiffResult(changes=changed, replaces=["length"] if changed else [], delete_before_replace=False)

    def read(self, id_: str, props: dict[str, Any]) -> dynamic.ReadResult:
        return dynamic.ReadResult(id_=id_, outs=props)


class GeneratedPassword(dynamic.Resource):
    """A random URL-safe password, generated on create and stored only as a secret."""

    result: pulumi.Output[str]
    """The password (a secret)."""

    def __init__(self, name: str, length: int = 32, opts: pulumi.ResourceOptions | None = None) -> None:
        if isinstance(length, bool) or not isinstance(length, int) or not 16 <= length <= 128:
            raise ValueError(f"length: expected an integer from 16 to 128, got {length!r}")
        super().__init__(
            _PasswordProvider(), name, {"length": length, "result": None},
            pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["result"])),
        )
