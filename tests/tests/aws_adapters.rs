//! The AWS adapters against moto's server over HTTP: the KMS signer on its own, and both Lambda
//! functions wired as their `main`s wire them, over DynamoDB and KMS.

use std::sync::Arc;

use appid::http::AdminAuth;
use appid::ports::TokenSigner;
use appid::signing::kms::{KmsKeyError, KmsSigner};
use appid::store::dynamo::DynamoStore;
use appid_tests::events::Event;
use appid_tests::harness::{Functions, verify};
use appid_tests::moto::{self, CallLog};
use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

fn b64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).expect("base64url")
}

#[tokio::test]
async fn kms_signer_publishes_the_keys_jwk_and_its_signatures_verify() {
    let sdk = moto::sdk_config().await;
    let key_id = moto::create_signing_key(&sdk).await;
    let signer = KmsSigner::connect(aws_sdk_kms::Client::new(&sdk), &key_id)
        .await
        .expect("connect");
    let jwk = signer.public_jwk();
    assert_eq!(
        (jwk.kty, jwk.alg, jwk.use_, jwk.e.as_str()),
        ("RSA", "RS256", "sig", "AQAB")
    );
    assert_eq!(b64(&jwk.n).len(), 256, "a 2048-bit modulus");
    assert_eq!(b64(&jwk.kid).len(), 32, "a SHA-256 thumbprint");

    let message = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0";
    let signature = signer.sign(message).await.expect("sign");
    let public = RsaPublicKeyComponents {
        n: b64(&jwk.n),
        e: b64(&jwk.e),
    };
    public
        .verify(&RSA_PKCS1_2048_8192_SHA256, message, &signature)
        .expect("signature verifies");
    assert!(
        public
            .verify(&RSA_PKCS1_2048_8192_SHA256, b"other message", &signature)
            .is_err()
    );
}

#[tokio::test]
async fn kms_signer_refuses_keys_that_cannot_sign_rs256() {
    let sdk = moto::sdk_config().await;
    let client = aws_sdk_kms::Client::new(&sdk);
    let ecc = moto::create_key(&sdk, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    let error = KmsSigner::connect(client.clone(), &ecc)
        .await
        .err()
        .expect("ECC key refused");
    assert!(matches!(error, KmsKeyError::WrongKind { .. }), "{error}");
    let rsa_encrypt = moto::create_key(&sdk, KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt).await;
    let error = KmsSigner::connect(client.clone(), &rsa_encrypt)
        .await
        .err()
        .expect("refused");
    assert!(matches!(error, KmsKeyError::WrongKind { .. }), "{error}");
    let missing = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-4000-8000-000000000000";
    let error = KmsSigner::connect(client, missing)
        .await
        .err()
        .expect("missing key refused");
    assert!(matches!(error, KmsKeyError::Fetch { .. }), "{error}");
}

/// The functions as deployed: management over DynamoDB, token over DynamoDB and KMS; and the
/// cost of one token: one `BatchGetItem` (the app and its tenant) and one `Sign`, nothing else.
#[tokio::test]
async fn the_aws_functions_issue_verifiable_tokens_for_one_read_and_one_sign() {
    let sdk = moto::sdk_config().await;
    let table = moto::create_table(&sdk).await;
    let key_id = moto::create_signing_key(&sdk).await;
    let calls = CallLog::default();
    let store = Arc::new(DynamoStore::new(calls.dynamodb(&sdk), table));
    let signer = Arc::new(
        KmsSigner::connect(calls.kms(&sdk), &key_id)
            .await
            .expect("connect"),
    );
    assert_eq!(
        calls.take(),
        ["KMS.GetPublicKey"],
        "the public key is fetched once, at start"
    );
    let functions = Functions::over(store, signer, AdminAuth::Iam);

    let tenant = functions.create_tenant("Acme").await;
    let app = functions.register_app(&tenant, "worker").await;
    assert_eq!(
        calls.take(),
        ["DynamoDB.TransactWriteItems", "DynamoDB.TransactWriteItems"]
    );
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
    let token = answer.body["access_token"].as_str().expect("token");
    let issuer = format!("https://abc123.execute-api.us-east-1.amazonaws.com/oauth/v4/{tenant}");
    let (header, claims) = verify(token, &keys.body, &issuer, client_id);
    assert_eq!(header.kid.as_deref(), keys.body["keys"][0]["kid"].as_str());
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
    let scopes = serde_json::json!({"scopes": ["read"]});
    functions
        .admin_call(
            "PUT",
            &format!("/{tenant}/applications/{api_id}/scopes"),
            Some(scopes),
        )
        .await;
    let mut roles = Vec::new();
    for name in ["a", "b", "c"] {
        let grant = serde_json::json!({"name": name, "access": [{"application_id": api_id, "scopes": ["read"]}]});
        roles.push(
            functions
                .admin_call("POST", &format!("/{tenant}/roles"), Some(grant))
                .await
                .body["id"]
                .clone(),
        );
    }
    let assign = serde_json::json!({"roles": {"ids": roles}});
    functions
        .admin_call(
            "PUT",
            &format!("/{tenant}/applications/{client_id}/roles"),
            Some(assign),
        )
        .await;
    calls.take();
    let path = format!("/oauth/v4/{tenant}/token");
    let event = Event::new("POST", &path)
        .header(
            "authorization",
            appid_tests::harness::basic(client_id, secret),
        )
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

/// Rotations racing each other and a deletion on DynamoDB: each rotation either applies whole
/// or reports the conflict or the deletion; the app never has more than two secrets, and once
/// deleted it stays deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_rotations_and_a_deletion_race_safely_on_dynamodb() {
    let sdk = moto::sdk_config().await;
    let table = moto::create_table(&sdk).await;
    let store = Arc::new(DynamoStore::from_config(&sdk, table));
    let signer = Arc::new(appid::signing::local::LocalSigner::ephemeral().expect("key"));
    let functions = Arc::new(Functions::over(store, signer, AdminAuth::Iam));
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
