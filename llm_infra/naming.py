"""Shortening names to a cloud's length limit, the same way for every cloud.

A name that fits is kept; a longer one becomes a prefix plus a stable hash of the whole
name, so two long names that share a prefix never collide and a plan shows the same name
on every run. Each cloud's `naming` module knows its own limits and calls this.
"""

import hashlib


def fit(name: str, limit: int, *, digest_chars: int = 8) -> str:
    """`name` if it fits in `limit` characters, else a prefix plus a stable `digest_chars`-hex hash of the whole name."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:digest_chars]
    return f"{name[:limit - digest_chars - 1].rstrip('-')}-{digest}"
