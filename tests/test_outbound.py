"""The outbound guard: whatever the spelling of a host, or a redirect to it, no request reaches an
address the rules refuse (sources here; watermark images and webhooks use the same session)."""

import pytest
from aiohttp import web

from core.errors import SourceError
from core.storage.base import MeteredUpload
from workers.fetch import fetch_url

FULLWIDTH = "\uff11\uff12\uff17.\uff10.\uff10.\uff11"  # 127.0.0.1 in fullwidth digits
CIRCLED = "\u2460\u2461\u2466.0.0.1"  # circled 1 2 7
IDEOGRAPHIC = "127\u30020\u30020\u30021"  # ideographic full stops
SPELLINGS = [
    "127.0.0.1",
    FULLWIDTH,
    CIRCLED,
    IDEOGRAPHIC,
    "localhost",
    "[::1]",
    "[::ffff:127.0.0.1]",
    "0x7f.1",
    "127.1",
]


class Collected:
    """An upload that keeps what it is given in memory."""

    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data += data

    async def commit(self, key: str) -> None: ...

    async def abort(self) -> None: ...


@pytest.fixture
async def origin(aiohttp_server):
    """A server on loopback holding a secret, and a redirect to it whose Location is raw UTF-8."""
    app = web.Application()

    async def secret(request: web.Request) -> web.Response:
        return web.Response(body=b"internal secret")

    app.router.add_get("/secret", secret)

    async def redirect(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": f"http://{FULLWIDTH}:{request.url.port}/secret"})

    app.router.add_get("/redirect", redirect)
    return await aiohttp_server(app)


async def fetch(url: str, allow_private: bool) -> bytes:
    collected = Collected()
    await fetch_url(url, MeteredUpload(collected), max_bytes=10**6, timeout_s=5, allow_private=allow_private)  # type: ignore[arg-type]
    return collected.data


@pytest.mark.parametrize("host", SPELLINGS)
async def test_no_spelling_of_loopback_is_fetched(origin, host):
    with pytest.raises(SourceError) as caught:
        await fetch(f"http://{host}:{origin.port}/secret", allow_private=False)
    assert caught.value.code in ("SourceAddressNotAllowed", "SourceDownloadFailed", "InvalidSourceUrl")
    if host in ("127.0.0.1", FULLWIDTH, CIRCLED, IDEOGRAPHIC, "localhost"):
        assert caught.value.code == "SourceAddressNotAllowed"


async def test_a_redirect_to_loopback_written_in_utf8_is_refused(origin):
    with pytest.raises(SourceError) as caught:
        await fetch(str(origin.make_url("/redirect")).replace("127.0.0.1", "localhost"), allow_private=False)
    assert caught.value.code == "SourceAddressNotAllowed"


async def test_private_addresses_are_reachable_when_allowed(origin):
    assert await fetch(str(origin.make_url("/redirect")), allow_private=True) == b"internal secret"
    assert await fetch(f"http://{FULLWIDTH}:{origin.port}/secret", allow_private=True) == b"internal secret"


@pytest.mark.parametrize(
    "address",
    ["::7f00:1", "64:ff9b::7f00:1", "64:ff9b::a00:1", "2002:7f00:1::1", "::ffff:0:7f00:1", "::a00:1", "fec0::1",
     "::ffff:127.0.0.1", "2001::7f00:1", "fe80::1%eth0"],
)  # fmt: skip
def test_ipv6_forms_that_carry_an_internal_address_are_refused(address):
    from workers.outbound import address_allowed

    assert not address_allowed(address, allow_private=False)


def test_public_addresses_in_any_form_are_allowed():
    from workers.outbound import address_allowed

    for address in ("8.8.8.8", "2001:4860:4860::8888", "::ffff:8.8.8.8", "64:ff9b::808:808"):
        assert address_allowed(address, allow_private=False), address
