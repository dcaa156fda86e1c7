"""Benchmark gpu/: cost of one sample of every GPU and the sampler's CPU share.

    python benchmarks/bench_gpu.py [--quick]

Runs the real reading code on the fixture sysfs trees (tests/gpu/fixtures,
via KTRACK_SYSFS_ROOT) and on the fake NVML module for the NVIDIA path; on a
machine with a real NVIDIA driver it also measures real NVML.  Goals: under
1 ms per GPU per sample, under 0.5% of one core for the sampler at 1 s.  The
energy totals (gpu.energy) are measured against the sample they account for.
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "gpu" / "fixtures"
sys.path.insert(0, str(REPO))

import gpu  # noqa: E402
from gpu import nvml  # noqa: E402

GOAL_US = 1000.0
GOAL_CPU = 0.5
TREES = ["amd_w7900", "amd_mi210", "intel_arc_i915", "intel_xe", "jetson_orin", "mixed"]


def per_gpu_us(devices: list[gpu.Device], rounds: int) -> float:
    """Median µs per GPU of sampling every device once."""
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for d in devices:
            d.sample()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) / len(devices) * 1e6


def energy_us(samples: list, rounds: int) -> float:
    """Median µs of adding one sample to an EnergyMeter (what the sampler does per GPU)."""
    from gpu.energy import EnergyMeter
    from gpu.sample import make_sample

    meter, times = EnergyMeter(), []
    for r in range(rounds):
        batch = [make_sample(s.index, s.vendor, s.name, s.timestamp + r, power_w=s.power_w, energy_j=s.energy_j)
                 for s in samples]
        t0 = time.perf_counter()
        for s in batch:
            meter.add(s)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) / len(samples) * 1e6


def use_fake_nvml() -> None:
    from tests.gpu import fake_pynvml
    from tests.gpu.fake_pynvml import A100, RTX
    fake_pynvml.configure([dict(A100), dict(RTX)])
    sys.modules["pynvml"] = fake_pynvml
    nvml.reset()


def no_nvml() -> None:
    sys.modules["pynvml"] = None  # type: ignore[assignment]
    nvml.reset()


def fake_proc_tree(pids: int, fds: int) -> str:
    """Copy the xe tree and add /proc with ``pids`` processes of ``fds`` fds (2 on DRM)."""
    root = Path(tempfile.mkdtemp(prefix="bench-gpu-"))
    shutil.copytree(FIXTURES / "intel_xe", root, dirs_exist_ok=True)
    for pid in range(1, pids + 1):
        (root / f"proc/{pid}/fd").mkdir(parents=True)
        (root / f"proc/{pid}/fdinfo").mkdir()
        for fd in range(fds):
            drm = fd < 2 and pid % 10 == 0
            os.symlink("/dev/dri/renderD128" if drm else f"/tmp/f{fd}",
                       root / f"proc/{pid}/fd/{fd}")
            if drm:
                (root / f"proc/{pid}/fdinfo/{fd}").write_text(
                    f"drm-driver:\txe\ndrm-client-id:\t{pid}\ndrm-pdev:\t0000:04:00.0\n"
                    "drm-cycles-rcs:\t100\ndrm-total-cycles-rcs:\t1000\n")
    return str(root)


def cpu_share(interval: float, seconds: float) -> tuple[float, int]:
    """Percent of one core used by a running Sampler, and samples taken."""
    s = gpu.Sampler(interval=interval, history=600)
    _ = s.devices  # discovery is not part of the steady state
    c0, w0 = time.process_time(), time.perf_counter()
    with s:
        time.sleep(seconds)
    c1, w1 = time.process_time(), time.perf_counter()
    return (c1 - c0) / (w1 - w0) * 100.0, len(s.history(0))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short smoke run")
    args = ap.parse_args()
    rounds = 200 if args.quick else 2000
    print(f"{'backend / tree':<28}{'GPUs':>5}{'µs/GPU':>10}{'vs 1 ms goal':>14}")
    results = []
    no_nvml()
    for tree in TREES:
        os.environ["KTRACK_SYSFS_ROOT"] = str(FIXTURES / tree)
        devices = gpu.discover()
        us = per_gpu_us(devices, rounds)
        results.append(us)
        print(f"{'sysfs ' + tree:<28}{len(devices):>5}{us:>10.1f}{us / GOAL_US:>13.3f}x")
    from gpu import fdinfo
    root = fake_proc_tree(300, 20)
    os.environ["KTRACK_SYSFS_ROOT"] = root
    devices = gpu.discover()
    us = per_gpu_us(devices, rounds // 4)
    print(f"{'xe + 300 procs (fdinfo)':<28}{len(devices):>5}{us:>10.1f}{us / GOAL_US:>13.3f}x")
    fdinfo.RESCAN_S, saved = 0.0, fdinfo.RESCAN_S
    us = per_gpu_us(devices, max(10, rounds // 40))
    fdinfo.RESCAN_S = saved
    print(f"{'  same, /proc scan each time':<28}{len(devices):>5}{us:>10.1f}"
          f"{us / GOAL_US:>13.3f}x  (scan runs every {saved:.0f} s)")
    shutil.rmtree(root, ignore_errors=True)
    os.environ["KTRACK_SYSFS_ROOT"] = str(FIXTURES / "empty")
    use_fake_nvml()
    devices = gpu.discover()
    us = per_gpu_us(devices, rounds)
    print(f"{'fake NVML (module only)':<28}{len(devices):>5}{us:>10.1f}{us / GOAL_US:>13.3f}x")
    samples = [d.sample() for d in devices]      # A100: energy counter; RTX: power only
    e_us = energy_us(samples, rounds)
    print(f"energy accounting: {e_us:.2f} µs per GPU per sample = {e_us / us * 100:.1f}% of a fake-NVML sample, "
          f"{e_us / min(results) * 100:.1f}% of the cheapest sysfs sample")
    sys.modules.pop("pynvml", None)
    nvml.reset()
    real = nvml.discover()
    if real:
        us = per_gpu_us(real, max(20, rounds // 10))
        print(f"{'real NVML: ' + real[0].name[:16]:<28}{len(real):>5}{us:>10.1f}"
              f"{us / GOAL_US:>13.3f}x")
    else:
        print(f"{'real NVML':<28}  not available here")
    print(f"worst sysfs tree: {max(results):.1f} µs/GPU ({max(results) / GOAL_US:.3f}x goal)")

    no_nvml()
    os.environ["KTRACK_SYSFS_ROOT"] = str(FIXTURES / "mixed")
    for interval, secs in ((1.0, 3.0 if args.quick else 10.0), (0.1, 2.0 if args.quick else 5.0)):
        pct, n = cpu_share(interval, secs)
        print(f"sampler interval {interval:>4} s, 2 GPUs, {secs:.0f} s: {pct:.3f}% of a core "
              f"({n} samples; {pct / GOAL_CPU:.3f}x the 0.5% goal)")


if __name__ == "__main__":
    main()
