//! Whatever a request carries or earns, no secret, `Authorization` value or token reaches a log
//! line: every event of a whole session, at every level, is captured and searched.

use appid::http::AdminAuth;
use appid_tests::events::Event;
use appid_tests::harness::{ADMIN_TOKEN, Functions, basic};
use appid_tests::logs::LogCapture;
use serde_json::json;

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
