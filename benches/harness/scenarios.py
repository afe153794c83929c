"""The catalogue: every named scenario, including those waiting for a feature.

A scenario is one or more legs; a leg is one workload with its own origin and its own proxy
configurations, measured on every target in alternation. Three kinds of leg:

- THROUGHPUT: closed-loop requests for --duration; req/s, latency, CPU per request, RSS.
- IDLE: open N keep-alive connections, one request each, hold them idle; memory per
  connection (RSS while holding minus RSS before, over N).
- STREAM: one connection moving a large body (up to the origin, or down from it); MB/s, CPU
  per MB, and how much the proxy's peak RSS grew (bounded memory).
- HANDSHAKE: closed loop over TLS where every request is a new connection with a full
  handshake (`Connection: close`, loadgen --no-resume); handshakes/s, CPU per handshake.

IDLE and STREAM legs start every target afresh for each repetition, so memory that an
earlier repetition left in an allocator cannot hide the next one's growth.
"""

from dataclasses import dataclass, field, replace

THROUGHPUT, IDLE, STREAM, HANDSHAKE = "throughput", "idle", "stream", "handshake"

# The origin's body in the plain scenarios: what every earlier benches/run used.
SMALL_BODY = b"hello world\n"
MB = 1_000_000

# The tls scenario (issue 6). Two legs on the same self-signed ECDSA P-256 certificate, TLS
# 1.3 on every peer (loadgen --tls-version 1.3):
# - keep-alive: proxy-small over TLS, --connections connections, each doing one handshake;
# - handshakes: every request on a new connection (`Connection: close`, which each peer
#   honours by closing after its response), each connection a full TLS 1.3 handshake:
#   loadgen --no-resume keeps no session, so no peer's tickets turn a handshake into a
#   resumption (every peer still issues its default tickets, and that costs it CPU).
TLS_NOT_MEASURED = {
    "nullproxy": "n/a (forwards bytes; it cannot terminate TLS)",
    "origin": "n/a (the origin speaks plain HTTP)",
}
HANDSHAKE_HEADERS = ("Connection: close",)
HANDSHAKE_CONNECTIONS = 16  # handshakes in flight at once (closed loop)
# Issue 6's targets, reported beside the figures (not checked: a run is a measurement).
ISSUE6_MAX_CPU_RATIO = 0.85  # keep-alive: tollgate CPU-µs/req ÷ nginx's, at most
ISSUE6_MIN_HANDSHAKE_RATIO = 1.0  # handshakes/s: tollgate ÷ nginx, at least


@dataclass(frozen=True)
class Variant:
    """One tollgate row of a leg that compares tollgate configurations side by side, driven in
    the same alternation as every other row."""

    name: str  # row label suffix: tollgate-NAME
    template: str  # a file in benches/conf
    patch: dict = field(default_factory=dict)  # top-level keys replaced in the template
    expect: int = 200  # the status every response of this row must have
    # the row's admin API listens on --port-base + peers.ADMIN_OFFSET (one such row per leg):
    # the harness reads its stage cache's counters around each run
    admin: bool = False
    auth: str = ""  # credentials made at run time (harness/auth.py KINDS): "" = none
    # an issue's bound on this row's CPU-µs/req ÷ the baseline row's (reported, not checked)
    max_cpu_ratio: float | None = None
    issue: int = 8  # the issue that sets max_cpu_ratio
    # the bins key of a local function this row's tollgate runs (harness/functions.py): its
    # `functions` entries with `local` run that binary; the function processes (tollgate's
    # children) are measured apart from tollgate's own CPU
    local: str = ""
    concurrency: int = 0  # the local function's warm processes (0: the template's)
    # `server.cpuAffinity` ("" = the template's, none): with "workers" tollgate pins its worker
    # and the function processes it serves to one CPU (under --pin the proxy CPU), and the
    # harness leaves them there rather than moving them to the load CPUs
    cpu_affinity: str = ""
    # issue 7's switches (harness/observe.py): `server.metrics`, and a stage access log in
    # API Gateway's JSON format written to a file in the run's scratch dir
    metrics: bool = True
    access_log: bool = False
    headers: tuple = ()  # this row's own request headers ("N: v"), sent after the leg's
    # open loop at the requests/s the named variant (tollgate-NAME, driven before this row)
    # reached in the same repetition (warm-up: in the warm-up): a row measured at the rate
    # another row could reach, to compare CPU per request at equal load
    rate_of: str = ""
    # after the repetitions, --reps pairs of --duration s: this row and the leg's first variant
    # driven at the same time (harness/pairing.py), each pair's ratio under one machine state;
    # max_cpu_ratio is read against those pairs (the sequential ratio is kept beside them)
    paired: bool = False


@dataclass(frozen=True)
class Leg:
    kind: str
    name: str = ""  # "" in a one-leg scenario
    response_bytes: int | None = None  # origin response body size; None = SMALL_BODY
    connections: int | None = None  # None = --connections
    tls: bool = False
    upload_bytes: int = 0  # STREAM: request body size (0 = a download leg)
    transfers: int = 0  # STREAM: requests per measured run
    hold_s: float = 0.0  # IDLE: how long loadgen holds the connections
    # target kind -> why it is not measured in this leg (shown as its row)
    not_measured: dict = field(default_factory=dict)
    headers: tuple = ()  # request headers the load generator sends to every row ("N: v")
    tls_args: tuple = ()  # loadgen options added to the TLS ones (e.g. "--no-resume")
    variants: tuple = ()  # tollgate rows (Variant); () = one row from tollgate-proxy.json
    cache: bool = False  # nginx and HAProxy cache the origin's GET responses (1 h)
    fill_keys: int = 0  # after the repetitions: this many distinct keys into the admin row's cache
    # a row `origin-same-bytes` (with the origin row): a second bare tools/upstream answering
    # with the header lines and body of one response of the row tollgate-SAME_BYTES, so that
    # its responses have exactly that row's byte length (harness/samebytes.py)
    same_bytes: str = ""
    access_log: bool = False  # nginx logs every request (JSON log_format) to a file

    @property
    def literal_body(self):
        """The origin's body when it is text (SMALL_BODY); None when it is body_len x's."""
        return SMALL_BODY if self.response_bytes is None else None

    @property
    def body_len(self):
        return len(SMALL_BODY) if self.response_bytes is None else self.response_bytes


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    make_legs: object = None  # quick: bool -> [Leg]; None while not yet available
    not_yet: str = ""  # why it is not available (the issue it waits for)
    # loadgen features a leg needs ("https", "hold"), with the flag that shows them
    needs: tuple = ()

    @property
    def available(self):
        return self.make_legs is not None

    def legs(self, quick):
        return self.make_legs(quick)


def _idle(quick):
    n = 1_000 if quick else 10_000
    return [Leg(IDLE, connections=n, hold_s=2.0 if quick else 3.0)]


def _stream(quick):
    size = 10 * MB if quick else 100 * MB
    transfers = 2 if quick else 5
    return [
        Leg(
            STREAM,
            name="upload",
            response_bytes=0,
            connections=1,
            upload_bytes=size,
            transfers=transfers,
        ),
        Leg(STREAM, name="download", response_bytes=size, connections=1, transfers=transfers),
    ]


def _tls(quick):
    return [
        Leg(THROUGHPUT, name="keep-alive", tls=True, not_measured=TLS_NOT_MEASURED),
        Leg(
            HANDSHAKE,
            name="handshakes",
            tls=True,
            connections=HANDSHAKE_CONNECTIONS,
            headers=HANDSHAKE_HEADERS,
            tls_args=("--no-resume",),
            not_measured=TLS_NOT_MEASURED,
        ),
    ]


# The usage-plan scenario: an API key on every request, checked against four throttle levels
# (key+method, key, stage method, account) all far above the load, compared with the same
# tollgate as a plain proxy and with every request throttled (429 at the last level, the
# account, so the key check and the three other levels run first: the dearest rejection).
BENCH_API_KEY = "bench-api-key-0123456789abcdef"  # benches/conf/tollgate-usage-plan.json
# A burst of 1 (the pre-run check takes it), then one token per 10,000 s (2.8 h): only a run
# longer than that could see a 200 among the 429s, and the sanity check would name it.
THROTTLED_ACCOUNT = {"throttleSettings": {"rateLimit": 0.0001, "burstLimit": 1}}
USAGE_PLAN_VARIANTS = (
    Variant("plain", "tollgate-proxy.json"),
    Variant("usage-plan", "tollgate-usage-plan.json"),
    Variant(
        "usage-plan-429", "tollgate-usage-plan.json", {"account": THROTTLED_ACCOUNT}, expect=429
    ),
)
NO_API_KEYS = "n/a: no equivalent of API keys and usage-plan throttles (baseline: tollgate-plain)"


def _usage_plan(quick):
    return [
        Leg(
            THROUGHPUT,
            headers=(f"x-api-key: {BENCH_API_KEY}",),
            variants=USAGE_PLAN_VARIANTS,
            not_measured={"nginx": NO_API_KEYS, "haproxy": NO_API_KEYS},
        )
    ]


# The cache-hit scenario: one GET answered from the stage cache (TTL 3600, warmed by the
# pre-run check's request) against the same tollgate config with the cache off, the origin
# itself (the bare monoio origin of issue 5's CPU bound), that origin answering tollgate's
# cache-hit response bytes (origin-same-bytes: API Gateway's headers make tollgate's response
# ~5x the origin's ~50 bytes, and the kernel's copy of a larger send costs any server more)
# and nginx / HAProxy with their caches. Then a fill step: FILL_KEYS distinct `?k=N` GETs (k
# is a cacheKeyParameter) into the cache-hit row, for the memory each entry costs.
CACHE_API, CACHE_STAGE = "bench", "prod"  # benches/conf/tollgate-cache.json
CACHE_KEY_PARAM = "k"  # its method.request.querystring cache key parameter
CACHE_OFF_STAGES = [{"apiId": CACHE_API, "stageName": CACHE_STAGE}]
CACHE_VARIANTS = (
    Variant("plain", "tollgate-cache.json", {"stages": CACHE_OFF_STAGES}),
    Variant("cache-hit", "tollgate-cache.json", admin=True),
)
# Issue 5's bounds, reported beside the figures (not checked: a run is a measurement).
CACHE_MIN_RPS_RATIO = 2.0  # cache-hit req/s ÷ plain proxy req/s, at least
# cache-hit CPU-µs/req ÷ bare origin CPU-µs/req, at most; read against origin-same-bytes
CACHE_MAX_CPU_RATIO = 1.2


def _cache_hit(quick):
    return [
        Leg(
            THROUGHPUT,
            variants=CACHE_VARIANTS,
            cache=True,
            fill_keys=5_000 if quick else 20_000,
            same_bytes="cache-hit",
        )
    ]


# The jwt scenario (issue 8): an authorizer on every request, each kind a tollgate row beside
# the same route with none. Keys, tokens and the SigV4 signature are made at run time
# (harness/auth.py): the tokens expire in 2100, the signature is redone before every run.
# - jwt-es256, jwt-rs256: a REST Cognito user pool authorizer with its keys from `jwksFile`;
# - lambda-cached: a REST TOKEN Lambda authorizer, result TTL 3600: after the pre-run check
#   every request is a cached hit (the function, a second tools/upstream, answers Allow);
# - sigv4: AWS_IAM, one signed GET replayed (tollgate accepts replays within maxSkewSeconds).
# Issue 8's bounds, reported beside the figures (not checked: a run is a measurement).
JWT_MAX_CPU_RATIO = 1.15  # ES256 JWT CPU-µs/req ÷ the plain proxy's, at most
LAMBDA_MAX_CPU_RATIO = 1.05  # cached Lambda authorizer hit ÷ the plain proxy's, at most
JWT_VARIANTS = (
    Variant("plain", "tollgate-proxy.json"),
    Variant("jwt-es256", "tollgate-jwt.json", auth="jwt-es256", max_cpu_ratio=JWT_MAX_CPU_RATIO),
    Variant("jwt-rs256", "tollgate-jwt.json", auth="jwt-rs256"),
    Variant(
        "lambda-cached",
        "tollgate-lambda.json",
        auth="lambda",
        max_cpu_ratio=LAMBDA_MAX_CPU_RATIO,
    ),
    Variant("sigv4", "tollgate-sigv4.json", auth="sigv4"),
)
NO_AUTHORIZERS = (
    "n/a: no equivalent of API Gateway's JWT, Lambda and SigV4 authorizers "
    "(baseline: tollgate-plain)"
)


def _jwt(quick):
    return [
        Leg(
            THROUGHPUT,
            variants=JWT_VARIANTS,
            not_measured={"nginx": NO_AUTHORIZERS, "haproxy": NO_AUTHORIZERS},
        )
    ]


# The lambda-local scenario (issue 9): a REST `/{proxy+}` ANY whose AWS_PROXY integration
# invokes a local function (tests/functions/lambda-echo on the `lambda_runtime` crate, built
# release, run warm by tollgate's function host: `concurrency` 4 processes on a 2-core box so
# that one process's Runtime API round trip overlaps another's handler) beside the same
# tollgate as a plain HTTP_PROXY. tollgate's CPU-µs/req counts the tollgate process (workers
# and function host threads); the function processes' CPU is reported apart.
LAMBDA_LOCAL_MAX_CPU_RATIO = 2.0  # tollgate-lambda-local ÷ tollgate-plain, at most
LAMBDA_LOCAL_VARIANTS = (
    Variant("plain", "tollgate-proxy.json"),
    Variant(
        "lambda-local",
        "tollgate-lambda-local.json",
        max_cpu_ratio=LAMBDA_LOCAL_MAX_CPU_RATIO,
        issue=9,
        local="lambda-echo",
    ),
    # the plain proxy again, open loop at the rate the function let lambda-local reach: the
    # same load, so both pay the same wake-ups per request
    Variant("plain-at-rate", "tollgate-proxy.json", rate_of="lambda-local"),
    # the same gateway file with a function that costs next to nothing (tools/lambda-bare),
    # as the plain row's origin does, and enough warm processes (16; they block, idle, between
    # invocations) that the gateway, not the function, sets the pace: tollgate's own cost per
    # invocation when it is busy
    Variant(
        "lambda-bare",
        "tollgate-lambda-local.json",
        max_cpu_ratio=LAMBDA_LOCAL_MAX_CPU_RATIO,
        issue=9,
        local="lambda-bare",
        concurrency=16,
    ),
    # the plain proxy at lambda-bare's rate: CPU per request depends on the load (how many
    # requests share one wake-up of the worker), so the comparison at the same load; the
    # saturated plain row stays beside it
    Variant("plain-at-bare-rate", "tollgate-proxy.json", rate_of="lambda-bare"),
)
NO_LAMBDA = (
    "n/a: no equivalent of Lambda proxy integrations with local functions "
    "(baseline: tollgate-plain)"
)


def _lambda_local(quick):
    return [
        Leg(
            THROUGHPUT,
            variants=LAMBDA_LOCAL_VARIANTS,
            not_measured={"nginx": NO_LAMBDA, "haproxy": NO_LAMBDA},
        )
    ]


# The lambda-pinned scenario (issue 9): lambda-local's two function rows with
# `server.cpuAffinity: "workers"`, each beside the plain proxy at its rate. tollgate pins its
# worker, and the function processes it serves, to one CPU (under --pin the proxy CPU), and
# the harness leaves them there: the Runtime API's two wake-ups of a function per invocation
# (the event, the 202) stay on that CPU instead of crossing to the load CPU. The function's
# CPU then shares the worker's, as it would on a machine where each core runs its worker and
# that worker's functions.
def _pinned(v):
    """lambda-local's row v for lambda-pinned: a function row with `cpuAffinity` "workers", a
    rate-matched row at that pinned row's rate, the plain row as it is."""
    if v.local:
        return replace(v, name=f"{v.name}-pinned", cpu_affinity="workers")
    if v.rate_of:
        name = v.name.replace("-rate", "-pinned-rate")
        return replace(v, name=name, rate_of=f"{v.rate_of}-pinned")
    return v


LAMBDA_PINNED_VARIANTS = tuple(_pinned(v) for v in LAMBDA_LOCAL_VARIANTS)


def _lambda_pinned(quick):
    return [
        Leg(
            THROUGHPUT,
            variants=LAMBDA_PINNED_VARIANTS,
            not_measured={"nginx": NO_LAMBDA, "haproxy": NO_LAMBDA},
        )
    ]


# The full-pipeline scenario (issue 7): what metrics and access logs cost. Three tollgate rows
# beside each other: tollgate-proxy.json with `server.metrics: false` and no access log
# (bare), the same with metrics on and a stage access log (observed: API Gateway's JSON
# format, 12 `$context` variables, to a file in the run's scratch dir), and an API key usage
# plan + a Cognito JWT authorizer (ES256) + metrics + the access log (full). nginx logs every
# request in a JSON log_format to a file (buffer=64k, flush=1s: batched, as tollgate's writer
# is); its bare twin is proxy-small's nginx row. Rows run seconds apart can land in different
# machine states (kernel time per request swings by up to ~40% for 10-20 s on this VM), so
# issue 7's bound is read against observed and bare driven at once (Variant.paired).
ISSUE7_MAX_CPU_RATIO = 1.05  # observed CPU-µs/req ÷ bare's, at most
FULL_PIPELINE_VARIANTS = (
    Variant("bare", "tollgate-proxy.json", metrics=False),
    Variant(
        "observed",
        "tollgate-proxy.json",
        access_log=True,
        max_cpu_ratio=ISSUE7_MAX_CPU_RATIO,
        issue=7,
        paired=True,
    ),
    Variant(
        "full",
        "tollgate-full.json",
        access_log=True,
        auth="jwt-es256",
        headers=(f"x-api-key: {BENCH_API_KEY}",),
    ),
)
NO_ACCESS_LOG_FILE = "n/a: HAProxy logs to syslog or stdout, not to a file of its own"
# The observability-split scenario: full-pipeline's observed row taken apart, metrics alone
# and the access log alone, each beside the same bare row.
SPLIT_VARIANTS = (
    FULL_PIPELINE_VARIANTS[0],
    Variant("metrics-only", "tollgate-proxy.json"),
    Variant("log-only", "tollgate-proxy.json", metrics=False, access_log=True),
)
NO_SPLIT = "n/a: tollgate rows only (what each of its switches costs)"


def _observability_split(quick):
    return [
        Leg(
            THROUGHPUT,
            variants=SPLIT_VARIANTS,
            access_log=True,
            not_measured={"nginx": NO_SPLIT, "haproxy": NO_SPLIT},
        )
    ]


def _full_pipeline(quick):
    return [
        Leg(
            THROUGHPUT,
            variants=FULL_PIPELINE_VARIANTS,
            access_log=True,
            not_measured={"haproxy": NO_ACCESS_LOG_FILE},
        )
    ]


CATALOGUE = [
    Scenario(
        "proxy-small",
        "plain HTTP proxy, 12-byte responses, --connections (64) connections [default]",
        lambda quick: [Leg(THROUGHPUT)],
    ),
    Scenario(
        "proxy-16k",
        "plain HTTP proxy, 16 KiB responses, --connections (64) connections",
        lambda quick: [Leg(THROUGHPUT, response_bytes=16 * 1024)],
    ),
    Scenario(
        "proxy-1024c",
        "plain HTTP proxy, 12-byte responses, 1,024 connections (upstream pools 1,024)",
        lambda quick: [Leg(THROUGHPUT, connections=1024)],
    ),
    Scenario(
        "tls",
        "TLS 1.3 termination (self-signed ECDSA P-256 cert), 12-byte responses: keep-alive "
        "(--connections connections), then handshakes (every request a new connection, a "
        "full TLS 1.3 handshake, no resumption)",
        _tls,
        needs=("https", "no-resume"),
    ),
    Scenario(
        "idle-10k",
        "10,000 idle keep-alive connections (1,000 under --quick): KiB per connection",
        _idle,
        needs=("hold",),
    ),
    Scenario(
        "stream-100m",
        "a 100 MB request body up and a 100 MB response down (10 MB under --quick): "
        "MB/s, peak RSS growth",
        _stream,
    ),
    Scenario(
        "cache-hit",
        "a cached GET (12-byte response, TTL 1 h, warmed) vs the same tollgate as a plain proxy, "
        "the bare origin (and the bare origin answering tollgate's response bytes), nginx "
        "proxy_cache and the HAProxy cache; then memory per cache entry",
        _cache_hit,
    ),
    Scenario(
        "usage-plan",
        "API key + four throttle levels (key+method, key, stage method, account) on every "
        "request, vs the same tollgate as a plain proxy and with every request throttled (429)",
        _usage_plan,
    ),
    Scenario(
        "jwt",
        "an authorizer on every request: ES256 and RS256 JWTs (Cognito user pool, keys from "
        "a file), a cached Lambda TOKEN authorizer hit, SigV4 (AWS_IAM), vs the same tollgate "
        "as a plain proxy",
        _jwt,
    ),
    Scenario(
        "lambda-local",
        "Lambda proxy integration (AWS_PROXY, REST payload 1.0) with a local Rust function "
        "(lambda_runtime, 4 warm processes; and tools/lambda-bare, a function with no runtime "
        "library, 16 processes), --connections (64) connections, vs the same tollgate as a "
        "plain proxy; the function's own CPU apart",
        _lambda_local,
    ),
    Scenario(
        "lambda-pinned",
        "lambda-local's two function rows with `server.cpuAffinity: \"workers\"` (tollgate's "
        "worker and its function processes pinned to one CPU, the proxy CPU under --pin), each "
        "vs the plain proxy at its rate; the function's own CPU apart",
        _lambda_pinned,
    ),
    Scenario(
        "full-pipeline",
        "what metrics + access logs cost: tollgate with metrics off and no access log, with "
        "metrics and a JSON access log to a file, and with those plus an API key usage plan "
        "and an ES256 JWT authorizer; nginx with a JSON access log to a file",
        _full_pipeline,
    ),
    Scenario(
        "observability-split",
        "full-pipeline's observed row taken apart: tollgate with metrics alone and with the "
        "JSON access log alone (to a file), each beside the same bare tollgate",
        _observability_split,
    ),
]

BY_NAME = {s.name: s for s in CATALOGUE}
DEFAULT = "proxy-small"
