"""On the device machine: run Triton's OpenAI frontend with our generated command and send the README's requests.

Run by scripts/device/openai_frontend_check.sh after it installed the carried wheels into /tmp/site
(frontend side) and /tmp/client (the `openai` client the README installs) and unpacked the carried
libraries. Reads RUN/bundle/phases.json (scripts/device/openai_frontend_bundle.py) and, per phase
and frontend tag:

- lays out the pod's files at the pod's own paths (the machine is bare and we are root): the
  frontend at /opt/tritonserver/python/openai (where the pinned images hold it), the python backend
  at /opt/tritonserver/backends/python (the in-process server's default backend directory), the
  model repository, the certificate Secret and the terminator's nginx.conf at their mount paths;
- starts the frontend with the generated container args, verbatim, and the terminator with the
  generated nginx.conf;
- sends each README request as written (curl lines through bash; the Python block through the
  interpreter with SSL_CERT_FILE=ca.crt and the Service's name resolving to loopback), from a
  directory holding ca.crt (what the README's `kubectl get secret` line writes); the terminator
  listens on the Service's port, which is what the README's `kubectl port-forward` line reaches;
- stops both with SIGTERM/SIGQUIT and records the exit.

Writes OUT/report.json (everything sent and answered, versions, exits) and OUT/<phase>-<tag>.log
(the frontend's and the terminator's output).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path

FRONTEND_ROOT = Path("/opt/tritonserver")
BACKEND_DIR = FRONTEND_ROOT / "backends" / "python"
PYTRITON = Path("/opt/pytriton")
LIBS = PYTRITON / "nvidia_pytriton.libs"
DEBIAN = Path("/opt/debian")
SITE, CLIENT = Path("/tmp/site"), Path("/tmp/client")
WORK = Path("/tmp/frontend-run")

CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|> {{ message['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
TOKENIZER_CODE = f"""
import sys
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast
words = "<unk> <s> </s> What is Triton ? The capital of France is".split()
tok = Tokenizer(models.WordLevel({{w: i for i, w in enumerate(dict.fromkeys(words))}}, unk_token="<unk>"))
tok.pre_tokenizer = pre_tokenizers.Whitespace()
t = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>")
t.chat_template = {CHAT_TEMPLATE!r}
t.save_pretrained(sys.argv[1])
"""


def sh(cmd: str, **kw) -> str:
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True, **kw)
    return (r.stdout + r.stderr).strip()


def facts() -> dict:
    libpython = sorted(set(glob.glob("/usr/lib/x86_64-linux-gnu/libpython3.12*.so*")
                           + glob.glob(f"{sys.base_prefix}/lib/libpython3.12*.so*")
                           + glob.glob(f"{sysconfig.get_config_var('LIBDIR')}/libpython3.12*.so*")))
    return {
        "python": sys.version, "executable": sys.executable, "base_prefix": sys.base_prefix,
        "libc": platform.libc_ver(), "os_release": sh("grep PRETTY_NAME /etc/os-release"),
        "gpu": sh("nvidia-smi -L"), "libpython": libpython,
        "system_curl": shutil.which("curl"), "system_nginx": shutil.which("nginx"),
        "packages": sh(f"PYTHONPATH={SITE} {sys.executable} -m pip list 2>/dev/null | grep -iE "
                       "'^(tritonserver|tritonfrontend|fastapi|starlette|pydantic|uvicorn|openai|httpx|transformers|"
                       "tokenizers|numpy|partial-json-parser) '"),
        "client_openai": sh(f"PYTHONPATH={CLIENT}:{SITE} {sys.executable} -c 'import openai; print(openai.__version__)'"),
    }


def install_server(libpython: list[str]) -> dict:
    """The in-process server: pytriton's libtritonserver (2.51) behind the PyPI bindings, and its python backend."""
    real = next(LIBS.glob("libtritonserver-*.so"))
    linked = {}
    for pkg in ("tritonserver", "tritonfrontend"):
        # The bindings' wheel carries a 78 KB stub libtritonserver (auditwheel grafted it); the real
        # library takes its place, one file so that one copy is loaded (the backend needs it by its own soname).
        for stub in (SITE / f"{pkg}.libs").glob("libtritonserver-*.so"):
            stub.unlink()
            stub.symlink_to(real)
            linked[str(stub)] = str(real)
    shutil.rmtree(BACKEND_DIR, ignore_errors=True)  # a stub still running keeps its (unlinked) file
    BACKEND_DIR.mkdir(parents=True, exist_ok=True)
    src = PYTRITON / "pytriton" / "tritonserver"
    shutil.copy2(src / "backends" / "python" / "libtriton_python.so", BACKEND_DIR)
    shutil.copy2(src / "backends" / "python" / "triton_python_backend_utils.py", BACKEND_DIR)
    shutil.copy2(src / "python_backend_stubs" / "3.12" / "triton_python_backend_stub", BACKEND_DIR)
    ld = [str(LIBS)] + sorted({str(Path(p).parent) for p in libpython})
    return {"linked": linked, "ld_library_path": ld,
            "stub_ldd": sh(f"LD_LIBRARY_PATH={':'.join(ld)} ldd {BACKEND_DIR}/triton_python_backend_stub | grep -E 'not found|python'"),
            "bindings_ldd": sh(f"LD_LIBRARY_PATH={':'.join(ld)} ldd {SITE}/tritonserver/_c/*.so {SITE}/tritonfrontend/_c/*.so | grep -E 'not found|tritonserver'")}


def install_frontend(run: Path, tag: str) -> None:
    shutil.rmtree(FRONTEND_ROOT / "python", ignore_errors=True)
    FRONTEND_ROOT.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-C", str(FRONTEND_ROOT), "-xJf", str(run / f"server-{tag}-openai.tar.xz")], check=True)


def frontend_env(ld: list[str]) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    env["PYTHONPATH"] = f"{SITE}:{sysconfig.get_paths()['purelib']}"
    env["LD_LIBRARY_PATH"] = ":".join(ld)
    env["PYTHONUNBUFFERED"] = "1"
    if sys.base_prefix != "/usr":
        # The python backend stub embeds libpython; outside /usr it finds its standard library only through this.
        env["PYTHONHOME"] = sys.base_prefix
    return env


def curl_env() -> dict[str, str]:
    env = dict(os.environ)
    if not shutil.which("curl"):
        env["PATH"] = f"{DEBIAN}/usr/bin:{env['PATH']}"
        env["LD_LIBRARY_PATH"] = f"{DEBIAN}/usr/lib/x86_64-linux-gnu"
    return env


def flag(args: list[str], name: str) -> str:
    return next(a.split("=", 1)[1] for a in args if a.startswith(f"{name}="))


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except Exception:
        return False


def wait_port(port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.2)
    return False


def lay_out(phase: dict, instance_kind: str) -> Path:
    m = phase["mounts"]
    # The whole repository the frontend reads (the pod mounts only this model there), and every other mount.
    for path in (flag(phase["args"], "--model-repository"), m["triton:model-cache"], m["tls-proxy:tls"],
                 m["tls-proxy:tls-proxy-config"]):
        shutil.rmtree(path, ignore_errors=True)
    repo = Path(m["triton:model-repository"])
    for rel, text in phase["repository"].items():
        p = repo / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if rel == "config.pbtxt":
            text = text.replace("kind: KIND_GPU", f"kind: {instance_kind}")
        p.write_text(text)
    tls_dir = Path(m["tls-proxy:tls"])
    shutil.copytree(Path(phase["bundle_dir"]) / "tls", tls_dir)
    conf = Path(m["tls-proxy:tls-proxy-config"]) / "nginx.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(phase["nginx_conf"])
    return conf


def run_phase(phase: dict, tag: str, ld: list[str], out: Path, instance_kind: str) -> dict:
    record: dict = {"phase": phase["phase"], "frontend_tag": tag, "instance_kind": instance_kind,
                    "args": phase["args"], "requests": []}
    conf = lay_out(phase, instance_kind)
    args = phase["args"]
    if phase["tokenizer"]:
        tok_dir = flag(args, "--tokenizer")
        r = subprocess.run([sys.executable, "-c", TOKENIZER_CODE, tok_dir], capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": str(SITE)})
        record["tokenizer"] = {"dir": tok_dir, "rc": r.returncode, "files": sorted(os.listdir(tok_dir)) if
                               os.path.isdir(tok_dir) else [], "stderr": r.stderr[-2000:]}
    else:
        Path(phase["mounts"]["triton:model-cache"], "weights").mkdir(parents=True, exist_ok=True)
    WORK.mkdir(parents=True, exist_ok=True)
    log_path = out / f"{phase['phase']}-{tag}-{instance_kind}.log"
    log = open(log_path, "w")
    started = time.monotonic()
    frontend = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=frontend_env(ld), cwd=WORK, start_new_session=True)
    openai_port, http_port = int(flag(args, "--openai-port")), int(flag(args, "--kserve-http-port"))
    ready = False
    while time.monotonic() - started < 60 and frontend.poll() is None:
        if http_ok(f"http://127.0.0.1:{openai_port}/health/ready"):
            ready = True
            break
        time.sleep(0.5)
    record["ready"] = ready
    record["ready_seconds"] = round(time.monotonic() - started, 1)
    record["kserve_http_ready"] = http_ok(f"http://127.0.0.1:{http_port}/v2/health/ready")
    nginx = None
    if ready:
        nginx_bin = shutil.which("nginx") or str(DEBIAN / "nginx")
        log.write(f"\n===== nginx ({nginx_bin}) =====\n")
        log.flush()
        nginx = subprocess.Popen([nginx_bin, "-c", str(conf), "-e", "stderr", "-g", "daemon off;"],
                                 stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        record["nginx_listening"] = wait_port(9000, 20)
        cwd = WORK / phase["phase"]
        cwd.mkdir(parents=True, exist_ok=True)
        # What the README's first line writes: the CA from the model's Secret.
        shutil.copy2(Path(phase["mounts"]["tls-proxy:tls"]) / "ca.crt", cwd / "ca.crt")
        for req in phase["requests"]:
            t0 = time.monotonic()
            if req["kind"] == "sh":
                r = subprocess.run(["bash", "-c", req["line"]], capture_output=True, text=True, cwd=cwd,
                                   env=curl_env(), timeout=120)
            else:
                hosts = Path("/etc/hosts")
                text = hosts.read_text() if hosts.exists() else ""
                for h in req["hosts"]:
                    if h not in text:
                        text += f"\n127.0.0.1 {h}\n"
                hosts.write_text(text)
                env = {**os.environ, "PYTHONPATH": f"{CLIENT}:{SITE}", "SSL_CERT_FILE": str(cwd / "ca.crt")}
                r = subprocess.run([sys.executable, "-c", req["code"]], capture_output=True, text=True, cwd=cwd,
                                   env=env, timeout=120)
            record["requests"].append({**{k: v for k, v in req.items() if k != "hosts"}, "rc": r.returncode,
                                       "stdout": r.stdout[-6000:], "stderr": r.stderr[-3000:],
                                       "seconds": round(time.monotonic() - t0, 2)})
        # Beside the README: the metrics the Services' `metrics` port reaches, over the same TLS port.
        host = f"{phase['model']}.{phase['namespace']}.svc"
        r = subprocess.run(["bash", "-c", f"curl -s --cacert ca.crt --resolve {host}:9000:127.0.0.1 "
                            f"https://{host}:9000/metrics | grep -E '^nv_inference_request_success' | head -5"],
                           capture_output=True, text=True, cwd=cwd, env=curl_env(), timeout=60)
        record["metrics_over_tls"] = r.stdout.strip()
    # Shutdown as the pod's: SIGTERM to the frontend, QUIT to the terminator.
    t0 = time.monotonic()
    if frontend.poll() is None:
        frontend.send_signal(signal.SIGTERM)
        try:
            frontend.wait(45)
        except subprocess.TimeoutExpired:
            os.killpg(frontend.pid, signal.SIGKILL)
            frontend.wait()
    record["frontend_exit"] = frontend.returncode
    record["frontend_exit_seconds"] = round(time.monotonic() - t0, 1)
    if nginx is not None:
        nginx.send_signal(signal.SIGQUIT)
        try:
            nginx.wait(15)
        except subprocess.TimeoutExpired:
            nginx.kill()
    try:
        os.killpg(frontend.pid, signal.SIGKILL)  # python backend stubs left behind, if any
    except ProcessLookupError:
        pass
    log.close()
    record["log"] = log_path.name
    record["log_tail"] = log_path.read_text(errors="replace")[-4000:]
    return record


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--run", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--tags", default="v2.65.0")
    p.add_argument("--kind", default="KIND_GPU", help="the python model's instance kind (the pod renders KIND_GPU)")
    a = p.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    report: dict = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "facts": facts(), "runs": []}
    report["server"] = install_server(report["facts"]["libpython"])
    phases = json.loads((a.run / "bundle" / "phases.json").read_text())
    for ph in phases:
        ph["bundle_dir"] = str(a.run / "bundle" / ph["phase"])

    def save() -> None:
        (a.out / "report.json").write_text(json.dumps(report, indent=2) + "\n")

    save()
    for i, tag in enumerate(a.tags.split(",")):
        install_frontend(a.run, tag)
        for ph in phases if i == 0 else phases[:1]:
            kind = a.kind
            rec = run_phase(ph, tag, report["server"]["ld_library_path"], a.out, kind)
            if not rec["ready"] and "failed to load" in rec["log_tail"]:
                # The model did not load on a GPU instance: once more on CPU (recorded).
                report["runs"].append(rec)
                save()
                rec = run_phase(ph, tag, report["server"]["ld_library_path"], a.out, "KIND_CPU")
            report["runs"].append(rec)
            save()
            print(json.dumps({k: rec.get(k) for k in ("phase", "frontend_tag", "instance_kind", "ready", "ready_seconds",
                                                     "kserve_http_ready", "frontend_exit")}), flush=True)
            for req in rec["requests"]:
                print(f"  rc={req['rc']} {req.get('line', 'python block')[:110]}\n    -> {req['stdout'][:300]!r} "
                      f"{req['stderr'][:200]!r}", flush=True)
    report["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    save()


if __name__ == "__main__":
    main()
