//! Hostile input classes at the HTTP edge, each answered with a specific 4xx in the documented
//! body: oversized headers, too many form parameters, control and bidirectional characters and
//! invalid UTF-8 in names, non-UTF-8 form bytes. Oversized bodies, non-UUID ids and malformed
//! JSON are pinned in `handlers.rs` and `management_api.rs`.

use appid::http::{AdminAuth, MAX_HEADER_BYTES};
use appid_tests::events::Event;
use appid_tests::harness::{Functions, basic};
use serde_json::json;

const IAM_ADMIN: &str = "arn:aws:iam::123456789012:user/admin";

async fn tenant(functions: &Functions) -> String {
    functions.create_tenant("t").await
}

#[tokio::test]
async fn headers_over_the_limit_are_431_on_every_route() {
    let functions = Functions::embedded(AdminAuth::Iam);
    let tenant = tenant(&functions).await;
    let padding = "x".repeat(MAX_HEADER_BYTES);
    let token = format!("/oauth/v4/{tenant}/token");
    let answer = functions
        .token(Event::new("POST", &token).header("x-padding", padding.clone()))
        .await;
    answer.assert_error(431, "headers_too_large");
    let management = functions
        .management(
            Event::new("GET", "/management/v4/tenants")
                .iam(IAM_ADMIN)
                .header("x-padding", padding),
        )
        .await;
    management.assert_error(431, "headers_too_large");
    let just_under = "x".repeat(MAX_HEADER_BYTES / 2);
    let fine = functions
        .management(
            Event::new("GET", "/management/v4/tenants")
                .iam(IAM_ADMIN)
                .header("x-padding", just_under),
        )
        .await;
    assert_eq!(fine.status, 200, "{}", fine.raw);
}

#[tokio::test]
async fn a_token_request_with_too_many_parameters_is_invalid_request() {
    let functions = Functions::embedded(AdminAuth::Iam);
    let tenant = tenant(&functions).await;
    let app = functions.register_app(&tenant, "a").await;
    let credentials = basic(
        app["clientId"].as_str().expect("id"),
        app["secret"].as_str().expect("secret"),
    );
    let form = |extra: usize| {
        let mut body = "grant_type=client_credentials".to_owned();
        for i in 0..extra {
            body.push_str(&format!("&x{i}=1"));
        }
        body
    };
    let path = format!("/oauth/v4/{tenant}/token");
    let call = |body: String| {
        functions.token(
            Event::new("POST", &path)
                .header("authorization", credentials.clone())
                .form(&body),
        )
    };
    assert_eq!(call(form(31)).await.status, 200, "32 parameters in all");
    let refused = call(form(32)).await;
    refused.assert_error(400, "invalid_request");
    assert!(
        refused.raw.contains("at most 32 parameters"),
        "{}",
        refused.raw
    );
}

#[tokio::test]
async fn names_with_control_or_bidirectional_characters_are_invalid_name() {
    let functions = Functions::embedded(AdminAuth::Iam);
    let tenant = tenant(&functions).await;
    let path = format!("/management/v4/{tenant}/applications");
    for name in [
        "a\u{0}b",
        "bell\u{7}",
        "esc\u{1b}[31m",
        "invoice\u{202E}fdp.exe",
        "\u{2066}x",
    ] {
        let answer = functions
            .management(
                Event::new("POST", &path)
                    .iam(IAM_ADMIN)
                    .json(&json!({"name": name})),
            )
            .await;
        answer.assert_error(400, "invalid_name");
        assert!(answer.raw.contains("control"), "{name:?}: {}", answer.raw);
    }
}

#[tokio::test]
async fn invalid_utf8_in_a_json_body_is_invalid_json() {
    let functions = Functions::embedded(AdminAuth::Iam);
    let tenant = tenant(&functions).await;
    let path = format!("/management/v4/{tenant}/applications");
    let mut body = br#"{"name": "ab"}"#.to_vec();
    body[10] = 0xFF;
    let request = Event::new("POST", &path)
        .iam(IAM_ADMIN)
        .header("content-type", "application/json")
        .binary_body(body);
    let answer = functions.management(request).await;
    answer.assert_error(400, "invalid_json");
}

#[tokio::test]
async fn non_utf8_bytes_in_a_token_form_fail_cleanly() {
    let functions = Functions::embedded(AdminAuth::Iam);
    let tenant = tenant(&functions).await;
    let path = format!("/oauth/v4/{tenant}/token");
    let answer = functions
        .token(
            Event::new("POST", &path)
                .header("authorization", basic("%FF%FE", "%C3%28"))
                .form("grant_type=client_credentials"),
        )
        .await;
    answer.assert_error(401, "invalid_client");
    let answer = functions
        .token(Event::new("POST", &path).form("grant_type=%FF%FE&client_id=%C3%28&client_secret=x"))
        .await;
    answer.assert_error(400, "unsupported_grant_type");
}
