#!/usr/bin/env python3
"""Opens an HTML report in headless Chromium (the Debian package `chromium`)
over the DevTools protocol on a pipe (--remote-debugging-pipe: no port, no
extra Python module), and prints one JSON object: every network request the
page made besides its own file, every console message, exception and log
entry (a Content-Security-Policy violation is one), the page's text, and
writes a PNG screenshot of its top.

usage: report_browser.py REPORT.html SCREENSHOT.png
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import base64


def main():
    page, png = os.path.abspath(sys.argv[1]), sys.argv[2]
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        print(json.dumps({"skip": "chromium is not installed (scripts/ensure-deps.sh installs it)"}))
        return
    profile = tempfile.mkdtemp(prefix="sockscope-chromium-")
    to_chrome_r, to_chrome_w = os.pipe()
    from_chrome_r, from_chrome_w = os.pipe()

    def child_fds():
        # Chromium reads commands on fd 3 and answers on fd 4; the pipes'
        # own numbers may be 3 or 4, so move them out of the way first.
        a, b = os.dup(to_chrome_r), os.dup(from_chrome_w)
        os.dup2(a, 3)
        os.dup2(b, 4)

    proc = subprocess.Popen(
        [
            browser, "--headless=new", "--no-sandbox", "--disable-gpu",
            "--remote-debugging-pipe", f"--user-data-dir={profile}", "--no-first-run",
            "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-default-apps", "--window-size=1100,900",
            "about:blank",
        ],
        pass_fds=(3, 4),
        preexec_fn=child_fds,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(to_chrome_r)
    os.close(from_chrome_w)
    out = os.fdopen(to_chrome_w, "wb", buffering=0)
    inp = os.fdopen(from_chrome_r, "rb", buffering=0)
    buf = b""
    events = []
    next_id = [0]

    def read_message(deadline):
        nonlocal buf
        while b"\0" not in buf:
            if time.time() > deadline:
                raise TimeoutError("no answer from chromium")
            chunk = inp.read(65536)
            if not chunk:
                raise EOFError("chromium went away")
            buf += chunk
        msg, _, buf = buf.partition(b"\0")
        return json.loads(msg)

    def call(method, params=None, session=None, timeout=30):
        next_id[0] += 1
        msg = {"id": next_id[0], "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        out.write(json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            m = read_message(deadline)
            if m.get("id") == next_id[0]:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            events.append(m)

    def wait_for(method, timeout=30):
        deadline = time.time() + timeout
        for m in events:
            if m.get("method") == method:
                return m
        while True:
            m = read_message(deadline)
            events.append(m)
            if m.get("method") == method:
                return m

    try:
        target = call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ["Network", "Runtime", "Log", "Page"]:
            call(f"{domain}.enable", session=session)
        url = "file://" + page
        call("Page.navigate", {"url": url}, session=session)
        wait_for("Page.loadEventFired")
        # Anything late (there is no script, so there should be nothing).
        call("Runtime.evaluate", {"expression": "new Promise(r => setTimeout(r, 300))", "awaitPromise": True}, session=session)
        text = call(
            "Runtime.evaluate",
            {"expression": "document.body.innerText", "returnByValue": True},
            session=session,
        )["result"]["value"]
        height = call("Runtime.evaluate", {"expression": "document.documentElement.scrollHeight", "returnByValue": True}, session=session)["result"]["value"]
        shot = call(
            "Page.captureScreenshot",
            {"format": "png", "captureBeyondViewport": True,
             "clip": {"x": 0, "y": 0, "width": 1100, "height": min(int(height), 2400), "scale": 1}},
            session=session,
            timeout=60,
        )
        with open(png, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        requests = [
            e["params"]["request"]["url"]
            for e in events
            if e.get("method") == "Network.requestWillBeSent" and e["params"]["request"]["url"] != url
        ]
        console = [
            e["params"].get("type", "") + ": " + json.dumps(e["params"].get("args", []))
            for e in events if e.get("method") == "Runtime.consoleAPICalled"
        ] + [
            "exception: " + json.dumps(e["params"]) for e in events if e.get("method") == "Runtime.exceptionThrown"
        ] + [
            e["params"]["entry"]["level"] + ": " + e["params"]["entry"].get("text", "")
            for e in events if e.get("method") == "Log.entryAdded"
        ]
        print(json.dumps({"requests": requests, "console": console, "text": text, "height": height}))
        try:
            call("Browser.close", timeout=5)
        except Exception:
            pass
    finally:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
