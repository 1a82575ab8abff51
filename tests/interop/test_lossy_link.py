"""A provincial line that loses and jitters: 10 % of the RTP towards Hải
Phòng dropped and every datagram delayed 100 ± 50 ms, on the shipped config
with aiortc as the site. Its programme keeps decoding (NACK and keyframe
requests repair it), the server's monitor raises a downstream loss alert
within 5 s, and clears it after the line recovers."""

import asyncio
import time

from clients import Client, until
from lossy_proxy import LossyProxy, point_answer_at
from test_standard_clients import CHAIR, HAI_PHONG, colour_is, report

RAISE_WITHIN = 5.0
CLEAR_WITHIN = 20.0


def link(server, token, link_id):
    status, links = server.api("GET", "/api/links", token)
    assert status == 200, links
    return next((l for l in links if l["id"] == link_id), None)


def has_alert(view, reason):
    return view is not None and any(a.get("reason") == reason for a in view.get("alerts", []))


async def lossy_downstream(server):
    chair_token = server.token("chair")
    technician = server.token("technician")
    sid = "duong-truyen-kem"
    server.live_session(chair_token, sid)
    chair = Client(server.base, sid, chair_token)
    site = Client(server.base, sid, server.token("endpoint", "31"))
    proxy = LossyProxy(server.ns.outside, (server.ns.inside, 50000))
    try:
        await chair.publish(*CHAIR)
        front = await proxy.start()
        site.answer_filter = lambda sdp: point_answer_at(sdp, front)
        proxy.lossy = False
        await site.publish(*HAI_PHONG)
        chair_video = site.watch("chair", "video")
        await until(lambda: colour_is(chair_video.latest, CHAIR[1]), 20, "the chair's picture at Hải Phòng")

        link_id = f"{sid}/31"
        proxy.lossy = True
        started = time.monotonic()
        frames_before = chair_video.frames
        await until(lambda: has_alert(link(server, technician, link_id), "high_loss_down"),
                    RAISE_WITHIN + 3, "a downstream loss alert on Hải Phòng's link")
        report("loss on → downstream loss alert", time.monotonic() - started)

        # The programme keeps decoding through the loss: frames keep coming,
        # and they are still the chair's picture.
        await asyncio.sleep(6)
        decoded = chair_video.frames - frames_before
        elapsed = time.monotonic() - started
        print(f"\n[figure] frames decoded under loss: {decoded} in {elapsed:.1f} s "
              f"({proxy.dropped} RTP packets dropped)")
        assert proxy.dropped > 20, "the proxy dropped nothing: the test tests nothing"
        assert decoded >= 5 * elapsed, f"only {decoded} frames in {elapsed:.1f} s under loss"
        assert colour_is(chair_video.latest, CHAIR[1]), chair_video.latest

        proxy.lossy = False
        recovered = time.monotonic()
        await until(lambda: not has_alert(link(server, technician, link_id), "high_loss_down"),
                    CLEAR_WITHIN, "the loss alert to clear")
        report("loss off → alert cleared", time.monotonic() - recovered)
    finally:
        await site.close()
        await chair.close()
        proxy.close()


def test_a_lossy_jittery_downstream_keeps_its_programme_and_raises_an_alert(server):
    asyncio.run(lossy_downstream(server))
