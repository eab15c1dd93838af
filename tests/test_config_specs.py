"""The config inputs' static types (llm_infra/config/specs.py) are the config models' fields.

Type checkers and IDEs read specs.py; other Pulumi languages read the schema types that
`schema_type` builds from the models at run time. Both come from the same models: the
file is generated (scripts/config_specs.py) and must be current, and each TypedDict has
exactly the keys, required keys and field docs of its model.
"""

from __future__ import annotations

import subprocess
import sys
import typing

import pytest
from pydantic import BaseModel

from llm_infra.config import specs
from llm_infra.config.schema import schema_type
from llm_infra.plan import find_project

ROOT = find_project().root


def _models() -> list[type[BaseModel]]:
    import llm_infra.config as config

    return [getattr(config, name.removesuffix("Fields")) for name in vars(specs) if name.endswith("Fields")]


def test_specs_file_is_what_the_script_generates():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "config_specs.py"), "--check"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("model", _models(), ids=lambda m: m.__name__)
def test_each_static_type_has_its_models_fields_and_required_keys(model):
    static = getattr(specs, f"{model.__name__}Fields")
    runtime = schema_type(model)
    assert static.__required_keys__ == runtime.__required_keys__
    assert static.__optional_keys__ == runtime.__optional_keys__
    assert set(typing.get_type_hints(static)) == set(model.model_fields)


def test_every_config_model_a_component_takes_has_a_static_type():
    names = {m.__name__ for m in _models()}
    assert {"StackConfig", "ModelConfig", "MonitoringConfig", "DevicePluginConfig", "GpuPoolConfig"} <= names
