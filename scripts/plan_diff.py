"""Compare every shipped stack's offline plan at a git ref with the working tree's.

    python scripts/plan_diff.py [REF]        # default REF: main

Checks REF out into a temporary worktree, runs `llm-infra plan STACK --out DIR` for every
stack in stacks/ with REF's code and with the working tree's, and prints, per stack, the
resources added, removed and changed (by type and name; changed inputs by path) in
resources.json and the changed stack outputs in outputs.json. A refactoring must print
nothing; an intended fix prints exactly what it fixes. Exit status 1 when anything differs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def stacks(tree: Path) -> list[str]:
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in (tree / "stacks").glob("Pulumi.*.yaml"))


def plan(tree: Path, stack: str, out: Path) -> None:
    """`llm-infra plan` with `tree`'s code and stacks (its package first on the path)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cli = "import sys; from llm_infra.cli import main; sys.exit(main(sys.argv[1:]))"
    done = subprocess.run([sys.executable, "-c", cli, "plan", stack, "--out", str(out)], cwd=tree, env=env,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise SystemExit(f"{tree}: llm-infra plan {stack} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")


def _paths(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_paths(v, f"{prefix}.{k}" if prefix else str(k)))
        return out or {prefix: {}}
    if isinstance(value, list):
        out = {}
        for i, v in enumerate(value):
            out.update(_paths(v, f"{prefix}[{i}]"))
        return out or {prefix: []}
    return {prefix: value}


def diff(before: Path, after: Path) -> list[str]:
    """What differs between two plan output folders' resources.json and outputs.json."""
    lines: list[str] = []
    old = {(r["type"], r["name"]): r for r in json.loads((before / "resources.json").read_text())}
    new = {(r["type"], r["name"]): r for r in json.loads((after / "resources.json").read_text())}
    for key in sorted(set(old) - set(new)):
        lines.append(f"- {key[0]} {key[1]}")
    for key in sorted(set(new) - set(old)):
        lines.append(f"+ {key[0]} {key[1]}")
    for key in sorted(set(old) & set(new)):
        a, b = _paths(old[key]), _paths(new[key])
        for path in sorted(set(a) | set(b)):
            if a.get(path, "<absent>") != b.get(path, "<absent>"):
                lines.append(f"~ {key[0]} {key[1]} {path}: {a.get(path, '<absent>')!r} -> {b.get(path, '<absent>')!r}")
    a = _paths(json.loads((before / "outputs.json").read_text()))
    b = _paths(json.loads((after / "outputs.json").read_text()))
    for path in sorted(set(a) | set(b)):
        if a.get(path, "<absent>") != b.get(path, "<absent>"):
            lines.append(f"~ output {path}: {a.get(path, '<absent>')!r} -> {b.get(path, '<absent>')!r}")
    return lines


def main(argv: list[str]) -> int:
    ref = argv[0] if argv else "main"
    with tempfile.TemporaryDirectory(prefix="plan-diff-") as tmp:
        base = Path(tmp) / "ref"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(base), ref], check=True)
        try:
            names = stacks(ROOT)
            if names != stacks(base):
                print(f"stacks differ: {ref} has {stacks(base)}, the working tree {names}")
            jobs = [(tree, name, Path(tmp) / label / name)
                    for name in names if (base / "stacks" / f"Pulumi.{name}.yaml").is_file()
                    for tree, label in ((base, "before"), (ROOT, "after"))]
            with ThreadPoolExecutor(max_workers=2) as pool:
                list(pool.map(lambda job: plan(*job), jobs))
            changed = False
            for name in names:
                if not (Path(tmp) / "before" / name).is_dir():
                    continue
                lines = diff(Path(tmp) / "before" / name, Path(tmp) / "after" / name)
                changed |= bool(lines)
                print(f"{name}: {'identical' if not lines else f'{len(lines)} difference(s)'}")
                for line in lines:
                    print(f"  {line}")
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], check=False)
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
