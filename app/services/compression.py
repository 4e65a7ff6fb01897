"""Bounded decompression of request bodies (agents send gzip or zlib)."""

import zlib

WBITS = {"gzip": zlib.MAX_WBITS | 16, "zlib": zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class CorruptBody(ValueError):
    pass


class BodyTooLarge(ValueError):
    pass


def inflate(raw: bytes, encoding: str, limit: int) -> bytes:
    """Decompress at most `limit` bytes: a small bomb never becomes a big buffer."""
    inflater = zlib.decompressobj(WBITS[encoding])
    try:
        data = inflater.decompress(raw, limit + 1)
    except zlib.error:
        raise CorruptBody(encoding) from None
    if len(data) > limit or inflater.unconsumed_tail:
        raise BodyTooLarge(limit)
    return data
