//! Segment-trie route matching (built by compile, used through `Router::find`).
//! CONTRACT: the config work owns this file.

/// Placeholder until the trie lands.
pub(crate) struct RouterInner {}
