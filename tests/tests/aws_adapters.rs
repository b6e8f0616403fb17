//! The AWS adapters against moto's server over HTTP: the KMS key vault in both modes on its
//! own, and both Lambda functions wired as their `main`s wire them, over DynamoDB and KMS, with
//! the AWS calls each token costs counted.

use std::sync::Arc;

use appid::domain::{Algorithm, Custody, KEY_PUBLICATION_LEAD_SECONDS, TenantId};
use appid::http::AdminAuth;
use appid::jwk::KeyParams;
use appid::ports::{KeyVault, SignError, SystemRandom};
use appid::signing::kms::{DEPLOYMENT_TAG, KmsMode, KmsSetupError, KmsVault, TENANT_TAG};
use appid::store::dynamo::DynamoStore;
use appid_tests::events::Event;
use appid_tests::harness::{Functions, basic, verify};
use appid_tests::moto::{self, CallLog};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents, UnparsedPublicKey,
};
use aws_sdk_kms::types::{KeySpec, KeyState, KeyUsageType};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

fn b64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).expect("base64url")
}

fn tenant_id() -> TenantId {
    TenantId::generate(&SystemRandom)
}

/// Checks a JWS signature with the key's published JWK, as a verifier would.
fn verifies(params: &KeyParams, message: &[u8], signature: &[u8]) -> bool {
    match params {
        KeyParams::Rsa { n, e } => RsaPublicKeyComponents {
            n: b64(n),
            e: b64(e),
        }
        .verify(&RSA_PKCS1_2048_8192_SHA256, message, signature)
        .is_ok(),
        KeyParams::Ec { x, y, .. } => {
            let point = [&[4][..], &b64(x), &b64(y)].concat();
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                .verify(message, signature)
                .is_ok()
        }
    }
}

async fn direct_vault(client: aws_sdk_kms::Client) -> KmsVault {
    let mode = KmsMode::Direct {
        deployment: "appid-test".into(),
    };
    KmsVault::connect(client, mode).await.expect("direct mode")
}

async fn wrapped_vault(sdk: &aws_config::SdkConfig, client: aws_sdk_kms::Client) -> KmsVault {
    let wrapping_key = moto::create_wrapping_key(sdk).await;
    KmsVault::connect(client, KmsMode::Wrapped { wrapping_key })
        .await
        .expect("wrapped mode")
}

/// Both modes make keys of both algorithms whose signatures verify with the published JWK:
/// RS256 as PKCS#1 v1.5, ES256 converted from KMS's DER to JOSE's fixed-width `r || s`.
#[tokio::test]
async fn kms_keys_of_both_modes_and_algorithms_sign_verifiable_jws() {
    let sdk = moto::sdk_config().await;
    let client = aws_sdk_kms::Client::new(&sdk);
    let vaults = [
        direct_vault(client.clone()).await,
        wrapped_vault(&sdk, client).await,
    ];
    let message = b"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0";
    for vault in &vaults {
        for algorithm in Algorithm::ALL {
            let tenant = tenant_id();
            let key = vault
                .create_key(&tenant, algorithm, 5)
                .await
                .expect("create");
            assert_eq!((key.algorithm, key.created_at), (algorithm, 5));
            assert_eq!(b64(&key.kid).len(), 32, "a SHA-256 thumbprint");
            let signer = vault.open(&tenant, &key).await.expect("open");
            assert_eq!(signer.public_jwk().kid, key.kid);
            // Several signatures, so that ECDSA's r or s with leading zero bytes come up.
            for _ in 0..8 {
                let signature = signer.sign(message).await.expect("sign");
                let params = &signer.public_jwk().params;
                assert!(verifies(params, message, &signature), "{algorithm} {key:?}");
                assert!(!verifies(params, b"other message", &signature));
            }
        }
    }
}

/// Direct mode: one tagged KMS key per tenant key; destroying it schedules its deletion.
#[tokio::test]
async fn direct_mode_keys_are_tagged_kms_keys_scheduled_for_deletion_when_destroyed() {
    let sdk = moto::sdk_config().await;
    let client = aws_sdk_kms::Client::new(&sdk);
    let vault = direct_vault(client.clone()).await;
    let tenant = tenant_id();
    let key = vault
        .create_key(&tenant, Algorithm::Es256, 0)
        .await
        .expect("create");
    let Custody::Kms { key_arn } = &key.custody else {
        panic!("direct mode keeps keys in KMS: {key:?}");
    };
    let described = client
        .describe_key()
        .key_id(key_arn)
        .send()
        .await
        .expect("describe");
    let metadata = described.key_metadata().expect("metadata");
    assert_eq!(metadata.key_usage(), Some(&KeyUsageType::SignVerify));
    assert_eq!(metadata.key_spec(), Some(&KeySpec::EccNistP256));
    let tags = client
        .list_resource_tags()
        .key_id(key_arn)
        .send()
        .await
        .expect("tags");
    let tag = |name: &str| {
        tags.tags()
            .iter()
            .find(|t| t.tag_key() == name)
            .map(|t| t.tag_value().to_owned())
    };
    assert_eq!(tag(DEPLOYMENT_TAG).as_deref(), Some("appid-test"));
    assert_eq!(tag(TENANT_TAG), Some(tenant.to_string()));

    vault.destroy(&key).await.expect("destroy");
    let described = client
        .describe_key()
        .key_id(key_arn)
        .send()
        .await
        .expect("describe");
    let state = described.key_metadata().and_then(|m| m.key_state());
    assert_eq!(state, Some(&KeyState::PendingDeletion));
}

/// Wrapped mode: the private key is bound to its tenant by the encryption context, and a
/// ciphertext that is not one of the wrapping key's does not open.
#[tokio::test]
async fn wrapped_keys_open_for_their_own_tenant_only() {
    let sdk = moto::sdk_config().await;
    let vault = wrapped_vault(&sdk, aws_sdk_kms::Client::new(&sdk)).await;
    let tenant = tenant_id();
    let key = vault
        .create_key(&tenant, Algorithm::Rs256, 0)
        .await
        .expect("create");
    assert!(matches!(key.custody, Custody::Wrapped { .. }), "{key:?}");
    let error = vault
        .open(&tenant_id(), &key)
        .await
        .err()
        .expect("other tenant");
    assert!(matches!(error, SignError::KeyUnusable(_)), "{error}");
    let mut garbled = key.clone();
    garbled.custody = Custody::Wrapped {
        ciphertext: vec![1; 64],
    };
    let error = vault.open(&tenant, &garbled).await.err().expect("garbled");
    assert!(matches!(error, SignError::KeyUnusable(_)), "{error}");
}

#[tokio::test]
async fn wrapped_mode_refuses_a_wrapping_key_that_cannot_encrypt_or_does_not_exist() {
    let sdk = moto::sdk_config().await;
    let client = aws_sdk_kms::Client::new(&sdk);
    let signing = moto::create_key(&sdk, KeySpec::Rsa2048, KeyUsageType::SignVerify).await;
    let error = KmsVault::connect(
        client.clone(),
        KmsMode::Wrapped {
            wrapping_key: signing,
        },
    )
    .await
    .err()
    .expect("an asymmetric key is refused");
    assert!(matches!(error, KmsSetupError::WrongKind { .. }), "{error}");
    let missing = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-4000-8000-000000000000";
    let error = KmsVault::connect(
        client,
        KmsMode::Wrapped {
            wrapping_key: missing.into(),
        },
    )
    .await
    .err()
    .expect("missing key refused");
    assert!(matches!(error, KmsSetupError::Describe { .. }), "{error}");
}

/// The functions as deployed in direct mode, and the cost of one token: one `BatchGetItem` (the
/// app and its tenant, whose record holds its keys) and one `Sign`, nothing else.
#[tokio::test]
async fn direct_mode_costs_one_read_and_one_sign_per_token() {
    let sdk = moto::sdk_config().await;
    let table = moto::create_table(&sdk).await;
    let calls = CallLog::default();
    let store = Arc::new(DynamoStore::new(calls.dynamodb(&sdk), table));
    let vault = Arc::new(direct_vault(calls.kms(&sdk)).await);
    assert_eq!(
        calls.take(),
        Vec::<String>::new(),
        "direct mode needs no call at start"
    );
    let functions = Functions::over(store, vault, AdminAuth::Iam);

    let tenant = functions.create_tenant("Acme").await;
    assert_eq!(
        calls.take(),
        [
            "KMS.CreateKey",
            "KMS.GetPublicKey",
            "KMS.CreateKey",
            "KMS.GetPublicKey",
            "DynamoDB.TransactWriteItems"
        ],
        "a tenant starts with a current and a next key"
    );
    let app = functions.register_app(&tenant, "worker").await;
    assert_eq!(calls.take(), ["DynamoDB.TransactWriteItems"]);
    let (client_id, secret) = (
        app["clientId"].as_str().expect("id"),
        app["secret"].as_str().expect("secret"),
    );

    for _ in 0..3 {
        let answer = functions.request_token(&tenant, client_id, secret).await;
        assert_eq!(answer.status, 200, "{}", answer.raw);
        assert_eq!(
            calls.take(),
            ["DynamoDB.BatchGetItem", "KMS.Sign"],
            "per token"
        );
    }
    let answer = functions.request_token(&tenant, client_id, secret).await;
    let keys = functions
        .token(Event::new("GET", &format!("/oauth/v4/{tenant}/publickeys")))
        .await;
    assert_eq!(keys.status, 200, "{}", keys.raw);
    assert_eq!(
        keys.body["keys"].as_array().map(Vec::len),
        Some(2),
        "current and next"
    );
    let token = answer.body["access_token"].as_str().expect("token");
    let issuer = format!("https://abc123.execute-api.us-east-1.amazonaws.com/oauth/v4/{tenant}");
    let (header, claims) = verify(token, &keys.body, &issuer, client_id);
    assert_eq!(header.kid, Some(functions.current_kid(&tenant).await));
    assert_eq!(claims["tenant"], Value::from(tenant.as_str()));

    let wrong = functions
        .request_token(&tenant, client_id, "wrong-secret")
        .await;
    assert_eq!(wrong.status, 401);
    calls.take();
    let unknown = functions
        .request_token(&tenant, "5d3f0c1e-2b4a-4c6d-8e9f-0a1b2c3d4e5f", secret)
        .await;
    assert_eq!((unknown.status, &unknown.raw), (wrong.status, &wrong.raw));
    assert_eq!(
        calls.take(),
        ["DynamoDB.BatchGetItem"],
        "a failed authentication signs nothing"
    );

    // A caller with roles, asking for another app's scopes: one more read, for the roles and
    // the audience together, whatever the number of roles.
    let api = functions.register_app(&tenant, "api").await;
    let api_id = api["clientId"].as_str().expect("id");
    functions
        .admin_call(
            "PUT",
            &format!("/{tenant}/applications/{api_id}/scopes"),
            Some(json!({"scopes": ["read"]})),
        )
        .await;
    let mut roles = Vec::new();
    for name in ["a", "b", "c"] {
        let grant =
            json!({"name": name, "access": [{"application_id": api_id, "scopes": ["read"]}]});
        roles.push(
            functions
                .admin_call("POST", &format!("/{tenant}/roles"), Some(grant))
                .await
                .body["id"]
                .clone(),
        );
    }
    functions
        .admin_call(
            "PUT",
            &format!("/{tenant}/applications/{client_id}/roles"),
            Some(json!({"roles": {"ids": roles}})),
        )
        .await;
    calls.take();
    let path = format!("/oauth/v4/{tenant}/token");
    let event = Event::new("POST", &path)
        .header("authorization", basic(client_id, secret))
        .form(&format!(
            "grant_type=client_credentials&audience={api_id}&scope=read"
        ));
    let scoped = functions.token(event).await;
    assert_eq!(scoped.status, 200, "{}", scoped.raw);
    assert_eq!(
        calls.take(),
        ["DynamoDB.BatchGetItem", "DynamoDB.BatchGetItem", "KMS.Sign"]
    );
}

/// Wrapped mode: the first token of a key decrypts it (one `Decrypt`), every later token costs
/// the one `BatchGetItem` and no KMS call; after a rotation the new current key is decrypted
/// once, and a tenant that changes to ES256 gets ES256 tokens from the rotation after.
#[tokio::test]
async fn wrapped_mode_costs_one_read_and_no_kms_call_per_token_after_the_first() {
    let sdk = moto::sdk_config().await;
    let table = moto::create_table(&sdk).await;
    let calls = CallLog::default();
    let store = Arc::new(DynamoStore::new(calls.dynamodb(&sdk), table));
    let vault = Arc::new(wrapped_vault(&sdk, calls.kms(&sdk)).await);
    assert_eq!(
        calls.take(),
        ["KMS.DescribeKey"],
        "the wrapping key is checked at start"
    );
    let functions = Functions::over(store, vault, AdminAuth::Iam);

    let tenant = functions.create_tenant("Acme").await;
    assert_eq!(
        calls.take(),
        [
            "KMS.GenerateDataKeyPairWithoutPlaintext",
            "KMS.GenerateDataKeyPairWithoutPlaintext",
            "DynamoDB.TransactWriteItems"
        ]
    );
    let app = functions.register_app(&tenant, "worker").await;
    let (client_id, secret) = (
        app["clientId"].as_str().expect("id"),
        app["secret"].as_str().expect("secret"),
    );
    calls.take();
    let first = functions.request_token(&tenant, client_id, secret).await;
    assert_eq!(first.status, 200, "{}", first.raw);
    assert_eq!(calls.take(), ["DynamoDB.BatchGetItem", "KMS.Decrypt"]);
    for _ in 0..3 {
        let answer = functions.request_token(&tenant, client_id, secret).await;
        assert_eq!(answer.status, 200, "{}", answer.raw);
        assert_eq!(calls.take(), ["DynamoDB.BatchGetItem"], "per token");
    }

    let change = json!({"algorithm": "ES256"});
    let changed = functions
        .admin_call("PUT", &format!("/{tenant}/config/keys"), Some(change))
        .await;
    assert_eq!(changed.status, 200, "{}", changed.raw);
    assert_eq!(
        (
            changed.body["algorithm"].as_str(),
            changed.body["nextAlgorithm"].as_str()
        ),
        (Some("RS256"), Some("ES256"))
    );
    functions.advance(KEY_PUBLICATION_LEAD_SECONDS);
    let rotated = functions
        .admin_call("POST", &format!("/{tenant}/config/keys/rotate"), None)
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.raw);
    calls.take();
    let answer = functions.request_token(&tenant, client_id, secret).await;
    assert_eq!(answer.status, 200, "{}", answer.raw);
    assert_eq!(calls.take(), ["DynamoDB.BatchGetItem", "KMS.Decrypt"]);
    let answer = functions.request_token(&tenant, client_id, secret).await;
    assert_eq!(calls.take(), ["DynamoDB.BatchGetItem"]);
    let keys = functions
        .token(Event::new("GET", &format!("/oauth/v4/{tenant}/publickeys")))
        .await;
    let token = answer.body["access_token"].as_str().expect("token");
    let issuer = format!("https://abc123.execute-api.us-east-1.amazonaws.com/oauth/v4/{tenant}");
    let (header, _) = verify(token, &keys.body, &issuer, client_id);
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    assert_eq!(
        first.body["access_token"].as_str().map(|t| {
            let (header, _) = verify(t, &keys.body, &issuer, client_id);
            header.alg
        }),
        Some(jsonwebtoken::Algorithm::RS256),
        "the retiring RS256 key still verifies its tokens"
    );
}

/// Rotations racing each other and a deletion on DynamoDB: each rotation either applies whole
/// or reports the conflict or the deletion; the app never has more than two secrets, and once
/// deleted it stays deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_rotations_and_a_deletion_race_safely_on_dynamodb() {
    let sdk = moto::sdk_config().await;
    let table = moto::create_table(&sdk).await;
    let store = Arc::new(DynamoStore::from_config(&sdk, table));
    let vault = Arc::new(appid::signing::local::LocalVault::ephemeral());
    let functions = Arc::new(Functions::over(store, vault, AdminAuth::Iam));
    let tenant = functions.create_tenant("race").await;
    let app = functions.register_app(&tenant, "contested").await;
    let client_id = app["clientId"].as_str().expect("id").to_owned();
    let path = format!("/{tenant}/applications/{client_id}");

    let rotations: Vec<_> = (0..6)
        .map(|_| {
            let (functions, path) = (Arc::clone(&functions), format!("{path}/secret"));
            tokio::spawn(async move { functions.admin_call("POST", &path, None).await })
        })
        .collect();
    let mut rotated = 0;
    for rotation in rotations {
        let answer = rotation.await.expect("task");
        assert!(matches!(answer.status, 200 | 409), "{}", answer.raw);
        if answer.status == 200 {
            rotated += 1;
            assert!(
                answer.body["secrets"]
                    .as_array()
                    .is_some_and(|s| s.len() <= 2)
            );
        }
    }
    assert!(rotated >= 1, "at least one rotation wins");
    let read = functions.admin_call("GET", &path, None).await;
    assert_eq!(
        read.body["secrets"].as_array().map(Vec::len),
        Some(2),
        "{}",
        read.raw
    );

    let late: Vec<_> = (0..4)
        .map(|_| {
            let (functions, path) = (Arc::clone(&functions), format!("{path}/secret"));
            tokio::spawn(async move { functions.admin_call("POST", &path, None).await })
        })
        .collect();
    let deleted = functions.admin_call("DELETE", &path, None).await;
    assert_eq!(deleted.status, 204, "{}", deleted.raw);
    for rotation in late {
        let answer = rotation.await.expect("task");
        assert!(matches!(answer.status, 200 | 404 | 409), "{}", answer.raw);
    }
    let after = functions.admin_call("GET", &path, None).await;
    assert_eq!(
        (after.status, after.error()),
        (404, "application_not_found"),
        "never resurrected"
    );
}
