"""A WHIP publisher built on GStreamer's webrtcbin (Debian's packages).

Debian's `simple-whip-client` aborts at start on this release (libsoup 2
and 3 in one process), but webrtcbin itself works: this wraps it with the
WHIP exchange, a POST of the complete offer (ICE gathered, no trickle) and
the answer back. Like the aiortc publisher, its media says who it is: a
tone of `freq` Hz and a picture of one colour.
"""

import threading
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstSdp", "1.0")
gi.require_version("GstWebRTC", "1.0")
from gi.repository import GLib, Gst, GstSdp, GstWebRTC  # noqa: E402

from clients import http  # noqa: E402

Gst.init(None)


def _argb(rgb):
    r, g, b = rgb
    return (0xFF << 24) | (r << 16) | (g << 8) | b


class GstWhipPublisher:
    def __init__(self, base, session, token, freq, rgb):
        self.url = f"{base}/whip/{session}"
        self.base = base
        self.token = token
        self.location = None
        self.error = None
        self.answered = threading.Event()
        self.offer_at = None
        pipeline = (
            "webrtcbin name=rtc bundle-policy=max-bundle "
            f"audiotestsrc is-live=true wave=sine freq={freq} volume=0.4 "
            "! audioconvert ! audioresample ! opusenc ! rtpopuspay pt=111 "
            "! application/x-rtp,media=audio,encoding-name=OPUS,payload=111 ! rtc. "
            f"videotestsrc is-live=true pattern=solid-color foreground-color={_argb(rgb)} "
            "! video/x-raw,width=320,height=240,framerate=15/1 ! videoconvert "
            "! vp8enc deadline=1 keyframe-max-dist=30 ! rtpvp8pay pt=96 "
            "! application/x-rtp,media=video,encoding-name=VP8,payload=96 ! rtc. "
        )
        self.pipeline = Gst.parse_launch(pipeline)
        self.rtc = self.pipeline.get_by_name("rtc")
        self.rtc.connect("on-negotiation-needed", self._on_negotiation_needed)
        self.rtc.connect("notify::ice-gathering-state", self._on_gathering)
        self.loop = GLib.MainLoop()
        self.thread = threading.Thread(target=self.loop.run, daemon=True)

    def start(self):
        self.thread.start()
        self.pipeline.set_state(Gst.State.PLAYING)

    def _on_negotiation_needed(self, element):
        promise = Gst.Promise.new_with_change_func(self._on_offer, element, None)
        element.emit("create-offer", None, promise)

    def _on_offer(self, promise, element, _):
        reply = promise.get_reply()
        offer = reply.get_value("offer")
        element.emit("set-local-description", offer, Gst.Promise.new())

    def _on_gathering(self, element, _pspec):
        state = element.get_property("ice-gathering-state")
        if state != GstWebRTC.WebRTCICEGatheringState.COMPLETE or self.offer_at:
            return
        self.offer_at = time.monotonic()
        offer = element.get_property("local-description").sdp.as_text()
        # The POST waits on the network: off the GLib thread.
        threading.Thread(target=self._post, args=(offer,), daemon=True).start()

    def _post(self, offer):
        try:
            status, headers, body = http("POST", self.url, self.token, offer, "application/sdp")
            if status != 201:
                self.error = f"WHIP answered {status}: {body}"
                return
            self.location = headers.get("Location") or headers.get("location")
            _, sdp = GstSdp.SDPMessage.new_from_text(body)
            answer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, sdp)
            GLib.idle_add(self._apply_answer, answer)
        except Exception as err:  # reported to the test, which fails on it
            self.error = repr(err)
        finally:
            self.answered.set()

    def _apply_answer(self, answer):
        self.rtc.emit("set-remote-description", answer, Gst.Promise.new())
        return False

    def connection_state(self):
        return self.rtc.get_property("connection-state")

    def stop(self):
        if self.location:
            http("DELETE", f"{self.base}{self.location}", self.token)
        self.pipeline.set_state(Gst.State.NULL)
        self.loop.quit()
        self.thread.join(timeout=5)
