"""GPU serving benchmark: the Triton repository llm_infra generates, on a real GPU.

    python benchmarks/gpu_serving.py --out results/         # on a machine with an NVIDIA GPU
    python benchmarks/gpu_serving.py --out results/ --tiny  # a smoke run on a CPU

What it runs: `tritonserver` 2.51 from the nvidia-pytriton wheel, through
`llm_infra.triton.local_server.LocalTritonServer` (the pod's exact command line from
`llm_infra.triton.args`), over a model repository written by
`llm_infra.triton.model_repository` from a `ModelConfig(backend="python")` whose
`python_model` is `benchmarks/models/llama_random/model.py`: a Llama-3.2-1B-shaped
transformer in bf16 with RANDOM weights created on the GPU at load (nothing can be
downloaded on the benchmark machine; the weights are random, the shapes and the work
are real).

Two repositories of the same model:
  default  the library's default batching (BatchingConfig(): max_batch_size 64,
           dynamic batching with max_queue_delay 1000 us, one instance);
  bare     Triton's bare defaults: the same generated config with `dynamic_batching`
           removed (Triton then runs one request per execute) and one instance.

Measured, written as JSON to `<out>/gpu_serving.json` (rewritten after every phase, so
a run cut short still leaves what it measured), with each server's log beside it:
  - cold start: tritonserver process start to `/v2/health/ready` 200, per server (the
    first on the machine is the cold one: nothing in the page cache yet), and the
    model's own initialize() time by phase (Triton 2.51 exports no
    `nv_model_load_duration_secs`; the script looks for it and says so);
  - per config and concurrency (closed loop, 1 / 8 / 32 clients): generated tokens/s,
    p50/p95/max request latency, Triton's queue and compute-infer time deltas and their
    ratio (the autoscaling signal of llm_infra.triton.metrics), average rows per execute;
  - GPU memory: nvidia-smi (sampled every 0.5 s for each server's life) and torch's own
    numbers from inside the model (custom metrics), against the capacity model;
  - in-process (no Triton): the same generator's decode speed at batch 1, 8, 32, 64 and
    its peak memory at the library's max batch (64), against the capacity model's
    memory prediction and batch-1 bandwidth bound; a plain device-to-device copy gives
    the bandwidth this GPU actually reaches.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))



def _model_config_schema() -> str:
    """llm_infra builds config.pbtxt with `tritonclient.grpc.model_config_pb2`, which needs only
    protobuf; importing it runs `tritonclient/grpc/__init__.py`, which also needs grpcio (of at
    least the version its stubs were generated with) and python-rapidjson. Where those are
    missing (the benchmark machine: no internet, wheels carried in), load the schema module
    alone."""
    try:
        import tritonclient.grpc  # noqa: F401

        return "tritonclient.grpc"
    except Exception:  # noqa: BLE001 - an ImportError or grpc's version check
        import types

        import tritonclient

        package = types.ModuleType("tritonclient.grpc")
        package.__path__ = [str(Path(tritonclient.__file__).parent / "grpc")]
        sys.modules["tritonclient.grpc"] = package
        import tritonclient.grpc.model_config_pb2  # noqa: F401

        return "tritonclient.grpc.model_config_pb2 alone (tritonclient.grpc's client dependencies missing)"


MODEL_CONFIG_SCHEMA = _model_config_schema()

import requests  # noqa: E402
from google.protobuf import text_format  # noqa: E402

from llm_infra.config import BatchingConfig, ModelConfig  # noqa: E402
from llm_infra.triton import local_server  # noqa: E402
from llm_infra.triton import metrics as triton_metrics  # noqa: E402
from llm_infra.triton.local_server import LocalTritonServer  # noqa: E402
from llm_infra.triton.model_repository import (  # noqa: E402
    build_model_config,
    render_model_repository,
    write_model_repository,
)

MODEL_PY = Path(__file__).resolve().parent / "models" / "llama_random" / "model.py"

# Llama-3.2-1B's shape (Hugging Face config.json of meta-llama/Llama-3.2-1B).
SHAPE_1B = {
    "hidden_size": 2048,
    "num_hidden_layers": 16,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "intermediate_size": 8192,
    "vocab_size": 128256,
    "tie_word_embeddings": True,
    "dtype": "bfloat16",
}
# A toy shape for a smoke run of the whole pipeline on a CPU.
SHAPE_TINY = {
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "intermediate_size": 128,
    "vocab_size": 1000,
    "tie_word_embeddings": True,
    "dtype": "float32",
}

GIB = 1024**3


# --- environment ----------------------------------------------------------------------------


def _use_wheel_layout_without_importing_pytriton() -> str:
    """LocalTritonServer finds the wheel with `import pytriton`, which imports pytriton's client
    and its dependencies. Where only the server part of the wheel is installed (the benchmark
    machine: no internet, wheels carried in), locate the same directories without importing it."""
    try:
        import pytriton  # noqa: F401

        return "import pytriton"
    except Exception:  # noqa: BLE001 - ImportError of one of pytriton's client dependencies
        spec = importlib.util.find_spec("pytriton")
        if spec is None or not spec.submodule_search_locations:
            raise SystemExit("nvidia-pytriton is not installed: pip install nvidia-pytriton==0.7.0") from None
        package = Path(list(spec.submodule_search_locations)[0])
        local_server.pytriton_server_dir = lambda: package / "tritonserver"
        local_server.pytriton_libs_dir = lambda: package.parent / "nvidia_pytriton.libs"
        return f"find_spec (pytriton's client dependencies not installed): {package}"


def _ensure_libpython() -> dict:
    """The python backend stub links libpython<version>.so.1.0: put its directory on LD_LIBRARY_PATH."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    name = f"libpython{version}.so.1.0"
    candidates = [
        sysconfig.get_config_var("LIBDIR") or "",
        os.path.join(sys.base_prefix, "lib"),
        "/usr/lib/x86_64-linux-gnu",
        "/usr/local/lib",
        "/usr/lib",
    ]
    found = next((d for d in candidates if d and os.path.exists(os.path.join(d, name))), None)
    if found and found not in os.environ.get("LD_LIBRARY_PATH", "").split(":"):
        os.environ["LD_LIBRARY_PATH"] = f"{found}:{os.environ['LD_LIBRARY_PATH']}" if os.environ.get("LD_LIBRARY_PATH") else found
    return {"name": name, "dir": found}


def _run(command: list[str], timeout: float = 30) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return f"unavailable: {exc!r}"


def _descendants(pid: int) -> list[int]:
    """Ids of every process below `pid` (read from /proc), children first."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def nvidia_smi_memory_mib() -> float | None:
    """GPU memory in use on GPU 0 as nvidia-smi reports it (MiB), or None without a GPU."""
    out = _run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits", "-i", "0"], timeout=10)
    try:
        return float(out.splitlines()[0])
    except (ValueError, IndexError):
        return None


def nvidia_smi_apps() -> str:
    return _run(["nvidia-smi", "--query-compute-apps=pid,process_name,used_memory", "--format=csv,noheader"])


class MemorySampler:
    """Polls nvidia-smi's memory.used every `interval` seconds; keeps the peak."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            value = nvidia_smi_memory_mib()
            if value is not None:
                self.samples.append((time.monotonic(), value))
            self._stop.wait(self.interval)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    @property
    def peak_mib(self) -> float | None:
        return max((v for _, v in self.samples), default=None)


def environment(libpython: dict, pytriton_found: str) -> dict:
    info = {
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "libpython": libpython,
        "pytriton": pytriton_found,
        "model_config_schema": MODEL_CONFIG_SCHEMA,
        "nvidia_smi": _run(["nvidia-smi", "--query-gpu=name,memory.total,memory.used,driver_version,clocks.max.sm,clocks.max.mem",
                            "--format=csv,noheader"]),
    }
    # Versions only: the parent process never touches CUDA, so that nvidia-smi's numbers
    # during a server's life are the server's (and its python model's) alone.
    from importlib.metadata import PackageNotFoundError, version

    for package in ("torch", "transformers", "numpy"):
        try:
            info[package] = version(package)
        except PackageNotFoundError:
            info[package] = None
    if info["numpy"] and int(info["numpy"].split(".")[0]) >= 2:
        # Triton 2.51's python backend stub reads numpy arrays with a numpy-1 layout: under
        # numpy 2 every TYPE_STRING input arrives garbled (each byte a copy of the first) and
        # the stub dies in deserialize_bytes_tensor. The stub ignores PYTHONPATH, so numpy<2
        # must be the one in the interpreter's own site-packages (nvidia-pytriton pins it so).
        info["numpy_warning"] = "numpy>=2 in the stub's environment: TYPE_STRING inputs will fail"
    name = _run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader", "-i", "0"], timeout=10)
    info["gpu"] = name if name and not name.startswith("unavailable") and "failed" not in name.lower() else None
    return info


# --- the model repositories ---------------------------------------------------------------------


def model_config(name: str, shape: dict, args: argparse.Namespace, batching: BatchingConfig) -> ModelConfig:
    params = 1.2358144 if shape is SHAPE_1B else 0.0002
    return ModelConfig(
        name=name,
        backend="python",
        python_model=str(MODEL_PY),
        # Not read: the weights are random and created at load. The URI only has to be valid.
        weights_uri="s3://llm-infra-benchmarks/llama-random-1b",
        weights_size_gib=max(0.001, round(params * 1e9 * 2 / GIB, 3)),
        gpu_pool="h100",
        batching=batching,
        engine_args={
            **shape,
            "prompt_tokens": args.prompt_tokens,
            "default_max_tokens": args.max_tokens,
            "max_position_embeddings": 8192,
            "seed": 0,
        },
    )


def write_repository(kind: str, config: ModelConfig, directory: Path, instance_kind: str) -> dict:
    """`default`: the library's repository, written by `write_model_repository` as is.
    `bare`: the same files with Triton's dynamic batcher removed from config.pbtxt."""
    if kind == "default":
        write_model_repository([config], directory, instance_kind=instance_kind)
        return {"config_pbtxt": (directory / config.name / "config.pbtxt").read_text(encoding="utf-8")}
    files = render_model_repository(config, instance_kind=instance_kind)
    message = build_model_config(config, instance_kind=instance_kind)
    message.ClearField("dynamic_batching")
    files["config.pbtxt"] = text_format.MessageToString(message)
    for relative, content in files.items():
        path = directory / config.name / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return {"config_pbtxt": files["config.pbtxt"]}


class TimedServer(LocalTritonServer):
    """LocalTritonServer that records when the tritonserver process was started."""

    launched_at: float = 0.0

    def _launch(self, server_dir: Path, attempt: int) -> None:  # type: ignore[override]
        super()._launch(server_dir, attempt)
        self.launched_at = time.monotonic()


# --- metrics --------------------------------------------------------------------------------


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$")


def scrape(server: LocalTritonServer) -> dict[str, dict[str, float]]:
    text = requests.get(server.metrics_url, timeout=10).text
    samples: dict[str, dict[str, float]] = {}
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if m:
            samples.setdefault(m.group(1), {})[m.group(2) or ""] = float(m.group(3))
    return samples


def metric(samples: dict, name: str, model: str | None = None, **labels: str) -> float | None:
    """Sum of a metric's series, optionally only those of one model and with the given labels."""
    series = samples.get(name)
    if series is None:
        return None
    want = ([f'model="{model}"'] if model else []) + [f'{k}="{v}"' for k, v in labels.items()]
    values = [v for lab, v in series.items() if all(w in lab for w in want)]
    return sum(values) if values else None


def delta(after: dict, before: dict, name: str, model: str, **labels: str) -> float | None:
    a, b = metric(after, name, model, **labels), metric(before, name, model, **labels)
    return None if a is None or b is None else a - b


# --- load ---------------------------------------------------------------------------------------


def infer_once(session: requests.Session, url: str, text: str, max_tokens: int, timeout: float) -> int:
    body = {"inputs": [
        {"name": "text_input", "shape": [1, 1], "datatype": "BYTES", "data": [text]},
        {"name": "max_tokens", "shape": [1, 1], "datatype": "INT32", "data": [max_tokens]},
    ]}
    response = session.post(url, json=body, timeout=timeout)
    response.raise_for_status()
    (output,) = response.json()["outputs"]
    return len(output["data"][0].split())


def closed_loop(server: LocalTritonServer, model: str, concurrency: int, max_tokens: int,
                warmup_s: float, measure_s: float, drain: bool, timeout: float) -> dict:
    """`concurrency` clients, each sending its next request as soon as the last returned.

    Requests that complete inside [start + warmup_s, start + warmup_s + measure_s] are
    measured. With `drain`, waits for the requests still in flight after the window
    (the server stays usable); without, leaves them (the caller kills the server).
    """
    url = f"{server.http_url}/v2/models/{model}/infer"
    done: list[tuple[float, float, int]] = []  # (start, end, tokens)
    errors: list[str] = []
    lock = threading.Lock()
    t0 = time.monotonic()
    window = (t0 + warmup_s, t0 + warmup_s + measure_s)

    def client(c: int) -> None:
        with requests.Session() as session:
            i = 0
            while time.monotonic() < window[1]:
                start = time.monotonic()
                try:
                    tokens = infer_once(session, url, f"client {c} request {i}", max_tokens, timeout)
                    with lock:
                        done.append((start, time.monotonic(), tokens))
                except Exception as exc:  # noqa: BLE001 - counted and reported
                    with lock:
                        errors.append(repr(exc)[:300])
                    if not drain:
                        return
                i += 1

    threads = [threading.Thread(target=client, args=(c,), daemon=True) for c in range(concurrency)]
    for t in threads:
        t.start()
    time.sleep(max(0.0, window[0] - time.monotonic()))
    before = scrape(server)
    time.sleep(max(0.0, window[1] - time.monotonic()))
    after = scrape(server)
    if drain:
        for t in threads:
            t.join(timeout)
    with lock:
        inside = [(s, e, n) for s, e, n in done if window[0] <= e <= window[1]]
        errors_seen = list(errors)
    latencies = sorted(e - s for s, e, _ in inside)
    tokens = sum(n for _, _, n in inside)

    def pct(p: float) -> float | None:
        if not latencies:
            return None
        return latencies[min(len(latencies) - 1, max(0, round(p / 100 * len(latencies)) - 1))]

    q = delta(after, before, triton_metrics.QUEUE_DURATION_US, model)
    c = delta(after, before, triton_metrics.COMPUTE_INFER_DURATION_US, model)
    inferences = delta(after, before, triton_metrics.INFERENCE_COUNT, model)
    executions = delta(after, before, triton_metrics.EXEC_COUNT, model)
    success = delta(after, before, triton_metrics.REQUEST_SUCCESS, model)
    decode_s = delta(after, before, "llama_random_decode_seconds_total", model)
    decode_steps = delta(after, before, "llama_random_decode_steps_total", model)
    rows = delta(after, before, "llama_random_rows_total", model)
    gen_execs = delta(after, before, "llama_random_executions_total", model)
    return {
        "concurrency": concurrency,
        "max_tokens": max_tokens,
        "warmup_s": round(warmup_s, 2),
        "window_s": round(measure_s, 2),
        "requests_completed": len(inside),
        "errors": len(errors_seen),
        "error_examples": errors_seen[:3],
        "generated_tokens": tokens,
        "tokens_per_s": tokens / measure_s,
        "requests_per_s": len(inside) / measure_s,
        "latency_s": {"p50": pct(50), "p95": pct(95), "max": latencies[-1] if latencies else None,
                      "mean": statistics.fmean(latencies) if latencies else None},
        "triton": {
            "queue_us": q,
            "compute_infer_us": c,
            "queue_to_compute_ratio": (q / max(c, 1.0)) if q is not None and c is not None else None,
            "request_success": success,
            "inference_count": inferences,
            "exec_count": executions,
            "inferences_per_execution": (inferences / executions) if inferences and executions else None,
        },
        "model": {
            "rows_per_execute": (rows / gen_execs) if rows and gen_execs else None,
            "decode_ms_per_step": (1000 * decode_s / decode_steps) if decode_s and decode_steps else None,
        },
    }


# --- one server -------------------------------------------------------------------------------


def run_config(kind: str, args: argparse.Namespace, shape: dict, instance_kind: str, workdir: Path,
               deadline: float, results: dict, save) -> None:
    name = f"llama-{kind}"
    config = model_config(name, shape, args, BatchingConfig())
    repository = workdir / f"repository-{kind}"
    entry: dict = {"model": name, **write_repository(kind, config, repository, instance_kind),
                   "effective_max_load_seconds": config.effective_max_load_seconds,
                   "weights_size_gib": config.weights_size_gib}
    results["configs"][kind] = entry
    baseline = nvidia_smi_memory_mib()
    entry["gpu_memory_before_start_mib"] = baseline
    server = TimedServer(repository, exit_timeout_seconds=10, ready_timeout_seconds=args.ready_timeout)
    with MemorySampler() as sampler:
        t_call = time.monotonic()
        try:
            server.start()
        except Exception as exc:  # noqa: BLE001 - recorded; the log says why
            entry["start_error"] = repr(exc)[-4000:]
            save()
            return
        ready = time.monotonic()
        entry["cold_start"] = {
            "process_start_to_ready_s": ready - server.launched_at,
            "install_s": server.launched_at - t_call,
            "ready_poll_interval_s": 0.2,
        }
        try:
            samples = scrape(server)
            entry["nv_model_load_duration_secs"] = metric(samples, "nv_model_load_duration_secs", name)
            entry["nv_model_load_duration_secs_exported"] = "nv_model_load_duration_secs" in samples
            entry["model_load_seconds"] = {
                phase: metric(samples, "llama_random_load_seconds", name, phase=phase)
                for phase in ("import", "build", "warmup", "total")
            }
            entry["parameters"] = metric(samples, "llama_random_parameters", name)
            entry["weight_bytes"] = metric(samples, "llama_random_weight_bytes", name)
            entry["torch_memory_after_load_bytes"] = {
                k: metric(samples, "llama_random_gpu_memory_after_load_bytes", name, kind=k)
                for k in ("allocated", "reserved", "max_allocated")
            }
            entry["gpu_memory_after_load_mib"] = nvidia_smi_memory_mib()
            entry["nvidia_smi_apps_after_load"] = nvidia_smi_apps()
            entry["triton_metric_names"] = sorted(samples)
            save()

            # Single-request latency, for sizing the windows (and a warm-up of the path).
            session = requests.Session()
            url = f"{server.http_url}/v2/models/{name}/infer"
            singles = []
            for i in range(3):
                t = time.monotonic()
                infer_once(session, url, f"warmup {i}", args.max_tokens, args.request_timeout)
                singles.append(time.monotonic() - t)
            session.close()
            t1 = statistics.median(singles)
            entry["single_request_s"] = singles
            entry["points"] = []
            levels = args.concurrency + (args.default_extra_concurrency if kind == "default" else [])
            for i, c in enumerate(levels):
                last = i == len(levels) - 1
                if kind == "bare":
                    # One request at a time: a closed loop of c clients reaches steady state
                    # after one round of c requests, and each request then waits c - 1 others.
                    warmup = min(c * t1 + t1, args.max_warmup)
                    measure = min(max(args.duration, 20 * t1), args.max_window)
                else:
                    warmup = max(2 * t1, 2.0)
                    measure = max(args.duration, 8 * t1)
                drain_estimate = (c * t1 if kind == "bare" else 2 * t1) if not last else 0
                if time.monotonic() + warmup + measure + drain_estimate + 30 > deadline:
                    entry["points"].append({"concurrency": c, "skipped": "time budget"})
                    save()
                    continue
                point = closed_loop(server, name, c, args.max_tokens, warmup, measure,
                                    drain=not last, timeout=args.request_timeout)
                samples = scrape(server)
                point["torch_memory_bytes"] = {
                    k: metric(samples, "llama_random_gpu_memory_bytes", name, kind=k)
                    for k in ("allocated", "reserved", "max_allocated", "max_reserved")
                }
                point["kv_cache_peak_bytes"] = metric(samples, "llama_random_kv_cache_peak_bytes", name)
                point["gpu_memory_mib_now"] = nvidia_smi_memory_mib()
                point["gpu_memory_mib_peak_so_far"] = sampler.peak_mib
                entry["points"].append(point)
                print(f"[{kind}] c={c}: {point['tokens_per_s']:.1f} tok/s, p50 {point['latency_s']['p50']}, "
                      f"p95 {point['latency_s']['p95']}, q/c {point['triton']['queue_to_compute_ratio']}", flush=True)
                save()
            entry["nvidia_smi_apps_end"] = nvidia_smi_apps()
            final = scrape(server)
            entry["torch_memory_end_bytes"] = {
                k: metric(final, "llama_random_gpu_memory_bytes", name, kind=k)
                for k in ("allocated", "reserved", "max_allocated", "max_reserved")
            }
            entry["kv_cache_peak_bytes"] = metric(final, "llama_random_kv_cache_peak_bytes", name)
        except Exception:  # noqa: BLE001 - recorded, the server is still stopped below
            entry["error"] = traceback.format_exc()[-4000:]
        finally:
            # SIGTERM, as Kubernetes sends it: Triton stops accepting, waits for in-flight requests up
            # to --exit-timeout-secs (the last point may leave a queue behind), then exits. Its python
            # backend stub is a child process that can outlive a killed server and keep its GPU
            # memory: end those children by id, then wait until the GPU memory is given back.
            children = _descendants(server.pid) if server.returncode is None else []
            t_stop = time.monotonic()
            if server.returncode is None:
                server.send_signal(signal.SIGTERM)
                try:
                    entry["exit_code"] = server.wait(server.exit_timeout_seconds + 15)
                except subprocess.TimeoutExpired:
                    entry["exit_code"] = "killed after the exit timeout + 15 s"
            entry["shutdown_s"] = time.monotonic() - t_stop
            log = server.log
            server.stop()
            for pid in children:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            freed_by = time.monotonic() + 30
            while time.monotonic() < freed_by:
                used = nvidia_smi_memory_mib()
                if used is None or used <= (baseline or 0) + 64:
                    break
                time.sleep(0.5)
            entry["gpu_memory_after_stop_mib"] = nvidia_smi_memory_mib()
            entry["gpu_memory_peak_mib"] = sampler.peak_mib
            entry["gpu_memory_samples"] = len(sampler.samples)
            (args.out / f"triton-{kind}.log").write_text(log[-400_000:], encoding="utf-8")
            entry["model_log_lines"] = [line for line in log.splitlines() if "llama_random:" in line][:5]
            save()


# --- in-process (no Triton) -----------------------------------------------------------------------


def in_process(args: argparse.Namespace, shape: dict, device: str) -> dict:
    """The generator of model.py driven directly: decode speed per batch, peak memory at batch 64."""
    spec = importlib.util.spec_from_file_location("llama_random_model", MODEL_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    params = dict(module.DEFAULTS)
    params.update({k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in shape.items()})
    params["prompt_tokens"] = str(args.prompt_tokens)
    gen = module.LlamaRandomGenerator(params, device)
    import torch

    out: dict = {"device": device, "parameters": gen.parameters, "weight_bytes": gen.weight_bytes, "timings_s": gen.timings}
    vocab = gen.config.vocab_size
    gen.generate([module.prompt_ids("warm", args.prompt_tokens, vocab)], [8])
    out["memory_after_load"] = gen.memory()
    decode = {}
    for batch in args.inprocess_batches:
        prompts = [module.prompt_ids(f"b{batch}-{i}", args.prompt_tokens, vocab) for i in range(batch)]
        runs = []
        for _ in range(2):
            _, stats = gen.generate(prompts, [args.inprocess_tokens] * batch)
            runs.append(stats)
        best = min(runs, key=lambda s: s["decode_s"])
        steps = best["steps"] - 1
        decode[str(batch)] = {
            "decode_ms_per_step": 1000 * best["decode_s"] / steps,
            "decode_tokens_per_s": batch * steps / best["decode_s"],
            "prefill_s": best["prefill_s"],
            "kv_cache_bytes": best["kv_cache_bytes"],
        }
    out["decode"] = decode
    out["decode_tokens"] = args.inprocess_tokens
    # Peak memory of one generation at the library's max batch (64 rows), from a clean peak.
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    batch = 64
    prompts = [module.prompt_ids(f"peak-{i}", args.prompt_tokens, vocab) for i in range(batch)]
    _, stats = gen.generate(prompts, [args.max_tokens] * batch)
    out["peak_at_batch_64"] = {
        "rows": batch, "prompt_tokens": args.prompt_tokens, "max_tokens": args.max_tokens,
        "torch": gen.memory(), "kv_cache_bytes": stats["kv_cache_bytes"],
        "nvidia_smi_used_mib": nvidia_smi_memory_mib(),
        "nvidia_smi_apps": nvidia_smi_apps(),
    }
    if device.startswith("cuda"):
        # Bandwidth this GPU reaches in a plain copy (bytes read + written), for the bound.
        n = 1 << 30
        a = torch.empty(n, dtype=torch.uint8, device=device)
        b = torch.empty_like(a)
        for _ in range(3):
            b.copy_(a)
        torch.cuda.synchronize()
        t = time.monotonic()
        reps = 20
        for _ in range(reps):
            b.copy_(a)
        torch.cuda.synchronize()
        out["copy_bandwidth_gb_s"] = 2 * n * reps / (time.monotonic() - t) / 1e9
        del a, b
    return out


# --- the capacity model -------------------------------------------------------------------------


def gpu_variant(gpu: str | None) -> str | None:
    """The capacity catalog's GPU variant for an nvidia-smi name (None: not in the catalog)."""
    if not gpu:
        return None
    name = gpu.upper()
    if "H200" in name:
        return "h200"
    if "H100" in name:
        return "h100-nvl" if "NVL" in name else ("h100-pcie" if "PCIE" in name else "h100-sxm")
    if "A100" in name:
        return ("a100-80gb-" if "80GB" in name else "a100-40gb-") + ("pcie" if "PCIE" in name else "sxm")
    for short in ("L40S", "L4", "A10G", "T4"):
        if short in name:
            return short.lower()
    return None


def capacity_predictions(args: argparse.Namespace, seqs: list[int], gpu: str | None) -> dict:
    """What llm_infra.planning.capacity predicts for the benchmarked shape and serving plans."""
    try:
        from llm_infra.planning import capacity, catalog
    except ImportError as exc:
        return {"unavailable": repr(exc)}
    context = args.prompt_tokens + args.max_tokens
    base = capacity.LLAMA_3_2_1B
    out: dict = {"shape": base.name, "context_tokens": context, "plans": {}}
    for n in seqs:
        shape = base.serving(max_context=context, max_concurrent_seqs=n)
        m = capacity.memory_per_gpu(shape, 1)
        out["plans"][str(n)] = {
            "weights_gib": m.weights_gib, "kv_cache_gib": m.kv_cache_gib,
            "activations_gib": m.activations_gib, "overhead_gib": m.overhead_gib, "total_gib": m.total_gib,
        }
    # Batch-1 decode bound on this GPU (the catalog's H100 SXM entry), at the mean context of decode.
    variant = gpu_variant(gpu)
    entries = [e for e in catalog.CATALOG if e.gpu.variant == variant]
    entry = min(entries, key=lambda e: e.gpu_count) if entries else None
    if entry is not None:
        mean_ctx = args.prompt_tokens + args.max_tokens // 2
        shape = base.serving(max_context=context, max_concurrent_seqs=1)
        out["decode_bound"] = {
            "instance": entry.name, "gpu": entry.gpu.variant, "bandwidth_gb_s": entry.memory_bandwidth_gb_s,
            "context_tokens": mean_ctx,
            "batch_1_tokens_per_s": capacity.decode_tokens_per_s_upper_bound(shape, entry, tp=1, context_tokens=mean_ctx),
            "by_batch_tokens_per_s": {
                str(b): capacity.decode_tokens_per_s_bound_at_batch(shape, entry, 1, b, mean_ctx)
                for b in args.inprocess_batches
            },
        }
    return out


# --- main -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="directory for gpu_serving.json and the server logs")
    parser.add_argument("--tiny", action="store_true", help="toy shape on a CPU: a smoke run of the whole pipeline")
    parser.add_argument("--configs", default="default,bare")
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--default-extra-concurrency", default="128",
                        help="further levels for the default config only: beyond max_batch_size, to saturate it")
    parser.add_argument("--prompt-tokens", type=int, default=128)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--duration", type=float, default=20.0, help="measured window per point (at least), seconds")
    parser.add_argument("--max-window", type=float, default=40.0)
    parser.add_argument("--max-warmup", type=float, default=30.0)
    parser.add_argument("--budget", type=float, default=540.0, help="stop starting new points after this many seconds")
    parser.add_argument("--ready-timeout", type=float, default=600.0)
    parser.add_argument("--request-timeout", type=float, default=300.0)
    parser.add_argument("--inprocess-batches", default="1,8,32,64")
    parser.add_argument("--inprocess-tokens", type=int, default=128)
    parser.add_argument("--skip-inprocess", action="store_true")
    parser.add_argument("--in-process-only", metavar="DEVICE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    args.default_extra_concurrency = [int(c) for c in args.default_extra_concurrency.split(",") if c]
    args.inprocess_batches = [int(b) for b in args.inprocess_batches.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    if args.in_process_only:
        shape = SHAPE_TINY if args.tiny else SHAPE_1B
        result = in_process(args, shape, args.in_process_only)
        (args.out / "in_process.json").write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
        return 0
    started = time.monotonic()
    deadline = started + args.budget

    shape = SHAPE_TINY if args.tiny else SHAPE_1B
    instance_kind = "KIND_CPU" if args.tiny else "KIND_GPU"
    pytriton_found = _use_wheel_layout_without_importing_pytriton()
    libpython = _ensure_libpython()
    results: dict = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "environment": environment(libpython, pytriton_found),
        "workload": {
            "model": "llama_random (benchmarks/models/llama_random/model.py): Llama-3.2-1B shape, RANDOM bf16 weights "
                     "created on the GPU at load" if not args.tiny else "llama_random, tiny shape, float32, CPU",
            "shape": shape, "prompt_tokens": args.prompt_tokens, "max_tokens": args.max_tokens,
            "greedy": True, "eos": "ignored (every request gets max_tokens tokens)",
        },
        "configs": {},
    }
    out_json = args.out / "gpu_serving.json"

    def save() -> None:
        out_json.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")

    save()
    print(json.dumps(results["environment"], indent=2), flush=True)
    if libpython["dir"] is None:
        results["fatal"] = f"{libpython['name']} not found: the python backend stub cannot start"
        save()
        return 1

    workdir = Path(tempfile.mkdtemp(prefix="llm-infra-gpu-bench-"))
    try:
        for kind in args.configs.split(","):
            run_config(kind, args, shape, instance_kind, workdir, deadline, results, save)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    gpu = results["environment"].get("gpu")
    if not args.skip_inprocess:
        # In a process of its own: its GPU memory is then its own, and it is freed after.
        device = "cuda:0" if gpu and not args.tiny else "cpu"
        command = [sys.executable, str(Path(__file__).resolve()), "--in-process-only", device, "--out", str(args.out),
                   "--prompt-tokens", str(args.prompt_tokens), "--max-tokens", str(args.max_tokens),
                   "--inprocess-batches", ",".join(map(str, [1, 4] if args.tiny else args.inprocess_batches)),
                   "--inprocess-tokens", str(args.inprocess_tokens)] + (["--tiny"] if args.tiny else [])
        remaining = max(60.0, deadline + 60 - time.monotonic())
        try:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=remaining)
            path = args.out / "in_process.json"
            results["in_process"] = json.loads(path.read_text()) if path.exists() else {}
            path.unlink(missing_ok=True)
            if proc.returncode != 0:
                results["in_process"]["error"] = (proc.stdout + proc.stderr)[-4000:]
        except subprocess.TimeoutExpired as exc:
            results["in_process"] = {"error": f"timed out after {exc.timeout:.0f} s"}
        save()
    results["capacity_model"] = capacity_predictions(args, sorted({1, *args.concurrency, 64}), gpu)
    results["elapsed_s"] = time.monotonic() - started
    save()
    print(f"wrote {out_json} in {results['elapsed_s']:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
