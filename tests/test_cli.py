"""The `llm-infra` command as a user meets it: every mistake is one line, never a traceback.

Each mistake runs the installed console script in a subprocess (what a user runs) and
asserts the exit status, that stderr is exactly one line naming the file, line or option,
and that no traceback appears. `init` writes the template project, which the tests hold
equal to this repository's own project file, stack program and dev stack.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading
from io import StringIO
from pathlib import Path

import pytest
import yaml

import llm_infra
from llm_infra.cli import Progress, main
from llm_infra.plan import find_project
from llm_infra.template import create_project, template_files

from _stacks import STACKS

ROOT = find_project().root
CLI = Path(sys.executable).parent / "llm-infra"


def run(*args: str, cwd: Path = ROOT, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(CLI), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def one_line_error(proc: subprocess.CompletedProcess, status: int = 1) -> str:
    assert proc.returncode == status, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    lines = proc.stderr.strip("\n").splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: "), lines
    return lines[0]


def project_copy(tmp_path: Path) -> Path:
    """A project with this repository's Pulumi.yaml, stack program and existing stack."""
    project = tmp_path / "project"
    (project / "stacks").mkdir(parents=True)
    shutil.copy(ROOT / "Pulumi.yaml", project / "Pulumi.yaml")
    shutil.copy(ROOT / "stacks" / "__main__.py", project / "stacks" / "__main__.py")
    shutil.copy(ROOT / "stacks" / "Pulumi.existing.yaml", project / "stacks" / "Pulumi.existing.yaml")
    return project


# --- each mistake: one line, no traceback -------------------------------------------------


def test_a_yaml_syntax_error_names_the_stack_file_and_line(tmp_path):
    project = project_copy(tmp_path)
    bad = project / "stacks" / "Pulumi.broken.yaml"
    bad.write_text("config:\n  llm-infra:cloud: existing\n  llm-infra:models: [a\n    b: c\n")
    line = one_line_error(run("plan", "broken", "--project", str(project)))
    assert str(bad) in line and "line 4" in line, line


def test_running_outside_a_project_says_where_it_looked_and_what_to_do(tmp_path):
    line = one_line_error(run("plan", "dev", cwd=tmp_path))
    assert f"no Pulumi.yaml in {tmp_path.resolve()}" in line and "llm-infra init" in line, line


def test_out_naming_a_file_is_refused_before_planning(tmp_path):
    target = tmp_path / "plan.txt"
    target.write_text("keep me")
    line = one_line_error(run("plan", "existing", "--out", str(target)))
    assert line == f"error: --out {target}: is a file; expected a directory (created if missing)"
    assert target.read_text() == "keep me"


def test_a_project_whose_stack_is_not_an_llm_infra_stack_is_refused(tmp_path):
    # Another Pulumi program's project and stack: the examples' own config, not llm-infra:*.
    project = tmp_path / "other"
    shutil.copytree(ROOT / "examples" / "platform-aws", project)
    stack = project / "Pulumi.dev.yaml"
    stack.write_text(yaml.safe_dump({"config": {"platform-aws:accountId": "123456789012", "aws:region": "eu-west-1",
                                            "platform-aws:adminRoleArn": "arn:aws:iam::123456789012:role/admin"}}))
    line = one_line_error(run("plan", "dev", cwd=project))
    assert f"{stack}: no llm-infra:* keys: not an llm-infra stack" in line, line


def test_a_project_without_a_python_program_is_refused(tmp_path):
    project = tmp_path / "yaml"
    shutil.copytree(ROOT / "examples" / "yaml-consumer", project)
    (project / "Pulumi.dev.yaml").write_text("config:\n  llm-infra:cloud: existing\n")
    line = one_line_error(run("plan", "dev", cwd=project))
    assert f"{project / 'Pulumi.yaml'}: main __main__.py: no Python program there" in line, line


@pytest.mark.parametrize("args, expected", [
    (("plan", "nope"), "error: stack 'nope': no "),
    (("plan",), "error: llm-infra plan: the following arguments are required: stack"),
    (("plan", "dev", "--project", "/nonexistent"), "error: --project /nonexistent: expected a directory"),
    (("deploy",), "error: llm-infra: argument command: invalid choice: 'deploy'"),
])
def test_usage_mistakes_are_one_line(args, expected):
    line = one_line_error(run(*args))
    assert line.startswith(expected), line


def test_a_stack_for_a_cloud_whose_extra_is_missing_names_the_extra(tmp_path):
    # The base install has no cloud SDK: a subprocess where pulumi_gcp cannot be imported.
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text(
        "import sys\n"
        "class _Hide:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'pulumi_gcp':\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, _Hide())\n")
    import os

    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    proc = subprocess.run([str(CLI), "plan", "gcp-dev"], cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "cloud: gcp needs llm-infra's gcp extra (pulumi_gcp is not installed): pip install 'llm-infra[gcp]'" \
        in proc.stderr


# --- what works ------------------------------------------------------------------------------


def test_version_is_the_packages():
    proc = run("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"llm-infra {llm_infra.__version__}"


def test_help_lists_the_stacks_found(tmp_path):
    proc = run("--help")
    assert proc.returncode == 0
    assert f"stacks in {ROOT / 'stacks'}: " + ", ".join(sorted(STACKS)) in " ".join(proc.stdout.split())
    proc = run("plan", "--help", cwd=tmp_path)
    assert proc.returncode == 0 and "stacks: none found" in proc.stdout


def test_out_is_optional_and_the_summary_is_printed(tmp_path):
    proc = run("plan", "existing", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "llm-serving/llama-3-8b: https://llama-3-8b.llm-serving.svc.cluster.local:8000" in proc.stdout
    assert "--out DIR writes" in proc.stdout
    # The final count is the number of resources the plan lists.
    registered = int(re.search(r"registered (\d+) resources\s*$", proc.stderr).group(1))
    assert f"stack existing: {registered} resources" in proc.stdout


def test_the_progress_count_is_exact_when_the_engine_calls_from_many_threads():
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: lost increments show up
    try:
        progress = Progress(StringIO())

        def register() -> None:
            for _ in range(20000):
                progress("kubernetes:core/v1:Service x")

        threads = [threading.Thread(target=register) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(0.005)
    assert progress.count == 160000
    lines = progress.stream.getvalue().splitlines()
    assert [int(re.search(r"\d+", line).group()) for line in lines] == list(range(25, 160001, 25))


def test_the_cost_total_names_what_it_leaves_out_unpriced(capsys):
    # azure-prod: no dated price was found for its system VM size or an HSM key's monthly fee.
    assert main(["plan", "azure-prod", "--project", str(ROOT)]) == 0
    out = capsys.readouterr().out
    [total] = [line for line in out.splitlines() if line.strip().startswith("total ")]
    assert total.endswith("leaves out (unpriced): system nodes, customer-managed keys"), total
    for item in ("system nodes", "customer-managed keys"):
        assert re.search(rf"^\s+{item}\s.*\[unpriced\]$", out, re.M), item


# --- init: a project for your own stacks ------------------------------------------------------


def test_the_template_is_this_repositorys_project_program_and_dev_stack():
    files = template_files()
    assert files["Pulumi.yaml"] == (ROOT / "Pulumi.yaml").read_bytes()
    assert files["stacks/__main__.py"] == (ROOT / "stacks" / "__main__.py").read_bytes()
    assert files["stacks/Pulumi.dev.yaml"] == (ROOT / "stacks" / "Pulumi.dev.yaml").read_bytes()


def test_the_template_workflows_pass_actionlint_and_plan_every_stack_before_any_cloud_call(tmp_path):
    from test_workflows import ACTIONLINT, actionlint, load

    create_project(tmp_path / "p", requirement="llm-infra[aws]==0.0.0")
    workflows = sorted((tmp_path / "p" / ".github" / "workflows").glob("*.yml"))
    assert [p.name for p in workflows] == ["apply.yml", "plan.yml", "preview.yml"]
    report = actionlint(workflows)
    assert report["actionlint"] == ACTIONLINT and report["findings"] == []
    for path in workflows:
        for job in load(path)["jobs"].values():
            steps = [str(s.get("run", "")) + str(s.get("uses", "")) for s in job["steps"]]
            plan = next(i for i, s in enumerate(steps) if "llm-infra plan" in s)
            assert all(i > plan for i, s in enumerate(steps) if s.startswith("pulumi/actions")), path.name
            assert all(not s.startswith(("aws-actions", "google-github-actions/auth", "azure/login"))
                       for s in steps[:plan]), path.name


def test_init_writes_a_project_whose_stacks_plan_and_a_users_new_stack_plans_too(tmp_path):
    project = tmp_path / "my-stacks"
    proc = run("init", str(project), "--requirement", "llm-infra[aws] @ git+https://example.com/llm-infra@v9")
    assert proc.returncode == 0, proc.stderr
    assert (project / "requirements.txt").read_text().splitlines()[-1] == \
        "llm-infra[aws] @ git+https://example.com/llm-infra@v9"
    # A stack of the user's own, next to the template's: the library's tests never see it.
    mine = yaml.safe_load((project / "stacks" / "Pulumi.dev.yaml").read_text())
    mine["config"]["llm-infra:environment"] = "mine"
    (project / "stacks" / "Pulumi.mine.yaml").write_text(yaml.safe_dump(mine))
    help_text = " ".join(run("--help", cwd=project).stdout.split())
    assert f"stacks in {project.resolve() / 'stacks'}: dev, mine" in help_text
    for name in ("dev", "mine"):
        proc = run("plan", name, cwd=project / "stacks")
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert f"planning stack {name} of {project.resolve()}" in proc.stderr
        assert "llm-serving/llama-3-8b: https://llama-3-8b.llm-serving.svc.cluster.local:8000" in proc.stdout


def test_init_never_overwrites_a_file_and_works_in_a_repositorys_root(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "README.md").write_text("my repository")
    line = one_line_error(run("init", str(tmp_path)))
    assert line == f"error: {tmp_path}: already has README.md; init never overwrites a file"
    (tmp_path / "README.md").unlink()
    assert run("init", str(tmp_path), "--requirement", "llm-infra[aws]==0.2.0").returncode == 0
    assert (tmp_path / "stacks" / "Pulumi.dev.yaml").is_file() and (tmp_path / ".git").is_dir()


def test_the_library_tests_enumerate_only_the_shipped_stacks(tmp_path):
    # A copy of the repository with one more stack file: collection must not change.
    copy = tmp_path / "repo"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.splitlines()
    for name in files:
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    shutil.copy(ROOT / "stacks" / "Pulumi.dev.yaml", copy / "stacks" / "Pulumi.mine.yaml")
    modules = ["tests/test_config.py", "tests/test_policies.py", "tests/test_manifests.py", "tests/test_workload.py",
               "tests/test_workflows.py"]
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *modules],
                          cwd=copy, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "mine" not in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_workflows.py",
                           "-k", "matrix or one_job_per_stack or ci_guide"], cwd=copy, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]


def test_the_readme_and_every_example_say_how_to_install_this_release():
    tag = f"@v{llm_infra.__version__}"
    readme = (ROOT / "README.md").read_text()
    assert f'pip install "llm-infra[aws] @ git+$REPO{tag}"' in readme
    for path in sorted((ROOT / "examples").glob("*/README.md")):
        text = path.read_text()
        lines = [line for line in text.splitlines() if "pip install" in line or "pulumi package add" in line]
        assert lines and all(tag in line for line in lines), (path, lines)
        assert not re.search(r'pip install ("llm-infra(\[\w+\])?"|llm-infra(\[\w+\])?)(\s|$)', text, re.M), path


def test_python_dash_m_llm_infra_is_the_cli_when_no_engine_started_it():
    """`python -m llm_infra plan` used to start the multi-language provider, print a port and wait forever."""
    proc = subprocess.run([sys.executable, "-m", "llm_infra", "plan", "existing"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "stack existing:" in proc.stdout
    from llm_infra.__main__ import started_by_engine

    # What Pulumi's plugin host passes (`pulumi.run.plugin` keeps the engine address in argv).
    assert started_by_engine(["127.0.0.1:41235"]) and started_by_engine(["--logtostderr", "-v=9", "localhost:9"])
    assert not started_by_engine(["plan", "dev"]) and not started_by_engine(["--help"]) and not started_by_engine([])


def test_two_plans_of_a_stack_write_byte_identical_manifests(tmp_path):
    """Pulumi resolves a manifest's inputs in no fixed order; the files written must not follow it."""
    for out in ("a", "b"):
        proc = run("plan", "existing", "--out", str(tmp_path / out))
        assert proc.returncode == 0, proc.stderr[-2000:]
    a, b = sorted((tmp_path / "a" / "manifests").iterdir()), sorted((tmp_path / "b" / "manifests").iterdir())
    assert [p.name for p in a] == [p.name for p in b] and a
    assert [p.read_text() for p in a] == [p.read_text() for p in b]
    first = yaml.safe_load(a[0].read_text())
    assert list(first)[:3] == ["apiVersion", "kind", "metadata"]
