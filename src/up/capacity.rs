//! Whether this machine can hold a run of `n` satellite processes, checked
//! before the first is started: a run that cannot fit is refused (exit 2)
//! with what it would need, instead of thrashing or failing half-way.
//!
//! Each satellite process costs the launcher two pipes (its stdin and
//! stdout: two file descriptors), and the machine two threads (the runtime
//! and tokio's blocking reader of stdin) and about 2 MB of memory (1.2–2.3
//! MB private measured on starlink-shell1 and starlink-phase1, with the
//! kernel's share: BENCHMARKS.md, the scale rows). The soft limit on file
//! descriptors is raised to the hard one first.

use crate::Failure;

/// Memory a satellite process takes, with the kernel's share, bytes.
const PER_PROCESS_BYTES: u64 = 2 << 20;
/// File descriptors the launcher keeps per satellite process.
const FDS_PER_PROCESS: u64 = 2;
/// Threads per satellite process.
const THREADS_PER_PROCESS: u64 = 2;
/// What the launcher itself needs besides.
const SPARE_FDS: u64 = 256;
const SPARE_THREADS: u64 = 256;
const SPARE_BYTES: u64 = 512 << 20;

/// Checks that `n` satellite processes fit; raises the file-descriptor limit
/// if they need it.
pub(crate) fn check(n: u64) -> Result<(), Failure> {
    let fds = n * FDS_PER_PROCESS + SPARE_FDS;
    let limit = raise_fd_limit();
    if limit < fds {
        return Err(Failure::BadInput(format!(
            "{n} satellite processes need about {fds} file descriptors; the limit is {limit} \
             (raise it: ulimit -n {fds}), or run --in-process"
        )));
    }
    let threads = n * THREADS_PER_PROCESS + SPARE_THREADS;
    for (what, path) in [
        ("kernel.pid_max", "/proc/sys/kernel/pid_max"),
        ("kernel.threads-max", "/proc/sys/kernel/threads-max"),
    ] {
        if let Some(max) = read_number(path)
            && max < threads
        {
            return Err(Failure::BadInput(format!(
                "{n} satellite processes need about {threads} threads; {what} is {max}"
            )));
        }
    }
    let bytes = n * PER_PROCESS_BYTES + SPARE_BYTES;
    if let Some(available) = mem_available()
        && available < bytes
    {
        let gb = |b: u64| b as f64 / 1e9;
        return Err(Failure::BadInput(format!(
            "{n} satellite processes need about {:.1} GB of memory; {:.1} GB is available \
             (run fewer satellites, or --in-process)",
            gb(bytes),
            gb(available)
        )));
    }
    Ok(())
}

/// Raises the soft limit on open files to the hard one; returns the limit
/// in force.
fn raise_fd_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read or write the one struct given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return u64::MAX;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim = raised;
            }
        }
    }
    lim.rlim_cur
}

fn read_number(path: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// `MemAvailable` from /proc/meminfo, bytes.
fn mem_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_this_machine_cannot_hold_is_refused_saying_what_it_needs() {
        // Ten million processes fit nowhere: the message names the need.
        match check(10_000_000) {
            Err(Failure::BadInput(m)) => {
                assert!(m.contains("10000000 satellite processes need"), "{m}")
            }
            other => panic!("{other:?}"),
        }
        assert!(check(8).is_ok());
    }
}
