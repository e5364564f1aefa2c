"""The lab itself: every host up, names resolvable, Docker where needed, the object store live."""

from __future__ import annotations

import json

import pytest
from conftest import lab_host, run_python, s3lite_program

LAB_HOSTS = ["proxy", "backend1", "backend2", "client", "s3"]
DOCKER_HOSTS = ["backend1", "backend2", "client"]


@pytest.mark.parametrize("name", LAB_HOSTS)
def test_systemd_is_running(name):
    state = lab_host(name).run("systemctl is-system-running").stdout.strip()
    assert state in ("running", "degraded"), f"{name}: systemd is {state}"


@pytest.mark.parametrize("name", LAB_HOSTS)
def test_lab_names_resolve_between_hosts(name):
    host = lab_host(name)
    for other in LAB_HOSTS:
        assert host.run(f"getent hosts {other}").rc == 0, f"{name} cannot resolve {other}"


@pytest.mark.parametrize("name", DOCKER_HOSTS)
def test_docker_engine_runs(name):
    host = lab_host(name)
    assert host.service("docker").is_running
    info = json.loads(host.check_output("docker info --format '{{ json . }}'"))
    assert info["Driver"] == "overlay2"


# ListBuckets with the lab's one S3 client (lab/images/s3/s3lite.py), sent over stdin:
# argv = endpoint, access key, secret key, region; prints the bucket names as JSON.
LIST_BUCKETS = "import json\nprint(json.dumps(s3lite.S3Client(*sys.argv[1:5]).list_buckets()))\n"


def test_object_store_answers_list_buckets(s3_env):
    """A SigV4-signed ListBuckets from a lab host with the lab's credentials lists the bucket."""
    res = run_python(lab_host("client"), s3lite_program(LIST_BUCKETS),
                     f"http://s3:{s3_env['S3_PORT']}", s3_env["S3_ACCESS_KEY"], s3_env["S3_SECRET_KEY"],
                     s3_env["S3_REGION"])
    assert res.rc == 0, res.stderr
    assert s3_env["S3_BUCKET"] in json.loads(res.stdout)


def test_object_store_rejects_wrong_credentials(s3_env):
    res = run_python(lab_host("client"), s3lite_program(LIST_BUCKETS),
                     f"http://s3:{s3_env['S3_PORT']}", s3_env["S3_ACCESS_KEY"], "not-the-secret",
                     s3_env["S3_REGION"])
    assert res.rc != 0
    assert "403" in res.stderr


def test_backend2_started_bare_and_the_registry_role_installed_its_engine():
    """backend2 runs the plain Debian 13 systemd image (no Docker in it): the engine is the registry role's work."""
    import subprocess  # pylint: disable=import-outside-toplevel
    image = subprocess.run(["docker", "inspect", "--format", "{{ .Config.Image }}", "backend2"],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert image == "dockyard-lab/systemd-trixie:latest"
    base = subprocess.run(["docker", "run", "--rm", "--entrypoint", "sh", image, "-c",
                           "command -v dockerd || echo none"], capture_output=True, text=True, check=True)
    assert base.stdout.strip() == "none", "the base image already has dockerd: the test proves nothing"
    host = lab_host("backend2")
    assert host.package("docker.io").is_installed and host.package("python3-requests").is_installed
    assert host.service("docker").is_enabled and host.service("docker").is_running
    assert host.run("docker inspect -f '{{ .State.Health.Status }}' registry").stdout.strip() == "healthy"
