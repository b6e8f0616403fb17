//! CloudWatch metrics through the Embedded Metric Format: one JSON line per answered request,
//! which CloudWatch Logs turns into metrics without any API call from the function. Namespace
//! [`NAMESPACE`], dimension `Route` (`token`, `introspect`, `revoke`, `publickeys`, `metadata`,
//! `management`) and, for failures, `Route` with `Error` (the response's error code).
//!
//! Metrics: `Requests`, `TokensIssued`, `ClientErrors` (4xx other than 429), `Throttled` (429),
//! `ServerErrors` (5xx) and `Latency` (microseconds). The template's alarms watch
//! `ServerErrors` and `Throttled`.

use std::io::Write;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;

pub const NAMESPACE: &str = "appid";

/// Where metric lines go: standard output on Lambda, a buffer in tests.
pub struct MetricsSink {
    out: Mutex<Box<dyn Write + Send>>,
}

/// What one answered request contributes.
#[derive(Debug, Clone, Copy)]
pub struct RequestMetrics<'a> {
    pub route: &'a str,
    pub status: u16,
    /// The error code of a failed request.
    pub error: Option<&'a str>,
    pub latency_us: u64,
}

impl MetricsSink {
    pub fn stdout() -> Self {
        Self::to(Box::new(std::io::stdout()))
    }

    pub fn to(out: Box<dyn Write + Send>) -> Self {
        Self {
            out: Mutex::new(out),
        }
    }

    /// Writes the request's EMF line. A failed write loses one data point and is not worth
    /// failing a request for.
    pub fn record(&self, request: &RequestMetrics<'_>) {
        let mut line = emf_line(request, now_ms()).to_string();
        line.push('\n');
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let _ = out.write_all(line.as_bytes()).and_then(|()| out.flush());
    }
}

fn emf_line(request: &RequestMetrics<'_>, timestamp_ms: u64) -> serde_json::Value {
    let status = request.status;
    let count = |yes: bool| u8::from(yes);
    let mut dimensions = vec![json!(["Route"])];
    if request.error.is_some() {
        dimensions.push(json!(["Route", "Error"]));
    }
    let mut line = json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": dimensions,
                "Metrics": [
                    {"Name": "Requests", "Unit": "Count"},
                    {"Name": "TokensIssued", "Unit": "Count"},
                    {"Name": "ClientErrors", "Unit": "Count"},
                    {"Name": "Throttled", "Unit": "Count"},
                    {"Name": "ServerErrors", "Unit": "Count"},
                    {"Name": "Latency", "Unit": "Microseconds"},
                ],
            }],
        },
        "Route": request.route,
        "Requests": 1,
        "TokensIssued": count(request.route == "token" && status == 200),
        "ClientErrors": count((400..500).contains(&status) && status != 429),
        "Throttled": count(status == 429),
        "ServerErrors": count(status >= 500),
        "Latency": request.latency_us,
    });
    if let Some(error) = request.error {
        line["Error"] = json!(error);
    }
    line
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issued_token_counts_once_under_its_route() {
        let line = emf_line(
            &RequestMetrics {
                route: "token",
                status: 200,
                error: None,
                latency_us: 850,
            },
            1_700_000_000_000,
        );
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], "appid");
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Route"]])
        );
        assert_eq!(
            (
                &line["Requests"],
                &line["TokensIssued"],
                &line["ServerErrors"]
            ),
            (&json!(1), &json!(1), &json!(0))
        );
        assert_eq!(line["Latency"], 850);
        assert!(line.get("Error").is_none());
    }

    #[test]
    fn failures_are_counted_by_class_and_dimensioned_by_error_code() {
        let metrics = |status, error| {
            emf_line(
                &RequestMetrics {
                    route: "token",
                    status,
                    error: Some(error),
                    latency_us: 1,
                },
                0,
            )
        };
        let invalid = metrics(401, "invalid_client");
        assert_eq!(
            (
                &invalid["ClientErrors"],
                &invalid["TokensIssued"],
                &invalid["Error"]
            ),
            (&json!(1), &json!(0), &json!("invalid_client"))
        );
        assert_eq!(
            invalid["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Route"], ["Route", "Error"]])
        );
        let throttled = metrics(429, "too_many_requests");
        assert_eq!(
            (&throttled["Throttled"], &throttled["ClientErrors"]),
            (&json!(1), &json!(0))
        );
        let down = metrics(503, "temporarily_unavailable");
        assert_eq!(down["ServerErrors"], 1);
    }
}
