//! `Event` invocations past the queue's memory bound, kept in order in the `--async-state` file:
//! appended as they arrive, read back as the queue drains, and left there at shutdown (after
//! the events still in memory) for the next start.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::QueuedEvent;
use crate::config::LogLevel;
use crate::logs;

/// The state file as the tail of the queue.
#[derive(Debug)]
pub(super) struct Spill {
    path: PathBuf,
    /// Opened on first use (the file exists only while it holds events).
    file: Option<File>,
    /// Where the next event to read back starts.
    read_at: u64,
    /// Events in the file after `read_at`.
    waiting: usize,
    /// How many of the first events to read back were there at start-up.
    restored: usize,
    /// The next event, read back but not yet taken (it did not fit).
    front: Option<QueuedEvent>,
}

impl Spill {
    /// The queue's tail in `path`, with the events a previous run left there.
    pub(super) fn open(path: &Path) -> Self {
        let existing = File::open(path).and_then(|f| count_lines(&f));
        let waiting = existing.unwrap_or(0);
        Self {
            path: path.to_owned(),
            file: None,
            read_at: 0,
            waiting,
            restored: waiting,
            front: None,
        }
    }

    /// The file.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Events left by the previous run and not read back yet.
    pub(super) fn restored(&self) -> usize {
        self.restored
    }

    /// Whether every spilled event was read back.
    pub(super) fn is_empty(&self) -> bool {
        self.waiting == 0 && self.front.is_none()
    }

    fn file(&mut self) -> io::Result<&File> {
        if self.file.is_none() {
            let file = OpenOptions::new()
                .read(true)
                .append(true)
                .create(true)
                .open(&self.path)?;
            self.file = Some(file);
        }
        self.file
            .as_ref()
            .ok_or_else(|| io::Error::other("no state file"))
    }

    /// Append `event` at the end of the queue.
    // NOTE: a blocking append of at most a few MB to the page cache, on the Invoke API's path:
    // the 202 then means the event is in the file.
    pub(super) fn push(&mut self, event: &QueuedEvent) -> io::Result<()> {
        let mut line = event.to_json_line();
        line.push('\n');
        self.file()?.write_all(line.as_bytes())?;
        self.waiting += 1;
        Ok(())
    }

    /// Take the next event when `fits` says it fits; whether it is one the last run left.
    pub(super) fn take_if(
        &mut self,
        fits: impl Fn(&QueuedEvent) -> bool,
    ) -> Option<(QueuedEvent, bool)> {
        if self.front.is_none() {
            self.front = self.read_next();
        }
        if !self.front.as_ref().is_some_and(fits) {
            return None;
        }
        let restored = self.restored > 0;
        self.restored = self.restored.saturating_sub(1);
        let event = self.front.take();
        if self.waiting == 0 {
            self.reset();
        }
        event.map(|e| (e, restored))
    }

    /// Read the next well-formed event back (skipping any other line).
    fn read_next(&mut self) -> Option<QueuedEvent> {
        while self.waiting > 0 {
            let Ok(Some(line)) = self.read_line() else {
                self.waiting = 0; // the file was cut short behind our back
                return None;
            };
            self.waiting -= 1;
            if let Some(event) = QueuedEvent::from_json_line(&String::from_utf8_lossy(&line)) {
                return Some(event);
            }
            self.restored = self.restored.saturating_sub(1);
            logs::message(
                LogLevel::Warn,
                &format!("skipped a malformed line of {}", self.path.display()),
            );
        }
        None
    }

    /// The line at `read_at` (without its newline), moving past it.
    fn read_line(&mut self) -> io::Result<Option<Vec<u8>>> {
        let start = self.read_at;
        let file = self.file()?;
        let mut line = Vec::new();
        let mut block = vec![0u8; 64 * 1024];
        loop {
            let n = file.read_at(&mut block, start + line.len() as u64)?;
            if n == 0 {
                return Ok(None);
            }
            if let Some(end) = block[..n].iter().position(|&b| b == b'\n') {
                line.extend_from_slice(&block[..end]);
                self.read_at = start + line.len() as u64 + 1;
                return Ok(Some(line));
            }
            line.extend_from_slice(&block[..n]);
        }
    }

    /// Everything was read back: start the file over.
    fn reset(&mut self) {
        if let Some(file) = &self.file {
            if let Err(e) = file.set_len(0) {
                logs::message(
                    LogLevel::Warn,
                    &format!("cannot empty {}: {e}", self.path.display()),
                );
            }
        }
        self.read_at = 0;
    }

    /// At shutdown: make the file hold `first` (the events still in memory), then every event
    /// not read back; the number of events it holds (none: the file is removed).
    pub(super) fn keep(&mut self, first: &[QueuedEvent]) -> io::Result<usize> {
        let front = self.front.take();
        let total = first.len() + usize::from(front.is_some()) + self.waiting;
        if total == 0 {
            self.file = None;
            return match std::fs::remove_file(&self.path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(0),
            };
        }
        let mut name = self.path.clone().into_os_string();
        name.push(".tmp");
        let tmp = PathBuf::from(name);
        let mut out = BufWriter::new(File::create(&tmp)?);
        for event in first.iter().chain(front.as_ref()) {
            writeln!(out, "{}", event.to_json_line())?;
        }
        if self.waiting > 0 {
            let mut rest = File::open(&self.path)?;
            rest.seek(SeekFrom::Start(self.read_at))?;
            io::copy(&mut rest, &mut out)?;
        }
        out.into_inner()
            .map_err(io::IntoInnerError::into_error)?
            .sync_all()?;
        std::fs::rename(&tmp, &self.path)?;
        self.file = None;
        Ok(total)
    }
}

/// The number of lines of `file`.
#[allow(clippy::naive_bytecount)] // NOTE: once per start; not worth the bytecount crate
fn count_lines(mut file: &File) -> io::Result<usize> {
    let mut block = vec![0u8; 64 * 1024];
    let mut lines = 0;
    loop {
        let n = file.read(&mut block)?;
        if n == 0 {
            return Ok(lines);
        }
        lines += block[..n].iter().filter(|&&b| b == b'\n').count();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: usize) -> QueuedEvent {
        QueuedEvent {
            function: "f".into(),
            request_id: format!("id-{n}"),
            payload: bytes::Bytes::from(format!("{{\"n\": {n}}}")),
            invoked_arn: "arn".into(),
            trace_id: "trace".into(),
            accepted_ms: 1,
            attempts: 0,
        }
    }

    fn ids(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter_map(QueuedEvent::from_json_line)
            .map(|e| e.request_id)
            .collect()
    }

    /// A state file path no other test uses; its directory goes with `clean_up`.
    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("lambda-rie-spill-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch directory");
        dir.join("queued.jsonl")
    }

    fn clean_up(path: &Path) {
        if let Some(dir) = path.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    #[test]
    fn spilled_events_come_back_in_order_and_the_file_starts_over() {
        let path = scratch("order");
        let mut spill = Spill::open(&path);
        for n in 0..3 {
            spill.push(&event(n)).expect("push");
        }
        assert!(
            spill.take_if(|_| false).is_none(),
            "nothing fits: nothing taken"
        );
        let taken: Vec<String> = std::iter::from_fn(|| spill.take_if(|_| true))
            .map(|(e, restored)| {
                assert!(!restored);
                e.request_id
            })
            .collect();
        assert_eq!(taken, ["id-0", "id-1", "id-2"]);
        assert!(spill.is_empty());
        assert_eq!(std::fs::metadata(&path).map(|m| m.len()).ok(), Some(0));
        spill.push(&event(3)).expect("push after the reset");
        assert_eq!(
            spill
                .take_if(|_| true)
                .map(|(e, _)| e.request_id)
                .as_deref(),
            Some("id-3")
        );
        clean_up(&path);
    }

    #[test]
    fn shutdown_keeps_the_held_events_first_then_the_unread_ones() {
        let path = scratch("keep");
        let mut spill = Spill::open(&path);
        for n in 2..5 {
            spill.push(&event(n)).expect("push");
        }
        assert_eq!(
            spill
                .take_if(|_| true)
                .map(|(e, _)| e.request_id)
                .as_deref(),
            Some("id-2")
        );
        assert!(spill.take_if(|e| e.request_id != "id-3").is_none());
        assert_eq!(spill.keep(&[event(0), event(1)]).ok(), Some(4));
        assert_eq!(ids(&path), ["id-0", "id-1", "id-3", "id-4"]);

        let mut restarted = Spill::open(&path);
        assert_eq!(restarted.restored(), 4);
        let (first, restored) = restarted.take_if(|_| true).expect("an event");
        assert_eq!((first.request_id.as_str(), restored), ("id-0", true));
        assert_eq!(restarted.keep(&[]).ok(), Some(3));
        let mut emptied = Spill::open(&path);
        while emptied.take_if(|_| true).is_some() {}
        assert_eq!(emptied.keep(&[]).ok(), Some(0));
        assert!(!path.exists(), "an empty queue leaves no state file");
        clean_up(&path);
    }
}
