"""Benchmark: the GPU poller's cost, against the issue's targets.

What is measured:

* one poll of `--gpus` fake GPUs (collector/nvml_fake.py: the same calls and return types as pynvml)
  (H100s: every field, GPM included) with per-process attribution through a fake /proc, then the
  export: a scrape of a registry holding the `GpuCollector`, rendered as /metrics renders it
  (`exporters.exposition.render`, text format 0.0.4); median of `--repeats` (wall clock,
  `time.perf_counter`). Target: <= 5 ms.
* the poller's CPU share at a `--interval` of 1 s: a thread polls (and feeds `GpuHealth` and
  `InferenceCost`, as the daemon does) for `--cpu-seconds`; process CPU time / wall time, in
  % of one core. Target: < 1 %.

The fake does in Python what pynvml does through ctypes, so the NVML part is of the same order;
a real driver adds its own time inside libnvidia-ml (not counted against this process's CPU when
it sleeps in the kernel).

Run:  .venv/bin/python benchmarks/gpu.py [--gpus 8 --repeats 200 --cpu-seconds 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from prometheus_client import CollectorRegistry

from driftwarden.collector.gpu import NvmlPoller
from driftwarden.collector.nvml_fake import FakeNvml
from driftwarden.detectors.gpu import GpuHealth
from driftwarden.detectors.gpu_cost import InferenceCost, RequestCounter
from driftwarden.exporters.exposition import render
from driftwarden.exporters.gpu import GpuCollector
from driftwarden.params import GpuParams

TARGET_POLL_MS = 5.0
TARGET_CPU_PERCENT = 1.0


def make_poller(gpus: int, proc_root: Path) -> tuple[NvmlPoller, FakeNvml]:
    """`gpus` fake GPUs, two compute processes each, attributed to two models by command line."""
    nvml = FakeNvml.with_gpus(gpus)
    for i, gpu in enumerate(nvml.gpus):
        gpu.processes = [(1000 + 2 * i, 30 * 2**30), (1001 + 2 * i, 8 * 2**30)]
        for pid, cmd in ((1000 + 2 * i, b"python3\0-m\0vllm.entrypoints\0"), (1001 + 2 * i, b"tritonserver\0")):
            (proc_root / str(pid)).mkdir(parents=True, exist_ok=True)
            (proc_root / str(pid) / "cmdline").write_bytes(cmd)
            (proc_root / str(pid) / "cgroup").write_bytes(b"0::/kubepods/pod-bench\n")
    params = GpuParams(cost_per_hour=2.5, model_processes={"llm": ("cmd:vllm",), "rank": ("cmd:tritonserver",)})
    poller = NvmlPoller(nvml, params, hostname="bench-node", proc_root=proc_root)
    if not poller.start():
        raise SystemExit("the fake NVML did not start")
    return poller, nvml


def time_poll_and_export(poller: NvmlPoller, repeats: int) -> dict[str, float]:
    registry = CollectorRegistry()
    registry.register(GpuCollector.from_poller(poller))
    poll_times, export_times, total_times = [], [], []
    for _ in range(repeats):
        started = time.perf_counter()
        poller.poll()
        polled = time.perf_counter()
        chunks, _ = render(registry, [], "text/plain")
        body = b"".join(chunks)
        done = time.perf_counter()
        poll_times.append(polled - started)
        export_times.append(done - polled)
        total_times.append(done - started)
    assert b"DCGM_FI_DEV_GPU_UTIL" in body
    return {
        "poll": statistics.median(poll_times) * 1000,
        "export": statistics.median(export_times) * 1000,
        "total": statistics.median(total_times) * 1000,
        "lines": float(body.count(b"\n")),
    }


def cpu_share(poller: NvmlPoller, interval: float, seconds: float) -> tuple[float, int]:
    """% of one core the polling thread costs the process over `seconds`, and the polls made."""
    health = GpuHealth()
    cost = InferenceCost(poller.params.cost_per_hour)
    requests = RequestCounter()
    stop = threading.Event()
    polls = 0

    def loop() -> None:
        nonlocal polls
        while not stop.is_set():
            samples = poller.poll()
            requests.add("llm", 100)
            health.update(samples, requests=requests.count(interval))
            health.evaluate()
            cost.update(samples, poller.model_memory_by_gpu())
            cost.evaluate(requests.windows())
            polls += 1
            stop.wait(interval)

    thread = threading.Thread(target=loop, daemon=True)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    thread.start()
    time.sleep(seconds)
    stop.set()
    thread.join()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return 100.0 * cpu / wall, polls


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--gpus", type=int, default=8)
    p.add_argument("--repeats", type=int, default=200)
    p.add_argument("--interval", type=float, default=1.0)
    p.add_argument("--cpu-seconds", type=float, default=10.0)
    args = p.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        poller, _ = make_poller(args.gpus, Path(tmp) / "proc")
        for _ in range(10):  # warm-up
            poller.poll()
        t = time_poll_and_export(poller, args.repeats)
        print(f"{args.gpus} fake GPUs, {args.repeats} repeats; exposition {int(t['lines'])} lines")
        print(f"  poll (NVML calls + /proc attribution)   median {t['poll']:.3f} ms")
        print(f"  export (collect + render)              median {t['export']:.3f} ms")
        print(f"  poll + export                           median {t['total']:.3f} ms")
        share, polls = cpu_share(poller, args.interval, args.cpu_seconds)
        print(f"CPU share, polling every {args.interval:g} s for {args.cpu_seconds:g} s ({polls} polls): {share:.3f} %")
        poller.shutdown()

    print("\ntargets:")
    print(
        f"  one poll of {args.gpus} GPUs incl. export <= {TARGET_POLL_MS:g} ms: {t['total']:.3f} ms  "
        f"{verdict(t['total'] <= TARGET_POLL_MS)}"
    )
    print(
        f"  poller CPU share at {args.interval:g} s < {TARGET_CPU_PERCENT:g} % of a core: {share:.3f} %  "
        f"{verdict(share < TARGET_CPU_PERCENT)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
