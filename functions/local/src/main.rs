//! `appid-local`: the authorization server on one local port, with an embedded store and
//! locally generated signing keys. No AWS account needed.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use appid::domain::{Algorithm, BaseUrl, TokenTtl};
use appid::local::{self, Options};
use appid::ratelimit::RateLimit;
use appid::telemetry::{self, Delivery, LogFormat};
use clap::Parser;

#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Address and port to listen on.
    #[arg(long, env = "APPID_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Directory for the store, the master key and the generated admin token.
    #[arg(long, env = "APPID_DATA_DIR", default_value = ".data")]
    data_dir: PathBuf,
    /// Base URL callers reach the server at, when not the listen address (no trailing slash).
    #[arg(long, env = "APPID_PUBLIC_URL", value_parser = parse_base_url)]
    public_url: Option<BaseUrl>,
    /// Lifetime of issued access tokens in seconds (300 to 86400).
    #[arg(long, env = "APPID_TOKEN_TTL_SECONDS", default_value = "3600", value_parser = parse_ttl)]
    token_ttl: TokenTtl,
    /// Algorithm new tenants' tokens are signed with: RS256 or ES256.
    #[arg(long, env = "APPID_SIGNING_ALGORITHM", default_value = "RS256")]
    signing_algorithm: Algorithm,
    /// Seconds a tenant's next key is published before a rotation may make it sign (0 to
    /// 604800); longer than any verifier keeps a copy of the key set.
    #[arg(long, env = "APPID_KEY_PUBLICATION_LEAD_SECONDS", default_value_t = appid::domain::KEY_PUBLICATION_LEAD_SECONDS,
          value_parser = parse_key_lead)]
    key_publication_lead: u64,
    /// Largest request body accepted, in bytes (1024 to 1048576).
    #[arg(long, env = "APPID_MAX_BODY_BYTES", default_value_t = appid::http::DEFAULT_MAX_BODY_BYTES,
          value_parser = parse_body_limit)]
    max_body_bytes: usize,
    /// Requests per second each tenant may make to the token, introspection and revocation
    /// endpoints; 0 for no limit.
    #[arg(long, env = "APPID_TENANT_RATE_LIMIT", default_value_t = RateLimit::DEFAULT.per_second)]
    tenant_rate_limit: u32,
    /// Requests a tenant may make at once before its rate applies; twice the rate by default.
    #[arg(long, env = "APPID_TENANT_BURST_LIMIT")]
    tenant_burst_limit: Option<u32>,
    /// Failed client authentications a client id, and a source address, may have at once and
    /// regain per minute before further attempts are answered 429; 0 for no limit.
    #[arg(long, env = "APPID_AUTH_FAILURES_PER_MINUTE",
          default_value_t = appid::guessing::DEFAULT_FAILURES_PER_MINUTE)]
    auth_failures_per_minute: u32,
    /// Write log lines as JSON instead of text.
    #[arg(long)]
    json_logs: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let format = if args.json_logs {
        LogFormat::Json
    } else {
        LogFormat::Text
    };
    telemetry::init(format, Delivery::Batched);
    let options = Options {
        listen: args.listen,
        data_dir: args.data_dir,
        public_url: args.public_url,
        token_ttl: args.token_ttl,
        algorithm: args.signing_algorithm,
        key_publication_lead: args.key_publication_lead,
        max_body_bytes: args.max_body_bytes,
        rate_limit: RateLimit {
            per_second: args.tenant_rate_limit,
            burst: args
                .tenant_burst_limit
                .unwrap_or(args.tenant_rate_limit.saturating_mul(2))
                .max(1),
        },
        auth_failures_per_minute: args.auth_failures_per_minute,
        admin_token: std::env::var("APPID_ADMIN_TOKEN")
            .ok()
            .filter(|t| !t.is_empty()),
    };
    let outcome = match local::runtime() {
        Ok(runtime) => runtime
            .block_on(local::run(options))
            .map_err(|e| e.to_string()),
        Err(error) => Err(format!("cannot start the async runtime: {error}")),
    };
    telemetry::flush();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("appid-local: {error}");
            ExitCode::FAILURE
        }
    }
}

fn parse_base_url(raw: &str) -> Result<BaseUrl, String> {
    BaseUrl::parse(raw).map_err(|e| e.to_string())
}

fn parse_ttl(raw: &str) -> Result<TokenTtl, String> {
    raw.parse().ok().and_then(TokenTtl::new).ok_or_else(|| {
        format!(
            "expected whole seconds from {} to {}",
            TokenTtl::MIN,
            TokenTtl::MAX
        )
    })
}

fn parse_key_lead(raw: &str) -> Result<u64, String> {
    let range = appid::config::KEY_LEAD_RANGE;
    raw.parse()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| format!("expected seconds from {} to {}", range.start(), range.end()))
}

fn parse_body_limit(raw: &str) -> Result<usize, String> {
    let range = appid::config::BODY_LIMIT_RANGE;
    raw.parse()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| format!("expected bytes from {} to {}", range.start(), range.end()))
}
