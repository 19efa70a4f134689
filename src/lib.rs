//! lapse: find the standing access that machines hold, judge it against rules, detect drift,
//! and revoke provisional grants whose time is up.
//!
//! Pipeline: `collect` → `inventory` → `analyze` → `rules` (evaluate) → `findings` →
//! `render` / `drift` / `revoke`. `app` runs a validated `plan`; `main.rs` maps errors to exit
//! codes.

pub mod analyze;
pub mod app;
pub mod cli;
pub mod collect;
pub mod config;
pub mod drift;
pub mod exit;
pub mod findings;
pub mod grant;
pub mod input;
pub mod inventory;
pub mod journal;
pub mod merge;
pub mod net;
pub mod plan;
pub mod render;
pub mod report;
pub mod revoke;
pub mod rules;
pub mod text;

/// Runs one stage and logs its duration at debug level (`RUST_LOG=lapse=debug`), so a slow
/// scan shows where its time went: wall time, and the process's CPU time (user and system,
/// every thread, so a stage that runs beside another counts both) over the stage.
pub fn timed<T>(stage: &'static str, run: impl FnOnce() -> T) -> T {
    let started = std::time::Instant::now();
    let cpu_before = cpu_time_ms();
    let result = run();
    tracing::debug!(
        stage,
        elapsed_ms = started.elapsed().as_millis() as u64,
        cpu_ms = cpu_time_ms().saturating_sub(cpu_before),
        "stage done"
    );
    result
}

/// CPU time this process has used so far, user and system, in milliseconds (0 off Unix).
fn cpu_time_ms() -> u64 {
    #[cfg(unix)]
    {
        // SAFETY: getrusage fills the struct it is given; a zeroed rusage is a valid value.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
            return 0;
        }
        let ms = |t: libc::timeval| t.tv_sec as u64 * 1000 + t.tv_usec as u64 / 1000;
        ms(usage.ru_utime) + ms(usage.ru_stime)
    }
    #[cfg(not(unix))]
    {
        0
    }
}

/// Memory settings for a scan's shape: stages that each build and drop hundreds of megabytes.
/// mimalloc backs its arenas with transparent huge pages where the kernel offers them: memory a
/// stage freed was purged and the next stage faulted it back in, each fault zeroing 2 MiB, and
/// 28 % of a 100k + 100k scan's samples were the kernel clearing pages (`perf record`). Without
/// THP for lapse's process a fault zeroes the 4 KiB it touches: the same peak memory, about half
/// the system time (README, Scale). This is what mimalloc's own `MIMALLOC_ALLOW_THP=0` does, but
/// mimalloc reads that before `main`, so lapse sets the process flag itself; a user who sets
/// `MIMALLOC_ALLOW_THP` decides instead.
pub mod alloc {
    /// Turns transparent huge pages off for this process (Linux; elsewhere nothing), unless
    /// `MIMALLOC_ALLOW_THP` is set. Call first thing in `main`. Returns whether it did.
    pub fn tune() -> bool {
        if std::env::var_os("MIMALLOC_ALLOW_THP").is_some() {
            return false;
        }
        #[cfg(target_os = "linux")]
        {
            // SAFETY: prctl with integer arguments only; it changes a flag of this process.
            unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0 }
        }
        #[cfg(not(target_os = "linux"))]
        {
            false
        }
    }

    #[cfg(all(test, target_os = "linux"))]
    mod tests {
        #[test]
        fn tune_turns_transparent_huge_pages_off_for_the_process() {
            // SAFETY: as above, a read of the flag.
            let flag = || unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) };
            if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
                assert!(super::tune());
                assert_eq!(flag(), 1);
            }
        }
    }
}

/// Hash maps on hot paths (hundreds of thousands of ARNs per run): foldhash, seeded per
/// process, rather than the standard library's SipHash, which showed in profiles.
pub mod hash {
    pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
    pub type FastSet<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;
}

/// Frees a large structure on another thread: dropping a 100k-identity inventory takes a
/// second or more, which the next stage need not wait for. A drop still running when the
/// process exits is simply cut short (the memory goes back to the OS either way).
pub fn release<T: Send + 'static>(value: T) {
    let spawned = std::thread::Builder::new()
        .name("lapse-release".into())
        .spawn(move || drop(value));
    // No thread available: drop here, which is only slower.
    if let Err(e) = spawned {
        tracing::debug!(error = %e, "release thread not started");
    }
}
