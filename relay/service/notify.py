"""Tell systemd how the service is doing: the sd_notify(3) protocol, stdlib only.

The protocol is one datagram of newline-separated `KEY=VALUE` lines sent to the AF_UNIX
SOCK_DGRAM socket named in $NOTIFY_SOCKET: a file system path, or an abstract socket written
with a leading `@`. That is a few lines, so board-relay does not depend on the PyPI `sdnotify`
package (abandoned) or on libsystemd bindings (a C build for one `sendto`).

Outside systemd (a terminal, a container, the tests) $NOTIFY_SOCKET is unset and every call is
a no-op that returns False, so callers never need to ask where they run.

systemd accepts messages only from the unit's main process (NotifyAccess=main): call these from
the `relay` process itself, never from a helper process or a shell wrapper around it.

This module knows nothing of the scheduler, the config or logging; the daemon decides when to
call it and what to do with a False.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping

# A send never waits longer than this: the daemon calls these from its event loop, and a stuck
# manager must not stall polling. systemd drains its socket promptly, so this never fires
# in practice.
SEND_TIMEOUT = 1.0


def _address(value: str) -> str | None:
    """The socket address for $NOTIFY_SOCKET, or None for one we do not support.

    `@name` is Linux's abstract namespace, spelt with a leading NUL on the wire. Like
    sd_notify, a relative path is refused. (systemd 253+ may also hand out `vsock:` addresses,
    for virtual machines; board-relay does not run there.)
    """
    if value.startswith("@") and len(value) > 1:
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    return None


def notify(state: str, *, environ: Mapping[str, str] | None = None) -> bool:
    """Send `state` (one or more `KEY=VALUE` lines) to systemd.

    Returns True when the datagram was sent; False when $NOTIFY_SOCKET is unset or unusable or
    the send failed. It never raises: a lost status message must not take the service down
    (a lost READY=1 or WATCHDOG=1 is noticed by systemd itself, which restarts the service).
    """
    env = os.environ if environ is None else environ
    address = _address(env.get("NOTIFY_SOCKET", ""))
    if address is None:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.settimeout(SEND_TIMEOUT)
            sock.sendto(state.encode("utf-8"), address)
    except OSError:
        return False
    return True


def ready(*, environ: Mapping[str, str] | None = None) -> bool:
    """Startup (or a reload) is finished: `systemctl start` returns and dependents start."""
    return notify("READY=1", environ=environ)


def stopping(*, environ: Mapping[str, str] | None = None) -> bool:
    """Shutdown has begun (sent on SIGTERM), so systemd shows "deactivating" while we finish."""
    return notify("STOPPING=1", environ=environ)


def reloading(*, environ: Mapping[str, str] | None = None) -> bool:
    """A config reload has begun (on SIGHUP); send `ready()` again when it is done.

    MONOTONIC_USEC is CLOCK_MONOTONIC in microseconds: Type=notify-reload (systemd 253+) needs
    it to tell this reload from an earlier one, and plain Type=notify ignores it.
    """
    usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    return notify(f"RELOADING=1\nMONOTONIC_USEC={usec}", environ=environ)


def status(text: str, *, environ: Mapping[str, str] | None = None) -> bool:
    """One line for `systemctl status` ("3 boards, last poll 12:00:03 ok").

    A newline would end the STATUS= assignment and start a bogus one, so line breaks are
    folded to spaces.
    """
    line = " ".join(text.splitlines())
    return notify(f"STATUS={line}", environ=environ)


def watchdog(*, environ: Mapping[str, str] | None = None) -> bool:
    """Keep-alive for WatchdogSec=: send it every `watchdog_interval() / 2` seconds."""
    return notify("WATCHDOG=1", environ=environ)


def watchdog_interval(*, environ: Mapping[str, str] | None = None) -> float | None:
    """The watchdog period in seconds (WatchdogSec=), or None when no watchdog watches us.

    systemd sets WATCHDOG_USEC, and WATCHDOG_PID naming the process it is meant for: a child
    that inherited the environment must not take the parent's watchdog for its own. Values
    that are missing, malformed or not positive mean no watchdog.
    """
    env = os.environ if environ is None else environ
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    pid = env.get("WATCHDOG_PID")
    if pid is not None:
        try:
            if int(pid) != os.getpid():
                return None
        except ValueError:
            return None
    return usec / 1_000_000
