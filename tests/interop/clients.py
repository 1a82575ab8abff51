"""Standard WebRTC clients this project did not write, driven over WHIP/WHEP.

- aiortc (PyPI): a WHIP publisher sending a tone and a plain colour, and a
  WHEP viewer that decodes what each programme slot carries.
- GStreamer's webrtcbin (Debian): a WHIP publisher, the WHIP exchange being
  a few lines of HTTP around its offer and answer.

Each publisher's media says who it is: its tone's pitch and its picture's
colour. A viewer tells the slots apart by the stream id the server gives
each m-line (`a=msid:chair …`, `a=msid:floor …`), decodes them, and keeps
the pitch and colour it last saw on each, so a test can say who is heard
and seen on each slot without trusting the server's word for it.
"""

import asyncio
import fractions
import time
import urllib.request

import av
import numpy
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError

AUDIO_RATE = 48000
FRAME_SAMPLES = 960  # 20 ms


def http(method, url, token, body=None, content_type="application/json"):
    """One HTTP request; returns (status, headers, body text)."""
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            return resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode()


class ToneTrack(MediaStreamTrack):
    """A sine at `freq` Hz, 20 ms Opus-sized frames, paced in real time."""

    kind = "audio"

    def __init__(self, freq):
        super().__init__()
        self.freq = freq
        self.pts = 0
        self.start = None

    async def recv(self):
        if self.start is None:
            self.start = time.monotonic()
        due = self.start + self.pts / AUDIO_RATE
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        t = (numpy.arange(FRAME_SAMPLES) + self.pts) / AUDIO_RATE
        samples = (numpy.sin(2 * numpy.pi * self.freq * t) * 12000).astype(numpy.int16)
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = self.pts
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        self.pts += FRAME_SAMPLES
        return frame


class ColourTrack(MediaStreamTrack):
    """A 320x240 picture of one colour at 15 frames a second. With `grain`,
    each frame gets fresh noise of that amplitude around the colour: a
    picture an encoder cannot squeeze, whose frames span several packets,
    its average still the colour."""

    kind = "video"

    def __init__(self, rgb, grain=0):
        super().__init__()
        self.image = numpy.zeros((240, 320, 3), dtype=numpy.uint8)
        self.image[:, :] = rgb
        self.grain = grain
        self.random = numpy.random.default_rng(1)
        self.count = 0
        self.start = None

    async def recv(self):
        if self.start is None:
            self.start = time.monotonic()
        due = self.start + self.count / 15
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        image = self.image
        if self.grain:
            noise = self.random.integers(-self.grain, self.grain, image.shape, endpoint=True)
            image = numpy.clip(image.astype(numpy.int16) + noise, 0, 255).astype(numpy.uint8)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = self.count * 6000
        frame.time_base = fractions.Fraction(1, 90000)
        self.count += 1
        return frame


def dominant_pitch(frame):
    """The strongest frequency in a decoded audio frame, in Hz (0: silence)."""
    samples = frame.to_ndarray().astype(numpy.float64)
    if samples.ndim > 1:
        # Interleaved stereo comes as one row of L R L R …
        samples = samples.reshape(-1)[:: frame.layout.nb_channels or 1]
    if numpy.abs(samples).max() < 300:
        return 0
    spectrum = numpy.abs(numpy.fft.rfft(samples * numpy.hanning(len(samples))))
    return float(numpy.argmax(spectrum) * frame.sample_rate / len(samples))


def mean_colour(frame):
    """The average (r, g, b) of a decoded picture."""
    rgb = frame.to_ndarray(format="rgb24")
    return tuple(int(c) for c in rgb.reshape(-1, 3).mean(axis=0))


class SlotWatch:
    """What one received track carries: frames decoded, and the latest
    pitch or colour with the time it was seen."""

    def __init__(self, slot, kind):
        self.slot = slot
        self.kind = kind
        self.frames = 0
        self.first_at = None
        self.latest = None
        self.seen = []  # (monotonic time, pitch or colour)

    async def run(self, track):
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            now = time.monotonic()
            self.frames += 1
            if self.first_at is None:
                self.first_at = now
            value = dominant_pitch(frame) if self.kind == "audio" else mean_colour(frame)
            self.latest = value
            self.seen.append((now, value))
            del self.seen[:-400]


def slot_of(sdp, mid):
    """The stream id (`chair`, `floor`) the server gave m-line `mid`."""
    current = None
    for line in sdp.splitlines():
        if line.startswith("a=mid:"):
            current = line[6:].strip()
        elif line.startswith("a=msid:") and current == mid:
            return line[7:].split()[0]
    return None


class Client:
    """One aiortc peer connection signalled over WHIP or WHEP."""

    def __init__(self, base, session, token, bundle_policy="balanced"):
        self.base = base
        self.session = session
        self.token = token
        self.pc = RTCPeerConnection(RTCConfiguration(bundlePolicy=bundle_policy))
        self.location = None
        self.watches = {}
        self.tasks = []
        self.offer_at = None
        self.answer = None
        # Applied to the server's answer before it is used (a test may
        # point the client at a proxy).
        self.answer_filter = None

    async def _exchange(self, path):
        offer = await self.pc.createOffer()
        await self.pc.setLocalDescription(offer)
        self.offer_at = time.monotonic()
        status, headers, body = await asyncio.to_thread(
            http,
            "POST",
            f"{self.base}/{path}/{self.session}",
            self.token,
            self.pc.localDescription.sdp,
            "application/sdp",
        )
        if status != 201:
            raise RuntimeError(f"{path} answered {status}: {body}")
        self.location = headers.get("Location") or headers.get("location")
        self.answer = body
        if self.answer_filter is not None:
            body = self.answer_filter(body)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=body, type="answer"))

    def _watch_tracks(self):
        for transceiver in self.pc.getTransceivers():
            track = transceiver.receiver.track
            if track is None:
                continue
            slot = slot_of(self.answer, transceiver.mid) or f"mid{transceiver.mid}"
            watch = SlotWatch(slot, track.kind)
            self.watches[(slot, track.kind)] = watch
            self.tasks.append(asyncio.ensure_future(watch.run(track)))

    async def publish(self, freq, rgb, video_codec=None, grain=0):
        """WHIP: send a tone and a colour; receive the chair and floor slots.
        `video_codec` ("video/H264", say) offers that codec alone for the
        picture, as a client without VP8 would; `grain` makes the picture
        noisy (see `ColourTrack`)."""
        self.pc.addTransceiver(ToneTrack(freq), direction="sendrecv")
        video = self.pc.addTransceiver(ColourTrack(rgb, grain), direction="sendrecv")
        if video_codec is not None:
            codecs = RTCRtpSender.getCapabilities("video").codecs
            video.setCodecPreferences([c for c in codecs if c.mimeType == video_codec])
        await self._exchange("whip")
        self._watch_tracks()

    async def view(self):
        """WHEP: receive the programme (chair and floor, audio and video)."""
        for kind in ("audio", "video", "audio", "video"):
            self.pc.addTransceiver(kind, direction="recvonly")
        await self._exchange("whep")
        self._watch_tracks()

    def watch(self, slot, kind):
        return self.watches.get((slot, kind))

    async def close(self):
        if self.location:
            await asyncio.to_thread(http, "DELETE", f"{self.base}{self.location}", self.token)
        for task in self.tasks:
            task.cancel()
        await self.pc.close()


async def until(check, timeout, what, step=0.2):
    """Polls `check()` until it is true; fails with `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for: {what}")
