"""The programme recorded from real encoders (aiortc's VP8, H.264 and
Opus), against the shipped config: the chair turns recording on, two sites
speak in turn, the chair turns it off. The file must pass `ffprobe`, decode
with no error in `ffmpeg`, and show in its floor slot the first site's
colour, then the second's, switching when the floor moved (within 1 s), for
as long as recording ran (within 1 s). When the second site sends H.264,
the floor's change of codec closes the WebM file and a Matroska one goes
on, its floor track H.264 as the site encoded it.

| who               | tone    | picture |
|-------------------|---------|---------|
| chair (site 00)   | 300 Hz  | green   |
| Hải Dương (30)    | 500 Hz  | red     |
| Hải Phòng (31)    | 1100 Hz | blue    |
"""

import asyncio
import json
import pathlib
import subprocess
import tempfile
import time
import urllib.request

import av

from clients import Client, mean_colour, until

CHAIR = (300, (0, 200, 0))
HAI_DUONG = (500, (200, 0, 0))
HAI_PHONG = (1100, (0, 0, 200))
TURN = 4.0


def colour_is(value, rgb):
    return value is not None and all(abs(a - b) <= 45 for a, b in zip(value, rgb))


def download(url, token, to):
    req = urllib.request.Request(url)
    req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=30) as resp, open(to, "wb") as out:
        out.write(resp.read())


def floor_colours(path):
    """(seconds, colour) of every decoded frame of the floor video track
    (the file's fourth track: chair audio, chair video, floor audio,
    floor video, content)."""
    out = []
    with av.open(str(path)) as container:
        stream = container.streams[3]
        assert stream.type == "video", [s.type for s in container.streams]
        for frame in container.decode(stream):
            if frame.pts is None:
                continue
            out.append((float(frame.pts * frame.time_base), mean_colour(frame)))
    return out


async def two_turns(server, sid, chair_token, files_wanted):
    """Hải Dương speaks, then Hải Phòng, with the recording on over both
    turns; returns the times of the start, the switch and the stop, and the
    recordings listed once `files_wanted` are (a file is closed on the
    server's writer thread just after the stop)."""
    def post(path, body=None):
        status, answer = server.api("POST", f"/api/sessions/{sid}{path}", chair_token, body)
        assert status == 200, (path, status, answer)

    post("/floor/grant", {"endpoint": "30"})
    started = time.monotonic()
    post("/recording/start")
    await asyncio.sleep(TURN)
    switched = time.monotonic()
    post("/floor/grant", {"endpoint": "31"})
    await asyncio.sleep(TURN)
    post("/recording/stop")
    stopped = time.monotonic()
    post("/floor/revoke")

    files = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(files) < files_wanted:
        status, files = server.api("GET", f"/api/sessions/{sid}/recordings", chair_token)
        assert status == 200, files
        await asyncio.sleep(0.5)
    return started, switched, stopped, files


def test_the_programme_is_recorded_from_real_encoders(server):
    asyncio.run(record(server))


async def record(server):
    chair_token = server.token("chair")
    sid = "ghi-hinh"
    server.live_session(chair_token, sid)
    chair = Client(server.base, sid, chair_token)
    hai_duong = Client(server.base, sid, server.token("endpoint", "30"))
    hai_phong = Client(server.base, sid, server.token("endpoint", "31"))
    work = tempfile.TemporaryDirectory(prefix="diemcau-record-")
    try:
        await chair.publish(*CHAIR)
        await hai_duong.publish(*HAI_DUONG)
        await hai_phong.publish(*HAI_PHONG)
        await until(
            lambda: colour_is(getattr(hai_phong.watch("chair", "video"), "latest", None), CHAIR[1]),
            20, "the chair's picture at Hải Phòng")

        started, switched, stopped, files = await two_turns(server, sid, chair_token, 1)
        assert len(files) == 1, files
        await asyncio.sleep(1)
        path = pathlib.Path(work.name) / files[0]["name"]
        download(f"{server.base}{files[0]['href']}", chair_token, path)
        print(f"\n[figure] recording: {path.stat().st_size} bytes for {stopped - started:.1f} s")

        codecs = [s["codec_name"] for s in probe(path)["streams"]]
        assert codecs == ["opus", "vp8", "opus", "vp8", "vp8"], codecs
        decodes(path)

        frames = floor_colours(path)
        red = [t for t, c in frames if colour_is(c, HAI_DUONG[1])]
        blue = [t for t, c in frames if colour_is(c, HAI_PHONG[1])]
        assert red and blue, frames[:5]
        # The file's clock starts when recording did.
        switch_seen = blue[0]
        switch_said = switched - started
        print(f"[figure] floor switch in the file at {switch_seen:.2f} s, "
              f"granted at {switch_said:.2f} s")
        assert abs(switch_seen - switch_said) <= 1.0, (switch_seen, switch_said)
        assert max(red) < switch_seen + 0.2, "Hải Dương still on the floor after the switch"
        span = frames[-1][0]
        assert abs(span - (stopped - started)) <= 1.0, (span, stopped - started)
        assert abs(blue[-1] - blue[0] - TURN) <= 1.0, (blue[0], blue[-1])
    finally:
        for client in (chair, hai_duong, hai_phong):
            await client.close()
        work.cleanup()


def probe(path):
    """ffprobe's streams of `path`, after checking that it said nothing."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True, text=True, check=False)
    assert out.returncode == 0 and not out.stderr.strip(), (path, out.stderr)
    return json.loads(out.stdout)


def decodes(path):
    """`ffmpeg -v error` decodes every track of `path` and says nothing."""
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0", "-f", "null", "-"],
        capture_output=True, text=True, check=False)
    assert out.returncode == 0 and not out.stderr.strip(), (path, out.stderr[-2000:])


def test_h264_is_passed_through_to_matroska_in_a_new_file(server):
    asyncio.run(record_h264(server))


async def record_h264(server):
    chair_token = server.token("chair")
    sid = "ghi-hinh-h264"
    server.live_session(chair_token, sid)
    chair = Client(server.base, sid, chair_token)
    hai_duong = Client(server.base, sid, server.token("endpoint", "30"))
    hai_phong = Client(server.base, sid, server.token("endpoint", "31"))
    work = tempfile.TemporaryDirectory(prefix="diemcau-record-h264-")
    try:
        await chair.publish(*CHAIR)
        await hai_duong.publish(*HAI_DUONG)
        await hai_phong.publish(*HAI_PHONG, video_codec="video/H264")
        assert "H264" in hai_phong.answer and "VP8" not in hai_phong.answer, hai_phong.answer
        await until(
            lambda: colour_is(getattr(hai_duong.watch("chair", "video"), "latest", None), CHAIR[1]),
            20, "the chair's picture at Hải Dương")

        started, switched, stopped, files = await two_turns(server, sid, chair_token, 2)
        names = [f["name"] for f in files]
        assert len(files) == 2, names
        assert names[0].endswith(".webm") and names[1].endswith(".mkv"), names
        await asyncio.sleep(1)
        paths = []
        for f in files:
            path = pathlib.Path(work.name) / f["name"]
            download(f"{server.base}{f['href']}", chair_token, path)
            paths.append(path)
        webm, mkv = paths
        print(f"\n[figure] {webm.name}: {webm.stat().st_size} bytes, "
              f"{mkv.name}: {mkv.stat().st_size} bytes")

        assert [s["codec_name"] for s in probe(webm)["streams"]] == \
            ["opus", "vp8", "opus", "vp8", "vp8"]
        info = probe(mkv)
        assert info["format"]["format_name"].startswith("matroska"), info["format"]
        assert [s["codec_name"] for s in info["streams"]] == \
            ["opus", "vp8", "opus", "h264", "vp8"], info["streams"]
        decodes(webm)
        decodes(mkv)

        # The sidecars say when each file began: the second at the switch.
        starts = []
        folder = pathlib.Path(server.data_dir) / "recordings" / sid
        for path in paths:
            sidecar = json.loads((folder / path.name).with_suffix(".json").read_text())
            starts.append(sidecar["started_at"] / 1000)
        gap = starts[1] - starts[0]
        print(f"[figure] the Matroska file began {gap:.2f} s after the WebM one; "
              f"the floor moved at {switched - started:.2f} s")
        assert abs(gap - (switched - started)) <= 1.0, (gap, switched - started)

        red = [t for t, c in floor_colours(webm) if colour_is(c, HAI_DUONG[1])]
        blue = [t for t, c in floor_colours(mkv) if colour_is(c, HAI_PHONG[1])]
        assert red and blue, (red[:3], blue[:3])
        assert not any(colour_is(c, HAI_PHONG[1]) for _, c in floor_colours(webm))
        # Hải Phòng's turn fills the second file, from its start.
        assert blue[0] <= 1.0, blue[:3]
        assert abs((blue[-1] - blue[0]) - (stopped - switched)) <= 1.0, (blue[0], blue[-1])
    finally:
        for client in (chair, hai_duong, hai_phong):
            await client.close()
        work.cleanup()


def test_a_killed_server_leaves_a_recording_that_plays(server):
    asyncio.run(killed(server, None, "webm"))


def test_a_killed_server_leaves_an_h264_recording_that_plays(server):
    """The chair sends H.264 from the start: the file is Matroska at once
    (no WebM file first), and survives the kill as well."""
    asyncio.run(killed(server, "video/H264", "mkv"))


async def killed(server, video_codec, ext):
    """SIGKILL while recording: the file plays up to its last cluster; the
    server started again with the same data dir begins a new file (the
    session still records), and the first is left as it was."""
    chair_token = server.token("chair")
    sid = "ghi-hinh-2"
    server.live_session(chair_token, sid)
    chair = Client(server.base, sid, chair_token)
    try:
        await chair.publish(*CHAIR, video_codec=video_codec)
        status, answer = server.api("POST", f"/api/sessions/{sid}/recording/start", chair_token)
        assert status == 200, answer
        await asyncio.sleep(4)
        server.proc.kill()
        server.proc.wait()
    finally:
        # The server is gone: no DELETE, only the peer connection closes.
        await chair.pc.close()
    folder = pathlib.Path(server.data_dir) / "recordings" / sid
    files = sorted(folder.glob("*.webm")) + sorted(folder.glob("*.mkv"))
    assert len(files) == 1 and files[0].suffix == f".{ext}", files
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_packets", "-of", "json", str(files[0])],
        capture_output=True, text=True, check=False)
    packets = json.loads(probe.stdout or "{}").get("packets", [])
    streams = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(files[0])],
        capture_output=True, text=True, check=False).stdout or "{}").get("streams", [])
    expected = "h264" if ext == "mkv" else "vp8"
    assert [s["codec_name"] for s in streams][1] == expected, streams
    chair_video = [float(p["pts_time"]) for p in packets if p.get("stream_index") == 1]
    print(f"\n[figure] killed after 4 s: {len(chair_video)} chair frames up to "
          f"{max(chair_video, default=0):.2f} s; ffprobe said {probe.stderr.strip()[:200]!r}")
    assert chair_video and max(chair_video) >= 2.5, chair_video[-3:]
    decode = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(files[0]), "-map", "0:1", "-f", "null", "-"],
        capture_output=True, text=True, check=False)
    assert decode.returncode == 0, decode.stderr[-2000:]
    print(f"[figure] ffmpeg on the killed file: {decode.stderr.strip()[:300]!r}")

    # Started again: the session still records, into a new file.
    from conftest import Server
    again = Server(server.ns, server.data_dir)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(list(folder.glob("*.json"))) < 2:
            await asyncio.sleep(0.2)
        assert len(list(folder.glob("*.json"))) == 2, list(folder.iterdir())
        status, listed = again.api("GET", f"/api/sessions/{sid}/recordings", chair_token)
        assert status == 200 and len(listed) == 2, listed
    finally:
        again.stop()
    assert files[0].stat().st_size > 0 and sorted(folder.glob("*.json"))[0] == files[0].with_suffix(".json")
