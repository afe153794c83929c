"""The cache-hit scenario's origin-same-bytes row: a second bare tools/upstream answering with
the header lines and body of one response of a tollgate row (Leg.same_bytes: tollgate-cache-hit),
so that its responses have exactly that row's byte length.

Why: API Gateway's headers (x-amzn-Remapped-Content-Length, Content-Type, x-amzn-RequestId,
x-amz-apigw-id, Date) make tollgate's cache hit ~246 bytes where the origin row answers ~51, and
the kernel's copy of the larger send into the loopback socket costs any server CPU: the ratio
tollgate-cache-hit ÷ origin partly measures response size, ÷ origin-same-bytes does not.

The row is started after every other row (legs._persistent), once tollgate-cache-hit has
answered its pre-run check (which warmed its cache): one more GET to it gives the response to
copy (a cache hit). The copy is its header lines verbatim (that one response's Date and request
ids, frozen), but Content-Length, which tools/upstream writes itself (`content-length: N`, the
same length). Before it is measured its response must be exactly as long as tollgate's; else
the row is not measured and says why, like every other pre-run check."""

import os
import socket

from . import peers, procs

READ_MAX = 1 << 20  # a response to copy is small; more than this is not the cache-hit row's


def driving_order(leg, rows):
    """rows in the order each repetition drives them: their own order, but origin-same-bytes
    right after the tollgate row whose bytes it answers, so that the two rows issue 5's CPU
    bound compares run seconds apart, under the same state of the machine (which can move a
    process's kernel time by tens of percent for tens of seconds)."""
    same = [r for r in rows if r.target.kind == peers.SAME_BYTES]
    rest = [r for r in rows if r.target.kind != peers.SAME_BYTES]
    source = f"tollgate-{leg.same_bytes}"
    at = next((i + 1 for i, r in enumerate(rest) if r.target.name == source), len(rest))
    return rest[:at] + same + rest[at:]


def head_end(data):
    """The length of the head (through the blank line) in data, or None while incomplete."""
    i = data.find(b"\r\n\r\n")
    return None if i < 0 else i + 4


def split(data):
    """(status line, [header lines], body) of one whole response (as raw_get returns it)."""
    end = head_end(data)
    if end is None:
        raise ValueError(f"no complete response head in {data[:120]!r}")
    lines = data[: end - 4].decode("latin-1").split("\r\n")
    return lines[0], lines[1:], data[end:]


def response_length(data):
    """The whole length of the response starting data (head + Content-Length), or None while
    the head is incomplete; ValueError for what this module does not copy (no length, chunked)."""
    end = head_end(data)
    if end is None:
        if len(data) > READ_MAX:
            raise ValueError(f"no response head in the first {len(data)} bytes")
        return None
    _, headers, _ = split(data[:end])
    length = None
    for h in headers:
        name, _, value = h.partition(":")
        name = name.strip().lower()
        if name == "transfer-encoding":
            raise ValueError(f"a response with `{h}` (only a Content-Length body is copied)")
        if name == "content-length":
            length = int(value.strip())
    if length is None:
        raise ValueError(f"a response without Content-Length: {data[:end]!r}")
    return end + length


def raw_get(port, path, headers=(), timeout=10):
    """The exact bytes of the response to one `GET path` on 127.0.0.1:port, sent as loadgen
    sends it (request line, Host, then headers: "N: v")."""
    req = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    req += "".join(f"{h}\r\n" for h in headers) + "\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(req.encode("latin-1"))
        data = b""
        while True:
            need = response_length(data)
            if need is not None and len(data) >= need:
                return data[:need]
            chunk = s.recv(65536)
            if not chunk:
                raise ValueError(f"the connection closed after {len(data)} bytes: {data[:120]!r}")
            data += chunk


def copy(data):
    """The tools/upstream `--header` lines and body that reproduce response data byte for byte
    in length: every header line verbatim but Content-Length (upstream writes its own)."""
    status, headers, body = split(data)
    if status.split(" ")[1:2] != ["200"]:
        raise ValueError(f"the response to copy is `{status}`, not a 200")
    for h in headers:
        name = h.partition(":")[0]
        if not name or not all(c.isascii() and c.isprintable() and c != " " for c in name):
            raise ValueError(f"header line {h!r} is not 'Name: value'")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"the body is not UTF-8 (tools/upstream --body): {body[:80]!r}") from None
    kept = [h for h in headers if h.partition(":")[0].strip().lower() != "content-length"]
    return kept, text


def argv(upstream, port, workers, headers, body):
    out = [upstream, "--listen", f"127.0.0.1:{port}", "--mode", "fixed", "--workers", str(workers)]
    for h in headers:
        out += ["--header", h]
    return out + ["--body", body]


def mismatch(source, mine, theirs):
    """None when the two responses are equally long; else what the row's reason says."""
    if len(mine) == len(theirs):
        return None
    return (
        f"its response is {len(mine)} bytes, {source}'s {len(theirs)}: not the same bytes "
        f"(its: {mine[:300]!r}; {source}'s: {theirs[:300]!r})"
    )


def start_row(bench, leg, lc, row, res, ref):
    """Start the origin-same-bytes row and check it; the function giving its process tree, or
    None (and the row says why). res.same_bytes gets the byte lengths for the report."""
    t, path = row.target, bench.opts.path
    src = f"tollgate-{leg.same_bytes}"
    source = next((r for r in res.rows if r.target.name == src), None)
    if (
        source is None
        or not source.driven
        or not (source.target.proc and source.target.proc.alive())
    ):
        why = "not in this run" if source is None else (source.reason or "not running")
        row.stop_measuring(f"copies {src}'s response, and {src} is not measured: {why}")
        return None
    st = source.target
    try:
        theirs = raw_get(st.port, path, leg.headers + st.headers)
        headers, body = copy(theirs)
    except (OSError, ValueError) as e:
        row.stop_measuring(f"could not copy {src}'s response: {e}")
        return None
    upstream = bench.bins["upstream"]
    if not os.access(upstream, os.X_OK):
        row.stop_measuring(f"no tools/upstream binary at {upstream}")
        return None
    procs.wait_free(t.port)
    t.proc = bench.sup.start(
        t.name, argv(upstream, t.port, bench.opts.origin_workers, headers, body), role="load"
    )
    try:
        procs.wait_ready(t.proc, t.port)
    except procs.StartError as e:
        row.stop_measuring(f"did not start: {e}")
        return None
    why = peers.verify(t, path, ref, None, leg.headers)
    if why:
        row.stop_measuring(why)
        return None
    try:
        mine = raw_get(t.port, path, leg.headers)
        origin = raw_get(lc.origin_port, path, leg.headers)
    except (OSError, ValueError) as e:
        row.stop_measuring(f"GET {path} to check its bytes failed: {e}")
        return None
    res.same_bytes = {
        "source": src,
        "bytes": len(mine),
        "source_bytes": len(theirs),
        "origin_bytes": len(origin),
        "headers": headers,
    }
    why = mismatch(src, mine, theirs)
    if why:
        row.stop_measuring(why)
        return None
    return t.proc.pids


def describe(res):
    """The markdown line about the row, below a leg's settings; [] when the leg has none."""
    row = next((r for r in res.rows if r.target.kind == peers.SAME_BYTES), None)
    if row is None:
        return []
    f = res.same_bytes
    src = f.get("source") or f"tollgate-{res.leg.same_bytes}"
    sizes = ""
    if f:
        names = ", ".join(f"`{h.partition(':')[0]}`" for h in f["headers"])
        sizes = (
            f": {f['bytes']} bytes per response, as {src}'s ({f['source_bytes']}); the origin "
            f"row's are {f['origin_bytes']}. Header lines copied: {names}, then its own "
            "`content-length`"
        )
    return [
        f"- origin-same-bytes: a second `tools/upstream --mode fixed` (port --port-base+"
        f"{peers.PORT_OFFSET[peers.SAME_BYTES]}, loadgen straight at it as at the origin), "
        f"started after {src}'s pre-run check and driven right after it in each repetition, "
        f"answering with the header lines (verbatim: that "
        f"response's Date and request ids frozen) and body of one of {src}'s responses, so that "
        f"its responses are exactly as long (checked before measuring){sizes}"
    ]
