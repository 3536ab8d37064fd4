//! Failed-authentication counting per subject (a kid, or an address when no kid
//! parsed). A window opens at a subject's first failure and lasts
//! `auth_failures_window`; the alert fires once, at the failure that reaches the
//! threshold, and the window's later failures are only counted. Pure: `now` is an
//! argument, so tests step time instead of sleeping.

use std::collections::HashMap;
use std::time::Duration;

/// Most subjects remembered; past it, windows that ended are dropped first.
const MAX_SUBJECTS: usize = 100_000;

#[derive(Debug, Clone)]
pub(super) struct Window {
    /// Unix seconds of the window's first failure.
    pub start: i64,
    pub failures: u32,
    pub fired: bool,
    /// The key's account and row id, looked up once when the window opened.
    pub account_id: String,
    pub key_id: Option<String>,
}

#[derive(Default)]
pub(super) struct AuthWindows {
    windows: HashMap<String, Window>,
}

/// What one failure did to its subject's window.
pub(super) enum Counted {
    /// No open window: the caller looks the subject up and calls [`AuthWindows::open`].
    NeedsWindow,
    /// Counted; `Some` when this failure reached the threshold (fire now).
    Counted(Option<Window>),
}

impl AuthWindows {
    /// Counts a failure of `subject` at `now` against an open window.
    pub fn count(&mut self, subject: &str, now: i64, window: Duration, threshold: u32) -> Counted {
        let secs = i64::try_from(window.as_secs()).unwrap_or(i64::MAX);
        let expired = match self.windows.get(subject) {
            None => return Counted::NeedsWindow,
            Some(w) => now.saturating_sub(w.start) >= secs,
        };
        if expired {
            self.windows.remove(subject);
            return Counted::NeedsWindow;
        }
        let Some(w) = self.windows.get_mut(subject) else {
            return Counted::NeedsWindow;
        };
        w.failures = w.failures.saturating_add(1);
        if !w.fired && w.failures >= threshold {
            w.fired = true;
            return Counted::Counted(Some(w.clone()));
        }
        Counted::Counted(None)
    }

    /// The account and key row id of `subject`'s window, if one is remembered.
    pub fn peek(&self, subject: &str) -> Option<(String, Option<String>)> {
        self.windows
            .get(subject)
            .map(|w| (w.account_id.clone(), w.key_id.clone()))
    }

    /// Opens a window for `subject` at `now` (its first failure is counted by the
    /// next [`AuthWindows::count`]).
    pub fn open(
        &mut self,
        subject: &str,
        now: i64,
        window: Duration,
        account_id: String,
        key_id: Option<String>,
    ) {
        if self.windows.len() >= MAX_SUBJECTS {
            let secs = i64::try_from(window.as_secs()).unwrap_or(i64::MAX);
            self.windows
                .retain(|_, w| now.saturating_sub(w.start) < secs);
            if self.windows.len() >= MAX_SUBJECTS {
                self.windows.clear();
            }
        }
        self.windows.insert(
            subject.to_owned(),
            Window {
                start: now,
                failures: 0,
                fired: false,
                account_id,
                key_id,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail(w: &mut AuthWindows, now: i64) -> bool {
        let window = Duration::from_secs(300);
        loop {
            match w.count("key:abc", now, window, 3) {
                Counted::NeedsWindow => w.open("key:abc", now, window, "a".into(), None),
                Counted::Counted(fired) => return fired.is_some(),
            }
        }
    }

    #[test]
    fn fires_once_per_window_then_again_in_the_next() {
        let mut w = AuthWindows::default();
        let fired: Vec<bool> = (0..6).map(|i| fail(&mut w, 1_000 + i)).collect();
        assert_eq!(fired, [false, false, true, false, false, false]);
        // The window opened at 1000 ends at 1300: the next failures count afresh.
        let fired: Vec<bool> = (0..3).map(|i| fail(&mut w, 1_300 + i)).collect();
        assert_eq!(fired, [false, false, true]);
    }

    #[test]
    fn failures_spread_wider_than_the_window_never_fire() {
        let mut w = AuthWindows::default();
        assert!(!(0..10).any(|i| fail(&mut w, i * 200)));
    }
}
