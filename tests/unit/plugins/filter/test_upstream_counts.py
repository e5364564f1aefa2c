from __future__ import annotations

from ansible_collections.dockyard.registry.plugins.filter.upstream_counts import FilterModule, upstream_counts

LINES = [
    '10.0.0.9 - ci [28/Nov/2026:01:00:00 +0000] "GET /v2/ HTTP/1.1" 401 179 "-" "check" "-" 0.000 -',
    '10.0.0.9 - ci [28/Nov/2026:01:00:00 +0000] "GET /v2/ HTTP/1.1" 200 2 "-" "check" "10.0.0.11:5000" 0.004 0.004',
    '10.0.0.9 - ci [28/Nov/2026:01:00:01 +0000] "PATCH /v2/x/blobs/uploads/u HTTP/1.1" 202 0 "-" "check" "10.0.0.12:5000" 0.010 0.010',
    '10.0.0.9 - ci [28/Nov/2026:01:00:01 +0000] "GET /v2/x/manifests/t HTTP/1.1" 200 9 "-" "check" "10.0.0.11:5000, 10.0.0.12:5000" 0.1 0.09, 0.01',
    '10.0.0.9 - ci [28/Nov/2026:01:00:02 +0000] "GET /v2/x/blobs/sha256:aa HTTP/1.1" 200 9 "-" "check" "[fd00::5]:5000" 0.1 0.1',
]


def test_counts_final_upstream_and_nginx_answers():
    counts = upstream_counts(LINES, {"10.0.0.11": "backend1", "10.0.0.12:5000": "backend2"})
    assert counts == {"nginx": 1, "backend1": 1, "backend2": 2, "[fd00::5]:5000": 1}


def test_user_agent_with_quotes_does_not_confuse_the_parser():
    line = '1.2.3.4 - - [x] "GET /v2/ HTTP/1.1" 200 2 "-" "docker/20.10 go/1.19 \\"x\\"" "10.0.0.11:5000" 0.1 0.1'
    assert upstream_counts([line], {"10.0.0.11": "b1"}) == {"b1": 1}


def test_empty_and_registered_as_filter():
    assert upstream_counts([]) == {}
    assert FilterModule().filters()["upstream_counts"] is upstream_counts
