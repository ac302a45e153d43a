//! One environment's log stream: runtime stdout/stderr (one pipe, so their order is kept)
//! interleaved with the platform's lines in the order AWS shows them, lines split at
//! CloudWatch's 256 KB, plus the current invocation's log for `X-Amz-Log-Type: Tail`.

use std::io;
use std::os::fd::OwnedFd;
use std::task::Poll;

use bytes::Bytes;
use std::sync::Arc;

use tokio::net::unix::pipe;
use tokio::sync::{mpsc, oneshot};

use super::process::RuntimeProcess;
use crate::config::LOG_LINE_BYTES;
use crate::logs::ClosingLines;
use crate::runtime_api::telemetry::{self, Category, TelemetryHub};

/// Most bytes of one invocation's log kept in memory (the Tail header takes the last 4 KiB).
const CAPTURE_LIMIT: usize = 1 << 20;
/// Bytes read from the pipe at a time: less than a log line's limit, so that a line read
/// whole never needs splitting.
const READ_CHUNK: usize = 16 << 10;
const _: () = assert!(READ_CHUNK < LOG_LINE_BYTES);
/// Runtime output read in one go before the log task lets other tasks run.
const READ_BATCH: usize = 1 << 20;
// NOTE: what a runtime wrote before a command (its answer, say) is in the pipe, which holds at
// most 1 MiB (fs.pipe-max-size); a runtime that keeps writing holds a command no longer.
const COMMAND_DRAIN: usize = 4 << 20;
/// Lines collected before they go to the writer.
const FLUSH_BYTES: usize = 256 << 10;

enum Command {
    /// Start capturing an invocation's log.
    Begin(String),
    /// Write platform lines after everything the runtime wrote so far.
    Lines(String),
    /// Publish a platform telemetry record after everything the runtime wrote so far.
    Platform(&'static str, serde_json::Value),
    /// Measure the runtime's peak memory, write the closing lines, stop capturing `id`, and
    /// hand back the captured log and the memory figure (when someone waits for them).
    Finish {
        id: Option<String>,
        lines: ClosingLines,
        process: Option<Arc<RuntimeProcess>>,
        reply: Option<oneshot::Sender<(Bytes, u64)>>,
        /// The `platform.report` status (`success`, `error`, `timeout`, `failure`).
        status: &'static str,
    },
}

/// Handle to the environment's log task; the task ends when the handle is dropped.
#[derive(Debug)]
pub struct LogStream {
    tx: mpsc::UnboundedSender<Command>,
    write_end: OwnedFd,
}

impl LogStream {
    /// Create the pipe and start the task that drains it to stdout; its lines are `category`
    /// records for the environment's telemetry subscribers.
    pub fn start(hub: Arc<TelemetryHub>, category: Category) -> io::Result<Self> {
        let (read_end, write_end) = super::process::log_pipe()?;
        let receiver = pipe::Receiver::from_owned_fd(read_end)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let sink = Sink {
            partial: Vec::new(),
            captures: Vec::new(),
            out: Vec::new(),
            hub,
            category,
        };
        tokio::spawn(run(receiver, rx, sink));
        Ok(Self { tx, write_end })
    }

    /// Publish a platform record in log order (after the runtime's output so far).
    pub fn platform(&self, kind: &'static str, record: serde_json::Value) {
        let _ = self.tx.send(Command::Platform(kind, record));
    }

    /// The write end runtimes inherit as stdout and stderr.
    pub fn write_end(&self) -> &OwnedFd {
        &self.write_end
    }

    /// Start capturing `request_id`'s log (before a cold start, so it includes init).
    /// Overlapping invocations (multi-concurrency) each capture everything written meanwhile.
    pub fn begin(&self, request_id: &str) {
        let _ = self.tx.send(Command::Begin(request_id.to_owned()));
    }

    /// Write platform lines (each ending in `\n`) after the runtime's output so far.
    pub fn lines(&self, lines: String) {
        let _ = self.tx.send(Command::Lines(lines));
    }

    /// Close an invocation whose log nobody waits for: memory is measured and the lines are
    /// written by the log task, after the answer has gone out.
    pub fn finish_detached(
        &self,
        lines: ClosingLines,
        process: Option<Arc<RuntimeProcess>>,
        status: &'static str,
    ) {
        let _ = self.tx.send(Command::Finish {
            id: None,
            lines,
            process,
            reply: None,
            status,
        });
    }

    /// Close `request_id` and return its captured log and the peak memory, MB.
    pub async fn finish(
        &self,
        request_id: &str,
        lines: ClosingLines,
        process: Option<Arc<RuntimeProcess>>,
        status: &'static str,
    ) -> (Bytes, u64) {
        let (tx, rx) = oneshot::channel();
        let cmd = Command::Finish {
            id: Some(request_id.to_owned()),
            lines,
            process,
            reply: Some(tx),
            status,
        };
        if self.tx.send(cmd).is_err() {
            return (Bytes::new(), 0);
        }
        rx.await.unwrap_or_default()
    }
}

struct Sink {
    /// The runtime's current line, at most `LOG_LINE_BYTES`.
    partial: Vec<u8>,
    captures: Vec<(String, Vec<u8>)>,
    /// Whole lines not yet handed to the writer, about `FLUSH_BYTES` at most.
    out: Vec<u8>,
    hub: Arc<TelemetryHub>,
    category: Category,
}

impl Sink {
    /// Take in runtime bytes (at most `READ_CHUNK`): whole lines go out, a trailing partial
    /// line waits, and a line longer than `LOG_LINE_BYTES` goes out in pieces of that size.
    /// Only the new bytes are scanned.
    fn runtime_bytes(&mut self, data: &[u8]) {
        let Some(last) = data.iter().rposition(|&b| b == b'\n') else {
            self.extend_partial(data);
            return;
        };
        let mut whole = &data[..=last];
        if !self.partial.is_empty() {
            let first = whole.iter().position(|&b| b == b'\n').unwrap_or(last);
            self.extend_partial(&whole[..first]);
            self.close_partial();
            whole = &whole[first + 1..];
        }
        // Every line inside one read is shorter than READ_CHUNK, hence than a log line's limit.
        if !whole.is_empty() {
            self.publish(whole);
            self.emit(whole);
        }
        self.extend_partial(&data[last + 1..]);
    }

    /// Add to the partial line, sending out a full `LOG_LINE_BYTES` piece whenever it overflows.
    fn extend_partial(&mut self, mut bytes: &[u8]) {
        while self.partial.len() + bytes.len() > LOG_LINE_BYTES {
            let room = LOG_LINE_BYTES - self.partial.len();
            self.partial.extend_from_slice(&bytes[..room]);
            bytes = &bytes[room..];
            self.close_partial();
        }
        self.partial.extend_from_slice(bytes);
    }

    /// Runtime (or extension) lines as telemetry records, when anyone subscribed.
    fn publish(&self, lines: &[u8]) {
        if self.hub.is_active() {
            for line in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                self.hub.log_line(self.category, line);
            }
        }
    }

    /// End the pending partial line (a platform line must not split a runtime line).
    fn close_partial(&mut self) {
        if self.partial.is_empty() {
            return;
        }
        let mut line = std::mem::take(&mut self.partial);
        line.push(b'\n');
        self.publish(&line);
        self.emit(&line);
        line.clear();
        self.partial = line;
    }

    fn emit(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
        for (_, cap) in &mut self.captures {
            cap.extend_from_slice(bytes);
            // NOTE: trimmed only at twice the limit, so that each byte is moved at most once.
            if cap.len() > 2 * CAPTURE_LIMIT {
                cap.drain(..cap.len() - CAPTURE_LIMIT);
            }
        }
    }

    /// Hand the collected lines to the writer (waits while its queue is full).
    async fn flush(&mut self) {
        if !self.out.is_empty() {
            let lines = Bytes::from(std::mem::take(&mut self.out));
            crate::logs::write_function_log(lines).await;
        }
    }

    /// Carry out one command, after everything the runtime wrote before it.
    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Begin(id) => self.captures.push((id, Vec::new())),
            Command::Lines(lines) => {
                self.close_partial();
                self.emit(lines.as_bytes());
            }
            Command::Platform(kind, record) => {
                self.close_partial();
                self.hub.platform(kind, record);
            }
            Command::Finish {
                id,
                lines,
                process,
                reply,
                status,
            } => {
                let memory_mb = process.map_or(0, |p| p.peak_memory_kb().div_ceil(1024));
                self.close_partial();
                self.emit(lines.render(memory_mb).as_bytes());
                if self.hub.is_active() {
                    let report = telemetry::report(&lines, memory_mb, status);
                    self.hub.platform("platform.report", report);
                }
                let mut captured = id
                    .and_then(|id| self.captures.iter().position(|(c, _)| *c == id))
                    .map(|i| self.captures.swap_remove(i).1)
                    .unwrap_or_default();
                if captured.len() > CAPTURE_LIMIT {
                    captured.drain(..captured.len() - CAPTURE_LIMIT);
                }
                if let Some(reply) = reply {
                    let _ = reply.send((Bytes::from(captured), memory_mb));
                }
            }
        }
    }
}

/// Read what the pipe holds right now, up to `limit` bytes or until `FLUSH_BYTES` of lines are
/// collected; the bytes read, and whether the pipe is empty.
fn read_some(receiver: &pipe::Receiver, sink: &mut Sink, limit: usize) -> (usize, bool) {
    let mut buf = [0u8; READ_CHUNK];
    let mut read = 0;
    while read < limit && sink.out.len() < FLUSH_BYTES {
        match receiver.try_read(&mut buf) {
            Ok(0) => return (read, true),
            Ok(n) => {
                sink.runtime_bytes(&buf[..n]);
                read += n;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return (read, true), // WouldBlock: the pipe is empty
        }
    }
    (read, false)
}

/// Read up to `limit` bytes of what the pipe holds, handing lines to the writer as they collect.
async fn drain(receiver: &pipe::Receiver, sink: &mut Sink, limit: usize) {
    let mut left = limit;
    loop {
        let (read, empty) = read_some(receiver, sink, left);
        sink.flush().await;
        left = left.saturating_sub(read);
        if empty || left == 0 {
            return;
        }
    }
}

/// Let every task woken so far run first.
// NOTE: an invocation whose log nobody waits for wakes this task (its END and REPORT) before
// the Invoke API connection that carries its answer; going to the back of the run queue once
// lets the answer go out first, sparing the caller the memory reading and the log write.
async fn after_woken_tasks() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await;
}

async fn run(receiver: pipe::Receiver, mut rx: mpsc::UnboundedReceiver<Command>, mut sink: Sink) {
    loop {
        tokio::select! {
            biased;
            cmd = rx.recv() => {
                let Some(cmd) = cmd else { break };
                if matches!(cmd, Command::Finish { reply: None, .. }) {
                    after_woken_tasks().await;
                }
                // NOTE: a runtime writes its log lines before it posts its answer, so they
                // are in the pipe by now; draining first keeps AWS's order (output before END).
                drain(&receiver, &mut sink, COMMAND_DRAIN).await;
                sink.command(cmd);
                sink.flush().await;
            }
            ready = receiver.readable() => {
                if ready.is_err() {
                    break;
                }
                drain(&receiver, &mut sink, READ_BATCH).await;
            }
        }
    }
    sink.close_partial();
    sink.flush().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink() -> Sink {
        Sink {
            partial: Vec::new(),
            captures: Vec::new(),
            out: Vec::new(),
            hub: Arc::default(),
            category: Category::Function,
        }
    }

    fn feed(sink: &mut Sink, bytes: &[u8]) {
        for chunk in bytes.chunks(READ_CHUNK) {
            sink.runtime_bytes(chunk);
        }
    }

    fn line_lengths(out: &[u8]) -> Vec<usize> {
        assert_eq!(out.last(), Some(&b'\n'));
        out[..out.len() - 1]
            .split(|&b| b == b'\n')
            .map(<[u8]>::len)
            .collect()
    }

    #[test]
    fn lines_split_across_reads_are_joined() {
        let mut s = sink();
        for read in [&b"ab"[..], b"c\nde", b"f\ng\nh"] {
            s.runtime_bytes(read);
        }
        assert_eq!(s.out, b"abc\ndef\ng\n");
        s.close_partial();
        assert_eq!(s.out, b"abc\ndef\ng\nh\n");
    }

    #[test]
    fn a_long_line_goes_out_in_pieces_of_the_limit() {
        let mut s = sink();
        feed(&mut s, &vec![b'x'; 3 * LOG_LINE_BYTES + 100]);
        assert_eq!(s.partial.len(), 100);
        feed(&mut s, b"\nshort\n");
        let limit = LOG_LINE_BYTES;
        assert_eq!(line_lengths(&s.out), [limit, limit, limit, 100, 5]);
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_one_line() {
        let mut s = sink();
        let mut line = vec![b'x'; 2 * LOG_LINE_BYTES];
        line.push(b'\n');
        feed(&mut s, &line);
        assert_eq!(line_lengths(&s.out), [LOG_LINE_BYTES, LOG_LINE_BYTES]);
        assert!(s.partial.is_empty());
    }

    #[test]
    fn a_capture_keeps_the_last_bytes_in_bounded_memory() {
        let mut s = sink();
        s.captures.push(("id".into(), Vec::new()));
        for n in 0..3000 {
            let line = format!("{n:06}{}\n", "y".repeat(1017));
            s.emit(line.as_bytes());
        }
        let cap = &s.captures[0].1;
        assert!(cap.len() <= 2 * CAPTURE_LIMIT);
        assert!(cap[cap.len() - 1024..].starts_with(b"002999y"));
    }
}
