//! Public keys as JSON Web Keys (RFC 7517), with key ids that are RFC 7638 thumbprints.

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

use crate::ports::Algorithm;

/// `rsaEncryption` (RFC 8017 Appendix C), the algorithm of every RSA SubjectPublicKeyInfo.
const RSA_ENCRYPTION: spki::ObjectIdentifier =
    spki::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// `id-ecPublicKey` (RFC 5480 §2.1.1).
const EC_PUBLIC_KEY: spki::ObjectIdentifier =
    spki::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// `secp256r1`, the curve JOSE calls P-256 (RFC 5480 §2.1.1.1).
const SECP256R1: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// Bytes in one P-256 coordinate.
const P256_COORDINATE: usize = 32;

/// One public signing key in the form `GET .../publickeys` publishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Jwk {
    #[serde(flatten)]
    pub params: KeyParams,
    pub kid: String,
    pub alg: &'static str,
    #[serde(rename = "use")]
    pub use_: &'static str,
}

/// The key type and its public parameters (RFC 7518 §6.2 and §6.3), in base64url.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kty")]
pub enum KeyParams {
    #[serde(rename = "RSA")]
    Rsa { n: String, e: String },
    #[serde(rename = "EC")]
    Ec {
        crv: &'static str,
        x: String,
        y: String,
    },
}

/// The body of `GET .../publickeys`.
#[derive(Debug, Clone, Serialize)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

#[derive(Debug, thiserror::Error)]
pub enum InvalidPublicKey {
    #[error("not a DER SubjectPublicKeyInfo: {0}")]
    Spki(spki::Error),
    #[error("not a public key for {0}")]
    WrongKind(Algorithm),
    #[error("malformed RSA public key: {0}")]
    Pkcs1(pkcs1::der::Error),
    #[error("malformed P-256 public key: expected an uncompressed point")]
    EcPoint,
}

impl Jwk {
    /// The JWK of a public key given as DER SubjectPublicKeyInfo, the form both KMS
    /// (`GetPublicKey`, `GenerateDataKeyPair`) and AWS-LC produce, for use with `alg`.
    pub fn from_spki_der(der: &[u8], alg: Algorithm) -> Result<Self, InvalidPublicKey> {
        let info = spki::SubjectPublicKeyInfoRef::try_from(der).map_err(InvalidPublicKey::Spki)?;
        let key_bytes = info.subject_public_key.raw_bytes();
        let params = match alg {
            Algorithm::Rs256 if info.algorithm.oid == RSA_ENCRYPTION => rsa_params(key_bytes)?,
            Algorithm::Es256
                if info.algorithm.oid == EC_PUBLIC_KEY
                    && info.algorithm.parameters_oid().ok() == Some(SECP256R1) =>
            {
                p256_params(key_bytes)?
            }
            _ => return Err(InvalidPublicKey::WrongKind(alg)),
        };
        Ok(Self {
            kid: thumbprint(&params),
            params,
            alg: alg.as_str(),
            use_: "sig",
        })
    }
}

fn rsa_params(key_bytes: &[u8]) -> Result<KeyParams, InvalidPublicKey> {
    use pkcs1::der::Decode;

    let key = pkcs1::RsaPublicKey::from_der(key_bytes).map_err(InvalidPublicKey::Pkcs1)?;
    Ok(KeyParams::Rsa {
        n: URL_SAFE_NO_PAD.encode(key.modulus.as_bytes()),
        e: URL_SAFE_NO_PAD.encode(key.public_exponent.as_bytes()),
    })
}

/// An uncompressed point (SEC 1 §2.3.3): `0x04 || x || y`.
fn p256_params(point: &[u8]) -> Result<KeyParams, InvalidPublicKey> {
    match point {
        [4, coordinates @ ..] if coordinates.len() == 2 * P256_COORDINATE => {
            let (x, y) = coordinates.split_at(P256_COORDINATE);
            Ok(KeyParams::Ec {
                crv: "P-256",
                x: URL_SAFE_NO_PAD.encode(x),
                y: URL_SAFE_NO_PAD.encode(y),
            })
        }
        _ => Err(InvalidPublicKey::EcPoint),
    }
}

/// RFC 7638 §3: SHA-256 over the required members in lexicographic order, no whitespace. The
/// members are base64url or fixed names, so they need no JSON escaping.
fn thumbprint(params: &KeyParams) -> String {
    let canonical = match params {
        KeyParams::Rsa { n, e } => format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#),
        KeyParams::Ec { crv, x, y } => {
            format!(r#"{{"crv":"{crv}","kty":"EC","x":"{x}","y":"{y}"}}"#)
        }
    };
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The RSA key of RFC 7638 §3.1, whose thumbprint the RFC gives.
    #[test]
    fn thumbprint_matches_the_rfc_7638_example() {
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let params = KeyParams::Rsa {
            n: n.into(),
            e: "AQAB".into(),
        };
        assert_eq!(
            thumbprint(&params),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn p256_keys_become_ec_jwks_and_other_kinds_are_refused() {
        use aws_lc_rs::encoding::AsDer;
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};

        let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("key");
        let der = key.public_key().as_der().expect("spki");
        let jwk = Jwk::from_spki_der(der.as_ref(), Algorithm::Es256).expect("jwk");
        let json = serde_json::to_value(&jwk).expect("json");
        assert_eq!(
            (json["kty"].as_str(), json["crv"].as_str()),
            (Some("EC"), Some("P-256"))
        );
        assert_eq!(
            json["x"].as_str().map(str::len),
            Some(43),
            "32 bytes in base64url"
        );
        assert_eq!(json["alg"], "ES256");
        assert!(matches!(
            Jwk::from_spki_der(der.as_ref(), Algorithm::Rs256),
            Err(InvalidPublicKey::WrongKind(Algorithm::Rs256))
        ));
        assert!(Jwk::from_spki_der(b"junk", Algorithm::Es256).is_err());
    }
}
