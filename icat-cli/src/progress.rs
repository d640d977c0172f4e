//! Progress display: indicatif bars and spinners on a terminal, plain lines when piped, nothing with `-q`.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
            crate::output::err_line(&shown(text));
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
                bar.set_message(shown(initial));
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

    /// A byte counter; rate and ETA appear once bytes flow; `total` when known.
    pub fn bytes(&self, total: Option<u64>, label: &str) -> ByteCounter {
        let bar = match self.mode {
            Mode::Live => {
                let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
                bar.set_style(style(Look::Idle, total.is_some()));
                bar.set_message(shown(label));
                bar.enable_steady_tick(Duration::from_millis(200));
                Some(bar)
            }
            _ => None,
        };
        ByteCounter {
            mode: self.mode,
            bar,
            last: Arc::new(Mutex::new(String::new())),
            // Until bytes flow, the bar is idle: no rate or ETA.
            look: Arc::new(Mutex::new(Look::Idle)),
            wait_text: Arc::new(Mutex::new(None)),
            ticking: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        }
    }
}

/// What a byte counter looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Look {
    /// Before the first byte: progress without rate or ETA (both would read 0).
    Idle,
    /// While bytes flow: progress, rate and ETA.
    Transfer,
    /// Waiting (restores): no rate or ETA, which would only fall while nothing is transferred.
    Waiting,
}

/// The template of a look; the status text comes last, cut to the width.
/// Text as the terminal gets it: bidirectional formatting characters (which a terminal obeys,
/// so `rtl\u{202e}txt.exe` would show as `rtlexe.txt`) become `?`. Names in the text come from
/// the server.
fn shown(text: &str) -> String {
    text.chars()
        .map(|c| {
            if icat_soap::untrusted::is_bidi_control(c) {
                '?'
            } else {
                c
            }
        })
        .collect()
}

fn template(look: Look, known_total: bool) -> &'static str {
    match (look, known_total) {
        (Look::Idle, true) => "[{bar:30}] {bytes}/{total_bytes}  {wide_msg}",
        (Look::Idle, false) => "{spinner} {bytes}  {wide_msg}",
        (Look::Transfer, true) => {
            "[{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}  {wide_msg}"
        }
        (Look::Transfer, false) => "{spinner} {bytes} {bytes_per_sec}  {wide_msg}",
        (Look::Waiting, _) => "{spinner} {bytes} so far  {wide_msg}",
    }
}

/// The indicatif style of a look.
fn style(look: Look, known_total: bool) -> ProgressStyle {
    ProgressStyle::with_template(template(look, known_total))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// Columns left for the text of a waiting line (the spinner and byte count come first).
fn wait_text_width() -> usize {
    let (_, cols) = console::Term::stderr().size();
    usize::from(cols).saturating_sub(26).max(20)
}

/// A waiting text rendered at a given time for a given width.
pub type WaitText = Arc<dyn Fn(Instant, usize) -> String + Send + Sync>;

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
                    bar.set_message(shown(text));
                }
            }
            Mode::Plain => {
                let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
                if *last != text {
                    crate::output::err_line(&shown(text));
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
            (None, Mode::Plain) => crate::output::err_line(&shown(text)),
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
#[derive(Clone)]
pub struct ByteCounter {
    mode: Mode,
    bar: Option<ProgressBar>,
    last: Arc<Mutex<String>>,
    /// What the counter shows.
    look: Arc<Mutex<Look>>,
    /// The text of the current wait, rendered at each tick (live mode).
    wait_text: Arc<Mutex<Option<WaitText>>>,
    /// Whether the ticker that re-renders the wait text runs.
    ticking: Arc<std::sync::atomic::AtomicBool>,
}

impl std::fmt::Debug for ByteCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ByteCounter")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl ByteCounter {
    /// Adds transferred bytes.
    pub fn add(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    /// Adds transferred bytes, never past the expected total: a bundle's zip carries headers
    /// besides its files' bytes, which the total (the files' sizes) does not count.
    pub fn add_within_total(&self, n: u64) {
        if let Some(bar) = &self.bar {
            let room = bar
                .length()
                .map_or(n, |total| total.saturating_sub(bar.position()));
            bar.inc(n.min(room));
        }
    }

    /// A counter drawing nowhere, as a terminal's would count (for tests).
    #[cfg(test)]
    pub(crate) fn hidden(total: u64) -> ByteCounter {
        let bar = ProgressBar::hidden();
        bar.set_length(total);
        ByteCounter {
            mode: Mode::Live,
            bar: Some(bar),
            last: Arc::new(Mutex::new(String::new())),
            look: Arc::new(Mutex::new(Look::Idle)),
            wait_text: Arc::new(Mutex::new(None)),
            ticking: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        }
    }

    /// Bytes counted so far (for tests).
    #[cfg(test)]
    pub(crate) fn position(&self) -> u64 {
        self.bar.as_ref().map_or(0, ProgressBar::position)
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
            (Some(bar), _) => bar.set_message(shown(text)),
            (None, Mode::Plain) => {
                let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
                // Plain lines only when the status kind changes, not on every timer tick.
                let kind: String = text.split(['(', ':']).next().unwrap_or(text).to_string();
                if *last != kind {
                    crate::output::err_line(&shown(text));
                    *last = kind;
                }
            }
            _ => {}
        }
    }

    /// Sets the status text shown with the bar (`waiting`: nothing can move, no rate or ETA);
    /// plain mode prints it only when the caller says it deserves a line (`print`), e.g. counts
    /// of which only some changes matter without a terminal.
    pub fn status_line(&self, text: &str, waiting: bool, print: bool) {
        match (&self.bar, self.mode) {
            (Some(_), _) if waiting => self.waiting(text),
            (Some(bar), _) => bar.set_message(shown(text)),
            (None, Mode::Plain) if print => crate::output::err_line(&shown(text)),
            _ => {}
        }
    }

    /// Shows that the download waits (no rate or ETA) with this text; plain mode prints the text
    /// when its kind changes.
    pub fn waiting(&self, text: &str) {
        let mut look = self.look.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(bar) = &self.bar
            && *look != Look::Waiting
        {
            bar.set_style(style(Look::Waiting, bar.length().is_some()));
        }
        *look = Look::Waiting;
        drop(look);
        *self.wait_text.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.status(text);
    }

    /// Shows a wait whose text changes with time (elapsed time, next check): on a terminal it is
    /// rendered afresh several times a second, fitted to the width; plain output prints it when
    /// `kind` changes.
    pub fn waiting_with(&self, kind: &str, text: WaitText) {
        match (&self.bar, self.mode) {
            (Some(bar), _) => {
                self.waiting(&text(Instant::now(), wait_text_width()));
                *self.wait_text.lock().unwrap_or_else(|p| p.into_inner()) = Some(text);
                if !self.ticking.swap(true, std::sync::atomic::Ordering::SeqCst) {
                    self.start_ticker(bar.downgrade());
                }
            }
            (None, Mode::Plain) => {
                let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
                if *last != kind {
                    crate::output::err_line(&shown(&text(Instant::now(), 100)));
                    *last = kind.to_owned();
                }
            }
            _ => {}
        }
    }

    /// Re-renders the wait text until the bar is gone.
    fn start_ticker(&self, bar: indicatif::WeakProgressBar) {
        let wait_text = self.wait_text.clone();
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_millis(250));
                let Some(bar) = bar.upgrade() else { break };
                if bar.is_finished() {
                    break;
                }
                let text = wait_text.lock().unwrap_or_else(|p| p.into_inner()).clone();
                if let Some(text) = text {
                    bar.set_message(shown(&text(Instant::now(), wait_text_width())));
                }
            }
        });
    }

    /// Back to the transfer display (rate and ETA) once bytes flow again.
    pub fn transferring(&self) {
        let mut look = self.look.lock().unwrap_or_else(|p| p.into_inner());
        if *look != Look::Transfer {
            if let Some(bar) = &self.bar {
                bar.set_style(style(Look::Transfer, bar.length().is_some()));
                // Rate and ETA start afresh instead of averaging in the wait.
                bar.reset_eta();
            }
            *look = Look::Transfer;
        }
        drop(look);
        *self.wait_text.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Whether the counter shows rate and ETA (bytes are flowing).
    pub fn shows_rate(&self) -> bool {
        *self.look.lock().unwrap_or_else(|p| p.into_inner()) == Look::Transfer
    }

    /// Prints a line above the bar (or plainly).
    pub fn line(&self, text: &str) {
        match (&self.bar, self.mode) {
            (Some(bar), _) => bar.println(text),
            (None, Mode::Plain) => crate::output::err_line(&shown(text)),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Finding 3 of the issue-16 trial: before the first byte (a restore not yet started) the
    /// bar showed `0 B/s ETA 0s`; rate and ETA appear only while bytes flow.
    #[test]
    fn names_cannot_reorder_the_line() {
        assert_eq!(
            shown("SIM/ds/rtl\u{202e}txt.exe 12 KiB"),
            "SIM/ds/rtl?txt.exe 12 KiB"
        );
        assert_eq!(shown("plain ünïcødé"), "plain ünïcødé");
    }

    #[test]
    fn rate_and_eta_only_while_bytes_flow() {
        assert!(!template(Look::Idle, true).contains("eta"));
        assert!(!template(Look::Idle, false).contains("per_sec"));
        assert!(!template(Look::Waiting, true).contains("per_sec"));
        assert!(template(Look::Transfer, true).contains("{eta}"));
        let bar = Reporter::new(Mode::Plain).bytes(Some(10), "downloading");
        assert!(!bar.shows_rate(), "a new counter is idle");
        bar.transferring();
        assert!(bar.shows_rate());
        bar.waiting("waiting");
        assert!(!bar.shows_rate());
    }
}
