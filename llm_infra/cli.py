"""The `llm-infra` command: `plan` a stack offline, `init` a project for your own stacks.

Every mistake a user can make here (no project, a stack file that is not YAML, `--out`
naming a file, a project whose program is not an llm-infra stack, bad config) ends in an
error naming the file, line or option and a non-zero exit status, never a traceback.
Exit status: 0 fine, 1 an error, 2 a mandatory policy violation.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

from . import __version__
from .config import CONFIG_NAMESPACE, ConfigError


class CliError(Exception):
    """A user's mistake: the message is the one line the command prints."""


class Progress:
    """Counts resource registrations for the progress line.

    The mock engine's monitor calls it from the engine's worker threads, so the count is
    taken under a lock: unsynchronised `count += 1` from several threads loses increments.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.count = 0
        self._lock = threading.Lock()
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def __call__(self, what: str) -> None:
        with self._lock:
            self.count += 1
            if self._tty:
                print(f"\r  registering {self.count:4d}: {what[:90]:<90}", end="", file=self.stream, flush=True)
            elif self.count % 25 == 0:
                print(f"  registered {self.count} resources ...", file=self.stream, flush=True)

    def done(self) -> None:
        with self._lock:
            prefix = "\r" if self._tty else ""
            print(f"{prefix}  registered {self.count} resources{' ' * 100 if self._tty else ''}", file=self.stream,
                  flush=True)


def _yaml_error(exc: Exception) -> str:
    """A PyYAML error as `FILE: line N: invalid YAML: problem` (the stack-file loader's form)."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is None:
        return f"invalid YAML: {problem}"
    return f"{mark.name}: line {mark.line + 1}: invalid YAML: {problem}"


def _project(path: str | None):
    from .plan import find_project

    if path is not None and not Path(path).is_dir():
        raise CliError(f"--project {path}: expected a directory holding Pulumi.yaml, got "
                       f"{'a file' if Path(path).exists() else 'nothing (no such path)'}")
    try:
        return find_project(Path(path) if path else None)
    except FileNotFoundError as exc:
        raise CliError(f"{exc}: run llm-infra inside a Pulumi project, pass --project DIR, "
                       "or create one with `llm-infra init DIR`") from None


def _stack_file_config(stack: str, project) -> tuple[dict, list[str]]:  # noqa: ANN001
    from .plan import stack_config, stack_names

    main = project.main / "__main__.py" if project.main.is_dir() else project.main
    if main.suffix != ".py" or not main.is_file():
        raise CliError(f"{project.root / 'Pulumi.yaml'}: main {main.relative_to(project.root)}: no Python "
                       "program there; llm-infra plan runs an llm-infra stack program (`llm-infra init DIR` writes one)")
    try:
        config, secret = stack_config(stack, project)
    except FileNotFoundError:
        names = stack_names(project)
        raise CliError(f"stack {stack!r}: no {project.stack_config_dir / f'Pulumi.{stack}.yaml'}; "
                       f"stacks: {', '.join(names) if names else 'none'}") from None
    if not any(key.startswith(f"{CONFIG_NAMESPACE}:") and key not in secret for key in config):
        path = project.stack_config_dir / f"Pulumi.{stack}.yaml"
        raise CliError(f"{path}: no {CONFIG_NAMESPACE}:* keys: not an llm-infra stack "
                       f"(expected {CONFIG_NAMESPACE}:cloud, {CONFIG_NAMESPACE}:models, ...; README 'Stack config')")
    return config, secret


def _out_dir(out: str | None) -> Path | None:
    if out is None:
        return None
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise CliError(f"--out {out}: is a file; expected a directory (created if missing)")
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise CliError(f"--out {out}: {parent} is a file; expected a directory")
            if not os.access(parent, os.W_OK):
                raise CliError(f"--out {out}: cannot create it, {parent} is not writable")
            break
    return path


def _plan(args: argparse.Namespace) -> int:
    from .plan import parsed_config, policy_violations, run_stack, summary, write_plan
    from .planning.stack import plan_stack
    from .policies import MANDATORY

    out = _out_dir(args.out)
    project = _project(args.project)
    _stack_file_config(args.stack, project)  # every stack-file mistake before the first line of output
    started = time.monotonic()
    progress = Progress()
    print(f"planning stack {args.stack} of {project.root} offline (Pulumi mock engine) ...", file=sys.stderr)
    try:
        result = run_stack(args.stack, project, on_register=progress)
    except ConfigError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 1
    progress.done()
    violations = policy_violations(args.stack, result, project)
    print(summary(args.stack, result, violations, plan_stack(parsed_config(args.stack, project)).render()))
    if out is not None:
        write_plan(result, out)
        print(f"\nwrote {out}/resources.json, outputs.json, manifests/, model_repository/ "
              f"in {time.monotonic() - started:.1f}s")
    else:
        print(f"\nplanned in {time.monotonic() - started:.1f}s (--out DIR writes resources.json, outputs.json, "
              "manifests/ and model_repository/)")
    if any(v.enforcement == MANDATORY for v in violations):
        print("error: mandatory policy violations (see above)", file=sys.stderr)
        return 2
    return 0


def _init(args: argparse.Namespace) -> int:
    from .template import create_project

    try:
        lines = create_project(Path(args.directory), requirement=args.requirement)
    except FileExistsError as exc:
        raise CliError(str(exc)) from None
    for line in lines:
        print(line)
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
        raise CliError(str(exc)) from None
    print(f"wrote {Path(args.weights_dir) / CHECKSUM_LIST}; upload it with the weights and pin:", file=sys.stderr)
    print(revision)
    return 0


def _stacks_epilog(argv: list[str]) -> str:
    """What `--help` says about the stacks of the project it runs in (or `--project DIR`)."""
    from .plan import find_project, stack_names

    path = None
    for i, arg in enumerate(argv):
        if arg == "--project" and i + 1 < len(argv):
            path = argv[i + 1]
        elif arg.startswith("--project="):
            path = arg.split("=", 1)[1]
    try:
        project = find_project(Path(path) if path else None)
        names = stack_names(project)
    except Exception:  # noqa: BLE001 help must print whatever the directory holds
        return ("stacks: none found (no Pulumi.yaml here or above;\n"
                "  `llm-infra init DIR` creates a project, or pass --project DIR)")
    where = project.stack_config_dir
    return f"stacks in {where}: {', '.join(names) if names else 'none (add Pulumi.<stack>.yaml)'}"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # noqa: ANN201 argparse's signature
        raise CliError(f"{self.prog}: {message} (see {self.prog} --help)")


def parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    epilog = _stacks_epilog(list(argv or []))
    raw = argparse.RawDescriptionHelpFormatter  # the stack list is not re-wrapped at its hyphens
    top = _Parser(prog="llm-infra", description="Private LLM serving on GPUs, with Pulumi.", epilog=epilog,
                  formatter_class=raw)
    top.add_argument("--version", action="version", version=f"llm-infra {__version__}")
    sub = top.add_subparsers(dest="command", required=True, parser_class=_Parser)
    plan = sub.add_parser("plan", help="show what a stack builds, offline (no cloud, no Pulumi CLI)", epilog=epilog,
                          formatter_class=raw,
                          description="Run a stack's program under Pulumi's mock engine and print what it builds: "
                                      "resources, models, secrets, cost and policy results.")
    plan.add_argument("stack", help="stack name: <stackConfigDir>/Pulumi.<stack>.yaml")
    plan.add_argument("--out", help="also write resources.json, outputs.json, manifests/, model_repository/ here")
    plan.add_argument("--project", help="Pulumi project directory (default: the one containing the working directory)")
    plan.set_defaults(func=_plan)
    init = sub.add_parser("init", help="create a project for your own stacks (Pulumi.yaml, a stack, CI workflows)",
                          description="Write a Pulumi project that depends on this llm-infra release: Pulumi.yaml, "
                                      "requirements.txt, stacks/ with the dev stack, and GitHub workflows.")
    init.add_argument("directory", help="where to create the project (must not exist, or be empty)")
    init.add_argument("--requirement", help="the llm-infra requirement for requirements.txt "
                                            "(default: the release this command comes from)")
    init.set_defaults(func=_init)
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
    return top


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = parser(argv).parse_args(argv)
        return args.func(args)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 a user sees one line; LLM_INFRA_TRACEBACK=1 shows where
        import yaml

        if isinstance(exc, yaml.YAMLError):
            print(f"error: {_yaml_error(exc)}", file=sys.stderr)
            return 1
        if os.environ.get("LLM_INFRA_TRACEBACK"):
            raise
        first = (str(exc).strip().splitlines() or [""])[0]
        print(f"error: {type(exc).__name__}: {first} (LLM_INFRA_TRACEBACK=1 shows the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
