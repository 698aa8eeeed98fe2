"""Headless Chromium driven over the DevTools protocol: open a page, click, read the result, as
a person at a browser would (no JavaScript of the page is needed; the clicks submit real forms)."""
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request

import pytest
import websocket

from conftest import free_port


class Browser:
    def __init__(self):
        binary = shutil.which("chromium") or shutil.which("chromium-browser")
        if not binary:
            pytest.fail("Chromium is not installed: run .ci/run or apt-get install chromium", pytrace=False)
        self.port = free_port()
        self.profile = tempfile.mkdtemp(prefix="helpdesk-chromium-")
        self.process = subprocess.Popen([binary, "--headless", "--no-sandbox", "--disable-gpu", f"--remote-debugging-port={self.port}",
                                         f"--user-data-dir={self.profile}", "--window-size=414,896", "about:blank"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json", timeout=1))
                page = next(t for t in targets if t["type"] == "page")
                self.socket = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30, suppress_origin=True)
                break
            except Exception:
                time.sleep(0.2)
        else:
            self.close()
            pytest.fail("Chromium's DevTools endpoint did not come up", pytrace=False)
        self.next_id = 0

    def send(self, method, **params):
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                return message.get("result", {})

    def open(self, url):
        self.send("Page.enable")
        self.send("Page.navigate", url=url)
        self.wait_for_load()

    def wait_for_load(self, timeout=15):
        """Waits until the page's readyState is "complete"; fails naming the page and its state when it is not in time."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.evaluate("document.readyState")
            if state == "complete":
                return
            if time.monotonic() >= deadline:
                pytest.fail(f"the page did not finish loading within {timeout}s: at {self.evaluate('location.href')} "
                            f"document.readyState is {state!r}", pytrace=False)
            time.sleep(0.1)

    def evaluate(self, expression):
        return self.send("Runtime.evaluate", expression=expression, returnByValue=True).get("result", {}).get("value")

    def click(self, selector):
        self.evaluate(f"document.querySelector({json.dumps(selector)}).click()")
        time.sleep(0.5)
        self.wait_for_load()

    def screenshot(self, path):
        import base64
        data = self.send("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as file:
            file.write(base64.b64decode(data))

    # Navigation that is known to have happened: a marker set on the old page is gone on the new one
    # (readyState alone may still read "complete" from the page being left).
    MARK = "window.__helpdeskTestPage"

    def navigate(self, action, timeout=20):
        """Runs the JavaScript `action` (a click, a submit) and waits until the next page has loaded."""
        self.evaluate(f"{self.MARK} = true")
        self.evaluate(action)
        self._wait_for_new_page(timeout, f"no page loaded after {action}")

    def goto(self, url, timeout=20):
        self.send("Page.enable")
        self.evaluate(f"{self.MARK} = true")
        self.send("Page.navigate", url=url)
        self._wait_for_new_page(timeout, f"{url} did not load")

    def _wait_for_new_page(self, timeout, message):
        self.wait_for(f"{self.MARK} === undefined && document.readyState === 'complete'", timeout, message)

    def wait_for(self, expression, timeout=15, message=None, interval=0.2):
        """Polls the JavaScript `expression` until it is truthy and returns its value; fails naming what was awaited
        and where the page is."""
        deadline = time.monotonic() + timeout
        # A DOM node comes back by value as {}, which Python reads as false: a node found counts as true.
        probe = f"(value => (typeof Node !== 'undefined' && value instanceof Node) ? true : value)({expression})"
        while True:
            value = self.evaluate(probe)
            if value:
                return value
            if time.monotonic() >= deadline:
                where = self.evaluate("location.href")
                text = self.evaluate("document.body ? document.body.innerText : ''") or ""
                pytest.fail(f"{message or expression} (waited {timeout}s) at {where}; the page reads:\n{text[:3000]}", pytrace=False)
            time.sleep(interval)

    def url(self):
        return self.evaluate("location.href")

    def text(self, selector="body"):
        """A selected element's innerText, or None when nothing matches."""
        return self.evaluate(f"(e => e ? e.innerText : null)(document.querySelector({json.dumps(selector)}))")

    def fill(self, selector, value):
        self.evaluate(f"document.querySelector({json.dumps(selector)}).value = {json.dumps(value)}")

    def set_viewport(self, width, height, mobile=False, scale=1):
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=scale, mobile=mobile)
        time.sleep(0.3)  # a layout pass at the new size

    def cookies(self, url):
        """The cookies the browser holds for `url`, as DevTools reports them (name, value, httpOnly, secure, sameSite)."""
        return self.send("Network.getCookies", urls=[url]).get("cookies", [])

    def close(self):
        try:
            self.socket.close()
        except Exception:
            pass
        self.process.kill()
        self.process.wait(timeout=10)
        shutil.rmtree(self.profile, ignore_errors=True)
