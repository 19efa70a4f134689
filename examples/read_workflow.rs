//! Benchmark helper: reads one workflow file with lapse's workflow reader, several times, and
//! prints the median wall time and the jobs read (benches/workflow_reader.sh drives it).

use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: read_workflow FILE [RUNS]");
        std::process::exit(2);
    };
    let runs: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(5);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) => {
            eprintln!("{path}: {err}");
            std::process::exit(2);
        }
    };
    let mut times = Vec::with_capacity(runs);
    let mut jobs = 0;
    for _ in 0..runs.max(1) {
        let clock = Instant::now();
        let doc = lapse::collect::repo::workflow::read(".github/workflows/bench.yml", &text);
        times.push(clock.elapsed().as_secs_f64() * 1000.0);
        jobs = doc.jobs.len();
        if let Some(reason) = doc.unreadable {
            eprintln!("{path}: {reason}");
        }
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{path}: {} bytes, {jobs} jobs, median {:.1} ms over {} runs",
        text.len(),
        times[times.len() / 2],
        times.len()
    );
}
