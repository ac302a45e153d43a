//! A runtime process's `/proc/<pid>/status`, read for its peak memory (`VmHWM`) after every
//! invocation (the REPORT line's `Max Memory Used`).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::OnceLock;

/// Bytes of `/proc/<pid>/status` read: `VmHWM` sits in its first 1 KiB on every kernel.
const STATUS_READ: usize = 4096;

/// `/proc/<pid>/status` of one process, opened at the first reading and kept open.
#[derive(Debug)]
pub(super) struct StatusFile {
    pid: i32,
    file: OnceLock<Option<File>>,
}

impl StatusFile {
    /// Nothing is opened until the first reading.
    pub(super) fn new(pid: i32) -> Self {
        Self {
            pid,
            file: OnceLock::new(),
        }
    }

    /// Peak resident memory so far, KiB (`VmHWM`); 0 when it cannot be read.
    pub(super) fn peak_memory_kb(&self) -> u64 {
        // NOTE: one pread from offset 0 makes the kernel render the file afresh, so the file
        // stays open: a reading costs one system call instead of an open, a statx, eight
        // growing reads and a close. The open file also keeps naming this process if its pid
        // is reused after it exits (reads then fail, and 0 is reported).
        let file = self
            .file
            .get_or_init(|| File::open(format!("/proc/{}/status", self.pid)).ok());
        let mut buf = [0u8; STATUS_READ];
        let Some(read) = file.as_ref().and_then(|f| f.read_at(&mut buf, 0).ok()) else {
            return 0;
        };
        vm_hwm_kb(&buf[..read]).unwrap_or(0)
    }
}

/// The `VmHWM:` figure (KiB) of a `/proc/<pid>/status` text.
fn vm_hwm_kb(status: &[u8]) -> Option<u64> {
    figure_kb(status, b"VmHWM:")
}

/// The figure (KiB) of the line starting with `key` in a `/proc/<pid>/status` text.
fn figure_kb(status: &[u8], key: &[u8]) -> Option<u64> {
    let figure = status
        .split(|&b| b == b'\n')
        .find_map(|line| line.strip_prefix(key))?;
    let figure = std::str::from_utf8(figure).ok()?;
    figure.trim().trim_end_matches("kB").trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peak_is_read_from_its_line() {
        let status = b"Name:\tpython3\nVmPeak:\t   39864 kB\nVmHWM:\t   15012 kB\nVmRSS:\t 9 kB\n";
        assert_eq!(vm_hwm_kb(status), Some(15012));
        assert_eq!(vm_hwm_kb(b"Name:\tkthreadd\nState:\tS\n"), None);
    }

    #[test]
    fn a_kept_open_file_sees_the_peak_grow() {
        let status = StatusFile::new(std::process::id() as i32);
        let first = status.peak_memory_kb();
        assert!(first > 0);
        // NOTE: more than the peak so far, so that the resident set passes it whatever other
        // tests (running alongside) allocated and freed before.
        let bytes = usize::try_from(first + (64 << 10)).unwrap() << 10;
        let grown = std::hint::black_box(vec![1u8; bytes]);
        let fresh = std::fs::read_to_string("/proc/self/status").unwrap();
        let resident = figure_kb(fresh.as_bytes(), b"VmRSS:").unwrap();
        let again = status.peak_memory_kb();
        // The peak is at least the resident set read after it grew past the first peak.
        assert!(
            resident > first && again >= resident,
            "{first} {resident} {again}"
        );
        drop(grown);
    }

    #[test]
    fn a_process_that_is_gone_reads_as_zero() {
        assert_eq!(StatusFile::new(i32::MAX).peak_memory_kb(), 0);
    }
}
