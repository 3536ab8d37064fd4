//! Test-only proptest strategies for JSON as a buggy peer sends it, shared by every
//! provider's fuzz tests: any value a few levels deep, and fields that are usually
//! right but now and then any value or absent. Each provider brings the vocabulary
//! its translators look at, so random values reach deep code paths.

use proptest::prelude::*;
use proptest::strategy::Union;
use serde_json::{Map, Value};

/// Random JSON over one provider's vocabulary.
#[derive(Clone, Copy)]
pub(super) struct JsonFuzz {
    /// Keys and strings the translators look at, whitespace-separated (the empty
    /// and blank strings are added in [`JsonFuzz::word`]).
    pub words: &'static str,
    /// Also draw small integers (0–3), so indexes and counts hit real positions.
    pub small_integers: bool,
}

impl JsonFuzz {
    pub fn word(self) -> BoxedStrategy<String> {
        prop_oneof![
            3 => proptest::sample::select(
                self.words.split_whitespace().chain(["", " "]).collect::<Vec<_>>()
            )
            .prop_map(str::to_owned),
            1 => "\\PC{0,6}",
        ]
        .boxed()
    }

    fn leaf(self) -> BoxedStrategy<Value> {
        let mut leaves = vec![
            Just(Value::Null).boxed(),
            any::<bool>().prop_map(Value::from).boxed(),
            any::<i64>().prop_map(Value::from).boxed(),
        ];
        if self.small_integers {
            leaves.push((0u64..4).prop_map(Value::from).boxed());
        }
        leaves.extend([
            any::<u64>().prop_map(Value::from).boxed(),
            (-1e6f64..1e6).prop_map(Value::from).boxed(),
            self.word().prop_map(Value::from).boxed(),
        ]);
        Union::new(leaves).boxed()
    }

    /// Any JSON value, a few levels deep.
    pub fn value(self) -> BoxedStrategy<Value> {
        let word = self.word();
        self.leaf()
            .prop_recursive(4, 64, 6, move |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                    proptest::collection::vec((word.clone(), inner), 0..6)
                        .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
                ]
            })
            .boxed()
    }

    /// Usually `good`, now and then any value or absent: a field as a buggy peer
    /// sends it.
    pub fn fuzzy(
        self,
        good: impl Strategy<Value = Value> + 'static,
    ) -> BoxedStrategy<Option<Value>> {
        prop_oneof![
            30 => good.prop_map(Some),
            1 => self.value().prop_map(Some),
            1 => Just(None),
        ]
        .boxed()
    }
}

/// One of `words`, as a JSON string.
pub(super) fn pick(words: &'static [&'static str]) -> BoxedStrategy<Value> {
    proptest::sample::select(words)
        .prop_map(Value::from)
        .boxed()
}

/// An object of the given fields, absent ones left out.
pub(super) fn object(fields: Vec<(&'static str, Option<Value>)>) -> Value {
    Value::Object(
        fields
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_owned(), v?)))
            .collect(),
    )
}
