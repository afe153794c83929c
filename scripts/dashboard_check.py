"""Drive the admin dashboard in headless Chromium (Playwright) while traffic flows, for
tests/dashboard.rs.

    python3 scripts/dashboard_check.py ADMIN_URL TOKEN GATEWAY_URL SCREENSHOT

Sends traffic to GATEWAY_URL from a thread (GET /hello, /missing, /boom in a fixed mix), loads
ADMIN_URL/dashboard#token=TOKEN, and prints one JSON object:

- "rps_while_flowing": the Requests tile (req/s) read while the traffic flowed;
- "page": what the page shows after the traffic stopped and it polled again — per route row
  (api, stage, method, resource) the Count, 4XX and 5XX cells, and the Total requests tile;
- "metrics": GET ADMIN_URL/metrics.json read at that same quiet moment;
- "sent": requests the thread sent, "errors": page or console errors seen.

The screenshot (taken while traffic flows) is written to SCREENSHOT."""

import http.client
import json
import shutil
import sys
import threading
import time
import urllib.parse
import urllib.request

from playwright.sync_api import sync_playwright

MIX = ["/hello", "/hello", "/hello", "/missing", "/boom"]


def traffic(gateway, stop, sent):
    u = urllib.parse.urlsplit(gateway)
    conn = None
    i = 0
    while not stop.is_set():
        try:
            if conn is None:
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
            conn.request("GET", MIX[i % len(MIX)])
            conn.getresponse().read()
            sent[0] += 1
            i += 1
            time.sleep(0.002)
        except (OSError, http.client.HTTPException):
            conn = None
            time.sleep(0.05)


def metrics(admin, token):
    req = urllib.request.Request(
        f"{admin}/metrics.json", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.load(r)


def wait_body(page, attr, ok, timeout=20.0):
    """Poll <body data-ATTR> from here until ok(value): Playwright's wait_for_function would
    eval a string in the page, which the dashboard's Content-Security-Policy forbids."""
    deadline = time.time() + timeout
    while True:
        value = page.get_attribute("body", f"data-{attr}")
        if value is not None and ok(float(value)):
            return
        if time.time() > deadline:
            raise TimeoutError(f"<body data-{attr}> was {value!r} after {timeout} s")
        time.sleep(0.1)


def number(text):
    text = text.strip().replace(",", "")
    return None if text in ("", "–") else float(text)


def main():
    admin, token, gateway, shot = sys.argv[1:5]
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("no chromium on PATH (scripts/test.sh installs Debian's chromium)")
    stop, sent, errors = threading.Event(), [0], []
    t = threading.Thread(target=traffic, args=(gateway, stop, sent), daemon=True)
    t.start()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
            page.on(
                "console",
                lambda m: m.type == "error" and errors.append(f"console: {m.text}"),
            )
            page.goto(f"{admin}/dashboard#token={token}")
            # Three polls with traffic flowing: the rate tiles have two snapshots to compare.
            wait_body(page, "polls", lambda n: n >= 3)
            rps = number(page.inner_text("#t-rps"))
            page.screenshot(path=shot, full_page=True)
            state = page.inner_text("#state")
            stop.set()
            t.join(timeout=10)
            # Quiet now: wait until the page has shown a poll made after the last request,
            # then read the page and the endpoint.
            time.sleep(0.5)
            after = time.time()
            wait_body(page, "time", lambda t: t > after)
            rows = page.eval_on_selector_all(
                "#routes tbody tr[data-api]",
                """rows => rows.map(r => ({
                    api: r.dataset.api, stage: r.dataset.stage, resource: r.dataset.resource,
                    method: r.dataset.method,
                    Count: r.querySelector('[data-field=Count]').textContent,
                    '4XXError': r.querySelector('[data-field="4XXError"]').textContent,
                    '5XXError': r.querySelector('[data-field="5XXError"]').textContent,
                }))""",
            )
            for r in rows:
                for f in ("Count", "4XXError", "5XXError"):
                    r[f] = number(r[f])
            total = number(page.inner_text("#t-count"))
            m = metrics(admin, token)
        finally:
            browser.close()
    print(
        json.dumps(
            {
                "rps_while_flowing": rps,
                "state_while_flowing": state,
                "page": {"rows": rows, "total": total},
                "metrics": m,
                "sent": sent[0],
                "errors": errors,
            }
        )
    )


if __name__ == "__main__":
    main()
