use std::fmt;

/// Why a name was refused; each variant is a message a caller can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidName {
    #[error("name must not be empty")]
    Empty,
    #[error("name must be at most {max} characters", max = Name::MAX_CHARS)]
    TooLong,
    #[error("name must not contain control characters or bidirectional controls")]
    ControlCharacter,
    #[error("name must not start or end with whitespace")]
    Padded,
}

/// A display name of a tenant or an app: 1 to 50 characters (App ID's limit), no control
/// characters, no leading or trailing whitespace.
#[derive(Clone, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    /// App ID accepts application names of at most 50 characters.
    pub const MAX_CHARS: usize = 50;

    pub fn parse(raw: &str) -> Result<Self, InvalidName> {
        if raw.is_empty() {
            return Err(InvalidName::Empty);
        }
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(InvalidName::TooLong);
        }
        if raw.chars().any(|c| c.is_control() || is_bidi_control(c)) {
            return Err(InvalidName::ControlCharacter);
        }
        if raw.trim() != raw {
            return Err(InvalidName::Padded);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The Unicode bidirectional controls (embeddings, overrides, isolates, marks): invisible
/// characters that make a name display as another.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl serde::Serialize for Name {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_one_to_fifty_characters_counted_as_characters_not_bytes() {
        assert!(Name::parse("a").is_ok());
        assert!(Name::parse(&"é".repeat(50)).is_ok());
        assert_eq!(Name::parse(&"x".repeat(51)), Err(InvalidName::TooLong));
        assert_eq!(Name::parse(""), Err(InvalidName::Empty));
    }

    #[test]
    fn refuses_control_characters_and_padding() {
        assert_eq!(Name::parse("a\u{0}b"), Err(InvalidName::ControlCharacter));
        assert_eq!(
            Name::parse("line\nbreak"),
            Err(InvalidName::ControlCharacter)
        );
        assert_eq!(Name::parse(" padded"), Err(InvalidName::Padded));
        assert_eq!(Name::parse("   "), Err(InvalidName::Padded));
        assert_eq!(
            Name::parse("invoice\u{202E}fdp.exe"),
            Err(InvalidName::ControlCharacter),
            "a right-to-left override"
        );
        assert!(Name::parse("Billing API (prod)").is_ok());
        assert!(
            Name::parse("מערכת חיובים").is_ok(),
            "right-to-left text itself is fine"
        );
    }
}
