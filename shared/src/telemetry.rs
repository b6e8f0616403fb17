//! Logging. Events are structured (fields, not interpolated text) and never carry a request,
//! a header map or a form, so credentials cannot reach them.

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line with a `level` field, as CloudWatch's JSON log format expects.
    Json,
    /// Compact human-readable lines, for a terminal.
    Text,
}

/// Installs the global subscriber, filtered by `RUST_LOG` (default `info`). The AWS SDK's and
/// the Lambda runtime's own events are kept at `warn` unless `RUST_LOG` says otherwise: at
/// `trace` the runtime prints whole events, which hold credentials.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(
            "info,aws_smithy_runtime=warn,aws_config=warn,lambda_runtime=warn,lambda_http=warn",
        )
    });
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let installed = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogFormat::Text => builder.compact().try_init(),
    };
    // A subscriber installed earlier (by a test harness) stays in place.
    drop(installed);
}
