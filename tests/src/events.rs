//! API Gateway HTTP API (payload 2.0) events, as API Gateway and `cargo lambda` deliver them,
//! parsed by `lambda_http` itself.

use serde_json::{Value, json};

/// An event for `method path` with `headers` and a text `body`, as reached through the domain
/// `domain`, with an IAM principal when `iam_arn` is given (API Gateway's `AWS_IAM` authorizer).
pub struct Event<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub headers: Vec<(&'a str, String)>,
    pub body: Option<String>,
    /// Whether `body` is base64, as API Gateway sends bodies that are not UTF-8 text.
    pub base64_body: bool,
    pub domain: &'a str,
    pub iam_arn: Option<&'a str>,
    /// The caller's address, API Gateway's `requestContext.http.sourceIp`.
    pub source_ip: &'a str,
}

impl<'a> Event<'a> {
    pub fn new(method: &'a str, path: &'a str) -> Self {
        Self {
            method,
            path,
            headers: Vec::new(),
            body: None,
            base64_body: false,
            domain: "abc123.execute-api.us-east-1.amazonaws.com",
            iam_arn: None,
            source_ip: "203.0.113.9",
        }
    }

    pub fn from_ip(mut self, source_ip: &'a str) -> Self {
        self.source_ip = source_ip;
        self
    }

    pub fn header(mut self, name: &'a str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn body(mut self, body: impl Into<String>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// A body of raw bytes, base64-encoded in the event as API Gateway does.
    pub fn binary_body(mut self, bytes: Vec<u8>) -> Self {
        use base64::Engine;
        self.body = Some(base64::engine::general_purpose::STANDARD.encode(bytes));
        self.base64_body = true;
        self
    }

    pub fn json(self, body: &Value) -> Self {
        self.header("content-type", "application/json")
            .body(body.to_string())
    }

    pub fn form(self, body: &str) -> Self {
        self.header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    }

    pub fn iam(mut self, arn: &'a str) -> Self {
        self.iam_arn = Some(arn);
        self
    }

    /// The event `lambda_http` hands to a function.
    pub fn into_request(self) -> lambda_http::Request {
        let mut headers = serde_json::Map::new();
        headers.insert("host".into(), json!(self.domain));
        for (name, value) in self.headers {
            headers.insert(name.to_owned(), json!(value));
        }
        let authorizer = self.iam_arn.map(|arn| {
            json!({"iam": {"accessKey": "AKIA", "accountId": "123456789012", "callerId": "AIDA",
                "principalOrgId": null, "userArn": arn, "userId": "AIDA"}})
        });
        let event = json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": self.path,
            "rawQueryString": "",
            "headers": headers,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "abc123",
                "authorizer": authorizer,
                "domainName": self.domain,
                "domainPrefix": "abc123",
                "http": {"method": self.method, "path": self.path, "protocol": "HTTP/1.1",
                    "sourceIp": self.source_ip, "userAgent": "test"},
                "requestId": "req-1",
                "routeKey": "$default",
                "stage": "$default",
                "time": "03/Dec/2026:19:00:00 +0000",
                "timeEpoch": 1_796_324_400_000_u64
            },
            "body": self.body,
            "isBase64Encoded": self.base64_body
        });
        lambda_http::request::from_str(&event.to_string()).expect("a valid API Gateway v2 event")
    }
}
