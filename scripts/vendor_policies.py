#!/usr/bin/env python3
"""Copy the rules (llm_infra/policies) into the CrossGuard pack (policy/llm_infra_policies).

The pack is published as the `policy/` folder alone (`pulumi policy publish`), so it carries
its own copy of the rules instead of importing the library from the repository root. The
rules import neither Pulumi nor pydantic, so the copy runs in the pack's environment. The
copy is generated (scripts/setup-test.sh runs this, and so must a publish), never committed:
the rules have one source. tests/test_policy_pack.py fails while the copy differs.

Usage: python scripts/vendor_policies.py [--check]
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "llm_infra" / "policies"
TARGET = ROOT / "policy" / "llm_infra_policies"


def differences() -> list[str]:
    source = {p.name: p.read_bytes() for p in SOURCE.glob("*.py")}
    target = {p.name: p.read_bytes() for p in TARGET.glob("*.py")} if TARGET.is_dir() else {}
    return sorted(name for name in source.keys() | target.keys() if source.get(name) != target.get(name))


def main(argv: list[str]) -> int:
    stale = differences()
    if "--check" in argv:
        if stale:
            print(f"policy/llm_infra_policies differs from llm_infra/policies in {stale}: "
                  "run python scripts/vendor_policies.py", file=sys.stderr)
            return 1
        return 0
    TARGET.mkdir(exist_ok=True)
    for name in stale:
        src, dst = SOURCE / name, TARGET / name
        if src.exists():
            dst.write_bytes(src.read_bytes())
        else:
            dst.unlink()
    print(f"vendored {len(stale)} file(s) into {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
