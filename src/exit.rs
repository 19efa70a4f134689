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

/// The message printed for an error that ends the run: each cause once (a cause whose text
/// its wrapper already quotes, such as an OS error, is not repeated), and safe on a terminal
/// (file data quoted by a parser cannot carry an escape sequence to stderr).
pub fn describe(err: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if message.contains(&text) {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&text);
    }
    crate::text::terminal_lines(&message)
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn an_os_error_is_printed_once() {
        let os = std::io::Error::from_raw_os_error(2);
        #[derive(Debug, thiserror::Error)]
        #[error("x.json: {source}")]
        struct Wrapped {
            #[source]
            source: std::io::Error,
        }
        let err = anyhow::Error::new(Wrapped { source: os }).context("loading inventory");
        let text = describe(&err);
        assert_eq!(text.matches("os error 2").count(), 1, "{text}");
        assert!(text.starts_with("loading inventory: x.json: "), "{text}");
    }

    #[test]
    fn quoted_file_data_cannot_reach_the_terminal_raw() {
        let err = anyhow::anyhow!("unknown format `\x1b[2J\u{202e}`\nsecond line");
        assert_eq!(
            describe(&err),
            "unknown format `\\u{1b}[2J\\u{202e}`\nsecond line"
        );
    }
}
