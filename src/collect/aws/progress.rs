//! Collect, AWS live: one progress line per account on a terminal; nothing when stderr is not
//! a terminal (CI, pipes) or with `--quiet`.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Clone)]
pub struct Progress {
    multi: MultiProgress,
    visible: bool,
}

impl Progress {
    pub fn new(quiet: bool) -> Progress {
        let visible = !quiet && std::io::stderr().is_terminal();
        let target = if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Progress {
            multi: MultiProgress::with_draw_target(target),
            visible,
        }
    }

    /// A spinner for one account; its message is the step in progress.
    pub fn account(&self, label: &str) -> AccountBar {
        if !self.visible {
            return AccountBar(ProgressBar::hidden());
        }
        let bar = self.multi.add(ProgressBar::new_spinner());
        if let Ok(style) = ProgressStyle::with_template("{spinner} aws {prefix}: {msg} [{elapsed}]")
        {
            bar.set_style(style);
        }
        // The label is an account id or a role ARN: printable, but kept short anyway.
        bar.set_prefix(label.chars().take(80).collect::<String>());
        bar.enable_steady_tick(Duration::from_millis(120));
        AccountBar(bar)
    }
}

pub struct AccountBar(ProgressBar);

impl AccountBar {
    pub fn step(&self, message: &str) {
        self.0.set_message(message.to_string());
    }

    pub fn finish(&self, message: &str) {
        self.0.finish_with_message(message.to_string());
    }
}
