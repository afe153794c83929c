//! CPU pinning for `server.cpuAffinity: "workers"`: worker *i* runs on the *i*-th CPU the
//! process may use (round robin when there are more workers than CPUs), and the function
//! processes the host starts for worker *i* run on that CPU too, so the Runtime API's
//! wake-ups of a function (the event, the 202) stay on the core that sends them.

use std::io;

/// A set of CPUs, as `sched_setaffinity` takes it.
#[derive(Clone, Copy)]
pub struct CpuSet(libc::cpu_set_t);

impl CpuSet {
    /// The set holding only `cpu`; an `InvalidInput` error past what a `cpu_set_t` holds.
    pub fn one(cpu: usize) -> io::Result<CpuSet> {
        if cpu >= libc::CPU_SETSIZE as usize {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("no CPU {cpu}"),
            ));
        }
        // SAFETY: `cpu_set_t` is a plain bit array, valid all zero; `cpu` is within it.
        #[allow(unsafe_code)]
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            Ok(CpuSet(set))
        }
    }

    /// Restrict the calling thread to this set. Async-signal-safe (one syscall, no
    /// allocation): usable between `fork` and `exec`.
    pub fn apply(&self) -> io::Result<()> {
        // SAFETY: a plain syscall on the calling thread with a set of the size given.
        #[allow(unsafe_code)]
        let rc =
            unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &self.0) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// The CPUs the calling thread may run on, ascending (what `taskset` or a cpuset left it).
pub fn allowed() -> io::Result<Vec<usize>> {
    // SAFETY: a plain syscall filling a set of the size given; `CPU_ISSET` reads within it.
    #[allow(unsafe_code)]
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect())
    }
}

/// Each worker's CPU: worker *i* gets `allowed[i % allowed.len()]`. Empty when `allowed` is.
pub fn plan(workers: usize, allowed: &[usize]) -> Vec<usize> {
    if allowed.is_empty() {
        return Vec::new();
    }
    (0..workers).map(|i| allowed[i % allowed.len()]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_take_the_allowed_cpus_in_turn() {
        assert_eq!(plan(3, &[1, 3]), vec![1, 3, 1]);
        assert_eq!(plan(2, &[0, 1, 2, 3]), vec![0, 1]);
        assert_eq!(plan(2, &[]), Vec::<usize>::new());
    }

    #[test]
    fn a_thread_pinned_to_one_allowed_cpu_is_allowed_only_that_one() {
        let cpus = allowed().expect("sched_getaffinity");
        assert!(!cpus.is_empty());
        let last = *cpus.last().unwrap();
        let seen = std::thread::spawn(move || {
            CpuSet::one(last)
                .unwrap()
                .apply()
                .expect("sched_setaffinity");
            allowed().expect("sched_getaffinity")
        })
        .join()
        .unwrap();
        assert_eq!(seen, vec![last]);
        assert!(CpuSet::one(libc::CPU_SETSIZE as usize).is_err());
    }
}
