//! Tokens whose signature is genuine but whose claims are anything at all: the part of a
//! presented token that `presented_token` cannot reach without our key. Whatever the payload,
//! the verifier does not panic and returns claims exactly when the payload is a claims object;
//! changing any one byte of a signed token makes it fail.

#![no_main]

use std::sync::{Arc, OnceLock};

use appid::domain::{Algorithm, ClientId, TenantId};
use appid::jwt::{AMR_CLIENT_CREDENTIALS, Claims, JwtSigner, JwtVerifier, TOKEN_VERSION, VerifiedClaims};
use appid::ports::{SystemRandom, TokenSigner};
use appid::signing::local::LocalSigner;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;

struct Fixture {
    runtime: tokio::runtime::Runtime,
    signer: Arc<LocalSigner>,
    verifier: JwtVerifier,
    /// The encoded header of every token the key signs, taken from a token it signed.
    header: String,
}

/// ES256 keeps executions fast; the header match that chooses the key is the same for RS256.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let signer = Arc::new(LocalSigner::ephemeral(Algorithm::Es256).expect("key"));
        let verifier = JwtVerifier::new([signer.public_jwk()]);
        let (client, tenant) = (
            ClientId::generate(&SystemRandom),
            TenantId::generate(&SystemRandom),
        );
        let claims = Claims {
            iss: "http://127.0.0.1:8080/oauth/v4/t",
            sub: client,
            aud: [client],
            iat: 1,
            exp: 2,
            jti: appid::ports::Random::uuid(&SystemRandom),
            client_id: client,
            tenant,
            amr: [AMR_CLIENT_CREDENTIALS],
            ver: TOKEN_VERSION,
            scope: None,
        };
        let token = runtime
            .block_on(JwtSigner::new(signer.clone()).sign(&claims))
            .expect("sign");
        let header = token.split('.').next().expect("header").to_owned();
        Fixture {
            runtime,
            signer,
            verifier,
            header,
        }
    })
}

// The input is the payload, then two bytes naming the byte to change and one to change it by.
fuzz_target!(|input: &[u8]| {
    let Some((payload, [at_low, at_high, flip])) = input.split_last_chunk::<3>() else {
        return;
    };
    let (at, flip) = (u16::from_le_bytes([*at_low, *at_high]), *flip);
    let fixture = fixture();
    let signing_input = format!("{}.{}", fixture.header, URL_SAFE_NO_PAD.encode(payload));
    let signature = fixture
        .runtime
        .block_on(fixture.signer.sign(signing_input.as_bytes()))
        .expect("sign");
    let token = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature));

    let claims = serde_json::from_slice::<VerifiedClaims>(payload).ok();
    assert_eq!(
        fixture.verifier.verify(&token).is_some(),
        claims.is_some(),
        "a genuine signature verifies exactly the payloads that are claims"
    );

    let mut tampered = token.into_bytes();
    let at = usize::from(at) % tampered.len();
    tampered[at] ^= flip | 1;
    if let Ok(tampered) = String::from_utf8(tampered) {
        assert!(
            fixture.verifier.verify(&tampered).is_none(),
            "a token changed at byte {at} still verified"
        );
    }
});
