//! A `functions` entry with `local`: a process tollgate starts and serves the Lambda Runtime
//! API (control/functions/). Validated here; the host reads the compiled [`LocalFunction`].
//!
//! ```json
//! "hello": {"local": {"command": ["python3", "-m", "awslambdaric", "app.handler"],
//!                     "cwd": "fn/", "env": {"K": "v"}, "handler": "app.handler",
//!                     "memoryMb": 128, "concurrency": 2, "queue": 64},
//!           "timeoutMs": 3000}
//! ```

use std::path::Path;

use super::super::reader::{Errors, Node};
use super::super::{
    DEFAULT_LOCAL_CONCURRENCY, DEFAULT_LOCAL_MEMORY_MB, DEFAULT_LOCAL_QUEUE, LocalFunction,
    MAX_LOCAL_CONCURRENCY, MAX_LOCAL_MEMORY_MB, MAX_LOCAL_QUEUE, MIN_LOCAL_MEMORY_MB,
};

/// Environment variables the host sets itself (a function's `env` may not override them).
const RESERVED_ENV: &[&str] = &[
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "LAMBDA_TASK_ROOT",
    "_HANDLER",
];

/// `node` is the `local` object of function `name`; `base_dir` the gateway file's directory.
pub(crate) fn validate_local(
    node: &Node<'_>,
    base_dir: &Path,
    errors: &mut Errors,
) -> Option<LocalFunction> {
    let mut obj = node.obj(errors)?;
    let before = errors.len();
    // A gateway file named without a directory: its directory is the current one.
    let base_dir = match base_dir.as_os_str().is_empty() {
        true => Path::new("."),
        false => base_dir,
    };
    let mut command = Vec::new();
    if let Some(n) = obj.req("command", errors)
        && let Some(items) = n.arr(errors)
    {
        if items.is_empty() {
            n.err(errors, "a command needs at least the program to run");
        }
        for item in items {
            if let Some(s) = item.str(errors) {
                if s.is_empty() || s.contains('\0') {
                    item.err(errors, "expected a non-empty argument without NUL bytes");
                }
                command.push(s.to_string());
            }
        }
    }
    let cwd = match obj
        .opt_non_null("cwd")
        .and_then(|n| n.str(errors).map(|s| (s, n)))
    {
        Some((s, n)) if s.is_empty() || s.contains('\0') => {
            n.err(errors, "expected a directory path");
            base_dir.to_path_buf()
        }
        Some((s, _)) => base_dir.join(s),
        None => base_dir.to_path_buf(),
    };
    let mut env = Vec::new();
    if let Some(n) = obj.opt_non_null("env") {
        for (k, v, item) in n.string_map(errors).unwrap_or_default() {
            if k.is_empty() || k.contains(['=', '\0']) || v.contains('\0') {
                item.err(errors, "an environment variable needs a name without `=` or NUL bytes and a value without NUL bytes");
            } else if RESERVED_ENV.contains(&k) {
                item.err(errors, format!("`{k}` is set by tollgate's function host"));
            }
            env.push((k.to_string(), v.to_string()));
        }
    }
    let handler = obj
        .opt_non_null("handler")
        .and_then(|n| n.str(errors))
        .map(str::to_string);
    let mut number = |key: &str, min: u64, max: u64, default: u32| {
        obj.opt_non_null(key)
            .and_then(|n| n.u64_in(errors, min, max))
            .map_or(default, |n| n as u32)
    };
    let memory_mb = number(
        "memoryMb",
        MIN_LOCAL_MEMORY_MB,
        MAX_LOCAL_MEMORY_MB,
        DEFAULT_LOCAL_MEMORY_MB,
    );
    let concurrency = number(
        "concurrency",
        1,
        MAX_LOCAL_CONCURRENCY,
        DEFAULT_LOCAL_CONCURRENCY,
    );
    let queue = number("queue", 0, MAX_LOCAL_QUEUE, DEFAULT_LOCAL_QUEUE);
    obj.finish(errors);
    (errors.len() == before).then_some(LocalFunction {
        command,
        cwd,
        env,
        handler,
        memory_mb,
        concurrency,
        queue,
    })
}

/// The Invoke API path of function `name` on the host: unreserved characters and `:` kept,
/// the rest percent-encoded.
pub(crate) fn invoke_path(name: &str) -> String {
    let mut out = String::from("/2015-03-31/functions/");
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out.push_str("/invocations");
    out
}
