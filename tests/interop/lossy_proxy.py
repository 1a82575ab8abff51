"""A UDP proxy that makes one client's downstream a bad provincial line.

The kernel here has no netem, so the line is made in user space: the
client is told (in the server's answer) to send to the proxy, which relays
both ways. Towards the client every datagram waits 100 ± 50 ms (so packets
overtake each other, as jitter makes them) and, while `lossy` is set, one
RTP packet in ten is dropped by sequence number (a retransmission of a
dropped packet is dropped too only if it reuses its number; RTX does not).
STUN, DTLS and RTCP are never dropped, so the link stays up.
"""

import asyncio
import random


def is_rtp(datagram):
    return len(datagram) >= 12 and 128 <= datagram[0] <= 191 and not 192 <= datagram[1] <= 223


class LossyProxy:
    def __init__(self, bind_ip, server, loss=0.10, delay=0.100, jitter=0.050, seed=7):
        self.bind_ip = bind_ip
        self.server = server
        self.loss = loss
        self.delay = delay
        self.jitter = jitter
        self.random = random.Random(seed)
        self.lossy = True
        self.client = None
        self.front = None
        self.back = None
        self.dropped = 0
        self.relayed_down = 0
        self.pending = set()

    async def start(self):
        loop = asyncio.get_running_loop()
        proxy = self

        class Front(asyncio.DatagramProtocol):
            def datagram_received(self, data, addr):
                proxy.client = addr
                if proxy.back is not None:
                    proxy.back.sendto(data, proxy.server)

        class Back(asyncio.DatagramProtocol):
            def datagram_received(self, data, addr):
                proxy._down(data)

        self.front, _ = await loop.create_datagram_endpoint(Front, local_addr=(self.bind_ip, 0))
        self.back, _ = await loop.create_datagram_endpoint(Back, local_addr=(self.bind_ip, 0))
        return self.front.get_extra_info("sockname")

    def _down(self, data):
        if self.client is None:
            return
        if self.lossy and is_rtp(data) and self.random.random() < self.loss:
            self.dropped += 1
            return
        wait = self.delay + self.random.uniform(-self.jitter, self.jitter) if self.lossy else 0
        self.relayed_down += 1
        handle = asyncio.get_running_loop().call_later(wait, self._send_down, data)
        self.pending.add(handle)

    def _send_down(self, data):
        if self.front is not None and self.client is not None:
            self.front.sendto(data, self.client)

    def close(self):
        for handle in self.pending:
            handle.cancel()
        for transport in (self.front, self.back):
            if transport is not None:
                transport.close()


def point_answer_at(sdp, addr):
    """The server's answer with its candidates replaced by the proxy's one
    (component 1, once per m-section)."""
    ip, port = addr[0], addr[1]
    out = []
    placed = False
    for line in sdp.splitlines():
        if line.startswith("m="):
            placed = False
        if line.startswith("a=candidate:"):
            fields = line.split()
            if placed or fields[1] != "1":
                continue
            fields[4], fields[5] = ip, str(port)
            line = " ".join(fields)
            placed = True
        out.append(line)
    return "\r\n".join(out) + "\r\n"
