//! Whatever a caller presents as a token to introspection or revocation: the verifier checks it
//! against a tenant's published keys (RS256 and ES256) without panicking, and accepts only what
//! one of those keys signed.

#![no_main]

use std::sync::OnceLock;

use appid::domain::Algorithm;
use appid::jwk::Jwk;
use appid::jwt::JwtVerifier;
use appid::ports::TokenSigner;
use appid::signing::local::LocalSigner;
use libfuzzer_sys::fuzz_target;

fn verifier() -> &'static JwtVerifier {
    static VERIFIER: OnceLock<JwtVerifier> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        let keys: Vec<Jwk> = Algorithm::ALL
            .into_iter()
            .map(|alg| LocalSigner::ephemeral(alg).expect("key").public_jwk().clone())
            .collect();
        JwtVerifier::new(&keys)
    })
}

fuzz_target!(|token: &str| {
    // No input the fuzzer can build carries a signature by keys made in this process.
    assert!(verifier().verify(token).is_none(), "a forged token verified: {token}");
});
