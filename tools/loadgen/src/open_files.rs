//! Open files: every connection is one socket. At start the soft `RLIMIT_NOFILE` is raised to
//! the hard limit (the usual soft limit, 1024, would cap `-c` far below what `--hold` is for),
//! and a `-c` that still cannot fit is refused before anything opens.

use std::io;

/// Descriptors besides the sockets: stdio, and per thread an io_uring and its eventfd, with
/// a margin for whatever the runtime or libc opens.
const BESIDES_SOCKETS: u64 = 32;
const PER_THREAD: u64 = 4;

/// Raises the soft limit and checks that `connections` fit under it.
pub fn ensure(connections: u32, threads: u32) -> Result<(), String> {
    let need = u64::from(connections) + BESIDES_SOCKETS + PER_THREAD * u64::from(threads);
    let (soft, hard) = limits().map_err(|e| format!("cannot read the open-file limit: {e}"))?;
    let mut now = soft;
    if soft < hard {
        // An unlimited hard limit is still capped by fs.nr_open, so asking for it fails;
        // then ask for what this run needs.
        if set_soft(hard, hard).is_ok() {
            now = hard;
        } else if need > soft && set_soft(need, hard).is_ok() {
            now = need;
        }
    }
    if need > now {
        return Err(format!(
            "-c {connections} needs about {need} open files, but the limit is {now} \
             (hard limit {hard}): raise it (ulimit -n, systemd LimitNOFILE=) or open fewer \
             connections"
        ));
    }
    Ok(())
}

/// The soft and hard `RLIMIT_NOFILE`.
#[allow(unsafe_code)]
fn limits() -> io::Result<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable `rlimit` that outlives the call, which only writes it.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((lim.rlim_cur, lim.rlim_max))
}

#[allow(unsafe_code)]
fn set_soft(soft: u64, hard: u64) -> io::Result<()> {
    let lim = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: `lim` is a valid `rlimit` that outlives the call, which only reads it.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_is_raised_and_impossible_counts_are_named() {
        let (_, hard) = limits().unwrap();
        ensure(10, 2).unwrap();
        let (soft, hard_after) = limits().unwrap();
        assert_eq!(hard_after, hard);
        assert!(soft == hard || soft >= 10 + BESIDES_SOCKETS + 2 * PER_THREAD);
        if hard < u64::from(u32::MAX) {
            let e = ensure(u32::MAX, 1).unwrap_err();
            assert!(e.contains("-c 4294967295") && e.contains("limit"), "{e}");
        }
    }
}
