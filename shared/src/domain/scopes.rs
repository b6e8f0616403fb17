use std::fmt;

/// Why a scope or a scope list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidScope {
    #[error("scope {0:?} must be 1 to 49 lowercase letters, digits, '.' or '_'")]
    Shape(String),
    #[error("scope {0:?} must not start with appid or openid, which are reserved")]
    Reserved(String),
    #[error("scope {0:?} is listed twice")]
    Duplicate(String),
    #[error("at most {max} scopes are allowed", max = Scope::MAX_PER_LIST)]
    TooMany,
}

/// A scope an app defines as an API: App ID's rules, lowercase alphanumerics, `.` and `_`, under
/// 50 characters, not starting with the reserved `appid` or `openid`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope(String);

impl Scope {
    pub const MAX_CHARS: usize = 49;
    /// App ID's limit of scopes per app, also used for the scopes of one role entry.
    pub const MAX_PER_LIST: usize = 50;

    pub fn parse(raw: &str) -> Result<Self, InvalidScope> {
        let allowed =
            |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '_';
        if raw.is_empty() || raw.len() > Self::MAX_CHARS || !raw.chars().all(allowed) {
            return Err(InvalidScope::Shape(shown(raw)));
        }
        if raw.starts_with("appid") || raw.starts_with("openid") {
            return Err(InvalidScope::Reserved(raw.to_owned()));
        }
        Ok(Self(raw.to_owned()))
    }

    /// A list of at most 50 distinct scopes, in the order given.
    pub fn parse_list<'a>(
        raw: impl IntoIterator<Item = &'a str>,
    ) -> Result<Vec<Self>, InvalidScope> {
        let mut scopes: Vec<Self> = Vec::new();
        for item in raw {
            let scope = Self::parse(item)?;
            if scopes.contains(&scope) {
                return Err(InvalidScope::Duplicate(scope.0));
            }
            scopes.push(scope);
            if scopes.len() > Self::MAX_PER_LIST {
                return Err(InvalidScope::TooMany);
            }
        }
        Ok(scopes)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A refused value is echoed in an error, so it is cut short and stripped of control characters.
fn shown(raw: &str) -> String {
    raw.chars().filter(|c| !c.is_control()).take(60).collect()
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl serde::Serialize for Scope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_app_ids_scope_rules() {
        for ok in ["read", "billing.write", "a_b.c9", &"x".repeat(49)] {
            assert!(Scope::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Read", "with space", "dash-ed", "ü", &"x".repeat(50)] {
            assert!(
                matches!(Scope::parse(bad), Err(InvalidScope::Shape(_))),
                "{bad}"
            );
        }
        for reserved in ["appid", "appid.read", "openid", "openidx"] {
            assert!(
                matches!(Scope::parse(reserved), Err(InvalidScope::Reserved(_))),
                "{reserved}"
            );
        }
    }

    #[test]
    fn lists_hold_at_most_fifty_distinct_scopes() {
        let fifty: Vec<String> = (0..50).map(|i| format!("s{i}")).collect();
        assert_eq!(
            Scope::parse_list(fifty.iter().map(String::as_str)).map(|l| l.len()),
            Ok(50)
        );
        let fifty_one: Vec<String> = (0..51).map(|i| format!("s{i}")).collect();
        assert_eq!(
            Scope::parse_list(fifty_one.iter().map(String::as_str)),
            Err(InvalidScope::TooMany)
        );
        assert_eq!(
            Scope::parse_list(["a", "b", "a"]),
            Err(InvalidScope::Duplicate("a".into()))
        );
    }
}
