//! Progress display: indicatif bars and spinners on a terminal, plain lines when piped, nothing with `-q`.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Nothing at all (`-q`).
    Quiet,
    /// One line per event on stderr (not a terminal).
    Plain,
    /// Live bars and spinners on a terminal.
    Live,
}

impl Mode {
    /// Live on a terminal, plain when stderr is redirected, quiet with `-q`.
    pub fn detect(quiet: bool) -> Mode {
        if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Live
        } else {
            Mode::Plain
        }
    }
}

/// Creates status lines and byte counters in the chosen mode.
#[derive(Clone, Copy, Debug)]
pub struct Reporter {
    mode: Mode,
}

impl Reporter {
    /// A reporter in the given mode.
    pub fn new(mode: Mode) -> Self {
        Reporter { mode }
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// An informational line on stderr (not in quiet mode).
    pub fn note(&self, text: &str) {
        if self.mode != Mode::Quiet {
            eprintln!("{text}");
        }
    }

    /// A live status line (spinner); in plain mode each distinct message is printed once.
    pub fn status(&self, initial: &str) -> StatusLine {
        let bar = match self.mode {
            Mode::Live => {
                let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} [{elapsed}] {wide_msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.enable_steady_tick(Duration::from_millis(120));
                bar.set_message(initial.to_string());
                Some(bar)
            }
            _ => None,
        };
        let line = StatusLine {
            mode: self.mode,
            bar,
            last: Arc::new(Mutex::new(String::new())),
        };
        if self.mode == Mode::Plain {
            line.set(initial);
        }
        line
    }

    /// A byte counter with rate and ETA; `total` when known.
    pub fn bytes(&self, total: Option<u64>, label: &str) -> ByteCounter {
        let bar = match self.mode {
            Mode::Live => {
                let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
                let template = if total.is_some() {
                    "[{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}  {wide_msg}"
                } else {
                    "{spinner} {bytes} {bytes_per_sec}  {wide_msg}"
                };
                bar.set_style(
                    ProgressStyle::with_template(template)
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                );
                bar.set_message(label.to_string());
                bar.enable_steady_tick(Duration::from_millis(200));
                Some(bar)
            }
            _ => None,
        };
        ByteCounter {
            mode: self.mode,
            bar,
            last: Arc::new(Mutex::new(String::new())),
        }
    }
}

/// A status line that can be updated (restore waits, preparation).
#[derive(Clone, Debug)]
pub struct StatusLine {
    mode: Mode,
    bar: Option<ProgressBar>,
    last: Arc<Mutex<String>>,
}

impl StatusLine {
    /// Changes the message; plain mode prints it when it differs from the previous one.
    pub fn set(&self, text: &str) {
        match self.mode {
            Mode::Live => {
                if let Some(bar) = &self.bar {
                    bar.set_message(text.to_string());
                }
            }
            Mode::Plain => {
                let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
                if *last != text {
                    eprintln!("{text}");
                    *last = text.to_string();
                }
            }
            Mode::Quiet => {}
        }
    }

    /// Ends the status line, leaving a final message (not in quiet mode).
    pub fn finish(&self, text: &str) {
        match (&self.bar, self.mode) {
            (Some(bar), _) => bar.finish_with_message(text.to_string()),
            (None, Mode::Plain) => eprintln!("{text}"),
            _ => {}
        }
    }

    /// Removes the status line without a message.
    pub fn clear(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Counts transferred bytes.
#[derive(Clone, Debug)]
pub struct ByteCounter {
    mode: Mode,
    bar: Option<ProgressBar>,
    last: Arc<Mutex<String>>,
}

impl ByteCounter {
    /// Adds transferred bytes.
    pub fn add(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    /// Sets or grows the expected total.
    pub fn set_total(&self, total: u64) {
        if let Some(bar) = &self.bar {
            bar.set_length(total);
        }
    }

    /// Sets the status text shown with the bar; plain mode prints it when it changes.
    pub fn status(&self, text: &str) {
        match (&self.bar, self.mode) {
            (Some(bar), _) => bar.set_message(text.to_string()),
            (None, Mode::Plain) => {
                let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
                // Plain lines only when the status kind changes, not on every timer tick.
                let kind: String = text.split(['(', ':']).next().unwrap_or(text).to_string();
                if *last != kind {
                    eprintln!("{text}");
                    *last = kind;
                }
            }
            _ => {}
        }
    }

    /// Prints a line above the bar (or plainly).
    pub fn line(&self, text: &str) {
        match (&self.bar, self.mode) {
            (Some(bar), _) => bar.println(text),
            (None, Mode::Plain) => eprintln!("{text}"),
            _ => {}
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
