//! Exit codes, the CLI contract: 0 clean, 1 findings at or above `--fail-on`, 2 usage, config
//! or input error, 3 incomplete scan.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Clean = 0,
    Findings = 1,
    Input = 2,
    Incomplete = 3,
}

impl From<Code> for std::process::ExitCode {
    fn from(code: Code) -> Self {
        std::process::ExitCode::from(code as u8)
    }
}
