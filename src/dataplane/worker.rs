//! One worker per core: its own monoio runtime (driver chosen by config), its own
//! SO_REUSEPORT listening sockets, connections, upstream pool and clock.
//!
//! Lifecycle: bind (report to the starter) → accept loops + ticker → on a new snapshot the
//! ticker binds added listeners and stops removed ones → on drain, the ticker wakes the
//! accept loops, which close their listeners; connections finish their current request and
//! close; the control plane exits the process once in-flight requests are done.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::Duration;

use monoio::net::{ListenerOpts, TcpListener};
use monoio::time::Instant;

use super::clock::{DateCache, IdGen, Now, WallClock};
use super::conn::Conn;
use super::deadlines;
use super::meters::Meters;
use super::pool::Pool;
use super::shared::Shared;
use super::throttle::Throttle;
use super::trim;
use crate::config::{IoDriver, Snapshot};

/// How often a worker looks at the shared drain flag and evicts idle upstream connections.
const TICK: Duration = Duration::from_millis(100);
/// Listen backlog per worker socket.
const BACKLOG: i32 = 4096;
/// Idle `Conn`s (connection buffers) kept per core for reuse beyond one tick.
const KEEP_CONNS: usize = 32;

/// The per-core handle on a snapshot: cloning it is a non-atomic increment, so requests on
/// all cores do not contend on the `Arc`'s shared count.
#[allow(clippy::redundant_allocation)]
pub type SnapshotRef = Rc<Arc<Snapshot>>;

/// Per-core state. Owned by the core's thread; reached through `Rc`.
pub struct Worker {
    pub id: usize,
    pub shared: Arc<Shared>,
    cached: RefCell<SnapshotRef>,
    /// The meters of `cached`'s generation, and this core's leases of their ledgers.
    /// Cloned per metered request: an `Rc` of the `Arc`, so cores do not contend on the
    /// `Arc`'s count (as `SnapshotRef`).
    #[allow(clippy::redundant_allocation)]
    meters: RefCell<Rc<Arc<Meters>>>,
    pub throttle: RefCell<Throttle>,
    pub date: DateCache,
    wall: WallClock,
    pub ids: IdGen,
    /// JWTs this core verified (`authorize.rs`).
    pub jwt_tokens: RefCell<super::authorize::TokenCache>,
    pub pool: RefCell<Pool>,
    /// Buffers of connections that are not active, for the next active one. Boxed: a
    /// connection holds its `Conn` by pointer, and handing it over moves only the pointer.
    #[allow(clippy::vec_box)]
    conns: RefCell<Vec<Box<Conn>>>,
    /// Reused buffers for stage cache keys: the builder, and the key being looked up.
    pub cache_keys: RefCell<(super::cache::KeyBuilder, Vec<u8>)>,
    /// This core's Lambda authorizer results (and the reused key buffer).
    pub lambda: RefCell<super::lambda_auth::Caches>,
    /// This core's request metrics, handed to the control plane by the ticker.
    pub metrics: RefCell<super::metrics::CoreMetrics>,
    /// This core's access log batches, handed to the log writer when full and by the ticker.
    pub access_logs: RefCell<super::access_log::CoreLogs>,
    /// This core's span batches for the OTLP exporter (`otlp.rs`; same machinery).
    pub spans: RefCell<super::access_log::CoreLogs>,
    /// SigV4 signing of remote function calls: buffers and each day's signing keys.
    pub invoke_signing: RefCell<super::lambda_auth::Signing>,
    /// Local functions' processes this core serves, and their queues.
    pub functions: super::functions::Functions,
    /// Lambda proxy results are read into this (`lambda::respond`), reused.
    pub lambda_result: RefCell<super::lambda::response::ProxyResponse>,
    connections: Cell<usize>,
    round_robin: Cell<usize>,
    draining: Cell<bool>,
    /// Accept loops waiting on `draining` or their listener's stop flag.
    drain_wakers: RefCell<Vec<Waker>>,
    /// The listening sockets this worker has bound, and the generation they were synced to.
    bound: RefCell<Vec<Bound>>,
    listeners_generation: Cell<u64>,
}

/// One listening socket of a worker; setting `stop` closes it (a reload removed it).
struct Bound {
    addr: SocketAddr,
    stop: Rc<Cell<bool>>,
}

impl Worker {
    /// The time for a request that starts now: one monotonic clock read (see [`Now`]).
    pub fn now(&self) -> Now {
        let mono_ns = self.shared.clock.now_ns();
        Now {
            mono_ns,
            unix_secs: self.wall.unix_secs(mono_ns),
        }
    }

    /// Unix milliseconds at `now` (no clock read): a Lambda event's `requestTimeEpoch`.
    pub fn unix_ms(&self, now: Now) -> u64 {
        self.wall.unix_ms(now.mono_ns)
    }

    /// `now` plus `d`, as a timer deadline (no clock read).
    pub fn deadline(&self, now: Now, d: std::time::Duration) -> monoio::time::Instant {
        monoio::time::Instant::from_std(self.shared.clock.instant_at(now.mono_ns)) + d
    }

    /// Add one to this core's slot of a per-core health counter in `Shared`.
    #[inline]
    pub fn count(&self, counters: &[super::shared::PaddedCounter]) {
        if let Some(c) = counters.get(self.id) {
            c.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn new(id: usize, shared: Arc<Shared>) -> Worker {
        let (snapshot, meters) = shared.current_with_meters();
        let throttle = Throttle::new(&meters.limits);
        let metrics = super::metrics::CoreMetrics::new(id, shared.metrics.clone());
        let access_logs = super::access_log::CoreLogs::new(shared.access_logs.clone());
        let spans = super::access_log::CoreLogs::new(shared.spans.clone());
        Worker {
            id,
            shared,
            cached: RefCell::new(Rc::new(snapshot)),
            meters: RefCell::new(Rc::new(meters)),
            throttle: RefCell::new(throttle),
            date: DateCache::new(),
            wall: WallClock::new(),
            ids: IdGen::new(),
            jwt_tokens: RefCell::default(),
            pool: RefCell::new(Pool::default()),
            conns: RefCell::new(Vec::new()),
            cache_keys: RefCell::new((super::cache::KeyBuilder::new(), Vec::new())),
            lambda: RefCell::new(super::lambda_auth::Caches::default()),
            metrics: RefCell::new(metrics),
            access_logs: RefCell::new(access_logs),
            spans: RefCell::new(spans),
            invoke_signing: RefCell::default(),
            lambda_result: RefCell::default(),
            functions: super::functions::Functions::new(id),
            connections: Cell::new(0),
            round_robin: Cell::new(id),
            draining: Cell::new(false),
            drain_wakers: RefCell::new(Vec::new()),
            bound: RefCell::new(Vec::new()),
            listeners_generation: Cell::new(0),
        }
    }

    /// The current snapshot: one relaxed generation check per call; the shared `ArcSwap` is
    /// only touched after a reload. Hold the returned `Rc` for the request's life.
    #[inline]
    pub fn snapshot(&self) -> SnapshotRef {
        let generation = self.shared.generation();
        {
            let cached = self.cached.borrow();
            if cached.generation == generation {
                return cached.clone();
            }
        }
        let (snapshot, meters) = self.shared.current_with_meters();
        let fresh = Rc::new(snapshot);
        *self.cached.borrow_mut() = fresh.clone();
        self.throttle
            .borrow_mut()
            .switch(&meters.limits, self.shared.clock.now_ns());
        *self.meters.borrow_mut() = Rc::new(meters);
        fresh
    }

    /// The meters built for `snap` (the snapshot a request holds); `None` if this core has
    /// already moved on to a newer generation — the request is then not metered, as API
    /// Gateway lets a request through when its usage-plan check fails internally.
    #[inline]
    #[allow(clippy::redundant_allocation)]
    pub fn meters_for(&self, snap: &crate::config::Snapshot) -> Option<Rc<Arc<Meters>>> {
        let meters = self.meters.borrow();
        (meters.generation == snap.generation).then(|| meters.clone())
    }

    /// A per-core counter for spreading connections over an upstream's addresses.
    pub fn next_round_robin(&self) -> usize {
        let n = self.round_robin.get().wrapping_add(1);
        self.round_robin.set(n);
        n
    }

    #[inline]
    pub fn is_draining(&self) -> bool {
        self.draining.get()
    }

    pub fn connection_opened(&self) {
        self.connections.set(self.connections.get() + 1);
        self.shared.connections[self.id]
            .0
            .fetch_add(1, Ordering::Relaxed);
    }

    pub fn connection_closed(&self) {
        self.connections.set(self.connections.get() - 1);
        self.shared.connections[self.id]
            .0
            .fetch_sub(1, Ordering::Relaxed);
    }

    /// Buffers for a connection that is about to read: recycled when the core has some.
    pub fn take_conn(&self, peer: SocketAddr, port: u16) -> Box<Conn> {
        let limits = self.snapshot().server.limits;
        match self.conns.borrow_mut().pop() {
            Some(mut conn) => {
                conn.reuse(&limits, peer, port);
                conn
            }
            None => Box::new(Conn::new(&limits, peer, port)),
        }
    }

    /// Buffers back from a connection that parked or closed, kept for the next one. The
    /// ticker frees what a burst left beyond `KEEP_CONNS` (see `shrink_conns`).
    pub fn give_conn(&self, mut conn: Box<Conn>) {
        let freed = conn.recycle();
        self.conns.borrow_mut().push(conn);
        if freed > 0 {
            trim::released(freed);
        }
    }

    /// Free the buffers a burst left beyond `KEEP_CONNS`, all at once and just before a trim,
    /// so the freed blocks coalesce and go back to the OS instead of being split up for small
    /// allocations first.
    fn shrink_conns(&self) {
        let mut conns = self.conns.borrow_mut();
        let surplus = conns.len().saturating_sub(KEEP_CONNS);
        let freed: usize = conns.drain(..surplus).map(|c| c.footprint()).sum();
        conns.shrink_to(KEEP_CONNS);
        if freed > 0 {
            trim::released(freed);
        }
    }

    /// A keep-alive connection went idle and gave back its buffers (admin: `connectionsWaiting`).
    pub fn connection_parked(&self) {
        self.shared.waiting[self.id]
            .0
            .fetch_add(1, Ordering::Relaxed);
    }

    pub fn connection_unparked(&self) {
        self.shared.waiting[self.id]
            .0
            .fetch_sub(1, Ordering::Relaxed);
    }

    pub fn request_started(&self) {
        self.shared.in_flight[self.id]
            .0
            .fetch_add(1, Ordering::Relaxed);
    }

    pub fn request_finished(&self) {
        self.shared.in_flight[self.id]
            .0
            .fetch_sub(1, Ordering::Relaxed);
        self.shared.requests[self.id]
            .0
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Resolves once this worker drains or `stop` is set.
    fn stopped(self: &Rc<Self>, stop: &Rc<Cell<bool>>) -> StopWait {
        StopWait {
            worker: self.clone(),
            stop: stop.clone(),
        }
    }

    fn wake_accept_loops(&self) {
        for waker in self.drain_wakers.borrow_mut().drain(..) {
            waker.wake();
        }
    }

    fn begin_drain(&self) {
        self.draining.set(true);
        self.wake_accept_loops();
    }

    /// Bind listeners the snapshot added and stop those it removed (applied on reload).
    fn sync_listeners(self: &Rc<Self>, snapshot: &Snapshot) {
        let wanted: Vec<SocketAddr> = snapshot
            .server
            .listeners
            .iter()
            .map(|l| l.address)
            .collect();
        let mut bound = self.bound.borrow_mut();
        bound.retain(|b| {
            let keep = wanted.contains(&b.addr);
            b.stop.set(!keep);
            keep
        });
        for addr in wanted {
            if bound.iter().any(|b| b.addr == addr) {
                continue;
            }
            match bind(addr) {
                Ok(listener) => {
                    let stop = Rc::new(Cell::new(false));
                    bound.push(Bound {
                        addr,
                        stop: stop.clone(),
                    });
                    monoio::spawn(accept_loop(self.clone(), listener, addr, stop));
                }
                Err(e) => eprintln!("tollgate: worker {}: {e}", self.id),
            }
        }
        drop(bound);
        self.wake_accept_loops();
    }
}

struct StopWait {
    worker: Rc<Worker>,
    stop: Rc<Cell<bool>>,
}

impl Future for StopWait {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.worker.draining.get() || self.stop.get() {
            return Poll::Ready(());
        }
        let mut wakers = self.worker.drain_wakers.borrow_mut();
        if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
            wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let opts = ListenerOpts::new()
        .reuse_port(true)
        .reuse_addr(true)
        .backlog(BACKLOG);
    TcpListener::bind_with_config(addr, &opts)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))
}

/// Start `count` workers; returns once every worker has bound its listeners (or the first
/// bind error). `cpus`: worker *i* pins itself to `cpus[i]` before it starts its runtime
/// (`server.cpuAffinity`, `affinity::plan`); `None`: not pinned.
pub fn start(
    shared: Arc<Shared>,
    count: usize,
    cpus: Option<&[usize]>,
) -> io::Result<Vec<JoinHandle<()>>> {
    let snapshot = shared.current();
    let driver = snapshot.server.io_driver;
    let listeners: Vec<SocketAddr> = snapshot
        .server
        .listeners
        .iter()
        .map(|l| l.address)
        .collect();
    drop(snapshot);
    let (ready_tx, ready_rx) = mpsc::channel::<io::Result<()>>();
    let mut handles = Vec::with_capacity(count);
    for id in 0..count {
        let shared = shared.clone();
        let listeners = listeners.clone();
        let ready = ready_tx.clone();
        let cpu = cpus.and_then(|c| c.get(id).copied());
        let handle = std::thread::Builder::new()
            .name(format!("tollgate-worker-{id}"))
            .spawn(move || {
                if let Some(cpu) = cpu
                    && let Err(e) = super::affinity::CpuSet::one(cpu).and_then(|set| set.apply())
                {
                    let why = format!("worker {id}: cannot pin to CPU {cpu}: {e}");
                    let _ = ready.send(Err(io::Error::new(e.kind(), why)));
                    return;
                }
                run(id, shared, driver, listeners, ready)
            })?;
        handles.push(handle);
    }
    drop(ready_tx);
    for _ in 0..count {
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(io::Error::other("a worker exited before binding")),
        }
    }
    Ok(handles)
}

fn run(
    id: usize,
    shared: Arc<Shared>,
    driver: IoDriver,
    listeners: Vec<SocketAddr>,
    ready: mpsc::Sender<io::Result<()>>,
) {
    use monoio::RuntimeBuilder;
    use monoio::{IoUringDriver, LegacyDriver};
    let main = worker_main(id, shared, listeners, ready.clone());
    let built = match driver {
        IoDriver::Legacy => RuntimeBuilder::<LegacyDriver>::new()
            .enable_timer()
            .build()
            .map(|mut rt| rt.block_on(main)),
        uring => {
            let mut urb = io_uring::IoUring::builder();
            match uring {
                IoDriver::UringCoop => {
                    urb.setup_coop_taskrun().setup_taskrun_flag();
                }
                IoDriver::UringDeferTaskrun => {
                    urb.setup_single_issuer().setup_defer_taskrun();
                }
                _ => {}
            }
            RuntimeBuilder::<IoUringDriver>::new()
                .with_entries(1024)
                .uring_builder(urb)
                .enable_timer()
                .build()
                .map(|mut rt| rt.block_on(main))
        }
    };
    if let Err(e) = built {
        let _ = ready.send(Err(io::Error::new(
            e.kind(),
            format!("worker {id}: cannot start the {driver:?} runtime: {e}"),
        )));
    }
}

async fn worker_main(
    id: usize,
    shared: Arc<Shared>,
    addrs: Vec<SocketAddr>,
    ready: mpsc::Sender<io::Result<()>>,
) {
    let worker = Rc::new(Worker::new(id, shared));
    let mut listeners = Vec::with_capacity(addrs.len());
    for &addr in &addrs {
        match bind(addr) {
            Ok(l) => listeners.push((l, addr)),
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        }
    }
    let _ = ready.send(Ok(()));
    drop(ready);
    worker
        .listeners_generation
        .set(worker.snapshot().generation);
    for (listener, addr) in listeners {
        let stop = Rc::new(Cell::new(false));
        worker.bound.borrow_mut().push(Bound {
            addr,
            stop: stop.clone(),
        });
        monoio::spawn(accept_loop(worker.clone(), listener, addr, stop));
    }
    ticker(&worker).await;
    // Connections finish on their own; the control plane decides when the process exits.
    loop {
        // Requests finishing during the drain still reach the metrics and access logs, and
        // their coarse deadlines (send timeouts, parked idle deadlines) and local function
        // deadlines still fire.
        worker.metrics.borrow_mut().hand_over();
        worker.access_logs.borrow_mut().hand_over_all();
        worker.spans.borrow_mut().hand_over_all();
        deadlines::sweep(Instant::now());
        worker.functions.tick(&worker);
        if worker.connections.get() == 0 {
            break;
        }
        monoio::time::sleep(TICK).await;
    }
}

/// Housekeeping until drain: watch the shared drain flag, evict idle upstream connections,
/// time out parked connections, return memory to the OS after a burst went idle.
async fn ticker(worker: &Rc<Worker>) {
    loop {
        monoio::time::sleep(TICK).await;
        if worker.shared.is_draining() {
            worker.begin_drain();
            return;
        }
        let snapshot = worker.snapshot();
        if snapshot.generation != worker.listeners_generation.get() {
            worker.listeners_generation.set(snapshot.generation);
            worker.sync_listeners(&snapshot);
        }
        let idle = snapshot.server.limits.upstream_idle_timeout;
        let pooled = {
            let mut pool = worker.pool.borrow_mut();
            pool.evict_idle(idle);
            pool.idle_count()
        };
        worker.shared.pool_idle[worker.id]
            .0
            .store(pooled, Ordering::Relaxed);
        worker.metrics.borrow_mut().hand_over();
        worker.access_logs.borrow_mut().hand_over_all();
        worker.spans.borrow_mut().hand_over_all();
        deadlines::sweep(Instant::now());
        worker
            .throttle
            .borrow_mut()
            .release_expired(worker.shared.clock.now_ns());
        worker.shrink_conns();
        worker.functions.tick(worker);
        trim::trim_if_released();
    }
}

async fn accept_loop(
    worker: Rc<Worker>,
    listener: TcpListener,
    addr: SocketAddr,
    stop: Rc<Cell<bool>>,
) {
    let port = addr.port();
    loop {
        let max = worker.snapshot().server.limits.max_connections_per_worker;
        if worker.connections.get() >= max {
            // Leave further connections in the kernel backlog until one closes (L08).
            monoio::select! {
                _ = monoio::time::sleep(Duration::from_millis(5)) => continue,
                _ = worker.stopped(&stop) => break,
            }
        }
        let accepted = monoio::select! {
            r = listener.accept() => Some(r),
            _ = worker.stopped(&stop) => None,
        };
        match accepted {
            None => break,
            Some(Ok((stream, peer))) => {
                let _ = stream.set_nodelay(true);
                // Counted here, not in the task, so the cap check above sees it at once.
                worker.connection_opened();
                worker.count(&worker.shared.accepted);
                // HTTPS or not, with the certificates of the snapshot current at accept.
                let tls = worker
                    .snapshot()
                    .server
                    .listeners
                    .iter()
                    .find(|l| l.address == addr)
                    .and_then(|l| l.tls.clone());
                match tls {
                    Some(certs) => {
                        monoio::spawn(super::conn::serve_tls(
                            worker.clone(),
                            stream,
                            peer,
                            port,
                            certs,
                        ));
                    }
                    None => {
                        monoio::spawn(super::conn::serve(worker.clone(), stream, peer, port, None));
                    }
                }
            }
            Some(Err(e)) => {
                // EMFILE/ENFILE/ECONNABORTED: back off briefly instead of spinning.
                super::diag::line(format_args!(
                    "worker {}: accept on port {port}: {e}",
                    worker.id
                ));
                monoio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    drop(listener);
}
