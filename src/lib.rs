//! tollgate: a self-hosted API gateway that runs Amazon API Gateway definitions on a
//! thread-per-core HTTP/1.1 data plane. See ARCHITECTURE.md for the codemap.
//!
//! Layers (dependencies point downward only):
//! - [`http1`]: sans-io HTTP/1.1 codec with strict checks.
//! - [`config`]: pure parse → validate → compile into one immutable [`config::Snapshot`].
//! - [`dataplane`]: one monoio runtime per core serving requests from the snapshot.
//! - [`control`]: blocking work on ordinary threads (signals, reload, admin API).
// `unsafe` only where truly needed, allowed locally with a SAFETY comment: one FFI call
// (`dataplane::trim`) and the copies into monoio's raw buffers (`dataplane::tls::buf`).
#![deny(unsafe_code)]

#[allow(clippy::disallowed_methods, clippy::disallowed_types)]
pub mod config;
#[allow(clippy::disallowed_methods, clippy::disallowed_types)]
pub mod control;
pub mod dataplane;
pub mod http1;
