//! `upstream`: a mock HTTP/1.1 backend for tollgate's tests and benchmarks — a fast fixed
//! origin plus the fault modes of RELIABILITY.md §0. Usable in-process (`start`) or as the
//! `upstream` binary. See README.md.
//!
//! **Architecture Invariant:** in `fixed` mode a request costs one read and one write and no
//! allocation once the connection's buffer is warm; the response is rendered once at start.
// A test tool, not the data plane: it reads its `--bytes-file` and binds a throwaway std
// listener (to pick a port for `refuse`) with blocking calls, outside any request path.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod cli;
mod conn;
mod framing;
mod record;
mod response;
pub mod runtime;
mod sock;
mod subject;
mod tls;
mod transport;

pub use cli::{Config, Mode, TlsConfig};
pub use runtime::Workers;

use std::io;
use std::num::NonZeroUsize;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use bytes::Bytes;

use conn::Server;
use record::Recorder;
use response::Fixed;
use runtime::{Accept, BACKLOG};

/// Start the backend described by `config`; returns once it listens (or, for `refuse`, once
/// it has picked the address where nothing listens). Dropping the result stops it.
pub fn start(config: Config) -> io::Result<Workers> {
    let check = config.check();
    let Config {
        listen,
        workers,
        mode,
        status,
        body,
        headers,
        record_dir,
        tls,
    } = config;
    check.map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let tls = tls.as_ref().map(tls::server_config).transpose()?;
    let tls_failures = Arc::new(AtomicU64::new(0));
    if let Some(dir) = &record_dir {
        std::fs::create_dir_all(dir)?;
    }
    let raw = match &mode {
        Mode::Raw(path) => Bytes::from(std::fs::read(path).map_err(|e| {
            io::Error::new(e.kind(), format!("--bytes-file {}: {e}", path.display()))
        })?),
        _ => Bytes::new(),
    };
    let (count, backlog, accept) = match mode {
        Mode::Refuse => {
            // Bind nothing. Port 0 becomes a port that was free a moment ago, so callers
            // learn an address that refuses connections.
            let mut addr = listen;
            if addr.port() == 0 {
                addr = std::net::TcpListener::bind(listen)?.local_addr()?;
            }
            return Ok(Workers::none(addr));
        }
        // One listener with the smallest queue: it fills after a couple of connects.
        Mode::Blackhole => (NonZeroUsize::MIN, 1, Accept::Never),
        _ => (workers, BACKLOG, Accept::Serve),
    };
    let recorder = Arc::new(Recorder::new(record_dir));
    let failures = tls_failures.clone();
    let per_worker = move || {
        // Each core renders its own copy, so the hot path never touches a shared refcount.
        let server = Rc::new(Server {
            fixed: Fixed::render(status, &headers, &body),
            too_large: response::too_large(&headers),
            headers: headers.clone(),
            raw: Bytes::copy_from_slice(&raw),
            recorder: recorder.clone(),
            mode: mode.clone(),
            tls: tls.clone(),
            tls_failures: failures.clone(),
        });
        move |stream| {
            let server = server.clone();
            async move { conn::serve(stream, &server).await }
        }
    };
    let mut workers = Workers::start(listen, count, backlog, accept, per_worker)?;
    workers.tls_handshake_failures = tls_failures;
    Ok(workers)
}
