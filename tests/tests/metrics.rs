//! The CloudWatch metrics the functions emit: one Embedded Metric Format line per request, with
//! tokens issued, failures by class and error code, and latency.

use appid::http::AdminAuth;
use appid_tests::events::Event;
use appid_tests::harness::Functions;
use serde_json::{Value, json};

fn only(lines: Vec<Value>) -> Value {
    assert_eq!(lines.len(), 1, "{lines:?}");
    lines.into_iter().next().expect("one line")
}

#[tokio::test]
async fn every_request_emits_one_emf_line_counting_tokens_failures_and_latency() {
    let functions = Functions::embedded(AdminAuth::Iam);
    let tenant = functions.create_tenant("Acme").await;
    let app = functions.register_app(&tenant, "worker").await;
    functions.metrics.take_lines();
    let (client_id, secret) = (
        app["clientId"].as_str().expect("id"),
        app["secret"].as_str().expect("secret"),
    );

    functions.request_token(&tenant, client_id, secret).await;
    let issued = only(functions.metrics.take_lines());
    let declared = &issued["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(declared["Namespace"], "appid");
    let names: Vec<&str> = declared["Metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .map(|m| m["Name"].as_str().expect("name"))
        .collect();
    for name in &names {
        assert!(issued[name].is_number(), "{name} has a value");
    }
    assert!(issued["_aws"]["Timestamp"].as_u64().is_some_and(|t| t > 0));
    assert_eq!(
        (
            &issued["Route"],
            &issued["TokensIssued"],
            &issued["ClientErrors"]
        ),
        (&json!("token"), &json!(1), &json!(0))
    );

    functions
        .request_token(&tenant, client_id, "wrong-secret")
        .await;
    let refused = only(functions.metrics.take_lines());
    assert_eq!(
        (
            &refused["TokensIssued"],
            &refused["ClientErrors"],
            &refused["Error"]
        ),
        (&json!(0), &json!(1), &json!("invalid_client"))
    );
    let line = refused.to_string();
    assert!(!line.contains(secret) && !line.contains("wrong-secret"));

    let keys = format!("/oauth/v4/{tenant}/publickeys");
    functions.token(Event::new("GET", &keys)).await;
    assert_eq!(only(functions.metrics.take_lines())["Route"], "publickeys");
    functions.admin_call("GET", "/tenants", None).await;
    assert_eq!(only(functions.metrics.take_lines())["Route"], "management");
}
