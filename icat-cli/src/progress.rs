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
                    // The text carries its own elapsed time (one clock, not two that disagree).
                    ProgressStyle::with_template("{spinner} {wide_msg}")
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
                bar.set_style(transfer_style(total.is_some()));
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

/// The bar while bytes flow: progress, rate and ETA, then the status text (cut to the width).
fn transfer_style(known_total: bool) -> ProgressStyle {
    let template = if known_total {
        "[{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}  {wide_msg}"
    } else {
        "{spinner} {bytes} {bytes_per_sec}  {wide_msg}"
    };
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// The bar while waiting (restores, preparation): no rate or ETA, which would only fall while
/// nothing is transferred; the bytes so far, then what is waited for, fitted to the width.
fn waiting_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {bytes} so far  {wide_msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
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

/// The style state of a live byte counter that is waiting.
const WAITING: &str = "\u{0}waiting";

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

    /// Shows that the download waits (no rate or ETA) with this text; plain mode prints the text
    /// when its kind changes.
    pub fn waiting(&self, text: &str) {
        if let Some(bar) = &self.bar {
            let mut state = self.last.lock().unwrap_or_else(|p| p.into_inner());
            if *state != WAITING {
                bar.set_style(waiting_style());
                *state = WAITING.to_owned();
            }
        }
        self.status(text);
    }

    /// Back to the transfer display (rate and ETA) once bytes flow again.
    pub fn transferring(&self) {
        if let Some(bar) = &self.bar {
            let mut state = self.last.lock().unwrap_or_else(|p| p.into_inner());
            if *state == WAITING {
                bar.set_style(transfer_style(bar.length().is_some()));
                // Rate and ETA start afresh instead of averaging in the wait.
                bar.reset_eta();
                state.clear();
            }
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
