//! `--watch`: poll a function's code directory and replace its environments when a file
//! changes, so the next invoke runs the new code without restarting lambda-rie.

use std::path::Path;
use std::sync::Weak;
use std::time::{Duration, SystemTime};

use crate::scheduler::Scheduler;

/// How often the code directory is scanned.
const POLL: Duration = Duration::from_millis(250);

/// A cheap fingerprint of a directory tree: newest modification time, file count, total size.
fn fingerprint(dir: &Path) -> (Option<SystemTime>, u64, u64) {
    let mut newest = None;
    let (mut files, mut bytes) = (0, 0);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.filter_map(Result::ok) {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || name == "__pycache__" || name == "node_modules" {
                continue;
            }
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_dir() {
                stack.push(e.path());
                continue;
            }
            files += 1;
            bytes += meta.len();
            if let Ok(m) = meta.modified() {
                newest = newest.max(Some(m));
            }
        }
    }
    (newest, files, bytes)
}

/// Watch for as long as the scheduler exists.
pub async fn watch(scheduler: Weak<Scheduler>) {
    let Some(dir) = scheduler
        .upgrade()
        .map(|s| s.function().config.code_dir.clone())
    else {
        return;
    };
    let scan = |d: std::path::PathBuf| tokio::task::spawn_blocking(move || fingerprint(&d));
    let Ok(mut last) = scan(dir.clone()).await else {
        return;
    };
    loop {
        tokio::time::sleep(POLL).await;
        let Ok(now) = scan(dir.clone()).await else {
            return;
        };
        let Some(s) = scheduler.upgrade() else { return };
        if now != last {
            last = now;
            crate::logs::message(
                crate::config::LogLevel::Info,
                &format!(
                    "{} changed: replacing the environments of {}",
                    dir.display(),
                    s.function().config.name
                ),
            );
            s.code_changed();
        }
    }
}
