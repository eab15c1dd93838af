"""Plan speed on a CPU: `import llm_infra`, `llm-infra plan` per stack, synthesis time per resource.

    .venv/bin/python benchmarks/plan_speed.py --out bench-out/

Writes `<out>/plan_speed.json` and prints a summary. Three measurements:

1. Import time: `python -c "import llm_infra"` in a fresh interpreter, repeated, against
   `python -c "pass"` (interpreter start-up alone); also `import llm_infra.platform`,
   which is what a stack program imports (Pulumi, the Kubernetes provider, pydantic).
2. `llm-infra plan STACK --out DIR` wall time for every stack in `stacks/` (a fresh
   process each time, as a user runs it), repeated; exit status 2 (a policy violation)
   still counts as a finished plan.
3. Synthesis: `LlmPlatform` for an `existing`-cluster StackConfig with 1, 10, 100 and 200
   models (copies of the `existing` stack's vLLM model, spread over five tenant
   namespaces), run through `llm_infra.testing.run_program` (Pulumi's mock engine) in
   this process (after one warm-up run): time per registered resource, the marginal
   time per added resource and per added model between sizes, and a least-squares line;
   each size again with CPython's cyclic garbage collector off, which separates the
   synthesis work from the collector's scans of a heap that grows with the stack.
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _timed_runs(command: list[str], repeats: int, cwd: Path = ROOT) -> dict:
    times, codes = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
        times.append(time.perf_counter() - t)
        codes.append(proc.returncode)
    return {"command": " ".join(command), "runs_s": times, "median_s": statistics.median(times),
            "min_s": min(times), "exit_codes": sorted(set(codes)),
            "stderr_tail": proc.stderr[-600:] if proc.returncode not in (0, 2) else ""}


def import_times(repeats: int) -> dict:
    py = sys.executable
    base = _timed_runs([py, "-c", "pass"], repeats)
    pkg = _timed_runs([py, "-c", "import llm_infra"], repeats)
    plat = _timed_runs([py, "-c", "import llm_infra.platform"], repeats)
    importtime = subprocess.run([py, "-X", "importtime", "-c", "import llm_infra"], capture_output=True, text=True).stderr
    own_us = next((int(line.split("|")[1]) for line in importtime.splitlines() if line.rstrip().endswith("| llm_infra")), None)
    return {
        "import_llm_infra_cumulative_us_from_importtime": own_us,
        "interpreter_only": base,
        "import_llm_infra": pkg,
        "import_llm_infra_platform": plat,
        "import_llm_infra_net_median_s": pkg["median_s"] - base["median_s"],
        "import_llm_infra_platform_net_median_s": plat["median_s"] - base["median_s"],
    }


def plan_times(repeats: int) -> dict:
    from llm_infra.plan import stack_names

    cli = Path(sys.executable).parent / "llm-infra"
    command = [str(cli)] if cli.exists() else [sys.executable, "-m", "llm_infra.cli"]
    out: dict = {}
    for stack in stack_names():
        with tempfile.TemporaryDirectory() as tmp:
            result = _timed_runs([*command, "plan", stack, "--out", tmp], repeats)
            resources = Path(tmp, "resources.json")
            result["resources"] = len(json.loads(resources.read_text())) if resources.exists() else None
        out[stack] = result
        print(f"plan {stack}: {result['median_s']:.2f} s (exit {result['exit_codes']}, {result['resources']} resources)",
              flush=True)
    return out


def _existing_raw() -> dict:
    """The `existing` stack's config as plain keys (no `llm-infra:` prefix, no secrets)."""
    from llm_infra.config import SECRET_KEYS
    from llm_infra.plan import stack_config

    config, _ = stack_config("existing")
    return {k.split(":", 1)[1]: v for k, v in config.items()
            if k.startswith("llm-infra:") and k.split(":", 1)[1] not in SECRET_KEYS}


def stack_with_models(n: int):
    """An `existing` StackConfig with n copies of its vLLM model over five tenant namespaces."""
    from llm_infra.config import parse_stack_config

    raw = _existing_raw()
    template = next(m for m in raw["models"] if m["backend"] == "vllm")
    identity = next(iter(raw["existing"]["model_identities"].values()))
    models, identities = [], {}
    for i in range(n):
        m = copy.deepcopy(template)
        m["name"] = f"model-{i:03d}"
        m["namespace"] = f"tenant-{i % 5}"
        models.append(m)
        identities[m["name"]] = identity
    raw["models"] = models
    raw["existing"] = {**raw["existing"], "model_identities": identities}
    return parse_stack_config(raw)


def synthesis_times(sizes: list[int], repeats: int) -> dict:
    import pulumi

    from llm_infra.platform import LlmPlatform
    from llm_infra.testing import run_program

    points = []
    for n in sizes:
        config = stack_with_models(n)
        runs, resources = [], None

        def program(config=config) -> None:
            LlmPlatform(config.environment, {"config": config, "kubeconfig": pulumi.Output.secret("kubeconfig")})

        run_program(program)  # warm: imports and first-use caches are not synthesis
        for _ in range(repeats):
            gc.collect()
            t = time.perf_counter()
            result = run_program(program)
            runs.append(time.perf_counter() - t)
            resources = len(result.resources)
        # The same with CPython's cyclic garbage collector off: what is left is the work itself.
        no_gc = []
        for _ in range(repeats):
            gc.collect()
            gc.disable()
            try:
                t = time.perf_counter()
                run_program(program)
                no_gc.append(time.perf_counter() - t)
            finally:
                gc.enable()
        median, median_no_gc = statistics.median(runs), statistics.median(no_gc)
        points.append({"models": n, "resources": resources, "runs_s": runs, "median_s": median,
                       "ms_per_resource": 1000 * median / resources,
                       "gc_off_runs_s": no_gc, "gc_off_median_s": median_no_gc,
                       "gc_off_ms_per_resource": 1000 * median_no_gc / resources})
        print(f"synthesis {n} models: {resources} resources in {median:.2f} s "
              f"({1000 * median / resources:.2f} ms/resource; with the garbage collector off "
              f"{1000 * median_no_gc / resources:.2f} ms/resource)", flush=True)
    # Linear growth: each added resource costs the same. The marginal cost between consecutive
    # sizes (and a least-squares line through all points) shows it; the average per resource
    # also carries the platform's fixed part, which is spread thinner as models are added.
    marginal = [
        {"from_models": p0["models"], "to_models": p1["models"],
         "ms_per_added_resource": 1000 * (p1["median_s"] - p0["median_s"]) / (p1["resources"] - p0["resources"]),
         "ms_per_added_model": 1000 * (p1["median_s"] - p0["median_s"]) / (p1["models"] - p0["models"])}
        for p0, p1 in zip(points, points[1:])
    ]
    xs = [p["resources"] for p in points]
    ys = [p["median_s"] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    a = my - b * mx
    fit = [{"resources": x, "measured_s": y, "line_s": a + b * x, "residual_pct": 100 * (y - (a + b * x)) / y}
           for x, y in zip(xs, ys)]
    return {"points": points, "marginal": marginal, "line": {"intercept_s": a, "ms_per_resource": 1000 * b, "fit": fit}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--import-repeats", type=int, default=10)
    parser.add_argument("--plan-repeats", type=int, default=3)
    parser.add_argument("--sizes", default="1,10,100,200")
    parser.add_argument("--synthesis-repeats", type=int, default=3)
    parser.add_argument("--skip", default="", help="comma list of: import, plan, synthesis")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    skip = set(filter(None, args.skip.split(",")))
    results: dict = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"platform": platform.platform(), "python": sys.version.split()[0], "cpus": os.cpu_count(),
                    "processor": platform.processor() or platform.machine(),
                    "load_average_at_start": os.getloadavg()},
    }
    path = args.out / "plan_speed.json"

    def save() -> None:
        path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")

    if "import" not in skip:
        results["import"] = import_times(args.import_repeats)
        print(f"import llm_infra: {results['import']['import_llm_infra']['median_s']:.3f} s "
              f"(interpreter alone {results['import']['interpreter_only']['median_s']:.3f} s); "
              f"import llm_infra.platform: {results['import']['import_llm_infra_platform']['median_s']:.3f} s", flush=True)
        save()
    if "plan" not in skip:
        results["plan"] = plan_times(args.plan_repeats)
        save()
    if "synthesis" not in skip:
        results["synthesis"] = synthesis_times([int(s) for s in args.sizes.split(",")], args.synthesis_repeats)
        save()
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
