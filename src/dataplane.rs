//! The data plane: one monoio runtime per core, each accepting on its own SO_REUSEPORT
//! socket and serving requests from the current snapshot.
//!
//! Architecture Invariant: nothing here blocks (no std::fs, DNS, std Mutex, sleep), holds an
//! arc-swap Guard across `.await`, or shares mutable state between cores by reference.
