"""README "Start here": the ten lines of Python build what the guide says, and the request names them.

The program runs under the mock engine exactly as written in the README (only the kubeconfig
comes from config, as `pulumi config set --secret kubeconfig` stores it).
"""

from __future__ import annotations

import re

from llm_infra.plan import find_project
from llm_infra.testing import run_program

ROOT = find_project().root


def section(heading: str) -> str:
    readme = (ROOT / "README.md").read_text()
    text = readme[readme.index(f"\n## {heading}"):]
    return text[: text.find("\n## ", 1)]


def test_the_start_here_program_serves_its_model_in_a_locked_down_namespace():
    [program] = re.findall(r"```python\n(.*?)```", section("Start here"), re.S)[:1]
    assert len(program.strip().splitlines()) <= 16, "the guide promises about ten lines"
    result = run_program(lambda: exec(program, {"__name__": "__main__"}),
                         {"llm-infra:kubeconfig": "{}"}, secret_keys=["llm-infra:kubeconfig"])
    sts = result.k8s("StatefulSet", "mistral")
    assert sts["metadata"]["namespace"] == "llm-serving"
    assert sts["spec"]["template"]["spec"]["automountServiceAccountToken"] is False
    assert result.k8s("Namespace", "llm-serving")["metadata"]["labels"][
        "pod-security.kubernetes.io/enforce"] == "restricted"
    service = result.k8s("Service", "mistral")
    assert service["spec"]["type"] == "ClusterIP"
    assert 9000 in [p["port"] for p in service["spec"]["ports"]]  # the OpenAI API
    # The request below trusts the CA of the certificate the program's issuer signs for the Service.
    cert = result.k8s("Certificate", "mistral-tls", "llm-serving")["spec"]
    assert cert["secretName"] == "mistral-tls" and cert["issuerRef"]["name"] == "my-ca"
    assert "mistral.llm-serving.svc" in cert["dnsNames"]


def test_send_a_request_calls_the_model_the_program_serves():
    text = section("Send a request")
    assert "port-forward svc/mistral 9000:9000" in text and "-n llm-serving" in text
    assert "https://mistral.llm-serving.svc:9000/v1/chat/completions" in text and "--cacert ca.crt" in text
    assert "secret mistral-tls" in text
