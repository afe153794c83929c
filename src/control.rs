//! The control plane: everything that may block, on ordinary threads — signals, reload,
//! the admin API, DNS refresh.
//!
//! Architecture Invariant: nothing here sits on the request path.
