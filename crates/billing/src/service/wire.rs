//! Serde helpers for request bodies that the older billing system's scripts send: ids
//! quoted as strings (`"plan_id": "1"`), which that system's UUID ids taught them.

use serde::de::{self, Deserializer, Visitor};

struct IdVisitor;

impl Visitor<'_> for IdVisitor {
    type Value = i64;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an id: a whole number, or one in quotes")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::custom("the id is too large"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
        // Only plain digits: "1.0", " 1" or "1e3" are not ids anyone read from our answers.
        if v.is_empty() || v.len() > 18 || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(E::custom(format!("'{v}' is not an id (a whole number)")));
        }
        v.parse().map_err(|_| E::custom("the id is too large"))
    }
}

/// An id given as a number or as a string of digits.
pub fn id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    deserializer.deserialize_any(IdVisitor)
}

/// An optional id given as a number, a string of digits, or `null`.
pub fn opt_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    struct OptVisitor;
    impl<'de> Visitor<'de> for OptVisitor {
        type Value = Option<i64>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an id: a whole number, or one in quotes")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            id(d).map(Some)
        }
    }
    deserializer.deserialize_option(OptVisitor)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Body {
        #[serde(deserialize_with = "super::id")]
        a: i64,
        #[serde(default, deserialize_with = "super::opt_id")]
        b: Option<i64>,
    }

    fn parse(json: &str) -> Result<Body, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn ids_may_be_quoted() -> Result<(), serde_json::Error> {
        let b = parse(r#"{"a": "12", "b": "7"}"#)?;
        assert_eq!((b.a, b.b), (12, Some(7)));
        let b = parse(r#"{"a": 12, "b": null}"#)?;
        assert_eq!((b.a, b.b), (12, None));
        assert_eq!(parse(r#"{"a": 3}"#)?.b, None);
        Ok(())
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            r#""1.0""#, r#""""#, r#"" 1""#, "1.5", "true", r#""-1""#, r#""abc""#,
        ] {
            assert!(parse(&format!(r#"{{"a": {bad}}}"#)).is_err(), "{bad}");
        }
    }
}
