//! `[secrets]`: where the master keys that seal stored secrets come from
//! (`crate::seal`). Configured keys are validated here, at startup, so a typo stops
//! the server instead of failing the first vault write.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{ConfigError, Validator};
use crate::seal::{MasterKeySource, Sealer};
use crate::secret::Secret;

/// The key file's name in the data directory when no `master_key` is configured.
pub const MASTER_KEY_FILE: &str = "tollgate.master_key";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawSecrets {
    /// The current master key: 32 bytes as 64 hex digits or base64. Empty: a random
    /// one kept in `<data dir>/tollgate.master_key` (back that file up).
    pub master_key: String,
    /// Keys that sealed older values and still open them during a rotation.
    pub previous_master_keys: Vec<String>,
}

/// `[secrets]`, validated.
#[derive(Debug, Clone)]
pub struct SecretsConfig {
    pub master_keys: MasterKeySource,
}

impl Validator<'_> {
    pub(super) fn secrets(
        &mut self,
        raw: &RawSecrets,
        data_dir: &Path,
    ) -> Result<SecretsConfig, ConfigError> {
        let current = self.expand("secrets.master_key", &raw.master_key)?;
        let mut previous = Vec::with_capacity(raw.previous_master_keys.len());
        for (i, key) in raw.previous_master_keys.iter().enumerate() {
            let name = format!("secrets.previous_master_keys[{i}]");
            if let Some(key) = self.expand(&name, key)? {
                previous.push(Secret::new(key));
            }
        }
        let master_keys = match current {
            Some(current) => MasterKeySource::Configured {
                current: Secret::new(current),
                previous,
            },
            None if previous.is_empty() => MasterKeySource::File(data_dir.join(MASTER_KEY_FILE)),
            None => {
                return Err(self.invalid(
                    "secrets.previous_master_keys",
                    "[redacted]",
                    "needs secrets.master_key as the current key; set it, or empty both to use the key file",
                ));
            }
        };
        if let MasterKeySource::Configured { .. } = &master_keys
            && let Err(e) = Sealer::load(&master_keys)
        {
            return Err(self.invalid("secrets.master_key", "[redacted]", e.to_string()));
        }
        Ok(SecretsConfig { master_keys })
    }
}
