//! The `lapse` binary: parse arguments, run, map the outcome to an exit code.

use clap::Parser;

/// A large scan allocates and frees millions of small strings and maps; glibc's allocator spent
/// a fifth of the run consolidating free chunks and kept freed memory mapped.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let _ = lapse::alloc::tune();
    let cli = lapse::cli::Cli::parse();
    lapse::app::init_logging();
    match lapse::app::run(cli) {
        Ok(code) => code.into(),
        Err(err) => {
            eprintln!("error: {}", lapse::exit::describe(&err));
            lapse::exit::Code::Input.into()
        }
    }
}
