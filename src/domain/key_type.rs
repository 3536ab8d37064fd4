//! Key types (DESIGN §4): the billing category of a key, which decides its
//! default markup.

use std::fmt;
use std::str::FromStr;

/// Key types (DESIGN §4) and their markups in basis points (1 % = 100 bp).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyType {
    /// A person's own key: 50 % markup by default.
    User,
    /// A project key: the admin sets the markup per key; 0 until then.
    Project,
    /// A partner's project key, billed in USD: 50 %.
    PartnerProject,
    /// A key a partner hands to its customer: 30 %.
    PartnerCustomer,
}

impl KeyType {
    pub const ALL: [KeyType; 4] = [
        KeyType::User,
        KeyType::Project,
        KeyType::PartnerProject,
        KeyType::PartnerCustomer,
    ];

    /// The markup a new key of this type gets, in basis points.
    pub fn default_markup_bps(self) -> u32 {
        match self {
            KeyType::User => 5_000,
            KeyType::Project => 0,
            KeyType::PartnerProject => 5_000,
            KeyType::PartnerCustomer => 3_000,
        }
    }

    /// The wire and storage name; the same as the serde name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::User => "user",
            KeyType::Project => "project",
            KeyType::PartnerProject => "partner_project",
            KeyType::PartnerCustomer => "partner_customer",
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyType {
    type Err = UnknownKeyType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KeyType::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownKeyType(s.to_owned()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown key type `{0}`; use one of user, project, partner_project, partner_customer")]
pub struct UnknownKeyType(pub String);
