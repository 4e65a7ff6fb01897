"""Security headers: what every response tells the browser it may do with it.

Every response gets `X-Content-Type-Options: nosniff` (a JSON answer, a CSV or an upload is never
sniffed into HTML). HTML pages also get a strict Content-Security-Policy (scripts only from our own
files: no inline script, no inline handler, no eval), may not be framed, send the referrer only to
this site, and switch off browser features the app never uses; in production they also pin HTTPS
(HSTS). The README's "Security" section explains each value.

The header values are built once per app; a response only appends them (the heartbeat path pays
for one header). A value a view set itself wins (the device handshake's `no-referrer`, the
attachments' `sandbox` policy).
"""

from __future__ import annotations

from collections.abc import Mapping

# Trix (app/static/vendor/trix-2.1.19) inserts two <style> elements with the default CSS of its
# custom elements (<trix-toolbar>, <trix-editor>): without them the toolbar's link dialog shows
# open and the editor loses its cursor targets. It inserts each one empty and then sets its text,
# so style-src allows exactly three texts by their SHA-256: the empty one and Trix's two (nothing
# else inline: no style="" attribute, no other <style>). A nonce would do it too, but then the
# policy changes on every page. Upgrading Trix changes the texts: the browser tests
# (tests/browser/test_xss_browser.py) then fail with Chromium's message, which names the new hash.
TRIX_STYLE_HASHES = (
    "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",  # "" (each <style> as inserted)
    "'sha256-jAP18ioNeNaQBBU5RJvT96kjJnVxHvZs+s8WUNiLnvA='",  # trix-toolbar
    "'sha256-c5Z9aB2t69CSpeI1aC8dDLr7LZYZlynV8iY/8Uc9ZFk='",  # trix-editor
)

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' " + " ".join(TRIX_STYLE_HASHES),
        # data: for Trix's toolbar icons (SVG in its CSS) and the empty favicon.
        "img-src 'self' data:",
        # 'self' also covers ws:/wss: on this host and port (the chat's /ws/chat).
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "hid",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "serial",
        "usb",
    )
)

# Two years, this host and its subdomains; not `preload` (that is the site owner's decision).
STRICT_TRANSPORT_SECURITY = "max-age=63072000; includeSubDomains"

NOSNIFF = ("X-Content-Type-Options", "nosniff")


def html_headers(config: Mapping) -> tuple[tuple[str, str], ...]:
    """The headers of an HTML page under this configuration."""
    headers = [
        NOSNIFF,
        ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "same-origin"),
        ("Permissions-Policy", PERMISSIONS_POLICY),
    ]
    if config.get("APP_ENV") == "production":
        headers.append(("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY))
    return tuple(headers)


def apply(headers, is_html: bool, page_headers: tuple[tuple[str, str], ...]) -> None:
    """Add the security headers to a response's `headers` (only those a view did not set)."""
    if is_html:
        for name, value in page_headers:
            headers.setdefault(name, value)
    else:
        headers.setdefault(*NOSNIFF)
