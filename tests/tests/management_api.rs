//! The management API route by route through the management function: each route's success,
//! and each class of bad input it can meet.

use appid::http::AdminAuth;
use appid_tests::harness::{Answer, Functions, NOW};
use serde_json::{Value, json};

fn functions() -> Functions {
    Functions::embedded(AdminAuth::Iam)
}

fn expect(answer: &Answer, status: u16) -> &Value {
    assert_eq!(answer.status, status, "{}", answer.raw);
    &answer.body
}

fn expect_error(answer: &Answer, status: u16, error: &str) {
    answer.assert_error(status, error);
}

/// A tenant with one app; returns (tenant id, registration body).
async fn tenant_with_app(f: &Functions) -> (String, Value) {
    let tenant = f.create_tenant("Acme").await;
    let app = f.register_app(&tenant, "billing-api").await;
    (tenant, app)
}

fn str_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {value}"))
}

#[tokio::test]
async fn tenants_can_be_read_listed_renamed_and_deleted() {
    let f = functions();
    let ids: Vec<String> = create_tenants(&f, 3).await;
    let one = expect(
        &f.admin_call("GET", &format!("/tenants/{}", ids[0]), None)
            .await,
        200,
    )
    .clone();
    assert_eq!(one["name"], json!("tenant 0"));
    assert_eq!(one["createdAt"], json!(NOW));
    assert!(one.get("secret").is_none());

    let first = expect(&f.admin_call("GET", "/tenants?limit=2", None).await, 200).clone();
    assert_eq!(first["tenants"].as_array().map(Vec::len), Some(2));
    let cursor = str_of(&first, "nextCursor");
    let rest = expect(
        &f.admin_call("GET", &format!("/tenants?limit=2&cursor={cursor}"), None)
            .await,
        200,
    )
    .clone();
    assert_eq!(rest["tenants"].as_array().map(Vec::len), Some(1));
    assert!(rest.get("nextCursor").is_none());
    let mut listed: Vec<String> = first["tenants"]
        .as_array()
        .into_iter()
        .chain(rest["tenants"].as_array())
        .flatten()
        .map(|t| str_of(t, "tenantId").to_owned())
        .collect();
    listed.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(listed, expected);

    let renamed = f
        .admin_call(
            "PUT",
            &format!("/tenants/{}", ids[1]),
            Some(json!({"name": "Renamed"})),
        )
        .await;
    assert_eq!(expect(&renamed, 200)["name"], json!("Renamed"));
    assert_eq!(
        expect(
            &f.admin_call("GET", &format!("/tenants/{}", ids[1]), None)
                .await,
            200
        )["name"],
        json!("Renamed")
    );

    let deleted = f
        .admin_call("DELETE", &format!("/tenants/{}", ids[2]), None)
        .await;
    assert_eq!((deleted.status, deleted.raw.as_str()), (204, ""));
    expect_error(
        &f.admin_call("GET", &format!("/tenants/{}", ids[2]), None)
            .await,
        404,
        "tenant_not_found",
    );
    expect_error(
        &f.admin_call("DELETE", &format!("/tenants/{}", ids[2]), None)
            .await,
        404,
        "tenant_not_found",
    );
    expect_error(
        &f.admin_call(
            "PUT",
            &format!("/tenants/{}", ids[2]),
            Some(json!({"name": "x"})),
        )
        .await,
        404,
        "tenant_not_found",
    );
}

async fn create_tenants(f: &Functions, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(f.create_tenant(&format!("tenant {i}")).await);
    }
    ids
}

#[tokio::test]
async fn deleting_a_tenant_removes_its_apps_roles_and_credentials() {
    let f = functions();
    let (tenant, app) = tenant_with_app(&f).await;
    let (client_id, secret) = (str_of(&app, "clientId"), str_of(&app, "secret"));
    assert_eq!(
        f.request_token(&tenant, client_id, secret).await.status,
        200
    );
    expect(
        &f.admin_call("DELETE", &format!("/tenants/{tenant}"), None)
            .await,
        204,
    );
    let token = f.request_token(&tenant, client_id, secret).await;
    assert_eq!((token.status, token.error()), (401, "invalid_client"));
    expect_error(
        &f.admin_call("GET", &format!("/{tenant}/applications"), None)
            .await,
        404,
        "tenant_not_found",
    );
    expect_error(
        &f.admin_call("GET", &format!("/{tenant}/applications/{client_id}"), None)
            .await,
        404,
        "tenant_not_found",
    );
    let keys = f
        .token(appid_tests::events::Event::new(
            "GET",
            &format!("/oauth/v4/{tenant}/publickeys"),
        ))
        .await;
    assert_eq!(keys.status, 404);
}

#[tokio::test]
async fn apps_are_read_without_their_secret_listed_renamed_and_deleted() {
    let f = functions();
    let (tenant, app) = tenant_with_app(&f).await;
    let client_id = str_of(&app, "clientId");
    let path = format!("/{tenant}/applications/{client_id}");
    let read = expect(&f.admin_call("GET", &path, None).await, 200).clone();
    assert_eq!(read["name"], json!("billing-api"));
    assert_eq!(read["oAuthServerUrl"], app["oAuthServerUrl"]);
    assert_eq!(read["scopes"], json!([]));
    assert_eq!(read["secrets"], json!([{"createdAt": NOW}]));
    assert!(read.get("secret").is_none() && !read.to_string().contains(str_of(&app, "secret")));

    for i in 0..4 {
        f.register_app(&tenant, &format!("more {i}")).await;
    }
    let mut seen = Vec::new();
    let mut query = "?limit=2".to_owned();
    loop {
        let page = expect(
            &f.admin_call("GET", &format!("/{tenant}/applications{query}"), None)
                .await,
            200,
        )
        .clone();
        let items = page["applications"]
            .as_array()
            .expect("applications")
            .clone();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|a| str_of(a, "clientId").to_owned()));
        match page.get("nextCursor") {
            Some(Value::String(cursor)) => query = format!("?limit=2&cursor={cursor}"),
            _ => break,
        }
    }
    assert_eq!(seen.len(), 5);
    assert!(seen.contains(&client_id.to_owned()));

    let renamed = f
        .admin_call(
            "PUT",
            &path,
            Some(json!({"name": "billing-api-v2", "secret": "ignored"})),
        )
        .await;
    assert_eq!(expect(&renamed, 200)["name"], json!("billing-api-v2"));
    let token = f
        .request_token(&tenant, client_id, str_of(&app, "secret"))
        .await;
    assert_eq!(token.status, 200, "renaming keeps the credentials");

    expect(&f.admin_call("DELETE", &path, None).await, 204);
    expect_error(
        &f.admin_call("GET", &path, None).await,
        404,
        "application_not_found",
    );
    expect_error(
        &f.admin_call("DELETE", &path, None).await,
        404,
        "application_not_found",
    );
    expect_error(
        &f.admin_call("PUT", &path, Some(json!({"name": "x"}))).await,
        404,
        "application_not_found",
    );
    let token = f
        .request_token(&tenant, client_id, str_of(&app, "secret"))
        .await;
    assert_eq!((token.status, token.error()), (401, "invalid_client"));
}

#[tokio::test]
async fn ids_that_name_nothing_are_not_found_by_kind() {
    let f = functions();
    let (tenant, _) = tenant_with_app(&f).await;
    let unknown = "0b6c1a52-5f44-4d2b-9a43-6b3f1f0e2a11";
    for (path, error) in [
        (format!("/tenants/{unknown}"), "tenant_not_found"),
        ("/tenants/not-a-uuid".to_owned(), "tenant_not_found"),
        (
            format!("/{tenant}/applications/{unknown}"),
            "application_not_found",
        ),
        (
            format!("/{tenant}/applications/NOT-A-UUID"),
            "application_not_found",
        ),
        (
            format!("/{tenant}/applications/{unknown}/scopes"),
            "application_not_found",
        ),
        (
            format!("/{tenant}/applications/{unknown}/roles"),
            "application_not_found",
        ),
        (format!("/{tenant}/roles/{unknown}"), "role_not_found"),
        (format!("/{tenant}/roles/x"), "role_not_found"),
        (format!("/{unknown}/roles"), "tenant_not_found"),
        (format!("/{unknown}/config/tokens"), "tenant_not_found"),
        (format!("/{tenant}/config"), "not_found"),
    ] {
        expect_error(&f.admin_call("GET", &path, None).await, 404, error);
    }
    let rotate = f
        .admin_call(
            "POST",
            &format!("/{tenant}/applications/{unknown}/secret"),
            None,
        )
        .await;
    expect_error(&rotate, 404, "application_not_found");
}

#[tokio::test]
async fn listing_parameters_are_checked() {
    let f = functions();
    let (tenant, _) = tenant_with_app(&f).await;
    for query in [
        "limit=0",
        "limit=101",
        "limit=ten",
        "limit=-1",
        "cursor=abc",
        "cursor=",
        "cursor=0B6C1A52-5F44-4D2B-9A43-6B3F1F0E2A11",
    ] {
        for path in [
            "/tenants".to_owned(),
            format!("/{tenant}/applications"),
            format!("/{tenant}/roles"),
        ] {
            expect_error(
                &f.admin_call("GET", &format!("{path}?{query}"), None).await,
                400,
                "invalid_request",
            );
        }
    }
    expect(
        &f.admin_call("GET", "/tenants?limit=100&unrelated=1", None)
            .await,
        200,
    );
}

#[tokio::test]
async fn scopes_are_replaced_whole_and_follow_app_ids_rules() {
    let f = functions();
    let (tenant, app) = tenant_with_app(&f).await;
    let path = format!("/{tenant}/applications/{}/scopes", str_of(&app, "clientId"));
    assert_eq!(
        expect(&f.admin_call("GET", &path, None).await, 200),
        &json!({"scopes": []})
    );
    let put = f
        .admin_call(
            "PUT",
            &path,
            Some(json!({"scopes": ["read", "write", "billing.admin"]})),
        )
        .await;
    assert_eq!(
        expect(&put, 200),
        &json!({"scopes": ["read", "write", "billing.admin"]})
    );
    let replaced = f
        .admin_call("PUT", &path, Some(json!({"scopes": ["read"]})))
        .await;
    assert_eq!(expect(&replaced, 200), &json!({"scopes": ["read"]}));
    assert_eq!(
        expect(&f.admin_call("GET", &path, None).await, 200),
        &json!({"scopes": ["read"]})
    );

    let fifty_one: Vec<String> = (0..51).map(|i| format!("s{i}")).collect();
    for bad in [
        json!({"scopes": ["Read"]}),
        json!({"scopes": ["appid.x"]}),
        json!({"scopes": ["openid"]}),
        json!({"scopes": ["a", "a"]}),
        json!({"scopes": ["x".repeat(50)]}),
        json!({"scopes": [""]}),
        json!({"scopes": fifty_one}),
        json!({"scopes": "read"}),
        json!({"scopes": [1]}),
        json!({}),
    ] {
        expect_error(
            &f.admin_call("PUT", &path, Some(bad)).await,
            400,
            "invalid_scope",
        );
    }
    assert_eq!(
        expect(&f.admin_call("GET", &path, None).await, 200),
        &json!({"scopes": ["read"]}),
        "unchanged"
    );
}

#[tokio::test]
async fn roles_grant_only_scopes_their_apps_define() {
    let f = functions();
    let (tenant, api) = tenant_with_app(&f).await;
    let api_id = str_of(&api, "clientId");
    f.admin_call(
        "PUT",
        &format!("/{tenant}/applications/{api_id}/scopes"),
        Some(json!({"scopes": ["read", "write"]})),
    )
    .await;

    let spec = json!({"name": "Readers", "description": "read billing", "access": [{"application_id": api_id, "scopes": ["read"]}]});
    let created = f
        .admin_call("POST", &format!("/{tenant}/roles"), Some(spec))
        .await;
    let role = expect(&created, 201).clone();
    let role_id = str_of(&role, "id");
    assert_eq!(
        role["access"],
        json!([{"application_id": api_id, "scopes": ["read"]}])
    );
    assert_eq!(role["description"], json!("read billing"));
    let path = format!("/{tenant}/roles/{role_id}");
    assert_eq!(expect(&f.admin_call("GET", &path, None).await, 200), &role);
    let listed = expect(
        &f.admin_call("GET", &format!("/{tenant}/roles"), None).await,
        200,
    )
    .clone();
    assert_eq!(listed["roles"], json!([role]));

    let unknown_app = json!({"name": "x", "access": [{"application_id": "0b6c1a52-5f44-4d2b-9a43-6b3f1f0e2a11", "scopes": []}]});
    let undefined_scope =
        json!({"name": "x", "access": [{"application_id": api_id, "scopes": ["delete"]}]});
    let twice = json!({"name": "x", "access": [{"application_id": api_id, "scopes": []}, {"application_id": api_id, "scopes": []}]});
    for bad in [
        unknown_app,
        undefined_scope,
        twice,
        json!({"name": "x", "access": [{"scopes": []}]}),
        json!({"name": "x", "access": "all"}),
        json!({"name": "x", "access": [{"application_id": "nope", "scopes": []}]}),
    ] {
        expect_error(
            &f.admin_call("POST", &format!("/{tenant}/roles"), Some(bad.clone()))
                .await,
            400,
            "invalid_role",
        );
        expect_error(
            &f.admin_call("PUT", &path, Some(bad)).await,
            400,
            "invalid_role",
        );
    }
    let bad_scope = json!({"name": "x", "access": [{"application_id": api_id, "scopes": ["BAD"]}]});
    expect_error(
        &f.admin_call("POST", &format!("/{tenant}/roles"), Some(bad_scope))
            .await,
        400,
        "invalid_scope",
    );
    expect_error(
        &f.admin_call(
            "POST",
            &format!("/{tenant}/roles"),
            Some(json!({"access": []})),
        )
        .await,
        400,
        "invalid_name",
    );
    let long_description = json!({"name": "x", "description": "d".repeat(251)});
    expect_error(
        &f.admin_call("POST", &format!("/{tenant}/roles"), Some(long_description))
            .await,
        400,
        "invalid_request",
    );

    let replaced = f.admin_call("PUT", &path, Some(json!({"name": "Writers", "access": [{"application_id": api_id, "scopes": ["write"]}]}))).await;
    let replaced = expect(&replaced, 200).clone();
    assert_eq!(
        (replaced["name"].clone(), replaced["description"].clone()),
        (json!("Writers"), json!(""))
    );
    assert_eq!(replaced["id"], role["id"]);

    expect(&f.admin_call("DELETE", &path, None).await, 204);
    expect_error(
        &f.admin_call("GET", &path, None).await,
        404,
        "role_not_found",
    );
    expect_error(
        &f.admin_call("DELETE", &path, None).await,
        404,
        "role_not_found",
    );
    expect_error(
        &f.admin_call("PUT", &path, Some(json!({"name": "x"}))).await,
        404,
        "role_not_found",
    );
}

#[tokio::test]
async fn roles_are_assigned_to_apps_by_id() {
    let f = functions();
    let (tenant, app) = tenant_with_app(&f).await;
    let client_id = str_of(&app, "clientId");
    let path = format!("/{tenant}/applications/{client_id}/roles");
    assert_eq!(
        expect(&f.admin_call("GET", &path, None).await, 200),
        &json!({"roles": []})
    );
    let a = expect(
        &f.admin_call(
            "POST",
            &format!("/{tenant}/roles"),
            Some(json!({"name": "A"})),
        )
        .await,
        201,
    )
    .clone();
    let b = expect(
        &f.admin_call(
            "POST",
            &format!("/{tenant}/roles"),
            Some(json!({"name": "B"})),
        )
        .await,
        201,
    )
    .clone();
    let ids = json!({"roles": {"ids": [a["id"], b["id"]]}});
    let assigned = expect(&f.admin_call("PUT", &path, Some(ids)).await, 200).clone();
    assert_eq!(
        assigned,
        json!({"roles": [{"id": a["id"], "name": "A"}, {"id": b["id"], "name": "B"}]})
    );
    assert_eq!(
        expect(&f.admin_call("GET", &path, None).await, 200),
        &assigned
    );

    expect(
        &f.admin_call(
            "DELETE",
            &format!("/{tenant}/roles/{}", str_of(&b, "id")),
            None,
        )
        .await,
        204,
    );
    let after = expect(&f.admin_call("GET", &path, None).await, 200).clone();
    assert_eq!(
        after,
        json!({"roles": [{"id": a["id"], "name": "A"}]}),
        "a deleted role is no longer listed"
    );

    let unknown = json!({"roles": {"ids": ["0b6c1a52-5f44-4d2b-9a43-6b3f1f0e2a11"]}});
    let too_many: Vec<String> = (0..51).map(|_| str_of(&a, "id").to_owned()).collect();
    for bad in [
        unknown,
        json!({"roles": {"ids": ["x"]}}),
        json!({"roles": ["x"]}),
        json!({"ids": []}),
        json!({"roles": {"ids": too_many}}),
    ] {
        expect_error(
            &f.admin_call("PUT", &path, Some(bad)).await,
            400,
            "invalid_role",
        );
    }
    expect(
        &f.admin_call("PUT", &path, Some(json!({"roles": {"ids": []}})))
            .await,
        200,
    );
}

#[tokio::test]
async fn a_rotated_secret_replaces_the_old_one_after_its_grace_period() {
    let f = functions();
    let (tenant, app) = tenant_with_app(&f).await;
    let client_id = str_of(&app, "clientId");
    let first = str_of(&app, "secret").to_owned();
    let path = format!("/{tenant}/applications/{client_id}/secret");

    let rotated = expect(&f.admin_call("POST", &path, None).await, 200).clone();
    let second = str_of(&rotated, "secret").to_owned();
    assert_ne!(first, second);
    assert_eq!(rotated["clientId"], json!(client_id));
    assert_eq!(
        rotated["secrets"],
        json!([{"createdAt": NOW}, {"createdAt": NOW, "expiresAt": NOW + 86_400}])
    );
    assert_eq!(
        f.request_token(&tenant, client_id, &first).await.status,
        200,
        "old secret in its grace period"
    );
    assert_eq!(
        f.request_token(&tenant, client_id, &second).await.status,
        200,
        "new secret"
    );

    f.advance(86_400);
    assert_eq!(
        f.request_token(&tenant, client_id, &first).await.status,
        401,
        "grace period over"
    );
    assert_eq!(
        f.request_token(&tenant, client_id, &second).await.status,
        200
    );

    let third = expect(
        &f.admin_call("POST", &path, Some(json!({"graceSeconds": 60})))
            .await,
        200,
    )
    .clone();
    let third = str_of(&third, "secret").to_owned();
    let fourth = expect(
        &f.admin_call("POST", &path, Some(json!({"graceSeconds": 60})))
            .await,
        200,
    )
    .clone();
    assert_eq!(
        fourth["secrets"].as_array().map(Vec::len),
        Some(2),
        "at most two live secrets"
    );
    assert_eq!(
        f.request_token(&tenant, client_id, &second).await.status,
        401,
        "only the latest previous secret lingers"
    );
    assert_eq!(
        f.request_token(&tenant, client_id, &third).await.status,
        200
    );

    let revoked = expect(
        &f.admin_call("POST", &path, Some(json!({"graceSeconds": 0})))
            .await,
        200,
    )
    .clone();
    assert_eq!(revoked["secrets"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        f.request_token(&tenant, client_id, str_of(&fourth, "secret"))
            .await
            .status,
        401,
        "revoked at once"
    );
    assert_eq!(
        f.request_token(&tenant, client_id, str_of(&revoked, "secret"))
            .await
            .status,
        200
    );

    for bad in [
        json!({"graceSeconds": -1}),
        json!({"graceSeconds": 604_801}),
        json!({"graceSeconds": "1"}),
        json!({"graceSeconds": 1.5}),
    ] {
        expect_error(
            &f.admin_call("POST", &path, Some(bad)).await,
            400,
            "invalid_request",
        );
    }
    let read = expect(
        &f.admin_call("GET", &format!("/{tenant}/applications/{client_id}"), None)
            .await,
        200,
    )
    .clone();
    assert!(
        !read.to_string().contains(str_of(&revoked, "secret")),
        "a GET never shows a secret"
    );
}

#[tokio::test]
async fn token_settings_apply_to_tokens_issued_afterwards() {
    let f = functions();
    let (tenant, app) = tenant_with_app(&f).await;
    let path = format!("/{tenant}/config/tokens");
    assert_eq!(
        expect(&f.admin_call("GET", &path, None).await, 200),
        &json!({"access": {"expires_in": 3600}})
    );
    let put = f
        .admin_call("PUT", &path, Some(json!({"access": {"expires_in": 600}})))
        .await;
    assert_eq!(expect(&put, 200), &json!({"access": {"expires_in": 600}}));
    let token = f
        .request_token(&tenant, str_of(&app, "clientId"), str_of(&app, "secret"))
        .await;
    assert_eq!(expect(&token, 200)["expires_in"], json!(600));
    let claims =
        jsonwebtoken::dangerous::insecure_decode::<Value>(str_of(&token.body, "access_token"))
            .expect("jwt")
            .claims;
    assert_eq!(
        claims["exp"]
            .as_u64()
            .zip(claims["iat"].as_u64())
            .map(|(e, i)| e - i),
        Some(600)
    );

    for bad in [
        json!({"access": {"expires_in": 299}}),
        json!({"access": {"expires_in": 86_401}}),
        json!({"access": {"expires_in": "600"}}),
        json!({"access": {}}),
        json!({}),
    ] {
        expect_error(
            &f.admin_call("PUT", &path, Some(bad)).await,
            400,
            "invalid_request",
        );
    }
}

#[tokio::test]
async fn bodies_of_every_write_route_are_checked() {
    let f = functions();
    let (tenant, app) = tenant_with_app(&f).await;
    let client_id = str_of(&app, "clientId");
    let role = expect(
        &f.admin_call(
            "POST",
            &format!("/{tenant}/roles"),
            Some(json!({"name": "R"})),
        )
        .await,
        201,
    )
    .clone();
    let writes = [
        ("POST", "/tenants".to_owned()),
        ("PUT", format!("/tenants/{tenant}")),
        ("POST", format!("/{tenant}/applications")),
        ("PUT", format!("/{tenant}/applications/{client_id}")),
        ("PUT", format!("/{tenant}/applications/{client_id}/scopes")),
        ("PUT", format!("/{tenant}/applications/{client_id}/roles")),
        ("POST", format!("/{tenant}/roles")),
        ("PUT", format!("/{tenant}/roles/{}", str_of(&role, "id"))),
        ("PUT", format!("/{tenant}/config/tokens")),
    ];
    for (method, path) in &writes {
        let full = format!("/management/v4{path}");
        let event = |body: &str| {
            appid_tests::harness::admin(appid_tests::events::Event::new(method, &full))
                .body(body.to_owned())
        };
        expect_error(
            &f.management(event("{\"name\":").header("content-type", "application/json"))
                .await,
            400,
            "invalid_json",
        );
        expect_error(
            &f.management(event("[]").header("content-type", "application/json"))
                .await,
            400,
            "invalid_json",
        );
        expect_error(
            &f.management(event("{}").header("content-type", "text/plain"))
                .await,
            415,
            "unsupported_media_type",
        );
        let huge = format!("{{\"pad\":\"{}\"}}", "x".repeat(20_000));
        expect_error(
            &f.management(event(&huge).header("content-type", "application/json"))
                .await,
            413,
            "payload_too_large",
        );
    }
    let rotate = format!("/management/v4/{tenant}/applications/{client_id}/secret");
    let event = appid_tests::harness::admin(appid_tests::events::Event::new("POST", &rotate))
        .header("content-type", "application/json")
        .body("nope");
    expect_error(&f.management(event).await, 400, "invalid_json");
}

#[tokio::test]
async fn an_app_can_override_its_tenants_token_lifetime() {
    let f = functions();
    let (tenant, app) = tenant_with_app(&f).await;
    let client_id = str_of(&app, "clientId");
    let path = format!("/{tenant}/applications/{client_id}/config/tokens");
    let inherited = json!({"access": {"expires_in": 3600}, "inherited": true});
    assert_eq!(
        expect(&f.admin_call("GET", &path, None).await, 200),
        &inherited
    );

    let set = f
        .admin_call("PUT", &path, Some(json!({"access": {"expires_in": 900}})))
        .await;
    assert_eq!(
        expect(&set, 200),
        &json!({"access": {"expires_in": 900}, "inherited": false})
    );
    f.admin_call(
        "PUT",
        &format!("/{tenant}/config/tokens"),
        Some(json!({"access": {"expires_in": 7200}})),
    )
    .await;
    let token = f
        .request_token(&tenant, client_id, str_of(&app, "secret"))
        .await;
    assert_eq!(
        expect(&token, 200)["expires_in"],
        json!(900),
        "the app's own lifetime wins"
    );

    let cleared = f
        .admin_call("PUT", &path, Some(json!({"access": {"expires_in": null}})))
        .await;
    assert_eq!(
        expect(&cleared, 200),
        &json!({"access": {"expires_in": 7200}, "inherited": true})
    );
    let token = f
        .request_token(&tenant, client_id, str_of(&app, "secret"))
        .await;
    assert_eq!(
        expect(&token, 200)["expires_in"],
        json!(7200),
        "back to the tenant's"
    );

    for bad in [
        json!({"access": {"expires_in": 299}}),
        json!({"access": {"expires_in": 86_401}}),
        json!({"access": {}}),
        json!({}),
    ] {
        expect_error(
            &f.admin_call("PUT", &path, Some(bad)).await,
            400,
            "invalid_request",
        );
    }
    let unknown =
        format!("/{tenant}/applications/0b6c1a52-5f44-4d2b-9a43-6b3f1f0e2a11/config/tokens");
    expect_error(
        &f.admin_call("GET", &unknown, None).await,
        404,
        "application_not_found",
    );
}
