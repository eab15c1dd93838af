"""The `llm-infra` command."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .config import ConfigError


def _plan(args: argparse.Namespace) -> int:
    from .plan import find_project, parsed_config, policy_violations, run_stack, summary, write_plan
    from .planning.stack import plan_stack
    from .policies import MANDATORY

    project = find_project(Path(args.project) if args.project else None)
    started = time.monotonic()
    count = 0

    def progress(what: str) -> None:
        nonlocal count
        count += 1
        if sys.stderr.isatty():
            print(f"\r  registering {count:4d}: {what[:90]:<90}", end="", file=sys.stderr, flush=True)
        elif count % 25 == 0:
            print(f"  registered {count} resources ...", file=sys.stderr, flush=True)

    print(f"planning stack {args.stack} of {project.root} offline (Pulumi mock engine) ...", file=sys.stderr)
    try:
        result = run_stack(args.stack, project, on_register=progress)
    except ConfigError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 1
    except FileNotFoundError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 1
    if sys.stderr.isatty():
        print(file=sys.stderr)
    out = Path(args.out)
    write_plan(result, out)
    violations = policy_violations(args.stack, result, project)
    print(summary(args.stack, result, violations, plan_stack(parsed_config(args.stack, project)).render()))
    print(f"\nwrote {out}/resources.json, outputs.json, manifests/, model_repository/ "
          f"in {time.monotonic() - started:.1f}s")
    if any(v.enforcement == MANDATORY for v in violations):
        print("error: mandatory policy violations (see above)", file=sys.stderr)
        return 2
    return 0


def _cluster(args: argparse.Namespace) -> int:
    from .local import binaries
    from .local import cluster as local

    directory = Path(args.dir)
    if args.action == "down":
        stopped = local.down(directory)
        print(f"stopped {', '.join(stopped) or 'nothing (already gone)'}")
        return 0
    stack_config = None
    if args.stack:
        from .plan import find_project

        project = find_project(Path(args.project) if args.project else None)
        stack_config = project.stack_config_dir / f"Pulumi.{args.stack}.yaml"
        if not stack_config.exists():
            print(f"error: stack: expected {stack_config} to exist, got no such file", file=sys.stderr)
            return 1
    try:
        crds = local.workload_crd_files() if args.crds else []
        cluster = local.up(directory, stack_config, crds)
    except (binaries.MissingBinary, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"control plane up at {cluster.server} with {len(cluster.nodes)} kwok nodes")
    print(f"kubeconfig: {cluster.kubeconfig_path}")
    print(f"stop it with: llm-infra cluster down --dir {directory}")
    return 0


def _weights_revision(args: argparse.Namespace) -> int:
    from .triton.cache_sync import CHECKSUM_LIST, write_checksum_list

    try:
        revision = write_checksum_list(args.weights_dir)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {Path(args.weights_dir) / CHECKSUM_LIST}; upload it with the weights and pin:", file=sys.stderr)
    print(revision)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="llm-infra", description="Private LLM serving on GPUs, with Pulumi.")
    sub = parser.add_subparsers(dest="command", required=True)
    plan = sub.add_parser("plan", help="show what a stack builds, offline (no cloud, no Pulumi CLI)")
    plan.add_argument("stack", help="stack name: stacks/Pulumi.<stack>.yaml")
    plan.add_argument("--out", required=True, help="directory for resources.json, outputs.json, manifests/, model_repository/")
    plan.add_argument("--project", help="Pulumi project directory (default: the one containing the working directory)")
    plan.set_defaults(func=_plan)
    cluster = sub.add_parser("cluster", help="a local control plane (etcd, kube-apiserver, controller-manager, "
                             "scheduler, kwok nodes shaped like a stack's pools) from scripts/real-engine.sh")
    cluster.add_argument("action", choices=["up", "down"])
    cluster.add_argument("--dir", required=True, help="working directory: certificates, data, logs, state.json")
    cluster.add_argument("--stack", help="shape the kwok nodes like this stack's pools (stacks/Pulumi.<stack>.yaml)")
    cluster.add_argument("--crds", action="store_true", help="install the KEDA and Prometheus operator CRDs")
    cluster.add_argument("--project", help="Pulumi project directory (default: the one containing the working directory)")
    cluster.set_defaults(func=_cluster)
    rev = sub.add_parser("weights-revision",
                         help="write SHA256SUMS for a weights directory and print the revision that pins it")
    rev.add_argument("weights_dir", help="local copy of the weights, as uploaded under the model's weights_uri")
    rev.set_defaults(func=_weights_revision)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
