//! A container's PID 1 duties: adopt and reap orphaned processes, and turn SIGTERM/SIGINT
//! into a graceful shutdown.

use tokio::signal::unix::{signal, Signal, SignalKind};

/// Become the reaper of orphaned descendants (automatic when running as PID 1).
pub fn become_subreaper() {
    // SAFETY: prctl with integer arguments only.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
    tokio::spawn(reap_orphans());
}

/// Reap adopted zombies that are not runtime processes (those are reaped by their owners).
async fn reap_orphans() {
    let Ok(mut sigchld) = signal(SignalKind::child()) else {
        return;
    };
    while sigchld.recv().await.is_some() {
        for pid in adopted_zombies() {
            crate::environment::process::reap_if_foreign(pid);
        }
    }
}

/// Zombie children of this process, read from `/proc`, as pids of this process's namespace.
///
/// NOTE: `/proc` may belong to an outer PID namespace (`unshare --pid --fork` without a new
/// `/proc`): its pids are then not ours, so this process is found through `/proc/self` and each
/// zombie's own pid is read from its `NSpid` field at this process's depth (a child may be one
/// level deeper still: an environment's PID namespace).
fn adopted_zombies() -> Vec<i32> {
    let Some(me) = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
    else {
        return Vec::new();
    };
    let depth = namespace_pids("self").map_or(0, |p| p.len().saturating_sub(1));
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                // Fields after the command name: state, ppid, ...
                let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
                let mut fields = after.split_whitespace();
                fields.next() == Some("Z") && fields.next() == Some(me.as_str())
            })
        })
        .filter_map(|pid| namespace_pids(&pid.to_string())?.get(depth)?.parse().ok())
        .collect()
}

/// The `NSpid` fields of `/proc/<entry>/status`, outermost first.
fn namespace_pids(entry: &str) -> Option<Vec<String>> {
    let status = std::fs::read_to_string(format!("/proc/{entry}/status")).ok()?;
    let nspid = status.lines().find_map(|l| l.strip_prefix("NSpid:"))?;
    Some(nspid.split_whitespace().map(str::to_owned).collect())
}

/// SIGTERM and SIGINT, registered before any runtime starts.
pub struct ShutdownSignals {
    term: Signal,
    int: Signal,
}

impl ShutdownSignals {
    /// Register the handlers.
    pub fn install() -> std::io::Result<Self> {
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// Wait for either signal.
    pub async fn wait(mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}
