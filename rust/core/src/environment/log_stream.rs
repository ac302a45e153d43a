//! One environment's log stream: runtime stdout/stderr (one pipe, so their order is kept)
//! interleaved with the platform's lines in the order AWS shows them, plus the current
//! invocation's log for `X-Amz-Log-Type: Tail`.

use std::io;
use std::os::fd::OwnedFd;

use bytes::Bytes;
use std::sync::Arc;

use tokio::net::unix::pipe;
use tokio::sync::{mpsc, oneshot};

use super::process::RuntimeProcess;
use crate::logs::ClosingLines;
use crate::runtime_api::telemetry::{self, Category, TelemetryHub};

/// Most bytes of one invocation's log kept in memory (the Tail header takes the last 4 KiB).
const CAPTURE_LIMIT: usize = 1 << 20;

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
    partial: Vec<u8>,
    captures: Vec<(String, Vec<u8>)>,
    out: Vec<u8>,
    hub: Arc<TelemetryHub>,
    category: Category,
}

impl Sink {
    /// Take in runtime bytes: whole lines go out, a trailing partial line waits.
    fn runtime_bytes(&mut self, data: &[u8]) {
        self.partial.extend_from_slice(data);
        if let Some(pos) = self.partial.iter().rposition(|&b| b == b'\n') {
            let rest = self.partial.split_off(pos + 1);
            let lines = std::mem::replace(&mut self.partial, rest);
            self.publish(&lines);
            self.emit(&lines);
        }
    }

    /// Runtime (or extension) lines as telemetry records, when anyone subscribed.
    fn publish(&self, lines: &[u8]) {
        if self.hub.is_active() {
            for line in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                self.hub.log_line(self.category, line);
            }
        }
    }

    /// A platform line must not split a runtime line: end a pending partial line first.
    fn close_partial(&mut self) {
        if !self.partial.is_empty() {
            let mut line = std::mem::take(&mut self.partial);
            line.push(b'\n');
            self.publish(&line);
            self.emit(&line);
        }
    }

    fn emit(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
        for (_, cap) in &mut self.captures {
            cap.extend_from_slice(bytes);
            if cap.len() > CAPTURE_LIMIT {
                let cut = cap.len() - CAPTURE_LIMIT;
                cap.drain(..cut);
            }
        }
    }

    fn flush(&mut self) {
        if !self.out.is_empty() {
            crate::logs::write_stdout(&self.out);
            self.out.clear();
        }
    }
}

/// Read everything the pipe holds right now.
fn drain(receiver: &pipe::Receiver, sink: &mut Sink) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match receiver.try_read(&mut buf) {
            Ok(0) => break,
            Ok(n) => sink.runtime_bytes(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break, // WouldBlock: the pipe is empty
        }
    }
}

async fn run(receiver: pipe::Receiver, mut rx: mpsc::UnboundedReceiver<Command>, mut sink: Sink) {
    loop {
        tokio::select! {
            biased;
            cmd = rx.recv() => {
                let Some(cmd) = cmd else { break };
                // NOTE: a runtime writes its log lines before it posts its answer, so they
                // are in the pipe by now; draining first keeps AWS's order (output before END).
                drain(&receiver, &mut sink);
                match cmd {
                    Command::Begin(id) => sink.captures.push((id, Vec::new())),
                    Command::Lines(lines) => {
                        sink.close_partial();
                        sink.emit(lines.as_bytes());
                    }
                    Command::Platform(kind, record) => {
                        sink.close_partial();
                        sink.hub.platform(kind, record);
                    }
                    Command::Finish { id, lines, process, reply, status } => {
                        let memory_mb = process.map_or(0, |p| p.peak_memory_kb().div_ceil(1024));
                        sink.close_partial();
                        sink.emit(lines.render(memory_mb).as_bytes());
                        if sink.hub.is_active() {
                            sink.hub.platform("platform.report", telemetry::report(&lines, memory_mb, status));
                        }
                        let captured = id
                            .and_then(|id| sink.captures.iter().position(|(c, _)| *c == id))
                            .map(|i| sink.captures.swap_remove(i).1)
                            .unwrap_or_default();
                        if let Some(reply) = reply {
                            let _ = reply.send((Bytes::from(captured), memory_mb));
                        }
                    }
                }
                sink.flush();
            }
            ready = receiver.readable() => {
                if ready.is_err() {
                    break;
                }
                drain(&receiver, &mut sink);
                sink.flush();
            }
        }
    }
    sink.close_partial();
    sink.flush();
}
