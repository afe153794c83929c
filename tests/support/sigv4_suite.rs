//! Reading the SigV4 test suites in the fixtures (aws-c-auth's and the classic AWS suite), for
//! `tests/sigv4_fixtures.rs` (the verifier) and `tests/sigv4_sign_fixtures.rs` (the signer):
//! where the fixtures are, their files, and their request files.

use std::path::{Path, PathBuf};

/// `$TOLLGATE_FIXTURES`, default `<crate>/../shared/fixtures`.
pub fn fixtures_dir() -> PathBuf {
    match std::env::var_os("TOLLGATE_FIXTURES") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures"),
    }
}

pub fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The file without trailing white space.
pub fn trimmed(p: &Path) -> Vec<u8> {
    let mut v = read(p);
    while v.last().is_some_and(|b| b.is_ascii_whitespace()) {
        v.pop();
    }
    v
}

/// The folders in `dir` (none when it cannot be read), sorted.
pub fn sorted_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|r| r.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.is_dir());
    v.sort();
    v
}

/// How a suite writes an obs-fold continuation line: aws-c-auth folds it into the value with
/// a space (`value1 value2`), the classic suite treats it as another value (`value1,value2`).
#[derive(Clone, Copy)]
pub enum Fold {
    Space,
    Comma,
}

pub struct HttpFile {
    pub method: Vec<u8>,
    pub path: Vec<u8>,
    pub query: Vec<u8>,
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    pub body: Vec<u8>,
}

/// Parse a suite's request file (`None` when it is not one). The target may hold a raw space
/// (`/example space/`), so the method ends at the first space and the version starts at the
/// last; empty lines before the body are passed over.
pub fn parse_http(bytes: &[u8], fold: Fold) -> Option<HttpFile> {
    let (head, body) = match bytes.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&bytes[..i], bytes[i + 2..].to_vec()),
        None => (bytes, Vec::new()),
    };
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let line = lines.next()?;
    let first = line.iter().position(|&b| b == b' ')?;
    let last = line.iter().rposition(|&b| b == b' ')?;
    let target = line.get(first + 1..last)?;
    let (path, query) = match target.iter().position(|&b| b == b'?') {
        Some(q) => (target[..q].to_vec(), target[q + 1..].to_vec()),
        None => (target.to_vec(), Vec::new()),
    };
    let mut headers: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for l in lines.filter(|l| !l.is_empty()) {
        if l.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            let (name, value) = headers.last_mut()?;
            match fold {
                Fold::Space => {
                    value.push(b' ');
                    value.extend_from_slice(l);
                }
                Fold::Comma => {
                    let name = name.clone();
                    headers.push((name, l.to_vec()));
                }
            }
            continue;
        }
        let colon = l.iter().position(|&b| b == b':')?;
        headers.push((l[..colon].to_vec(), l[colon + 1..].to_vec()));
    }
    Some(HttpFile {
        method: line[..first].to_vec(),
        path,
        query,
        headers,
        body,
    })
}
