"""Bounded decompression of request bodies (agents send gzip or zlib).

ISA-L's inflate (isal), not the stdlib zlib: the same formats and API at about twice
the speed, and every heartbeat of the original desktop app inflates ~90 KB."""

from isal import isal_zlib

WBITS = {"gzip": isal_zlib.MAX_WBITS | 16, "zlib": isal_zlib.MAX_WBITS, "deflate": isal_zlib.MAX_WBITS}


class CorruptBody(ValueError):
    pass


class BodyTooLarge(ValueError):
    pass


def inflate(raw: bytes, encoding: str, limit: int) -> bytes:
    """Decompress at most `limit` bytes: a small bomb never becomes a big buffer."""
    inflater = isal_zlib.decompressobj(WBITS[encoding])
    try:
        data = inflater.decompress(raw, limit + 1)
    except isal_zlib.error:
        raise CorruptBody(encoding) from None
    if len(data) > limit or inflater.unconsumed_tail:
        raise BodyTooLarge(limit)
    return data
