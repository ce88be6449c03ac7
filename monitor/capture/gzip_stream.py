"""Streamed gzip decompression that keeps every byte decoded before damage."""

from __future__ import annotations

import zlib
from typing import BinaryIO


class GzipStream:
    """Decompresses gzip data (one or more members) from a binary stream, as ``read(n)``.

    Unlike :class:`gzip.GzipFile` it hands out every byte that decodes before damage (a
    cut-short or corrupt stream): the error is raised by the next ``read`` instead. zlib
    raises without returning what the failing call decoded, so each call gets at most
    ``FEED`` compressed bytes and a copy of the decoder's state; when a call fails, the
    copy decodes the same bytes again one at a time up to the damage. (Deflate data that
    is damaged may still decode, to garbage, until the member's CRC check fails at its
    end: the capture reader then usually stops first, at a record it cannot believe.)
    """

    IN_CHUNK = 256 * 1024  # compressed bytes read from the file at a time
    FEED = 64 * 1024  # compressed bytes per decompress call

    def __init__(self, fobj: BinaryIO, prefix: bytes = b"") -> None:
        self.fobj = fobj
        self._input = prefix  # compressed bytes not given to zlib yet
        self._z = zlib.decompressobj(wbits=31)
        self._out = b""  # decoded bytes not handed out yet
        self._error: Exception | None = None
        self._ended = False

    def read(self, n: int) -> bytes:
        """Up to ``n`` decompressed bytes; b"" at the end; raises at damage once drained."""
        parts: list[bytes] = []
        have = 0
        while have < n:
            if self._out:
                piece, self._out = self._out[: n - have], self._out[n - have :]
                parts.append(piece)
                have += len(piece)
                continue
            if self._ended:
                break
            if self._error is not None:
                if parts:
                    break
                error, self._error, self._ended = self._error, None, True
                raise error
            try:
                self._out = self._decode(n - have)
            except (zlib.error, EOFError) as exc:
                self._error = exc
        return b"".join(parts)

    def _decode(self, limit: int) -> bytes:
        z = self._z
        if z.eof:  # a member ended: another may follow
            self._input = z.unused_data + self._input
            data = self._take()
            if not data:
                self._ended = True
                return b""
            self._z = z = zlib.decompressobj(wbits=31)
        else:
            data = z.unconsumed_tail or self._take()
            if not data:
                raise EOFError("compressed file ended before the end-of-stream marker")
        saved = z.copy()
        try:
            return z.decompress(data, limit)
        except zlib.error as exc:
            self._z = saved
            return self._salvage(saved, data, exc)

    def _salvage(self, z: zlib._Decompress, data: bytes, error: zlib.error) -> bytes:
        """What ``data`` decodes to up to the byte where decoding fails; the error is
        raised by a later ``read``."""
        parts = []
        for i in range(len(data)):
            try:
                parts.append(z.decompress(data[i : i + 1]))
            except zlib.error as exc:
                error = exc
                break
        self._error = error
        return b"".join(parts)

    def _take(self) -> bytes:
        """The next at most FEED compressed bytes (b"" at the end of the file)."""
        if not self._input:
            self._input = self.fobj.read(self.IN_CHUNK)
        data, self._input = self._input[: self.FEED], self._input[self.FEED :]
        return data
