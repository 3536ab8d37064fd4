//! [`MapOnly`]: a derived `Deserialize` struct read only from a JSON object.
//!
//! serde's derived `Deserialize` for a struct also accepts a sequence and reads the
//! fields by position (`["msg_1", …]` as a message). The `Value` translators refuse
//! anything but an object there, and a typed fast path must fail exactly where they
//! do, so the `Value` path can name the error. Wrapping the struct turns its
//! `deserialize_struct` request into `deserialize_map`, which serde_json refuses for
//! anything but `{`. Nothing else changes: the map access is serde_json's own, so
//! borrowed strings and `&RawValue` fields work as before.

use serde::de::{Deserialize, Deserializer, Visitor};

/// `T`, deserialized from a JSON object only.
pub(crate) struct MapOnly<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for MapOnly<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(StructAsMap(d)).map(MapOnly)
    }
}

/// A deserializer that asks for a map where a struct is asked for.
struct StructAsMap<D>(D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for StructAsMap<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_any(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
        byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
        identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Pair {
        a: u8,
        #[serde(default)]
        b: u8,
    }

    #[test]
    fn objects_read_and_arrays_do_not() {
        let MapOnly(pair) = serde_json::from_str::<MapOnly<Pair>>(r#"{"b":2,"a":1}"#).unwrap();
        assert_eq!(pair, Pair { a: 1, b: 2 });
        // The derived impl alone reads the array by position.
        assert!(serde_json::from_str::<Pair>("[1,2]").is_ok());
        assert!(serde_json::from_str::<MapOnly<Pair>>("[1,2]").is_err());
        assert!(serde_json::from_str::<MapOnly<Pair>>("[]").is_err());
    }
}
