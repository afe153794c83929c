//! Authorizers (issue 8): pure verification cores, not on the request path yet.
//!
//! - [`sigv4`]: AWS Signature Version 4 for `AWS_IAM` methods (SPEC-NOTES §10, RELIABILITY A10).

pub mod sigv4;
