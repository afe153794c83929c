//! Reload: read → validate → compile on a control thread, resolve upstream names, then swap.
//! A config that fails keeps the old snapshot serving and is reported with every error.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::functions::FunctionHost;
use super::log::{log, now_secs, rfc3339};
use super::resolve;
use crate::config::{self, ConfigError, FsLoader, Loader, Snapshot};
use crate::dataplane::Shared;

/// The outcome of the last load, for admin `/status`.
#[derive(Clone, Debug, Default)]
pub struct LastReload {
    pub ok: bool,
    pub at: u64,
    pub generation: u64,
    pub errors: Vec<ConfigError>,
    pub warnings: Vec<String>,
}

impl LastReload {
    pub fn to_json(&self) -> Value {
        json!({
            "ok": self.ok,
            "at": rfc3339(self.at),
            "generation": self.generation,
            "errors": self.errors.iter().map(error_json).collect::<Vec<_>>(),
            "warnings": self.warnings,
        })
    }
}

pub fn error_json(e: &ConfigError) -> Value {
    json!({"file": e.file.display().to_string(), "path": e.path, "message": e.message})
}

/// Why a reload or a change published nothing.
#[derive(Debug)]
pub enum ReloadError {
    /// The config (with the change) is invalid: every error.
    Invalid(Vec<ConfigError>),
    /// The config was valid but the changed file could not be written.
    NotSaved(PathBuf, String),
}

/// `FsLoader` with one file's content replaced.
struct Overlay<'a> {
    file: &'a Path,
    bytes: &'a [u8],
}

impl Loader for Overlay<'_> {
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        if path == self.file {
            Ok(self.bytes.to_vec())
        } else {
            FsLoader.read(path)
        }
    }
}

/// Serializes reloads (SIGHUP and admin can race) and remembers the last outcome.
pub struct Reloader {
    pub path: PathBuf,
    pub shared: Arc<Shared>,
    /// Runs the config's local functions; applied before each publish.
    pub functions: Arc<FunctionHost>,
    state: Mutex<LastReload>,
}

impl Reloader {
    pub fn new(
        path: PathBuf,
        shared: Arc<Shared>,
        functions: Arc<FunctionHost>,
        first: LastReload,
    ) -> Reloader {
        Reloader {
            path,
            shared,
            functions,
            state: Mutex::new(first),
        }
    }

    pub fn last(&self) -> LastReload {
        self.state.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Load the file again and publish it. Returns the new generation or every error.
    pub fn reload(&self) -> Result<u64, Vec<ConfigError>> {
        self.reload_with(&FsLoader, false, &mut || Ok(()))
            .map_err(|e| match e {
                ReloadError::Invalid(errors) => errors,
                ReloadError::NotSaved(file, message) => vec![ConfigError {
                    file,
                    path: "$".into(),
                    message,
                }],
            })
    }

    /// A change to a file the config reads (the admin API's key store): load with `bytes`
    /// in place of `file`'s content; if the config is valid, write them (`commit`), then
    /// publish. An invalid config or a failed write changes nothing.
    pub fn change(
        &self,
        file: &Path,
        bytes: &[u8],
        commit: &mut dyn FnMut() -> std::io::Result<()>,
    ) -> Result<u64, ReloadError> {
        let overlay = Overlay { file, bytes };
        self.reload_with(&overlay, true, &mut || {
            commit().map_err(|e| (file.to_path_buf(), format!("cannot write: {e}")))
        })
    }

    /// `change`: a refused change is the caller's to report, not a failed reload (`/status`
    /// keeps the last reload's outcome).
    fn reload_with(
        &self,
        loader: &dyn Loader,
        change: bool,
        commit: &mut dyn FnMut() -> Result<(), (PathBuf, String)>,
    ) -> Result<u64, ReloadError> {
        let mut state = match self.state.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        let current = self.shared.current();
        let generation = current.generation + 1;
        match config::load(&self.path, loader, generation).and_then(|next| {
            let errors = unavailable_listeners(&self.path, &current, &next);
            if errors.is_empty() {
                Ok(next)
            } else {
                Err(errors)
            }
        }) {
            Ok(next) => {
                if let Err((file, message)) = commit() {
                    log(format!("reload: {}: {message}", file.display()));
                    return Err(ReloadError::NotSaved(file, message));
                }
                let mut warnings: Vec<String> =
                    next.warnings.iter().map(|w| w.to_string()).collect();
                warnings.extend(restart_only_changes(&current, &next));
                warnings.extend(resolve::resolve_all(&next));
                if let Err(e) = self.functions.apply(&next) {
                    warnings.push(format!("function host: {e}"));
                }
                for w in &warnings {
                    log(format!("reload: warning: {w}"));
                }
                self.shared.publish(next);
                self.shared.reloads.fetch_add(1, Ordering::Relaxed);
                log(format!("reload: generation {generation} is serving"));
                *state = LastReload {
                    ok: true,
                    at: now_secs(),
                    generation,
                    errors: vec![],
                    warnings,
                };
                Ok(generation)
            }
            Err(errors) if change => Err(ReloadError::Invalid(errors)),
            Err(errors) => {
                self.shared.reload_failures.fetch_add(1, Ordering::Relaxed);
                log(format!(
                    "reload: {} error(s); generation {} keeps serving",
                    errors.len(),
                    current.generation
                ));
                for e in &errors {
                    log(format!("reload: {e}"));
                }
                *state = LastReload {
                    ok: false,
                    at: now_secs(),
                    generation: current.generation,
                    errors: errors.clone(),
                    warnings: vec![],
                };
                Err(ReloadError::Invalid(errors))
            }
        }
    }
}

/// Listeners the new config adds that cannot be bound: the reload fails on them, with the
/// old config serving. (The workers bind their own SO_REUSEPORT sockets right after the
/// swap; this check binds and releases the address first, so a port in use is an error
/// now rather than a log line later.)
fn unavailable_listeners(file: &Path, current: &Snapshot, next: &Snapshot) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    for (i, listener) in next.server.listeners.iter().enumerate() {
        if current.server.listeners.contains(listener) {
            continue;
        }
        if let Err(e) = std::net::TcpListener::bind(listener.address) {
            errors.push(ConfigError {
                file: file.to_path_buf(),
                path: format!("$.server.listeners[{i}].address"),
                message: format!("cannot listen on {}: {e}", listener.address),
            });
        }
    }
    errors
}

/// Settings that only take effect on restart (workers, io driver, CPU affinity, admin, state
/// dir).
fn restart_only_changes(current: &Snapshot, next: &Snapshot) -> Vec<String> {
    let (a, b) = (&current.server, &next.server);
    let mut out = Vec::new();
    if a.workers != b.workers {
        out.push("server.workers changed: restart to apply".to_string());
    }
    if a.io_driver != b.io_driver {
        out.push("server.ioDriver changed: restart to apply".to_string());
    }
    if a.cpu_affinity != b.cpu_affinity {
        out.push("server.cpuAffinity changed: restart to apply".to_string());
    }
    if a.admin != b.admin {
        out.push("server.admin changed: restart to apply".to_string());
    }
    if a.state_dir != b.state_dir {
        out.push("server.stateDir changed: restart to apply".to_string());
    }
    out
}
