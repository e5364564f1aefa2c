#!/usr/bin/env python3
"""Token authentication vs no authentication vs basic authentication, as ratios (issue 12).

Sets up its own mini lab with lab/labctl.py (bench-tok-proxy: systemd host, bench-tok-b1:
Docker-in-Docker backend, bench-tok-client: Docker client), deploys the collection in TOKEN mode
with ansible-playbook (bench/lab-token/: the whole site.yml, one registry on filesystem storage so
requests are bound by CPU rather than by an object store's round trips), then adds, on the same
hosts, the two comparison paths:

* no auth: a second registry container on bench-tok-b1 with the deployed config.yml minus
  ``auth`` (same storage, same http.secret), behind an nginx server on port 8443 without auth;
* basic: the same unauthenticated registry behind an nginx server on port 9443 with ``auth_basic``
  and an htpasswd file in the nginx role's default scheme (sha512_crypt, 5000 rounds), written by
  the collection's own ``_htpasswd`` module_utils;
* token: the deployed path (port 443): bearer token from the token service, the registry verifies it.

All three run in the same nginx (same workers, TLS settings and certificate). The load is
``ab -k -c<C> -t<D>`` from this host (keep-alive; wrk cannot load HEAD requests whose answer has
a Content-Length), for ``HEAD /v2/<repo>/manifests/<tag>`` and
``GET /v2/``, every variant once per round in a shuffled order; ratios are taken within a round.
Afterwards it counts the password verifications the token service performs for one ``docker pull``
of a 10-layer image on bench-tok-client (service restarted first: empty verdict cache).

Usage: .venv/bin/python bench/token_auth.py [--rounds 5] [--duration 5] [--connections 16] [--keep]
Traffic goes only to the bench's own lab containers.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
import _lab  # noqa: E402

REPO = _common.REPO
LAB = REPO / "bench" / "lab-token"
STATE = _common.CACHE / "lab-token"
HOSTS = {"bench-tok-b1": "dind", "bench-tok-client": "dind", "bench-tok-proxy": "systemd"}
PROXY, B1, CLIENT = "bench-tok-proxy", "bench-tok-b1", "bench-tok-client"
NAME = "registry.tokbench.dockyard.test"
USER, PASSWORD = "bench", "lab-bench-password-0123"  # lab-only (bench/lab-token/inventory)
CONF_DIR = "/opt/nginx/conf"
NOAUTH_PORT, BASIC_PORT, NOAUTH_REGISTRY_PORT = 8443, 9443, 5002
REPO_NAME = "bench/app"
VARIANTS = ("none", "basic", "token")
REQUESTS = ("manifest_head", "v2_get")

_common.collection_import_path()
from ansible_collections.dockyard.registry.plugins.module_utils import _htpasswd  # noqa: E402


log, run, dexec, address = _lab.log, _lab.run, _lab.dexec, _lab.address


def lab_up() -> None:
    _lab.hosts_up(HOSTS)


def lab_down() -> None:
    _lab.hosts_down(HOSTS)


def deploy() -> None:
    out, seconds = _lab.ansible_playbook(LAB / "inventory", LAB / "deploy.yml", STATE)
    log(f"deployed in {seconds:.0f}s (log: {out})")


# ---------------------------------------------------------------------------------------------
# The comparison paths


def comparison_setup(b1_ip: str) -> None:
    """An unauthenticated twin of the registry on bench-tok-b1, and nginx servers for it."""
    import yaml  # PyYAML comes with ansible-core

    config = yaml.safe_load(dexec(B1, "cat", "/etc/dockyard/registry/config.yml").stdout)
    config.pop("auth", None)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.yml"
        path.write_text(yaml.safe_dump(config))
        dexec(B1, "mkdir", "-p", "/etc/dockyard/registry-noauth")
        run(["docker", "cp", str(path), f"{B1}:/etc/dockyard/registry-noauth/config.yml"])
    dexec(B1, "docker", "rm", "-f", "registry-noauth", check=False)
    image = dexec(B1, "docker", "inspect", "--format", "{{ .Config.Image }}", "registry").stdout.strip()
    mounts = json.loads(dexec(B1, "docker", "inspect", "--format", "{{ json .Mounts }}", "registry").stdout)
    volumes = [f"{m['Source']}:{m['Destination']}" for m in mounts
               if m.get("Type") == "bind" and not m["Destination"].startswith("/etc/")]
    dexec(B1, "docker", "run", "-d", "--name", "registry-noauth", "--restart", "always",
          "-p", f"{b1_ip}:{NOAUTH_REGISTRY_PORT}:5000",
          "-v", "/etc/dockyard/registry-noauth:/etc/docker/registry:ro",
          *sum((["-v", v] for v in volumes), []), image)
    hashed = _htpasswd.hash_password(PASSWORD, _htpasswd.SHA512_CRYPT)  # the nginx role's default scheme
    with tempfile.TemporaryDirectory() as tmp:
        ht = Path(tmp) / "bench-basic.htpasswd"
        ht.write_text(f"{USER}:{hashed}\n")
        run(["docker", "cp", str(ht), f"{PROXY}:{CONF_DIR}/bench-basic.htpasswd"])
        dexec(PROXY, "chmod", "0644", f"{CONF_DIR}/bench-basic.htpasswd")
        servers = Path(tmp) / "bench-servers.conf"
        servers.write_text(f"""
upstream bench_noauth {{
    server {b1_ip}:{NOAUTH_REGISTRY_PORT};
    keepalive 32;
}}
server {{
    listen {NOAUTH_PORT} ssl;
    listen {BASIC_PORT} ssl;
    server_name {NAME};
    ssl_certificate /etc/dockyard/tls/registry.crt;
    ssl_certificate_key /etc/dockyard/tls/registry.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $http_host;
    location /v2/ {{
        set $bench_realm off;
        if ($server_port = {BASIC_PORT}) {{
            set $bench_realm "registry";
        }}
        auth_basic $bench_realm;
        auth_basic_user_file {CONF_DIR}/bench-basic.htpasswd;
        proxy_pass http://bench_noauth;
    }}
}}
""")
        run(["docker", "cp", str(servers), f"{PROXY}:{CONF_DIR}/bench-servers.conf"])
    dexec(PROXY, "sh", "-c", f"chmod 0644 {CONF_DIR}/bench-servers.conf && /opt/nginx/sbin/nginx -t -q "
                             f"-c {CONF_DIR}/nginx.conf && systemctl reload nginx")
    for _ in range(60):
        if dexec(B1, "curl", "-sf", "-o", "/dev/null", f"http://{b1_ip}:{NOAUTH_REGISTRY_PORT}/v2/", check=False).returncode == 0:
            return
        time.sleep(1)
    raise SystemExit("[bench] the unauthenticated registry did not start")


def curl(args: list, proxy_ip: str) -> tuple:
    ca = STATE / "dockyard-ca" / "ca.crt"
    res = run(["curl", "-sS", "--cacert", str(ca), "--resolve", f"{NAME}:443:{proxy_ip}",
               "--resolve", f"{NAME}:{NOAUTH_PORT}:{proxy_ip}", "--resolve", f"{NAME}:{BASIC_PORT}:{proxy_ip}",
               "-o", "-", "-w", "\n%{http_code}", *args], check=False)
    body, _, code = res.stdout.rpartition("\n")
    return int(code or 0), body


def get_token(proxy_ip: str, scope: str) -> str:
    code, body = curl(["-u", f"{USER}:{PASSWORD}", f"https://{NAME}/token?service={NAME}&scope={scope}"], proxy_ip)
    if code != 200:
        raise SystemExit(f"[bench] token request: HTTP {code} {body[:300]}")
    return json.loads(body)["token"]


def push_image(tag: str) -> None:
    """A small image pushed by the docker client (logged in by client_trust)."""
    ctx = "/root/bench-img"
    dexec(CLIENT, "sh", "-c", f"rm -rf {ctx} && mkdir -p {ctx} && cd {ctx} && "
                              "for i in $(seq 0 9); do head -c 65536 /dev/urandom > f$i.bin; done && "
                              "printf 'FROM scratch\\n' > Dockerfile && "
                              "for i in $(seq 0 9); do printf 'COPY f%s.bin /f%s.bin\\n' $i $i >> Dockerfile; done && "
                              f"docker build -q -t {NAME}/{REPO_NAME}:{tag} . >/dev/null && "
                              f"docker push {NAME}/{REPO_NAME}:{tag} >/dev/null && docker image rm {NAME}/{REPO_NAME}:{tag} >/dev/null")


# ---------------------------------------------------------------------------------------------
# Measurement

def load(proxy_ip: str, variant: str, request: str, headers: dict, args) -> float:
    """Requests/s of ``ab -k`` (keep-alive, ``-c`` connections, ``-t`` seconds) for one path.

    ab rather than wrk: wrk waits for the body of a HEAD answer that carries a Content-Length (the
    registry's manifest HEAD does), so it cannot load HEAD requests. Every answer must be a 200."""
    port = {"none": NOAUTH_PORT, "basic": BASIC_PORT, "token": 443}[variant]
    path = f"/v2/{REPO_NAME}/manifests/latest" if request == "manifest_head" else "/v2/"
    cmd = ["ab", "-k", "-q", "-t", str(args.duration), "-n", "50000000", "-c", str(args.connections),
           "-H", f"Host: {NAME if port == 443 else f'{NAME}:{port}'}",
           "-H", "Accept: application/vnd.docker.distribution.manifest.v2+json"]
    if headers.get(variant):
        cmd += ["-H", f"Authorization: {headers[variant]}"]
    if request == "manifest_head":
        cmd.append("-i")
    res = run([*cmd, f"https://{proxy_ip}:{port}{path}"], timeout=args.duration + 120, check=False)
    done = re.search(r"Complete requests:\s+(\d+)", res.stdout)
    failed = re.search(r"Failed requests:\s+(\d+)", res.stdout)
    non2xx = re.search(r"Non-2xx responses:\s+(\d+)", res.stdout)
    rps = re.search(r"Requests per second:\s+([\d.]+)", res.stdout)
    if not (done and rps) or int(done.group(1)) == 0:
        raise SystemExit(f"[bench] ab output not understood:\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}")
    bad = int(failed.group(1)) + (int(non2xx.group(1)) if non2xx else 0)
    if bad:
        raise SystemExit(f"[bench] {variant}/{request}: {bad} of {done.group(1)} answers were not 200")
    return float(rps.group(1))


def count_password_checks_for_one_pull(tag: str) -> dict:
    """Restart the token service (empty verdict cache), pull a 10-layer image once, count."""
    dexec(PROXY, "sh", "-c", "systemctl restart dockyard-token && for i in $(seq 60); do "
                             "curl -sf http://127.0.0.1:5010/healthz >/dev/null && exit 0; sleep 0.25; done; exit 1")
    since = dexec(PROXY, "date", "+%Y-%m-%d %H:%M:%S").stdout.strip()
    time.sleep(1.1)
    ref = f"{NAME}/{REPO_NAME}:{tag}"
    dexec(CLIENT, "docker", "pull", "-q", ref, timeout=600)
    layers = json.loads(dexec(CLIENT, "docker", "image", "inspect", "--format", "{{ json .RootFS.Layers }}", ref).stdout)
    dexec(CLIENT, "docker", "image", "rm", ref)
    journal = dexec(PROXY, "journalctl", "-u", "dockyard-token", "--since", since, "-o", "cat").stdout
    checks = [line for line in journal.splitlines() if f"password check user={USER}" in line]
    return {"layers": len(layers), "token_requests": sum(1 for line in journal.splitlines() if "token issued" in line),
            "password_checks": len(checks),
            "password_verifications": sum(1 for line in checks if "password=verified" in line)}


def measure(args, proxy_ip: str, rng: random.Random) -> dict:
    token = get_token(proxy_ip, f"repository:{REPO_NAME}:pull")
    headers = {"none": None, "basic": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(),
               "token": "Bearer " + token}
    for variant in VARIANTS:  # every path answers 200 before anything is timed
        port = {"none": NOAUTH_PORT, "basic": BASIC_PORT, "token": 443}[variant]
        hdr = ["-H", f"Authorization: {headers[variant]}"] if headers[variant] else []
        code, body = curl(["-I", *hdr, "-H", "Accept: application/vnd.docker.distribution.manifest.v2+json",
                           f"https://{NAME}:{port}/v2/{REPO_NAME}/manifests/latest"], proxy_ip)
        if code != 200:
            raise SystemExit(f"[bench] {variant}: manifest HEAD answered {code}")
    code, _b = curl([f"https://{NAME}/v2/{REPO_NAME}/manifests/latest"], proxy_ip)
    if code != 401:
        raise SystemExit(f"[bench] token path without a token answered {code}, expected 401")
    code, _b = curl([f"https://{NAME}:{BASIC_PORT}/v2/"], proxy_ip)
    if code != 401:
        raise SystemExit(f"[bench] basic path without credentials answered {code}, expected 401")
    samples = {}
    for rnd in range(args.rounds):
        if rnd and rnd % 2 == 0:  # tokens live 300 s: a fresh one every other round
            headers["token"] = "Bearer " + get_token(proxy_ip, f"repository:{REPO_NAME}:pull")
        t0 = time.monotonic()
        plan = [(v, r) for v in VARIANTS for r in REQUESTS]
        for variant, request in _common.shuffled(plan, rng):
            samples.setdefault(f"{variant}/{request}", []).append(load(proxy_ip, variant, request, headers, args))
        log(f"round {rnd + 1}/{args.rounds} in {time.monotonic() - t0:.0f}s: "
            + ", ".join(f"{k} {v[-1]:.0f}/s" for k, v in sorted(samples.items())))
    return samples


def report(data: dict) -> dict:
    s = data["samples"]
    out = {}
    rows = []
    for request in REQUESTS:
        base = s[f"none/{request}"]
        for variant in VARIANTS:
            v = s[f"{variant}/{request}"]
            r = [a / b for a, b in zip(v, base)]
            out[f"{variant}/{request}"] = {"req_per_s": v, "ratio_to_none": r}
            rows.append([request, variant, _common.fmt(_common.median(v)), _common.spread(v),
                         f"{_common.median(r):.3f}x", _common.spread(r)])
    print(f"\nRequests/s through the same nginx, ab -k -c{data['connections']} -t{data['duration']}, "
          f"{data['rounds']} rounds (median, min..max)")
    print(_common.table(["request", "auth", "req/s", "spread", "x no auth", "spread"], rows))
    for request in REQUESTS:
        tok = _common.median(out[f"token/{request}"]["ratio_to_none"])
        bas = _common.median(out[f"basic/{request}"]["ratio_to_none"])
        tb = _common.median([a / b for a, b in zip(s[f"token/{request}"], s[f"basic/{request}"])])
        print(f"{request}: token {tok:.2f}x of no auth ({'MET' if tok >= 0.8 else 'NOT MET'} >= 0.8x), "
              f"basic {bas:.3f}x, token/basic {tb:.1f}x")
        out[f"token_over_basic/{request}"] = tb
    pull = data["pull"]
    print(f"\ndocker pull of a {pull['layers']}-layer image: {pull['token_requests']} token request(s), "
          f"{pull['password_checks']} password check(s), {pull['password_verifications']} hash verification(s) "
          f"-> {'MET' if pull['password_verifications'] == 1 else 'NOT MET'} (target 1)")
    return out


def setup() -> None:
    lab_up()
    deploy()


def run_rounds(args, seed: int, rng: random.Random, t0: float) -> dict:
    """The comparison paths, every round (measure()) and the pull's password checks; the results
    file's data without the summary."""
    proxy_ip, b1_ip = address(PROXY), address(B1)
    comparison_setup(b1_ip)
    push_image("latest")
    samples = measure(args, proxy_ip, rng)
    pull = count_password_checks_for_one_pull("latest")
    nginx_v = dexec(PROXY, "/opt/nginx/sbin/nginx", "-v").stderr.strip().replace("nginx version: ", "")
    return {"samples": samples, "pull": pull, "rounds": args.rounds, "duration": args.duration,
            "connections": args.connections, "seed": seed, "nginx": nginx_v,
            "machine": _common.machine_facts(), "duration_s": time.monotonic() - t0}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=int, default=5, help="seconds per ab run")
    ap.add_argument("--connections", type=int, default=16)
    return _common.lab_benchmark(ap, argv, name="token_auth", hosts_help="bench-tok-*", hosts=HOSTS, down=lab_down,
                                 setup=setup, measure=run_rounds, report=report)


if __name__ == "__main__":
    sys.exit(main())
