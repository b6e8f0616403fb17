//! Public keys as JSON Web Keys (RFC 7517), with key ids that are RFC 7638 thumbprints.

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

use crate::ports::Algorithm;

/// `rsaEncryption` (RFC 8017 Appendix C), the algorithm of every RSA SubjectPublicKeyInfo.
const RSA_ENCRYPTION: spki::ObjectIdentifier =
    spki::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// One public signing key in the form `GET .../publickeys` publishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Jwk {
    pub kty: &'static str,
    pub n: String,
    pub e: String,
    pub kid: String,
    pub alg: &'static str,
    #[serde(rename = "use")]
    pub use_: &'static str,
}

/// The body of `GET .../publickeys`.
#[derive(Debug, Clone, Serialize)]
pub struct JwkSet<'a> {
    pub keys: Vec<&'a Jwk>,
}

#[derive(Debug, thiserror::Error)]
pub enum InvalidPublicKey {
    #[error("not a DER SubjectPublicKeyInfo: {0}")]
    Spki(spki::Error),
    #[error("not an RSA public key")]
    NotRsa,
    #[error("malformed RSA public key: {0}")]
    Pkcs1(pkcs1::der::Error),
}

impl Jwk {
    /// The JWK of an RSA public key given as DER SubjectPublicKeyInfo, the form both KMS
    /// `GetPublicKey` and AWS-LC produce.
    pub fn from_rsa_spki_der(der: &[u8], alg: Algorithm) -> Result<Self, InvalidPublicKey> {
        use pkcs1::der::Decode;

        let info = spki::SubjectPublicKeyInfoRef::try_from(der).map_err(InvalidPublicKey::Spki)?;
        if info.algorithm.oid != RSA_ENCRYPTION {
            return Err(InvalidPublicKey::NotRsa);
        }
        let key_bytes = info.subject_public_key.raw_bytes();
        let key = pkcs1::RsaPublicKey::from_der(key_bytes).map_err(InvalidPublicKey::Pkcs1)?;
        let n = URL_SAFE_NO_PAD.encode(key.modulus.as_bytes());
        let e = URL_SAFE_NO_PAD.encode(key.public_exponent.as_bytes());
        let kid = rsa_thumbprint(&n, &e);
        Ok(Self {
            kty: "RSA",
            n,
            e,
            kid,
            alg: alg.as_str(),
            use_: "sig",
        })
    }
}

/// RFC 7638 §3: SHA-256 over the required members in lexicographic order, no whitespace.
/// `n` and `e` are base64url, so they need no JSON escaping.
fn rsa_thumbprint(n: &str, e: &str) -> String {
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The RSA key of RFC 7638 §3.1, whose thumbprint the RFC gives.
    #[test]
    fn thumbprint_matches_the_rfc_7638_example() {
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(
            rsa_thumbprint(n, "AQAB"),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }
}
