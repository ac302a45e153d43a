//! Where function and platform log lines go: straight out when that cannot wait (see
//! `direct`), else through one writer thread fed by a queue bounded in bytes, so that a stdout
//! nobody reads never blocks the event loop. While the reader is merely slow, producers wait for
//! room (the runtimes' pipes fill and they wait, as before); once it has taken nothing for a
//! while, lines are dropped and counted instead.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::Notify;

use super::direct::DirectWrite;
use crate::config::LogLevel;

/// Most bytes of log lines waiting for the writer thread.
const QUEUE_BYTES: usize = 8 << 20;
/// The writer hands the kernel at most this much at a time, so that its progress is seen.
const WRITE_PIECE: usize = 64 << 10;
// NOTE: a reader that has taken no bytes for a whole second is stuck (a pipe nobody reads, a
// paused terminal) rather than slow: past it, lines are dropped instead of waited for.
const STALL: Duration = Duration::from_secs(1);

static OUTPUT: OnceLock<Output> = OnceLock::new();

struct Output {
    queue: Mutex<Queue>,
    /// The writer waits here for lines.
    lines_queued: Condvar,
    /// Producers wait here for room, and `flush` for an empty queue.
    progressed: Notify,
    to_stderr: AtomicBool,
    dropped_lines: AtomicU64,
    /// How stdout and stderr can be written from the event loop without waiting.
    direct: [DirectWrite; 2],
}

struct Queue {
    chunks: VecDeque<Bytes>,
    /// Bytes queued, including the chunk being written.
    bytes: usize,
    /// The writer holds a chunk.
    writing: bool,
    /// When the writer last handed bytes to the kernel (or took a chunk).
    progress_at: Instant,
    /// Lines were dropped since the writer last made progress (the warning is out).
    stalled: bool,
}

enum Push {
    Queued,
    Dropped,
    Full(Bytes),
}

fn output() -> &'static Output {
    OUTPUT.get_or_init(|| {
        let spawned = std::thread::Builder::new()
            .name("lambda-rie-logs".into())
            .spawn(write_forever);
        if let Err(e) = spawned {
            super::message(
                LogLevel::Error,
                &format!("cannot start the log writer: {e}"),
            );
        }
        Output {
            queue: Mutex::new(Queue {
                chunks: VecDeque::new(),
                bytes: 0,
                writing: false,
                progress_at: Instant::now(),
                stalled: false,
            }),
            lines_queued: Condvar::new(),
            progressed: Notify::new(),
            to_stderr: AtomicBool::new(false),
            dropped_lines: AtomicU64::new(0),
            direct: [DirectWrite::for_fd(1), DirectWrite::for_fd(2)],
        }
    })
}

impl Output {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn try_push(&self, mut chunk: Bytes) -> Push {
        let mut q = self.lock();
        if q.chunks.is_empty() && !q.writing {
            // Nothing ahead of these lines: write what goes without waiting, queue the rest.
            let direct = &self.direct[usize::from(self.to_stderr.load(Ordering::Relaxed))];
            let written = direct.write(&chunk);
            if written > 0 {
                q.progress_at = Instant::now();
                q.stalled = false;
            }
            if written == chunk.len() {
                return Push::Queued;
            }
            chunk = chunk.slice(written..);
        }
        if q.bytes == 0 || q.bytes + chunk.len() <= QUEUE_BYTES {
            q.bytes += chunk.len();
            q.chunks.push_back(chunk);
            let idle = !q.writing;
            if idle {
                // The stall clock starts when the writer is handed work, not when it wakes.
                q.progress_at = Instant::now();
            }
            drop(q);
            if idle {
                self.lines_queued.notify_one();
            }
            return Push::Queued;
        }
        if !q.stalled && q.progress_at.elapsed() < STALL {
            return Push::Full(chunk);
        }
        let warn = !q.stalled;
        q.stalled = true;
        drop(q);
        self.dropped_lines
            .fetch_add(count_lines(&chunk), Ordering::Relaxed);
        if warn {
            super::message(
                LogLevel::Warn,
                &format!(
                    "nothing has read the function logs for {} s: dropping log lines until it does (counted in lambda_rie_log_lines_dropped_total)",
                    STALL.as_secs()
                ),
            );
        }
        Push::Dropped
    }

    /// Note that the writer handed `written` bytes to the kernel.
    fn progress(&self, written: usize) {
        let mut q = self.lock();
        q.bytes = q.bytes.saturating_sub(written);
        q.progress_at = Instant::now();
        q.stalled = false;
        drop(q);
        self.progressed.notify_waiters();
    }
}

/// The number of lines of `chunk` (whole lines only ever come here).
#[allow(clippy::naive_bytecount)] // NOTE: only when lines are dropped; not worth the bytecount crate
fn count_lines(chunk: &[u8]) -> u64 {
    chunk.iter().filter(|&&b| b == b'\n').count() as u64
}

/// The writer thread: write queued chunks in order, forever.
fn write_forever() {
    let out = output();
    loop {
        let chunk = {
            let mut q = out.lock();
            while q.chunks.is_empty() {
                q.writing = false;
                out.progressed.notify_waiters();
                q = out
                    .lines_queued
                    .wait(q)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            q.writing = true;
            q.progress_at = Instant::now();
            q.chunks.pop_front().unwrap_or_default()
        };
        if out.to_stderr.load(Ordering::Relaxed) {
            write_chunk(&mut std::io::stderr().lock(), &chunk, out);
        } else {
            write_chunk(&mut std::io::stdout().lock(), &chunk, out);
        }
    }
}

fn write_chunk(sink: &mut dyn std::io::Write, chunk: &[u8], out: &Output) {
    for piece in chunk.chunks(WRITE_PIECE) {
        // NOTE: a failed write (stdout closed) loses the piece, as a write to a closed
        // CloudWatch stream would; the queue moves on either way.
        let _ = sink.write_all(piece);
        out.progress(piece.len());
    }
    let _ = sink.flush();
}

/// Start the writer thread and open stdout and stderr for writes that never wait, once and
/// before the first line, so that the emulator's threads and fds do not change after start-up.
pub fn open() {
    output();
}

/// Send function and platform log lines to stderr instead of stdout (`lambda-rie invoke`
/// keeps stdout for the payload).
pub fn function_logs_to_stderr(yes: bool) {
    output().to_stderr.store(yes, Ordering::Relaxed);
}

/// Queue whole log lines for stdout (or stderr, see above), in order. Waits while the queue
/// is full and its reader takes bytes; drops (and counts) the lines once the reader is stuck.
pub async fn write_function_log(mut chunk: Bytes) {
    if chunk.is_empty() {
        return;
    }
    let out = output();
    loop {
        let progressed = out.progressed.notified();
        tokio::pin!(progressed);
        progressed.as_mut().enable();
        match out.try_push(chunk) {
            Push::Queued | Push::Dropped => return,
            Push::Full(back) => chunk = back,
        }
        let _ = tokio::time::timeout(STALL, progressed).await;
    }
}

/// Log lines dropped so far because nothing read them.
pub fn dropped_lines() -> u64 {
    OUTPUT
        .get()
        .map_or(0, |out| out.dropped_lines.load(Ordering::Relaxed))
}

/// Wait until every queued log line is written, or `STALL` after the reader stopped taking them.
pub async fn flush() {
    let Some(out) = OUTPUT.get() else { return };
    loop {
        let progressed = out.progressed.notified();
        tokio::pin!(progressed);
        progressed.as_mut().enable();
        {
            let q = out.lock();
            if q.chunks.is_empty() && !q.writing {
                return;
            }
        }
        if tokio::time::timeout(STALL, progressed).await.is_err() {
            return;
        }
    }
}
