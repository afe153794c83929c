//! `--watch`: a fingerprint of the files under a function's `cwd` (paths, sizes and
//! modification times), compared every 500 ms. Hidden entries and the directories tools
//! write into while the function runs (`__pycache__`, `node_modules`, `target`) are skipped;
//! the walk stops after [`MAX_ENTRIES`] entries.

use std::path::Path;
use std::time::UNIX_EPOCH;

const MAX_ENTRIES: usize = 10_000;
const MAX_DEPTH: usize = 16;
const SKIP: &[&str] = &["__pycache__", "node_modules", "target"];

pub(super) fn fingerprint(root: &Path) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut seen = 0;
    walk(root, 0, &mut h, &mut seen);
    h
}

fn mix(h: &mut u64, bytes: &[u8]) {
    for b in bytes {
        *h ^= u64::from(*b);
        *h = h.wrapping_mul(0x0100_0000_01b3);
    }
}

fn walk(dir: &Path, depth: usize, h: &mut u64, seen: &mut usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        *seen += 1;
        if *seen > MAX_ENTRIES {
            return;
        }
        let name = e.file_name();
        let text = name.to_string_lossy();
        if text.starts_with('.') || SKIP.contains(&&*text) {
            continue;
        }
        let Ok(meta) = e.metadata() else { continue };
        mix(h, text.as_bytes());
        if meta.is_dir() {
            if depth < MAX_DEPTH {
                walk(&e.path(), depth + 1, h, seen);
            }
            continue;
        }
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as u64);
        mix(h, &meta.len().to_le_bytes());
        mix(h, &modified.to_le_bytes());
    }
}
