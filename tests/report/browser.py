"""A headless Debian Chromium driven over the Chrome DevTools Protocol (CDP), for the browser tests.

Why hand-written: the protocol needs five commands here (navigate, evaluate, screenshot), which one
WebSocket client (``websocket-client``, pure Python) covers; Selenium would add chromedriver and
Playwright a bundled browser download (impossible without internet). How: Chromium starts with
``--remote-debugging-port`` on a free port and a throw-away profile; its page target's WebSocket URL
comes from ``/json/list``; each command is a JSON message with an id, answered by the message with
that id (events in between are skipped).
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import websocket


def find_chromium() -> str | None:
    """Debian's ``chromium`` (or ``chromium-browser``) on PATH; None when not installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    """``with Browser(tmp) as b: b.open(url); b.js("document.title"); b.screenshot(path)``."""

    def __init__(self, profile_dir: Path, width: int = 1280, height: int = 900, timeout: float = 60.0):
        exe = find_chromium()
        if exe is None:
            raise RuntimeError("chromium is not installed")
        port = _free_port()
        self.proc = subprocess.Popen(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
             "--hide-scrollbars", f"--window-size={width},{height}", f"--remote-debugging-port={port}",
             "--remote-allow-origins=*", f"--user-data-dir={profile_dir}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.timeout, self._id = timeout, 0
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as r:
                    pages = [t for t in json.load(r) if t.get("type") == "page"]
                if pages:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("chromium did not open its DevTools port")
            time.sleep(0.2)
        self.ws = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=timeout, suppress_origin=True)

    def send(self, method: str, **params) -> dict:
        """One CDP command; its ``result`` (a protocol error raises RuntimeError)."""
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def js(self, expression: str):
        """Evaluate JavaScript in the page and return its (JSON) value; a thrown exception raises."""
        res = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in res:
            raise RuntimeError(f"javascript failed: {res['exceptionDetails'].get('text')} in {expression[:80]!r}")
        return res["result"].get("value")

    def open(self, url: str) -> None:
        """Navigate and wait until the document and its images have loaded."""
        self.send("Page.enable")
        self.send("Page.navigate", url=url)
        deadline = time.monotonic() + self.timeout
        while not (self.js("document.readyState") == "complete" and
                   self.js("Array.from(document.images).every(i => i.complete)")):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not finish loading")
            time.sleep(0.1)

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", format="png")["data"]
        Path(path).write_bytes(base64.b64decode(data))
        return Path(path)

    def close(self) -> None:
        ws = getattr(self, "ws", None)
        if ws is not None:
            ws.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
