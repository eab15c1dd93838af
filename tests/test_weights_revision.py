"""`llm-infra weights-revision DIR`: the checksum list the init container verifies, and the pin."""

from __future__ import annotations

import hashlib

from llm_infra.cli import main
from llm_infra.config import ModelConfig


def test_weights_revision_writes_the_checksum_list_and_prints_the_revision_that_pins_it(tmp_path, capsys):
    (tmp_path / "original").mkdir()
    (tmp_path / "config.json").write_bytes(b"{}")
    (tmp_path / "original" / "params.json").write_bytes(b'{"dim": 1}')
    assert main(["weights-revision", str(tmp_path)]) == 0
    revision = capsys.readouterr().out.strip()
    sums = (tmp_path / "SHA256SUMS").read_bytes()
    params = b'{"dim": 1}'
    assert sums.decode().splitlines() == [
        f"{hashlib.sha256(b'{}').hexdigest()}  config.json",
        f"{hashlib.sha256(params).hexdigest()}  original/params.json",
    ]
    assert revision == hashlib.sha256(sums).hexdigest()
    # Re-running (the list is already there) lists the same files: the pin is stable.
    assert main(["weights-revision", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == revision
    ModelConfig.model_validate({"name": "m", "backend": "vllm", "weights_uri": "s3://models-bucket/m", "weights_size_gib": 1,
                                "gpu_pool": "l4", "revision": revision})


def test_weights_revision_refuses_a_file_name_the_init_container_would_refuse(tmp_path, capsys):
    (tmp_path / "model weights.bin").write_bytes(b"x")
    assert main(["weights-revision", str(tmp_path)]) == 1
    assert "got 'model weights.bin'" in capsys.readouterr().err
    assert not (tmp_path / "SHA256SUMS").exists()
