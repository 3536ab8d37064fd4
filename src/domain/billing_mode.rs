//! How an account pays: prepaid (balance checked before a request) or postpaid.

/// How an account pays (DESIGN §4). Prepaid accounts are refused once their balance
/// cannot cover a request; postpaid accounts run a negative balance that is invoiced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BillingMode {
    Prepaid,
    Postpaid,
}

impl BillingMode {
    pub fn as_str(self) -> &'static str {
        match self {
            BillingMode::Prepaid => "prepaid",
            BillingMode::Postpaid => "postpaid",
        }
    }
}

impl std::str::FromStr for BillingMode {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "prepaid" => Ok(BillingMode::Prepaid),
            "postpaid" => Ok(BillingMode::Postpaid),
            _ => Err(()),
        }
    }
}
