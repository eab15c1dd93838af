"""The version matrix: pinned images follow it, its facts cite upstream, and GPU nodes' drivers run the images."""

from __future__ import annotations

import dataclasses

import pytest

from llm_infra import versions
from llm_infra.plan import stack_config
from llm_infra.triton import upstream

from _stacks import STACKS, rejected


def test_each_backend_runs_the_image_of_its_matrix_row():
    for backend, release in upstream.RELEASES.items():
        assert versions.TRITON_IMAGES[backend] == release.image
        assert release.image.split(":")[1].startswith(release.container + "-")
    # Two years newer than the 24.10 of the first-contact review.
    assert upstream.RELEASES["vllm"].engine == "vLLM 0.13.0" and upstream.RELEASES["vllm"].container == "26.01"
    assert upstream.RELEASES["tensorrtllm"].engine == "TensorRT-LLM 0.19.0"
    assert all(r.container != "24.10" for r in upstream.RELEASES.values())


def test_every_release_cites_its_upstream_files_and_the_release_notes():
    for release in upstream.RELEASES.values():
        assert any(release.backend_ref in s or release.triton_version in s for s in release.sources), release
        assert any("release-notes" in s for s in release.sources) or release.engine == "-", release
        assert release.min_driver >= 560 and release.cuda


def test_every_shipped_eks_stack_gets_a_driver_that_runs_its_images():
    checked = 0
    for name in STACKS:
        raw, _ = stack_config(name)
        if raw.get("llm-infra:cloud") != "aws":
            continue
        aws = raw.get("llm-infra:aws") or {}
        driver = upstream.node_driver("aws", aws.get("ami_type", "AL2023_x86_64_NVIDIA"),
                                      aws.get("kubernetes_version", versions.EKS_KUBERNETES_VERSION))
        assert driver is not None, name
        for model in raw["llm-infra:models"]:
            assert upstream.driver_runs(driver.branch, model["backend"]), (name, model["name"], driver)
            checked += 1
    assert checked


def test_a_node_driver_older_than_the_image_needs_fails_the_config_naming_the_model(monkeypatch):
    # As if the EKS AMI shipped R570: below 575 and not a forward-compatibility branch.
    old = tuple(dataclasses.replace(d, branch=570) for d in upstream.NODE_DRIVERS)
    monkeypatch.setattr(upstream, "NODE_DRIVERS", old)
    problems = rejected("prod", lambda raw: None)
    assert problems and all(".backend: the vllm image (Triton 26.01, CUDA 13.1) needs NVIDIA driver 575+" in p
                            for p in problems), problems
    assert "R570" in problems[0] and "amazon-eks-ami" in problems[0]


@pytest.mark.parametrize("branch, runs", [(580, True), (575, True), (570, False), (545, True), (535, True), (530, False)])
def test_forward_compatibility_branches_run_the_vllm_image(branch, runs):
    assert upstream.driver_runs(branch, "vllm") is runs


def test_the_docs_show_every_node_driver_row():
    from pathlib import Path

    docs = (Path(__file__).parent.parent / "docs" / "versions.md").read_text()
    for d in upstream.NODE_DRIVERS:
        assert f"| {d.cloud} | {d.image} | {d.kubernetes} | R{d.branch} | {d.source} |" in docs
