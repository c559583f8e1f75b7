"""A small OCI distribution API v2 client: catalog, tags, manifests and verified blobs.

Every request retries with exponential backoff on 429, 5xx and dropped connections; blob
downloads resume with ``Range`` where the registry allows it; every body is bounded (a blob by
its declared size).

One setting, ``timeout`` (``LEAKSCAN_REGISTRY_TIMEOUT``, read by the CLI), bounds time twice:
each connect and each read waits at most ``timeout`` seconds; each answer's headers must be
in within ``2 * timeout`` (:mod:`.watchdog`), and its body complete by a deadline counted
from them: ``2 * timeout`` for manifests, lists and
tokens, plus one second per :data:`MIN_RATE` bytes of its declared size for a blob (a
registry trickling a byte every few seconds is cut off, not waited for). The clock is
injectable.
"""

from __future__ import annotations

import hashlib
import io
import ipaddress
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, cast
from urllib.parse import urljoin, urlparse

import requests
import urllib3

from leakscan.sources.image.interface import ImageError
from leakscan.sources.registry import retry as _retry
from leakscan.sources.registry.auth import RegistryAuth, RegistryAuthError
from leakscan.sources.registry.body import bounded_body
from leakscan.sources.registry.fast import AGAIN, FastTransport
from leakscan.sources.registry.session import RegistrySession
from leakscan.sources.registry.watchdog import guard_session, headers_deadline

log = logging.getLogger(__name__)

__all__ = ["MANIFEST_TYPES", "Manifest", "RegistryClient", "RegistryError"]

MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
MAX_LIST_BYTES = 16 * 1024 * 1024
DEFAULT_TIMEOUT = 30.0
#: the slowest transfer a blob is given time for, in bytes per second (its deadline)
MIN_RATE = 64 * 1024
MAX_REDIRECTS = 10
_RETRY_STATUS = {429, 500, 502, 503, 504}
_DROPPED = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    urllib3.exceptions.ProtocolError,
    urllib3.exceptions.ReadTimeoutError,
)


class RegistryError(ImageError):
    """The registry refused, failed or answered something unusable."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Manifest:
    data: bytes
    media_type: str
    digest: str


def _digest_ok(digest: str) -> bool:
    return re.fullmatch(r"sha256:[0-9a-f]{64}", digest) is not None


class RegistryClient:
    """One registry host. ``insecure`` allows plain HTTP and unverified TLS.

    Retries follow ``retry`` (:data:`.retry.DEFAULT` when not given); ``retries`` and
    ``backoff`` override its counts. ``clock`` measures deadlines. Up to ``connections``
    connections are kept alive (at least one per thread using the client at once).
    """

    def __init__(
        self,
        registry: str,
        auth: RegistryAuth | None = None,
        *,
        insecure: bool = False,
        retries: int | None = None,
        backoff: float | None = None,
        retry: _retry.RetryPolicy | None = None,
        timeout: float | None = None,
        max_blob_bytes: int = 8 * 1024**3,
        clock: Callable[[], float] = time.monotonic,
        connections: int = 10,
    ) -> None:
        scheme = ""
        if "://" in registry:
            scheme, _, registry = registry.partition("://")
        if "@" in registry.split("/", 1)[0]:  # user:password@host: never echoed
            where = registry.split("/", 1)[0].rsplit("@", 1)[-1]
            raise RegistryError(
                f"{where}: a registry address holds no user name or password; use --username "
                "with --password-stdin, LEAKSCAN_REGISTRY_USERNAME/PASSWORD or docker login"
            )
        self.host = registry.rstrip("/")
        self.auth = auth or RegistryAuth()
        # like docker, a registry on the loopback address may speak plain HTTP or have its own
        # certificate: the same in `scan image` and `audit`
        self.insecure = insecure or is_loopback(self.host)
        insecure = self.insecure
        policy = retry if retry is not None else _retry.DEFAULT
        if retries is not None:
            policy = replace(policy, retries=retries)
        if backoff is not None:
            policy = replace(policy, backoff=backoff)
        self.retry = policy
        self.timeout = timeout if timeout is not None and timeout > 0 else DEFAULT_TIMEOUT
        self.max_blob_bytes = max_blob_bytes
        self.clock = clock
        self.session = RegistrySession()  # proxies read from the environment once per host
        self.session.max_redirects = MAX_REDIRECTS
        # headers get a deadline too (headers_deadline)
        guard_session(self.session, connections)
        self.session.headers["User-Agent"] = "leakscan"
        self._scheme: str | None = scheme or (None if insecure else "https")
        if scheme == "http" and not insecure:
            raise RegistryError(f"{self.host}: plain HTTP needs --insecure")
        if insecure:
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        # manifests, their HEADs and lists: one per tag in an audit, asked without requests
        self.fast = FastTransport(
            verify=not insecure,
            timeout=self.timeout,
            user_agent="leakscan",
            ca_bundle=self.session.ca_bundle,
            proxies=self.session.environ_proxies,
        )

    def __repr__(self) -> str:
        return f"RegistryClient({self.host!r}, insecure={self.insecure})"

    def _tls_hint(self, exc: BaseException) -> str:
        """For a TLS failure on a private address: what usually fixes it."""
        if self.insecure or not isinstance(exc, requests.exceptions.SSLError):
            return ""
        if not is_private(self.host):
            return ""
        return (
            "; a registry on a private address often speaks plain HTTP or has its own "
            "certificate: pass --insecure if you trust it"
        )

    def close(self) -> None:
        self.fast.close()
        self.session.close()

    # -- transport -------------------------------------------------------------------------

    @property
    def base(self) -> str:
        if self._scheme is None:
            self._scheme = self._probe()
        return f"{self._scheme}://{self.host}"

    def _probe(self) -> str:
        """--insecure: HTTPS without verification when the registry speaks it, else HTTP."""
        try:
            self.session.get(f"https://{self.host}/v2/", timeout=self.timeout, verify=False)
            return "https"
        except requests.RequestException:
            return "http"  # a plain-HTTP server may close, refuse or never answer a TLS hello

    def request(
        self,
        method: str,
        path: str,
        scope: str,
        *,
        headers: dict[str, str] | None = None,
        stream: bool = False,
        params: dict[str, Any] | None = None,
        ok: tuple[int, ...] = (200,),
        small: bool = False,
    ) -> requests.Response:
        """A request with auth, retries and backoff; raises RegistryError unless ``ok``.
        ``small``: a short answer read whole (a manifest, a list), asked through
        :class:`.fast.FastTransport` where it can be."""
        url = path if path.startswith(("http://", "https://")) else self.base + path
        small = small and not (self.session.proxies or self.session.cookies)
        attempt = 0
        challenged = False
        while True:
            sent = dict(headers or {})
            sent.update(self.auth.headers(self.host, scope))
            try:
                with headers_deadline(2 * self.timeout) as guard:
                    answer = (
                        self.fast.send(method, url, sent, params)
                        if small and self.fast.usable(url)
                        else AGAIN
                    )
                    resp: Any = answer or self.session.request(
                        method,
                        url,
                        headers=sent,
                        stream=stream,
                        params=params,
                        timeout=self.timeout,
                        verify=not self.insecure,
                    )
                if guard.fired:  # cut at the deadline: what was read is not the answer
                    resp.close()
                    raise self._late(method, url, scope)
            except _DROPPED as exc:
                if guard.fired:
                    raise self._late(method, url, scope) from None
                if attempt >= self.retry.retries:
                    raise RegistryError(
                        f"{self.host}: unreachable ({_why(exc)}){self._tls_hint(exc)}"
                    ) from None
                attempt += 1
                self._sleep(attempt, None)
                continue
            except requests.TooManyRedirects:
                raise RegistryError(
                    f"{self.host}: more than {MAX_REDIRECTS} redirects for {_what(scope)} "
                    f"({method} {urlparse(url).path}): a redirect loop"
                ) from None
            except requests.RequestException as exc:  # a bad redirect target, ...
                raise RegistryError(
                    f"{self.host}: request failed for {_what(scope)} ({type(exc).__name__})"
                ) from None
            if resp.status_code == 401:
                header = resp.headers.get("WWW-Authenticate", "")
                resp.close()
                if header and not challenged:
                    challenged = True
                    if self.auth.challenge(
                        self.session,
                        self.host,
                        scope,
                        header,
                        not self.insecure,
                        self.timeout,
                        self.clock,
                        sent.get("Authorization"),
                    ):
                        continue
                raise RegistryAuthError(
                    f"{self.host}: unauthorized (HTTP 401) for "
                    f"{_what(scope)}; check the credentials"
                )
            if resp.status_code in _RETRY_STATUS and attempt < self.retry.retries:
                attempt += 1
                retry_after = resp.headers.get("Retry-After")
                resp.close()
                self._sleep(attempt, retry_after)
                continue
            if resp.status_code not in ok:
                status = resp.status_code
                code = _error_code(resp)
                resp.close()
                raise RegistryError(
                    f"{self.host}: HTTP {status}{code} for {_what(scope)} "
                    f"({method} {urlparse(url).path})",
                    status,
                )
            return cast(requests.Response, resp)  # or a fast.Answer: the same parts

    def _late(self, method: str, url: str, scope: str) -> RegistryError:
        return RegistryError(
            f"{self.host}: no answer within {2 * self.timeout:g} s for {_what(scope)} "
            f"({method} {urlparse(url).path}; LEAKSCAN_REGISTRY_TIMEOUT)"
        )

    def deadline(self, size: int | None = None) -> float:
        """When an answer's body must be complete (on :attr:`clock`): ``2 * timeout`` from
        now, plus the time ``size`` bytes take at :data:`MIN_RATE`."""
        return self.clock() + 2 * self.timeout + (size or 0) / MIN_RATE

    def _sleep(self, attempt: int, retry_after: str | None) -> None:
        delay = self.retry.delay(attempt, retry_after)
        log.debug("%s: retry %d in %.1fs", self.host, attempt, delay)
        self.retry.sleep(delay)

    # -- catalog and tags ------------------------------------------------------------------

    def ping(self) -> None:
        self.request("GET", "/v2/", "")

    def catalog(self, page_size: int | None = None) -> Iterator[str]:
        """Every repository name, following ``Link`` headers (or ``last``) page by page."""
        yield from self._paged("/v2/_catalog", "registry:catalog:*", "repositories", page_size)

    def tags(self, repo: str, page_size: int | None = None) -> Iterator[str]:
        yield from self._paged(
            f"/v2/{repo}/tags/list", f"repository:{repo}:pull", "tags", page_size
        )

    def tags_and_digests(
        self, repo: str, page_size: int | None = None
    ) -> tuple[list[str], dict[str, str]]:
        """The tags, and the manifest digest of each where the registry lists it beside them
        (Google's registries: a ``manifest`` object, digest -> ``{"tag": [...]}``); a tag
        listed under two digests is left out (asked with a HEAD)."""
        found: dict[str, str] = {}
        twice: set[str] = set()
        tags = list(
            self._paged(
                f"/v2/{repo}/tags/list",
                f"repository:{repo}:pull",
                "tags",
                page_size,
                lambda doc: _listed_digests(doc, found, twice),
            )
        )
        return tags, {t: d for t, d in found.items() if t not in twice}

    def _paged(
        self,
        path: str,
        scope: str,
        key: str,
        page_size: int | None,
        page: Callable[[dict[str, Any]], None] | None = None,
    ) -> Iterator[str]:
        params: dict[str, Any] | None = {"n": page_size} if page_size else None
        url = path
        seen_pages: set[str] = set()
        while True:
            resp = self.request("GET", url, scope, params=params, stream=True, small=True)
            doc = _json(resp, MAX_LIST_BYTES, f"{self.host}{path}", self)
            items = doc.get(key) or []
            if not isinstance(items, list):
                raise RegistryError(f"{self.host}{path}: {key!r} is not a list")
            if page is not None:
                page(doc)
            yield from (str(i) for i in items)
            link = _next_link(resp.headers.get("Link", ""))
            if link:
                url = urljoin(self.base + path, link)
                params = None
            elif page_size and len(items) >= page_size:
                params = {"n": page_size, "last": items[-1]}
                url = path
            else:
                return
            marker = url + repr(params)
            if marker in seen_pages:  # a registry that loops: stop rather than hang
                log.warning("%s: pagination loops at %s; stopping", self.host, url)
                return
            seen_pages.add(marker)

    # -- manifests and blobs ---------------------------------------------------------------

    def manifest(self, repo: str, ref: str) -> Manifest:
        resp = self.request(
            "GET",
            f"/v2/{repo}/manifests/{ref}",
            f"repository:{repo}:pull",
            headers={"Accept": ", ".join(MANIFEST_TYPES)},
            stream=True,
            small=True,
        )
        data = _bounded(resp, MAX_MANIFEST_BYTES, f"manifest {repo}:{ref}", self)
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if ref.startswith("sha256:") and digest != ref:
            raise RegistryError(
                f"{self.host}/{repo}@{ref}: manifest digest mismatch (got {digest})"
            )
        media_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
        return Manifest(data, media_type, digest)

    def head_manifest(self, repo: str, ref: str) -> str | None:
        """The manifest digest a tag points at, without the body (None when not told)."""
        resp = self.request(
            "HEAD",
            f"/v2/{repo}/manifests/{ref}",
            f"repository:{repo}:pull",
            headers={"Accept": ", ".join(MANIFEST_TYPES)},
            small=True,
        )
        digest = resp.headers.get("Docker-Content-Digest")
        return digest if digest and _digest_ok(digest) else None

    def blob(self, repo: str, digest: str, size: int | None = None) -> BlobStream:
        if not _digest_ok(digest):
            raise RegistryError(f"{self.host}/{repo}: unsupported blob digest {digest!r}")
        return BlobStream(self, repo, digest, size)


class BlobStream(io.RawIOBase):
    """A blob's bytes as stored; its sha256 is checked as it is read, its size bounded.

    A dropped connection resumes with ``Range`` (or restarts and skips what was read) up to
    the client's retry count. A wrong digest or size raises :class:`RegistryError` on the read
    that reaches the end.
    """

    def __init__(self, client: RegistryClient, repo: str, digest: str, size: int | None) -> None:
        super().__init__()
        self.client = client
        self.repo = repo
        self.digest = digest
        self.size = size
        self.offset = 0
        self._hash = hashlib.sha256()
        self._resumes = 0
        self._done = False
        self._deadline = 0.0  # set as each answer arrives
        self._seconds = 0.0
        self._resp: requests.Response | None = self._open()

    def _open(self) -> requests.Response:
        headers = {"Range": f"bytes={self.offset}-"} if self.offset else None
        resp = self.client.request(
            "GET",
            f"/v2/{self.repo}/blobs/{self.digest}",
            f"repository:{self.repo}:pull",
            headers=headers,
            stream=True,
            ok=(200, 206),
        )
        limit = self.size if self.size is not None else self.client.max_blob_bytes
        self._deadline = self.client.deadline(max(limit - self.offset, 0))
        self._seconds = self._deadline - self.client.clock()
        if self.offset and resp.status_code == 200:  # no Range support: skip what we have
            left = self.offset
            while left:
                self._check_deadline()
                chunk = resp.raw.read1(min(left, 1 << 20), decode_content=False)
                if not chunk:
                    raise RegistryError(f"{self._where()}: body ended while resuming")
                left -= len(chunk)
        return resp

    def _where(self) -> str:
        return f"{self.client.host}/{self.repo}@{self.digest[:19]}"

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._done or self._resp is None:
            return 0
        while True:
            self._check_deadline()
            try:
                chunk = self._resp.raw.read1(len(view), decode_content=False)
                break
            except _DROPPED as exc:
                self._resp.close()
                if self._resumes >= self.client.retry.retries:
                    raise RegistryError(
                        f"{self._where()}: connection dropped ({_why(exc)})"
                    ) from None
                self._resumes += 1
                log.debug("%s: resuming at byte %d", self._where(), self.offset)
                self.client._sleep(self._resumes, None)
                self._resp = self._open()
        if not chunk:
            self._finish()
            return 0
        self.offset += len(chunk)
        limit = self.size if self.size is not None else self.client.max_blob_bytes
        if self.offset > limit:
            self._close_resp()
            raise RegistryError(
                f"{self._where()}: body longer than "
                f"{'its declared size' if self.size is not None else 'the limit'}"
                f" ({limit} bytes)"
            )
        self._hash.update(chunk)
        n = len(chunk)
        view[:n] = chunk
        return n

    def _check_deadline(self) -> None:
        if self.client.clock() > self._deadline:
            self._close_resp()
            raise RegistryError(
                f"{self._where()}: not complete within {self._seconds:.0f} s "
                f"(at byte {self.offset}; LEAKSCAN_REGISTRY_TIMEOUT)"
            )

    def _finish(self) -> None:
        self._done = True
        self._close_resp()
        if self.size is not None and self.offset != self.size:
            raise RegistryError(
                f"{self._where()}: body ended at {self.offset} of {self.size} bytes"
            )
        got = "sha256:" + self._hash.hexdigest()
        if got != self.digest:
            raise RegistryError(f"{self._where()}: digest mismatch (content is {got[:19]}…)")

    def _close_resp(self) -> None:
        if self._resp is not None:
            self._resp.close()
            self._resp = None

    def close(self) -> None:
        self._close_resp()
        super().close()


def _bounded(resp: requests.Response, limit: int, what: str, client: RegistryClient) -> bytes:
    try:
        data = bounded_body(resp, limit, client.deadline(), client.clock)
    except _DROPPED as exc:
        raise RegistryError(f"{what}: connection dropped ({_why(exc)})") from None
    except TimeoutError:
        raise RegistryError(
            f"{what}: no complete answer within {2 * client.timeout:.0f} s "
            "(LEAKSCAN_REGISTRY_TIMEOUT)"
        ) from None
    if data is None:
        raise RegistryError(f"{what}: body larger than {limit} bytes")
    return data


def _json(resp: requests.Response, limit: int, what: str, client: RegistryClient) -> dict[str, Any]:
    import json

    data = _bounded(resp, limit, what, client)
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        raise RegistryError(f"{what}: the answer is not JSON") from None
    if not isinstance(doc, dict):
        raise RegistryError(f"{what}: the answer is not a JSON object")
    return doc


def _listed_digests(doc: dict[str, Any], found: dict[str, str], twice: set[str]) -> None:
    """Tag -> digest from a tag list's ``manifest`` object, where it has one."""
    listed = doc.get("manifest")
    if not isinstance(listed, dict):
        return
    for digest, info in listed.items():
        names = info.get("tag") if isinstance(info, dict) else None
        if not isinstance(digest, str) or not _digest_ok(digest) or not isinstance(names, list):
            continue
        for name in names:
            if isinstance(name, str):
                if found.setdefault(name, digest) != digest:
                    twice.add(name)


def _next_link(header: str) -> str | None:
    for part in header.split(","):
        m = re.match(r"\s*<([^>]*)>\s*;(.*)", part)
        if m and re.search(r'rel="?next"?', m.group(2)):
            return m.group(1)
    return None


def _error_code(resp: requests.Response) -> str:
    """The registry's error code (``MANIFEST_UNKNOWN``...), from a small JSON body."""
    try:
        data = resp.raw.read(64 * 1024, decode_content=True)
        import json

        errors = json.loads(data).get("errors") or []
        return f" {errors[0]['code']}" if errors else ""
    except Exception:  # best effort for a message
        return ""


def _what(scope: str) -> str:
    if scope.startswith("repository:"):
        return scope.split(":")[1]
    return "the catalog" if scope.startswith("registry:") else "the registry"


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address of ``host[:port]`` when it is written as one (``[::1]:5000`` too)."""
    if host.startswith("["):
        text = host[1:].split("]", 1)[0]
    else:
        text = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ::1, with or without a port."""
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if name.lower() == "localhost":
        return True
    address = _address(host)
    return address is not None and address.is_loopback


def is_private(host: str) -> bool:
    """A loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7) or link-local address,
    or a ``.local`` / ``.internal`` / ``.lan`` name."""
    name = (host.rsplit(":", 1)[0] if host.count(":") == 1 else host).lower()
    if is_loopback(host) or name.endswith((".local", ".internal", ".lan", ".localdomain")):
        return True
    address = _address(host)
    return address is not None and (address.is_private or address.is_link_local)


def _why(exc: BaseException) -> str:
    text = type(exc).__name__
    if "refused" in str(exc).lower():
        text += ": connection refused"
    return text
