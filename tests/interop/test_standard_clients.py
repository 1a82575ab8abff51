"""Standard clients against the shipped config: each connects, receives the
programme, sees the floor move (picture and voice), and never hears a site
that is not allowed to be heard.

Who is who, by what they send:

| who               | client          | tone    | picture |
|-------------------|-----------------|---------|---------|
| chair (site 00)   | aiortc, WHIP    | 300 Hz  | green   |
| Hải Dương (30)    | aiortc or gst   | 500 Hz  | red     |
| Hải Phòng (31)    | aiortc, WHIP    | 1100 Hz | blue    |

Times from offer to first programme frame are printed (`-s` shows them):
figures from a run, not assertions.
"""

import asyncio
import time

import pytest

from clients import Client, until

CHAIR = (300, (0, 200, 0))
HAI_DUONG = (500, (200, 0, 0))
HAI_PHONG = (1100, (0, 0, 200))


def pitch_is(value, freq):
    return value is not None and abs(value - freq) <= 60


def colour_is(value, rgb):
    return value is not None and all(abs(a - b) <= 45 for a, b in zip(value, rgb))


def heard(watch, freq, since=0.0):
    """Whether `watch` (an audio slot) carried `freq` at or after `since`."""
    return watch is not None and any(t >= since and pitch_is(v, freq) for t, v in watch.seen)


def report(what, seconds):
    print(f"\n[figure] {what}: {seconds * 1000:.0f} ms")


async def programme_and_switch(server, make_hai_duong, policy, label):
    chair_token = server.token("chair")
    sid = f"interop-{label}-{policy}"
    server.live_session(chair_token, sid)

    chair = Client(server.base, sid, chair_token, policy)
    hai_phong = Client(server.base, sid, server.token("endpoint", "31"), policy)
    viewer = Client(server.base, sid, server.token("viewer"), policy)
    hai_duong = await make_hai_duong(sid)
    try:
        await chair.publish(*CHAIR)
        await hai_phong.publish(*HAI_PHONG)
        await viewer.view()

        # The programme: the chair seen and heard on the viewer's chair slot.
        chair_video = viewer.watch("chair", "video")
        chair_audio = viewer.watch("chair", "audio")
        floor_video = viewer.watch("floor", "video")
        floor_audio = viewer.watch("floor", "audio")
        assert None not in (chair_video, chair_audio, floor_video, floor_audio), viewer.watches
        await until(lambda: colour_is(chair_video.latest, CHAIR[1]), 20, "chair's picture on the viewer")
        report(f"{label} {policy}: viewer offer → first chair frame", chair_video.first_at - viewer.offer_at)
        await until(lambda: heard(chair_audio, CHAIR[0]), 10, "chair's voice on the viewer")
        # A publisher receives the programme too.
        await until(
            lambda: colour_is(getattr(hai_phong.watch("chair", "video"), "latest", None), CHAIR[1]),
            15, "chair's picture at Hải Phòng")

        # Nobody holds the floor: no site is heard anywhere, however loud.
        await asyncio.sleep(2)
        for client in (viewer, hai_phong):
            for watch in client.watches.values():
                if watch.kind == "audio":
                    assert not heard(watch, HAI_DUONG[0]) and not heard(watch, HAI_PHONG[0]), watch.slot

        # The floor to Hải Dương: its picture and voice on the floor slot.
        status, body = server.api("POST", f"/api/sessions/{sid}/floor/grant", chair_token, {"endpoint": "30"})
        assert status == 200, body
        granted = time.monotonic()
        await until(lambda: colour_is(floor_video.latest, HAI_DUONG[1]), 15, "Hải Dương's picture on the floor slot")
        report(f"{label} {policy}: grant → Hải Dương on the floor slot", time.monotonic() - granted)
        await until(lambda: heard(floor_audio, HAI_DUONG[0], granted), 10, "Hải Dương's voice on the floor slot")

        # The floor to Hải Phòng: the slot switches, picture and voice.
        status, body = server.api("POST", f"/api/sessions/{sid}/floor/grant", chair_token, {"endpoint": "31"})
        assert status == 200, body
        switched = time.monotonic()
        await until(lambda: colour_is(floor_video.latest, HAI_PHONG[1]), 15, "Hải Phòng's picture after the switch")
        report(f"{label} {policy}: switch → Hải Phòng on the floor slot", time.monotonic() - switched)
        await until(lambda: heard(floor_audio, HAI_PHONG[0], switched), 10, "Hải Phòng's voice after the switch")
        await asyncio.sleep(2)
        # Hải Dương lost the floor: not heard anywhere a second after.
        for watch in viewer.watches.values():
            if watch.kind == "audio":
                assert not heard(watch, HAI_DUONG[0], switched + 1.0), f"Hải Dương heard on {watch.slot}"
        # And Hải Phòng never heard before its grant.
        for watch in viewer.watches.values():
            if watch.kind == "audio":
                early = [v for t, v in watch.seen if t < switched - 0.2 and pitch_is(v, HAI_PHONG[0])]
                assert not early, f"Hải Phòng heard on {watch.slot} before its grant"
    finally:
        for client in (viewer, hai_phong, chair):
            await client.close()
        await hai_duong.close()


class AiortcSite:
    """Hải Dương on aiortc."""

    def __init__(self, server, policy):
        self.server = server
        self.policy = policy
        self.client = None

    async def __call__(self, sid):
        self.client = Client(self.server.base, sid, self.server.token("endpoint", "30"), self.policy)
        await self.client.publish(*HAI_DUONG)
        return self

    async def close(self):
        if self.client:
            await self.client.close()


class GstSite:
    """Hải Dương on GStreamer's webrtcbin."""

    def __init__(self, server):
        self.server = server
        self.publisher = None

    async def __call__(self, sid):
        from gst_whip import GstWhipPublisher

        self.publisher = GstWhipPublisher(self.server.base, sid, self.server.token("endpoint", "30"), *HAI_DUONG)
        self.publisher.start()
        answered = await asyncio.to_thread(self.publisher.answered.wait, 20)
        assert answered and self.publisher.error is None, self.publisher.error
        return self

    async def close(self):
        if self.publisher:
            await asyncio.to_thread(self.publisher.stop)


@pytest.mark.parametrize("policy", ["balanced", "max-bundle"])
def test_aiortc_publishers_and_viewer(server, policy):
    """aiortc as WHIP publisher and WHEP viewer, under both bundle policies."""
    asyncio.run(programme_and_switch(server, AiortcSite(server, policy), policy, "aiortc"))


@pytest.mark.parametrize(
    "server", [{"threads": 2, "share_from": 1, "share_reads_from": 1}], indirect=True
)
def test_sending_shared_between_threads(server):
    """The shipped config with every round of reading and of sending
    shared between two threads: aiortc publishers and viewer see and hear
    the programme and the floor as with one, and the server says the
    rounds were shared."""
    asyncio.run(programme_and_switch(server, AiortcSite(server, "balanced"), "balanced", "threads"))
    for metric in ("diemcau_media_sending_shared_total", "diemcau_media_reading_shared_total"):
        shared = server.metric(metric)
        assert shared is not None and shared > 0, (metric, shared)


def test_frames_of_several_packets_arrive_whole(server):
    """A noisy picture, whose every frame spans several packets: the server
    sends each receiver's share of a frame as runs (several datagrams with
    one system call, the kernel cutting them apart), and an aiortc viewer
    decodes the frames one after another, the picture's colour intact."""
    chair_token = server.token("chair")
    sid = "interop-runs"
    server.live_session(chair_token, sid)

    async def scenario():
        chair = Client(server.base, sid, chair_token)
        viewer = Client(server.base, sid, server.token("viewer"))
        try:
            await chair.publish(*CHAIR, grain=60)
            await viewer.view()
            video = viewer.watch("chair", "video")
            await until(lambda: colour_is(video.latest, CHAIR[1]), 20, "chair's picture on the viewer")
            start = video.frames
            # Three seconds of the 15 frames a second: each a decoded
            # picture of the chair's colour (a datagram cut wrong fails
            # SRTP's check, and its frame never decodes).
            await until(lambda: video.frames >= start + 45, 20, "45 more frames of the chair")
            recent = [v for _, v in video.seen[-45:]]
            assert all(colour_is(v, CHAIR[1]) for v in recent), recent
        finally:
            await viewer.close()
            await chair.close()

    asyncio.run(scenario())
    in_runs = server.metric("diemcau_media_datagrams_in_runs_total")
    assert in_runs is not None and in_runs > 0, in_runs


def test_gstreamer_webrtcbin_publisher(server):
    """GStreamer's webrtcbin publishing over WHIP: seen and heard on the
    floor slot of an aiortc viewer once granted, never before."""
    asyncio.run(programme_and_switch(server, GstSite(server), "balanced", "gstreamer"))


def test_serve_prints_the_candidates_it_advertises(server):
    """With the wildcard bind, `serve` names the namespace's veth address,
    not 0.0.0.0, as where media goes."""
    media = [l for l in server.banner if l.startswith("media (UDP):")]
    assert media and f"{server.ns.inside}:50000" in media[0], server.banner
    assert "0.0.0.0" not in media[0]
