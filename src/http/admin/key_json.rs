//! The two spellings of key JSON the management API accepts: ours (`scopes`,
//! `ip_allowlist`, `rate_limit`, `env`) and the one the Bastio seed writes
//! (`permissions` with `excludePermissions`, `ipWhitelist`, `rateLimit`,
//! `environment`), so the seed's payloads work unchanged (DESIGN §1.7).
//!
//! Only the wire is translated here; what a key may be is still decided by
//! `KeyPolicy::validate`. Giving one setting in both spellings is a 400 naming
//! the seed's field, rather than a silent choice of one.

use serde::{Deserialize, Deserializer};

use crate::error::ApiError;
use crate::keys::{KeyEnv, Scope, ScopeSet};
use crate::policy::rate_limit::{Period, Quota};

/// An environment name, case-insensitive: `live`/`production`, `stg`/`staging`,
/// `dev`/`development`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvName(pub KeyEnv);

impl EnvName {
    pub fn parse(text: &str) -> Option<EnvName> {
        let env = match text.to_ascii_lowercase().as_str() {
            "live" | "production" => KeyEnv::Live,
            "stg" | "staging" => KeyEnv::Stg,
            "dev" | "development" => KeyEnv::Dev,
            _ => return None,
        };
        Some(EnvName(env))
    }
}

impl<'de> Deserialize<'de> for EnvName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        EnvName::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown environment `{text}`; use live, stg or dev (or Production, Staging, Development)"
            ))
        })
    }
}

/// A rate limit as either spelling sends it: `burst` may be left out and then
/// equals `requests` (a whole period's worth may arrive at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitBody {
    pub requests: u32,
    pub period: Period,
    #[serde(default)]
    pub burst: Option<u32>,
}

impl From<RateLimitBody> for Quota {
    fn from(r: RateLimitBody) -> Quota {
        Quota {
            requests: r.requests,
            period: r.period,
            burst: r.burst.unwrap_or(r.requests),
        }
    }
}

/// One of our fields and its seed twin; at most one may be given.
pub fn either<T>(
    ours: Option<T>,
    seed: Option<T>,
    seed_name: &'static str,
    our_name: &str,
) -> Result<Option<T>, ApiError> {
    match (ours, seed) {
        (Some(_), Some(_)) => Err(ApiError::invalid_field(
            seed_name,
            format!("give `{our_name}` or `{seed_name}`, not both"),
        )),
        (ours, seed) => Ok(ours.or(seed)),
    }
}

/// The scope set a create or update asks for, `None` when it asks for no change:
/// `scopes` or `permissions` replace `current`, then `excludePermissions` removes.
pub fn requested_scopes(
    current: ScopeSet,
    scopes: Option<ScopeSet>,
    permissions: Option<&[String]>,
    exclude: Option<&[String]>,
) -> Result<Option<ScopeSet>, ApiError> {
    let listed = match permissions {
        Some(names) => Some(parse_permissions("permissions", names)?),
        None => None,
    };
    let base = either(scopes, listed, "permissions", "scopes")?;
    let Some(names) = exclude else {
        return Ok(base);
    };
    let mut set = base.unwrap_or(current);
    for scope in parse_permissions("excludePermissions", names)?.iter() {
        set.remove(scope);
    }
    Ok(Some(set))
}

fn parse_permissions(field: &'static str, names: &[String]) -> Result<ScopeSet, ApiError> {
    names
        .iter()
        .map(|n| {
            Scope::from_permission(n).map_err(|e| ApiError::invalid_field(field, e.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn set(list: &[Scope]) -> ScopeSet {
        list.iter().copied().collect()
    }

    #[test]
    fn environments_are_case_insensitive_in_both_spellings() {
        for (text, env) in [
            ("Production", KeyEnv::Live),
            ("LIVE", KeyEnv::Live),
            ("staging", KeyEnv::Stg),
            ("Stg", KeyEnv::Stg),
            ("Development", KeyEnv::Dev),
            ("dev", KeyEnv::Dev),
        ] {
            assert_eq!(EnvName::parse(text), Some(EnvName(env)), "{text}");
        }
        assert_eq!(EnvName::parse("prod"), None);
        let err = serde_json::from_str::<EnvName>(r#""qa""#).unwrap_err();
        assert!(err.to_string().contains("`qa`"), "{err}");
    }

    #[test]
    fn burst_defaults_to_requests() {
        let r: RateLimitBody =
            serde_json::from_str(r#"{"requests":60,"period":"minute"}"#).unwrap();
        assert_eq!(
            Quota::from(r),
            Quota {
                requests: 60,
                period: Period::Minute,
                burst: 60
            }
        );
        let r: RateLimitBody =
            serde_json::from_str(r#"{"requests":60,"period":"minute","burst":5}"#).unwrap();
        assert_eq!(Quota::from(r).burst, 5);
    }

    #[test]
    fn permissions_replace_and_exclusions_remove() {
        let current = ScopeSet::default_for_api_key();
        let perms = names(&["chat_completions", "embeddings", "analytics"]);
        let got = requested_scopes(current, None, Some(&perms), Some(&names(&["analytics"])));
        assert_eq!(got.unwrap(), Some(set(&[Scope::Chat, Scope::Embeddings])));
        // Exclusions alone start from what the key has.
        let got = requested_scopes(current, None, None, Some(&names(&["images", "audio"])));
        let mut expected = current;
        expected.remove(Scope::Images);
        expected.remove(Scope::Audio);
        assert_eq!(got.unwrap(), Some(expected));
        assert_eq!(requested_scopes(current, None, None, None).unwrap(), None);
    }

    #[test]
    fn unknown_permissions_and_double_spellings_name_the_field() {
        let current = ScopeSet::default_for_api_key();
        let field = |r: Result<Option<ScopeSet>, ApiError>| {
            let e = r.unwrap_err();
            let parts = e.parts();
            assert_eq!(parts.code, "invalid_field");
            (parts.param.unwrap().into_owned(), parts.message)
        };
        let (param, message) = field(requested_scopes(
            current,
            None,
            Some(&names(&["chat", "teleport"])),
            None,
        ));
        assert_eq!(param, "permissions");
        assert!(message.contains("`teleport`"), "{message}");
        let (param, _) = field(requested_scopes(current, None, None, Some(&names(&["x"]))));
        assert_eq!(param, "excludePermissions");
        let (param, _) = field(requested_scopes(
            current,
            Some(set(&[Scope::Chat])),
            Some(&names(&["chat_completions"])),
            None,
        ));
        assert_eq!(param, "permissions");
    }
}
