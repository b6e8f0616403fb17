//! What the service logs: whatever a request carries or earns, no secret, `Authorization` value
//! or token reaches a log line (every event of a whole session, at every level, is captured and
//! searched), and every management change leaves one audit event.
//!
//! The tests that capture logs share this binary and no other, so that no test running without
//! a subscriber can disable the events they wait for.

use appid::http::AdminAuth;
use appid_tests::events::Event;
use appid_tests::harness::{ADMIN_TOKEN, Functions, basic};
use appid_tests::logs::LogCapture;
use serde_json::{Value, json};

#[tokio::test(flavor = "current_thread")]
async fn a_session_of_every_route_logs_outcomes_but_no_credential_or_token() {
    let capture = LogCapture::default();
    let _guard = capture.install();
    let functions = Functions::embedded(AdminAuth::token(ADMIN_TOKEN).expect("admin token"));
    let admin = format!("Bearer {ADMIN_TOKEN}");

    let tenant = functions
        .management(
            Event::new("POST", "/management/v4/tenants")
                .header("authorization", &admin)
                .json(&json!({"name": "t"})),
        )
        .await;
    let tenant = tenant.body["tenantId"].as_str().expect("tenant").to_owned();
    let apps = format!("/management/v4/{tenant}/applications");
    let app = functions
        .management(
            Event::new("POST", &apps)
                .header("authorization", &admin)
                .json(&json!({"name": "a"})),
        )
        .await;
    let client_id = app.body["clientId"].as_str().expect("client").to_owned();
    let secret = app.body["secret"].as_str().expect("secret").to_owned();

    let good = functions.request_token(&tenant, &client_id, &secret).await;
    let token = good.body["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let wrong_secret = format!("{secret}x");
    functions
        .request_token(&tenant, &client_id, &wrong_secret)
        .await;
    functions
        .request_token(&tenant, "not-a-client", &secret)
        .await;
    let token_path = format!("/oauth/v4/{tenant}/token");
    let garbled = format!("Basic {secret}");
    functions
        .token(
            Event::new("POST", &token_path)
                .header("authorization", &garbled)
                .form("grant_type=client_credentials"),
        )
        .await;
    functions
        .token(
            Event::new("POST", &token_path)
                .header("authorization", basic(&client_id, &secret))
                .form("grant_type=password"),
        )
        .await;
    functions
        .token(
            Event::new("POST", &token_path)
                .header("authorization", format!("Bearer {token}"))
                .form("grant_type=client_credentials"),
        )
        .await;
    functions
        .management(
            Event::new("POST", &apps)
                .header("authorization", format!("Bearer {secret}"))
                .json(&json!({"name": "b"})),
        )
        .await;
    functions
        .token(Event::new("GET", &format!("/oauth/v4/{tenant}/publickeys")))
        .await;
    let posted =
        format!("grant_type=client_credentials&client_id={client_id}&client_secret={secret}");
    functions
        .token(Event::new("POST", &token_path).form(&posted))
        .await;
    for endpoint in ["introspect", "revoke"] {
        let path = format!("/oauth/v4/{tenant}/{endpoint}");
        let body = format!("token={token}&client_id={client_id}&client_secret={secret}");
        functions.token(Event::new("POST", &path).form(&body)).await;
    }

    let keys = format!("/management/v4/{tenant}/config/keys");
    for (method, path, body) in [
        ("PUT", keys.clone(), Some(json!({"algorithm": "ES256"}))),
        ("POST", format!("{keys}/rotate"), None),
        ("GET", keys.clone(), None),
    ] {
        let mut event = Event::new(method, &path).header("authorization", &admin);
        if let Some(body) = &body {
            event = event.json(body);
        }
        functions.management(event).await;
    }

    let logs = capture.text();
    let basic_header = basic(&client_id, &secret);
    assert!(
        logs.contains(r#""error":"invalid_client""#),
        "failures are logged: {logs}"
    );
    assert!(
        logs.contains(&client_id) && logs.contains("jti"),
        "outcomes are logged: {logs}"
    );
    let forbidden = [
        ("client secret", secret.as_str()),
        ("wrong secret", wrong_secret.as_str()),
        ("access token", token.as_str()),
        (
            "token signature",
            token.rsplit('.').next().expect("signature"),
        ),
        ("admin token", ADMIN_TOKEN),
        (
            "Basic credentials",
            basic_header.trim_start_matches("Basic "),
        ),
    ];
    for (what, value) in forbidden {
        assert!(!logs.contains(value), "the {what} reached the logs");
    }
    assert!(
        !logs.to_ascii_lowercase().contains("authorization"),
        "a header reached the logs"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn every_change_leaves_one_audit_event_without_secrets() {
    let capture = LogCapture::default();
    let _guard = capture.install();
    let f = Functions::embedded(AdminAuth::Iam);
    let (tenant, app) = tenant_with_app(&f).await;
    let client_id = str_of(&app, "clientId");
    let rotated = f
        .admin_call(
            "POST",
            &format!("/{tenant}/applications/{client_id}/secret"),
            None,
        )
        .await;
    f.admin_call(
        "PUT",
        &format!("/{tenant}/applications/{client_id}"),
        Some(json!({"name": ""})),
    )
    .await;
    f.admin_call("GET", &format!("/{tenant}/applications/{client_id}"), None)
        .await;
    let new_secret = str_of(&rotated.body, "secret");
    assert_eq!(
        f.request_token(&tenant, client_id, new_secret).await.status,
        200
    );
    assert_eq!(
        f.request_token(&tenant, client_id, "wrong").await.status,
        401
    );

    let audit: Vec<Value> = capture
        .text()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|event| event["target"] == json!("audit"))
        .collect();
    let summary: Vec<(String, String)> = audit
        .iter()
        .map(|e| {
            (
                e["fields"]["action"].as_str().unwrap_or("").to_owned(),
                e["fields"]["outcome"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let expected = [
        ("tenant.create", "success"),
        ("app.register", "success"),
        ("app.secret.rotate", "success"),
        ("app.rename", "failure"),
        ("token.issue", "success"),
        ("token.issue", "failure"),
    ];
    assert_eq!(
        summary,
        expected.map(|(a, o)| (a.to_owned(), o.to_owned())),
        "reads are not audited"
    );
    for event in &audit {
        let actor = &event["fields"]["actor"];
        if event["fields"]["action"] == json!("token.issue") {
            assert_eq!(
                event["fields"]["client_id"],
                json!(client_id),
                "the client acts"
            );
        } else {
            assert_eq!(actor, &json!("arn:aws:iam::123456789012:user/admin"));
        }
        assert_eq!(event["fields"]["tenant_id"], json!(tenant));
    }
    assert_eq!(
        audit.last().map(|e| &e["fields"]["error"]),
        Some(&json!("invalid_client")),
        "a failed authentication is in the audit trail"
    );
    let logs = capture.text();
    assert!(
        !logs.contains(str_of(&app, "secret")) && !logs.contains(str_of(&rotated.body, "secret"))
    );
}

fn str_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {value}"))
}

async fn tenant_with_app(f: &Functions) -> (String, Value) {
    let tenant = f.create_tenant("Acme").await;
    let app = f.register_app(&tenant, "billing-api").await;
    (tenant, app)
}
