//! Scopes: which endpoint families a key may call. The names are a contract
//! (DESIGN §1.4); they are parsed once into a bit set so a check is one AND.
//!
//! `admin:global` lets a management key owned by an account administer every
//! account (a management key of the operator's `default` account has that reach
//! without it). The Bastio seed's permission names map onto these scopes through
//! [`Scope::from_permission`], so its key JSON is accepted beside ours.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Chat,
    Completions,
    Embeddings,
    Images,
    Audio,
    Connections,
    Email,
    Analytics,
    Admin,
    /// A management key's reach over every account, not only its own.
    AdminGlobal,
}

impl Scope {
    pub const ALL: [Scope; 10] = [
        Scope::Chat,
        Scope::Completions,
        Scope::Embeddings,
        Scope::Images,
        Scope::Audio,
        Scope::Connections,
        Scope::Email,
        Scope::Analytics,
        Scope::Admin,
        Scope::AdminGlobal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Chat => "chat",
            Scope::Completions => "completions",
            Scope::Embeddings => "embeddings",
            Scope::Images => "images",
            Scope::Audio => "audio",
            Scope::Connections => "connections",
            Scope::Email => "email",
            Scope::Analytics => "analytics",
            Scope::Admin => "admin",
            Scope::AdminGlobal => "admin:global",
        }
    }

    /// A permission name of the Bastio seed's key JSON (`chat_completions`, …);
    /// our own scope names are accepted too.
    pub fn from_permission(name: &str) -> Result<Scope, UnknownPermission> {
        match name {
            "chat_completions" => Ok(Scope::Chat),
            other => other
                .parse()
                .map_err(|_| UnknownPermission(other.to_owned())),
        }
    }

    /// Scopes only a management key (kind `mk`) may hold.
    pub fn is_management(self) -> bool {
        matches!(self, Scope::Admin | Scope::AdminGlobal)
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl std::str::FromStr for Scope {
    type Err = UnknownScope;
    fn from_str(s: &str) -> Result<Self, UnknownScope> {
        Scope::ALL
            .into_iter()
            .find(|sc| sc.as_str() == s)
            .ok_or_else(|| UnknownScope(s.to_owned()))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown scope `{0}`; scopes are chat, completions, embeddings, images, audio, connections, email, analytics, admin, admin:global"
)]
pub struct UnknownScope(pub String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown permission `{0}`; permissions are chat_completions, completions, embeddings, images, audio, analytics, admin (or our scope names)"
)]
pub struct UnknownPermission(pub String);

/// A set of scopes; serialized as a sorted list of names.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct ScopeSet(u16);

impl ScopeSet {
    /// What a new API key gets unless told otherwise: every gateway scope, but
    /// neither reading analytics nor administering.
    pub fn default_for_api_key() -> Self {
        Scope::ALL
            .into_iter()
            .filter(|s| !s.is_management() && *s != Scope::Analytics)
            .collect()
    }

    /// What a new management key gets.
    pub fn default_for_management_key() -> Self {
        [Scope::Admin, Scope::Analytics].into_iter().collect()
    }

    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    pub fn insert(&mut self, scope: Scope) {
        self.0 |= scope.bit();
    }

    pub fn remove(&mut self, scope: Scope) {
        self.0 &= !scope.bit();
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.contains(*s))
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        ScopeSet(iter.into_iter().fold(0, |acc, s| acc | s.bit()))
    }
}

impl fmt::Debug for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(Scope::as_str))
            .finish()
    }
}

impl Serialize for ScopeSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter().map(Scope::as_str))
    }
}

impl<'de> Deserialize<'de> for ScopeSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(d)?;
        names
            .iter()
            .map(|n| n.parse::<Scope>())
            .collect::<Result<ScopeSet, _>>()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_contract() {
        let api = ScopeSet::default_for_api_key();
        assert!(api.contains(Scope::Chat) && api.contains(Scope::Email));
        assert!(!api.contains(Scope::Admin) && !api.contains(Scope::Analytics));
        let mk = ScopeSet::default_for_management_key();
        assert!(mk.contains(Scope::Admin) && !mk.contains(Scope::Chat));
        // Reach over every account is never a default.
        assert!(!api.contains(Scope::AdminGlobal) && !mk.contains(Scope::AdminGlobal));
    }

    #[test]
    fn seed_permissions_map_to_scopes() {
        let cases = [
            ("chat_completions", Scope::Chat),
            ("completions", Scope::Completions),
            ("embeddings", Scope::Embeddings),
            ("images", Scope::Images),
            ("audio", Scope::Audio),
            ("analytics", Scope::Analytics),
            ("admin", Scope::Admin),
        ];
        for (name, scope) in cases {
            assert_eq!(Scope::from_permission(name), Ok(scope), "{name}");
        }
        let err = Scope::from_permission("chat-completions").unwrap_err();
        assert!(err.to_string().contains("`chat-completions`"), "{err}");
    }

    #[test]
    fn admin_global_round_trips_by_name() {
        let set: ScopeSet = serde_json::from_str(r#"["admin:global","admin"]"#).unwrap();
        assert!(set.contains(Scope::AdminGlobal));
        assert_eq!(
            serde_json::to_string(&set).unwrap(),
            r#"["admin","admin:global"]"#
        );
    }

    #[test]
    fn serde_round_trips_names_and_rejects_unknown() {
        let set: ScopeSet = serde_json::from_str(r#"["embeddings","chat"]"#).unwrap();
        assert_eq!(
            serde_json::to_string(&set).unwrap(),
            r#"["chat","embeddings"]"#
        );
        let err = serde_json::from_str::<ScopeSet>(r#"["chat","root"]"#).unwrap_err();
        assert!(err.to_string().contains("unknown scope `root`"));
    }
}
