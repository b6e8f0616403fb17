//! A tenant's signing keys and the rules of their rotation.
//!
//! Every tenant holds a *current* key, which signs its tokens, and a *next* key, published in
//! its key set before it signs anything so that verifiers have it by the time it does. Rotation
//! promotes the next key, puts the previous current key into *retiring*, where it stays
//! published until every token it signed has expired, and creates a new next key. The keys live
//! in the tenant's record, so the token path learns the current key from the read it makes
//! anyway.

use std::fmt;
use std::str::FromStr;

use super::TokenTtl;

/// How long a next key is published before rotation may promote it, unless configured
/// otherwise. A verifier that refreshes its copy of the key set at least this often never meets
/// a token signed by a key it lacks; the key set itself is served with a much shorter cache
/// lifetime.
pub const KEY_PUBLICATION_LEAD_SECONDS: u64 = 3_600;

/// At most this many keys may be retiring at once; a rotation that would exceed it waits until
/// the oldest has retired. It bounds the key set, and so the tenant's record, when rotations
/// come faster than keys retire.
pub const MAX_RETIRING_KEYS: usize = 10;

/// How long a key stays published after it stopped signing: the longest token lifetime, so that
/// every token it signed expires first.
pub const KEY_RETIREMENT_SECONDS: u64 = TokenTtl::MAX as u64;

/// JWS algorithms a tenant's tokens can be signed with (RFC 7518 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 over an RSA-2048 key.
    #[default]
    Rs256,
    /// ECDSA over P-256 with SHA-256, the signature as the fixed-width `r || s` (RFC 7518 §3.4).
    Es256,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported signing algorithm {0:?}: expected RS256 or ES256")]
pub struct UnsupportedAlgorithm(pub String);

impl Algorithm {
    pub const ALL: [Self; 2] = [Self::Rs256, Self::Es256];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
        }
    }
}

impl FromStr for Algorithm {
    type Err = UnsupportedAlgorithm;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|alg| alg.as_str() == raw)
            .ok_or_else(|| UnsupportedAlgorithm(raw.to_owned()))
    }
}

impl serde::Serialize for Algorithm {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the private half of a signing key is kept.
#[derive(Clone, PartialEq, Eq)]
pub enum Custody {
    /// An asymmetric KMS key: every signature is a KMS `Sign` call.
    Kms { key_arn: String },
    /// The PKCS#8 private key, encrypted under a wrapping key with the tenant as context; it is
    /// decrypted once per process and used in memory.
    Wrapped { ciphertext: Vec<u8> },
}

impl fmt::Debug for Custody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Kms { key_arn } => f.debug_struct("Kms").field("key_arn", key_arn).finish(),
            Self::Wrapped { ciphertext } => f
                .debug_struct("Wrapped")
                .field("ciphertext_bytes", &ciphertext.len())
                .finish(),
        }
    }
}

/// Where a key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Published, not yet signing.
    Next,
    /// Signs the tenant's tokens.
    Current,
    /// No longer signing; published until `until` (seconds since the Unix epoch).
    Retiring { until: u64 },
}

/// One of a tenant's signing keys. Its `kid` is the RFC 7638 thumbprint of its public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKey {
    pub kid: String,
    pub algorithm: Algorithm,
    /// The public key as DER SubjectPublicKeyInfo.
    pub public_der: Vec<u8>,
    pub custody: Custody,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
    pub state: KeyState,
}

impl SigningKey {
    /// Whether verifiers should find the key in the tenant's key set at `now`.
    pub fn is_published(&self, now: u64) -> bool {
        match self.state {
            KeyState::Next | KeyState::Current => true,
            KeyState::Retiring { until } => now < until,
        }
    }
}

/// A tenant's keys: exactly one current and one next key, and the retiring ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySet {
    keys: Vec<SigningKey>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeySetError {
    #[error("a key set needs exactly one current and one next key")]
    Malformed,
    /// Promoting the next key now could hand verifiers a token whose key they have not seen.
    #[error(
        "the next key was published at {published_at}; it may sign from {ready_at} on, once \
         verifiers have had time to fetch it"
    )]
    NextKeyNotReady { published_at: u64, ready_at: u64 },
    #[error(
        "{MAX_RETIRING_KEYS} keys are still published for the tokens they signed; the next \
         rotation may happen from {ready_at} on, when the oldest has retired"
    )]
    TooManyRetiring { ready_at: u64 },
}

impl KeySet {
    /// A new tenant's keys.
    pub fn new(current: SigningKey, next: SigningKey) -> Self {
        Self {
            keys: vec![
                SigningKey {
                    state: KeyState::Current,
                    ..current
                },
                SigningKey {
                    state: KeyState::Next,
                    ..next
                },
            ],
        }
    }

    /// Keys as stored; refused unless they hold exactly one current and one next key.
    pub fn from_keys(keys: Vec<SigningKey>) -> Result<Self, KeySetError> {
        let count = |state: KeyState| keys.iter().filter(|k| k.state == state).count();
        if count(KeyState::Current) != 1 || count(KeyState::Next) != 1 {
            return Err(KeySetError::Malformed);
        }
        Ok(Self { keys })
    }

    pub fn keys(&self) -> &[SigningKey] {
        &self.keys
    }

    pub fn current(&self) -> &SigningKey {
        self.find(KeyState::Current)
    }

    pub fn next(&self) -> &SigningKey {
        self.find(KeyState::Next)
    }

    /// The algorithm of the next key: what the tenant's tokens will be signed with after the
    /// next rotation.
    pub fn next_algorithm(&self) -> Algorithm {
        self.next().algorithm
    }

    /// The keys verifiers should hold at `now`.
    pub fn published(&self, now: u64) -> impl Iterator<Item = &SigningKey> {
        self.keys.iter().filter(move |k| k.is_published(now))
    }

    /// When the next key may be promoted, `lead` seconds after it was published.
    pub fn ready_at(&self, lead: u64) -> u64 {
        self.next().created_at + lead
    }

    /// Whether a rotation may happen at `now`: the next key has been published for `lead`
    /// seconds, and fewer than [`MAX_RETIRING_KEYS`] keys are still retiring.
    pub fn check_rotation(&self, now: u64, lead: u64) -> Result<(), KeySetError> {
        let ready_at = self.ready_at(lead);
        if now < ready_at {
            return Err(KeySetError::NextKeyNotReady {
                published_at: self.next().created_at,
                ready_at,
            });
        }
        let mut retiring: Vec<u64> = self
            .keys
            .iter()
            .filter_map(|k| match k.state {
                KeyState::Retiring { until } if now < until => Some(until),
                _ => None,
            })
            .collect();
        if retiring.len() >= MAX_RETIRING_KEYS {
            retiring.sort_unstable();
            return Err(KeySetError::TooManyRetiring {
                ready_at: retiring[retiring.len() - MAX_RETIRING_KEYS],
            });
        }
        Ok(())
    }

    /// Promotes the next key if it has been published for `lead` seconds, retires the current
    /// one and makes `new_next` the next key. Returns the keys that are no longer published and
    /// were dropped, for their private halves to be destroyed.
    pub fn rotate(
        &mut self,
        new_next: SigningKey,
        now: u64,
        lead: u64,
    ) -> Result<Vec<SigningKey>, KeySetError> {
        self.check_rotation(now, lead)?;
        for key in &mut self.keys {
            key.state = match key.state {
                KeyState::Current => KeyState::Retiring {
                    until: now + KEY_RETIREMENT_SECONDS,
                },
                KeyState::Next => KeyState::Current,
                retiring => retiring,
            };
        }
        let dropped = self.drop_unpublished(now);
        self.keys.push(SigningKey {
            state: KeyState::Next,
            ..new_next
        });
        Ok(dropped)
    }

    /// Replaces the next key, which has signed nothing, with `new_next` (to change the
    /// algorithm the tenant's tokens will be signed with). Returns the keys dropped.
    pub fn replace_next(&mut self, new_next: SigningKey, now: u64) -> Vec<SigningKey> {
        let mut dropped = self.drop_unpublished(now);
        if let Some(at) = self.keys.iter().position(|k| k.state == KeyState::Next) {
            dropped.push(self.keys.remove(at));
        }
        self.keys.push(SigningKey {
            state: KeyState::Next,
            ..new_next
        });
        dropped
    }

    fn drop_unpublished(&mut self, now: u64) -> Vec<SigningKey> {
        let (kept, dropped) = self.keys.drain(..).partition(|k| k.is_published(now));
        self.keys = kept;
        dropped
    }

    fn find(&self, state: KeyState) -> &SigningKey {
        // `new` and `from_keys` admit only sets with one current and one next key, and
        // `rotate` and `replace_next` keep it so.
        self.keys
            .iter()
            .find(|k| k.state == state)
            .expect("a key set holds one current and one next key")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEAD: u64 = KEY_PUBLICATION_LEAD_SECONDS;

    fn key(kid: &str, created_at: u64) -> SigningKey {
        SigningKey {
            kid: kid.into(),
            algorithm: Algorithm::Rs256,
            public_der: Vec::new(),
            custody: Custody::Wrapped {
                ciphertext: Vec::new(),
            },
            created_at,
            state: KeyState::Next,
        }
    }

    fn kids(set: &KeySet, now: u64) -> Vec<&str> {
        set.published(now).map(|k| k.kid.as_str()).collect()
    }

    #[test]
    fn the_next_key_is_published_before_it_signs_and_the_old_one_until_its_tokens_expire() {
        let mut set = KeySet::new(key("a", 0), key("b", 0));
        assert_eq!(set.current().kid, "a");
        assert_eq!(kids(&set, 0), ["a", "b"]);

        let t1 = KEY_PUBLICATION_LEAD_SECONDS;
        let dropped = set.rotate(key("c", t1), t1, LEAD).expect("ready");
        assert!(dropped.is_empty());
        assert_eq!(
            (set.current().kid.as_str(), set.next().kid.as_str()),
            ("b", "c")
        );
        assert_eq!(kids(&set, t1), ["a", "b", "c"]);
        let a_gone = t1 + KEY_RETIREMENT_SECONDS;
        assert_eq!(kids(&set, a_gone - 1), ["a", "b", "c"]);
        assert_eq!(kids(&set, a_gone), ["b", "c"]);

        let dropped = set.rotate(key("d", a_gone), a_gone, LEAD).expect("ready");
        assert_eq!(
            dropped.iter().map(|k| &k.kid[..]).collect::<Vec<_>>(),
            ["a"]
        );
        assert_eq!(kids(&set, a_gone), ["b", "c", "d"]);
        assert_eq!(set.current().kid, "c");
    }

    #[test]
    fn rotation_waits_until_the_next_key_has_been_published_long_enough() {
        let mut set = KeySet::new(key("a", 100), key("b", 100));
        let error = set
            .rotate(key("c", 200), 100 + LEAD - 1, LEAD)
            .expect_err("too early");
        assert_eq!(
            error,
            KeySetError::NextKeyNotReady {
                published_at: 100,
                ready_at: 100 + LEAD
            }
        );
        assert_eq!(set.current().kid, "a", "a refused rotation changes nothing");
        set.rotate(key("c", 200), 200, 0)
            .expect("with no lead, a next key may sign at once");
        assert_eq!(set.current().kid, "b");
    }

    #[test]
    fn rotation_waits_while_too_many_keys_are_still_retiring() {
        let mut set = KeySet::new(key("k0", 0), key("k1", 0));
        for i in 0..MAX_RETIRING_KEYS as u64 {
            set.rotate(key(&format!("k{}", i + 2), i), i, 0)
                .expect("room to retire");
        }
        let first_retired = KEY_RETIREMENT_SECONDS;
        let error = set.rotate(key("late", 20), 20, 0).expect_err("full");
        assert_eq!(
            error,
            KeySetError::TooManyRetiring {
                ready_at: first_retired
            }
        );
        set.rotate(key("late", first_retired), first_retired, 0)
            .expect("the oldest has retired");
    }

    #[test]
    fn replacing_the_next_key_restarts_its_publication_and_keeps_the_current_key() {
        let mut set = KeySet::new(key("a", 0), key("b", 0));
        let dropped = set.replace_next(
            SigningKey {
                algorithm: Algorithm::Es256,
                ..key("e", 50)
            },
            50,
        );
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped[0].kid, "b");
        assert_eq!(set.current().kid, "a");
        assert_eq!(set.next_algorithm(), Algorithm::Es256);
        assert_eq!(set.ready_at(LEAD), 50 + LEAD);
    }

    #[test]
    fn stored_sets_without_one_current_and_one_next_key_are_refused() {
        assert_eq!(
            KeySet::from_keys(vec![key("b", 0)]),
            Err(KeySetError::Malformed)
        );
        let set = KeySet::new(key("a", 0), key("b", 0));
        assert_eq!(KeySet::from_keys(set.keys().to_vec()), Ok(set));
    }

    #[test]
    fn debug_output_never_shows_wrapped_key_material() {
        let key = SigningKey {
            custody: Custody::Wrapped {
                ciphertext: vec![0xAB; 48],
            },
            ..key("a", 0)
        };
        let shown = format!("{key:?}");
        assert!(shown.contains("ciphertext_bytes: 48"), "{shown}");
        assert!(
            !shown.contains("171") && !shown.to_lowercase().contains("ab, "),
            "{shown}"
        );
    }

    #[test]
    fn algorithms_parse_from_their_jose_names_only() {
        assert_eq!("ES256".parse(), Ok(Algorithm::Es256));
        assert_eq!("RS256".parse(), Ok(Algorithm::Rs256));
        assert!("rs256".parse::<Algorithm>().is_err());
        assert!("none".parse::<Algorithm>().is_err());
    }
}
