"""Drive headless Chromium over the DevTools protocol on a pipe (no websocket, no extra package).

``--remote-debugging-pipe`` makes Chromium read protocol commands from file descriptor 3 and
write replies and events to descriptor 4, one JSON message per NUL-terminated chunk. The
:class:`Chromium` context manager starts the browser with the network cut off (every host name
resolves to nothing; each tab also emulates "offline"), and :class:`Tab` opens one page in a
fresh tab and records every request it made.
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CHROMIUM_FLAGS", "ProtocolError", "Chromium", "Tab", "Request"]

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check",
    "--hide-scrollbars", "--mute-audio", "--disable-extensions",
    # The network is off: no host name resolves (each tab also emulates being offline).
    "--host-resolver-rules=MAP * ~NOTFOUND",
)


class ProtocolError(RuntimeError):
    """Chromium answered a command with an error, or did not answer in time."""


@dataclass
class Request:
    """One resource the page asked for, and how it ended."""

    url: str
    kind: str = ""
    failed: str = ""  # the browser's error text, e.g. "net::ERR_FILE_NOT_FOUND"


class Chromium:
    """A headless Chromium process spoken to over the DevTools pipe.

    Args:
        executable: path of the browser.
        width, height: viewport of every tab in CSS pixels.
        env: extra environment variables of the browser (e.g. ``FONTCONFIG_FILE``).
    """

    def __init__(self, executable: str, width: int = 1280, height: int = 1600,
                 env: dict[str, str] | None = None) -> None:
        self.executable, self.width, self.height = executable, width, height
        self.env = {**os.environ, **(env or {})}
        self._next_id = 0
        self._buffer = b""
        self._events: list[dict] = []
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> "Chromium":
        self._profile = tempfile.TemporaryDirectory(prefix="browser_check_")
        commands_r, commands_w = os.pipe()
        replies_r, replies_w = os.pipe()

        def on_descriptors_3_and_4() -> None:  # runs in the child before exec
            commands = fcntl.fcntl(commands_r, fcntl.F_DUPFD, 10)
            replies = fcntl.fcntl(replies_w, fcntl.F_DUPFD, 10)
            os.dup2(commands, 3)
            os.dup2(replies, 4)

        self._process = subprocess.Popen(
            [self.executable, *CHROMIUM_FLAGS, "--remote-debugging-pipe",
             f"--user-data-dir={self._profile.name}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=on_descriptors_3_and_4, close_fds=False, env=self.env)
        os.close(commands_r)
        os.close(replies_w)
        self._write, self._read = commands_w, replies_r
        self.call("Browser.getVersion", timeout=60)
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.call("Browser.close", timeout=10)
        except (ProtocolError, OSError):
            pass
        if self._process is not None:
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        for fd in (self._write, self._read):
            try:
                os.close(fd)
            except OSError:
                pass
        self._profile.cleanup()

    # ----------------------------------------------------------------- protocol

    def _receive(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._read], [], [], remaining)[0]:
                raise ProtocolError("Chromium did not answer in time")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise ProtocolError("Chromium closed the DevTools pipe (did it crash?)")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 30.0) -> dict:
        """Send one command and return its result; events that arrive meanwhile are kept."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise ProtocolError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            if "method" in reply:
                self._events.append(reply)

    def wait_for(self, event: str, session: str, timeout: float) -> dict:
        """Wait for ``event`` in ``session`` (earlier events of other kinds stay queued)."""
        deadline = time.monotonic() + timeout
        while True:
            for index, message in enumerate(self._events):
                if message["method"] == event and message.get("sessionId") == session:
                    return self._events.pop(index)
            self._events.append(self._receive(deadline))

    def take_events(self, session: str) -> list[dict]:
        """All queued events of ``session``, removed from the queue."""
        mine = [m for m in self._events if m.get("sessionId") == session]
        self._events = [m for m in self._events if m.get("sessionId") != session]
        return mine

    def open(self, url: str, timeout: float = 60.0) -> "Tab":
        """A fresh tab, offline, with ``url`` loaded (waits for the load event)."""
        return Tab(self, url, timeout)


@dataclass
class Tab:
    """One page in its own tab; ``requests`` lists every resource it asked for."""

    browser: Chromium
    url: str
    timeout: float = 60.0
    requests: list[Request] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    _by_id: dict[str, Request] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        call = self.browser.call
        self.target = call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = call("Target.attachToTarget",
                            {"targetId": self.target, "flatten": True})["sessionId"]
        for method in ("Page.enable", "Network.enable", "Runtime.enable"):
            call(method, session=self.session)
        call("Network.emulateNetworkConditions",
             {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
             session=self.session)
        call("Emulation.setDeviceMetricsOverride",
             {"width": self.browser.width, "height": self.browser.height,
              "deviceScaleFactor": 1, "mobile": False}, session=self.session)
        call("Page.navigate", {"url": self.url}, session=self.session)
        self.browser.wait_for("Page.loadEventFired", self.session, self.timeout)

    def evaluate(self, expression: str, timeout: float = 60.0):
        """Value of a JavaScript expression (promises are awaited), as JSON."""
        result = self.browser.call("Runtime.evaluate", {
            "expression": expression, "awaitPromise": True, "returnByValue": True,
            "timeout": int(timeout * 1000)}, session=self.session, timeout=timeout + 5)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise ProtocolError(f"script failed in {self.url}: {text}")
        return result["result"].get("value")

    def screenshot(self, path: Path, max_height: int = 16000) -> None:
        """PNG of the whole page (cut at ``max_height`` CSS pixels).

        The viewport is made as tall as the page for the capture (then restored):
        ``captureBeyondViewport`` on a page of ~10,000 px came out shifted sideways in
        most runs, with the sidebar and the left of the text cut off.
        """
        call = self.browser.call
        size = call("Page.getLayoutMetrics", session=self.session)["cssContentSize"]
        height = int(min(max(size["height"], 1), max_height))
        call("Emulation.setDeviceMetricsOverride", {
            "width": self.browser.width, "height": height, "deviceScaleFactor": 1,
            "mobile": False}, session=self.session)
        try:
            clip = {"x": 0, "y": 0, "width": self.browser.width, "height": height,
                    "scale": 1}
            data = call("Page.captureScreenshot", {"format": "png", "clip": clip},
                        session=self.session, timeout=self.timeout)["data"]
        finally:
            call("Emulation.clearDeviceMetricsOverride", session=self.session)
        Path(path).write_bytes(base64.b64decode(data))

    def collect(self) -> None:
        """Fold the network and script events seen so far into ``requests``/``exceptions``."""
        by_id = self._by_id
        for message in self.browser.take_events(self.session):
            params = message.get("params", {})
            method = message["method"]
            if method == "Network.requestWillBeSent":
                request = Request(params["request"]["url"], params.get("type", ""))
                by_id[params["requestId"]] = request
                self.requests.append(request)
            elif method == "Network.loadingFailed" and params["requestId"] in by_id:
                by_id[params["requestId"]].failed = params.get("errorText", "failed")
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                self.exceptions.append(details.get("exception", {}).get("description")
                                       or details.get("text", "exception"))

    def close(self) -> None:
        self.collect()
        self.browser.call("Target.closeTarget", {"targetId": self.target})
