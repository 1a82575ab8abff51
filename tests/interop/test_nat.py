"""1:1 NAT: the server on a private link behind a router that maps a public
address to it (nftables dnat/snat in a namespace of the test's own),
started with `--public-ip` set to that address and the shipped config
otherwise. The candidate carries the public address; what arrives on the
private one is taken as sent to it; an aiortc viewer outside gets the
programme through the NAT."""

import asyncio
import tempfile

import pytest

from clients import Client, until
from conftest import Server
from netns import NatRouter
from test_standard_clients import CHAIR, colour_is, heard, report


@pytest.fixture
def nat_server():
    nat = NatRouter("nat")
    data = tempfile.TemporaryDirectory(prefix="diemcau-nat-")
    srv = None
    try:
        srv = Server(nat.server, data.name, ["--public-ip", nat.public], host=nat.public)
        yield srv, nat
    finally:
        if srv is not None:
            srv.stop()
        nat.close()
        data.cleanup()


async def programme_through_nat(server, nat):
    chair_token = server.token("chair")
    sid = "sau-nat"
    server.live_session(chair_token, sid)
    chair = Client(server.base, sid, chair_token)
    viewer = Client(server.base, sid, server.token("viewer"))
    try:
        await chair.publish(*CHAIR)
        await viewer.view()
        candidates = [l for l in viewer.answer.splitlines() if l.startswith("a=candidate:")]
        assert candidates and all(f" {nat.public} 50000 " in l for l in candidates), candidates
        assert not any(nat.private in l for l in candidates)
        video = viewer.watch("chair", "video")
        await until(lambda: colour_is(video.latest, CHAIR[1]), 20, "the chair's picture through the NAT")
        report("1:1 NAT: viewer offer → first chair frame", video.first_at - viewer.offer_at)
        await until(lambda: heard(viewer.watch("chair", "audio"), CHAIR[0]), 10, "the chair's voice")
    finally:
        await viewer.close()
        await chair.close()


def test_programme_through_a_one_to_one_nat(nat_server):
    server, nat = nat_server
    media = [l for l in server.banner if l.startswith("media (UDP):")]
    assert media and f"{nat.public}:50000" in media[0], server.banner
    asyncio.run(programme_through_nat(server, nat))
