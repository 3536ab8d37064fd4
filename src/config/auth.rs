//! `[auth]`: end users' login tokens (JWT HS256) and their rate limit.
//!
//! - `jwt_secret`: the HMAC secret that signs tokens (at least 32 characters).
//!   Empty: a random one kept in `<data dir>/tollgate.jwt_secret`, generated with
//!   owner-only permissions on first start (back it up with the database: losing it
//!   logs every user out, nothing more).
//! - `jwt_ttl`: how long a token is valid, a duration such as `"7d"`, `"12h"` or
//!   `"1s"` (default 7 days, 604800 s: the `expires_in` of login answers).
//! - `user_rate_limit`: `{ requests, period, burst }` per user, like a key's.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ConfigError, Validator};
use crate::domain::gcra::Quota;
use crate::secret::Secret;

/// The generated JWT secret's file name in the data directory.
pub const JWT_SECRET_FILE: &str = "tollgate.jwt_secret";

/// The shortest configured JWT secret accepted (HS256 wants at least 256 bits).
pub const MIN_JWT_SECRET: usize = 32;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAuth {
    /// HMAC-SHA256 secret for login tokens; empty: `<data dir>/tollgate.jwt_secret`.
    pub jwt_secret: String,
    /// Token lifetime (`7d`, `12h`, `90m`, `1s`).
    pub jwt_ttl: String,
    /// Each end user's rate limit.
    pub user_rate_limit: RawUserRateLimit,
}

impl Default for RawAuth {
    fn default() -> Self {
        RawAuth {
            jwt_secret: String::new(),
            jwt_ttl: "7d".into(),
            user_rate_limit: RawUserRateLimit::default(),
        }
    }
}

/// A rate limit as a key's is written; `burst` defaults to `requests`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUserRateLimit {
    pub requests: u32,
    pub period: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
}

impl Default for RawUserRateLimit {
    fn default() -> Self {
        RawUserRateLimit {
            requests: 60,
            period: "minute".into(),
            burst: None,
        }
    }
}

/// Where the JWT secret comes from.
#[derive(Debug, Clone)]
pub enum JwtSecretSource {
    Configured(Secret<Vec<u8>>),
    File(PathBuf),
}

/// `[auth]`, validated.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub jwt_secret: JwtSecretSource,
    pub jwt_ttl: Duration,
    pub user_rate_limit: Quota,
}

impl Validator<'_> {
    pub(super) fn auth(
        &mut self,
        raw: &RawAuth,
        data_dir: &Path,
    ) -> Result<AuthConfig, ConfigError> {
        let jwt_secret = match self.expand("auth.jwt_secret", &raw.jwt_secret)? {
            Some(s) if s.len() >= MIN_JWT_SECRET => {
                JwtSecretSource::Configured(Secret::new(s.into_bytes()))
            }
            Some(_) => {
                return Err(self.invalid(
                    "auth.jwt_secret",
                    "[redacted]",
                    format!("must be at least {MIN_JWT_SECRET} characters of random text (or empty: a generated one in the data directory)"),
                ));
            }
            None => JwtSecretSource::File(data_dir.join(JWT_SECRET_FILE)),
        };
        let jwt_ttl = humantime::parse_duration(raw.jwt_ttl.trim())
            .ok()
            .filter(|d| d.as_secs() >= 1)
            .ok_or_else(|| {
                self.invalid(
                    "auth.jwt_ttl",
                    &raw.jwt_ttl,
                    "a duration of at least 1s, such as \"7d\", \"12h\" or \"30m\"",
                )
            })?;
        let rl = &raw.user_rate_limit;
        let period = rl
            .period
            .parse()
            .map_err(|e: crate::domain::gcra::ParsePeriodError| {
                self.invalid("auth.user_rate_limit.period", &rl.period, e.to_string())
            })?;
        let user_rate_limit = Quota {
            requests: rl.requests,
            period,
            burst: rl.burst.unwrap_or(rl.requests),
        };
        user_rate_limit.validate().map_err(|e| {
            self.invalid(
                "auth.user_rate_limit",
                format!(
                    "{{requests = {}, burst = {}}}",
                    rl.requests, user_rate_limit.burst
                ),
                e.to_string(),
            )
        })?;
        Ok(AuthConfig {
            jwt_secret,
            jwt_ttl,
            user_rate_limit,
        })
    }
}

impl AuthConfig {
    /// The JWT secret: configured, or read from (on first start written to) its file
    /// with owner-only permissions.
    pub fn load_jwt_secret(&self) -> Result<Secret<Vec<u8>>, ConfigError> {
        match &self.jwt_secret {
            JwtSecretSource::Configured(s) => Ok(s.clone()),
            JwtSecretSource::File(path) => read_or_create_secret(path),
        }
    }
}

fn read_or_create_secret(path: &Path) -> Result<Secret<Vec<u8>>, ConfigError> {
    use std::io::Write;
    let io_err = |source| ConfigError::DataDir {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(io_err)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(mut f) => {
            let bytes: [u8; 32] = rand::random();
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            f.write_all(hex.as_bytes()).map_err(io_err)?;
            f.sync_all().map_err(io_err)?;
            Ok(Secret::new(hex.into_bytes()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(path).map_err(io_err)?;
            let text = text.trim();
            if text.len() < MIN_JWT_SECRET {
                return Err(io_err(std::io::Error::other(format!(
                    "the JWT secret file is shorter than {MIN_JWT_SECRET} characters; restore it from backup, or delete it to log every user out and generate a new one"
                ))));
            }
            Ok(Secret::new(text.as_bytes().to_vec()))
        }
        Err(e) => Err(io_err(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, RawConfig};

    fn load(tweak: impl FnOnce(&mut RawAuth)) -> Result<Config, ConfigError> {
        let mut raw = RawConfig::default();
        tweak(&mut raw.auth);
        Config::from_raw(raw, std::env::temp_dir())
    }

    #[test]
    fn defaults_are_seven_days_and_a_secret_file() {
        let c = load(|_| {}).unwrap();
        assert_eq!(c.auth.jwt_ttl, Duration::from_secs(604_800));
        assert!(matches!(c.auth.jwt_secret, JwtSecretSource::File(_)));
        assert_eq!(c.auth.user_rate_limit.burst, 60);
    }

    #[test]
    fn bad_values_name_the_key() {
        let e = load(|a| a.jwt_ttl = "soon".into()).unwrap_err().to_string();
        assert!(e.contains("auth.jwt_ttl"), "{e}");
        let e = load(|a| a.jwt_secret = "short".into())
            .unwrap_err()
            .to_string();
        assert!(e.contains("auth.jwt_secret") && !e.contains("short"), "{e}");
        let e = load(|a| a.user_rate_limit.requests = 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("auth.user_rate_limit"), "{e}");
    }

    #[test]
    fn the_generated_secret_file_is_owner_only_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(JWT_SECRET_FILE);
        let first = read_or_create_secret(&path).unwrap();
        let second = read_or_create_secret(&path).unwrap();
        assert_eq!(first.expose(), second.expose());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
