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


class NatRouter:
    """A 1:1 NAT in front of a server, as a provincial data centre has.

    Three hosts: this namespace (the clients), a router namespace, and the
    server's namespace on a private link behind it. The router maps its
    outside address (`public`) to the server's private one both ways
    (nftables dnat/snat), so the server knows its public address only from
    its `--public-ip`. `server.prefix()` runs a program on the server host.
    """

    def __init__(self, tag):
        self.router = Namespace(f"{tag}r")
        self.server = None
        try:
            self.public = self.router.inside
            n = (os.getpid() * 11 + next(_counter)) % 16000
            third, fourth = divmod(n * 4, 256)
            self.gateway = f"10.232.{third}.{fourth + 1}"
            self.private = f"10.232.{third}.{fourth + 2}"
            self.server = _Inner(f"dc-{tag}s-{n}"[:15], self.router.name, f"dcr{n}", f"dcs{n}",
                                 self.gateway, self.private)
            subprocess.run(self.router.prefix() + ["sysctl", "-qw", "net.ipv4.ip_forward=1"], check=True)
            rules = (
                "table ip diemcau_nat {\n"
                " chain pre { type nat hook prerouting priority dstnat; "
                f"ip daddr {self.public} dnat to {self.private}; }}\n"
                " chain post { type nat hook postrouting priority srcnat; "
                f"ip saddr {self.private} snat to {self.public}; }}\n"
                "}\n"
            )
            subprocess.run(self.router.prefix() + ["nft", "-f", "-"], input=rules, text=True,
                           check=True, capture_output=True)
        except Exception:
            self.close()
            raise

    def close(self):
        if self.server is not None:
            self.server.close()
        self.router.close()


class _Inner:
    """A namespace linked to another namespace (not to this one)."""

    def __init__(self, name, outer_ns, outer_if, inner_if, gateway, address):
        self.name = name
        self.outer_ns = outer_ns
        self.outer_if = outer_if
        _ip("netns", "add", name)
        try:
            _ip("link", "add", outer_if, "type", "veth", "peer", "name", inner_if)
            _ip("link", "set", outer_if, "netns", outer_ns)
            _ip("link", "set", inner_if, "netns", name)
            _ip("netns", "exec", outer_ns, "ip", "addr", "add", f"{gateway}/30", "dev", outer_if)
            _ip("netns", "exec", outer_ns, "ip", "link", "set", outer_if, "up")
            _ip("netns", "exec", name, "ip", "addr", "add", f"{address}/30", "dev", inner_if)
            _ip("netns", "exec", name, "ip", "link", "set", inner_if, "up")
            _ip("netns", "exec", name, "ip", "link", "set", "lo", "up")
            _ip("netns", "exec", name, "ip", "route", "add", "default", "via", gateway)
        except Exception:
            self.close()
            raise

    def prefix(self):
        return ["ip", "netns", "exec", self.name]

    def close(self):
        _ip("netns", "exec", self.outer_ns, "ip", "link", "del", self.outer_if, check=False)
        _ip("netns", "del", self.name, check=False)
