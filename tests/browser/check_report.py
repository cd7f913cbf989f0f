#!/usr/bin/env python3
"""Opens an HTML report in headless Chromium and checks it as a reader's browser sees it.

Usage: check_report.py REPORT.html SCREENSHOT.png [WIDTH HEIGHT]

Drives Chromium through the DevTools protocol over a pipe (--remote-debugging-pipe:
no port, no network), loads the file, and fails (exit 1) on any console error or
warning, uncaught exception, log entry of level error (a Content-Security-Policy
violation, a resource that failed to load), or request for anything but the file
itself and data: URLs. It also checks that the page has no script, that it has
charts, and that every chart outside a closed <details> is drawn at a real size;
then saves a WIDTH x HEIGHT screenshot of the top of the page (default 1280x2400).
Exit 77 when Chromium is not installed (the caller skips).
"""

import base64
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TIMEOUT_S = 90


def find_chromium():
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


class Browser:
    def __init__(self, exe, width, height):
        self.profile = tempfile.mkdtemp(prefix="pesim-chromium-")
        # Chromium reads commands on fd 3 and writes replies on fd 4.
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()

        def fds():
            a, b = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        args = [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--no-first-run",
            "--no-default-browser-check",
            "--mute-audio",
            f"--user-data-dir={self.profile}",
            f"--window-size={width},{height}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        self.proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            preexec_fn=fds, pass_fds=(3, 4),
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.deadline = time.monotonic() + TIMEOUT_S

    def _read_message(self, timeout):
        while b"\0" not in self.buf:
            left = min(timeout, self.deadline - time.monotonic())
            if left <= 0:
                return None
            ready, _, _ = select.select([self.from_chrome], [], [], left)
            if not ready:
                return None
            chunk = os.read(self.from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method, params=None, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._read_message(self.deadline - time.monotonic())
            if reply is None:
                raise RuntimeError(f"no reply to {method} within {TIMEOUT_S} s")
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method, timeout):
        end = time.monotonic() + timeout
        while True:
            for e in self.events:
                if e.get("method") == method:
                    return e
            left = end - time.monotonic()
            if left <= 0:
                return None
            msg = self._read_message(left)
            if msg is not None:
                self.events.append(msg)

    def drain(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            msg = self._read_message(end - time.monotonic())
            if msg is not None:
                self.events.append(msg)

    def close(self):
        try:
            self.send("Browser.close")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


def problems_in(events, page_url):
    problems = []
    for e in events:
        m, p = e.get("method"), e.get("params", {})
        if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert", "warning"):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            problems.append(f"console.{p['type']}: {text}")
        elif m == "Runtime.exceptionThrown":
            problems.append(f"uncaught exception: {p.get('exceptionDetails', {}).get('text')}")
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") in ("error", "warning"):
            entry = p["entry"]
            problems.append(f"log {entry.get('level')} ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}")
        elif m == "Network.requestWillBeSent":
            url = p.get("request", {}).get("url", "")
            if url != page_url and not url.startswith("data:"):
                problems.append(f"the page requested {url}")
        elif m == "Network.loadingFailed":
            problems.append(f"a request failed: {p.get('errorText')}")
    return problems


def main():
    if len(sys.argv) not in (3, 5):
        print(__doc__)
        return 2
    report = Path(sys.argv[1]).resolve()
    shot = Path(sys.argv[2])
    width, height = (int(sys.argv[3]), int(sys.argv[4])) if len(sys.argv) == 5 else (1280, 2400)
    exe = find_chromium()
    if not exe:
        print("SKIP: chromium is not installed (on Debian: apt-get install -y chromium)")
        return 77
    page_url = report.as_uri()
    b = Browser(exe, width, height)
    try:
        target = b.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = b.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Page", "Network"):
            b.send(f"{domain}.enable", session=session)
        b.send("Emulation.setDeviceMetricsOverride",
               {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session=session)
        b.events.clear()
        b.send("Page.navigate", {"url": page_url}, session=session)
        if b.wait_for("Page.loadEventFired", 30) is None:
            print("FAIL: the page did not finish loading within 30 s")
            return 1
        b.drain(1.0)
        check = b.send("Runtime.evaluate", {
            "returnByValue": True,
            "expression": """JSON.stringify({
                scripts: document.scripts.length,
                svgs: document.querySelectorAll('svg').length,
                titled: document.querySelectorAll('svg > title').length,
                flat: [...document.querySelectorAll('svg')]
                    .filter(s => !s.closest('details:not([open])'))
                    .filter(s => { const r = s.getBoundingClientRect(); return r.width < 50 || r.height < 20; }).length,
                sections: [...document.querySelectorAll('section[id]')].map(s => s.id),
                height: document.documentElement.scrollHeight,
            })""",
        }, session=session)
        dom = json.loads(check["result"]["value"])
        shot_data = b.send("Page.captureScreenshot", {"format": "png"}, session=session)["data"]
        b.drain(0.3)
        problems = problems_in(b.events, page_url)
    finally:
        b.close()
    shot.parent.mkdir(parents=True, exist_ok=True)
    shot.write_bytes(base64.b64decode(shot_data))
    print(f"page: {page_url}")
    print(f"dom: {json.dumps(dom)}")
    print(f"screenshot: {shot} ({width}x{height})")
    if dom["scripts"] != 0:
        problems.append(f"the page has {dom['scripts']} script element(s)")
    if dom["svgs"] == 0 or dom["titled"] != dom["svgs"]:
        problems.append(f"{dom['svgs']} charts, {dom['titled']} with a <title>")
    if dom["flat"]:
        problems.append(f"{dom['flat']} visible chart(s) drawn with no size")
    for p in problems:
        print(f"PROBLEM: {p}")
    if problems:
        return 1
    print("OK: no console error, no request, no script; every visible chart drawn")
    return 0


if __name__ == "__main__":
    sys.exit(main())
