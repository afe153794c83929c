//! Authorizers (issue 8): the pure cores that decide whether a request may pass, kept apart
//! from the request path so they can be tested (and fuzzed) without sockets or clocks. JWT is
//! wired in through `dataplane/authorize.rs` (keys from `control/jwks.rs`); SigV4 is not on
//! the request path yet.
//!
//! - [`jwt`] — JWT authorizers (HTTP APIs' `jwtConfiguration`, REST Cognito user pools):
//!   JWKS → [`jwt::KeySet`], compact JWS verification with ring, claim and scope checks.
//!   Fetching and refreshing the JWKS: `control/jwks.rs`.
//! - [`sigv4`] — AWS Signature Version 4 for `AWS_IAM` methods (SPEC-NOTES §10, RELIABILITY
//!   A10).
//!
//! **Architecture Invariant:** no IO and no clock here; time is an argument and keys arrive
//! as bytes. Key material is never fetched because a token names it (`jku`, `x5u`, `jwk`).

pub mod jwt;
pub mod policy;
pub mod sigv4;
