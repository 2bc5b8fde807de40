#!/usr/bin/env python3
"""A real browser for the console's tests: headless Chromium driven
through chromedriver's W3C WebDriver protocol (plain HTTP and JSON, so
the standard library is enough).

  webdriver.py DRIVER_PORT SCRIPT_FILE

SCRIPT_FILE holds one step a line; each prints what it did, and the first
that fails exits 1 saying which:
  go URL                     load URL
  type CSS TEXT              type TEXT into the element CSS selects
  select CSS TEXT            choose the option whose text is TEXT
  click CSS                  click it (a form's button: the form is sent)
  has TEXT                   the page's source holds TEXT (waits up to 10 s)
  hasnt TEXT                 it does not
  url-ends TEXT              the page's address ends with TEXT
  shot FILE                  a screenshot (PNG) into FILE
  dom FILE                   the page's source into FILE
"""
import base64
import json
import sys
import time
import urllib.request

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"


class Driver:
    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--disable-gpu", "--no-sandbox",
                         "--window-size=1400,900", "--disable-dev-shm-usage"]}}}}
        self.sid = self.call("POST", "/session", caps)["sessionId"]

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return json.load(r)["value"]
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"{method} {path}: {e.read().decode()[:300]}")

    def s(self, path, body=None, method="POST"):
        return self.call(method, f"/session/{self.sid}{path}", body)

    def find(self, css):
        return self.s("/element", {"using": "css selector", "value": css})[ELEMENT]

    def source(self):
        return self.s("/source", method="GET")

    def quit(self):
        try:
            self.call("DELETE", f"/session/{self.sid}")
        except Exception:
            pass


def main():
    d = Driver(int(sys.argv[1]))
    ok = True
    try:
        for n, line in enumerate(open(sys.argv[2]), 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            op, _, rest = line.partition(" ")
            if op == "go":
                d.s("/url", {"url": rest})
            elif op in ("type", "select"):
                css, _, text = rest.partition(" ")
                el = d.find(css)
                if op == "type":
                    d.s(f"/element/{el}/clear", {})
                    d.s(f"/element/{el}/value", {"text": text})
                else:
                    opt = d.s(f"/element/{el}/element",
                              {"using": "xpath", "value": f".//option[text()='{text}']"})[ELEMENT]
                    d.s(f"/element/{opt}/click", {})
            elif op == "click":
                d.s(f"/element/{d.find(rest)}/click", {})
            elif op in ("has", "hasnt"):
                deadline = time.monotonic() + 10
                while True:
                    found = rest in d.source()
                    if found == (op == "has") or time.monotonic() > deadline:
                        break
                    time.sleep(0.2)
                if found != (op == "has"):
                    raise RuntimeError(f"the page {'lacks' if op == 'has' else 'holds'} {rest!r}: "
                                       f"{d.source()[:600]}")
            elif op == "url-ends":
                url = d.s("/url", method="GET")
                if not url.endswith(rest):
                    raise RuntimeError(f"at {url}, not ...{rest}")
            elif op == "shot":
                open(rest, "wb").write(base64.b64decode(d.s("/screenshot", method="GET")))
            elif op == "dom":
                open(rest, "w").write(d.source())
            else:
                raise RuntimeError(f"unknown step {op!r}")
            print(f"webdriver: {line}")
    except Exception as e:
        print(f"webdriver: step {n} ({line}) failed: {e}", file=sys.stderr)
        ok = False
    finally:
        d.quit()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
