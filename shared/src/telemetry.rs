//! Logging. Events are structured (fields, not interpolated text) and never carry a request,
//! a header map or a form, so credentials cannot reach them.

use std::cell::RefCell;
use std::io::{self, Write};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::{self, FormatFields};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line with a `level` field, as CloudWatch's JSON log format expects.
    Json,
    /// Compact human-readable lines, for a terminal.
    Text,
}

/// When log lines reach stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Each line is written as it is logged. A Lambda function's environment may be frozen as
    /// soon as it has answered, so its lines cannot wait.
    Immediate,
    /// A runtime worker holds its lines until it runs out of work ([`worker_parked`]) or holds
    /// [`BATCH_BYTES`] of them, then writes them in one call: under load, one write for many
    /// requests instead of one each, and an idle server's lines are out at once. Only threads
    /// that have parked as runtime workers hold lines; every other thread writes at once.
    Batched,
}

/// The most a worker holds before it writes, whether or not it has run out of work.
pub const BATCH_BYTES: usize = 64 * 1024;

/// Installs the global subscriber, filtered by `RUST_LOG` (default `info`). The AWS SDK's and
/// the Lambda runtime's own events are kept at `warn` unless `RUST_LOG` says otherwise: at
/// `trace` the runtime prints whole events, which hold credentials.
pub fn init(format: LogFormat, delivery: Delivery) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(
            "info,aws_smithy_runtime=warn,aws_config=warn,lambda_runtime=warn,lambda_http=warn",
        )
    });
    let ansi = io::IsTerminal::is_terminal(&io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Stderr(delivery))
        .with_ansi(ansi);
    let installed = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogFormat::Text => builder.compact().fmt_fields(plain_fields()).try_init(),
    };
    // A subscriber installed earlier (by a test harness) stays in place.
    drop(installed);
}

/// Fields as `name=value`, the message bare, without the styling the default field formatter
/// puts around every name even when colours are off (a tenth of what a request costs to log).
/// Values keep their own `Debug` or `Display`: strings from outside stay quoted and escaped.
fn plain_fields() -> impl for<'w> FormatFields<'w> + Send + Sync + 'static {
    format::debug_fn(|writer, field, value| match field.name() {
        "message" => write!(writer, "{value:?}"),
        name => write!(writer, "{name}={value:?}"),
    })
    .delimited(" ")
}

/// The runtime's `on_thread_park` hook for [`Delivery::Batched`]: writes the lines this worker
/// holds, and makes it hold its lines from now on.
pub fn worker_parked() {
    let _ = HELD.try_with(|held| {
        let mut held = held.borrow_mut();
        held.get_or_insert_with(Held::default).write_out();
    });
}

/// Writes the lines this thread holds; for the end of `main`, where thread-local destructors
/// may not run.
pub fn flush() {
    let _ = HELD.try_with(|held| {
        if let Some(held) = held.borrow_mut().as_mut() {
            held.write_out();
        }
    });
}

thread_local! {
    /// The lines this thread holds; `None` until it has parked as a runtime worker.
    static HELD: RefCell<Option<Held>> = const { RefCell::new(None) };
}

#[derive(Default)]
struct Held(Vec<u8>);

impl Held {
    fn write_out(&mut self) {
        if !self.0.is_empty() {
            // A log line that cannot be written has nowhere else to go.
            let _ = io::stderr().lock().write_all(&self.0);
            self.0.clear();
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.write_out();
    }
}

/// The subscriber's writer: stderr, through the thread's held lines when batched.
struct Stderr(Delivery);

impl<'a> MakeWriter<'a> for Stderr {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        Line(self.0)
    }
}

/// One formatted event, which the subscriber writes in one call.
struct Line(Delivery);

impl Write for Line {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        if self.0 == Delivery::Batched {
            let held = HELD.try_with(|held| match held.borrow_mut().as_mut() {
                Some(held) => {
                    held.0.extend_from_slice(line);
                    if held.0.len() >= BATCH_BYTES {
                        held.write_out();
                    }
                    true
                }
                None => false,
            });
            if held == Ok(true) {
                return Ok(line.len());
            }
        }
        io::stderr().lock().write_all(line)?;
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held_bytes() -> Option<usize> {
        HELD.with_borrow(|held| held.as_ref().map(|h| h.0.len()))
    }

    fn log(delivery: Delivery, line: &[u8]) {
        Line(delivery).write_all(line).expect("write");
    }

    #[test]
    fn only_a_thread_that_has_parked_as_a_worker_holds_its_lines() {
        std::thread::spawn(|| {
            log(Delivery::Batched, b"before any park\n");
            assert_eq!(held_bytes(), None);
            worker_parked();
            log(Delivery::Batched, b"held until the next park\n");
            assert_eq!(held_bytes(), Some(25));
            log(Delivery::Immediate, b"never held\n");
            assert_eq!(held_bytes(), Some(25));
            worker_parked();
            assert_eq!(held_bytes(), Some(0));
        })
        .join()
        .expect("thread");
    }

    #[test]
    fn a_worker_writes_once_it_holds_a_batch_and_at_flush() {
        std::thread::spawn(|| {
            worker_parked();
            log(Delivery::Batched, &[b'x'; BATCH_BYTES - 1]);
            assert_eq!(held_bytes(), Some(BATCH_BYTES - 1));
            log(Delivery::Batched, b"\n");
            assert_eq!(held_bytes(), Some(0), "written once the batch was full");
            log(Delivery::Batched, b"last\n");
            flush();
            assert_eq!(held_bytes(), Some(0));
        })
        .join()
        .expect("thread");
    }
}
