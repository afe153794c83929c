//! Starting a function's process and carrying its output to tollgate's log.
//!
//! The child runs in its own process group (so a kill reaches what it started) with
//! `PR_SET_PDEATHSIG` = SIGKILL: if tollgate dies, even by SIGKILL, the kernel kills the
//! child. The death signal fires when the *thread* that forked exits, so only the
//! supervisor thread (which lives as long as tollgate) spawns.
//!
//! stdout and stderr share one pipe; a pump thread logs it line by line as
//! `function NAME [REQUEST-ID]: line`, the id being the process's current (or last)
//! invocation when the pump reads the line, which the worker publishes lock-free
//! (`ProcShared::set_request`).

use std::io::{PipeReader, Read};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use super::super::log::{log, now_secs, rfc3339};
use crate::config::LocalFunction;
use crate::dataplane::affinity::CpuSet;
use crate::dataplane::functions::mail::ProcShared;

/// Longer output lines are logged in pieces of this size.
const MAX_LINE: usize = 16 * 1024;

/// What a started process needs from the host.
pub(super) struct Started {
    pub child: Child,
    /// Its output; hand it to [`pump_logs`] once the process has its `ProcShared`.
    pub output: PipeReader,
}

/// Start one process of function `name`, its Runtime API at `runtime`; `cpu`: the CPU it
/// runs on (its worker's, `server.cpuAffinity`), set before it executes its first
/// instruction, so every thread it starts inherits it.
pub(super) fn spawn(
    name: &str,
    spec: &LocalFunction,
    runtime: SocketAddr,
    region: &str,
    cpu: Option<usize>,
) -> std::io::Result<Started> {
    let pin = cpu.map(CpuSet::one).transpose()?;
    let (reader, writer) = std::io::pipe()?;
    let root = std::path::absolute(&spec.cwd).unwrap_or_else(|_| spec.cwd.clone());
    let short = short_name(name);
    let mut cmd = Command::new(&spec.command[0]);
    cmd.args(&spec.command[1..])
        .current_dir(&root)
        .stdin(Stdio::null())
        .stdout(writer.try_clone()?)
        .stderr(writer)
        .process_group(0)
        .env("AWS_LAMBDA_RUNTIME_API", runtime.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", short)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env(
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            spec.memory_mb.to_string(),
        )
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{short}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", log_stream())
        .env("AWS_REGION", region)
        .env("AWS_DEFAULT_REGION", region)
        .env("LAMBDA_TASK_ROOT", &root);
    if let Some(h) = &spec.handler {
        cmd.env("_HANDLER", h);
    }
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    let parent = std::process::id();
    // SAFETY: runs in the forked child before exec; `prctl`, `getppid` and
    // `sched_setaffinity` are async-signal-safe and touch no memory of the parent (the CPU set
    // is a copy).
    #[allow(unsafe_code)]
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent died before the death signal was armed.
            if libc::getppid() as u32 != parent {
                return Err(std::io::Error::other("tollgate exited"));
            }
            if let Some(pin) = &pin {
                pin.apply()?;
            }
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    // The Command holds the pipe's write ends: drop them so the pump sees the end of output.
    drop(cmd);
    Ok(Started {
        child,
        output: reader,
    })
}

/// Log a process's output from a thread of its own.
pub(super) fn pump_logs(
    name: &str,
    output: PipeReader,
    process: Arc<ProcShared>,
) -> std::io::Result<()> {
    let label = format!("function `{name}`");
    std::thread::Builder::new()
        .name("tollgate-fn-log".into())
        .stack_size(64 * 1024)
        .spawn(move || pump(output, &process, &label))?;
    Ok(())
}

/// SIGKILL the process's group and the process.
pub(super) fn kill(child: &Child) {
    let pid = child.id() as libc::pid_t;
    // SAFETY: plain syscalls on a child this host started and has not reaped, so neither the
    // pid nor its group id can have been reused.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
        libc::kill(pid, libc::SIGKILL);
    }
}

/// `arn:aws:lambda:..:function:NAME[:alias]` → `NAME`; anything else as it is.
pub(super) fn short_name(name: &str) -> &str {
    name.split_once(":function:")
        .map(|(_, rest)| rest.split(':').next().unwrap_or(rest))
        .unwrap_or(name)
}

/// `YYYY/MM/DD/[$LATEST]` and 32 hex digits, as Lambda names its log streams.
fn log_stream() -> String {
    let date = rfc3339(now_secs());
    let mut bytes = [0u8; 16];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}/{}/{}/[$LATEST]{hex}",
        &date[0..4],
        &date[5..7],
        &date[8..10]
    )
}

fn pump(mut reader: PipeReader, process: &ProcShared, label: &str) {
    let mut chunk = vec![0u8; 64 * 1024];
    let mut line: Vec<u8> = Vec::new();
    loop {
        let got = match reader.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(k) => k,
        };
        for &b in &chunk[..got] {
            if b == b'\n' || line.len() >= MAX_LINE {
                if b != b'\n' {
                    line.push(b);
                }
                emit(label, process.request().as_deref(), &line);
                line.clear();
            } else {
                line.push(b);
            }
        }
    }
    if !line.is_empty() {
        emit(label, process.request().as_deref(), &line);
    }
}

fn emit(label: &str, id: Option<&str>, line: &[u8]) {
    let text = String::from_utf8_lossy(line);
    let text = text.trim_end_matches('\r').replace('\r', " ");
    match id {
        Some(id) => log(format!("{label} [{id}]: {text}")),
        None => log(format!("{label}: {text}")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn function_names_inside_arns() {
        assert_eq!(super::short_name("hello"), "hello");
        assert_eq!(
            super::short_name("arn:aws:lambda:us-east-1:1:function:auth:live"),
            "auth"
        );
        let stream = super::log_stream();
        assert!(
            stream.contains("/[$LATEST]") && stream.len() == 11 + 9 + 32,
            "{stream}"
        );
    }
}
