//! The app-to-app authorization server: an OAuth 2.0 client-credentials grant (RFC 6749 §4.4)
//! compatible with IBM Cloud App ID's v4 management and token APIs.
//!
//! The crate is split by concern. [`domain`] holds the types that cannot be invalid (tenant and
//! client ids, names, secrets); [`ports`] the narrow traits the service needs from the outside
//! world (a store, a token signer, a clock, randomness); [`service`] the operations themselves;
//! [`store`] and [`signing`] the adapters behind the ports (DynamoDB and KMS with the `aws`
//! feature, a file-backed store and a local key with `embedded`); [`http`] maps HTTP requests to
//! service calls and results to responses, for API Gateway through `lambda_http` and for the
//! single-port local server alike.

#[cfg(feature = "aws")]
pub mod aws;
pub mod config;
pub mod domain;
pub mod guessing;
pub mod http;
pub mod jwk;
pub mod jwt;
pub mod keyring;
#[cfg(feature = "embedded")]
pub mod local;
pub mod metrics;
pub mod ports;
pub mod ratelimit;
pub mod service;
pub mod signing;
pub mod store;
pub mod telemetry;
