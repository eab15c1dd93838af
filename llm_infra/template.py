"""`llm-infra init DIR`: a Pulumi project for a user's own stacks, on a pinned llm-infra release.

The project lives in the user's repository, not in a fork of the library: `Pulumi.yaml`,
`requirements.txt` (the llm-infra release, pinned), `stacks/` (the stack program and the
dev stack) and GitHub workflows (offline plan of every stack, preview, apply). The files
come from `llm_infra/project_template/`, which the library's tests hold equal to the
library's own `Pulumi.yaml`, stack program and dev stack.
"""

from __future__ import annotations

import json
from importlib import metadata, resources
from pathlib import Path

DISTRIBUTION = "llm-infra"
TEMPLATE = "project_template"
# The template's stack is on AWS; a project on another cloud changes the extra.
EXTRA = "aws"


def default_requirement(extra: str = EXTRA) -> str:
    """The requirement line for the llm-infra this command runs from.

    Installed from git (`pip install "llm-infra[aws] @ git+URL@vX"`), the project pins the
    same URL and tag (PEP 610's direct_url.json records both); from a local directory, that
    directory; from an index, the version.
    """
    from . import __version__

    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return f"{DISTRIBUTION}[{extra}]=={__version__}"
    direct = dist.read_text("direct_url.json")
    if direct:
        info = json.loads(direct)
        vcs = info.get("vcs_info")
        if vcs and vcs.get("vcs") == "git":
            revision = vcs.get("requested_revision") or vcs["commit_id"]
            return f"{DISTRIBUTION}[{extra}] @ git+{info['url']}@{revision}"
        if "dir_info" in info:
            return f"{DISTRIBUTION}[{extra}] @ {info['url']}"
    return f"{DISTRIBUTION}[{extra}]=={dist.version}"


def _files(root, prefix: str = ""):  # noqa: ANN001 a Traversable
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name == "__pycache__":
            continue
        if entry.is_dir():
            yield from _files(entry, f"{prefix}{entry.name}/")
        else:
            yield f"{prefix}{entry.name}", entry.read_bytes()


def template_files() -> dict[str, bytes]:
    """The template project's files by relative path (requirements.txt is written by `create_project`)."""
    return dict(_files(resources.files("llm_infra").joinpath(TEMPLATE)))


def create_project(directory: Path, requirement: str | None = None) -> list[str]:
    """Write the template project into `directory` (new, or one without any of its files: a repository's root).

    Returns what to tell the user.
    """
    if directory.exists() and not directory.is_dir():
        raise FileExistsError(f"{directory}: is a file; expected a directory (new, empty, or your repository's root)")
    requirement = requirement or default_requirement()
    files = template_files()
    clashes = sorted(path for path in [*files, "requirements.txt"] if (directory / path).exists())
    if clashes:
        raise FileExistsError(f"{directory}: already has {', '.join(clashes)}; init never overwrites a file")
    files["requirements.txt"] = (
        "# llm-infra with the extra of your stacks' cloud: [aws], [gcp], [azure] or [all].\n"
        "# Pinned to a release; change the tag to upgrade (read llm-infra's CHANGELOG.md first).\n"
        f"{requirement}\n"
    ).encode()
    for path, content in sorted(files.items()):
        target = directory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return [
        f"created {directory}: Pulumi.yaml, requirements.txt ({requirement}), stacks/ (dev), .github/workflows/",
        f"next: cd {directory} && "
        + ("" if (directory / ".venv" / "bin" / "llm-infra").exists()
           else "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt && ")
        + ".venv/bin/llm-infra plan dev",
    ]
