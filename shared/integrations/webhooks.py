"""The outbound webhook client (Teams Workflows, Slack, Standard Webhooks receivers), SSRF-safe.

A webhook URL is typed in by a user, so every delivery is treated as a request into the unknown:

* only ``https`` (``http`` too with ``allow_private``, for a receiver on the same network);
  no credentials in the URL;
* the host is resolved first, and the delivery is refused — before any connection — when ANY
  address it resolves to is loopback, private, link-local (169.254.169.254, the cloud metadata
  service), multicast, reserved, unspecified, carrier-grade NAT (100.64.0.0/10) or not globally
  routable, including such IPv4 addresses inside IPv4-mapped, NAT64, 6to4 and Teredo IPv6
  addresses; ``allow_private`` lifts this for a deliberate on-premises receiver;
* the connection goes to the checked address itself (the IP in the URL, the original host name
  in ``Host``, in TLS SNI and in certificate verification), so DNS answering differently between
  the check and the connection (rebinding) cannot redirect it;
* redirects are never followed, proxies from the environment are ignored, the whole exchange
  has one deadline and at most ``max_response_bytes`` of the answer are read.

Errors never quote the URL (Teams and Slack webhook URLs are secrets): only the host.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import ssl
from dataclasses import dataclass

import httpx

from shared.integrations.http import retry_after as parse_retry_after
from shared.integrations.identity import ssl_context

log = logging.getLogger("hunter.integrations.webhooks")

USER_AGENT = "Hunter-Webhooks/1"
MAX_DETAIL = 200
MAX_ADDRESSES = 4  # addresses of one host tried in turn when a connection is refused or unreachable
_DROPPED_HEADERS = {"host", "content-length", "transfer-encoding", "connection"}
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # well-known NAT64 prefix: judged by the IPv4 address inside
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")  # local-use NAT64 (RFC 8215): a private network

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class DeliveryError(Exception):
    """A webhook delivery that did not get a 2xx answer.

    ``status`` is the HTTP status (None when there was no answer), ``retryable`` says a later
    attempt may succeed (timeouts, connection errors, 408, 429, 5xx), ``gone`` is a 410 (the
    receiver asks to be removed), ``retry_after`` the seconds its ``Retry-After`` asked for, and
    ``detail`` a short reason (at most 200 characters of the answer, never the URL)."""

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        gone: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.retryable = retryable
        self.gone = gone
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return (
            f"DeliveryError(status={self.status!r}, retryable={self.retryable!r}, gone={self.gone!r}, "
            f"detail={self.detail!r})"
        )


# -- addresses -------------------------------------------------------------------------------------


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (mapped, NAT64, 6to4, Teredo)."""
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address in _NAT64:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    return found


def address_problem(address: IPAddress) -> str | None:
    """Why ``address`` is not a public internet address (None when it is one)."""
    if isinstance(address, ipaddress.IPv6Address):
        for inner in _embedded_ipv4(address):
            problem = address_problem(inner)
            if problem:
                return f"{problem} (inside the IPv6 address {address})"
        if address in _LOCAL_NAT64:
            return "private (local-use NAT64)"
        if address.ipv4_mapped is not None or address in _NAT64:
            return None  # a public IPv4 address written as IPv6; the IPv6 flags would call it private
    checks = (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local (cloud metadata lives here)"),
        (address.is_multicast, "multicast"),
        (isinstance(address, ipaddress.IPv4Address) and address in _CGNAT, "carrier-grade NAT (100.64.0.0/10)"),
        (address.is_private, "private"),
        (address.is_reserved, "reserved"),
        (not address.is_global, "not globally routable"),
    )
    return next((reason for failed, reason in checks if failed), None)


def _parse_address(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


async def _resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, in the resolver's order, without duplicates."""
    if _parse_address(host) is not None:
        return [host]
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise DeliveryError(f"cannot resolve {host}: {exc}"[:MAX_DETAIL], retryable=True) from exc
    addresses: list[str] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = str(sockaddr[0]).split("%", 1)[0]
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise DeliveryError(f"{host} resolves to no address", retryable=True)
    return addresses


def _check_addresses(host: str, addresses: list[str], *, allow_private: bool) -> None:
    for text in addresses:
        address = _parse_address(text)
        if address is None:
            raise DeliveryError(f"{host} resolved to something that is not an IP address")
        problem = None if allow_private else address_problem(address)
        if problem:
            shown = host if host == text else f"{host} ({text})"
            raise DeliveryError(f"refused: {shown} is a {problem} address; only public receivers are allowed")


# -- the request -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    url: httpx.URL
    host: str  # ASCII (IDNA) host name or IP literal, no brackets
    port: int
    host_header: str


def _target(url: str, *, allow_private: bool) -> _Target:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise DeliveryError("refused: not a valid URL") from exc
    schemes = ("https", "http") if allow_private else ("https",)
    if parsed.scheme not in schemes:
        allowed = " or ".join(schemes)
        raise DeliveryError(f"refused: the URL scheme must be {allowed}, not {parsed.scheme or 'none'!r}")
    if parsed.userinfo:
        raise DeliveryError("refused: credentials in the URL are not allowed")
    host = parsed.raw_host.decode("ascii").strip("[]")
    if not host:
        raise DeliveryError("refused: the URL has no host")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return _Target(parsed.copy_with(fragment=None), host, port, parsed.netloc.decode("ascii"))


def _snippet(data: bytes, limit: int = MAX_DETAIL) -> str:
    text = " ".join(data[: limit * 4].decode("utf-8", errors="replace").split())
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return text[:limit]


def _root_cause(exc: BaseException) -> BaseException:
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        nxt = exc.__cause__ or exc.__context__
        if nxt is None:
            break
        exc = nxt
    return exc


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    """At most ``limit`` bytes of the (undecoded) answer; the rest is never read."""
    if limit <= 0:
        return b""
    chunks: list[bytes] = []
    size = 0
    stream = response.aiter_raw()
    try:
        async for chunk in stream:
            chunk = chunk[: limit - size]
            chunks.append(chunk)
            size += len(chunk)
            if size >= limit:
                break
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    return b"".join(chunks)


def _error_for(response: httpx.Response, content: bytes) -> DeliveryError:
    status = response.status_code
    wait = parse_retry_after(response.headers, 0.0) if "retry-after" in response.headers else None
    identity = response.headers.get("content-encoding", "identity").lower() in ("", "identity")
    said = _snippet(content) if identity else ""
    if 300 <= status < 400:
        try:  # the host only: a relative or full Location may repeat the secret path of the webhook
            host = httpx.URL(response.headers.get("location", "")).host
        except (httpx.InvalidURL, ValueError):
            host = ""
        where = f" to {_snippet(host.encode(), 100)}" if host else ""
        return DeliveryError(f"HTTP {status}: redirect{where} refused (redirects are not followed)", status=status)
    if status == 410:
        return DeliveryError(f"HTTP 410: the receiver is gone {said}".strip()[:MAX_DETAIL], status=status, gone=True)
    retryable = status in (408, 429) or 500 <= status <= 599
    detail = f"HTTP {status}: {said}" if said else f"HTTP {status}"
    return DeliveryError(detail[:MAX_DETAIL], status=status, retryable=retryable, retry_after=wait)


async def _exchange(
    target: _Target,
    address: str,
    body: bytes,
    headers: dict[str, str],
    *,
    remaining: float,
    max_response_bytes: int,
) -> int:
    """One POST to ``address`` (already checked) on behalf of ``target``'s host, within ``remaining`` s.

    httpx's own connect timeout ends a stalled connect or TLS handshake a little before the overall
    deadline: cancelling httpcore in the middle of a handshake would leave its socket open."""
    outgoing = {
        "User-Agent": USER_AGENT,
        "Content-Type": "application/json",
        "Accept-Encoding": "identity",
    }
    for name, value in headers.items():
        if name.lower() not in _DROPPED_HEADERS:
            matching = [key for key in outgoing if key.lower() == name.lower()]
            for key in matching:
                del outgoing[key]
            outgoing[name] = value
    outgoing["Host"] = target.host_header
    async with httpx.AsyncClient(
        verify=ssl_context(),
        trust_env=False,  # no proxy from the environment: the connection must go to the checked address
        follow_redirects=False,
        timeout=httpx.Timeout(remaining, connect=max(remaining * 0.9, 0.001)),
    ) as client:
        request = client.build_request(
            "POST",
            target.url.copy_with(host=address),
            content=body,
            headers=outgoing,
            extensions={"sni_hostname": target.host},
        )
        response = await client.send(request, stream=True, follow_redirects=False)
        try:
            content = await _read_capped(response, max_response_bytes)
        finally:
            await response.aclose()
    if 200 <= response.status_code < 300:
        return response.status_code
    raise _error_for(response, content)


def _connect_error(host: str, exc: httpx.ConnectError) -> tuple[DeliveryError, bool]:
    """The error for a failed connection, and whether the host's next address is worth trying
    (only when the connection itself failed: a TLS failure would fail the same way there)."""
    cause = _root_cause(exc)
    if isinstance(cause, ssl.SSLCertVerificationError):
        reason = getattr(cause, "verify_message", None) or "verification failed"
        return DeliveryError(f"TLS certificate of {host} refused: {reason}"[:MAX_DETAIL]), False
    if isinstance(cause, ssl.SSLError):
        return DeliveryError(f"TLS with {host} failed: {cause}"[:MAX_DETAIL], retryable=True), False
    return DeliveryError(f"cannot connect to {host}: {cause}"[:MAX_DETAIL], retryable=True), True


async def post_json(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    allow_private: bool,
    timeout: float = 10.0,
    max_response_bytes: int = 65536,
) -> int:
    """POST ``body`` (JSON bytes) to ``url``; the 2xx status, or :class:`DeliveryError`.

    ``timeout`` bounds everything (name resolution, connecting, TLS, sending, the answer)."""
    if timeout <= 0:
        raise ValueError("timeout must be more than 0 seconds")
    target = _target(url, allow_private=allow_private)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        async with asyncio.timeout_at(deadline):
            addresses = await _resolve(target.host, target.port)
            _check_addresses(target.host, addresses, allow_private=allow_private)
            last: DeliveryError | None = None
            for address in addresses[:MAX_ADDRESSES]:
                try:
                    return await _exchange(
                        target,
                        address,
                        bytes(body),
                        headers,
                        remaining=max(deadline - loop.time(), 0.001),
                        max_response_bytes=max_response_bytes,
                    )
                except httpx.ConnectError as exc:
                    last, next_address = _connect_error(target.host, exc)
                    if not next_address:
                        raise last from exc
                    log.debug("webhook: no connection to %s at %s: %s", target.host, address, last.detail)
            raise last or DeliveryError(f"cannot connect to {target.host}", retryable=True)
    except TimeoutError as exc:
        raise DeliveryError(f"no answer from {target.host} within {timeout:g} s", retryable=True) from exc
    except httpx.TimeoutException as exc:
        raise DeliveryError(f"no answer from {target.host} within {timeout:g} s", retryable=True) from exc
    except (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.InvalidURL, UnicodeError) as exc:
        # not the exception's text: it may quote a header value (an Authorization header is a secret)
        raise DeliveryError(f"refused: the request to {target.host} is not valid HTTP ({type(exc).__name__})") from exc
    except httpx.TransportError as exc:  # read/write errors, the receiver breaking the protocol
        detail = f"{type(exc).__name__} talking to {target.host}: {_root_cause(exc)}"
        raise DeliveryError(detail[:MAX_DETAIL], retryable=True) from exc
