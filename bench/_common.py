"""Helpers shared by the benchmarks in bench/ (not part of the collection).

Every benchmark here reports RATIOS measured side by side in one run: variants are interleaved in a
shuffled order, each round is repeated, and the median and the spread (min..max) over the rounds are
printed. Absolute numbers are printed too but only as context: this machine is shared and noisy.
"""

from __future__ import annotations

import json
import os
import random
import re
import runpy
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
CACHE = REPO / ".cache" / "bench"
LAB_CACHE = Path(os.environ.get("DOCKYARD_LAB_CACHE", REPO / "lab" / ".cache"))
RESULTS = BENCH / "results"

sys.path.insert(0, str(REPO / "lab"))
from dockyard_lab.images import sha256_file  # noqa: E402  pylint: disable=wrong-import-position


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def collection_import_path() -> None:
    """Make ``ansible_collections.dockyard.registry`` importable exactly as the tests do: running
    tests/conftest.py links the checkout under .cache/collections (the link ansible.cfg uses) and
    puts it on sys.path."""
    runpy.run_path(str(REPO / "tests" / "conftest.py"))


def role_defaults(role: str = "nginx") -> dict:
    import yaml  # PyYAML comes with ansible-core in .venv

    return yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text())


def build_nginx(version: str = "1.26.3", *, jobs: int | None = None) -> Path:
    """Build nginx the way the nginx role does, on this host, into .cache/bench/nginx-<version>/.

    Same tarball (lab/.cache, sha256 checked against the role's pin), same ``./configure`` arguments
    (the role's default ``nginx_configure_flags`` through the collection's own
    ``_nginx.configure_args``), ``make -j<cpus>``, ``make install``. Rebuilt only if the binary is
    missing or was built with other arguments (stamp file). Returns the prefix.
    """
    collection_import_path()
    from ansible_collections.dockyard.registry.plugins.module_utils import _nginx

    defaults = role_defaults("nginx")
    prefix = CACHE / f"nginx-{version}"
    required = ["--with-http_ssl_module", "--with-http_stub_status_module"]
    args = _nginx.configure_args(str(prefix), defaults["nginx_user"], defaults["nginx_group"],
                                 flags=defaults["nginx_configure_flags"],
                                 extra_flags=defaults["nginx_configure_extra_flags"], required_flags=required)
    stamp = prefix / "dockyard-bench-build.json"
    binary = prefix / "sbin" / "nginx"
    want = {"version": version, "configure": args}
    if binary.exists() and stamp.exists() and json.loads(stamp.read_text()) == want:
        return prefix
    tarball = LAB_CACHE / f"nginx-{version}.tar.gz"
    if not tarball.exists():
        raise SystemExit(f"[bench] {tarball} is missing: run `python3 lab/labctl.py build` first")
    pin = defaults["nginx_source_checksums"].get(version)
    got = sha256_file(tarball)
    if pin and got != pin:
        raise SystemExit(f"[bench] {tarball}: sha256 {got} does not match the role's pin {pin}")
    missing = [p for p in ("cc", "make") if not shutil.which(p)]
    if missing:
        raise SystemExit("[bench] build tools missing: apt-get install -y build-essential libpcre2-dev "
                         "zlib1g-dev libssl-dev")
    log(f"building nginx {version} into {prefix} ({' '.join(args[3:])})")
    t0 = time.monotonic()
    CACHE.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="nginx-build-", dir=CACHE))
    try:
        subprocess.run(["tar", "-xzf", str(tarball), "-C", str(work)], check=True)
        src = work / f"nginx-{version}"
        quiet = {"stdout": subprocess.DEVNULL}
        subprocess.run(["./configure", *args], cwd=src, check=True, **quiet)
        subprocess.run(["make", f"-j{jobs or os.cpu_count() or 1}"], cwd=src, check=True, **quiet)
        if prefix.exists():
            shutil.rmtree(prefix)
        subprocess.run(["make", "install"], cwd=src, check=True, **quiet)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    stamp.write_text(json.dumps(want))
    log(f"nginx built in {time.monotonic() - t0:.0f}s")
    return prefix


def nginx_version_line(binary: Path) -> str:
    res = subprocess.run([str(binary), "-v"], capture_output=True, text=True)
    return (res.stderr or res.stdout).strip().splitlines()[0]


def shuffled(items: list, rng: random.Random) -> list:
    items = list(items)
    rng.shuffle(items)
    return items


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def spread(values) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    return f"{fmt(min(values))}..{fmt(max(values))}"


def fmt(value, digits: int = 3) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.{digits}g}"


def table(headers: list, rows: list) -> str:
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    lines = [" | ".join(str(h).ljust(w) for h, w in zip(headers, widths)),
             "-|-".join("-" * w for w in widths)]
    for row in rows:
        lines.append(" | ".join(str(c).ljust(w) for c, w in zip(row, widths)))
    return "\n".join(lines)


def machine_facts() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    os_name = ""
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return {"cpu": cpu, "cpus": os.cpu_count(), "memory": mem, "os": os_name,
            "kernel": os.uname().release, "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "loadavg": os.getloadavg()}


def add_run_args(ap, hosts: str) -> None:
    """The options every lab benchmark takes: --keep, --reuse, --seed, --report."""
    ap.add_argument("--keep", action="store_true", help=f"keep the bench lab ({hosts}) afterwards")
    ap.add_argument("--reuse", action="store_true", help="measure on a kept lab as it is (no deploy, no rendering)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--report", type=Path, default=None, metavar="JSON",
                    help="only recompute the report of an earlier run's results file (no lab)")


def rewrite_report(path: Path, report) -> None:
    """--report: recompute the summary of an earlier results file with the current report()."""
    data = json.loads(path.read_text())
    data["summary"] = report(data)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def seeded(seed):
    """(seed, random.Random(seed)); a fresh random seed when none is given (printed with the results)."""
    seed = seed if seed is not None else random.SystemRandom().randrange(1 << 30)
    return seed, random.Random(seed)


class LabSession:
    """``with LabSession(keep, hosts, down):`` the lab goes away at the end, also on failure, SIGTERM
    or SIGINT (also in a background job, where SIGINT starts out ignored), unless ``keep``."""

    def __init__(self, keep: bool, hosts, down):
        self.keep, self.hosts, self.down = keep, list(hosts), down

    def __enter__(self):
        import signal  # pylint: disable=import-outside-toplevel

        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        signal.signal(signal.SIGINT, signal.default_int_handler)
        return self

    def __exit__(self, *exc):
        if self.keep:
            log("--keep: the lab stays up (" + ", ".join(self.hosts) + "); remove it with "
                "`python3 lab/labctl.py rm-host " + " ".join(self.hosts) + "`")
        else:
            self.down()
        return False


def save_results(name: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path


def lab_benchmark(ap, argv, *, name: str, hosts_help: str, hosts, down, setup, measure, report,
                  note=None) -> int:
    """The ``main()`` of a lab benchmark, once its own options are on ``ap``.

    Adds the common options (``add_run_args``; ``hosts_help`` names the lab in --keep's help) and
    parses ``argv``. With --report, only recomputes an earlier results file's summary (no lab).
    Otherwise, inside ``LabSession(--keep, hosts, down)``: ``setup()`` unless --reuse, then
    ``data = measure(args, seed, rng, t0)`` (``t0``: monotonic time before the setup), the summary
    ``report(data)`` (which prints the tables), the results file bench/results/<name>.json and the
    log line naming it (plus ``note(data)`` when given). Returns the exit code.
    """
    add_run_args(ap, hosts_help)
    args = ap.parse_args(argv)
    if args.report:
        rewrite_report(args.report, report)
        return 0
    seed, rng = seeded(args.seed)
    t0 = time.monotonic()
    with LabSession(args.keep, hosts, down):
        if not args.reuse:
            setup()
        data = measure(args, seed, rng, t0)
        data["summary"] = report(data)
        path = save_results(name, data)
        log(f"results: {path}" + (note(data) if note else ""))
    return 0


_WRK_RPS = re.compile(r"^Requests/sec:\s*([0-9.]+)", re.M)
_WRK_NON2XX = re.compile(r"Non-2xx or 3xx responses:\s*(\d+)")
_WRK_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_WRK_TOTAL = re.compile(r"(\d+) requests in")


def wrk(url: str, headers=(), *, duration: int = 5, connections: int = 4, threads: int = 2,
        script: Path | None = None) -> dict:
    """``wrk -c -t -d`` (keep-alive connections) against url; every answer must be 2xx/3xx and no
    socket may fail, else the run stops. Returns requests/s and the number of requests."""
    cmd = ["wrk", f"-c{connections}", f"-t{threads}", f"-d{duration}s", "--timeout", "30s"]
    for header in headers:
        cmd += ["-H", header]
    if script:
        cmd += ["-s", str(script)]
    cmd.append(url)
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    out = res.stdout
    m = _WRK_RPS.search(out)
    if res.returncode != 0 or not m:
        raise SystemExit(f"[bench] wrk failed ({res.returncode}):\n{out}\n{res.stderr}")
    non2xx = int(_WRK_NON2XX.search(out).group(1)) if _WRK_NON2XX.search(out) else 0
    errors = sum(int(x) for x in _WRK_ERRORS.search(out).groups()) if _WRK_ERRORS.search(out) else 0
    total = int(_WRK_TOTAL.search(out).group(1)) if _WRK_TOTAL.search(out) else 0
    if non2xx or errors or not total:
        # (0 requests and no error: e.g. a HEAD, whose answer's body wrk waits for in vain)
        raise SystemExit(f"[bench] {url}: {total} requests, {non2xx} non-2xx responses, {errors} socket errors:\n{out}")
    return {"rps": float(m.group(1)), "requests": total}
