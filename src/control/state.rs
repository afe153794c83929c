//! Quota counters across restarts (DESIGN §5: "persisted so that a restart loses no counted
//! request"). A control thread, the persister, writes every quota counter to
//! `<stateDir>/quotas.json` every `PERSIST_INTERVAL` when any changed; serve writes once more
//! after a drain, and loads the file before the cores serve their first request.
//!
//! The bound: a clean shutdown (SIGTERM/SIGINT) loses nothing. `kill -9`, a crash or a power
//! cut loses the requests counted since the last completed write — at most one interval plus
//! one write (≈ 250 ms of requests). Those requests were admitted, so after the restart that
//! many more can be admitted in the same period than the quota allows.
//!
//! The file: one JSON object, written atomically (temp file, fsync, rename, fsync of the
//! directory):
//!
//! ```json
//! {"version": 1, "savedAt": "2026-11-21T12:00:00Z",
//!  "quotas": {"quota:basic/alice": {"period": "MONTH", "periodStart": 1793491200,
//!                                   "used": 3, "initialPeriodStart": 1793491200}}}
//! ```
//!
//! `usage` holds each (plan, key)'s requests per UTC day (`"usage": {"usage:basic/alice":
//! {"2026-11-21": 3}}`), the admin API's `GetUsage` source, saved and restored the same way.
//!
//! Keys are the quotas' stable identities (`quota:{planId}/{keyId}`); unknown properties are
//! ignored, identities the config no longer has are dropped, and a saved period that is over
//! counts for nothing (the counter starts the current period at 0). A file that cannot be
//! read or parsed is moved aside (`quotas.json.corrupt-<unix secs>`) with a warning and the
//! gateway starts with fresh counters; it never refuses to start because of it.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::log::{log, now_secs, rfc3339};
use super::usage::{date_of, day_of};
use crate::dataplane::Shared;
use crate::dataplane::throttle::{QuotaPeriod, QuotaState};

/// How often the persister looks for changed counters: the `kill -9` loss window.
pub const PERSIST_INTERVAL: Duration = Duration::from_millis(250);
/// The state file's name inside `server.stateDir`.
pub const STATE_FILE: &str = "quotas.json";
const VERSION: u64 = 1;
/// A saved period may start at most this far in the future (a clock stepped back a little
/// across a restart); further than that, the entry is ignored.
const MAX_FUTURE_SECS: u64 = 86_400;

/// The state file of one gateway process, and what was last written to it.
pub struct QuotaStore {
    dir: PathBuf,
    inner: Mutex<Inner>,
}

/// Quota counters and daily usage, by stable identity.
type Counts = (Vec<(Box<str>, QuotaState)>, Vec<DailyCounts>);

/// One (plan, key)'s daily usage: `usage:{planId}/{keyId}` → (day number, requests).
pub type DailyCounts = (Box<str>, Vec<(u64, u64)>);

#[derive(Default)]
struct Inner {
    /// The counters as last written (or restored): no write while they are unchanged.
    last: Option<Counts>,
    /// The last write failed (logged once until a write succeeds again).
    failing: bool,
    /// An unreadable file could not be moved aside: never overwrite it.
    disabled: bool,
    /// The final write is done; the persister stops.
    closed: bool,
}

/// What a state file held.
#[derive(Debug, PartialEq)]
pub struct Decoded {
    pub states: Vec<(Box<str>, QuotaState)>,
    /// Entries that were malformed or from the far future.
    pub skipped: usize,
}

impl QuotaStore {
    pub fn new(dir: PathBuf) -> QuotaStore {
        QuotaStore {
            dir,
            inner: Mutex::new(Inner::default()),
        }
    }

    pub fn file(&self) -> PathBuf {
        self.dir.join(STATE_FILE)
    }

    /// Load the state file into `shared`'s quota counters. Call before the cores serve.
    pub fn restore(&self, shared: &Shared) {
        let path = self.file();
        let mut inner = self.lock();
        match fs::read(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                log(format!(
                    "warning: quota state {} cannot be read ({e}); counting afresh",
                    path.display()
                ));
                inner.disabled = !set_aside(&path);
            }
            Ok(bytes) => match decode(&bytes, now_secs()) {
                Ok(Decoded { states, skipped }) => {
                    let saved = states.len();
                    let matched = shared.import_quotas(states);
                    log(format!(
                        "quota state: restored {matched} counter(s) from {} ({} no longer configured)",
                        path.display(),
                        saved - matched
                    ));
                    let usage = decode_usage(&bytes);
                    if !usage.is_empty() {
                        shared.import_usage(usage);
                    }
                    if skipped > 0 {
                        log(format!(
                            "warning: quota state {}: ignored {skipped} malformed entr{}",
                            path.display(),
                            if skipped == 1 { "y" } else { "ies" }
                        ));
                    }
                }
                Err(e) => {
                    log(format!(
                        "warning: quota state {} is corrupt ({e}); counting afresh",
                        path.display()
                    ));
                    inner.disabled = !set_aside(&path);
                }
            },
        }
        inner.last = Some((shared.export_quotas(), shared.export_usage()));
    }

    /// The final write after a drain; the persister stops. Returns whether the file holds
    /// every count;
    /// `None` when there was nothing to save: no quota or usage counter, and no file.
    pub fn close(&self, shared: &Shared) -> Option<bool> {
        let mut inner = self.lock();
        self.flush_locked(&mut inner, shared);
        inner.closed = true;
        let nothing = inner
            .last
            .as_ref()
            .is_some_and(|(q, u)| q.is_empty() && u.is_empty());
        if nothing && !self.file().exists() {
            return None;
        }
        Some(!inner.failing && !inner.disabled)
    }

    /// Start the persister thread.
    pub fn spawn(self: &Arc<Self>, shared: Arc<Shared>) {
        let store = self.clone();
        let spawned = std::thread::Builder::new()
            .name("tollgate-state".into())
            .spawn(move || {
                let mut next = Instant::now() + PERSIST_INTERVAL;
                loop {
                    let now = Instant::now();
                    if next > now {
                        std::thread::sleep(next - now);
                    }
                    // Fixed rate: a slow write does not stretch the loss window further.
                    next = (next + PERSIST_INTERVAL).max(Instant::now());
                    let mut inner = store.lock();
                    if inner.closed {
                        return;
                    }
                    store.flush_locked(&mut inner, &shared);
                }
            });
        if let Err(e) = spawned {
            log(format!(
                "warning: cannot start the quota persister ({e}); counts are saved only on shutdown"
            ));
        }
    }

    /// Write the counters if any changed since the last write. Errors are logged (once until
    /// a write succeeds again); the counters stay in memory either way.
    fn flush_locked(&self, inner: &mut Inner, shared: &Shared) {
        if inner.closed || inner.disabled {
            return;
        }
        let counts = (shared.export_quotas(), shared.export_usage());
        if inner.last.as_ref() == Some(&counts) {
            return;
        }
        match write_atomic(
            &self.dir,
            &encode_with_usage(&counts.0, &counts.1, now_secs()),
        ) {
            Ok(()) => {
                if inner.failing {
                    log(format!(
                        "quota state: writing {} works again",
                        self.file().display()
                    ));
                }
                inner.failing = false;
                inner.last = Some(counts);
            }
            Err(e) => {
                if !inner.failing {
                    log(format!(
                        "warning: quota state {} cannot be written ({e}); retrying every {} ms",
                        self.file().display(),
                        PERSIST_INTERVAL.as_millis()
                    ));
                }
                inner.failing = true;
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

/// The file's bytes for `states` saved at `now` (UNIX seconds).
#[cfg(test)]
pub fn encode(states: &[(Box<str>, QuotaState)], now: u64) -> Vec<u8> {
    encode_with_usage(states, &[], now)
}

/// The file's bytes for quota `states` and daily `usage` (`"usage": {"usage:basic/alice":
/// {"2026-11-21": 5}}`) saved at `now`.
pub fn encode_with_usage(
    states: &[(Box<str>, QuotaState)],
    usage: &[DailyCounts],
    now: u64,
) -> Vec<u8> {
    let quotas: Map<String, Value> = states
        .iter()
        .map(|(k, s)| {
            (
                k.to_string(),
                json!({
                    "period": period_name(s.period),
                    "periodStart": s.period_start,
                    "used": s.used,
                    "initialPeriodStart": s.initial_period_start,
                }),
            )
        })
        .collect();
    let usage: Map<String, Value> = usage
        .iter()
        .map(|(k, days)| {
            let days: Map<String, Value> = days
                .iter()
                .map(|&(d, n)| (date_of(d), Value::from(n)))
                .collect();
            (k.to_string(), Value::Object(days))
        })
        .collect();
    let doc =
        json!({ "version": VERSION, "savedAt": rfc3339(now), "quotas": quotas, "usage": usage });
    let mut out = serde_json::to_vec_pretty(&doc).unwrap_or_default();
    out.push(b'\n');
    out
}

/// Parse a state file. A file that is not a version-1 state object is an error; single
/// malformed entries are skipped and counted.
pub fn decode(bytes: &[u8], now: u64) -> Result<Decoded, String> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let obj = doc.as_object().ok_or("not a JSON object")?;
    match obj.get("version").and_then(Value::as_u64) {
        Some(VERSION) => {}
        Some(v) => return Err(format!("version {v}, expected {VERSION}")),
        None => return Err("no `version`".into()),
    }
    let quotas = obj
        .get("quotas")
        .and_then(Value::as_object)
        .ok_or("no `quotas` object")?;
    let mut out = Decoded {
        states: Vec::with_capacity(quotas.len()),
        skipped: 0,
    };
    for (k, v) in quotas {
        match entry(v).filter(|s| {
            s.period_start <= now + MAX_FUTURE_SECS
                && s.initial_period_start <= now + MAX_FUTURE_SECS
        }) {
            Some(state) => out.states.push((k.as_str().into(), state)),
            None => out.skipped += 1,
        }
    }
    Ok(out)
}

/// The daily usage of a state file (`usage`, absent in files written before it existed);
/// malformed entries are ignored.
pub fn decode_usage(bytes: &[u8]) -> Vec<DailyCounts> {
    let Ok(doc) = serde_json::from_slice::<Value>(bytes) else {
        return Vec::new();
    };
    let Some(usage) = doc.get("usage").and_then(Value::as_object) else {
        return Vec::new();
    };
    usage
        .iter()
        .filter_map(|(k, v)| {
            let days = v
                .as_object()?
                .iter()
                .filter_map(|(d, n)| Some((day_of(d)?, n.as_u64()?)))
                .collect();
            Some((k.as_str().into(), days))
        })
        .collect()
}

fn entry(v: &Value) -> Option<QuotaState> {
    let period = match v.get("period")?.as_str()? {
        "DAY" => QuotaPeriod::Day,
        "WEEK" => QuotaPeriod::Week,
        "MONTH" => QuotaPeriod::Month,
        _ => return None,
    };
    Some(QuotaState {
        period,
        period_start: v.get("periodStart")?.as_u64()?,
        used: v.get("used")?.as_u64()?,
        initial_period_start: v.get("initialPeriodStart")?.as_u64()?,
    })
}

fn period_name(p: QuotaPeriod) -> &'static str {
    match p {
        QuotaPeriod::Day => "DAY",
        QuotaPeriod::Week => "WEEK",
        QuotaPeriod::Month => "MONTH",
    }
}

/// Temp file, fsync, rename over the state file, fsync the directory: after a crash the
/// file is the old one or the new one, never a mix.
fn write_atomic(dir: &Path, bytes: &[u8]) -> io::Result<()> {
    write_file_atomic(dir, STATE_FILE, bytes)
}

/// `<dir>/<name>` replaced atomically: `<name>.tmp`, fsync, rename, fsync of the directory.
pub fn write_file_atomic(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!("{name}.tmp"));
    let mut f = File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, dir.join(name))?;
    File::open(dir)?.sync_all()
}

/// Move an unusable state file aside (`<file>.corrupt-<unix secs>`) so a later write does not
/// destroy it. Returns false (logged) when it could not be moved.
fn set_aside(path: &Path) -> bool {
    let secs = now_secs();
    let mut target = PathBuf::from(format!("{}.corrupt-{secs}", path.display()));
    for n in 1..100 {
        if !target.exists() {
            break;
        }
        target = PathBuf::from(format!("{}.corrupt-{secs}-{n}", path.display()));
    }
    match fs::rename(path, &target) {
        Ok(()) => {
            log(format!("quota state: moved it to {}", target.display()));
            true
        }
        Err(e) => {
            log(format!(
                "warning: quota state {} cannot be moved aside ({e}); quota counts will not be saved until restart",
                path.display()
            ));
            false
        }
    }
}

#[cfg(test)]
mod tests;
