"""The real `diemcau` binary with the shipped config, in a namespace of its own.

The server runs `config/diemcau.toml` as shipped (wildcard media bind,
port 50000, HTTP port 8080); only the data dir is the test's, and HTTP
listens on the namespace's addresses (`--listen 0.0.0.0:8080`) instead of
its loopback, which no client outside could reach. It sits
in a network namespace that the fixture creates and removes, as if on
another machine, so clients that skip loopback (aiortc, libnice) reach it
over a veth link, and its ports cannot clash with anything on this host.
"""

import json
import os
import pathlib
import subprocess
import tempfile
import time
import urllib.request

import pytest

from clients import http
from netns import Namespace

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = os.environ.get("DIEMCAU_BIN", str(ROOT / "target" / "debug" / "diemcau"))
SHIPPED_CONFIG = ROOT / "config" / "diemcau.toml"
HTTP_PORT = 8080  # as shipped


class Server:
    """The server, run inside `ns` (anything with `prefix()`), reached at
    `host` (its address as clients see it)."""

    def __init__(self, ns, data_dir, extra_args=(), host=None, config=SHIPPED_CONFIG):
        self.ns = ns
        self.data_dir = data_dir
        self.host = host or ns.inside
        self.base = f"http://{self.host}:{HTTP_PORT}"
        self.config = config
        self.log_path = pathlib.Path(data_dir) / "server.log"
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            ns.prefix()
            + [BIN, "serve", "--config", str(config), "--data", str(data_dir),
               "--listen", f"0.0.0.0:{HTTP_PORT}"]
            + list(extra_args),
            stdout=subprocess.PIPE,
            stderr=self.log,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "info")},
        )
        self.banner = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline().decode()
            if not line:
                break
            self.banner.append(line.rstrip())
            if line.startswith("endpoint links:"):
                break
        if not any(l.startswith("diemcau listening") for l in self.banner):
            self.stop()
            raise RuntimeError(f"server did not start: {self.banner} {self.log_text()}")
        self._wait_ready()

    def _wait_ready(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=2):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("server does not answer /healthz")

    def token(self, role, endpoint=None):
        args = [BIN, "token", "--config", str(self.config), "--data", str(self.data_dir),
                "--role", role]
        if endpoint:
            args += ["--endpoint", endpoint]
        return subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()

    def api(self, method, path, token, body=None):
        status, _, text = http(method, f"{self.base}{path}", token,
                               None if body is None else json.dumps(body))
        return status, (json.loads(text) if text.strip().startswith(("{", "[")) else text)

    def live_session(self, chair, sid):
        """A session in the `live` phase, run by `chair`."""
        for method, path, body in [
            ("POST", "/api/sessions", {"id": sid, "title": "Họp trực tuyến"}),
            ("POST", f"/api/sessions/{sid}/open", None),
            ("POST", f"/api/sessions/{sid}/start", None),
        ]:
            status, answer = self.api(method, path, chair, body)
            assert status in (200, 201), (path, status, answer)

    def metric(self, series):
        """A metric's value from `/metrics` (name and labels as rendered)."""
        status, _, text = http("GET", f"{self.base}/metrics", None, None)
        assert status == 200, (status, text)
        for line in text.splitlines():
            if line.startswith(series + " "):
                return float(line.split()[-1])
        return None

    def log_text(self):
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def changed_config(path, media):
    """A copy of the shipped config at `path` with the `[media]` settings
    in `media` changed (each replaces the shipped line of its key), the
    registry still the shipped one."""
    lines = SHIPPED_CONFIG.read_text().splitlines()
    registry = SHIPPED_CONFIG.parent / "endpoints-63.toml"
    for key, value in {"registry": str(registry), **media}.items():
        at = [i for i, line in enumerate(lines) if line.startswith(f"{key} =")]
        assert len(at) == 1, f"`{key} =` once in the shipped config"
        lines[at[0]] = f"{key} = {json.dumps(value)}"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def server(request):
    """The shipped config in a fresh namespace; removed when the test ends.
    A test may change `[media]` settings with an indirect parameter, e.g.
    `@pytest.mark.parametrize("server", [{"threads": 2}], indirect=True)`."""
    ns = Namespace("srv")
    data = tempfile.TemporaryDirectory(prefix="diemcau-interop-")
    srv = None
    try:
        media = getattr(request, "param", None)
        config = SHIPPED_CONFIG
        if media:
            config = changed_config(pathlib.Path(data.name) / "diemcau.toml", media)
        srv = Server(ns, data.name, config=config)
        yield srv
    finally:
        try:
            if srv is not None:
                srv.stop()
                call = getattr(request.node, "rep_call", None)
                if call is not None and call.failed:
                    print(srv.log_text()[-6000:])
        finally:
            ns.close()
            data.cleanup()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)
