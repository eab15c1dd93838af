"""Render, here, what the device run of Triton's OpenAI frontend needs from this project.

Everything the pod gets is taken from the `existing` stack's plan, verbatim: the Triton container's
arguments (`llm_infra.triton.openai.frontend_command`), the TLS terminator's nginx.conf, the mount
paths, the model repository the ConfigMap holds. Only what a cluster would supply is made here: a
test CA signs the certificate cert-manager would issue for the model's DNS names
(`tls.certificate_dns_names`), and the requests are the README's, extracted as
tests/test_openai_frontend.py and tests/test_readme_operations.py read them.

The README's OpenAI requests name the vLLM model `llama-3-8b`. No vLLM engine runs there, so the
phase `readme` serves, under that name, the python-backend toy model our code renders (the frontend
sends a non-vLLM model the TensorRT-LLM request format, which the toy model takes), with the command
line generated for the vLLM model (its `--tokenizer` is the checkpoint directory; the device driver
writes a small tokenizer with a chat template there, standing in for the checkpoint's). The phase
`toy-llm` runs the `existing` stack's python model exactly as planned.

    .venv/bin/python scripts/device/openai_frontend_bundle.py OUT_DIR

writes OUT_DIR/phases.json and OUT_DIR/<phase>/tls/. docs/openai-frontend-run.md tells the whole run.
"""

from __future__ import annotations

import datetime
import json
import re
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402

from llm_infra.plan import model_repositories, parsed_config  # noqa: E402
from llm_infra.triton import openai, tls  # noqa: E402
from llm_infra.triton.model_repository import write_model_repository  # noqa: E402

from _stacks import stack  # noqa: E402

STACK = "existing"


def readme_section(title: str) -> str:
    readme = (ROOT / "README.md").read_text()
    text = readme[readme.index(f"\n## {title}\n"):]
    return text[: text.find("\n## ", 1)]


def sh_blocks(section: str) -> list[list[str]]:
    """Each ```sh block as its command lines (comments and blank lines dropped, text otherwise verbatim)."""
    return [[line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]
            for block in re.findall(r"```sh\n(.*?)```", section, re.S)]


def _pem(obj) -> bytes:
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM)
    return obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def write_secret(directory: Path, dns_names: list[str]) -> None:
    """The three files of the `kubernetes.io/tls` Secret cert-manager writes for the model's Certificate."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "llm-infra device-run CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_names[0])]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "tls.crt").write_bytes(_pem(leaf) + _pem(ca))
    (directory / "tls.key").write_bytes(_pem(key))
    (directory / "ca.crt").write_bytes(_pem(ca))


def _files(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): p.read_text() for p in sorted(directory.rglob("*")) if p.is_file()}


def pod(result, model: str) -> tuple[list[str], dict[str, str], str]:
    """(the Triton container's args, the pod's mount paths by volume, the terminator's nginx.conf)."""
    [sts] = [s for s in result.kubernetes_objects("StatefulSet") if s.k8s_name == model]
    spec = sts.inputs["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in spec["containers"]}
    mounts = {f"{name}:{m['name']}": m["mountPath"] for name, c in containers.items() for m in c.get("volumeMounts", [])}
    [cm] = [c for c in result.kubernetes_objects("ConfigMap")
            if c.k8s_namespace == sts.k8s_namespace and c.k8s_name == f"{model}-{tls.PROXY_CONTAINER}"]
    return list(containers["triton"]["args"]), mounts, cm.inputs["data"][tls.CONFIG_FILE]


def port_forward(line: str) -> tuple[str, str, int, int]:
    words = shlex.split(line, comments=True)
    assert words[:2] == ["kubectl", "-n"] and words[3] == "port-forward", words
    local, remote = (int(p) for p in words[5].split(":"))
    return words[2], words[4].removeprefix("svc/"), local, remote


def main(out: Path) -> None:
    result = stack(STACK)
    models = {m.name: m for m in parsed_config(STACK).models}
    repositories = model_repositories(result)
    openai_section = readme_section("Calling a model through the OpenAI API")
    [openai_sh] = sh_blocks(openai_section)
    [python_code] = re.findall(r"```python\n(.*?)```", openai_section, re.S)
    kserve_blocks = sh_blocks(readme_section("Calling a model, the dashboards"))
    answer = re.search(r"answers `(\{.*?\})`", readme_section("Calling a model, the dashboards")).group(1)

    # The README's OpenAI block: fetch the CA, port-forward the Service's OpenAI port, then the requests.
    namespace, service, local, remote = port_forward(openai_sh[1])
    assert "get secret" in openai_sh[0] and openai_sh[0].rstrip().endswith("> ca.crt"), openai_sh[0]
    assert local == remote == openai.OPENAI_PORT, "the terminator listens on the Service's port; the driver relays none"
    readme_model = models[service]
    assert readme_model.namespace == namespace

    toy = next(m for m in models.values() if m.backend == "python")
    phases = []
    for phase, model, served in (("readme", readme_model, toy.model_copy(update={"name": readme_model.name})),
                                 ("toy-llm", toy, toy)):
        directory = out / phase
        args, mounts, nginx_conf = pod(result, model.name)
        assert openai.check_command(args, model.backend) == [], args
        assert args[:2] == ["python3", openai.FRONTEND_MAIN]
        write_secret(directory / "tls", tls.certificate_dns_names(model.name, model.namespace))
        if served is model:
            repository = repositories[model.name]  # exactly what the ConfigMap mounts
        else:
            # The toy model rendered by our code under the README model's name (GPU instance, as a pod renders it).
            rendered = write_model_repository([served], directory / "rendered", weights_dir=openai.tokenizer_dir(
                readme_model, "/cache/weights") or "/cache/weights")
            repository = _files(rendered / served.name)
        requests: list[dict] = []
        if phase == "readme":
            requests += [{"kind": "sh", "source": "README: Calling a model through the OpenAI API", "line": line}
                         for line in openai_sh[2:]]
            requests.append({"kind": "python", "source": "README: Calling a model through the OpenAI API",
                             "code": python_code, "hosts": [f"{model.name}.{model.namespace}.svc.cluster.local"]})
            # The README's KServe request to the same model (the frontend's --enable-kserve-frontends).
            for block in kserve_blocks:
                if block and block[0].startswith("kubectl") and port_forward(block[0])[1] == model.name:
                    requests += [{"kind": "sh", "source": "README: Calling a model, the dashboards", "line": line}
                                 for line in block[1:]]
        else:
            # The README's toy-model KServe request, and its OpenAI requests sent to the python model
            # (the README says: completions work, chat completions answer that the tokenizer is unknown).
            host_from, host_to = f"{readme_model.name}.{readme_model.namespace}", f"{model.name}.{model.namespace}"
            for line in openai_sh[2:]:
                line = line.replace(host_from, host_to).replace(f'"model": "{readme_model.name}"', f'"model": "{model.name}"')
                requests.append({"kind": "sh", "source": "README's OpenAI requests, renamed to the python model",
                                 "line": line})
            [block] = [b for b in kserve_blocks if b and b[0].startswith("kubectl") and port_forward(b[0])[1] == model.name]
            ns, svc, lp, rp = port_forward(block[0])
            assert lp == rp
            requests += [{"kind": "sh", "source": "README: Calling a model, the dashboards", "line": line,
                          "expect": answer} for line in block[1:]]
        phases.append({
            "phase": phase, "model": model.name, "namespace": model.namespace, "backend": model.backend,
            "served_by": f"{served.backend} model rendered by llm_infra" + (
                "" if served is model else f" (the toy model under the name {model.name})"),
            "tokenizer": any(a.startswith("--tokenizer=") for a in args),
            "args": args, "mounts": mounts, "nginx_conf": nginx_conf, "repository": repository,
            "requests": requests,
        })
    out.mkdir(parents=True, exist_ok=True)
    (out / "phases.json").write_text(json.dumps(phases, indent=2) + "\n")
    print(f"wrote {out}/phases.json: " + ", ".join(f"{p['phase']} ({len(p['requests'])} requests)" for p in phases))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: openai_frontend_bundle.py OUT_DIR")
    main(Path(sys.argv[1]))
