"""A site whose network blocks UDP to the media port: the server runs the
shipped config with its [media.turn] lines filled in, coturn (Debian's, with
`use-auth-secret`) runs beside it, and nftables on the server's host drops
every UDP datagram to port 50000 that does not come from the relay. An
aiortc viewer takes the TURN credentials from the WHEP answer's `Link`
header (RFC 9725), relays over TCP, and gets the programme."""

import asyncio
import re
import secrets
import subprocess
import tempfile
import time

import pytest
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection

from clients import Client, http, until
from conftest import SHIPPED_CONFIG, Server
from netns import Namespace
from test_standard_clients import CHAIR, colour_is, report

TURN_PORT = 3478


def config_with_turn(ns, secret):
    """The shipped config, its [media.turn] lines filled in, nothing else."""
    text = SHIPPED_CONFIG.read_text()
    urls = f'["turn:{ns.inside}:{TURN_PORT}?transport=tcp", "turn:{ns.inside}:{TURN_PORT}?transport=udp"]'
    filled = (
        text.replace("# [media.turn]", "[media.turn]")
        .replace('# urls = ["turn:turn.example.vn:3478?transport=udp", "turn:turn.example.vn:3478?transport=tcp"]',
                 f"urls = {urls}")
        .replace('# secret = "change-me-to-a-long-random-string"', f'secret = "{secret}"')
        .replace("# ttl_secs = 43200", "ttl_secs = 3600")
        .replace('registry = "endpoints-63.toml"', f'registry = "{SHIPPED_CONFIG.parent / "endpoints-63.toml"}"')
    )
    assert filled.count(secret) == 1 and f"urls = {urls}" in filled
    return filled


@pytest.fixture
def blocked(tmp_path):
    ns = Namespace("udp")
    secret = secrets.token_hex(24)
    config = tmp_path / "diemcau.toml"
    config.write_text(config_with_turn(ns, secret))
    turn_log = open(tmp_path / "turnserver.log", "wb")
    turn = subprocess.Popen(
        ns.prefix() + [
            "turnserver", "-n", "--no-cli", "--no-tls", "--no-dtls", "--fingerprint",
            f"--listening-ip={ns.inside}", f"--relay-ip={ns.inside}",
            f"--listening-port={TURN_PORT}", "--min-port=49152", "--max-port=49252",
            "--use-auth-secret", f"--static-auth-secret={secret}", "--realm=diemcau.test",
            "--log-file=stdout", "--simple-log",
        ],
        stdout=turn_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )
    rules = (
        "table inet diemcau_block {\n"
        " chain input { type filter hook input priority 0; "
        f"udp dport 50000 ip saddr != {ns.inside} drop; }}\n"
        "}\n"
    )
    srv = None
    data = tempfile.TemporaryDirectory(prefix="diemcau-udp-")
    try:
        subprocess.run(ns.prefix() + ["nft", "-f", "-"], input=rules, text=True, check=True,
                       capture_output=True)
        srv = Server(ns, data.name, config=config)
        yield srv, ns
    finally:
        try:
            if srv is not None:
                srv.stop()
            turn.terminate()
            try:
                turn.wait(timeout=10)
            except subprocess.TimeoutExpired:
                turn.kill()
                turn.wait()
            turn_log.close()
        finally:
            ns.close()
            data.cleanup()


def turn_servers_from(headers_link):
    """RTCIceServer entries from RFC 9725 `Link` header values."""
    out = []
    for value in headers_link:
        m = re.match(r'<([^>]+)>;\s*rel="ice-server"(.*)', value)
        if not m:
            continue
        params = dict(re.findall(r'(\w[\w-]*)="([^"]*)"', m.group(2)))
        out.append(RTCIceServer(urls=m.group(1), username=params.get("username"),
                                credential=params.get("credential")))
    return out


def link_headers(server, sid, token):
    """POSTs a throwaway WHEP offer to read the `Link` headers of the answer."""
    import urllib.request

    async def offer():
        pc = RTCPeerConnection()
        pc.addTransceiver("video", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        sdp = pc.localDescription.sdp
        await pc.close()
        return sdp

    sdp = asyncio.run(offer())
    req = urllib.request.Request(f"{server.base}/whep/{sid}", data=sdp.encode(), method="POST")
    req.add_header("Authorization", f"Bearer {token}")
    req.add_header("Content-Type", "application/sdp")
    with urllib.request.urlopen(req, timeout=15) as resp:
        links = resp.headers.get_all("Link") or []
        location = resp.headers.get("Location")
    http("DELETE", f"{server.base}{location}", token)
    return links


async def programme_over_turn(server, sid, chair_token, viewer_token, ice_servers):
    # The chair's machine is behind the same block: both relay.
    chair = Client(server.base, sid, chair_token)
    viewer = Client(server.base, sid, viewer_token)
    for client in (chair, viewer):
        await client.pc.close()
        client.pc = RTCPeerConnection(RTCConfiguration(iceServers=ice_servers))
    try:
        await chair.publish(*CHAIR)
        started = time.monotonic()
        await viewer.view()
        video = viewer.watch("chair", "video")
        await until(lambda: colour_is(video.latest, CHAIR[1]), 30, "the chair's picture over TURN")
        report("UDP blocked, TURN over TCP: viewer offer → first chair frame", video.first_at - started)
    finally:
        await viewer.close()
        await chair.close()


def test_a_site_behind_a_udp_block_gets_the_programme_through_turn(blocked):
    server, ns = blocked
    chair_token = server.token("chair")
    viewer_token = server.token("viewer")
    sid = "chan-udp"
    server.live_session(chair_token, sid)
    links = link_headers(server, sid, viewer_token)
    assert any(l.startswith(f"<turn:{ns.inside}:{TURN_PORT}?transport=tcp>") for l in links), links
    tcp_only = [s for s in turn_servers_from(links) if s.urls.endswith("transport=tcp")]
    assert tcp_only and tcp_only[0].username and tcp_only[0].credential, links
    expiry = int(tcp_only[0].username.split(":")[0])
    assert time.time() < expiry <= time.time() + 3600 + 5
    asyncio.run(programme_over_turn(server, sid, chair_token, viewer_token, tcp_only))
