//! `[billing] unpriced`: what a prepaid account may do with a model that has no
//! price (one forwarded through the open catalog, or a `[[models]]` entry without
//! prices is still priced at 0 and is not this).

use serde::{Deserialize, Serialize};

/// `"refuse"` (default): a prepaid account calling an unpriced model gets 402;
/// `"allow"`: the call runs, metered with its tokens and an unknown cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnpricedPolicy {
    #[default]
    Refuse,
    Allow,
}
