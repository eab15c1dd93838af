"""Name shortening shared by the clouds (pure Python, bottom layer)."""

import hashlib


def fit(name: str, limit: int) -> str:
    """`name` if it fits in `limit` characters, else a prefix plus a stable 8-hex hash of the whole name."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[:limit - 9].rstrip('-')}-{digest}"
