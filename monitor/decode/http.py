"""HTTP/1.x and RTSP message heads: request line or status line, headers, body prefix.

Parsed heads are remembered by their payload (``MEMO_SIZE`` of each kind, payloads up to
``MEMO_MAX_BYTES``): RTSP keep-alives, SSDP announcements and device polling repeat the
same bytes (on the bench capture 78 % of the request heads and 56 % of the responses are
repeats). A result may thus be shared between callers, who only read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from monitor.decode.dns import normalize_name

HTTP_METHODS = frozenset(
    {
        "GET",
        "POST",
        "PUT",
        "DELETE",
        "HEAD",
        "OPTIONS",
        "PATCH",
        "CONNECT",
        "TRACE",
        "M-SEARCH",  # SSDP
        "NOTIFY",  # SSDP, GENA
        "SUBSCRIBE",  # GENA
        "UNSUBSCRIBE",
        "M-POST",  # UPnP SOAP with mandatory extension
    }
)
RTSP_METHODS = frozenset(
    {
        "OPTIONS",
        "DESCRIBE",
        "SETUP",
        "PLAY",
        "PAUSE",
        "TEARDOWN",
        "ANNOUNCE",
        "RECORD",
        "GET_PARAMETER",
        "SET_PARAMETER",
        "REDIRECT",
    }
)
_REQUEST_PREFIXES = tuple(sorted(m.encode() + b" " for m in HTTP_METHODS | RTSP_METHODS))
_RESPONSE_PREFIXES = (b"HTTP/", b"RTSP/")
_MAX_HEAD = 16384
_MAX_HEADERS = 100
_MAX_LINE = 8192
MEMO_SIZE = 1024  # parsed heads remembered per kind, least recently used out: <= ~5 MB
MEMO_MAX_BYTES = 2048  # a full segment fits; longer payloads are parsed each time


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """A request head; ``protocol`` is "http" or "rtsp"; ``body`` is what this payload holds."""

    protocol: str
    method: str
    target: str
    version: str
    host: str | None
    user_agent: str | None
    soap_action: str | None
    content_type: str | None
    headers: dict[str, str] = field(hash=False)
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A response head; ``protocol`` is "http" or "rtsp"."""

    protocol: str
    version: str
    status: int
    reason: str
    server: str | None
    www_authenticate: str | None
    content_type: str | None
    headers: dict[str, str] = field(hash=False)
    body: bytes = b""


def _split_head(payload: bytes) -> tuple[list[str], bytes]:
    """Lines of the head (complete lines only) and the body bytes after the blank line."""
    window = payload[:_MAX_HEAD]
    end = window.find(b"\r\n\r\n")
    sep = 4
    bare = window.find(b"\n\n")
    if bare >= 0 and (end < 0 or bare < end):
        end, sep = bare, 2
    if end >= 0:
        head, body = window[:end], payload[end + sep :]
    else:  # head cut by the segment or snaplen: a last partial line would lie
        cut = window.rfind(b"\n")
        head, body = (window[:cut] if cut >= 0 else window), b""
    lines = head.decode("latin-1").split("\n")
    return [line[:-1] if line.endswith("\r") else line for line in lines], body


def _headers(lines: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    last = ""
    for line in lines[:_MAX_HEADERS]:
        if line[:1] in (" ", "\t") and last:  # obsolete line folding
            headers[last] = f"{headers[last]} {line.strip()}"
            continue
        name, colon, value = line.partition(":")
        name = name.strip().lower()
        if not colon or not name or " " in name:
            continue
        value = value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
        last = name
    return headers


def host_without_port(value: str) -> str | None:
    """Normalised host from a Host header or URL authority (port, brackets and userinfo dropped)."""
    value = value.strip().rpartition("@")[2]
    if value.startswith("["):
        close = value.find("]")
        return normalize_name(value[1:close]) if close > 1 else None
    host, colon, port = value.rpartition(":")
    if colon and (_is_digits(port) or not port):
        value = host
    return normalize_name(value)


def _is_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _unquote(value: str | None) -> str | None:
    return value.strip('"') if value is not None else None


def _authority(target: str) -> str | None:
    scheme, sep, rest = target.partition("://")
    if not sep or not scheme.isalpha():
        return None
    return host_without_port(rest.split("/", 1)[0].split("?", 1)[0])


def _protocol(version: str) -> str | None:
    if version.startswith("HTTP/"):
        return "http"
    if version.startswith("RTSP/"):
        return "rtsp"
    return None


def parse_http_request(payload: bytes) -> HttpRequest | None:
    """Parse an HTTP or RTSP request head; None unless the payload starts with a method token."""
    if not payload.startswith(_REQUEST_PREFIXES):
        return None
    if isinstance(payload, bytes) and len(payload) <= MEMO_MAX_BYTES:
        return _request_memo(payload)
    return _parse_request(payload)


def parse_http_response(payload: bytes) -> HttpResponse | None:
    """Parse an HTTP or RTSP response head (``HTTP/1.1 200 OK``); None otherwise."""
    if not payload.startswith(_RESPONSE_PREFIXES):
        return None
    if isinstance(payload, bytes) and len(payload) <= MEMO_MAX_BYTES:
        return _response_memo(payload)
    return _parse_response(payload)


def _parse_request(payload: bytes) -> HttpRequest | None:
    lines, body = _split_head(payload)
    parts = lines[0].split() if len(lines[0]) <= _MAX_LINE else []
    if len(parts) != 3:
        return None
    method, target, version = parts
    protocol = _protocol(version)
    if protocol is None or method not in (HTTP_METHODS if protocol == "http" else RTSP_METHODS):
        return None
    headers = _headers(lines[1:])
    raw_host = headers.get("host")
    host = host_without_port(raw_host) if raw_host else _authority(target)
    return HttpRequest(
        protocol=protocol,
        method=method,
        target=target,
        version=version,
        host=host,
        user_agent=headers.get("user-agent"),
        soap_action=_unquote(headers.get("soapaction")),
        content_type=headers.get("content-type"),
        headers=headers,
        body=body,
    )


def _parse_response(payload: bytes) -> HttpResponse | None:
    lines, body = _split_head(payload)
    parts = lines[0].split(None, 2) if len(lines[0]) <= _MAX_LINE else []
    if len(parts) < 2 or len(parts[1]) != 3 or not _is_digits(parts[1]):
        return None
    protocol = _protocol(parts[0])
    if protocol is None:
        return None
    headers = _headers(lines[1:])
    return HttpResponse(
        protocol=protocol,
        version=parts[0],
        status=int(parts[1]),
        reason=parts[2] if len(parts) > 2 else "",
        server=headers.get("server"),
        www_authenticate=headers.get("www-authenticate"),
        content_type=headers.get("content-type"),
        headers=headers,
        body=body,
    )


_request_memo = lru_cache(maxsize=MEMO_SIZE)(_parse_request)
_response_memo = lru_cache(maxsize=MEMO_SIZE)(_parse_response)
