//! Thread-per-core plumbing shared by `upstream` and `nullproxy`: one monoio io_uring runtime
//! per worker thread, each with its own SO_REUSEPORT listener, stopped by a shared flag.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use monoio::net::{ListenerOpts, TcpListener, TcpStream};

/// How often a worker looks at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(20);
pub const BACKLOG: i32 = 1024;

/// Running workers. Dropping it stops them (and closes every connection they hold).
pub struct Workers {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    /// Counted by `upstream`'s connections; stays 0 for other users.
    pub(crate) tls_handshake_failures: Arc<AtomicU64>,
}

/// What a worker does with its listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accept {
    /// Accept connections and hand each to the connection handler.
    Serve,
    /// Listen but never accept (the kernel queue fills, then SYNs are dropped).
    Never,
}

impl Workers {
    /// Start `count` workers on `listen` (port 0 picks one port shared by all). Returns once
    /// every worker is bound. Each worker calls `per_worker` once on its own thread (so what
    /// it builds is owned by that core) and runs the handler it returns once per accepted
    /// connection.
    pub fn start<M, H, F>(
        listen: SocketAddr,
        count: NonZeroUsize,
        backlog: i32,
        accept: Accept,
        per_worker: M,
    ) -> io::Result<Workers>
    where
        M: Fn() -> H + Clone + Send + 'static,
        H: Fn(TcpStream) -> F + 'static,
        F: Future<Output = ()> + 'static,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let mut workers = Workers {
            addr: listen,
            stop: stop.clone(),
            threads: Vec::with_capacity(count.get()),
            tls_handshake_failures: Arc::default(),
        };
        for id in 0..count.get() {
            // The first worker resolves port 0; the others bind the port it got.
            let (ready_tx, ready_rx) = mpsc::channel();
            let (addr, stop, make) = (workers.addr, stop.clone(), per_worker.clone());
            let thread = std::thread::Builder::new()
                .name(format!("worker-{id}"))
                .spawn(move || run(addr, backlog, accept, stop, make(), ready_tx))?;
            workers.threads.push(thread);
            match ready_rx.recv() {
                Ok(Ok(bound)) => workers.addr = bound,
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err(io::Error::other("a worker exited before binding")),
            }
        }
        Ok(workers)
    }

    /// No workers: `addr` is reported but nothing listens there.
    pub fn none(addr: SocketAddr) -> Workers {
        Workers {
            addr,
            stop: Arc::new(AtomicBool::new(true)),
            threads: Vec::new(),
            tls_handshake_failures: Arc::default(),
        }
    }

    /// The bound address (the real port when started on port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// TLS handshakes that failed so far (a client without an accepted certificate, an
    /// untrusted server certificate on the client's side, a timeout).
    pub fn tls_handshake_failures(&self) -> u64 {
        self.tls_handshake_failures.load(Ordering::Relaxed)
    }

    /// Stop every worker and wait for the threads to end.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Release);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn run<H, F>(
    addr: SocketAddr,
    backlog: i32,
    accept: Accept,
    stop: Arc<AtomicBool>,
    handler: H,
    ready: mpsc::Sender<io::Result<SocketAddr>>,
) where
    H: Fn(TcpStream) -> F + 'static,
    F: Future<Output = ()> + 'static,
{
    // The ring setup that measured cheapest per request on this machine (benches/RESULTS.md):
    // SINGLE_ISSUER + DEFER_TASKRUN, falling back to monoio's default ring on older kernels.
    // A floor (nullproxy) or an origin must not pay for a slower ring than what it is
    // compared with.
    let mut defer = io_uring::IoUring::builder();
    defer.setup_single_issuer().setup_defer_taskrun();
    let built = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
        .with_entries(1024)
        .uring_builder(defer)
        .enable_timer()
        .build()
        .or_else(|_| {
            monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
                .with_entries(1024)
                .enable_timer()
                .build()
        });
    let mut rt = match built {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    rt.block_on(async move {
        let listener = match bind(addr, backlog) {
            Ok(l) => l,
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        let _ = ready.send(listener.local_addr());
        drop(ready);
        let watch = async {
            while !stop.load(Ordering::Acquire) {
                monoio::time::sleep(STOP_POLL).await;
            }
        };
        let serve = async {
            if accept == Accept::Never {
                return std::future::pending::<()>().await;
            }
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        let _ = stream.set_nodelay(true);
                        monoio::spawn(handler(stream));
                    }
                    // EMFILE and friends: back off instead of spinning.
                    Err(_) => monoio::time::sleep(Duration::from_millis(10)).await,
                }
            }
        };
        monoio::select! {
            _ = watch => {}
            _ = serve => {}
        }
        // Close the listener while the ring still runs: the close is an io_uring op, and with
        // DEFER_TASKRUN it completes only when this thread enters the ring again.
        drop(listener);
        monoio::time::sleep(Duration::from_millis(1)).await;
    });
}

fn bind(addr: SocketAddr, backlog: i32) -> io::Result<TcpListener> {
    let opts = ListenerOpts::new()
        .reuse_port(true)
        .reuse_addr(true)
        .backlog(backlog);
    TcpListener::bind_with_config(addr, &opts)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))
}

/// SIGTERM and SIGINT, caught from now on (for the binaries' main threads: before they say
/// they listen, so that a stop sent as soon as they do is not the signals' default death).
pub struct StopSignals(signal_hook::iterator::Signals);

impl StopSignals {
    pub fn catch() -> io::Result<StopSignals> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        signal_hook::iterator::Signals::new([SIGTERM, SIGINT]).map(StopSignals)
    }

    /// Wait for one.
    pub fn wait(mut self) {
        let _ = self.0.forever().next();
    }
}
