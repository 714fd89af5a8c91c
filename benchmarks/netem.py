"""An emulated network path (delay, jitter, loss) between this host and a namespace of its own.

The kernel's ``netem`` queueing discipline is the usual tool, but kernels built without
``CONFIG_NET_SCH_NETEM`` (many sandboxes and CI machines) refuse ``tc qdisc add … netem``.
This module does the same job in user space: a network namespace with one TUN device,
a TUN device on the host side, and a forwarding thread between the two that delays each IP
packet by a normal draw (``delay``, ``jitter`` as standard deviation, clipped at zero, like
``netem delay D J distribution normal``) and drops a ``loss`` fraction, independently in each
direction. As with ``netem``, packets drawn a shorter delay overtake earlier ones unless
``reorder`` is off (then a packet never leaves before the one ahead of it: queueing jitter).

The namespace has no default route: it reaches only the host's TUN address. Everything is
removed on :meth:`NetemLink.close` (the TUN devices vanish with their file descriptors).

Needs root (``ip netns add``); :func:`netns_permitted` says whether it can run here.
"""

from __future__ import annotations

import fcntl
import heapq
import os
import random
import selectors
import struct
import subprocess
import threading
import time
from dataclasses import dataclass

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
MTU = 1500


@dataclass(frozen=True)
class Impairment:
    """One direction's network condition (``netem delay D J distribution normal loss L%``).

    Attributes:
        name: Label in the table.
        delay_ms: Mean one-way delay added.
        jitter_ms: Standard deviation of the added delay.
        loss: Fraction of packets dropped (0.02 = 2%).
        reorder: Let a packet drawn a shorter delay overtake earlier ones (netem does).
    """

    name: str
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    loss: float = 0.0
    reorder: bool = True

    def draw(self, rng: random.Random) -> float | None:
        """Seconds to hold one packet, or None to drop it."""
        if self.loss and rng.random() < self.loss:
            return None
        if not self.jitter_ms:
            return self.delay_ms / 1000.0
        return max(0.0, rng.gauss(self.delay_ms, self.jitter_ms)) / 1000.0

    def describe(self) -> str:
        """The ``netem`` arguments this stands for."""
        if not (self.delay_ms or self.jitter_ms or self.loss):
            return "none"
        text = f"delay {self.delay_ms:g}ms {self.jitter_ms:g}ms distribution normal"
        text += f" loss {self.loss * 100:g}%"
        return text + ("" if self.reorder else " (in order)")


def netns_permitted() -> bool:
    """Whether this process may create network namespaces and TUN devices (root, tools)."""
    if os.geteuid() != 0 or not os.path.exists("/dev/net/tun"):
        return False
    try:
        out = subprocess.run(["ip", "netns", "list"], capture_output=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0


def _open_tun(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    except OSError:
        os.close(fd)
        raise
    return fd


def _ip(*args: str, netns: str | None = None, check: bool = True) -> None:
    cmd = ["ip", "netns", "exec", netns, "ip", *args] if netns else ["ip", *args]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {result.stderr.strip()}")


class NetemLink:
    """A namespace reachable over an impaired path; a context manager that always cleans up.

    ``host_addr`` is this host's end (a server bound there is reachable from the namespace
    and nothing else is), ``peer_addr`` the namespace's. Run a command inside with
    ``["ip", "netns", "exec", link.netns, ...]``. Change the condition between calls with
    :meth:`set_condition`.
    """

    def __init__(
        self,
        netns: str = "echo-jitter",
        *,
        host_addr: str = "10.77.0.1",
        peer_addr: str = "10.77.0.2",
        prefix: int = 24,
        seed: int = 7,
    ):
        self.netns = netns
        self.host_addr = host_addr
        self.peer_addr = peer_addr
        self.prefix = prefix
        self.condition = Impairment("clean")
        self.forwarded = {"to_peer": 0, "to_host": 0}
        self.dropped = {"to_peer": 0, "to_host": 0}
        self._rng = random.Random(seed)
        self._fds: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def set_condition(self, condition: Impairment) -> None:
        """Apply ``condition`` to both directions from now on (counters reset)."""
        with self._lock:
            self.condition = condition
            self.forwarded = {"to_peer": 0, "to_host": 0}
            self.dropped = {"to_peer": 0, "to_host": 0}

    def open(self) -> NetemLink:
        """Create the namespace, the TUN pair and the forwarder."""
        _ip("netns", "del", self.netns, check=False)  # a leftover of a killed run
        host_dev, peer_dev = f"{self.netns[:10]}-h", f"{self.netns[:10]}-p"
        try:
            _ip("netns", "add", self.netns)
            self._fds["host"] = _open_tun(host_dev)
            self._fds["peer"] = _open_tun(peer_dev)
            _ip("link", "set", peer_dev, "netns", self.netns)
            _ip("addr", "add", f"{self.host_addr}/{self.prefix}", "dev", host_dev)
            _ip("link", "set", host_dev, "mtu", str(MTU), "up")
            _ip("addr", "add", f"{self.peer_addr}/{self.prefix}", "dev", peer_dev, netns=self.netns)
            _ip("link", "set", peer_dev, "mtu", str(MTU), "up", netns=self.netns)
            _ip("link", "set", "lo", "up", netns=self.netns)
        except BaseException:
            self.close()
            raise
        self._thread = threading.Thread(target=self._forward, name="netem", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop forwarding, close the TUN devices, delete the namespace."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
        _ip("netns", "del", self.netns, check=False)

    def __enter__(self) -> NetemLink:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def _forward(self) -> None:
        host, peer = self._fds["host"], self._fds["peer"]
        routes = {host: (peer, "to_peer"), peer: (host, "to_host")}
        queue: list[tuple[float, int, int, bytes]] = []  # (due, order, out fd, packet)
        last_due = {"to_peer": 0.0, "to_host": 0.0}
        order = 0
        with selectors.DefaultSelector() as sel:
            sel.register(host, selectors.EVENT_READ)
            sel.register(peer, selectors.EVENT_READ)
            while not self._stop.is_set():
                timeout = 0.05 if not queue else max(0.0, queue[0][0] - time.monotonic())
                for key, _ in sel.select(min(timeout, 0.05)):
                    out, direction = routes[key.fd]
                    while True:
                        try:
                            packet = os.read(key.fd, 65535)
                        except BlockingIOError:
                            break
                        with self._lock:
                            cond = self.condition
                            hold = cond.draw(self._rng)
                            if hold is None:
                                self.dropped[direction] += 1
                                continue
                            self.forwarded[direction] += 1
                        due = time.monotonic() + hold
                        if not cond.reorder:
                            due = max(due, last_due[direction])
                        last_due[direction] = due
                        order += 1
                        heapq.heappush(queue, (due, order, out, packet))
                now = time.monotonic()
                while queue and queue[0][0] <= now:
                    _, _, out, packet = heapq.heappop(queue)
                    try:
                        os.write(out, packet)
                    except OSError:
                        pass  # the device went down: the packet is lost, as on a wire
