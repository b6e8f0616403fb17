//! Access tokens as JWTs in the RFC 9068 profile, assembled by hand: the header is fixed per
//! signing key and encoded once, the claims are one small serialization per token, and the
//! signature comes from whichever [`TokenSigner`] holds the key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::sync::Arc;

use serde::Serialize;

use crate::domain::{ClientId, TenantId};
use crate::jwk::Jwk;
use crate::ports::{SignError, TokenSigner};

/// App ID's `amr` value for tokens issued to an app on its own behalf.
pub const AMR_CLIENT_CREDENTIALS: &str = "appid_client_credentials";

/// The version of App ID's token format these tokens follow.
pub const TOKEN_VERSION: u8 = 4;

/// The claims of an access token (RFC 9068 §2.2 plus App ID's `tenant`, `amr` and `ver`).
#[derive(Debug, Serialize)]
pub struct Claims<'a> {
    pub iss: &'a str,
    pub sub: ClientId,
    pub aud: [ClientId; 1],
    pub iat: u64,
    pub exp: u64,
    pub jti: uuid::Uuid,
    pub client_id: ClientId,
    pub tenant: TenantId,
    pub amr: [&'static str; 1],
    pub ver: u8,
    /// The granted scopes, space-delimited (RFC 9068 §2.2.3); absent when none are granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<&'a str>,
}

/// A signer paired with its encoded JWS protected header, which is the same for every token the
/// key signs and so is built once.
pub struct JwtSigner {
    encoded_header: String,
    signer: Arc<dyn TokenSigner>,
}

impl JwtSigner {
    pub fn new(signer: Arc<dyn TokenSigner>) -> Self {
        let header = serde_json::json!({
            "alg": signer.algorithm().as_str(),
            "kid": signer.public_jwk().kid,
            "typ": "at+jwt",
        });
        let encoded_header = URL_SAFE_NO_PAD.encode(header.to_string());
        Self {
            encoded_header,
            signer,
        }
    }

    pub fn key(&self) -> &Jwk {
        self.signer.public_jwk()
    }

    /// The compact serialization (RFC 7515 §7.1) of a JWS over `claims`.
    pub async fn sign(&self, claims: &Claims<'_>) -> Result<String, SignError> {
        // Serializing a struct of strings and integers cannot fail.
        let payload = serde_json::to_vec(claims).expect("claims serialize to JSON");
        let mut token = String::with_capacity(self.encoded_header.len() + payload.len() * 2 + 360);
        token.push_str(&self.encoded_header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        let signature = self.signer.sign(token.as_bytes()).await?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&signature, &mut token);
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
    use base64::Engine;

    use super::*;
    use crate::ports::{Random, SystemRandom};
    use crate::signing::local::LocalSigner;

    fn decode(part: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(part).expect("base64url")
    }

    #[tokio::test]
    async fn tokens_are_compact_jws_with_the_key_header_and_a_valid_signature() {
        let signer = Arc::new(LocalSigner::ephemeral().expect("key"));
        let jwk = signer.public_jwk().clone();
        let jwt = JwtSigner::new(signer);
        let id: ClientId = SystemRandom.uuid().to_string().parse().expect("id");
        let tenant: TenantId = SystemRandom.uuid().to_string().parse().expect("tenant");
        let claims = Claims {
            iss: "https://auth.example/oauth/v4/t",
            sub: id,
            aud: [id],
            iat: 10,
            exp: 3610,
            jti: SystemRandom.uuid(),
            client_id: id,
            tenant,
            amr: [AMR_CLIENT_CREDENTIALS],
            ver: TOKEN_VERSION,
            scope: Some("read write"),
        };
        let token = jwt.sign(&claims).await.expect("sign");
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value = serde_json::from_slice(&decode(parts[0])).expect("header");
        assert_eq!(
            header,
            serde_json::json!({"alg": "RS256", "kid": jwk.kid, "typ": "at+jwt"})
        );
        let payload: serde_json::Value =
            serde_json::from_slice(&decode(parts[1])).expect("payload");
        assert_eq!(payload["aud"], serde_json::json!([id.to_string()]));
        assert_eq!(payload["exp"], 3610);
        assert_eq!(payload["scope"], "read write");
        let key = RsaPublicKeyComponents {
            n: decode(&jwk.n),
            e: decode(&jwk.e),
        };
        let signing_input = format!("{}.{}", parts[0], parts[1]);
        key.verify(
            &RSA_PKCS1_2048_8192_SHA256,
            signing_input.as_bytes(),
            &decode(parts[2]),
        )
        .expect("signature verifies");
    }
}
