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
            let _ = emit(&self.0);
            self.0.clear();
        }
    }
}

/// Writes log lines to stderr in one call; in unit tests, to the thread's [`tests::EMITTED`].
fn emit(lines: &[u8]) -> io::Result<()> {
    #[cfg(test)]
    return tests::EMITTED.with_borrow_mut(|emitted| emitted.write_all(lines));
    #[cfg(not(test))]
    io::stderr().lock().write_all(lines)
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
        emit(line)?;
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        /// What this thread's log lines wrote, in order.
        pub(super) static EMITTED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }

    fn emitted() -> String {
        EMITTED.with_borrow(|e| String::from_utf8_lossy(e).into_owned())
    }

    fn log(delivery: Delivery, line: &str) {
        Line(delivery).write_all(line.as_bytes()).expect("write");
    }

    #[test]
    fn only_a_thread_that_has_parked_as_a_worker_holds_its_lines() {
        std::thread::spawn(|| {
            log(Delivery::Batched, "before any park\n");
            assert_eq!(emitted(), "before any park\n");
            worker_parked();
            log(Delivery::Batched, "held until the next park\n");
            log(Delivery::Immediate, "never held\n");
            assert_eq!(emitted(), "before any park\nnever held\n");
            worker_parked();
            assert_eq!(
                emitted(),
                "before any park\nnever held\nheld until the next park\n"
            );
        })
        .join()
        .expect("thread");
    }

    #[test]
    fn a_worker_writes_once_it_holds_a_batch_and_at_flush() {
        std::thread::spawn(|| {
            worker_parked();
            log(Delivery::Batched, &"x".repeat(BATCH_BYTES - 1));
            assert_eq!(emitted(), "", "held below a batch");
            log(Delivery::Batched, "\n");
            assert_eq!(emitted().len(), BATCH_BYTES, "written at a full batch");
            log(Delivery::Batched, "last\n");
            assert_eq!(emitted().len(), BATCH_BYTES);
            flush();
            assert!(emitted().ends_with("x\nlast\n"));
        })
        .join()
        .expect("thread");
    }

    #[test]
    fn a_worker_that_ends_writes_what_it_holds() {
        std::thread::spawn(|| {
            worker_parked();
            log(Delivery::Batched, "held at the end\n");
            // What a thread's end does to its held lines.
            HELD.with_borrow_mut(|held| drop(held.take()));
            assert_eq!(emitted(), "held at the end\n");
        })
        .join()
        .expect("thread");
    }
}
