"""A network namespace of the test's own, linked to this one by a veth pair.

libnice (GStreamer's webrtcbin) and aiortc gather no loopback candidates,
so a server they can reach must sit on a real interface: the test puts the
server in a namespace of its own, as if on another machine, and reaches it
over the veth link. Everything made here is removed by `close()`.
"""

import itertools
import os
import subprocess

_counter = itertools.count()


def _ip(*args, check=True):
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


class Namespace:
    """`ip netns` namespace `name`, with `inside` on its end of a veth pair
    and `outside` on this namespace's end (a /30 of 10.231.0.0/16)."""

    def __init__(self, tag):
        n = (os.getpid() * 7 + next(_counter)) % 16000
        self.name = f"dc-{tag}-{n}"[:15]
        self.host_if = f"dch{n}"
        self.ns_if = f"dcn{n}"
        third, fourth = divmod(n * 4, 256)
        self.outside = f"10.231.{third}.{fourth + 1}"
        self.inside = f"10.231.{third}.{fourth + 2}"
        _ip("netns", "add", self.name)
        try:
            _ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
            _ip("link", "set", self.ns_if, "netns", self.name)
            _ip("addr", "add", f"{self.outside}/30", "dev", self.host_if)
            _ip("link", "set", self.host_if, "up")
            self.run_ip("addr", "add", f"{self.inside}/30", "dev", self.ns_if)
            self.run_ip("link", "set", self.ns_if, "up")
            self.run_ip("link", "set", "lo", "up")
            self.run_ip("route", "add", "default", "via", self.outside)
        except Exception:
            self.close()
            raise

    def run_ip(self, *args):
        return _ip("netns", "exec", self.name, "ip", *args)

    def prefix(self):
        """The command prefix that runs a program inside the namespace."""
        return ["ip", "netns", "exec", self.name]

    def close(self):
        _ip("link", "del", self.host_if, check=False)
        _ip("netns", "del", self.name, check=False)
