"""Every Python example runs offline under the harness and builds what its README says."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from llm_infra.plan import find_project
from llm_infra.testing import run_program

EXAMPLES = find_project().root / "examples"


def run_example(name: str, config: dict[str, str], secret_keys: list[str]):
    main = EXAMPLES / name / "__main__.py"
    return run_program(lambda: runpy.run_path(str(main), run_name="__main__"), config,
                       project=name, secret_keys=secret_keys)


def test_every_example_has_a_project_file_and_readme():
    examples = [p for p in EXAMPLES.iterdir() if p.is_dir()]
    assert examples
    for ex in examples:
        assert (ex / "Pulumi.yaml").is_file() and (ex / "README.md").is_file(), ex


def test_triton_on_existing_cluster(monkeypatch):
    monkeypatch.chdir(EXAMPLES / "triton-on-existing-cluster")
    result = run_example(
        "triton-on-existing-cluster",
        {"triton-on-existing-cluster:kubeconfig": "kubeconfig",
         "triton-on-existing-cluster:roleArn": "arn:aws:iam::123456789012:role/mistral-weights"},
        ["triton-on-existing-cluster:kubeconfig"],
    )
    sts = result.k8s("StatefulSet", "mistral-7b", "llm-serving")
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] == "encrypted-ssd"
    sa = result.k8s("ServiceAccount", "triton-mistral-7b", "llm-serving")
    assert sa["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/mistral-weights"}
    assert result.outputs["http_endpoint"] == "http://mistral-7b.llm-serving.svc.cluster.local:8000"
    assert result.one("pulumi:providers:kubernetes").secret_paths == ["kubeconfig"]
