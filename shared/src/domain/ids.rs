use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

use crate::ports::Random;

/// An id given to a caller in a path or a credential was not one we could have issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a valid id: expected a UUID")]
pub struct InvalidId;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh random (version 4) id.
            pub fn generate(random: &dyn Random) -> Self {
                Self(random.uuid())
            }

            /// The id as a UUID.
            pub fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        /// Only the canonical lowercase hyphenated form is accepted, so that one id has one
        /// spelling in paths, credentials and store keys.
        impl FromStr for $name {
            type Err = InvalidId;

            fn from_str(s: &str) -> Result<Self, InvalidId> {
                let uuid = Uuid::try_parse(s).map_err(|_| InvalidId)?;
                let canonical = uuid.hyphenated().to_string();
                if canonical == s { Ok(Self(uuid)) } else { Err(InvalidId) }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        /// Through [`FromStr`], so that only the canonical spelling deserializes.
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

uuid_id! {
    /// A tenant: the unit of isolation. Apps, keys and tokens of one tenant are invisible to
    /// every other.
    TenantId
}

uuid_id! {
    /// The public half of an app's credentials, App ID's `clientId`.
    ClientId
}

uuid_id! {
    /// A role of a tenant.
    RoleId
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_the_canonical_uuid_spelling() {
        let id = "3f1c6c1e-8a2b-4c7d-9e0f-112233445566";
        assert_eq!(
            id.parse::<TenantId>().map(|t| t.to_string()),
            Ok(id.to_owned())
        );
        assert_eq!(id.to_uppercase().parse::<TenantId>(), Err(InvalidId));
        assert_eq!(
            "3f1c6c1e8a2b4c7d9e0f112233445566".parse::<ClientId>(),
            Err(InvalidId)
        );
        assert_eq!("tenants".parse::<TenantId>(), Err(InvalidId));
        assert_eq!("".parse::<ClientId>(), Err(InvalidId));
    }
}
