//! The steps of an environment's creation and of a cold start, timed and written as one
//! `--log-level debug` line (docs/reference.md §7), to see where a cold start's time goes.

use std::fmt::Write as _;
use std::time::Instant;

use crate::config::LogLevel;
use crate::logs;

/// Step timings, kept only when debug messages are shown.
pub(crate) struct Steps {
    began: Instant,
    last: Instant,
    taken: Option<Vec<(&'static str, f64)>>,
}

impl Steps {
    /// Start timing now.
    pub(crate) fn start() -> Self {
        Self::new(logs::enabled(LogLevel::Debug))
    }

    /// Start timing now, whatever the log level (set later, e.g. at start-up); the line is
    /// still written only at debug level.
    pub(crate) fn start_kept() -> Self {
        Self::new(true)
    }

    fn new(kept: bool) -> Self {
        let now = Instant::now();
        Self {
            began: now,
            last: now,
            taken: kept.then(Vec::new),
        }
    }

    /// The step `name` ended now.
    pub(crate) fn mark(&mut self, name: &'static str) {
        if let Some(taken) = &mut self.taken {
            let now = Instant::now();
            taken.push((name, ms(now - self.last)));
            self.last = now;
        }
    }

    /// Write `<what>: <step> <ms> ms, ... (total <ms> ms)` at debug level.
    pub(crate) fn log(&self, what: impl FnOnce() -> String) {
        let Some(taken) = &self.taken else {
            return;
        };
        if !logs::enabled(LogLevel::Debug) {
            return;
        }
        let mut line = what();
        line.push(':');
        for (i, (name, ms)) in taken.iter().enumerate() {
            let sep = if i == 0 { " " } else { ", " };
            let _ = write!(line, "{sep}{name} {ms:.2} ms");
        }
        let _ = write!(line, " (total {:.2} ms)", ms(self.began.elapsed()));
        logs::message(LogLevel::Debug, &line);
    }
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_kept_only_when_asked() {
        let mut quiet = Steps::new(false);
        quiet.mark("a");
        assert!(quiet.taken.is_none());
        let mut steps = Steps::new(true);
        steps.mark("spawn");
        steps.mark("ready");
        let names: Vec<&str> = steps.taken.iter().flatten().map(|(n, _)| *n).collect();
        assert_eq!(names, ["spawn", "ready"]);
    }
}
