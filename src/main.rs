//! The `lapse` binary: parse arguments, run, map the outcome to an exit code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = lapse::cli::Cli::parse();
    lapse::app::init_logging();
    match lapse::app::run(cli) {
        Ok(code) => code.into(),
        Err(err) => {
            eprintln!("error: {err:#}");
            lapse::exit::Code::Input.into()
        }
    }
}
