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
/// scan shows where its time went.
pub fn timed<T>(stage: &'static str, run: impl FnOnce() -> T) -> T {
    let started = std::time::Instant::now();
    let result = run();
    tracing::debug!(
        stage,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "stage done"
    );
    result
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
