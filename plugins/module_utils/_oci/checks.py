# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: the auth, push, pull and delete checks of ``registry_check``.

Private to the dockyard.registry collection; other collections must not import it. Standard
library only, no Ansible import.

``_Checker`` runs each check through a ``RegistryClient``: auth (401 + API version header + Basic
challenge without credentials, 401 with a wrong password, 200 with credentials), push (HEAD skip,
cross-repository mount, chunked or monolithic uploads, manifest PUT by tag), pull (manifest by tag,
every blob re-hashed) and delete (405 when deletion is disabled is reported, not failed). A check
that fails raises ``CheckFailed`` with a message naming the step, the request and the likely fix;
neither the password nor the ``Authorization`` header ever appears in a message.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlencode, urljoin, urlsplit

from ansible_collections.dockyard.registry.plugins.module_utils._oci import bearer
from ansible_collections.dockyard.registry.plugins.module_utils._oci.client import (
    TransportError,
    add_query,
    display_url,
    origin_of,
)
from ansible_collections.dockyard.registry.plugins.module_utils._oci.image import parse_manifest, sha256_digest
from ansible_collections.dockyard.registry.plugins.module_utils._oci.spec import (
    API_VERSION,
    API_VERSION_HEADER,
    BODY_EXCERPT,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    OCTET_STREAM,
    _BLOCK,
    wrong_password,
)


class CheckFailed(Exception):
    """A check did not pass. ``result`` holds what was measured up to the failure."""

    def __init__(self, message, result=None):
        super().__init__(message)
        self.message = message
        self.result = result if result is not None else {}


def _excerpt(body):
    if not body:
        return "(empty body)"
    text = body[:BODY_EXCERPT].decode("utf-8", "replace")
    text = " ".join(text.split())
    return text + (" ..." if len(body) > BODY_EXCERPT else "")


class _Checker:
    def __init__(self, client, image, opts, result, warnings):
        self.client = client
        self.image = image
        self.opts = opts
        self.result = result
        self.warnings = warnings
        self.repo = opts["repository"]
        self.wrote = False
        self._location_checked = False

    # -- helpers ---------------------------------------------------------------------------

    def _absolute(self, url):
        return url if "://" in url else self.client.url(url)

    def _origin_hint(self, url):
        """Why a URL the registry handed out points somewhere else than ``url`` (proxy headers)."""
        scheme, host, port = origin_of(url)
        if (scheme, host, port) == self.client.origin or host != self.client.host:
            return ""
        if scheme != self.client.scheme:
            return (" (the registry built a %s:// URL while url is %s://: behind nginx pass "
                    "'proxy_set_header X-Forwarded-Proto $scheme', or set the registry's http.relativeurls)"
                    % (scheme, self.client.scheme))
        return (" (the registry built a URL for %s while url is %s: behind nginx pass "
                "'proxy_set_header Host $http_host' so the port is kept, or set the registry's http.relativeurls)"
                % (urlsplit(url).netloc, self.client.netloc))

    def _call(self, step, method, url, **kwargs):
        try:
            return self.client.request(method, url, **kwargs)
        except TransportError as exc:
            requested = self._absolute(url)
            failed = exc.url or requested
            where = display_url(requested, self.client.origin)
            hint = self._origin_hint(failed)
            if failed != requested:
                where += " (redirected to %s)" % display_url(failed, self.client.origin)
                if origin_of(failed) != self.client.origin and not hint:
                    hint = ("; with storage redirects enabled every client must reach the storage endpoint "
                            "itself (or set the registry's storage.redirect.disable)")
            raise CheckFailed("%s: %s %s %s%s" % (step, method, where, exc, hint)) from None

    def _fail(self, step, response, expected, note=""):
        where = display_url(response.requested or response.url, self.client.origin)
        if response.redirects:
            where += " (redirected to %s)" % display_url(response.url, self.client.origin)
        raise CheckFailed("%s: %s %s returned HTTP %d %s, expected %s%s%s; body: %s" % (
            step, response.method, where, response.status, response.reason, expected, note,
            self._origin_hint(response.url), _excerpt(response.body)))

    def _expect(self, step, response, *statuses, note=""):
        if response.status not in statuses:
            self._fail(step, response, " or ".join(str(s) for s in statuses), note)
        return response

    def _blob_path(self, digest):
        return "/v2/%s/blobs/%s" % (self.repo, digest)

    def _manifest_path(self, reference):
        return "/v2/%s/manifests/%s" % (self.repo, reference)

    def _location(self, step, response):
        location = response.header("Location")
        if not location:
            raise CheckFailed("%s: %s %s returned HTTP %d without a Location header" % (
                step, response.method, display_url(response.url, self.client.origin), response.status))
        absolute = urljoin(response.url, location)
        if not self._location_checked:
            self._location_checked = True
            relative = "://" not in location
            self.result["push"]["upload_location"] = "relative" if relative else "absolute"
            if not relative and origin_of(absolute) != self.client.origin:
                self.warnings.append(
                    "the registry returned an upload Location on %s while url is %s; if that is the same "
                    "registry, nginx must pass 'proxy_set_header Host $http_host' (or set the registry's "
                    "http.relativeurls)" % (urlsplit(absolute).netloc, self.client.netloc))
        return absolute

    # -- auth ------------------------------------------------------------------------------

    def auth(self, details):
        opts = self.opts
        resp = self._call("auth", "GET", "/v2/", auth=False)
        details["unauthenticated_status"] = resp.status
        details["api_version"] = resp.header(API_VERSION_HEADER)
        details["challenge"] = resp.header("WWW-Authenticate")
        if opts["expect_unauthenticated_401"]:
            if resp.status != 401:
                self._fail("auth: without credentials", resp, "401",
                           " (anonymous users must be refused)" if resp.status == 200 else "")
            if details["api_version"] != API_VERSION:
                found = ("has no %s header" % API_VERSION_HEADER if details["api_version"] is None
                         else "carries %s: %r" % (API_VERSION_HEADER, details["api_version"]))
                raise CheckFailed(
                    "auth: the 401 answer to GET /v2/ without credentials %s, expected %r (docker clients "
                    "need it on 401 answers too; nginx: add_header %s %s always)"
                    % (found, API_VERSION, API_VERSION_HEADER, API_VERSION))
            scheme, params = bearer.parse_challenge(details["challenge"])
            details["auth_scheme"] = scheme
            if scheme not in ("basic", "bearer"):
                raise CheckFailed(
                    "auth: the 401 answer to GET /v2/ without credentials challenges with WWW-Authenticate: %r, "
                    "expected a Basic challenge or a Bearer challenge of the token protocol" % (details["challenge"],))
            if scheme == "bearer" and not (params.get("realm") and params.get("service")):
                raise CheckFailed(
                    "auth: the Bearer challenge %r names no realm or no service (the token endpoint and the "
                    "audience clients must ask a token for)" % (details["challenge"],))
            if self.client.username is not None:
                resp = self._call("auth", "GET", "/v2/", auth=(self.client.username, wrong_password(opts["password"])))
                details["wrong_password_status"] = resp.status
                if resp.status != 401:
                    self._fail("auth: with a wrong password for user %r" % self.client.username, resp, "401",
                               " (the proxy accepted a wrong password)" if resp.status == 200 else "")
        if self.client.username is None:
            if not opts["expect_unauthenticated_401"]:
                self._expect("auth: without credentials", resp, 200)
            return
        resp = self._call("auth", "GET", "/v2/")
        details["authenticated_status"] = resp.status
        details["authenticated_api_version"] = resp.header(API_VERSION_HEADER)
        self._expect("auth: with the credentials of user %r" % self.client.username, resp, 200)

    # -- push ------------------------------------------------------------------------------

    def push(self, details):
        details["blobs"] = []
        details["bytes_pushed"] = 0
        count = len(self.image.layers)
        for index, blob in enumerate(self.image.blobs):
            label = "layer %d/%d" % (index + 1, count) if index < count else "config"
            entry = {"kind": "layer" if index < count else "config", "digest": blob.digest,
                     "size": blob.size, "media_type": blob.media_type}
            details["blobs"].append(entry)
            self._push_blob("push: %s %s (%d bytes)" % (label, blob.digest, blob.size), blob, entry)
            details["bytes_pushed"] += entry.get("bytes_sent", 0)
        step = "push: manifest %s as tag %r" % (self.image.manifest_digest, self.opts["tag"])
        self.wrote = True
        resp = self._call(step, "PUT", self._manifest_path(self.opts["tag"]), body=self.image.manifest,
                          headers={"Content-Type": self.image.media_type})
        details["manifest_status"] = resp.status
        self._expect(step, resp, 201)
        returned = resp.header("Docker-Content-Digest")
        details["manifest_digest"] = self.image.manifest_digest
        details["manifest_digest_returned"] = returned
        if returned is not None and returned != self.image.manifest_digest:
            raise CheckFailed("%s: the registry stored it as %s (Docker-Content-Digest), expected %s"
                              % (step, returned, self.image.manifest_digest))

    def _push_blob(self, step, blob, entry):
        opts = self.opts
        resp = self._call(step, "HEAD", self._blob_path(blob.digest), follow_redirects=True)
        entry["head_status"] = resp.status
        if resp.status == 200:
            entry["action"] = "exists"
            return
        self._expect(step + " existence check", resp, 200, 404)
        self.wrote = True
        path = "/v2/%s/blobs/uploads/" % self.repo
        if opts["mount_from"]:
            path += "?" + urlencode({"mount": blob.digest, "from": opts["mount_from"]})
        resp = self._call(step, "POST", path, headers={"Content-Length": "0"})
        if resp.status == 201 and opts["mount_from"]:
            entry["action"] = "mounted"
            entry["status"] = resp.status
            return
        self._expect(step + " upload start", resp, 202)
        location = self._location(step + " upload start", resp)
        chunks = 0
        if opts["upload"] == "chunked":
            offset = 0
            total = -(-blob.size // opts["chunk_size"])
            for chunk in blob.chunks(opts["chunk_size"]):
                chunks += 1
                end = offset + len(chunk) - 1
                sub = "%s chunk %d/%d (bytes %d-%d)" % (step, chunks, total, offset, end)
                resp = self._call(sub, "PATCH", location, body=chunk, headers={
                    "Content-Type": OCTET_STREAM, "Content-Range": "%d-%d" % (offset, end),
                    "Content-Length": str(len(chunk))})
                self._expect(sub, resp, 202)
                acknowledged = (resp.header("Range") or "").strip()
                if acknowledged.startswith("bytes="):
                    acknowledged = acknowledged[len("bytes="):]
                if acknowledged and acknowledged != "0-%d" % end:
                    raise CheckFailed("%s: PATCH %s: the registry acknowledged Range %s after %d bytes were sent "
                                      "(expected 0-%d)" % (sub, display_url(location, self.client.origin),
                                                           acknowledged, end + 1, end))
                location = self._location(sub, resp)
                offset = end + 1
            resp = self._call(step + " upload commit", "PUT", add_query(location, digest=blob.digest),
                              headers={"Content-Type": OCTET_STREAM, "Content-Length": "0"})
        else:
            chunks = 1
            resp = self._call(step + " monolithic upload", "PUT", add_query(location, digest=blob.digest),
                              body=lambda: blob.chunks(_BLOCK),
                              headers={"Content-Type": OCTET_STREAM, "Content-Length": str(blob.size)})
        entry["status"] = resp.status
        self._expect(step + " upload commit", resp, 201)
        returned = resp.header("Docker-Content-Digest")
        if returned is not None and returned != blob.digest:
            raise CheckFailed("%s: the registry stored the blob as %s (Docker-Content-Digest), expected %s"
                              % (step, returned, blob.digest))
        entry["action"] = "uploaded"
        entry["requests"] = chunks
        entry["bytes_sent"] = blob.size

    # -- pull ------------------------------------------------------------------------------

    def pull(self, details):
        tag = self.opts["tag"]
        step = "pull: manifest of tag %r" % tag
        resp = self._call(step, "GET", self._manifest_path(tag), headers={
            "Accept": ", ".join((DOCKER_MANIFEST, OCI_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX))})
        details["manifest_status"] = resp.status
        note = ""
        if resp.status == 404 and "push" not in self.opts["checks"]:
            note = " (pull without push reads what an earlier push made: give it that run's seed and tag)"
        self._expect(step, resp, 200, note=note)
        body_digest = sha256_digest(resp.body)
        header_digest = resp.header("Docker-Content-Digest")
        details["manifest_digest"] = body_digest
        details["manifest_media_type"] = (resp.header("Content-Type") or "").split(";")[0].strip()
        if header_digest is not None and header_digest != body_digest:
            raise CheckFailed("%s: Docker-Content-Digest says %s but the manifest bytes hash to %s"
                              % (step, header_digest, body_digest))
        if body_digest != self.image.manifest_digest:
            raise CheckFailed(
                "%s: the tag points at manifest %s, expected %s (the image generated from seed %r; was the tag "
                "pushed with another seed, layers or format, or overwritten since?)"
                % (step, body_digest, self.image.manifest_digest, self.opts["seed"]))
        try:
            manifest = parse_manifest(resp.body)
        except ValueError as exc:
            raise CheckFailed("%s: %s" % (step, exc)) from None
        details["blobs"] = []
        details["bytes_pulled"] = 0
        descriptors = [("layer %d/%d" % (i + 1, len(manifest["layers"])), d) for i, d in enumerate(manifest["layers"])]
        descriptors.append(("config", manifest["config"]))
        for label, desc in descriptors:
            entry = {"digest": desc["digest"], "size": desc["size"]}
            details["blobs"].append(entry)
            self._pull_blob("pull: %s %s (%d bytes)" % (label, desc["digest"], desc["size"]), desc, entry)
            details["bytes_pulled"] += entry["bytes"]

    def _pull_blob(self, step, desc, entry):
        digest = hashlib.sha256()
        received = [0]

        def sink(piece):
            digest.update(piece)
            received[0] += len(piece)

        resp = self._call(step, "GET", self._blob_path(desc["digest"]), follow_redirects=True, sink=sink)
        entry["status"] = resp.status
        entry["redirected"] = bool(resp.redirects)
        if resp.redirects:
            entry["served_by"] = urlsplit(resp.url).netloc.rsplit("@", 1)[-1]
        if resp.status != 200:
            self._fail(step, resp, "200")
        entry["bytes"] = received[0]
        got = "sha256:" + digest.hexdigest()
        if received[0] != desc["size"] or got != desc["digest"]:
            raise CheckFailed("%s: received %d bytes hashing to %s from %s, expected %d bytes with digest %s"
                              % (step, received[0], got, display_url(resp.url, self.client.origin),
                                 desc["size"], desc["digest"]))

    # -- delete ----------------------------------------------------------------------------

    def delete(self, details):
        digest = self.image.manifest_digest
        step = "delete: manifest %s" % digest
        resp = self._call(step, "DELETE", self._manifest_path(digest))
        details["status"] = resp.status
        details["manifest_digest"] = digest
        if resp.status == 405:
            details["deleted"] = False
            details["supported"] = False
            self.warnings.append("delete: the registry refuses deletes (HTTP 405, storage.delete.enabled is "
                                 "false); manifest %s stays in %s" % (digest, self.repo))
            return
        self._expect(step, resp, 202, 405)
        self.wrote = True
        details["deleted"] = True
        details["supported"] = True
        resp = self._call(step, "HEAD", self._manifest_path(self.opts["tag"]), headers={
            "Accept": ", ".join((DOCKER_MANIFEST, OCI_MANIFEST))})
        details["tag_status_after"] = resp.status
