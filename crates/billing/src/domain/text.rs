//! Bounded free-text fields (names, descriptions) shared by several aggregates.

use super::Invalid;

/// Trims `raw` and checks it is between `min` and `max` characters with no control characters.
pub fn bounded(field: &'static str, raw: &str, min: usize, max: usize) -> Result<String, Invalid> {
    let value = raw.trim();
    let len = value.chars().count();
    if len < min {
        return Err(if min == 1 {
            Invalid::new(field, "must not be empty")
        } else {
            Invalid::new(field, format!("must be at least {min} characters"))
        });
    }
    if len > max {
        return Err(Invalid::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(Invalid::new(field, "must not contain control characters"));
    }
    Ok(value.to_owned())
}

/// Like [`bounded`] for optional fields: an empty or blank value becomes `None`.
pub fn optional(
    field: &'static str,
    raw: Option<&str>,
    max: usize,
) -> Result<Option<String>, Invalid> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(value) => bounded(field, value, 1, max).map(Some),
    }
}

/// `value` as one CSV field: quoted (inner quotes doubled) when it holds a comma, a
/// quote or a line break.
pub fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_when_they_must_be() {
        assert_eq!(csv_field("VAT"), "VAT");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn trims_and_bounds() {
        assert_eq!(bounded("name", "  Ada  ", 1, 10), Ok("Ada".into()));
        assert!(bounded("name", "   ", 1, 10).is_err());
        assert!(bounded("name", &"x".repeat(11), 1, 10).is_err());
        assert!(bounded("name", "a\u{0}b", 1, 10).is_err());
        assert_eq!(optional("phone", Some("  "), 5), Ok(None));
        assert_eq!(optional("phone", None, 5), Ok(None));
        assert!(optional("phone", Some("123456"), 5).is_err());
    }
}
