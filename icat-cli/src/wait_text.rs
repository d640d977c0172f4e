//! The status text of a restore wait: what is waited for, the elapsed time and the next check (or
//! how long the IDS has not answered), rendered afresh at every tick so the clock moves between
//! checks, and in the longest form that fits the terminal.

use std::time::{Duration, Instant};

use icat_ids::Status;

/// One report of a restore wait, taken at `at`.
#[derive(Clone, Debug)]
pub struct WaitView {
    /// When the report was taken.
    pub at: Instant,
    /// Time waited when the report was taken.
    pub elapsed: Duration,
    /// Time until the next check, from `at`.
    pub next_check_in: Duration,
    /// The last status the IDS told (kept while it does not answer).
    pub status: Option<Status>,
    /// How long the IDS had not answered at `at`, when it did not.
    pub unreachable_for: Option<Duration>,
    /// When the wait gives up on an IDS that does not answer (`--max-unreachable`).
    pub unreachable_limit: Duration,
}

impl WaitView {
    /// What kind of wait this is, for plain output (printed when it changes).
    pub fn kind(&self) -> &'static str {
        if self.unreachable_for.is_some() {
            "IDS not answering"
        } else {
            "waiting for the restore from tape"
        }
    }

    /// The text at `now`, in the longest form no wider than `width` characters (the shortest
    /// form when none fits).
    pub fn render(&self, now: Instant, width: usize) -> String {
        let since = now.saturating_duration_since(self.at);
        let forms = match self.unreachable_for {
            Some(down) => {
                let down = seconds(down + since);
                let limit = seconds(self.unreachable_limit);
                let was = self
                    .status
                    .map(|s| format!(" (the restore was {s})"))
                    .unwrap_or_default();
                vec![
                    format!("IDS not answering for {down}, giving up at {limit}{was}"),
                    format!("IDS not answering for {down}, giving up at {limit}"),
                    format!("IDS down {down}/{limit}"),
                ]
            }
            None => {
                let elapsed = seconds(self.elapsed + since);
                let next = seconds(round_up(self.next_check_in.saturating_sub(since)));
                let status = self.status.map(|s| format!(" ({s})")).unwrap_or_default();
                vec![
                    format!(
                        "waiting for the restore from tape{status}: {elapsed} so far, next check in {next}"
                    ),
                    format!("restoring from tape{status}, {elapsed}, next check {next}"),
                    format!("restoring, {elapsed}"),
                ]
            }
        };
        let last = forms.len() - 1;
        forms
            .into_iter()
            .enumerate()
            .find(|(i, f)| *i == last || f.chars().count() <= width)
            .map(|(_, f)| f)
            .unwrap_or_default()
    }
}

/// A duration rounded up to whole seconds (a next check in 0.4 s is "in 1 s", not "in 0 s").
fn round_up(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs() + u64::from(d.subsec_nanos() > 0))
}

/// A duration in whole units, as people read a clock: `9 s`, `4 min 5 s`, `2 h 10 min`.
pub fn seconds(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{} min {} s", s / 60, s % 60)
    } else {
        format!("{} h {} min", s / 3600, (s % 3600) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(unreachable_for: Option<Duration>) -> WaitView {
        WaitView {
            at: Instant::now(),
            elapsed: Duration::from_secs(60),
            next_check_in: Duration::from_secs(30),
            status: Some(Status::Restoring),
            unreachable_for,
            unreachable_limit: Duration::from_secs(15),
        }
    }

    /// Finding 2 of the issue-16 trial: the clock moves between checks, the line fits the
    /// terminal instead of being cut mid-word, and the status stays what the IDS last said.
    #[test]
    fn the_clock_moves_between_checks_and_the_text_fits() {
        let v = view(None);
        let later = v.at + Duration::from_secs(5);
        assert_eq!(
            v.render(later, 200),
            "waiting for the restore from tape (RESTORING): 1 min 5 s so far, next check in 25 s"
        );
        let short = v.render(later, 60);
        assert!(short.chars().count() <= 60, "{short}");
        assert!(
            short.contains("1 min 5 s") && short.contains("25 s"),
            "{short}"
        );
        assert_eq!(v.render(later, 5), "restoring, 1 min 5 s");
        let down = view(Some(Duration::from_secs(4)));
        let text = down.render(down.at + Duration::from_secs(5), 200);
        assert_eq!(
            text,
            "IDS not answering for 9 s, giving up at 15 s (the restore was RESTORING)"
        );
        assert_eq!(down.kind(), "IDS not answering");
        assert_eq!(seconds(Duration::from_millis(3_653)), "3 s");
        assert_eq!(seconds(round_up(Duration::from_millis(400))), "1 s");
        assert_eq!(seconds(Duration::from_secs(7_800)), "2 h 10 min");
    }
}
