//! `KeyPolicy`: everything a platform team sets on a key besides its identity —
//! scopes, rate limit, concurrency cap, IP allowlist, allowed models and providers.
//!
//! Stored as one JSON document with the key and deserialized straight into the
//! types the hot path checks against (a scope bit set, parsed CIDRs), so a cached
//! key needs no further parsing per request.

use serde::{Deserialize, Serialize};

use super::{KeyKind, Scope, ScopeSet};
use crate::domain::KeyType;
use crate::domain::ProviderKind;
use crate::domain::gcra::Quota;
use crate::domain::ip_allowlist::IpAllowlist;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyPolicy {
    pub scopes: ScopeSet,
    #[serde(default)]
    pub rate_limit: Option<Quota>,
    /// Most requests (streams included) in flight at once; none means no cap.
    #[serde(default)]
    pub max_concurrency: Option<u32>,
    /// Empty means any address.
    #[serde(default)]
    pub ip_allowlist: IpAllowlist,
    /// Model ids this key may use (as requested or as the catalog knows them;
    /// `provider/*` allows a whole provider). Empty means any model.
    #[serde(default)]
    pub allowed_models: Vec<String>,
    /// Empty means any provider.
    #[serde(default)]
    pub allowed_providers: Vec<ProviderKind>,
    /// Billing category (DESIGN §4); decides the default markup.
    #[serde(default = "default_key_type")]
    pub key_type: KeyType,
    /// Markup on provider cost in basis points (5000 = 50 %); none: the key type's.
    #[serde(default)]
    pub markup_bps: Option<u32>,
}

fn default_key_type() -> KeyType {
    KeyType::Project
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("the `admin` and `admin:global` scopes are only for management keys (kind mk)")]
    AdminScopeOnApiKey,
    #[error("{0}")]
    Quota(String),
    #[error("max_concurrency must be at least 1 (omit it for no cap)")]
    ZeroConcurrency,
    #[error("markup_bps must be at most 100000 (1000 %)")]
    MarkupTooHigh,
}

impl KeyPolicy {
    /// The policy a new key of `kind` gets when nothing is specified.
    pub fn default_for(kind: KeyKind) -> Self {
        KeyPolicy {
            scopes: match kind {
                KeyKind::Sk => ScopeSet::default_for_api_key(),
                KeyKind::Mk => ScopeSet::default_for_management_key(),
            },
            rate_limit: None,
            max_concurrency: None,
            ip_allowlist: IpAllowlist::default(),
            allowed_models: Vec::new(),
            allowed_providers: Vec::new(),
            key_type: KeyType::Project,
            markup_bps: None,
        }
    }

    /// The markup charged on this key's provider cost, in basis points.
    pub fn markup_bps(&self) -> u32 {
        self.markup_bps
            .unwrap_or_else(|| self.key_type.default_markup_bps())
    }

    /// Checks the rules that span fields or depend on the key's kind.
    pub fn validate(&self, kind: KeyKind) -> Result<(), PolicyError> {
        if kind == KeyKind::Sk && self.scopes.iter().any(Scope::is_management) {
            return Err(PolicyError::AdminScopeOnApiKey);
        }
        if let Some(q) = &self.rate_limit {
            q.validate()
                .map_err(|e| PolicyError::Quota(e.to_string()))?;
        }
        if self.max_concurrency == Some(0) {
            return Err(PolicyError::ZeroConcurrency);
        }
        if self.markup_bps.is_some_and(|m| m > 100_000) {
            return Err(PolicyError::MarkupTooHigh);
        }
        Ok(())
    }

    /// Whether the key may use a model: `requested` is what the caller sent,
    /// `served` the catalog id it resolved to, `provider` who serves it.
    pub fn allows_model(&self, requested: &str, served: &str, provider: ProviderKind) -> bool {
        if !self.allowed_providers.is_empty() && !self.allowed_providers.contains(&provider) {
            return false;
        }
        self.allowed_models.is_empty()
            || model_listed(&self.allowed_models, requested, served, provider)
    }
}

/// Whether `list` names the model: by the id asked for or served, as
/// `provider/id`, `provider/*`, or `*`.
pub fn model_listed(
    list: &[String],
    requested: &str,
    served: &str,
    provider: ProviderKind,
) -> bool {
    list.iter().any(|m| {
        m == requested
            || m == served
            || m == "*"
            || m.strip_suffix("/*") == Some(provider.as_str())
            || m.split_once('/')
                .is_some_and(|(p, id)| p == provider.as_str() && id == served)
    })
}

impl KeyPolicy {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_json_round_trips() {
        let json = r#"{"scopes":["chat"],"rate_limit":{"requests":10,"period":"minute","burst":5},
            "max_concurrency":2,"ip_allowlist":["10.0.0.0/8","2001:db8::1"],
            "allowed_models":["gpt-4o-mini"],"allowed_providers":["openai"]}"#;
        let p: KeyPolicy = serde_json::from_str(json).unwrap();
        let again: KeyPolicy = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(p, again);
        assert!(p.validate(KeyKind::Sk).is_ok());
    }

    #[test]
    fn admin_scope_needs_a_management_key() {
        let mut p = KeyPolicy::default_for(KeyKind::Sk);
        p.scopes = [Scope::Admin].into_iter().collect();
        assert_eq!(
            p.validate(KeyKind::Sk),
            Err(PolicyError::AdminScopeOnApiKey)
        );
        assert!(p.validate(KeyKind::Mk).is_ok());
        p.scopes = [Scope::Chat, Scope::AdminGlobal].into_iter().collect();
        assert_eq!(
            p.validate(KeyKind::Sk),
            Err(PolicyError::AdminScopeOnApiKey)
        );
    }

    #[test]
    fn model_allowlist_matches_requested_served_and_provider_wildcards() {
        let mut p = KeyPolicy::default_for(KeyKind::Sk);
        assert!(p.allows_model("anything", "anything", ProviderKind::Gemini));
        p.allowed_models = vec![
            "tollgate-chat-fast".into(),
            "anthropic/*".into(),
            "openai/gpt-4o".into(),
        ];
        assert!(p.allows_model("tollgate-chat-fast", "gpt-4o-mini", ProviderKind::OpenAi));
        assert!(p.allows_model(
            "claude-haiku-4-5",
            "claude-haiku-4-5",
            ProviderKind::Anthropic
        ));
        assert!(p.allows_model("gpt-4o", "gpt-4o", ProviderKind::OpenAi));
        assert!(!p.allows_model("gpt-4o-mini", "gpt-4o-mini", ProviderKind::OpenAi));
        p.allowed_models.clear();
        p.allowed_providers = vec![ProviderKind::OpenAi];
        assert!(!p.allows_model(
            "claude-haiku-4-5",
            "claude-haiku-4-5",
            ProviderKind::Anthropic
        ));
    }
}
