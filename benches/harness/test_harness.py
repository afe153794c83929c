"""Unit tests of the harness's pure parts: parsing, configurations, medians and ratios, the
sanity checks. `python3 -B -m unittest discover -s benches -p 'test_*.py'` (scripts/test.sh runs
it); the processes themselves are exercised by `benches/run --quick`."""

import base64
import http.server
import json
import math
import os
import socket
import subprocess
import tempfile
import threading
import unittest
from types import SimpleNamespace
from unittest import mock

from harness import (
    auth,
    cache,
    cli,
    client,
    functions,
    handshake,
    legs,
    markdown,
    observe,
    paired,
    pairing,
    peers,
    report,
    samebytes,
    scenarios,
)
from harness.scenarios import HANDSHAKE, IDLE, STREAM, THROUGHPUT, Leg

LOADGEN_JSON = json.dumps(
    {
        "requests": 1000,
        "duration_s": 0.5,
        "requests_per_sec": 2000.0,
        "status": {"200": 998, "503": 2},
        "errors": {"connect": 0, "read": 1, "write": 0, "timeout": 0, "protocol": 0},
        "latency_ms": {"p50": 0.1, "p90": 0.2, "p99": 0.3, "p99.9": 0.4, "max": 0.5, "mean": 0.1},
        "tls_version": "TLSv1.3",
        "held": 64,
    }
)

WRK_OUTPUT = """Running 2s test @ http://127.0.0.1:18091/bench/x
  1 threads and 64 connections
  Latency Distribution
     50%  353.00us
     75%  500.00us
     90%    1.02ms
     99%    2.50ms
  123456 requests in 2.00s, 10.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 5
Requests/sec:  61728.00
"""


def read(path):
    with open(path) as f:
        return f.read()


class ClientTests(unittest.TestCase):
    def test_loadgen_json(self):
        r = client.parse_loadgen("progress noise\n" + LOADGEN_JSON + "\n")
        self.assertEqual((r["requests"], r["rps"], r["p999_ms"]), (1000, 2000.0, 0.4))
        self.assertEqual((r["non2xx"], r["socket_errors"], r["held"]), (2, 1, 64))
        self.assertEqual(r["status"], {200: 998, 503: 2})
        self.assertEqual(r["tls"], {"tls_version": "TLSv1.3"})
        nested = json.loads(LOADGEN_JSON)
        del nested["tls_version"]
        nested["tls"] = {"version": "TLSv1.3", "handshakes": 64, "resumed": 0}
        r = client.parse_loadgen(json.dumps(nested))
        self.assertEqual(r["tls"], {"version": "TLSv1.3", "handshakes": 64, "resumed": 0})

    def test_wrk_output(self):
        r = client.parse_wrk(WRK_OUTPUT)
        self.assertEqual((r["requests"], r["rps"]), (123456, 61728.0))
        self.assertAlmostEqual(r["p50_ms"], 0.353)
        self.assertEqual((r["p99_ms"], r["p999_ms"]), (2.5, None))
        self.assertEqual((r["non2xx"], r["socket_errors"]), (5, 3))
        with self.assertRaises(ValueError):
            client.parse_wrk("wrk: connection refused")

    def test_durations(self):
        self.assertEqual(client.duration_arg(3), "3s")
        self.assertEqual(client.duration_arg(1.5), "1500ms")
        self.assertEqual(client.wrk_seconds(0.5), 1)

    def test_features_come_from_help(self):
        with tempfile.TemporaryDirectory() as d:
            fake = os.path.join(d, "loadgen")
            with open(fake, "w") as f:
                f.write("#!/bin/sh\necho '  --hold D   hold them'\n")
            os.chmod(fake, 0o755)
            lg = client.Loadgen(fake)
            self.assertEqual(lg.features, {"hold"})
            self.assertIsNone(lg.missing("hold"))
            self.assertIn("--insecure", lg.missing("https"))
            self.assertEqual(lg.tls_args("c.pem"), ["--insecure"])


def config(**kw):
    base = dict(work="/w", origin_port=18090, workers=1, connections=64, pool=64, nofile=20000)
    base.update(kw)
    return peers.LegConfig(**base)


class PeerConfigTests(unittest.TestCase):
    def test_pools_follow_the_client_concurrency(self):
        class Opts:
            connections, workers, port_base = 64, 1, 18090

        class Bench:
            opts, work, tls = Opts, "/w", None

        for leg, pool in [
            (Leg(THROUGHPUT), 64),
            (Leg(THROUGHPUT, connections=1024), 1024),
            (Leg(IDLE, connections=10_000), 64),
        ]:
            self.assertEqual(legs.leg_config(Bench, leg).pool, pool)

    def test_nginx(self):
        with tempfile.TemporaryDirectory() as d:
            peers.write_nginx_proxy(d, 18091, config(connections=1024, pool=1024))
            conf = read(f"{d}/nginx.conf")
            self.assertIn("keepalive 1024;", conf)
            self.assertNotIn("proxy_request_buffering", conf)
            peers.write_nginx_proxy(d, 18091, config(stream_bytes=10, cert="c", key="k"))
            conf = read(f"{d}/nginx.conf")
            self.assertIn("proxy_request_buffering off;", conf)
            self.assertIn("ssl_protocols TLSv1.3;", conf)

    def test_haproxy(self):
        with tempfile.TemporaryDirectory() as d:
            peers.write_haproxy(f"{d}/h.cfg", 18092, config(connections=10_000, pool=64))
            conf = read(f"{d}/h.cfg")
            self.assertIn("pool-max-conn 64", conf)
            self.assertIn("maxconn 11024", conf)
        self.assertEqual(peers.fds_needed("haproxy", config(connections=10_000)), 22148)
        self.assertEqual(peers.fds_needed("nullproxy", config(connections=10_000)), 20100)

    def test_tollgate(self):
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        with tempfile.TemporaryDirectory() as d:
            lc = config(connections=10_000, pool=128, stream_bytes=100)
            peers.write_tollgate(
                f"{d}/t.json", f"{here}/conf/tollgate-proxy.json", 18093, "legacy", lc
            )
            server = json.loads(read(f"{d}/t.json"))["server"]
            self.assertEqual(server["ioDriver"], "legacy")
            self.assertEqual(server["listeners"], [{"address": "127.0.0.1:18093"}])
            self.assertEqual(server["limits"]["upstreamIdlePerHost"], 128)
            self.assertEqual(server["limits"]["maxConnectionsPerWorker"], 11024)
            self.assertEqual(server["limits"]["maxBodyBytes"], 200)

    def test_tollgate_tls_listener_gets_the_legs_certificate(self):
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        with tempfile.TemporaryDirectory() as d:
            lc = config(cert="/w/cert.pem", key="/w/key.pem", bundle="/w/bundle.pem")
            peers.write_tollgate(
                f"{d}/t.json", f"{here}/conf/tollgate-proxy.json", 18093, "legacy", lc
            )
            server = json.loads(read(f"{d}/t.json"))["server"]
            self.assertEqual(
                server["listeners"],
                [
                    {
                        "address": "127.0.0.1:18093",
                        "tls": {
                            "certificate": {
                                "certificateChain": "/w/cert.pem",
                                "privateKey": "/w/key.pem",
                            }
                        },
                    }
                ],
            )

    def test_tls_scenario_measures_tollgate_and_handshakes(self):
        ka, hs = scenarios.BY_NAME["tls"].legs(True)
        self.assertEqual((ka.kind, hs.kind), (THROUGHPUT, HANDSHAKE))
        self.assertTrue(ka.tls and hs.tls)
        for leg in (ka, hs):
            self.assertNotIn("tollgate", leg.not_measured)
            self.assertIn("nullproxy", leg.not_measured)
        self.assertIn("Connection: close", hs.headers)
        self.assertIn("--no-resume", hs.tls_args)
        self.assertEqual(ka.tls_args, ())
        self.assertIn("no-resume", scenarios.BY_NAME["tls"].needs)

    def test_usage_plan_variants(self):
        leg = scenarios.BY_NAME["usage-plan"].legs(True)[0]
        rows = peers.targets(["nginx", "tollgate"], 18090, "legacy", True, leg.variants)
        self.assertEqual(
            [(t.name, t.port, t.driver, t.expect) for t in rows],
            [
                ("nginx", 18091, "", 200),
                ("tollgate-plain", 18093, "legacy", 200),
                ("tollgate-usage-plan", 18094, "legacy", 200),
                ("tollgate-usage-plan-429", 18095, "legacy", 429),
            ],
        )
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        with tempfile.TemporaryDirectory() as d:
            v = leg.variants[2]
            peers.write_tollgate(
                f"{d}/t.json", f"{here}/conf/{v.template}", 18095, "legacy", config(), v.patch
            )
            cfg = json.loads(read(f"{d}/t.json"))
            self.assertEqual(cfg["account"], scenarios.THROTTLED_ACCOUNT)
            self.assertEqual(cfg["apiKeys"][0]["value"], scenarios.BENCH_API_KEY)
            self.assertEqual(leg.headers, (f"x-api-key: {scenarios.BENCH_API_KEY}",))
            self.assertEqual(
                cfg["apis"][0]["definition"]["paths"]["/{proxy+}"][
                    "x-amazon-apigateway-any-method"
                ]["x-amazon-apigateway-integration"]["uri"],
                "http://127.0.0.1:18090/{proxy}",
            )


def run(rep, **kw):
    r = dict(
        rep=rep,
        requests=100,
        rps=100.0,
        cpu_us_per_req=10.0,
        p50_ms=1.0,
        p99_ms=2.0,
        p999_ms=3.0,
        rss_kib=1000,
        machine_cpu_us_per_req=20.0,
        util_pct=90.0,
        other_pct=1.0,
        non2xx=0,
        socket_errors=0,
        status={200: 100},
        errors={},
    )
    r.update(kw)
    return r


def leg_result(*rows, kind=THROUGHPUT):
    res = legs.LegResult(Leg(kind), config(), [])
    for name, runs in rows:
        kind_ = name.split("-")[0]
        res.rows.append(legs.Row(peers.Target(name, kind_, 0), runs=runs))
    report.summarize(res)
    return res


def variant_leg(*rows):
    leg = scenarios.BY_NAME["usage-plan"].legs(True)[0]
    res = legs.LegResult(leg, config(), [])
    for v, runs in zip(leg.variants, rows, strict=False):
        t = peers.Target(f"tollgate-{v.name}", "tollgate", 0, variant=v)
        res.rows.append(legs.Row(t, runs=runs))
    report.summarize(res)
    return res


class ReportTests(unittest.TestCase):
    def test_expected_429_rows_and_ratios_to_the_plain_row(self):
        reject = dict(expect=429, non2xx=100, status={429: 100})
        res = variant_leg(
            [run(1, cpu_us_per_req=10.0), run(2, cpu_us_per_req=12.0)],
            [run(1, cpu_us_per_req=11.0), run(2, cpu_us_per_req=12.0)],
            [run(1, cpu_us_per_req=5.0, **reject), run(2, cpu_us_per_req=6.0, **reject)],
        )
        self.assertEqual(report.sanity("usage-plan", res), [])
        ratios = report.variant_ratios(res)
        self.assertEqual(
            [n for n, _, _ in ratios], ["tollgate-usage-plan", "tollgate-usage-plan-429"]
        )
        self.assertAlmostEqual(ratios[0][1], 11.5 / 11.0)
        self.assertEqual(ratios[1][2], [0.5, 0.5])
        # A 200 in the 429 row, or a 429 in a 200 row, is a problem.
        res = variant_leg(
            [run(1, non2xx=1, status={200: 99, 429: 1})],
            [run(1)],
            [run(1, expect=429, non2xx=99, status={200: 1, 429: 99})],
        )
        problems = report.sanity("usage-plan", res)
        self.assertEqual(len(problems), 2, problems)
        self.assertTrue(any("1 responses were not 429" in p for p in problems))
        md = markdown._leg({"options": {"reps": 1, "warmup": 0}}, None, res)
        self.assertIn("CPU-µs/req ÷ tollgate-plain (same run, rows alternated):", md)

    def test_medians_and_ratios(self):
        res = leg_result(
            ("nginx", [run(1, rps=100.0), run(2, rps=300.0), run(3, rps=200.0)]),
            ("nullproxy", [run(1, rps=400.0, cpu_us_per_req=5.0)]),
            ("tollgate-legacy", [run(1, rps=250.0, cpu_us_per_req=8.0)]),
        )
        nginx, null, tollgate = res.rows
        self.assertEqual(nginx.median["rps"], 200.0)
        self.assertAlmostEqual(tollgate.ratios["nginx"]["rps"], 1.25)
        self.assertAlmostEqual(tollgate.ratios["nullproxy"]["cpu_us_per_req"], 1.6)
        table = report.table(res)
        self.assertIn("| tollgate-legacy | 250 (1.25, 0.62) | 8.00 (0.80, 1.60) |", table)
        self.assertEqual(report.sanity("proxy-small", res), [])

    def test_sanity_names_what_failed(self):
        res = leg_result(
            ("nginx", [run(1, socket_errors=3, non2xx=1, cpu_us_per_req=0.0)]), ("haproxy", [])
        )
        res.rows[1].status, res.rows[1].reason = "not measured", "did not start"
        problems = report.sanity("proxy-small", res)
        self.assertTrue(any("nginx rep 1: 3 socket errors" in p for p in problems))
        self.assertTrue(any("not 2xx" in p for p in problems))
        self.assertTrue(any("CPU/request is 0.0" in p for p in problems))
        self.assertIn("proxy-small haproxy: not measured: did not start", problems)

    def test_not_yet_rows_are_not_failures(self):
        res = leg_result(("nginx", [run(1)]), ("tollgate", []))
        res.rows[1].status, res.rows[1].reason = "not yet", "not yet (issue 9)"
        self.assertEqual(report.sanity("lambda-local", res), [])
        self.assertIn("| tollgate | not yet (issue 9) |", report.table(res))

    def test_handshake_figures_and_checks(self):
        tls = {"version": "TLSv1.3", "cipher_suite": "X", "handshakes": 1000, "resumed": 0}
        r = run(1, requests=1000, duration_s=0.5, cpu_s=0.05, machine_cpu_us_per_req=80.0, tls=tls)
        f = handshake.figures(r)
        self.assertEqual((f["handshakes"], f["resumed"]), (1000, 0))
        self.assertAlmostEqual(f["handshakes_per_s"], 2000.0)
        self.assertAlmostEqual(f["cpu_us_per_handshake"], 50.0)
        self.assertAlmostEqual(f["machine_cpu_us_per_handshake"], 80.0)
        r.update(f)
        self.assertEqual(handshake.problems(r), [])
        # resumptions, reused connections and another version are each named
        bad = dict(r, resumed=7, handshakes=500, tls=dict(tls, version="TLSv1.2"))
        probs = handshake.problems(bad)
        self.assertTrue(any("7 of 500 handshakes resumed" in p for p in probs), probs)
        self.assertTrue(any("connections were reused" in p for p in probs), probs)
        self.assertTrue(any("TLSv1.2" in p for p in probs), probs)
        self.assertEqual(handshake.problems(dict(r, handshakes=0)), ["no TLS handshake completed"])
        # a handshake leg's sanity goes through them
        res = leg_result(("nginx", [bad]), kind=HANDSHAKE)
        self.assertTrue(any("resumed a session" in p for p in report.sanity("tls", res)))
        self.assertIn("resumed", report.table(res))

    def test_issue6_targets(self):
        def hs(rep, n):
            return run(rep, handshakes_per_s=n, cpu_us_per_handshake=1.0, handshakes=1, resumed=0)

        ka = leg_result(
            ("nginx", [run(1, cpu_us_per_req=20.0), run(2, cpu_us_per_req=20.0)]),
            ("tollgate", [run(1, cpu_us_per_req=16.0), run(2, cpu_us_per_req=18.0)]),
        )
        ka.leg = Leg(THROUGHPUT, tls=True)
        hsr = leg_result(
            ("nginx", [hs(1, 1000.0), hs(2, 1000.0)]),
            ("tollgate", [hs(1, 900.0), hs(2, 1100.0)]),
            kind=HANDSHAKE,
        )
        hsr.leg = Leg(HANDSHAKE, tls=True)
        v = handshake.issue6([ka, hsr])
        self.assertAlmostEqual(v["cpu_per_request"]["ratio"], 0.85)
        self.assertTrue(v["cpu_per_request"]["met"])  # at the bound is met
        self.assertEqual(v["cpu_per_request"]["per_repetition"], [0.8, 0.9])
        self.assertAlmostEqual(v["handshakes_per_s"]["ratio"], 1.0)
        self.assertTrue(v["handshakes_per_s"]["met"])
        text = "\n".join(handshake.lines(v))
        self.assertIn("0.85 (target ≤ 0.85): **met**", text)
        # tollgate slower at handshakes: not met; no tollgate row: not measured
        hsr.rows[1].runs = [hs(1, 800.0)]
        report.summarize(hsr)
        self.assertFalse(handshake.issue6([hsr])["handshakes_per_s"]["met"])
        self.assertIn("not measured", "\n".join(handshake.lines(handshake.issue6([hsr]))))
        no_tollgate = leg_result(("nginx", [run(1)]))
        no_tollgate.leg = Leg(THROUGHPUT, tls=True)
        self.assertIsNone(handshake.issue6([no_tollgate])["cpu_per_request"])

    def test_infinite_ratio_is_insane(self):
        res = leg_result(("nginx", [run(1, p999_ms=0.0)]), ("tollgate", [run(1)]))
        self.assertTrue(any("p999_ms ÷ nginx is inf" in p for p in report.sanity("x", res)))

    def test_idle_and_stream_checks(self):
        idle = leg_result(
            ("nginx", [run(1, held=900, kib_per_conn=5.0, rss_before_kib=1, cpu_us_per_conn=1.0)]),
            kind=IDLE,
        )
        idle.leg = Leg(IDLE, connections=1000)
        self.assertIn("held 900 of 1000 connections", report.sanity("idle-10k", idle)[0])
        stream = leg_result(
            (
                "nginx",
                [
                    run(
                        1,
                        requests=1,
                        mb_per_s=5.0,
                        cpu_us_per_mb=1.0,
                        hwm_kib=10,
                        hwm_growth_kib=1,
                        rss_before_kib=1,
                    )
                ],
            ),
            kind=STREAM,
        )
        stream.leg = Leg(STREAM, transfers=2)
        self.assertIn("1 of 2 transfers", report.sanity("stream-100m", stream)[0])

    def test_json_has_no_infinities(self):
        self.assertEqual(
            markdown._clean({"a": [math.inf, 1.0], 2: math.nan}), {"a": [None, 1.0], "2": None}
        )


def cache_leg(hit_runs, plain_runs, origin_runs=(), fill=None, same_runs=None):
    leg = scenarios.BY_NAME["cache-hit"].legs(True)[0]
    res = legs.LegResult(leg, config(cache=True), [])
    if origin_runs:
        res.rows.append(legs.Row(peers.Target("origin", "origin", 0), runs=list(origin_runs)))
    if same_runs is not None:
        t = peers.Target(peers.SAME_BYTES, peers.SAME_BYTES, 11)
        res.rows.append(legs.Row(t, runs=list(same_runs)))
    for v, runs in zip(leg.variants, (plain_runs, hit_runs), strict=True):
        t = peers.Target(f"tollgate-{v.name}", "tollgate", 0, variant=v, admin_port=9 * v.admin)
        res.rows.append(legs.Row(t, runs=list(runs)))
    res.fill = fill or {}
    report.summarize(res)
    return res


STATS = {"capacityBytes": 500, "bytes": 1000, "entries": 4, "hits": 10, "misses": 2}


class CacheTests(unittest.TestCase):
    def test_the_scenario(self):
        leg = scenarios.BY_NAME["cache-hit"].legs(True)[0]
        self.assertTrue(leg.cache)
        self.assertEqual([v.name for v in leg.variants], ["plain", "cache-hit"])
        self.assertEqual([v.admin for v in leg.variants], [False, True])
        self.assertLess(leg.fill_keys, scenarios.BY_NAME["cache-hit"].legs(False)[0].fill_keys)
        rows = peers.targets(["origin", "tollgate"], 18090, "legacy", False, leg.variants)
        self.assertEqual(
            [(t.name, t.port, t.admin_port) for t in rows],
            [
                ("origin", 18090, 0),
                ("tollgate-plain", 18093, 0),
                ("tollgate-cache-hit", 18094, 18099),
            ],
        )
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        with tempfile.TemporaryDirectory() as d:
            for v, admin in zip(leg.variants, (0, 18099), strict=True):
                peers.write_tollgate(
                    f"{d}/t.json",
                    f"{here}/conf/{v.template}",
                    18093,
                    "legacy",
                    config(),
                    v.patch,
                    admin,
                )
                cfg = json.loads(read(f"{d}/t.json"))
                stage = cfg["stages"][0]
                op = cfg["apis"][0]["definition"]["paths"]["/{proxy+}"]
                integration = op["x-amazon-apigateway-any-method"][
                    "x-amazon-apigateway-integration"
                ]
                self.assertEqual(
                    integration["cacheKeyParameters"],
                    [
                        "method.request.path.proxy",
                        f"method.request.querystring.{scenarios.CACHE_KEY_PARAM}",
                    ],
                )
                if admin:
                    self.assertEqual(cfg["server"]["admin"], {"address": "127.0.0.1:18099"})
                    self.assertTrue(stage["cacheClusterEnabled"])
                    self.assertEqual(stage["methodSettings"]["*/*"]["cacheTtlInSeconds"], 3600)
                else:
                    self.assertIsNone(cfg["server"]["admin"])
                    self.assertNotIn("cacheClusterEnabled", stage)

    def test_nginx_and_haproxy_caches(self):
        with tempfile.TemporaryDirectory() as d:
            peers.write_nginx_proxy(d, 18091, config())
            self.assertNotIn("proxy_cache", read(f"{d}/nginx.conf"))
            peers.write_nginx_proxy(d, 18091, config(cache=True))
            conf = read(f"{d}/nginx.conf")
            self.assertIn(f"proxy_cache_path {d}/cache levels=1:2 keys_zone=bench:10m", conf)
            self.assertIn("proxy_cache bench;\n            proxy_cache_valid 200 1h;", conf)
            peers.write_haproxy(f"{d}/h.cfg", 18092, config())
            self.assertNotIn("cache", read(f"{d}/h.cfg"))
            peers.write_haproxy(f"{d}/h.cfg", 18092, config(cache=True))
            conf = read(f"{d}/h.cfg")
            self.assertIn("\ncache bench\n    total-max-size 64\n", conf)
            self.assertIn("max-age 3600", conf)
            use, store = conf.index("cache-use bench"), conf.index("cache-store bench")
            self.assertLess(use, conf.index('set-header Cache-Control "max-age=3600"'))
            self.assertLess(conf.index("set-header Cache-Control"), store)
            self.assertLess(store, conf.index("server origin"))

    def test_admin_stats(self):
        self.assertEqual(
            cache.parse_stats(404, b'{"message":"Not Found"}'), (None, cache.UNAVAILABLE)
        )
        self.assertEqual(
            cache.parse_stats(200, json.dumps(dict(STATS, methods=[])).encode())[0], STATS
        )
        for status, body, said in [
            (400, b'{"message":"no cache"}', "answered 400"),
            (200, b"nope", "not JSON"),
            (200, b'{"bytes": 1, "entries": 1}', "lack hits, misses"),
        ]:
            stats, why = cache.parse_stats(status, body)
            self.assertIsNone(stats)
            self.assertIn(said, why)
        self.assertEqual(cache.stats_path(), "/restapis/bench/stages/prod/cache")

    def test_window(self):
        after = dict(STATS, hits=1010, misses=2)
        self.assertEqual(
            cache.window((STATS, None), (after, None)),
            {"cache_hits": 1000, "cache_misses": 0, "hit_ratio": 1.0},
        )
        self.assertEqual(
            cache.window((None, cache.UNAVAILABLE), (None, cache.UNAVAILABLE)),
            {"cache_stats": cache.UNAVAILABLE},
        )
        self.assertIsNone(cache.window((STATS, None), (STATS, None))["hit_ratio"])

    def test_fill(self):
        self.assertEqual(
            cache.fill_paths("/bench/x", 2),
            ['{"path": "/bench/x?k=0"}', '{"path": "/bench/x?k=1"}'],
        )
        self.assertEqual(cache.fill_paths("/b?a=1", 1), ['{"path": "/b?a=1&k=0"}'])
        r = dict(requests=1000, non2xx=0, socket_errors=0)
        f = cache.fill_figures(1000, r, 10_000, 10_500, (None, cache.UNAVAILABLE), (None, "x"))
        self.assertEqual(f["cache_stats"], cache.UNAVAILABLE)
        self.assertNotIn("rss_bytes_per_key", f)
        self.assertEqual(cache.fill_text(f), cache.UNAVAILABLE)
        after = dict(STATS, entries=1004, bytes=301_000, misses=1002, evictions=0)
        f = cache.fill_figures(1000, r, 10_000, 10_500, (STATS, None), (after, None))
        self.assertEqual((f["entries_added"], f["misses_during_fill"]), (1000, 1000))
        self.assertAlmostEqual(f["rss_bytes_per_key"], 512.0)
        self.assertAlmostEqual(f["cache_bytes_per_entry"], 301_000 / 1004)
        self.assertIn("÷ 1,000 = **512 bytes**", cache.fill_text(f))
        hit = run(1, cache_hits=10, cache_misses=0, hit_ratio=1.0)
        self.assertEqual(cache.sanity("cache-hit", cache_leg([hit], [run(1)], fill={"t": f})), [])
        self.assertIn("no cache counters", cache.sanity("cache-hit", cache_leg([run(1)], []))[0])

    def test_ratios_and_lines(self):
        hit = dict(cache_hits=1000, cache_misses=0, hit_ratio=1.0)
        res = cache_leg(
            [
                run(1, rps=300.0, cpu_us_per_req=6.0, **hit),
                run(2, rps=200.0, cpu_us_per_req=5.0, **hit),
            ],
            [run(1, rps=100.0), run(2, rps=100.0)],
            [run(1, cpu_us_per_req=5.0), run(2, cpu_us_per_req=5.0)],
        )
        self.assertEqual(cache.paired(res.rows[2], res.rows[1], "rps"), (2.5, [3.0, 2.0]))
        s = cache.summary(res)
        self.assertAlmostEqual(s["cpu_us_per_req_hit_over_origin"]["median_ratio"], 1.1)
        self.assertEqual(s["backend_requests"]["cache_misses"], 0)
        text = "\n".join(cache.lines(res))
        self.assertIn(
            "req/s tollgate-cache-hit ÷ tollgate-plain: **2.50** (per repetition: 3.00 2.00)", text
        )
        self.assertIn("÷ origin", text)
        self.assertIn("0 cache misses, 2,000 hits (hit ratio 1.0000", text)
        self.assertNotIn("plain proxy's", text)
        self.assertEqual(cache.sanity("cache-hit", res), [])
        self.assertIsNone(cache.summary(leg_result(("nginx", [run(1)]))))

    def test_sanity(self):
        unavailable = dict(cache_stats=cache.UNAVAILABLE)
        fill = {
            "keys": 10,
            "requests": 10,
            "non2xx": 0,
            "socket_errors": 0,
            "cache_stats": cache.UNAVAILABLE,
        }
        res = cache_leg([run(1, **unavailable)], [run(1)], fill={"tollgate-cache-hit": fill})
        self.assertEqual(cache.sanity("cache-hit", res), [])
        text = "\n".join(cache.lines(res))
        self.assertIn(cache.UNAVAILABLE, text)
        self.assertIn("the ratios below may be the plain proxy's", text)
        missed = dict(cache_hits=10, cache_misses=90, hit_ratio=0.1)
        broken = dict(fill, requests=9, cache_stats="admin cache stats answered 500 b''")
        res = cache_leg([run(1, **missed)], [run(1)], fill={"tollgate-cache-hit": broken})
        problems = cache.sanity("cache-hit", res)
        self.assertEqual(len(problems), 3, problems)
        self.assertIn("hit ratio 0.1", problems[0])
        self.assertIn("9 of 10 requests", problems[1])
        self.assertIn("answered 500", problems[2])
        failed = {"tollgate-cache-hit": {"keys": 10, "failed": "boom"}}
        self.assertEqual(
            cache.sanity("cache-hit", cache_leg([run(1, **unavailable)], [run(1)], fill=failed)),
            ["cache-hit tollgate-cache-hit fill: boom"],
        )
        stored_none = dict(fill, entries_added=0, rss_bytes_per_key=1.0, cache_bytes_per_entry=None)
        del stored_none["cache_stats"]
        res = cache_leg([run(1, **unavailable)], [run(1)], fill={"t": stored_none})
        self.assertEqual(len(cache.sanity("cache-hit", res)), 2)


# One response of tollgate-cache-hit, as the gateway sends it (246 bytes).
TOLLGATE_HIT = (
    b"HTTP/1.1 200 OK\r\nx-amzn-Remapped-Content-Length: 12\r\n"
    b"Content-Type: application/json\r\n"
    b"x-amzn-RequestId: d7976cf0-9a11-4df4-a7a1-3d51463ffe26\r\n"
    b"x-amz-apigw-id: mkPgkSq4/2LBgcY=\r\nContent-Length: 12\r\n"
    b"Date: Sat, 21 Nov 2026 21:37:10 GMT\r\n\r\nhello world\n"
)


def upstream_render(headers, body):
    """What tools/upstream --mode fixed sends for --header lines and --body (response.rs)."""
    head = "HTTP/1.1 200 OK\r\n" + "".join(f"{h}\r\n" for h in headers)
    data = body.encode()
    return (head + f"content-length: {len(data)}\r\n\r\n").encode() + data


def serve_once(answer):
    """A loopback listener answering one request with `answer`, sent in two pieces; its port."""
    ls = socket.create_server(("127.0.0.1", 0))

    def run():
        with ls:
            conn, _ = ls.accept()
            with conn:
                got = b""
                while b"\r\n\r\n" not in got:
                    got += conn.recv(4096)
                conn.sendall(answer[:20])
                conn.sendall(answer[20:])
                conn.recv(1)  # until the client closes

    threading.Thread(target=run, daemon=True).start()
    return ls.getsockname()[1]


class SameBytesTests(unittest.TestCase):
    def test_it_is_driven_right_after_the_row_it_copies(self):
        leg = scenarios.BY_NAME["cache-hit"].legs(True)[0]
        targets = peers.targets(
            list(peers.KINDS), 18090, "legacy", False, leg.variants, "cache-hit"
        )
        rows = [legs.Row(t) for t in targets]
        self.assertEqual(
            [r.target.name for r in samebytes.driving_order(leg, rows)],
            [
                "origin",
                "nginx",
                "haproxy",
                "nullproxy",
                "tollgate-plain",
                "tollgate-cache-hit",
                "origin-same-bytes",
            ],
        )
        # without the row it copies: last; a leg without the row: its own order
        no_hit = [r for r in rows if r.target.name != "tollgate-cache-hit"]
        self.assertEqual(samebytes.driving_order(leg, no_hit)[-1].target.name, "origin-same-bytes")
        plain = scenarios.BY_NAME["proxy-small"].legs(True)[0]
        others = [legs.Row(t) for t in peers.targets(list(peers.KINDS), 18090, "legacy", False)]
        self.assertEqual(samebytes.driving_order(plain, others), others)

    def test_the_row(self):
        leg = scenarios.BY_NAME["cache-hit"].legs(True)[0]
        self.assertEqual(leg.same_bytes, "cache-hit")
        rows = peers.targets(list(peers.KINDS), 18090, "legacy", False, leg.variants, "cache-hit")
        self.assertEqual(
            [(t.name, t.kind, t.port) for t in rows[:3]],
            [
                ("origin", "origin", 18090),
                ("origin-same-bytes", peers.SAME_BYTES, 18101),
                ("nginx", "nginx", 18091),
            ],
        )
        ports = [t.port for t in rows] + [18090 + peers.ADMIN_OFFSET, 18090 + peers.FUNCTION_OFFSET]
        self.assertEqual(len(set(ports)), len(ports), "every row: its own port")
        self.assertLess(max(ports), 18090 + peers.PORTS)
        # the existing ports stay where they were
        self.assertEqual([peers.PORT_OFFSET[k] for k in peers.KINDS], [0, 1, 2, 8, 3])
        # nothing to copy without tollgate, no origin row without the origin; other legs: none
        for kinds in (["origin", "nginx"], ["nginx", "tollgate"]):
            names = [
                t.name for t in peers.targets(kinds, 18090, "legacy", False, leg.variants, "x")
            ]
            self.assertNotIn(peers.SAME_BYTES, names)
        self.assertEqual(scenarios.BY_NAME["usage-plan"].legs(True)[0].same_bytes, "")

    def test_copy_keeps_the_byte_length(self):
        self.assertEqual(samebytes.response_length(TOLLGATE_HIT), len(TOLLGATE_HIT))
        self.assertEqual(samebytes.response_length(TOLLGATE_HIT[:240]), len(TOLLGATE_HIT))
        self.assertIsNone(samebytes.response_length(TOLLGATE_HIT[:60]))
        headers, body = samebytes.copy(TOLLGATE_HIT)
        self.assertEqual(body, "hello world\n")
        self.assertEqual(
            [h.partition(":")[0] for h in headers],
            [
                "x-amzn-Remapped-Content-Length",
                "Content-Type",
                "x-amzn-RequestId",
                "x-amz-apigw-id",
                "Date",
            ],
        )
        self.assertIn("Date: Sat, 21 Nov 2026 21:37:10 GMT", headers)
        mine = upstream_render(headers, body)
        self.assertEqual(len(mine), 246)
        self.assertIsNone(samebytes.mismatch("tollgate-cache-hit", mine, TOLLGATE_HIT))
        argv = samebytes.argv("/bin/upstream", 18101, 1, headers, body)
        self.assertEqual(
            argv[:7],
            ["/bin/upstream", "--listen", "127.0.0.1:18101", "--mode", "fixed", "--workers", "1"],
        )
        self.assertEqual(argv.count("--header"), 5)
        self.assertEqual(argv[-2:], ["--body", "hello world\n"])
        # the plain origin's response is what the origin row measures: 51 bytes
        short = upstream_render([], "hello world\n")
        why = samebytes.mismatch("tollgate-cache-hit", short, TOLLGATE_HIT)
        self.assertIn("its response is 51 bytes, tollgate-cache-hit's 246", why)

    def test_what_is_not_copied(self):
        chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        for data, said in [
            (chunked, "only a Content-Length body"),
            (b"HTTP/1.1 200 OK\r\nA: b\r\n\r\n", "without Content-Length"),
        ]:
            with self.assertRaises(ValueError) as e:
                samebytes.response_length(data)
            self.assertIn(said, str(e.exception))
        for data, said in [
            (TOLLGATE_HIT.replace(b"200 OK", b"404 Not Found"), "not a 200"),
            (TOLLGATE_HIT.replace(b"hello world\n", b"\xff" * 12), "not UTF-8"),
            (TOLLGATE_HIT[:40], "no complete response head"),
        ]:
            with self.assertRaises(ValueError) as e:
                samebytes.copy(data)
            self.assertIn(said, str(e.exception))

    def test_raw_get_reads_one_whole_response(self):
        port = serve_once(TOLLGATE_HIT + b"trailing bytes of a next response")
        self.assertEqual(samebytes.raw_get(port, "/bench/x", timeout=5), TOLLGATE_HIT)

    def test_no_row_to_copy_is_said(self):
        leg = scenarios.BY_NAME["cache-hit"].legs(True)[0]
        res = legs.LegResult(leg, config(cache=True), [])
        hit = legs.Row(peers.Target("tollgate-cache-hit", "tollgate", 18094))
        hit.stop_measuring("did not start: boom")
        same = legs.Row(peers.Target(peers.SAME_BYTES, peers.SAME_BYTES, 18101))
        res.rows += [same, hit]
        bench = SimpleNamespace(opts=SimpleNamespace(path="/bench/x"))
        self.assertIsNone(samebytes.start_row(bench, leg, res.config, same, res, ("GET", b"")))
        self.assertEqual(same.status, "not measured")
        self.assertIn("tollgate-cache-hit is not measured: did not start: boom", same.reason)

    def test_ratios_lines_and_the_issue5_bound(self):
        hit = dict(cache_hits=1000, cache_misses=0, hit_ratio=1.0)
        res = cache_leg(
            [run(1, cpu_us_per_req=6.0, **hit), run(2, cpu_us_per_req=6.6, **hit)],
            [run(1), run(2)],
            [run(1, cpu_us_per_req=5.0), run(2, cpu_us_per_req=5.0)],
            same_runs=[run(1, cpu_us_per_req=5.5), run(2, cpu_us_per_req=6.0)],
        )
        res.same_bytes = {
            "source": "tollgate-cache-hit",
            "bytes": 246,
            "source_bytes": 246,
            "origin_bytes": 51,
            "headers": samebytes.copy(TOLLGATE_HIT)[0],
        }
        same = res.rows[1]
        self.assertEqual(same.ratios, {"nginx": {}, "nullproxy": {}})  # an origin: no ratios
        s = cache.summary(res)
        self.assertEqual(s["issue5_bounds"]["cpu_bound_read_against"], cache.CPU_OVER_SAME_BYTES)
        self.assertAlmostEqual(s[cache.CPU_OVER_SAME_BYTES]["median_ratio"], 6.3 / 5.75)
        self.assertEqual(s[cache.CPU_OVER_SAME_BYTES]["per_repetition"], [6.0 / 5.5, 6.6 / 6.0])
        self.assertEqual(s[cache.CPU_OVER_SAME_BYTES]["response_bytes"], 246)
        self.assertAlmostEqual(s[cache.CPU_OVER_ORIGIN]["median_ratio"], 1.26)
        self.assertEqual(s[cache.CPU_OVER_ORIGIN]["origin_response_bytes"], 51)
        text = "\n".join(cache.lines(res))
        self.assertIn(
            "- CPU-µs/req tollgate-cache-hit ÷ origin (the bare tools/upstream answering its own "
            "51-byte response, loadgen straight at it): **1.26** (per repetition: 1.20 1.32); "
            "kept beside the next line, which issue 5's bound is read against",
            text,
        )
        self.assertIn(
            "- CPU-µs/req tollgate-cache-hit ÷ origin-same-bytes (the bare origin answering "
            "tollgate's response bytes: 246 bytes): **1.10** (per repetition: 1.09 1.10); issue 5 "
            "asks ≤ 1.2: measured against an origin sending the same bytes",
            text,
        )
        self.assertEqual(text.count("issue 5 asks ≤ 1.2"), 1)
        self.assertNotIn("origin-same-bytes 0.", text)  # not among the rows behind a proxy
        self.assertEqual(cache.sanity("cache-hit", res), [])
        self.assertIn(
            "| origin-same-bytes (direct, no proxy; 246-byte responses of tollgate-cache-hit) |",
            report.table(res),
        )
        md = "\n".join(markdown._leg({"options": {"reps": 2, "warmup": 0}}, None, res))
        self.assertIn("- origin-same-bytes: a second `tools/upstream --mode fixed`", md)
        self.assertIn(
            "246 bytes per response, as tollgate-cache-hit's (246); the origin row's are 51", md
        )
        self.assertIn("`x-amz-apigw-id`, `Date`, then its own `content-length`", md)
        # not measured (say, its bytes differed): the bound stays on the origin line
        res.rows[1].runs = []
        res.rows[1].stop_measuring("its response is 51 bytes, tollgate-cache-hit's 246")
        report.summarize(res)
        s = cache.summary(res)
        self.assertEqual(s["issue5_bounds"]["cpu_bound_read_against"], cache.CPU_OVER_ORIGIN)
        self.assertIsNone(s[cache.CPU_OVER_SAME_BYTES]["median_ratio"])
        text = "\n".join(cache.lines(res))
        self.assertIn(
            "loadgen straight at it): **1.26** (per repetition: 1.20 1.32); issue 5 asks ≤ 1.2",
            text,
        )
        self.assertNotIn("÷ origin-same-bytes", text)
        self.assertIn(
            "cache-hit origin-same-bytes: not measured: its response is 51 bytes",
            report.sanity("cache-hit", res)[0],
        )


FIXTURES = os.environ.get("TOLLGATE_FIXTURES") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "..",
    "shared",
    "fixtures",
)


def jwt_leg(*rows):
    leg = scenarios.BY_NAME["jwt"].legs(True)[0]
    res = legs.LegResult(leg, config(), [])
    for v, runs in zip(leg.variants, rows, strict=False):
        t = peers.Target(f"tollgate-{v.name}", "tollgate", 0, variant=v)
        res.rows.append(legs.Row(t, runs=runs))
    report.summarize(res)
    return res


def b64decode(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def verify_jws(jwk, signed, sig):
    """Verify a JWS signature with the public JWK alone (cryptography, not the harness's code);
    raises InvalidSignature."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

    def num(k):
        return int.from_bytes(b64decode(jwk[k]), "big")

    if jwk["alg"] == "ES256":
        key = ec.EllipticCurvePublicNumbers(num("x"), num("y"), ec.SECP256R1()).public_key()
        r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
        key.verify(utils.encode_dss_signature(r, s), signed, ec.ECDSA(hashes.SHA256()))
    else:
        key = rsa.RSAPublicNumbers(num("e"), num("n")).public_key()
        key.verify(sig, signed, padding.PKCS1v15(), hashes.SHA256())


class JwtScenarioTests(unittest.TestCase):
    def test_the_scenario(self):
        (leg,) = scenarios.BY_NAME["jwt"].legs(True)
        self.assertEqual(leg.kind, THROUGHPUT)
        self.assertEqual(
            [(v.name, v.auth, v.max_cpu_ratio) for v in leg.variants],
            [
                ("plain", "", None),
                ("jwt-es256", "jwt-es256", scenarios.JWT_MAX_CPU_RATIO),
                ("jwt-rs256", "jwt-rs256", None),
                ("lambda-cached", "lambda", scenarios.LAMBDA_MAX_CPU_RATIO),
                ("sigv4", "sigv4", None),
            ],
        )
        self.assertEqual(
            (scenarios.JWT_MAX_CPU_RATIO, scenarios.LAMBDA_MAX_CPU_RATIO), (1.15, 1.05)
        )
        self.assertEqual(set(leg.not_measured), {"nginx", "haproxy"})
        self.assertEqual(leg.headers, ())  # each row sends its own
        self.assertTrue(all(v.auth in ("", *auth.KINDS) for v in leg.variants))
        rows = peers.targets(list(peers.KINDS), 18090, "legacy", False, leg.variants)
        ports = [t.port for t in rows] + [18090 + peers.ADMIN_OFFSET, 18090 + peers.FUNCTION_OFFSET]
        self.assertEqual(len(set(ports)), len(ports), "every row and the function: own ports")
        self.assertLess(max(ports), 18090 + peers.PORTS)

    def test_configs(self):
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        leg = scenarios.BY_NAME["jwt"].legs(True)[0]
        by = {v.name: v for v in leg.variants}
        with tempfile.TemporaryDirectory() as d:
            creds = auth.Material(d)

            def written(name):
                v = by[name]
                patch = {**v.patch, **creds.patch(v.auth, 18100)}
                path = f"{d}/{name}.json"
                peers.write_tollgate(
                    path, f"{here}/conf/{v.template}", 18094, "legacy", config(), patch
                )
                cfg = json.loads(read(path))
                method = cfg["apis"][0]["definition"]["paths"]["/{proxy+}"]
                return cfg, method["x-amazon-apigateway-any-method"]

            cfg, method = written("jwt-es256")
            self.assertEqual(method["security"], [{auth.JWT_SCHEME: []}])
            self.assertEqual(cfg["authorizers"][0]["jwksFile"], f"{d}/jwks.json")
            jwks = json.loads(read(f"{d}/jwks.json"))["keys"]
            self.assertEqual([(k["kid"], k["alg"]) for k in jwks], list(auth.KIDS.values()))
            scheme = cfg["apis"][0]["definition"]["components"]["securitySchemes"]["pool"]
            pool = scheme["x-amazon-apigateway-authorizer"]["providerARNs"][0].rsplit("/", 1)[1]
            self.assertTrue(auth.JWT_ISSUER.endswith("/" + pool))
            cfg, method = written("lambda-cached")
            self.assertEqual(
                cfg["functions"][auth.FUNCTION]["url"],
                f"http://127.0.0.1:18100/2015-03-31/functions/{auth.FUNCTION}/invocations",
            )
            authorizer = cfg["apis"][0]["definition"]["components"]["securitySchemes"]["token"][
                "x-amazon-apigateway-authorizer"
            ]
            self.assertEqual(authorizer["authorizerResultTtlInSeconds"], 3600)
            self.assertIn(f"function:{auth.FUNCTION}/", authorizer["authorizerUri"])
            cfg, method = written("sigv4")
            self.assertEqual(method["x-amazon-apigateway-auth"], {"type": "AWS_IAM"})
            (cred,) = cfg["iam"]["credentials"]
            self.assertEqual(
                (cred["accessKeyId"], cred["secretAccessKey"]), (auth.ACCESS_KEY, auth.SECRET_KEY)
            )
            self.assertEqual(cfg["iam"]["maxSkewSeconds"], 3600)

    def test_tokens_verify_with_their_public_keys(self):
        from cryptography.exceptions import InvalidSignature

        with tempfile.TemporaryDirectory() as d:
            creds = auth.Material(d)
            tokens = creds.tokens()
            keys = {k["kid"]: k for k in json.loads(read(f"{d}/jwks.json"))["keys"]}
            self.assertEqual(
                creds.headers("jwt-rs256", 18094, "/bench/x"),
                (f"Authorization: Bearer {tokens['jwt-rs256']}",),
            )
        for kind, (kid, alg) in auth.KIDS.items():
            head, body, sig = tokens[kind].split(".")
            self.assertEqual(json.loads(b64decode(head)), {"alg": alg, "kid": kid, "typ": "JWT"})
            claims = json.loads(b64decode(body))
            self.assertEqual((claims["iss"], claims["exp"]), (auth.JWT_ISSUER, auth.JWT_EXP))
            signed, sig = f"{head}.{body}".encode(), b64decode(sig)
            self.assertEqual(len(sig), 64 if alg == "ES256" else 256)
            verify_jws(keys[kid], signed, sig)
            with self.assertRaises(InvalidSignature):
                verify_jws(keys[kid], signed + b"x", sig)

    def test_sigv4_reproduces_get_vanilla(self):
        d = os.path.join(FIXTURES, "sigv4", "aws-c-auth-v4", "get-vanilla")
        if not os.path.isdir(d):
            self.skipTest(f"no fixtures at {d} (TOLLGATE_FIXTURES)")
        ctx = json.loads(read(f"{d}/context.json"))
        signed, canonical, to_sign = auth.sigv4(
            "GET",
            "example.amazonaws.com",
            "/",
            "20150830T123600Z",
            access_key=ctx["credentials"]["access_key_id"],
            secret=ctx["credentials"]["secret_access_key"],
            region=ctx["region"],
            service=ctx["service"],
        )
        self.assertEqual(canonical, read(f"{d}/header-canonical-request.txt").strip())
        self.assertEqual(to_sign, read(f"{d}/header-string-to-sign.txt").strip())
        expected = read(f"{d}/header-signature.txt").strip()
        self.assertEqual(
            expected, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        )
        self.assertEqual(
            signed["Authorization"],
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            f"SignedHeaders=host;x-amz-date, Signature={expected}",
        )

    def test_sigv4_headers_of_a_row(self):
        import datetime

        now = datetime.datetime(2026, 11, 21, 20, 45, 0, tzinfo=datetime.UTC)
        date, authz = auth.Material("/nowhere").headers("sigv4", 18097, "/bench/x", now)
        self.assertEqual(date, "X-Amz-Date: 20261121T204500Z")
        signed, canonical, _ = auth.sigv4(
            "GET",
            "127.0.0.1:18097",
            "/bench/x",
            "20261121T204500Z",
            access_key=auth.ACCESS_KEY,
            secret=auth.SECRET_KEY,
            region="us-east-1",
            service="execute-api",
        )
        self.assertEqual(authz, f"Authorization: {signed['Authorization']}")
        self.assertIn(f"{auth.ACCESS_KEY}/20261121/us-east-1/execute-api/aws4_request", authz)
        self.assertTrue(canonical.startswith("GET\n/bench/x\n\nhost:127.0.0.1:18097\n"))
        self.assertEqual(auth.canonical_uri("/dev/mypath%2Fnext"), "/dev/mypath%252Fnext")
        self.assertEqual(auth.canonical_query("b=2&a=x y&c"), "a=x%20y&b=2&c=")
        self.assertEqual(
            auth.Material("/nowhere").headers("lambda", 1, "/"),
            (f"Authorization: {auth.LAMBDA_TOKEN}",),
        )

    def test_ratios_carry_issue_8s_bounds(self):
        res = jwt_leg(
            [run(1, cpu_us_per_req=10.0)],
            [run(1, cpu_us_per_req=11.0)],
            [run(1, cpu_us_per_req=14.0)],
            [run(1, cpu_us_per_req=10.2, function_cpu_us_per_req=0.0)],
            [run(1, cpu_us_per_req=12.0)],
        )
        self.assertEqual(report.sanity("jwt", res), [])
        called = jwt_leg([run(1)], [run(1)], [run(1)], [run(1, function_cpu_us_per_req=12.0)])
        (problem,) = report.sanity("jwt", called)
        self.assertIn("jwt tollgate-lambda-cached rep 1: the Lambda authorizer's function", problem)
        md = "\n".join(markdown._leg({"options": {"reps": 1, "warmup": 0}}, None, res))
        self.assertIn(
            "- tollgate-jwt-es256: 1.100 (per repetition: 1.100); issue 8 asks ≤ 1.15", md
        )
        self.assertIn("- tollgate-jwt-rs256: 1.400 (per repetition: 1.400)\n", md)
        self.assertIn(
            "- tollgate-lambda-cached: 1.020 (per repetition: 1.020); issue 8 asks ≤ 1.05", md
        )
        self.assertIn("function's CPU-µs per request tollgate-lambda-cached served: 0.00", md)
        self.assertIn("`Authorization: Bearer <ES256 JWT>`", md)
        bounds = {
            r["target"]: r["max"]
            for r in report.leg_json(res)["cpu_us_per_req_ratio_to_first_variant"]
        }
        self.assertEqual(bounds["tollgate-jwt-es256"], 1.15)
        self.assertIsNone(bounds["tollgate-sigv4"])

    def test_jwt_runs_install_cryptography(self):
        o = cli.parse(["--scenario", "jwt"])
        from harness import main

        self.assertEqual(
            main.needed_packages(o, [scenarios.BY_NAME["jwt"]]), {"cryptography": "cryptography"}
        )
        self.assertEqual(main.needed_packages(o, [scenarios.BY_NAME["usage-plan"]]), {})
        o = cli.parse(["--scenario", "jwt", "--targets", "nginx"])
        self.assertEqual(main.needed_packages(o, [scenarios.BY_NAME["jwt"]]), {})


HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # benches/


def local_leg(plain_runs, local_runs, at_rate_runs=(), bare_runs=(), at_bare_rate_runs=()):
    leg = scenarios.BY_NAME["lambda-local"].legs(True)[0]
    res = legs.LegResult(leg, config(), [])
    all_runs = (plain_runs, local_runs, at_rate_runs, bare_runs, at_bare_rate_runs)
    for v, runs in zip(leg.variants, all_runs, strict=True):
        if not runs:
            continue
        t = peers.Target(f"tollgate-{v.name}", "tollgate", 0, variant=v)
        res.rows.append(legs.Row(t, runs=list(runs)))
    report.summarize(res)
    return res


def local_run(rep, fn_cpu=8.0, processes=(4, 4), exited=0, **kw):
    return run(
        rep,
        local_fn_cpu_us_per_req=fn_cpu,
        local_fn_processes=list(processes),
        local_fn_started=0,
        local_fn_exited=exited,
        local_fn_rss_kib=4000,
        **kw,
    )


class _Answer(http.server.BaseHTTPRequestHandler):
    """hello world, with an x-request-id (as lambda-echo through tollgate) on /fn."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        if self.path.startswith("/fn"):
            self.send_header("x-request-id", "1b7c3d2a-0000-4000-8000-000000000000")
        self.send_header("Content-Length", str(len(scenarios.SMALL_BODY)))
        self.end_headers()
        self.wfile.write(scenarios.SMALL_BODY)

    def log_message(self, *args):
        pass


class LambdaLocalScenarioTests(unittest.TestCase):
    def test_the_scenario(self):
        sc = scenarios.BY_NAME["lambda-local"]
        self.assertTrue(sc.available)
        self.assertIn("lambda-local", cli.parse(["--quick"]).scenario_list)
        (leg,) = sc.legs(True)
        self.assertEqual((leg.kind, leg.connections, leg.headers), (THROUGHPUT, None, ()))
        self.assertEqual(
            [(v.name, v.template, v.max_cpu_ratio, v.local) for v in leg.variants],
            [
                ("plain", "tollgate-proxy.json", None, ""),
                ("lambda-local", "tollgate-lambda-local.json", 2.0, functions.NAME),
                ("plain-at-rate", "tollgate-proxy.json", None, ""),
                ("lambda-bare", "tollgate-lambda-local.json", 2.0, functions.BARE),
                ("plain-at-bare-rate", "tollgate-proxy.json", None, ""),
            ],
        )
        self.assertEqual(
            [v.rate_of for v in leg.variants], ["", "", "lambda-local", "", "lambda-bare"]
        )
        self.assertEqual((leg.variants[1].issue, leg.variants[3].issue), (9, 9))
        self.assertEqual({v.cpu_affinity for v in leg.variants}, {""})
        self.assertEqual(set(leg.not_measured), {"nginx", "haproxy"})
        rows = peers.targets(list(peers.KINDS), 18090, "legacy", False, leg.variants)
        self.assertEqual(
            [t.name for t in rows],
            [
                "origin",
                "nginx",
                "haproxy",
                "nullproxy",
                "tollgate-plain",
                "tollgate-lambda-local",
                "tollgate-plain-at-rate",
                "tollgate-lambda-bare",
                "tollgate-plain-at-bare-rate",
            ],
        )
        self.assertEqual(len({t.port for t in rows}), len(rows))

    def test_the_pinned_scenario(self):
        sc = scenarios.BY_NAME["lambda-pinned"]
        self.assertIn("lambda-pinned", cli.parse(["--quick"]).scenario_list)
        (leg,) = sc.legs(True)
        # lambda-local's rows, the function rows pinned: the same templates, functions and
        # processes, each beside the plain proxy at its own rate
        self.assertEqual(
            [(v.name, v.template, v.max_cpu_ratio, v.local, v.concurrency) for v in leg.variants],
            [
                ("plain", "tollgate-proxy.json", None, "", 0),
                ("lambda-local-pinned", "tollgate-lambda-local.json", 2.0, functions.NAME, 0),
                ("plain-at-pinned-rate", "tollgate-proxy.json", None, "", 0),
                ("lambda-bare-pinned", "tollgate-lambda-local.json", 2.0, functions.BARE, 16),
                ("plain-at-bare-pinned-rate", "tollgate-proxy.json", None, "", 0),
            ],
        )
        self.assertEqual((leg.variants[1].issue, leg.variants[3].issue), (9, 9))
        self.assertEqual(
            [(v.cpu_affinity, v.rate_of) for v in leg.variants],
            [
                ("", ""),
                ("workers", ""),
                ("", "lambda-local-pinned"),
                ("workers", ""),
                ("", "lambda-bare-pinned"),
            ],
        )
        self.assertEqual(set(leg.not_measured), {"nginx", "haproxy"})
        rows = peers.targets(list(peers.KINDS), 18090, "legacy", False, leg.variants)
        self.assertEqual(len({t.port for t in rows}), len(rows))

    def test_configs(self):
        leg = scenarios.BY_NAME["lambda-local"].legs(True)[0]
        plain, local, _, bare, _ = leg.variants
        self.assertEqual((bare.template, bare.concurrency), (local.template, 16))
        template = f"{HERE}/conf/{local.template}"
        (fn,) = functions.patch(template, "/abs/lambda-bare", 64, 16)["functions"].values()
        self.assertEqual(
            (fn["local"]["command"], fn["local"]["concurrency"]), (["/abs/lambda-bare"], 16)
        )
        template = f"{HERE}/conf/{local.template}"
        (name,) = functions.local_entries(template)
        with tempfile.TemporaryDirectory() as d:
            for connections, queue in ((64, 100), (256, 256)):
                patch = functions.patch(template, "/abs/lambda-echo", connections)
                peers.write_tollgate(
                    f"{d}/t.json", template, 18094, "legacy", config(connections=connections), patch
                )
                cfg = json.loads(read(f"{d}/t.json"))
                fn = cfg["functions"][name]
                self.assertEqual(fn["local"]["command"], ["/abs/lambda-echo"])
                self.assertEqual(fn["local"]["queue"], queue)
                self.assertEqual(fn["local"]["concurrency"], 4)
                integration = cfg["apis"][0]["definition"]["paths"]["/{proxy+}"][
                    "x-amazon-apigateway-any-method"
                ]["x-amazon-apigateway-integration"]
                # the AWS_PROXY uri names the function; only HTTP_PROXY uris go to the origin
                self.assertEqual(integration["type"], "aws_proxy")
                self.assertTrue(integration["uri"].endswith(f":function:{name}/invocations"))
            # the template's own command is where scripts/test.sh and benches/run build it
            with open(template) as f:
                command = json.load(f)["functions"][name]["local"]["command"]
            self.assertTrue(command[0].endswith("target/lambda-echo/release/lambda-echo"))
            peers.write_tollgate(
                f"{d}/p.json", f"{HERE}/conf/{plain.template}", 18093, "legacy", config()
            )
            cfg = json.loads(read(f"{d}/p.json"))
            self.assertEqual(
                cfg["apis"][0]["definition"]["paths"]["/{proxy+}"][
                    "x-amazon-apigateway-any-method"
                ]["x-amazon-apigateway-integration"]["uri"],
                "http://127.0.0.1:18090/{proxy}",
            )
        self.assertIn("`concurrency` 4", functions.settings(template))
        with tempfile.TemporaryDirectory() as d:
            # a pinned row's `server.cpuAffinity`, beside the leg's own server settings
            keys = {"cpuAffinity": "workers"}
            peers.write_tollgate(f"{d}/t.json", template, 18094, "legacy", config(), None, 0, keys)
            server = json.loads(read(f"{d}/t.json"))["server"]
            self.assertEqual((server["cpuAffinity"], server["ioDriver"]), ("workers", "legacy"))

    def test_pinned_rows_function_processes_are_left_where_tollgate_put_them(self):
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            self.skipTest("needs two CPUs")
        local = scenarios.BY_NAME["lambda-local"].legs(True)[0].variants[1]
        pinned = scenarios.BY_NAME["lambda-pinned"].legs(True)[0].variants[1]
        for variant, moved in ((local, {cpus[0]}), (pinned, set(cpus))):
            child = subprocess.Popen(["sleep", "30"])
            try:
                t = peers.Target("tollgate-x", "tollgate", 1, variant=variant)
                t.function_pids = lambda pid=child.pid: [pid]
                functions.place(t, {cpus[0]})
                self.assertEqual(os.sched_getaffinity(child.pid), moved, variant.name)
            finally:
                child.kill()
                child.wait()

    def test_build_and_missing_binary(self):
        self.assertEqual(
            functions.build_argv("target")[-4:],
            ["--manifest-path", functions.MANIFEST, "--target-dir", "target/lambda-echo"],
        )
        self.assertEqual(functions.binary("/t"), "/t/lambda-echo/release/lambda-echo")
        # lambda-bare is a package of tollgate's workspace: built and found with the others
        self.assertEqual(
            functions.build_argv("target", functions.BARE),
            ["cargo", "build", "--release", "-p", "lambda-bare"],
        )
        self.assertEqual(functions.binary("/t", functions.BARE), "/t/release/lambda-bare")
        from harness import main

        chosen = [scenarios.BY_NAME["lambda-local"]]
        self.assertEqual(
            main.local_functions(cli.parse(["--quick"]), chosen), {"lambda-echo", "lambda-bare"}
        )
        no_tollgate = cli.parse(["--scenario", "lambda-local", "--targets", "nginx"])
        self.assertEqual(main.local_functions(no_tollgate, chosen), set())
        with tempfile.TemporaryDirectory() as d:
            os.makedirs(f"{d}/release")
            for name in ("loadgen", "upstream", "tollgate", "nullproxy"):
                with open(f"{d}/release/{name}", "w") as f:
                    f.write("#!/bin/sh\n")
                os.chmod(f"{d}/release/{name}", 0o755)
            o = cli.parse(["--scenario", "lambda-local", "--no-build"])
            old = os.environ.get("CARGO_TARGET_DIR")
            os.environ["CARGO_TARGET_DIR"] = d
            try:
                bins, unavailable = main.build(o, d, chosen)
            finally:
                if old is None:
                    del os.environ["CARGO_TARGET_DIR"]
                else:
                    os.environ["CARGO_TARGET_DIR"] = old
        self.assertEqual(bins["lambda-echo"], f"{d}/lambda-echo/release/lambda-echo")
        self.assertEqual(bins["lambda-bare"], f"{d}/release/lambda-bare")
        self.assertEqual(list(unavailable), ["lambda-bare", "lambda-echo"])
        self.assertIn(
            "(build it: cargo build --release -p lambda-bare)", unavailable["lambda-bare"]
        )
        self.assertIn("no lambda-echo binary at", unavailable["lambda-echo"])
        self.assertIn(
            "--manifest-path tests/functions/lambda-echo/Cargo.toml", unavailable["lambda-echo"]
        )
        # the row that runs it is not measured, with that reason; the others are driven
        leg = chosen[0].legs(True)[0]
        rows = [
            legs.Row(t) for t in peers.targets(list(peers.KINDS), 1, "legacy", False, leg.variants)
        ]
        legs.mark_rows(leg, rows, unavailable)
        status = {r.target.name: r.status for r in rows}
        self.assertEqual(status["tollgate-lambda-local"], "not measured")
        self.assertEqual(status["tollgate-lambda-bare"], "not measured")
        self.assertEqual((status["tollgate-plain"], status["nginx"]), ("measured", "n/a"))
        res = legs.LegResult(leg, config(), rows)
        report.summarize(res)
        self.assertTrue(
            any(
                "tollgate-lambda-local: not measured: no lambda-echo" in p
                for p in report.sanity("lambda-local", res)
            )
        )

    def test_function_processes_are_tollgates_children(self):
        child = subprocess.Popen(["sleep", "30"])
        try:
            kids = functions.children(os.getpid())
            self.assertIn(child.pid, kids)
            self.assertNotIn(os.getpid(), kids)
            self.assertEqual(functions.children(0), [])
        finally:
            child.kill()
            child.wait()

    def test_window(self):
        before = {10: 1.0, 11: 2.0, 12: 0.5}
        after = {10: 1.5, 11: 2.25, 13: 0.25}  # 12 exited, 13 started during the run
        w = functions.window(before, after, 1000, rss_kib=1234)
        self.assertAlmostEqual(w["local_fn_cpu_s"], 1.0)
        self.assertAlmostEqual(w["local_fn_cpu_us_per_req"], 1000.0)
        self.assertEqual(w["local_fn_processes"], [3, 3])
        self.assertEqual((w["local_fn_started"], w["local_fn_exited"]), (1, 1))
        self.assertEqual(w["local_fn_rss_kib"], 1234)
        self.assertEqual(functions.window({}, {}, 0)["local_fn_cpu_us_per_req"], 0.0)

    def test_sanity(self):
        res = local_leg([run(1, cpu_us_per_req=10.0)], [local_run(1, cpu_us_per_req=15.0)])
        self.assertEqual(report.sanity("lambda-local", res), [])
        res = local_leg([run(1)], [local_run(1, fn_cpu=0.0, exited=1)])
        problems = report.sanity("lambda-local", res)
        self.assertEqual(len(problems), 2, problems)
        self.assertIn("did not reach the function", problems[0])
        self.assertIn("1 function process(es) exited during the run", problems[1])
        res = local_leg([run(1)], [local_run(1, processes=(1, 0))])
        self.assertIn("no function process", report.sanity("lambda-local", res)[0])
        # a 502 from the gateway is a response other than 2xx
        res = local_leg([run(1)], [local_run(1, non2xx=3, status={200: 97, 502: 3})])
        self.assertIn("3 responses were not 2xx", report.sanity("lambda-local", res)[0])

    def test_report(self):
        res = local_leg(
            [run(1, cpu_us_per_req=10.0), run(2, cpu_us_per_req=12.0)],
            [
                local_run(1, cpu_us_per_req=15.0, fn_cpu=6.0),
                local_run(2, cpu_us_per_req=30.0, processes=(1, 4)),
            ],
        )
        md = "\n".join(markdown._leg({"options": {"reps": 2, "warmup": 0}}, None, res))
        self.assertIn(
            "- tollgate-lambda-local: 2.045 (per repetition: 1.500 2.500); issue 9 asks ≤ 2", md
        )
        self.assertNotIn("tollgate-plain-at-rate", md.split("Each figure")[1])  # no such runs
        self.assertIn(
            "the function processes' CPU-µs per request: 7.00 (tollgate + function: 29.50)", md
        )
        self.assertIn("start → end of each run: 4→4 1→4", md)
        self.assertIn("`concurrency` 4", md)
        self.assertIn("`sam local start-api`", md)
        self.assertIn("1–10 s per request", md)
        (ratio,) = report.leg_json(res)["cpu_us_per_req_ratio_to_first_variant"]
        self.assertEqual((ratio["max"], ratio["issue"]), (2.0, 9))
        self.assertEqual(res.rows[1].median["local_fn_rss_kib"], 4000)
        self.assertIn(
            "function 6.00 CPU-µs/req, processes 4 → 4", legs.progress(res.leg, res.rows[1].runs[0])
        )

    def test_report_with_the_bare_function(self):
        res = local_leg(
            [run(1, cpu_us_per_req=10.0), run(2, cpu_us_per_req=12.0)],
            [local_run(1, cpu_us_per_req=30.0), local_run(2, cpu_us_per_req=40.0)],
            (),
            [local_run(1, cpu_us_per_req=18.0, fn_cpu=2.0), local_run(2, cpu_us_per_req=24.0)],
        )
        md = "\n".join(markdown._leg({"options": {"reps": 2, "warmup": 0}}, None, res))
        # each function row against the plain proxy, each with issue 9's bound
        self.assertIn(
            "- tollgate-lambda-bare: 1.909 (per repetition: 1.800 2.000); issue 9 asks ≤ 2", md
        )
        self.assertIn("- tollgate-lambda-local: 3.182 (per repetition: 3.000 3.333)", md)
        self.assertIn(
            "- tollgate-lambda-bare: the function is lambda-bare (tools/lambda-bare, no runtime "
            "library, std sockets, release build) run by tollgate's function host, `bench-echo`: "
            "`concurrency` 16,",
            md,
        )
        self.assertIn("(tests/functions/lambda-echo, `lambda_runtime`, release build)", md)
        self.assertEqual(md.count("`sam local start-api`"), 1)
        ratios = report.leg_json(res)["cpu_us_per_req_ratio_to_first_variant"]
        self.assertEqual(
            [(r["target"], r["max"]) for r in ratios],
            [("tollgate-lambda-local", 2.0), ("tollgate-lambda-bare", 2.0)],
        )

    def test_rate_matched_ratio(self):
        res = local_leg(
            [run(1, cpu_us_per_req=10.0), run(2, cpu_us_per_req=12.0)],
            [local_run(1, cpu_us_per_req=30.0), local_run(2, cpu_us_per_req=40.0)],
            [run(1, cpu_us_per_req=20.0, rate=900.0), run(2, cpu_us_per_req=16.0, rate=800.0)],
        )
        md = "\n".join(markdown._leg({"options": {"reps": 2, "warmup": 0}}, None, res))
        self.assertIn(
            "- tollgate-lambda-local ÷ tollgate-plain-at-rate (the plain proxy at "
            "tollgate-lambda-local's own rate, open loop): 1.944 (per repetition: 1.500 2.500); "
            "issue 9 asks ≤ 2",
            md,
        )
        (eq,) = report.leg_json(res)["cpu_us_per_req_ratio_at_equal_rate"]
        self.assertEqual(
            (eq["target"], eq["to"]), ("tollgate-lambda-local", "tollgate-plain-at-rate")
        )

    def test_rate_matched_ratio_of_the_bare_function(self):
        res = local_leg(
            [run(1, cpu_us_per_req=10.0)],
            [local_run(1, cpu_us_per_req=30.0)],
            [run(1, cpu_us_per_req=20.0, rate=900.0)],
            [local_run(1, cpu_us_per_req=18.0)],
            [run(1, cpu_us_per_req=12.0, rate=4000.0)],
        )
        md = "\n".join(markdown._leg({"options": {"reps": 1, "warmup": 0}}, None, res))
        # against the saturated plain proxy, and against it at lambda-bare's own rate
        self.assertIn("- tollgate-lambda-bare: 1.800 (per repetition: 1.800); issue 9", md)
        self.assertIn(
            "- tollgate-lambda-bare ÷ tollgate-plain-at-bare-rate (the plain proxy at "
            "tollgate-lambda-bare's own rate, open loop): 1.500 (per repetition: 1.500); "
            "issue 9 asks ≤ 2",
            md,
        )
        eq = report.leg_json(res)["cpu_us_per_req_ratio_at_equal_rate"]
        self.assertEqual(
            [(e["target"], e["to"]) for e in eq],
            [
                ("tollgate-lambda-local", "tollgate-plain-at-rate"),
                ("tollgate-lambda-bare", "tollgate-plain-at-bare-rate"),
            ],
        )

    def test_pre_run_check_needs_the_functions_answer(self):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            port = server.server_address[1]
            local = scenarios.LAMBDA_LOCAL_VARIANTS[1]
            t = peers.Target("tollgate-lambda-local", "tollgate", port, variant=local)
            ref = ("GET", scenarios.SMALL_BODY)
            self.assertIsNone(peers.verify(t, "/fn/x", ref))
            why = peers.verify(t, "/bench/x", ref)
            self.assertIn("without x-request-id: not through the function lambda-echo", why)
            plain = peers.Target(
                "tollgate-plain", "tollgate", port, variant=scenarios.LAMBDA_LOCAL_VARIANTS[0]
            )
            self.assertIsNone(peers.verify(plain, "/bench/x", ref))
            self.assertIn("(the origin: 200", peers.verify(t, "/fn/x", ("GET", b"other\n")))
        finally:
            server.shutdown()
            server.server_close()


class _Metrics(http.server.BaseHTTPRequestHandler):
    """An admin API whose /metrics.json says `dropped` lines were dropped so far."""

    dropped = [0]

    def do_GET(self):
        body = json.dumps({"gateway": {observe.DROPPED: self.dropped[0]}}).encode()
        self.send_response(200 if self.path == "/metrics.json" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def pipeline_leg(*rows):
    leg = scenarios.BY_NAME["full-pipeline"].legs(True)[0]
    res = legs.LegResult(leg, config(), [])
    for v, runs in zip(leg.variants, rows, strict=False):
        t = peers.Target(f"tollgate-{v.name}", "tollgate", 0, variant=v)
        res.rows.append(legs.Row(t, runs=runs))
    report.summarize(res)
    return res


def log_run(rep, lines=100, dropped=0, ok=True, **kw):
    return run(rep, log_lines=lines, log_dropped=dropped, log_json_ok=ok, **kw)


class FullPipelineScenarioTests(unittest.TestCase):
    def test_the_scenario(self):
        (leg,) = scenarios.BY_NAME["full-pipeline"].legs(True)
        self.assertEqual(leg.kind, THROUGHPUT)
        self.assertEqual(
            [(v.name, v.metrics, v.access_log, v.auth, v.max_cpu_ratio) for v in leg.variants],
            [
                ("bare", False, False, "", None),
                ("observed", True, True, "", 1.05),
                ("full", True, True, "jwt-es256", None),
            ],
        )
        self.assertEqual(leg.variants[1].issue, 7)
        self.assertEqual([v.paired for v in leg.variants], [False, True, False])
        self.assertEqual(leg.variants[2].headers, (f"x-api-key: {scenarios.BENCH_API_KEY}",))
        self.assertEqual(leg.variants[0].template, leg.variants[1].template)
        self.assertTrue(leg.access_log)
        self.assertEqual(set(leg.not_measured), {"haproxy"})
        self.assertIsNone(leg.connections)  # --connections, 64 by default
        self.assertLessEqual(len(leg.variants), observe.MAX_VARIANTS)
        rows = peers.targets(list(peers.KINDS), 18090, "legacy", False, leg.variants)
        admins = [18090 + observe.admin_offset(leg.variants, v) for v in leg.variants[1:]]
        ports = [t.port for t in rows] + admins
        self.assertEqual(len(set(ports)), len(ports), "every row and admin API: own ports")
        self.assertLess(max(ports), 18090 + peers.PORTS)
        self.assertTrue(scenarios.BY_NAME["full-pipeline"].available)

    def test_formats(self):
        fmt = json.loads(observe.FORMAT)
        self.assertEqual(len(fmt), 12)
        self.assertTrue(all(v.startswith("$context.") for v in fmt.values()))
        self.assertEqual(list(json.loads(observe.NGINX_FORMAT)), list(fmt))

    def test_configs(self):
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        leg = scenarios.BY_NAME["full-pipeline"].legs(True)[0]
        with tempfile.TemporaryDirectory() as d:
            bench = SimpleNamespace(template=f"{here}/conf/tollgate-proxy.json", work=d)
            creds = auth.Material(d)

            def written(v):
                t = peers.Target(f"tollgate-{v.name}", "tollgate", 18094, variant=v)
                patch = observe.setup(bench, leg, config(), t)
                if v.auth:
                    patch.update(creds.patch(v.auth, 18100))
                path = f"{d}/{v.name}.json"
                peers.write_tollgate(
                    path, f"{here}/conf/{v.template}", 18094, "legacy", config(), patch
                )
                return t, json.loads(read(path))

            t, cfg = written(leg.variants[0])
            self.assertIs(cfg["server"]["metrics"], False)
            self.assertIsNone(cfg["server"]["admin"])
            self.assertNotIn("accessLogSettings", cfg["stages"][0])
            self.assertEqual(t.log_path, "")
            t, cfg = written(leg.variants[1])
            self.assertIs(cfg["server"]["metrics"], True)
            self.assertEqual(cfg["server"]["admin"], {"address": "127.0.0.1:18096"})
            self.assertEqual(cfg["server"]["listeners"], [{"address": "127.0.0.1:18094"}])
            self.assertEqual(
                cfg["stages"][0]["accessLogSettings"],
                {"destinationArn": f"{d}/tollgate-observed-access.log", "format": observe.FORMAT},
            )
            self.assertEqual(
                (t.log_path, t.log_admin), (f"{d}/tollgate-observed-access.log", 18096)
            )
            t, cfg = written(leg.variants[2])
            self.assertEqual(t.log_admin, 18097)
            method = cfg["apis"][0]["definition"]["paths"]["/{proxy+}"]
            self.assertEqual(
                method["x-amazon-apigateway-any-method"]["security"],
                [{auth.JWT_SCHEME: [], "api_key": []}],
            )
            self.assertEqual(cfg["apiKeys"][0]["value"], scenarios.BENCH_API_KEY)
            self.assertEqual(cfg["authorizers"][0]["jwksFile"], f"{d}/jwks.json")
            self.assertIn("accessLogSettings", cfg["stages"][0])
            self.assertIn("methodSettings", cfg["stages"][0])

    def test_nginx_access_log(self):
        with tempfile.TemporaryDirectory() as d:
            peers.write_nginx_proxy(d, 18091, config())
            self.assertNotIn("log_format", read(f"{d}/nginx.conf"))
            peers.write_nginx_proxy(d, 18091, config(access_log="/w/nginx-access.log"))
            conf = read(f"{d}/nginx.conf")
            self.assertIn(f"log_format bench escape=json '{observe.NGINX_FORMAT}';", conf)
            self.assertIn("access_log /w/nginx-access.log bench buffer=64k flush=1s;", conf)

        class Opts:
            connections, workers, port_base = 64, 1, 18090

        bench = SimpleNamespace(opts=Opts, work="/w", tls=None)
        leg = scenarios.BY_NAME["full-pipeline"].legs(True)[0]
        self.assertEqual(legs.leg_config(bench, leg).access_log, "/w/nginx-access.log")
        self.assertEqual(legs.leg_config(bench, Leg(THROUGHPUT)).access_log, "")

    def test_window_counts_the_lines_the_run_added(self):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Metrics)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        line = json.dumps({k: "x" for k, _ in observe.FIELDS}) + "\n"
        with tempfile.TemporaryDirectory() as d:
            t = peers.Target("tollgate-observed", "tollgate", 0)
            t.log_path, t.log_admin = f"{d}/a.log", server.server_address[1]
            with open(t.log_path, "w") as f:
                f.write(line * 3)  # the pre-run check and a warm-up
            _Metrics.dropped[0] = 5
            start = observe.before(t)
            self.assertEqual(start, (len(line) * 3, (5, None)))

            def write_late():
                with open(t.log_path, "a") as f:
                    f.write(line * 7)
                    f.flush()
                    threading.Event().wait(0.25)
                    f.write(line * 3)

            writer = threading.Thread(target=write_late)
            writer.start()
            _Metrics.dropped[0] = 6
            got = observe.window(t, start, {"requests": 10})
            writer.join()
            self.assertEqual(got, {"log_lines": 10, "log_json_ok": True, "log_dropped": 1})
            # a writer that stays behind: the wait ends, the count says so
            end = (os.path.getsize(t.log_path), (6, None))
            got = observe.window(t, end, {"requests": 1}, timeout=0.3)
            self.assertEqual(got["log_lines"], 0)
            with socket.create_server(("127.0.0.1", 0)) as ls:
                t.log_admin = ls.getsockname()[1]
            got = observe.window(t, start, {"requests": 10}, timeout=0.3)
            self.assertIn("admin GET /metrics.json", got["log_error"])

    def test_sanity_and_report(self):
        res = pipeline_leg(
            [run(1, cpu_us_per_req=10.0)],
            [log_run(1, cpu_us_per_req=10.4, lines=100)],
            [log_run(1, cpu_us_per_req=13.0, lines=130, requests=100)],
        )
        self.assertEqual(report.sanity("full-pipeline", res), [])
        md = "\n".join(markdown._leg({"options": {"reps": 1, "warmup": 0}}, None, res))
        self.assertIn("- tollgate-observed: 1.040 (per repetition: 1.040); issue 7 asks ≤ 1.05", md)
        self.assertIn("- tollgate-full: 1.300 (per repetition: 1.300)\n", md)
        self.assertIn("- tollgate-observed: access log lines 100 for 100 requests (+0", md)
        self.assertIn(
            "`tollgate-bare` = benches/conf/tollgate-proxy.json, `server.metrics: false`", md
        )
        self.assertIn(f"tollgate's access log `format`: `{observe.FORMAT}`", md)
        ratios = report.leg_json(res)["cpu_us_per_req_ratio_to_first_variant"]
        self.assertEqual((ratios[0]["max"], ratios[0]["issue"]), (1.05, 7))
        bad = pipeline_leg(
            [run(1)],
            [log_run(1, lines=90, dropped=5)],
            [log_run(1, lines=100 + 65), log_run(2, ok=False), run(3, log_error="boom")],
        )
        self.assertEqual(
            report.sanity("full-pipeline", bad),
            [
                "full-pipeline tollgate-observed rep 1: access log: 90 lines + 5 dropped for 100 "
                "requests (expected the requests plus at most 64 in flight)",
                "full-pipeline tollgate-full rep 1: access log: 165 lines + 0 dropped for 100 "
                "requests (expected the requests plus at most 64 in flight)",
                "full-pipeline tollgate-full rep 2: access log: the last line is not JSON with "
                "every field",
                "full-pipeline tollgate-full rep 3: access log: boom",
            ],
        )
        self.assertEqual(observe.problems(run(1), 64), [])
        self.assertIn("log 100 lines, 0 dropped", legs.progress(res.leg, log_run(1)))


class CatalogueAndCliTests(unittest.TestCase):
    def test_every_scenario_is_runnable_or_says_why(self):
        for s in scenarios.CATALOGUE:
            self.assertTrue(s.available or "issue" in s.not_yet, s.name)
            if s.available:
                self.assertTrue(s.legs(True) and s.legs(False), s.name)

    def test_quick_means_every_available_scenario_briefly(self):
        o = cli.parse(["--quick"])
        self.assertEqual(o.scenario_list, [s.name for s in scenarios.CATALOGUE if s.available])
        self.assertEqual((o.reps, o.duration, o.warmup), (1, 1.5, 0.0))
        self.assertEqual(cli.parse([]).scenario_list, ["proxy-small"])
        self.assertEqual(cli.parse(["--quick", "--reps", "2"]).reps, 2)

    def test_bounds(self):
        for bad in (
            ["--reps", "0"],
            ["--scenario", "nope"],
            ["--targets", "origin,squid"],
            ["--driver-sweep", "--targets", "nginx"],
            ["--connections", "5000"],
            ["--path", "x"],
        ):
            with self.assertRaises(cli.UsageError, msg=bad):
                cli.parse(bad)
        self.assertEqual(cli.cpu_list("0-2,5"), {0, 1, 2, 5})


class ResultsFileTests(unittest.TestCase):
    def test_new_results_go_first(self):
        with tempfile.TemporaryDirectory() as d:
            path = f"{d}/RESULTS.md"
            with open(path, "w") as f:
                f.write(f"# R\n\n{markdown.MARKER}\n\n### older\n")
            markdown.insert_results(path, "### newer\n")
            text = read(path)
            self.assertLess(text.index("### newer"), text.index("### older"))


class PairedTests(unittest.TestCase):
    def test_summary_is_the_per_pair_ratios_and_their_median(self):
        s = paired.summary([(10.0, 10.5), (14.0, 14.0), (12.0, 13.2)])
        self.assertEqual([round(r, 3) for r in s["ratios"]], [1.05, 1.0, 1.1])
        self.assertAlmostEqual(s["median"], 1.05)
        self.assertEqual((s["min"], round(s["max"], 3)), (1.0, 1.1))
        self.assertEqual((s["a_median"], s["b_median"]), (12.0, 13.2))
        # a pair whose baseline did no work has no ratio; none at all: no summary
        self.assertEqual(paired.summary([(0.0, 1.0), (2.0, 3.0)])["ratios"], [1.5])
        self.assertIsNone(paired.summary([(0.0, 1.0)]))

    def test_the_port_is_the_first_listener_of_the_configuration(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "c.json")
            with open(path, "w") as f:
                json.dump({"server": {"listeners": [{"address": "127.0.0.1:18094"}]}}, f)
            self.assertEqual(paired.listen_port(path), 18094)
        o = paired.parse(["a.json", "b.json", "--pairs", "3", "--origin-port", "18090"])
        self.assertEqual(
            (o.a, o.b, o.pairs, o.origin_port, o.secs), ("a.json", "b.json", 3, 18090, 5.0)
        )


# A loadgen that writes its start time and argv (a JSON line) to LOG, sleeps SLEEP s, and
# answers 1,000 requests: 200s, or 503s when its URL contains BAD; GARBAGE prints no JSON.
FAKE_LOADGEN = """#!/usr/bin/env python3
import json, sys, time
with open({log!r}, "a") as f:
    f.write(json.dumps([time.time()] + sys.argv[1:]) + "\\n")
time.sleep({sleep})
url = sys.argv[-1]
if {garbage}:
    print("thread 'main' panicked")
    sys.exit(101)
bad = {bad!r} and {bad!r} in url
status = {{"503": 1000}} if bad else {{"200": 1000}}
print(json.dumps({{"requests": 1000, "requests_per_sec": 2000.0, "status": status, "errors": {{}},
                  "latency_ms": {{"p50": 0.1, "p99": 0.2, "p99.9": 0.3}}}}))
"""


def fake_loadgen(d, sleep=0.0, bad="", garbage=False):
    path, log = os.path.join(d, "loadgen"), os.path.join(d, "argv.log")
    with open(path, "w") as f:
        f.write(FAKE_LOADGEN.format(log=log, sleep=sleep, bad=bad, garbage=garbage))
    os.chmod(path, 0o755)
    return path, log


class _Alive:
    def alive(self):
        return True


def paired_pipeline(pairs, failed="", pinned=True, planned=None):
    res = pipeline_leg(
        [run(1, cpu_us_per_req=10.0)],
        [log_run(1, cpu_us_per_req=11.8)],
        [log_run(1, cpu_us_per_req=13.0)],
    )
    res.paired["tollgate-observed"] = {
        "to": "tollgate-bare",
        "planned": planned or len(pairs),
        "secs": 10.0,
        "connections": 64,
        "pinned": pinned,
        "pairs": pairs,
        "failed": failed,
    }
    return res


class PairedRowsTests(unittest.TestCase):
    """benches/run's pairs (harness/pairing.py) on paired.drive, which benches/paired uses."""

    def test_drive_runs_each_sides_loadgen_with_its_own_headers_at_once(self):
        with tempfile.TemporaryDirectory() as d:
            fake, log = fake_loadgen(d, sleep=0.5)
            sides = [
                paired.Side("http://127.0.0.1:18094/bench/x", ("a: 1",), lambda: [11]),
                paired.Side("http://127.0.0.1:18095/bench/x", ("b: 2", "c: 3"), lambda: [12]),
            ]
            cpu = {11: [1.0, 1.01], 12: [2.0, 2.0105]}
            with mock.patch.object(paired.procfs, "cpu_seconds", lambda p: cpu[p[0]].pop(0)):
                got = paired.drive(fake, sides, 0.5, 8)
            started = sorted(json.loads(line) for line in read(log).splitlines())
            self.assertLess(started[1][0], started[0][0] + 0.5, "both ran at the same time")
            argvs = sorted(a[1:] for a in started)
            self.assertEqual(
                argvs,
                [
                    ["-t", "1", "-c", "8", "-d", "500ms", "--json", "-H", "a: 1", sides[0].url],
                    ["-t", "1", "-c", "8", "-d", "500ms", "--json"]
                    + ["-H", "b: 2", "-H", "c: 3", sides[1].url],
                ],
            )
            self.assertEqual([r["requests"] for r in got], [1000, 1000])
            self.assertEqual([round(r["cpu_us_per_req"], 2) for r in got], [10.0, 10.5])
            self.assertEqual([r["rps"] for r in got], [2000.0, 2000.0])
            fake, _ = fake_loadgen(d, garbage=True)
            with mock.patch.object(paired.procfs, "cpu_seconds", lambda p: 0.0):
                got = paired.drive(fake, sides[:1], 0.5, 8)
            self.assertIn("the load generator failed (exit 101", got[0]["failed"])

    def _run(self, d, **fake):
        path, log = fake_loadgen(d, **fake)
        leg = scenarios.BY_NAME["full-pipeline"].legs(True)[0]
        res = legs.LegResult(leg, config(), [])
        live = []
        for port, v in zip((18093, 18094, 18095), leg.variants, strict=True):
            t = peers.Target(f"tollgate-{v.name}", "tollgate", port, proc=_Alive(), variant=v)
            t.headers = ("x-api-key: k",) if v.name == "full" else ()
            res.rows.append(legs.Row(t, runs=[run(1)]))
            live.append((res.rows[-1], lambda port=port: [port]))
        opts = SimpleNamespace(reps=2, duration=0.5, quiet_wait=0, path="/bench/x")
        bench = SimpleNamespace(opts=opts, loadgen=SimpleNamespace(path=path), tls=None)
        bench.load_cpus = lambda: None
        signed = []
        # CPU seconds per pid, read before and after each pair: bare 10 µs/req, observed 10.4
        cpu = {18093: [0, 0.010, 1, 1.010], 18094: [0, 0.0104, 1, 1.0104]}
        with mock.patch.object(paired.procfs, "cpu_seconds", lambda p: cpu[p[0]].pop(0)):
            pairing.run(bench, leg, res, live, 64, signed.append)
        report.summarize(res)
        return res, [json.loads(line)[1:] for line in read(log).splitlines()], signed

    def test_the_pairs_of_a_run(self):
        with tempfile.TemporaryDirectory() as d:
            res, argvs, signed = self._run(d)
        self.assertEqual(list(res.paired), ["tollgate-observed"])
        p = res.paired["tollgate-observed"]
        self.assertEqual(p["failed"], "")
        self.assertEqual(
            [[round(x, 3) for x in pair] for pair in p["pairs"]],
            [[10.0, 10.4, 2000.0, 2000.0]] * 2,
        )
        self.assertEqual(
            (p["to"], p["planned"], p["secs"], p["connections"], p["pinned"]),
            ("tollgate-bare", 2, 0.5, 64, False),
        )
        self.assertEqual(len(argvs), 4)  # two pairs, a loadgen per side; full is not paired
        self.assertEqual(
            {a[-1] for a in argvs},
            {"http://127.0.0.1:18093/bench/x", "http://127.0.0.1:18094/bench/x"},
        )
        self.assertEqual(len(signed), 4)  # every side's headers made anew before each pair
        s = pairing.summary(p)
        self.assertAlmostEqual(s["median"], 1.04)
        self.assertEqual(s["rps"], 2000.0)
        self.assertEqual(report.sanity("full-pipeline", res), [])

    def test_a_failed_pair_is_reported_and_insane(self):
        with tempfile.TemporaryDirectory() as d:
            res, argvs, _ = self._run(d, bad=":18094")
        self.assertEqual(len(argvs), 2, "no pair after the failed one")
        p = res.paired["tollgate-observed"]
        self.assertEqual(p["pairs"], [])
        why = "pair 1: tollgate-observed: 1,000 of 1,000 responses were not 2xx {503: 1000}"
        self.assertEqual(p["failed"], why)
        self.assertEqual(
            report.sanity("full-pipeline", res),
            [f"full-pipeline tollgate-observed ÷ tollgate-bare, driven at once: {why}"],
        )
        md = "\n".join(markdown._leg({"options": {"reps": 2, "warmup": 0}}, None, res))
        self.assertIn(
            "- tollgate-observed ÷ tollgate-bare, both driven at once, proxies not pinned "
            f"(2 pairs of 0.5 s, a loadgen each): **not measured**: {why}; issue 7 asks ≤ 1.05",
            md,
        )
        # a row that did not start: no pairs, said so
        res = pipeline_leg([run(1)], [log_run(1)])
        res.rows[1].stop_measuring("did not start: boom")
        bench = SimpleNamespace(opts=SimpleNamespace(reps=1, duration=1.0), load_cpus=lambda: None)
        pairing.run(bench, res.leg, res, [(res.rows[0], list)], 64, None)
        self.assertEqual(
            res.paired["tollgate-observed"]["failed"],
            "tollgate-observed not measured (see the table)",
        )

    def test_the_bound_moves_to_the_paired_line(self):
        pairs = [[12.64, 13.15, 38100.0, 37900.0], [12.0, 12.5, 38300.0, 38000.0]]
        pairs.append([13.0, 13.52, 37500.0, 37200.0])
        res = paired_pipeline(pairs)
        md = "\n".join(markdown._leg({"options": {"reps": 3, "warmup": 0}}, None, res))
        self.assertIn(
            "- tollgate-observed: 1.180 (per repetition: 1.180); kept beside the next line, which "
            "issue 7's bound is read against\n"
            "- tollgate-observed ÷ tollgate-bare, both driven at once on the proxy CPU (3 pairs "
            "of 10 s, a loadgen each): **1.040** (per pair: 1.040 1.042 1.040); medians 12.64 "
            "and 13.15 CPU-µs/req at ~38,000 req/s each; issue 7 asks ≤ 1.05\n"
            "- tollgate-full: 1.300 (per repetition: 1.300)\n",
            md,
        )
        self.assertIn(
            "; then 3 pairs of 10 s: tollgate-observed and tollgate-bare driven at once "
            "(`loadgen -t 1 -c 64` each)",
            md,
        )
        j = report.leg_json(res)
        seq = j["cpu_us_per_req_ratio_to_first_variant"]
        self.assertEqual(seq[0]["bound_read_against"], "paired")
        self.assertEqual((seq[0]["max"], seq[0]["issue"]), (1.05, 7))
        self.assertNotIn("bound_read_against", seq[1])
        (p,) = j["cpu_us_per_req_ratio_paired"]
        self.assertEqual(
            set(p),
            {
                "target",
                "to",
                "median_ratio",
                "per_pair",
                "pairs",
                "secs",
                "connections",
                "pinned",
                "max",
                "issue",
                "failed",
            },
        )
        self.assertEqual(
            (p["target"], p["to"], p["max"], p["issue"]),
            ("tollgate-observed", "tollgate-bare", 1.05, 7),
        )
        self.assertAlmostEqual(p["median_ratio"], 13.15 / 12.64)
        self.assertEqual((p["pairs"], p["secs"], p["failed"]), (pairs, 10.0, None))
        self.assertEqual(len(p["per_pair"]), 3)
        self.assertEqual(report.sanity("full-pipeline", res), [])
        # without pairs: the bound stays on the sequential line, the JSON list is empty
        res.paired.clear()
        self.assertEqual(report.leg_json(res)["cpu_us_per_req_ratio_paired"], [])
        md = "\n".join(markdown._leg({"options": {"reps": 1, "warmup": 0}}, None, res))
        self.assertIn("- tollgate-observed: 1.180 (per repetition: 1.180); issue 7 asks ≤ 1.05", md)
        self.assertNotIn("driven at once", md)


if __name__ == "__main__":
    unittest.main()
