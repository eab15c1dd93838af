"""Stack files are read as the Pulumi CLI reads them, and no stack file crashes or hangs the plan.

The rules mirrored here, with their sources, are in `llm_infra/stack_file.py`'s docstring
(pulumi/pulumi `pkg/workspace/config.go` mergeConfig, `resource/config/object.go`,
go-yaml/yaml v3 `resolve.go` and `decode.go`).
"""

from __future__ import annotations

import math
import re
import shutil
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_infra.cli import main
from llm_infra.config import ConfigError
from llm_infra.plan import find_project, run_stack, stack_config
from llm_infra.stack_file import StackFileError, load_yaml, read_stack_file, resolve_plain

ROOT = find_project().root


def project_with(tmp_path: Path, stack_text: str, name: str = "hostile", pulumi_yaml: str | None = None) -> Path:
    project = tmp_path / "project"
    (project / "stacks").mkdir(parents=True, exist_ok=True)
    if pulumi_yaml is None:
        shutil.copy(ROOT / "Pulumi.yaml", project / "Pulumi.yaml")
    else:
        (project / "Pulumi.yaml").write_text(pulumi_yaml)
    shutil.copy(ROOT / "stacks" / "__main__.py", project / "stacks" / "__main__.py")
    (project / "stacks" / f"Pulumi.{name}.yaml").write_text(stack_text)
    return project


def plan_error(tmp_path: Path, capsys, stack_text: str, pulumi_yaml: str | None = None) -> str:
    """`llm-infra plan` of a stack file: exit 1, one error line, no traceback, nothing written."""
    project = project_with(tmp_path, stack_text, pulumi_yaml=pulumi_yaml)
    out = tmp_path / "out"
    started = time.monotonic()
    assert main(["plan", "hostile", "--out", str(out), "--project", str(project)]) == 1
    assert time.monotonic() - started < 30
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert not out.exists()
    problems = [line.strip() for line in err.splitlines() if line.startswith("  ") and "registering" not in line]
    if not problems:  # a single problem is printed on the error line itself
        problems = [line.removeprefix("error: ").removeprefix("invalid llm-infra stack config: ")
                    for line in err.splitlines() if line.startswith("error: ")]
    assert problems, err
    assert all(len(p) <= 600 for p in problems), problems
    return "\n".join(problems)


EXISTING = (ROOT / "stacks" / "Pulumi.existing.yaml").read_text()
PROD = (ROOT / "stacks" / "Pulumi.prod.yaml").read_text()


# --- Pulumi.yaml as the CLI merges it (mergeConfig) ---------------------------------------


def test_no_shipped_stack_misses_a_key_pulumi_yaml_requires():
    project = find_project()
    required = [k for k, d in project.declarations.items() if "default" not in d and "value" not in d]
    assert sorted(required) == ["llm-infra:cloud", "llm-infra:environment"]
    for path in sorted(project.stack_config_dir.glob("Pulumi.*.yaml")):
        read_stack_file(path, project.name, project.declarations, path.stem.split(".", 1)[1])


def test_a_key_declared_without_default_is_required_as_the_cli_requires_it(tmp_path):
    pulumi_yaml = (ROOT / "Pulumi.yaml").read_text() + "  zone:\n    type: string\n"
    project = project_with(tmp_path, EXISTING, pulumi_yaml=pulumi_yaml)
    with pytest.raises(StackFileError, match="stack 'hostile' is missing configuration value 'zone'"):
        stack_config("hostile", find_project(project))


def test_a_key_declared_secret_must_be_set_as_a_secret(tmp_path):
    pulumi_yaml = (ROOT / "Pulumi.yaml").read_text() + "  token:\n    type: string\n    secret: true\n"
    project = project_with(tmp_path, EXISTING.replace("config:\n", "config:\n  llm-infra:token: plain\n", 1),
                           pulumi_yaml=pulumi_yaml)
    with pytest.raises(StackFileError, match=r"config\.llm-infra:token: expected a secret"):
        stack_config("hostile", find_project(project))


def test_the_readme_defaults_are_real_production_true_and_isolation_dedicated(tmp_path):
    text = PROD.replace("  llm-infra:production: true\n", "").replace("  llm-infra:isolation: dedicated\n", "")
    project = find_project(project_with(tmp_path, text))
    config, _ = stack_config("hostile", project)
    assert config["llm-infra:production"] == "true"
    assert config["llm-infra:isolation"] == "dedicated"
    result = run_stack("hostile", project)
    assert result.of_type("aws:ec2/launchTemplate:LaunchTemplate")


def test_the_existing_stack_needs_no_region_and_its_kubeconfig_stays_a_secret():
    config, secret = stack_config("existing")
    assert "llm-infra:region" not in config
    assert secret == ["llm-infra:kubeconfig"]


# --- values exactly as `pulumi config set` stores them ------------------------------------


@pytest.mark.parametrize("stored", ['"false"', "false", "'false'"])
def test_pulumi_config_set_production_false_is_accepted(tmp_path, stored):
    """`pulumi config set llm-infra:production false` writes the string "false"."""
    text = EXISTING.replace("llm-infra:production: false", f"llm-infra:production: {stored}")
    project = find_project(project_with(tmp_path, text))
    config, _ = stack_config("hostile", project)
    assert config["llm-infra:production"] == "false"
    assert run_stack("hostile", project).kubernetes_objects("StatefulSet")


@pytest.mark.parametrize("value", ["off", "no", "yes", "on", "False ", "0"])
def test_yaml_1_1_booleans_are_strings_and_refused_for_a_boolean_key(tmp_path, capsys, value):
    text = EXISTING.replace("llm-infra:production: false", f"llm-infra:production: '{value}'"
                            if value.endswith(" ") else f"llm-infra:production: {value}")
    err = plan_error(tmp_path, capsys, text)
    assert "config.llm-infra:production: expected a boolean" in err


def test_a_duplicate_key_is_refused_with_both_lines(tmp_path, capsys):
    text = EXISTING.replace("  llm-infra:isolation: shared\n", "  llm-infra:isolation: shared\n  llm-infra:isolation: shared\n")
    err = plan_error(tmp_path, capsys, text)
    assert "mapping key 'llm-infra:isolation' already defined at line" in err


def test_a_duplicate_key_inside_a_model_is_refused(tmp_path, capsys):
    text = EXISTING.replace("      gpus_per_replica: 1\n", "      gpus_per_replica: 1\n      gpus_per_replica: 8\n", 1)
    assert "mapping key 'gpus_per_replica' already defined at line" in plan_error(tmp_path, capsys, text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("off", "off"), ("yes", "yes"), ("on", "on"), ("n", "n"), ("True", True), ("FALSE", False),
        ("~", None), ("null", None), ("0777", 511), ("0o17", 15), ("0x1F", 31), ("0b101", 5), ("1_000", 1000),
        ("08", 8.0), ("1e5", 100000.0), ("-.5", -0.5), ("0e9e39f2", "0e9e39f2"),
        ("18446744073709551615", 18446744073709551615), ("18446744073709551616", 1.8446744073709552e19),
        ("9" * 400, "9" * 400), ("1605565b", "1605565b"), ("+12", 12), ("12:30", "12:30"),
    ],
)
def test_plain_scalars_resolve_as_yaml_v3_resolves_them(text, expected):
    got = resolve_plain(text)
    assert got == expected and type(got) is type(expected)


def test_special_floats_resolve_but_the_cli_cannot_hand_them_over(tmp_path, capsys):
    assert math.isnan(resolve_plain(".nan"))
    text = EXISTING.replace("weights_size_gib: 16", "weights_size_gib: .inf", 1)
    assert "expected a finite number" in plan_error(tmp_path, capsys, text)


# --- no traceback, no hang, one line naming where (16.2) --------------------------------------

BOMB = "config:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"  {chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(9)
) + "  llm-infra:cloud: existing\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (BOMB, "excessive aliasing"),
        ("config:\n  a: &a [*a]\n", "recursive alias"),
        ("config: [1, 2]\n", "config: expected a mapping of config keys, got a list"),
        ("config: 3\n", "config: expected a mapping of config keys, got an integer"),
        ("- config\n", "expected a mapping with a `config` key, got a list"),
        ("config:\n  llm-infra:cloud: !!python/object/apply:os.system ['true']\n", "unsupported tag"),
        ("config:\n  llm-infra:cloud: !custom x\n", "unsupported tag"),
        ("config:\n  llm-infra:cloud: !!int abc\n", "cannot decode 'abc' as !!int"),
        ("config:\n  llm-infra:cloud: [unclosed\n", "invalid YAML"),
        ("config:\n\tllm-infra:cloud: aws\n", "invalid YAML"),
        ("config:\n  1: x\n", "expected a string key (quote it"),
        ("config:\n  llm-infra:cloud: x\n---\nconfig: {}\n", "invalid YAML"),
        ("config:\n  llm-infra:cloud\u00a0: existing\n", "expected a key of printable ASCII"),
        ("config:\n  \"llm-infra:cloud\\n\": existing\n", "expected a key of printable ASCII"),
        ("config:\n  llm-infra:\u0441loud: existing\n", "expected a key of printable ASCII"),
    ],
)
def test_a_hostile_stack_file_is_one_error_line_never_a_traceback(tmp_path, capsys, text, expected):
    assert expected in plan_error(tmp_path, capsys, text)


def test_a_non_utf8_stack_file_is_one_error_line(tmp_path, capsys):
    project = project_with(tmp_path, "")
    (project / "stacks" / "Pulumi.hostile.yaml").write_bytes(b"config:\n  llm-infra:cloud: \xff\n")
    assert main(["plan", "hostile", "--out", str(tmp_path / "out"), "--project", str(project)]) == 1
    assert "expected UTF-8 text" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("weights_size_gib: 16", "weights_size_gib: " + "9" * 5000, "models[0].weights_size_gib: expected at most 4096"),
        ("weights_size_gib: 16", "weights_size_gib: " + "9" * 400, "models[0].weights_size_gib: expected a valid number"),
        ("max_nodes: 4", "max_nodes: 99999999999999999999999", "gpu_pools[0].max_nodes: expected a valid integer"),
        ("environment: lab", "environment: 2026-12-01", "line 8: '2026-12-01' is an unquoted date"),
        ("storage_class: encrypted-ssd", "storage_class: 2026-12-01T10:00:00Z", "line 13: '2026-12-01T10:00:00Z' is an"),
        ("environment: lab", "environment: '2026-12-01'", "environment: expected a DNS label"),
        ("environment: lab", "environment: " + "x" * 100_000, "environment: "),
        (re.search(r"revision: \S+", EXISTING).group(0), "revision: 1e5",
         "models[0].revision: expected a valid string, got 100000"),
    ],
)
def test_hostile_values_name_the_field_and_echo_a_short_prefix(tmp_path, capsys, old, new, expected):
    err = plan_error(tmp_path, capsys, EXISTING.replace(old, new, 1))
    assert expected in err
    assert "9" * 100 not in err and "x" * 100 not in err


def test_a_broken_pulumi_yaml_is_one_error_line(tmp_path, capsys):
    err = plan_error(tmp_path, capsys, EXISTING, pulumi_yaml="name: llm-infra\nname: other\n")
    assert "mapping key 'name' already defined" in err


# --- the loader under fuzzing ----------------------------------------------------------------

_SCALARS = st.one_of(
    st.text(max_size=12), st.integers(), st.floats(allow_nan=True), st.booleans(), st.none(),
    st.sampled_from(["off", "yes", "0777", "0x1F", "1_0", ".inf", "2024-01-01", "~", "!!python/name:os.system",
                     "*a", "&a x", "<<: *a", "{", "[", "- x", ": x", "'x", "\"x", "|", ">", "%YAML 1.1", "? x"]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.text(max_size=10), _SCALARS), max_size=6), st.text(max_size=60))
def test_the_loader_answers_any_text_with_a_value_or_a_stack_file_error(entries, junk):
    text = "config:\n" + "".join(f"  {k}: {v}\n" for k, v in entries) + junk
    try:
        load_yaml(text, "Pulumi.fuzz.yaml")
    except StackFileError as exc:
        assert len(exc.problems) == 1 and "\n" not in exc.problems[0]
        assert exc.problems[0].startswith("Pulumi.fuzz.yaml: ")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=200))
def test_the_plan_answers_any_bytes_with_a_plan_or_one_config_error(tmp_path_factory, data):
    project = project_with(tmp_path_factory.mktemp("fuzz"), "")
    (project / "stacks" / "Pulumi.hostile.yaml").write_bytes(EXISTING.encode()[:200] + data)
    try:
        stack_config("hostile", find_project(project))
    except (ConfigError, FileNotFoundError):
        pass


# --- against the CLI's own Go packages (tools/stackread) ------------------------------------

STACKREAD = ROOT / "tools" / "stackread"
# Where this module is deliberately stricter than the CLI, and the words of its refusal.
STRICTER = ("unsupported tag", "expected a string key", "unquoted date", "printable ASCII", "excessive aliasing",
            "recursive alias", "expected plain values")


@pytest.fixture(scope="session")
def stackread(tmp_path_factory) -> Path:
    """tools/stackread built with Go (cached outside the repository by its sources' hash)."""
    import hashlib
    import os
    import subprocess

    go = shutil.which("go") or "/usr/local/go/bin/go"
    if not Path(go).exists():
        pytest.fail("go is needed to build tools/stackread (the CLI's own YAML and config packages)")
    digest = hashlib.sha256(b"".join((STACKREAD / f).read_bytes() for f in ("main.go", "go.mod", "go.sum"))).hexdigest()
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "llm-infra" / f"stackread-{digest[:16]}"
    if not cache.exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        build = subprocess.run([go, "build", "-mod=readonly", "-o", str(cache), "."], cwd=STACKREAD,
                               capture_output=True, text=True, timeout=1200)
        assert build.returncode == 0, build.stderr[-2000:]
    return cache


def cli_reads(stackread: Path, texts: list[str], tmp: Path) -> list[dict]:
    import json
    import subprocess

    paths = []
    for i, text in enumerate(texts):
        path = tmp / f"Pulumi.s{i}.yaml"
        path.write_text(text)
        paths.append(str(path))
    out = subprocess.run([str(stackread), "llm-infra", *paths], capture_output=True, text=True, timeout=300, check=True)
    return [json.loads(line) for line in out.stdout.splitlines()]


def ours(text: str, tmp: Path) -> dict:
    path = tmp / "Pulumi.ours.yaml"
    path.write_text(text)
    try:
        config, secret = read_stack_file(path, "llm-infra", {}, "ours")
    except StackFileError as exc:
        return {"error": exc.problems[0]}
    import json

    values = {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}
    return {"config": values | {k: "<secure>" for k in secret}}


def same_value(cli: str, mine: str) -> bool:
    import json

    if cli == mine:
        return True
    try:
        return json.loads(cli) == json.loads(mine) and cli[:1] in "[{" and mine[:1] in "[{"
    except ValueError:
        return False


def assert_agrees(cli: dict, mine: dict, text: str) -> None:
    if "error" in cli:
        assert "error" in mine, (text, cli, mine)
    elif "error" in mine:
        assert any(word in mine["error"] for word in STRICTER), (text, cli, mine)
    else:
        assert cli["config"].keys() == mine["config"].keys(), (text, cli, mine)
        for key, value in cli["config"].items():
            assert same_value(value, mine["config"][key]), (text, key, value, mine["config"][key])


CORPUS = [
    *(p.read_text() for p in sorted((ROOT / "stacks").glob("Pulumi.*.yaml"))),
    "config:\n  llm-infra:production: off\n  a: 0777\n  b: 1e5\n  d: [1, 0x1F, 08, 99999999999999999999999, yes, 1_000, .5]\n"
    "  e: 18446744073709551616\n  f: \"x\"\n  g:\n  h: [~, null, {x: ~}]\n  i: -0\n  j: 1.5e300\n  k: 0.0000001\n",
    "config:\n  a: '2024-01-01'\n  b: \"2024-01-01T10:00:00+02:00\"\n  c: x 2024-01-01\n  d: \"0777\"\n  e: \"true\"\n"
    "  f: True\n  g: 1e21\n  h: 100000000000000000000.0\n  i: !!str 12\n  j: 12:30\n  k: 0b101\n  l: 0o17\n  m: \"1_000\"\n",
    "config:\n  a: 1\n  a: 2\n", "config:\n  a: .nan\n", "config:\n  a: [.inf]\n", "config: [1]\n", "config: 3\n", "- x\n",
    "config:\n  a: 2024-01-01\n", "config:\n  a: !!python/object/apply:os.system [x]\n", "config:\n  1: x\n",
    "config:\n  a: &a [1, 2]\n  b: *a\n  c: {<<: {x: 1}, y: 2}\n", "config:\n  a: [unclosed\n", "",
    "config:\n  llm-infra:kubeconfig:\n    secure: v1:abc\n  other:ns: 5\n",
    "config:\n  a: 9223372036854775808\n  b: -9223372036854775809\n  c: 0x8000000000000000\n  d: +12\n  e: 1_0.5\n",
    BOMB,
]


def test_stack_files_read_as_the_cli_reads_them(stackread, tmp_path):
    for text, cli in zip(CORPUS, cli_reads(stackread, CORPUS, tmp_path), strict=True):
        assert_agrees(cli, ours(text, tmp_path), text)


_SCALAR_TEXT = st.one_of(
    st.from_regex(r"[-+]?[0-9_]{1,22}(\.[0-9_]{0,5})?([eE][-+]?[0-9]{1,3})?", fullmatch=True),
    st.from_regex(r"0[xob][0-9a-fA-F_]{1,20}", fullmatch=True),
    st.sampled_from(["true", "True", "TRUE", "yes", "No", "on", "OFF", "y", "~", "null", "Null", "", ".inf", "-.Inf",
                     ".NaN", "0777", "08", "1e5", "12:30", "1_000", "0o17", "-0b11", "0.", ".5", "+.5", "1e400"]),
    st.from_regex(r"[a-z][a-z0-9 ./:-]{0,12}", fullmatch=True).filter(lambda s: not s.endswith((" ", ":"))),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.from_regex(r"[a-z]{1,6}", fullmatch=True), _SCALAR_TEXT,
                          st.sampled_from(["{}", "'{}'", "[{}]", "{{x: {}}}"])), min_size=1, max_size=8))
def test_generated_scalars_read_as_the_cli_reads_them(stackread, tmp_path, entries):
    texts = ["config:\n" + "".join(f"  {k}{i}: {shape.format(v)}\n" for i, (k, v, shape) in enumerate(entries))]
    for text, cli in zip(texts, cli_reads(stackread, texts, tmp_path), strict=True):
        assert_agrees(cli, ours(text, tmp_path), text)
