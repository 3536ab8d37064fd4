//! Text values for the batch INSERTs, shared within a statement.
//!
//! sqlx 0.9 copies every bound `&str` or `String` into a new `Arc<String>` (two
//! allocations and a copy per value), while an `Arc<str>` it binds by reference
//! count. Most text columns of a usage row repeat across a batch (account, key,
//! route, provider, models, currency; the empty user, error, session and app
//! version), so each column keeps the few values it has seen in the statement and
//! binds a clone of the same `Arc<str>`. Values that never repeat (request ids,
//! most client addresses) cost one allocation instead of two.
//!
//! A column's list is searched linearly and capped at [`DISTINCT_MAX`]: past that
//! (a column of unique values), a value is allocated without being kept, so a
//! lookup never costs more than a few short comparisons.

use std::sync::Arc;

/// Most distinct values a column remembers per statement.
const DISTINCT_MAX: usize = 8;

/// One column's values seen so far in the statement.
#[derive(Default)]
pub(super) struct Column<'e> {
    seen: Vec<(&'e str, Arc<str>)>,
}

impl<'e> Column<'e> {
    /// `value` as a shared `Arc<str>`: a clone of the one made before for an equal
    /// value, else a new one.
    pub(super) fn get(&mut self, value: &'e str) -> Arc<str> {
        if let Some((_, shared)) = self.seen.iter().find(|(v, _)| *v == value) {
            return shared.clone();
        }
        let shared: Arc<str> = Arc::from(value);
        if self.seen.len() < DISTINCT_MAX {
            self.seen.push((value, shared.clone()));
        }
        shared
    }

    /// Like [`Column::get`], but `None` (bound as NULL) for the empty string.
    pub(super) fn get_or_null(&mut self, value: &'e str) -> Option<Arc<str>> {
        (!value.is_empty()).then(|| self.get(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_share_one_allocation_and_unique_ones_are_not_kept() {
        let mut col = Column::default();
        let owned = [String::from("acme"), String::from("acme")];
        let a = col.get(&owned[0]);
        let b = col.get(&owned[1]);
        assert!(Arc::ptr_eq(&a, &b), "equal text, one Arc");
        assert_eq!(&*a, "acme");
        let many: Vec<String> = (0..20).map(|i| format!("req-{i}")).collect();
        for v in &many {
            assert_eq!(&*col.get(v), v.as_str());
        }
        assert_eq!(col.seen.len(), DISTINCT_MAX);
        assert!(
            Arc::ptr_eq(&col.get("acme"), &a),
            "kept values still shared"
        );
    }
}
