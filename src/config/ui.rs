//! `[ui]`: how long a dashboard session lives. Two bounds, because they guard
//! against different things: the idle timeout ends a session left open on an
//! unattended screen, the absolute lifetime ends a stolen cookie however busy it
//! is kept. The session table itself is `crate::ui::Sessions`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ConfigError, Validator};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawUi {
    /// A session ends this long after sign-in, however busy (also the cookie's Max-Age).
    pub session_ttl_secs: u64,
    /// A session unused this long ends.
    pub idle_timeout_secs: u64,
}

impl Default for RawUi {
    fn default() -> Self {
        RawUi {
            session_ttl_secs: 24 * 3600,
            idle_timeout_secs: 8 * 3600,
        }
    }
}

/// `[ui]`, validated.
#[derive(Debug, Clone)]
pub struct UiConfig {
    pub session_ttl: Duration,
    pub idle_timeout: Duration,
}

impl Validator<'_> {
    pub(super) fn ui(&self, raw: &RawUi) -> Result<UiConfig, ConfigError> {
        if raw.session_ttl_secs == 0 {
            return Err(self.invalid(
                "ui.session_ttl_secs",
                raw.session_ttl_secs,
                "must be at least 1 (seconds a dashboard session lives)",
            ));
        }
        if raw.idle_timeout_secs == 0 {
            return Err(self.invalid(
                "ui.idle_timeout_secs",
                raw.idle_timeout_secs,
                "must be at least 1 (seconds of inactivity that end a dashboard session)",
            ));
        }
        Ok(UiConfig {
            session_ttl: Duration::from_secs(raw.session_ttl_secs),
            // An idle timeout past the lifetime never fires: the lifetime bounds it.
            idle_timeout: Duration::from_secs(raw.idle_timeout_secs.min(raw.session_ttl_secs)),
        })
    }
}
