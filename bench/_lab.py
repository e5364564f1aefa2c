"""The benchmarks' own lab (not part of the collection): hosts, deployment, nginx variants, HTTP
helpers and CPU accounting shared by bench/proxy_throughput.py and bench/backend_tls.py
(bench/token_auth.py, with a lab of its own, deploys through ``ansible_playbook`` too).

A bench lab is four hosts started with lab/labctl.py run-host: ``<prefix>-s3`` (one-node Ceph RGW),
``<prefix>-b1``/``<prefix>-b2`` (Docker-in-Docker backends) and ``<prefix>-proxy`` (systemd host).
Each benchmark uses its own prefix, hence its own host names, inventory file
(``bench/lab/inventory/<prefix>.yml``; the group_vars next to it are shared) and state directory
(CA, http.secret, blobs and Ansible logs under ``.cache/bench/``), so two of them never touch each
other's hosts. The collection is deployed with ansible-playbook (bench/lab/deploy.yml); nginx
configuration variants are rendered by the nginx role (bench/lab/nginx-variant.yml) and switched
between measurements without an Ansible run.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402  pylint: disable=wrong-import-position

REPO = _common.REPO
LAB = REPO / "bench" / "lab"
LABCTL = [sys.executable, str(REPO / "lab" / "labctl.py")]
NAME = "registry.bench.dockyard.test"          # dockyard_registry_name (bench/lab/inventory/group_vars/all.yml)
BACKEND_TLS_NAME = f"backends.{NAME}"          # the name every backend certificate carries (default)
USER, PASSWORD = "bench", "lab-bench-password-0123"  # lab-only (bench/lab/inventory/group_vars/all.yml)
TLS_DIR = "/etc/dockyard/tls"                  # dockyard_tls_dir (default)
CONF_DIR = "/opt/nginx/conf"
MiB = 1 << 20
WRITE_OUT = "%{http_code} %{size_download} %{size_upload} %{time_total}"


def log(msg: str) -> None:
    _common.log(msg)


def run(cmd, *, check=True, capture=True, env=None, timeout=None, input_=None):
    res = subprocess.run([str(c) for c in cmd], capture_output=capture, text=True, env=env, timeout=timeout,
                         input=input_)
    if check and res.returncode != 0:
        raise SystemExit(f"[bench] failed ({res.returncode}): {' '.join(map(str, cmd))}\n"
                         f"{(res.stdout or '')[-3000:]}\n{(res.stderr or '')[-3000:]}")
    return res


def dexec(host: str, *cmd, check=True, timeout=300):
    return run(["docker", "exec", host, *cmd], check=check, timeout=timeout)


def address(host: str) -> str:
    """The lab address of a host (labctl)."""
    return run([*LABCTL, "address", host]).stdout.strip()


def hosts_up(hosts: dict) -> None:
    """Start lab hosts ({name: image kind}) with labctl."""
    for host, image in hosts.items():
        log(f"labctl run-host {host} --image {image}")
        run([*LABCTL, "run-host", host, "--image", image], capture=False)


def hosts_down(hosts) -> None:
    log("labctl rm-host " + " ".join(hosts))
    run([*LABCTL, "rm-host", *hosts], check=False, capture=False)


def ansible_playbook(inventory: Path, path: Path, state: Path, extra: dict | None = None,
                     log_name: str | None = None) -> tuple:
    """``ansible-playbook -i inventory path [-e extra]`` through tests/harness.py (the checkout's
    ansible.cfg and collection), with DOCKYARD_BENCH_REPO and DOCKYARD_BENCH_STATE (``state``) set
    for the bench playbooks; the output goes to ``state/<log_name or the playbook's stem>.log``.
    Stops the benchmark with the log's tail on failure; returns (log path, seconds)."""
    _common.collection_import_path()  # the .cache/collections link ansible.cfg uses
    from ansible_collections.dockyard.registry.tests.harness import run_playbook  # pylint: disable=import-outside-toplevel

    args = ["-i", str(inventory), str(path)]
    if extra:
        args += ["-e", json.dumps(extra)]
    state.mkdir(parents=True, exist_ok=True)
    out = state / f"{log_name or path.stem}.log"
    t0 = time.monotonic()
    with out.open("w") as fh:
        res = run_playbook(*args, stdout=fh, stderr=subprocess.STDOUT, timeout=None,
                           env={"DOCKYARD_BENCH_REPO": REPO, "DOCKYARD_BENCH_STATE": state})
    if res.returncode != 0:
        tail = "".join(out.read_text().splitlines(True)[-60:])
        raise SystemExit(f"[bench] ansible-playbook {path.name} failed (log: {out}):\n{tail}")
    return out, time.monotonic() - t0


class BenchLab:
    """One bench lab: ``<prefix>-proxy``, ``<prefix>-b1``, ``<prefix>-b2``, ``<prefix>-s3``."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.proxy, self.b1, self.b2, self.s3 = (f"{prefix}-{h}" for h in ("proxy", "b1", "b2", "s3"))
        self.hosts = {self.s3: "s3", self.b1: "dind", self.b2: "dind", self.proxy: "systemd"}
        self.backends = [self.b1, self.b2]
        self.inventory = LAB / "inventory" / f"{prefix}.yml"
        self.state = _common.CACHE / f"lab-{prefix}"
        self._check_inventory()

    def _check_inventory(self) -> None:
        """The inventory file must name exactly this lab's hosts (no playbook may reach another lab)."""
        import yaml  # PyYAML comes with ansible-core in .venv

        data = yaml.safe_load(self.inventory.read_text())
        named = {h for group in data.values() for h in (group.get("hosts") or {})}
        if named != set(self.hosts):
            raise SystemExit(f"[bench] {self.inventory} names {sorted(named)}, expected {sorted(self.hosts)}")

    # --- hosts ---------------------------------------------------------------------------------

    # What the roles generate for this lab (its CA, http.secret): throwaway, and bound to these
    # hosts. A CA kept from hosts that are gone carries name constraints for their old addresses,
    # and the ca role rightly refuses to sign the new ones with it.
    GENERATED = ("dockyard-ca", "dockyard-secrets")

    def up(self) -> None:
        """Start the hosts; a lab none of whose hosts exists (first run, or the last one was
        killed before down()) starts from a new CA too."""
        if not any(run(["docker", "container", "inspect", h], check=False).returncode == 0 for h in self.hosts):
            self.forget_generated_state()
        hosts_up(self.hosts)

    def down(self) -> None:
        hosts_down(self.hosts)
        self.forget_generated_state()

    def forget_generated_state(self) -> None:
        for name in self.GENERATED:
            shutil.rmtree(self.state / name, ignore_errors=True)

    def address(self, host: str) -> str:
        return address(host)

    # --- Ansible -------------------------------------------------------------------------------

    def playbook(self, path, extra: dict | None = None, log_name: str | None = None) -> None:
        """ansible-playbook -i <this lab's inventory> path (relative to bench/lab/ or absolute)."""
        path = Path(path) if Path(path).is_absolute() else LAB / path
        out, seconds = ansible_playbook(self.inventory, path, self.state, extra, log_name)
        log(f"ansible-playbook {path.name} ok in {seconds:.0f}s (log: {out})")

    def deploy(self) -> None:
        self.playbook("deploy.yml")

    def render_variant(self, name: str, role_vars: dict) -> None:
        """Run the nginx role with role_vars and keep its nginx.conf as bench-variants/<name>.conf."""
        self.playbook("nginx-variant.yml", {"dockyard_bench_variant": name, **role_vars}, f"variant-{name}")

    def variant_conf(self, name: str) -> str:
        return dexec(self.proxy, "cat", f"{CONF_DIR}/bench-variants/{name}.conf").stdout

    def use_variant(self, name: str) -> None:
        """Install a rendered variant as the live configuration and restart nginx (clean state)."""
        dexec(self.proxy, "sh", "-c",
              f"cat {CONF_DIR}/bench-variants/{name}.conf > {CONF_DIR}/nginx.conf"
              f" && /opt/nginx/sbin/nginx -t -q && systemctl restart nginx")
        for _ in range(50):
            if dexec(self.proxy, "curl", "-sf", "-o", "/dev/null", "http://127.0.0.1:8080/healthz",
                     check=False).returncode == 0:
                return
            time.sleep(0.2)
        raise SystemExit(f"[bench] nginx did not come back with variant {name}")

    def nginx_version(self) -> str:
        return dexec(self.proxy, "/opt/nginx/sbin/nginx", "-v").stderr.strip().replace("nginx version: ", "")

    # --- storage -------------------------------------------------------------------------------

    def storage_gc(self) -> None:
        """Let Ceph RGW reclaim deleted objects now (pushes of one digest leave a blob's worth of garbage).

        The lab's memstore OSD holds 4 GiB; RGW's own GC would wait a minute or more per object, longer
        than a round takes. A full OSD stalls every write, so it is checked too.
        """
        dexec(self.s3, "radosgw-admin", "gc", "process", "--include-all", check=False, timeout=600)
        health = dexec(self.s3, "ceph", "health", check=False, timeout=60)
        if "full" in (health.stdout + health.stderr).lower():
            raise SystemExit(f"[bench] the lab's Ceph OSD is full: {health.stdout.strip()}")

    def registry_log(self, host: str, container: str = "registry") -> str:
        res = dexec(host, "docker", "logs", container, check=False, timeout=60)
        return res.stdout + res.stderr


def make_blob(path: Path, size: int) -> str:
    """Random (incompressible) bytes; returns the sha256 digest. Reused when it already exists."""
    digest_file = path.with_suffix(".sha256")
    if path.exists() and path.stat().st_size == size and digest_file.exists():
        return digest_file.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    with path.open("wb") as fh:
        left = size
        while left:
            chunk = os.urandom(min(left, 8 * MiB))
            h.update(chunk)
            fh.write(chunk)
            left -= len(chunk)
    digest = "sha256:" + h.hexdigest()
    digest_file.write_text(digest)
    return digest


# ---------------------------------------------------------------------------------------------
# HTTP from the controller (curl)


class Endpoints:
    """Where the controller's curl connects, and with which credentials.

    ``proxy``: https://<registry name> resolved to the proxy's lab address, the lab CA, Basic auth.
    ``direct``: one backend's registry port as nginx reaches it with the default mutual TLS:
    https to <backend address>:5000 verified as the backends' shared name (nginx's
    ``proxy_ssl_name``) against the lab CA, presenting the proxy's own client certificate
    (``proxy-client.crt``/``.key``, copied from the proxy), without a password (nginx strips it).
    """

    def __init__(self, lab: BenchLab, backend_port: int = 5000):
        self.lab = lab
        self.proxy_ip = lab.address(lab.proxy)
        self.b1 = lab.address(lab.b1)
        self.b2 = lab.address(lab.b2)
        self.ca = lab.state / "dockyard-ca" / "ca.crt"
        self.proxy = f"https://{NAME}"
        self.direct = f"https://{BACKEND_TLS_NAME}:{backend_port}"
        self.direct_resolve = f"{BACKEND_TLS_NAME}:{backend_port}:{self.b1}"
        self.client_cert, self.client_key = self._client_certificate()

    def _client_certificate(self) -> tuple:
        """The proxy's clientAuth certificate and key, copied to the bench state (lab-only key)."""
        out = self.lab.state / "proxy-client"
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        for name in ("proxy-client.crt", "proxy-client.key"):
            dest = out / name
            dest.touch(mode=0o600)
            dest.write_text(dexec(self.lab.proxy, "cat", f"{TLS_DIR}/{name}").stdout)
            dest.chmod(0o600)
            paths.append(dest)
        return paths[0], paths[1]

    def curl_base(self, url: str, *, client_cert: bool = True) -> list:
        # A stalled transfer fails after 60 s instead of hanging the run.
        args = ["curl", "-sS", "--fail-with-body", "--max-time", "600", "--speed-limit", "1", "--speed-time", "60"]
        if url.startswith(self.proxy):
            args += ["--cacert", str(self.ca), "--resolve", f"{NAME}:443:{self.proxy_ip}", "-u", f"{USER}:{PASSWORD}"]
        elif url.startswith(self.direct):
            args += ["--cacert", str(self.ca), "--resolve", self.direct_resolve]
            if client_cert:
                args += ["--cert", str(self.client_cert), "--key", str(self.client_key)]
        return args


def curl_get(ep: Endpoints, url: str, expect_size: int) -> float:
    """GET url to /dev/null; returns bytes per second (whole request, TLS handshake included)."""
    res = run([*ep.curl_base(url), "-o", "/dev/null", "-w", WRITE_OUT, url], timeout=700)
    code, size, _up, total = res.stdout.split()
    if code != "200" or int(size) != expect_size:
        raise SystemExit(f"[bench] GET {url}: HTTP {code}, {size} bytes (expected 200, {expect_size})")
    return int(size) / float(total)


def headers(ep: Endpoints, method: str, url: str, extra=()) -> tuple:
    """(status, {lower-case header: value}) of one request; the body is discarded."""
    res = run([*ep.curl_base(url), "-X", method, "-D", "-", "-o", "/dev/null", *extra, url], timeout=700)
    lines = res.stdout.replace("\r", "").split("\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    return status, hdrs


def _at(base: str, location: str) -> str:
    """The upload Location, sent to ``base``: the registries' http.host is the proxy's public URL, so
    their Location headers name the proxy even when the upload started directly at a backend."""
    loc = urllib.parse.urlsplit(urllib.parse.urljoin(base + "/", location))
    return base + loc.path + (f"?{loc.query}" if loc.query else "")


def push_blob(ep: Endpoints, base: str, repo: str, path: Path, digest: str) -> float:
    """POST + PATCH (the whole blob, streamed) + PUT ?digest=, as docker does; returns bytes/s."""
    size = path.stat().st_size
    t0 = time.monotonic()
    status, hdr = headers(ep, "POST", f"{base}/v2/{repo}/blobs/uploads/", ["-H", "Content-Length: 0"])
    if status != 202:
        raise SystemExit(f"[bench] POST upload at {base}: HTTP {status}")
    loc = _at(base, hdr["location"])
    status, hdr = headers(ep, "PATCH", loc, ["-H", "Content-Type: application/octet-stream", "-H", "Expect:",
                                             "-T", str(path)])
    if status != 202:
        raise SystemExit(f"[bench] PATCH upload at {base}: HTTP {status}")
    loc = _at(base, hdr["location"])
    sep = "&" if "?" in loc else "?"
    status, hdr = headers(ep, "PUT", f"{loc}{sep}digest={urllib.parse.quote(digest)}", ["-H", "Content-Length: 0"])
    if status != 201:
        raise SystemExit(f"[bench] PUT upload at {base}: HTTP {status}")
    return size / (time.monotonic() - t0)


# ---------------------------------------------------------------------------------------------
# CPU accounting: where the cycles of a transfer go. Per lab container: the CPU time of every process
# descending from the container's init on this host (/proc, utime+stime+cutime+cstime), which
# includes the registry containers nested in the Docker-in-Docker backends (their shims are
# reparented to the backend's init). cgroups do not work for this here: nested containers and
# systemd's units get cgroups beside, not below, the lab container's. Plus the controller's own
# children (curl, wrk), from getrusage(RUSAGE_CHILDREN) once they have been waited for.


class CpuMeter:
    def __init__(self, lab: BenchLab):
        self.tick = os.sysconf("SC_CLK_TCK")
        self.groups = {"proxy (nginx)": [lab.proxy], "backends (registry)": lab.backends, "s3 (Ceph RGW)": [lab.s3]}
        self.init_pids = {h: int(run(["docker", "inspect", "--format", "{{ .State.Pid }}", h]).stdout)
                          for h in lab.hosts}

    @staticmethod
    def _table() -> dict:
        table = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            rest = stat[stat.rfind(")") + 2:].split()
            table[int(entry)] = (int(rest[1]), sum(int(x) for x in rest[11:15]))
        return table

    def snapshot(self) -> dict:
        table = self._table()
        children = {}
        for pid, (ppid, _t) in table.items():
            children.setdefault(ppid, []).append(pid)
        snap = {}
        for host, root in self.init_pids.items():
            total, todo = 0, [root]
            while todo:
                pid = todo.pop()
                if pid in table:
                    total += table[pid][1]
                todo.extend(children.get(pid, ()))
            snap[host] = total / self.tick
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        snap["client"] = ru.ru_utime + ru.ru_stime
        return snap

    def delta(self, before: dict, after: dict, client: str = "client (curl)") -> dict:
        out = {group: sum(after[h] - before[h] for h in hosts) for group, hosts in self.groups.items()}
        out[client] = after["client"] - before["client"]
        return out
