//! Authorizers (issue 8): the pure cores that decide whether a request may pass, kept apart
//! from the request path so they can be tested (and fuzzed) without sockets or clocks.
//!
//! - [`jwt`] — JWT authorizers (HTTP APIs' `jwtConfiguration`, REST Cognito user pools):
//!   JWKS → [`jwt::KeySet`], compact JWS verification with ring, claim and scope checks.
//!   Not on the request path yet: nothing in `request.rs` calls it, no config compiles to it,
//!   and fetching/refreshing the JWKS (control plane) is still to come.
//!
//! **Architecture Invariant:** no IO and no clock here; time is an argument and keys arrive
//! as bytes. Key material is never fetched because a token names it (`jku`, `x5u`, `jwk`).

pub mod jwt;
