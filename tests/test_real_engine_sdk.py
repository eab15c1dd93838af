"""A Go SDK generated from this package's schema compiles.

`pulumi package gen-sdk --language go` runs the Go code generator inside pulumi-language-go,
which the Go module proxy does not serve (docs/real-engine.md); tools/sdkgen runs the same
generator (`github.com/pulumi/pulumi/pkg/v3/codegen/go` at the CLI's version) on the schema
Pulumi's component provider host infers from our components, and `go build` compiles the SDK
against Pulumi's Go SDK from the module proxy. The components that take an AWS or Azure
provider are left out: their schemas refer to the aws and azure-native packages, whose
schemas and Go SDKs cannot be had here. One defect of the generator is pinned (see the test).
Fails, never skips, when a tool is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from llm_infra.local import binaries

pytestmark = pytest.mark.real_engine

# The Go SDKs the generated code imports, at versions the module proxy serves: Pulumi's at the
# CLI's version (scripts/real-engine.sh), pulumi-kubernetes' at the provider's SDK version.
GO_REQUIRES = {
    "github.com/pulumi/pulumi/sdk/v3": "v3.274.1",
    "github.com/pulumi/pulumi-kubernetes/sdk/v4": "v4.24.0",
}
UNAVAILABLE_PACKAGES = ("/aws/", "/azure-native/")


def _schema() -> dict:
    from pulumi.provider.experimental.component import ComponentProvider

    from llm_infra import __version__
    from llm_infra.multilanguage import PACKAGE_NAME, hosted_components

    provider = ComponentProvider(hosted_components(), PACKAGE_NAME, None, __version__)
    assert provider.schema is not None
    return json.loads(provider.schema)


def _without_unavailable_packages(schema: dict) -> tuple[dict, list[str]]:
    left_out = [token for token, spec in schema["resources"].items()
                if any(p in json.dumps(spec) for p in UNAVAILABLE_PACKAGES)]
    kept = {**schema, "resources": {t: s for t, s in schema["resources"].items() if t not in left_out}}
    assert not any(p in json.dumps(kept) for p in UNAVAILABLE_PACKAGES)
    return kept, left_out


def _go(*args: str, cwd: Path, timeout: float = 1500) -> subprocess.CompletedProcess:
    go = shutil.which("go")
    if go is None:
        pytest.fail("go is needed to compile the generated SDK (scripts/setup.sh installs it)")
    env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"}
    return subprocess.run([go, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_generated_go_sdk_compiles(tmp_path: Path) -> None:
    sdkgen = binaries.find("sdkgen")
    kubernetes_schema = Path(sdkgen).parent / "kubernetes-schema.json"
    schema, left_out = _without_unavailable_packages(_schema())
    assert "llm-infra:index:TritonLlmWorkload" in schema["resources"] and "llm-infra:index:LlmPlatform" in schema["resources"]
    assert all(t.split(":")[-1].startswith(("Aws", "Azure", "Aks", "Eks")) for t in left_out), left_out
    # Where the SDK's Go module lives (a schema's own choice; `gen-sdk` users set it the same way).
    module = "example.com/llm-infra-sdk"
    schema["language"]["go"]["importBasePath"] = f"{module}/llminfra"
    (tmp_path / "schema.json").write_text(json.dumps(schema))

    sdk = tmp_path / "sdk"
    generated = subprocess.run([sdkgen, "-schema", str(tmp_path / "schema.json"), "-out", str(sdk),
                                "-dep", f"kubernetes={kubernetes_schema}"], capture_output=True, text=True, timeout=600)
    assert generated.returncode == 0, generated.stderr[-4000:]
    package_dir = sdk / "llminfra"
    sources = sorted(p.name for p in package_dir.glob("*.go"))
    assert "tritonLlmWorkload.go" in sources and "llmPlatform.go" in sources, sources

    (sdk / "go.mod").write_text(f"module {module}\n\ngo 1.26\n\nrequire (\n" +
                                "".join(f"\t{m} {v}\n" for m, v in GO_REQUIRES.items()) + ")\n")
    tidy = _go("mod", "tidy", cwd=sdk)
    assert tidy.returncode == 0, tidy.stderr[-4000:]
    built = _go("build", "-trimpath", "./...", cwd=sdk)
    # Pulumi's Go generator (pkg/v3 v3.274.1) names the Args type of an object that is only ever a
    # plain array's plain item (GkeCluster's masterAuthorizedNetworks) but does not emit it. Pinned
    # here: the build fails with exactly that error and nothing else; when the generator is fixed,
    # this assertion fails and the shim below goes.
    errors = sorted({line.split(": ", 1)[1] for line in built.stderr.splitlines() if line.startswith("llminfra/")})
    assert built.returncode != 0 and errors == ["undefined: GkeAuthorizedNetworkArgs"], built.stderr[-6000:]
    (package_dir / "zz_shim.go").write_text("package llminfra\n\n// The plain struct the generator emits for it.\n"
                                           "type GkeAuthorizedNetworkArgs = GkeAuthorizedNetwork\n")
    built = _go("build", "-trimpath", "./...", cwd=sdk)
    assert built.returncode == 0, built.stderr[-6000:]
