//! CPU time of the token path without I/O: checking the presented secret against the stored
//! digests, serializing the claims and signing them with an in-memory key (RS256 and ES256),
//! as `TokenIssuer::issue` does in KMS wrapped mode and locally once the store has answered.
//!
//! `cargo bench -p appid --bench token_path`

use std::hint::black_box;
use std::sync::Arc;

use appid::domain::{
    Algorithm, App, ClientId, ClientSecret, Name, PresentedSecret, SecretEntry, TenantId,
};
use appid::jwt::{AMR_CLIENT_CREDENTIALS, Claims, JwtSigner, TOKEN_VERSION};
use appid::ports::{Random, SystemRandom};
use appid::signing::local::LocalSigner;
use criterion::{Criterion, criterion_group, criterion_main};

fn token_path(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let secret = ClientSecret::generate(&SystemRandom);
    let client_id: ClientId = SystemRandom.uuid().to_string().parse().expect("client id");
    let tenant: TenantId = SystemRandom.uuid().to_string().parse().expect("tenant id");
    let app = App {
        tenant_id: tenant,
        client_id,
        name: Name::parse("bench").expect("name"),
        secrets: vec![SecretEntry {
            digest: secret.digest(),
            created_at: 0,
            expires_at: None,
        }],
        scopes: Vec::new(),
        roles: Vec::new(),
        token_ttl: None,
        created_at: 0,
        version: 0,
    };
    let presented = PresentedSecret::new(secret.expose().to_owned());
    let iss = format!("https://auth.example.com/oauth/v4/{tenant}");

    for algorithm in Algorithm::ALL {
        let jwt = JwtSigner::new(Arc::new(LocalSigner::ephemeral(algorithm).expect("key")));
        let name = format!("token_path/{}", algorithm.as_str().to_lowercase());
        c.bench_function(&name, |b| {
            b.iter(|| {
                assert!(app.accepts(&presented.digest(), 1_000));
                let claims = Claims {
                    iss: &iss,
                    sub: client_id,
                    aud: [client_id],
                    iat: 1_000,
                    exp: 4_600,
                    jti: SystemRandom.uuid(),
                    client_id,
                    tenant,
                    amr: [AMR_CLIENT_CREDENTIALS],
                    ver: TOKEN_VERSION,
                    scope: Some("read write"),
                };
                black_box(runtime.block_on(jwt.sign(&claims)).expect("sign"))
            });
        });
    }
}

criterion_group!(benches, token_path);
criterion_main!(benches);
