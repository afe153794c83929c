//! The data plane: one monoio runtime per core, each accepting on its own SO_REUSEPORT
//! socket and serving requests from the current snapshot.
//!
//! Architecture Invariant: nothing here blocks (no std::fs, DNS, std Mutex, sleep), holds an
//! arc-swap Guard across `.await`, or shares mutable state between cores by reference.

pub mod access_log;
pub mod affinity;
pub mod auth;
pub mod authorize;
pub mod cache;
mod caching;
pub mod clock;
mod conn;
mod deadlines;
mod diag;
mod exec_log;
pub mod functions;
pub mod handover;
pub mod iam;
pub mod lambda;
pub mod lambda_auth;
mod meters;
pub mod metrics;
mod otlp;
mod pool;
mod proxy;
mod readbuf;
mod request;
mod respond;
mod response_head;
mod shared;
mod stream;
pub mod throttle;
pub mod tls;
pub mod trace;
mod transfer;
mod trim;
mod upstream_head;
mod upstream_stream;
mod worker;

pub use clock::{CivilTime, imf_fixdate};
pub use shared::Shared;
pub use worker::start;
