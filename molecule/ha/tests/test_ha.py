"""Two proxies behind one virtual IP, as clients see them (issue 13).

The tests run in file order and share one lab: the VIP moves around while they run.
"""

from __future__ import annotations

import datetime
import json
import re
import time
import uuid

from conftest import (BUILD_CACHE, CLIENT, NAME, PROXIES, LoadLoop, address, docker, lab_host, mac,
                      keepalived_state, other, report, run_playbook, sh, single_holder, vip, vip_holders, wait_for)

TLS_DIR = "/etc/dockyard/tls"
NGINX_BINARY = "/opt/nginx/sbin/nginx"
BUILD_RECORD = "/opt/nginx/dockyard-build.json"
MAX_GAP_SECONDS = 5.0
# keepalived's master-down interval is 3 adverts + skew (< 4 s with advert_int 1): a returning proxy
# that were to take the VIP back would have done so by then.
NO_FLAP_WAIT = 6


def sans(proxy: str) -> list[str]:
    out = lab_host(proxy).check_output(f"openssl x509 -noout -ext subjectAltName -in {TLS_DIR}/registry.crt")
    return [item.strip() for item in out.splitlines()[-1].split(",")]


def neighbour_mac(host: str, ip: str) -> str:
    out = lab_host(host).run(f"ip neigh show {ip}").stdout
    found = re.search(r"lladdr ([0-9a-f:]{17})", out)
    return found.group(1) if found else ""


def cache_index() -> dict:
    indexes = [json.loads(p.read_text()) for p in BUILD_CACHE.glob("nginx-1.26.3-*.json")]
    records = [json.loads(lab_host(p).check_output(f"cat {BUILD_RECORD}")) for p in PROXIES]
    matching = [i for i in indexes if i["fingerprint"] == records[0]["fingerprint"]]
    assert len(matching) == 1, f"one cache index for {records[0]['id']} expected in {BUILD_CACHE}: {indexes}"
    return matching[0]


def utc(stamp: str) -> datetime.datetime:
    """A UTC time from docker's ``Created`` (nanoseconds, ``Z``) or the cache index (isoformat, naive UTC)."""
    found = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]00:00)?", stamp.strip())
    assert found, f"not a UTC timestamp: {stamp!r}"
    micro = int((found.group(2) or "0")[:6].ljust(6, "0"))
    return datetime.datetime.fromisoformat(found.group(1)).replace(microsecond=micro)


def slowest_tasks(output: str, count: int = 5) -> list:
    """The slowest tasks of a run with the profile_tasks callback (what the rollout spends time on)."""
    found = re.findall(r"^(.+?) -+ ([0-9.]+)s$", output, re.MULTILINE)
    return [f"{name.strip()[:70]}: {seconds}s" for name, seconds in sorted(found, key=lambda x: -float(x[1]))[:count]]


def wait_healthy(proxy: str) -> None:
    host = lab_host(proxy)
    wait_for(lambda: host.run("systemctl is-active --quiet nginx keepalived").rc == 0, 60, 0.5,
             f"nginx and keepalived active on {proxy}")
    wait_for(lambda: host.run(f"curl -skf --max-time 2 --resolve {NAME}:443:127.0.0.1 https://{NAME}/healthz").rc == 0,
             30, 0.5, f"nginx healthy on {proxy}")
    wait_for(lambda: keepalived_state(proxy) == "BACKUP", 30, 0.5, f"keepalived BACKUP on {proxy}")


def certificate_sha256(proxy: str) -> str:
    """sha256 of the DER certificate ``proxy`` serves (what the load loop records per answer)."""
    return lab_host(proxy).check_output(
        f"openssl x509 -in {TLS_DIR}/registry.crt -outform der | sha256sum").split()[0]


def drain_log(proxy: str, since: float) -> list[str]:
    """What the keepalived drain script said on ``proxy`` since ``since`` (journal of keepalived)."""
    out = lab_host(proxy).run(f"journalctl -u keepalived -o cat --since @{int(since)} --no-pager").stdout
    return [line for line in out.splitlines() if line.startswith(("draining:", "drained:"))]


def failover(label: str, pull_image: str, action, restore, failed_pulls_allowed: bool = False,
             drained: bool = False) -> dict:
    """Move the VIP off its holder with ``action`` under the load loop, ``restore`` the old holder,
    check the VIP stayed where it went. Returns (and reports) the numbers. ``drained``: the action is
    a planned stop whose drain the holder's journal still shows after ``restore``."""
    holder = single_holder()
    backup = other(holder)
    the_vip = vip()
    certs = {certificate_sha256(p): p for p in PROXIES}
    # ha-b1 talks to the VIP once, so its ARP cache holds the holder's MAC; it sends nothing more.
    lab_host("ha-b1").run(f"ping -c 1 -W 1 {the_vip}")
    assert neighbour_mac("ha-b1", the_vip) == mac(holder)
    with LoadLoop(label, image=pull_image) as loop:
        time.sleep(2)
        acted = time.time()
        action(holder)
        wait_for(lambda: vip_holders() == [backup], 20, 0.2, f"the VIP to move from {holder} to {backup}")
        time.sleep(3)
        garp_mac = neighbour_mac("ha-b1", the_vip)
    result = loop.result
    restore(holder)
    wait_healthy(holder)
    drain_lines = drain_log(holder, acted - 1) if drained else []
    time.sleep(NO_FLAP_WAIT)
    served = {certs.get(cert, cert[:12]): info for cert, info in result["served_by"].items()}
    numbers = {
        "from": holder, "to": backup,
        # the first answer through the VIP from the new holder, after the action
        "first_answer_from_new_holder_after_seconds": round(served[backup]["first"] - acted, 2) if backup in served else None,
        "gap_seconds": result["gap_seconds"],
        "requests": result["requests"], "failed_requests": result["failed_requests"],
        "request_errors": sorted({f[2].split(":")[0] for f in result["failures"]}),
        "pulls": result["pulls"], "failed_pulls": result["failed_pulls"],
        "pull_errors": [p[3][-120:] for p in result["pull_failures"]],
        "pull_seconds_max": result["pull_seconds_max"],
        "holder_after_return": vip_holders(),
        "returned_proxy_state": keepalived_state(holder),
        "drain": drain_lines,
    }
    report(label, numbers)
    assert result["stopped_by"] == "stop-file", result
    assert garp_mac == mac(backup), (
        f"ha-b1 (no traffic to the VIP since) still maps {the_vip} to {garp_mac}, not {backup}'s {mac(backup)}: "
        "the gratuitous ARP did not reach it")
    assert sorted(served) == sorted(PROXIES), f"both proxies should have answered through the VIP: {served}"
    assert served[holder]["first"] < acted < served[backup]["first"], numbers
    assert result["last_ok"] > served[backup]["first"], "no answer through the VIP after it moved"
    assert result["gap_seconds"] <= MAX_GAP_SECONDS, numbers | {"gap": [result["gap_from"], result["gap_to"]],
                                                                 "failures": result["failures"]}
    assert result["pulls"] >= 3, numbers
    if not failed_pulls_allowed:
        assert result["failed_pulls"] == 0, numbers | {"pull_failures": result["pull_failures"]}
    assert vip_holders() == [backup], f"the VIP went back to {holder} after it returned (preemption): {numbers}"
    assert numbers["returned_proxy_state"] == "BACKUP", numbers
    for proxy in PROXIES:  # the drain rule is gone once keepalived has stopped (and on every start)
        rules = lab_host(proxy).run("nft list table ip dockyard_keepalived_drain")
        assert rules.rc != 0, f"{proxy} still drops new connections to the VIP: {rules.stdout}"
    if drained:
        assert [line.split(":")[0] for line in drain_lines] == ["draining", "drained"], numbers
    return numbers


# --- the deployment ----------------------------------------------------------------------------


def test_the_vip_is_on_exactly_one_proxy():
    holders = vip_holders()
    assert len(holders) == 1, holders
    assert keepalived_state(holders[0]) == "MASTER"
    assert keepalived_state(other(holders[0])) == "BACKUP"


def test_keepalived_speaks_unicast_to_the_other_proxy_without_preemption():
    for proxy in PROXIES:
        host = lab_host(proxy)
        conf = host.file("/etc/keepalived/keepalived.conf").content_string
        assert re.search(r"unicast_src_ip %s\b" % re.escape(address(proxy)), conf)
        assert re.search(r"unicast_peer \{\s+%s\s+\}" % re.escape(address(other(proxy))), conf)
        assert "nopreempt" in conf and "check_unicast_src" in conf and "state BACKUP" in conf
        assert f"{vip()}/32 dev eth0" in conf
        auth = host.file("/etc/keepalived/dockyard-auth.conf")
        assert auth.user == "root" and auth.mode == 0o600
        assert "auth_pass" not in conf  # the password is only in the 0600 file
        check = host.file("/etc/keepalived/dockyard-check-nginx")
        assert check.user == "root" and check.mode == 0o755


def test_keepalived_configs_are_tested_and_bad_ones_refused():
    host = lab_host(PROXIES[0])
    validate = "/usr/local/sbin/dockyard-keepalived-validate"
    assert host.run(f"{validate} /etc/keepalived/keepalived.conf").rc == 0
    sh(host, "sed 's/priority [0-9]*/priority 999/' /etc/keepalived/keepalived.conf > /root/bad-priority.conf")
    assert host.run(f"{validate} /root/bad-priority.conf").rc != 0
    sh(host, "sed 's/virtual_router_id .*/virtual_router_id/' /etc/keepalived/keepalived.conf > /root/bad-vrid.conf")
    assert host.run(f"{validate} /root/bad-vrid.conf").rc != 0
    # a health check script that others may rewrite would run as keepalived's script user: refused
    sh(host, "install -m 0777 /etc/keepalived/dockyard-check-nginx /root/writable-check && "
             "sed 's#/etc/keepalived/dockyard-check-nginx#/root/writable-check#' /etc/keepalived/keepalived.conf "
             "> /root/bad-script.conf")
    bad = host.run(f"{validate} /root/bad-script.conf")
    assert bad.rc != 0 and "writable" in bad.stderr
    host.run("rm -f /root/bad-priority.conf /root/bad-vrid.conf /root/bad-script.conf /root/writable-check")


def test_every_proxy_has_the_registry_name_the_vip_and_its_own_name_in_its_certificate():
    for proxy in PROXIES:
        names = sans(proxy)
        assert f"DNS:{NAME}" in names and f"IP Address:{vip()}" in names and f"DNS:{proxy}" in names, names
        assert f"DNS:{other(proxy)}" not in names
    holder = single_holder()
    served = lab_host(CLIENT).check_output(
        f"openssl s_client -connect {vip()}:443 -servername {NAME} </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256")
    held = lab_host(holder).check_output(f"openssl x509 -noout -fingerprint -sha256 -in {TLS_DIR}/registry.crt")
    assert served.strip() == held.strip()


def test_every_proxy_has_the_same_upstreams_and_users():
    confs = [lab_host(p).check_output("grep -E '^\\s+server .*:5000' /opt/nginx/conf/nginx.conf") for p in PROXIES]
    assert confs[0] == confs[1] and confs[0].count("server ") == 2
    users = [lab_host(p).check_output("cut -d: -f1 /opt/nginx/conf/.htpasswd") for p in PROXIES]
    assert users[0] == users[1] == "ci\nreader"


def test_docker_push_and_pull_through_the_vip(client):
    assert client.check_output(f"getent hosts {NAME}").split()[0] == vip()
    ref = f"{NAME}/dockyard/ha-push:{uuid.uuid4().hex[:10]}"
    sh(client, f"""
        set -e; d=$(mktemp -d); cd $d
        head -c 2M /dev/urandom > a.bin && printf 'FROM scratch\\nCOPY a.bin /a.bin\\n' > Dockerfile
        docker build -q -t {ref} . >/dev/null && docker push {ref} >/dev/null
        docker image inspect --format '{{{{ index .RepoDigests 0 }}}}' {ref} > /root/pushed-digest
        docker image rm {ref} >/dev/null && docker pull {ref} >/dev/null
        test "$(docker image inspect --format '{{{{ index .RepoDigests 0 }}}}' {ref})" = "$(cat /root/pushed-digest)"
        docker image rm {ref} >/dev/null; cd / && rm -rf $d
    """)


def test_nginx_was_compiled_at_most_once_and_both_proxies_run_the_same_binary():
    records = {p: json.loads(lab_host(p).check_output(f"cat {BUILD_RECORD}")) for p in PROXIES}
    binaries = {p: lab_host(p).check_output(f"sha256sum {NGINX_BINARY}").split()[0] for p in PROXIES}
    index = cache_index()
    compiled_here = sorted(p for p, r in records.items() if r["source"] == "compiled")
    created = docker("inspect", "--format", "{{ .Created }}", PROXIES[0]).strip()
    numbers = {"compiled_on": compiled_here, "cache_built_by": index["built_by"], "cache_built_at": index["built_at"],
               "lab_created": created, "sha256": binaries, "archive_sha256": index["sha256"],
               "sources": {p: r["source"] for p, r in records.items()}}
    report("build_once", numbers)
    assert binaries[PROXIES[0]] == binaries[PROXIES[1]], numbers
    assert len({r["fingerprint"] for r in records.values()}) == 1 and records[PROXIES[0]]["fingerprint"] == index["fingerprint"]
    assert all(r["archive_sha256"] == index["sha256"] for r in records.values()), numbers
    # the cache index names a host of this scenario, and was written after this lab's proxies were
    # created: this lab built it (a previous run of the scenario has the same host names)
    built_here = index["built_by"] in PROXIES and utc(index["built_at"]) >= utc(created)
    if built_here:
        # this lab compiled the recipe: exactly once, on the proxy the cache names; the other got the archive
        assert compiled_here == [index["built_by"]], numbers
        assert records[other(index["built_by"])]["source"] == "cache", numbers
    else:
        # another scenario compiled it first (shared lab cache): nothing was compiled here
        assert compiled_here == [], numbers
    # the binary in the archive is the one both proxies run
    archive = BUILD_CACHE / index["archive"]
    import tarfile  # pylint: disable=import-outside-toplevel
    import hashlib  # pylint: disable=import-outside-toplevel
    with tarfile.open(archive) as tar:
        member = tar.extractfile("." + NGINX_BINARY)
        assert hashlib.sha256(member.read()).hexdigest() == binaries[PROXIES[0]]


# --- failover under load ------------------------------------------------------------------------


def test_stopping_nginx_moves_the_vip_without_a_failed_pull(pull_image):
    def stop(proxy):
        sh(lab_host(proxy), "systemctl stop nginx")

    def start(proxy):
        host = lab_host(proxy)
        # keepalived went down with nginx (PartOf) and comes back with it (Wants)
        assert host.run("systemctl is-active --quiet keepalived").rc != 0
        sh(host, "systemctl start nginx")

    failover("nginx_stopped", pull_image, stop, start, drained=True)


def test_stopping_the_whole_proxy_moves_the_vip_without_a_failed_pull(pull_image):
    addresses = {p: address(p) for p in PROXIES}

    def stop(proxy):
        docker("stop", "--time", "120", proxy, timeout=200)  # SIGRTMIN+3: systemd shuts down gracefully

    def start(proxy):
        docker("start", proxy)
        wait_for(lambda: lab_host(proxy).run("systemctl is-system-running").stdout.strip() in ("running", "degraded"),
                 90, 0.5, f"systemd in {proxy}")
        assert address(proxy) == addresses[proxy], (
            f"{proxy} came back with another address: another lab container took {addresses[proxy]}")

    failover("container_stopped", pull_image, stop, start)


def test_a_hung_nginx_is_caught_by_the_health_check(pull_image):
    """nginx's processes exist but do not answer (SIGSTOP): the health check, not the process, moves the VIP.

    Connections already open to the hung nginx stay stuck until the client's own timeout (docker's
    TLS handshake timeout is 10 s): a pull that started on one fails, which no VIP can prevent. So
    here the numbers of failed pulls are reported, not required to be 0; the gap is."""
    def hang(proxy):
        sh(lab_host(proxy), "systemctl kill --signal=SIGSTOP nginx")

    def resume(proxy):
        host = lab_host(proxy)
        assert keepalived_state(proxy) == "FAULT"
        assert host.run("systemctl is-active --quiet nginx keepalived").rc == 0  # both processes still there
        sh(host, "systemctl kill --signal=SIGCONT nginx")

    failover("nginx_hung", pull_image, hang, resume, failed_pulls_allowed=True)


# --- one proxy at a time ------------------------------------------------------------------------


def test_a_rolling_configuration_change_fails_no_request(pull_image):
    """nginx.yml (--tags nginx_configure) adds a response header on both proxies, one at a time, under
    the loop: every request through the VIP and to each proxy directly succeeds, and the proxies
    switch in inventory order, one after the other."""
    value = uuid.uuid4().hex[:12]
    watch = {p: address(p) for p in PROXIES}
    with LoadLoop("rolling_change", image=pull_image, watch=watch, watch_value=value, max_seconds=900) as loop:
        time.sleep(2)
        started = time.time()
        proc = run_playbook("nginx.yml", {"nginx_extra_server_config": f'add_header X-Dockyard-Rollout "{value}" always;'},
                            "--tags", "nginx_configure")
        ended = time.time()
        time.sleep(2)
    result = loop.result
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert result["stopped_by"] == "stop-file", result
    firsts = result["watch_first"]
    numbers = {"playbook_seconds": round(ended - started, 1), "requests": result["requests"],
               "failed_requests": result["failed_requests"], "pulls": result["pulls"],
               "failed_pulls": result["failed_pulls"], "gap_seconds": result["gap_seconds"],
               "per_proxy_requests": result["watch_requests"], "per_proxy_failed": result["watch_failed_requests"],
               "changed_at": {p: round(t - started, 1) for p, t in firsts.items()},
               "slowest_tasks": slowest_tasks(proc.stdout)}
    report("rolling_change", numbers)
    assert result["failed_requests"] == 0 and result["failed_pulls"] == 0, numbers | {"failures": result["failures"],
                                                                                     "pull_failures": result["pull_failures"]}
    assert result["watch_failed_requests"] == {}, result["watch_failures"]
    assert sorted(firsts) == sorted(PROXIES), f"not every proxy serves the change: {numbers}"
    # one at a time, in inventory order (serial: 1 with a health gate between proxies)
    assert firsts[PROXIES[0]] < firsts[PROXIES[1]], numbers
    assert firsts[PROXIES[1]] - firsts[PROXIES[0]] >= 3, numbers
