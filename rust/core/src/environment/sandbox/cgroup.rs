//! A cgroup (v1 controllers) per execution environment: memory limit and out-of-memory
//! detection, process limit, CPU quota by memory, and the freezer.

use std::fs;
use std::io::{self, Write as _};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

const ROOT: &str = "/sys/fs/cgroup";
/// AWS's process limit per execution environment.
pub const PIDS_MAX: u32 = 1024;
/// CFS period for the CPU quota, microseconds.
const CPU_PERIOD_US: u64 = 100_000;
/// Memory that buys one full vCPU on AWS Lambda, MB.
pub const MB_PER_VCPU: u64 = 1769;

/// The controllers an environment's cgroup uses, each a directory of its own in cgroup v1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Controller {
    /// memory.limit_in_bytes, memory.stat, memory.oom_control.
    Memory,
    /// pids.max, pids.events.
    Pids,
    /// cpu.cfs_quota_us.
    Cpu,
    /// freezer.state.
    Freezer,
}

impl Controller {
    /// Every controller, in the order they are set up.
    pub const ALL: [Controller; 4] = [Self::Memory, Self::Pids, Self::Cpu, Self::Freezer];

    fn name(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Pids => "pids",
            Self::Cpu => "cpu",
            Self::Freezer => "freezer",
        }
    }
}

/// The hierarchy directory of `controller` that this process lives in, when it is writable.
pub fn parent_dir(controller: Controller) -> Option<PathBuf> {
    let name = controller.name();
    let own = fs::read_to_string("/proc/self/cgroup").ok()?;
    let rel = own.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        controllers
            .split(',')
            .any(|c| c == name)
            .then(|| path.to_owned())
    })?;
    let mount = Path::new(ROOT).join(name);
    let dir = mount.join(rel.trim_start_matches('/'));
    let probe = dir.join(format!("lambda-rie-probe-{}", std::process::id()));
    fs::create_dir(&probe).ok()?;
    let _ = fs::remove_dir(&probe);
    Some(dir)
}

/// The cgroup name of environment `env_id`, the `serial`-th of emulator process `pid`.
pub fn environment_name(pid: u32, serial: u64, env_id: u64) -> String {
    format!("lambda-rie-{pid}-{serial}-env{env_id}")
}

/// The emulator process that made the environment cgroup `name`, if it is one.
pub fn environment_owner(name: &str) -> Option<u32> {
    let rest = name.strip_prefix("lambda-rie-")?;
    let mut parts = rest.split('-');
    let owner = parts.next()?.parse().ok()?;
    parts.next()?.parse::<u64>().ok()?;
    parts.next()?.strip_prefix("env")?.parse::<u64>().ok()?;
    Some(owner)
}

/// Remove the environment cgroups under `parents` left by emulators that were killed before
/// they could clean up, killing first whatever still runs in them (a daemon a function
/// started, a runtime restored from a SnapStart template).
pub fn remove_stale(parents: &[(Controller, PathBuf)]) {
    let mut stale: Vec<String> = Vec::new();
    for (_, parent) in parents {
        let Ok(entries) = fs::read_dir(parent) else {
            continue;
        };
        for name in entries.filter_map(|e| e.ok()?.file_name().into_string().ok()) {
            let owner = environment_owner(&name);
            let gone = owner.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists());
            if gone && !stale.contains(&name) {
                stale.push(name);
            }
        }
    }
    let dir_of = |controller: Controller, name: &str| {
        parents
            .iter()
            .find(|(c, _)| *c == controller)
            .map(|(_, parent)| parent.join(name))
            .filter(|d| d.is_dir())
    };
    for name in stale {
        let Some(procs) = parents
            .iter()
            .map(|(_, parent)| parent.join(&name).join("cgroup.procs"))
            .find(|p| p.exists())
        else {
            continue;
        };
        let freezer = dir_of(Controller::Freezer, &name);
        Tasks { procs, freezer }.kill();
        for (_, parent) in parents {
            let dir = parent.join(&name);
            if dir.is_dir() {
                remove_dir_when_empty(&dir);
            }
        }
    }
}

/// The tasks of one cgroup, and its freezer (which keeps them from forking while they are
/// being killed).
struct Tasks {
    procs: PathBuf,
    freezer: Option<PathBuf>,
}

impl Tasks {
    /// The tasks other than the emulator itself, and whether the emulator is one of them.
    fn pids(&self) -> (Vec<i32>, bool) {
        let own = i32::try_from(std::process::id()).unwrap_or(0);
        let all: Vec<i32> = fs::read_to_string(&self.procs)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        let holds_us = all.contains(&own);
        (
            all.into_iter().filter(|pid| *pid != own).collect(),
            holds_us,
        )
    }

    /// SIGKILL every task: frozen first (so that none forks meanwhile), then thawed so that
    /// the kills take effect. Without a freezer, a few rounds catch children forked meanwhile.
    fn kill(&self) {
        let (mut pids, holds_us) = self.pids();
        if pids.is_empty() {
            return;
        }
        // NOTE: never freeze a cgroup the emulator is in: nobody would be left to thaw it.
        let frozen = !holds_us && self.freezer.as_ref().is_some_and(|f| freeze(f));
        for _ in 0..KILL_ROUNDS {
            for pid in &pids {
                // SAFETY: kill(2) on a pid read from the cgroup.
                unsafe { libc::kill(*pid, libc::SIGKILL) };
            }
            if frozen {
                break;
            }
            pids = self.pids().0;
            if pids.is_empty() {
                break;
            }
        }
        if let Some(freezer) = &self.freezer {
            let _ = fs::write(freezer.join("freezer.state"), "THAWED");
        }
    }
}

/// Rounds of kills without a freezer.
const KILL_ROUNDS: usize = 8;

/// Freeze the cgroup at `dir` and wait (bounded) until every task is frozen.
fn freeze(dir: &Path) -> bool {
    let state = dir.join("freezer.state");
    if fs::write(&state, "FROZEN").is_err() {
        return false;
    }
    // NOTE: freezing is asynchronous (FREEZING, then FROZEN); a few ms for a few tasks.
    for _ in 0..500 {
        if fs::read_to_string(&state).is_ok_and(|s| s.trim() == "FROZEN") {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    false
}

/// rmdir `dir`, retrying briefly while killed tasks are still exiting.
fn remove_dir_when_empty(dir: &Path) {
    for _ in 0..500 {
        if fs::remove_dir(dir).is_ok() || !dir.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// One environment's cgroup directories, removed (after killing what is left) on drop.
#[derive(Debug)]
pub struct EnvironmentCgroup {
    dirs: Vec<(Controller, PathBuf)>,
    /// `cgroup.procs` of every controller, opened once for every process moved in.
    procs: Vec<OwnedFd>,
}

impl EnvironmentCgroup {
    /// Create the directories under `parents` and set the limits. With `move_charges`, memory
    /// a process allocated before it was moved in is charged here when it moves.
    pub fn create(
        parents: &[(Controller, PathBuf)],
        name: &str,
        memory_limit_bytes: u64,
        cpu_by_memory: Option<u32>,
        move_charges: bool,
    ) -> io::Result<Self> {
        let mut cg = Self {
            dirs: Vec::new(),
            procs: Vec::new(),
        };
        for (controller, parent) in parents {
            let dir = parent.join(name);
            fs::create_dir_all(&dir)?;
            cg.dirs.push((*controller, dir.clone()));
            match controller {
                Controller::Memory => {
                    fs::write(
                        dir.join("memory.limit_in_bytes"),
                        memory_limit_bytes.to_string(),
                    )?;
                    let _ = fs::write(dir.join("memory.swappiness"), "0");
                    // NOTE: processes are moved in while they start (see `move_in`); what they
                    // allocated before the move is charged here too. Not for SnapStart forks:
                    // their memory is the template's, and walking it would slow every restore.
                    if move_charges {
                        let _ = fs::write(dir.join("memory.move_charge_at_immigrate"), "1");
                    }
                }
                Controller::Pids => fs::write(dir.join("pids.max"), PIDS_MAX.to_string())?,
                Controller::Cpu => {
                    if let Some(mb) = cpu_by_memory {
                        let quota = CPU_PERIOD_US * u64::from(mb) / MB_PER_VCPU;
                        fs::write(dir.join("cpu.cfs_period_us"), CPU_PERIOD_US.to_string())?;
                        fs::write(dir.join("cpu.cfs_quota_us"), quota.max(1000).to_string())?;
                    }
                }
                Controller::Freezer => {}
            }
            let file = fs::OpenOptions::new()
                .write(true)
                .open(dir.join("cgroup.procs"))?;
            cg.procs.push(OwnedFd::from(file));
        }
        Ok(cg)
    }

    /// Move the running process `pid` into every controller's group, off the event loop.
    ///
    /// NOTE: the first cgroup v1 migration after a quiet spell waits an RCU grace period
    /// (10-16 ms here, 0.05 ms for the next ones); moving a runtime while its interpreter
    /// starts, instead of before exec, takes that wait off the cold start.
    pub fn move_in(&self, pid: i32) -> tokio::task::JoinHandle<()> {
        let files: Vec<OwnedFd> = self
            .procs
            .iter()
            .filter_map(|fd| fd.try_clone().ok())
            .collect();
        tokio::task::spawn_blocking(move || {
            // NOTE: never the emulator itself (a pid reused by one of its threads once the
            // process it named is gone): writing any thread's id moves the whole process.
            if pid <= 0 || Path::new(&format!("/proc/self/task/{pid}")).exists() {
                return;
            }
            let pid = pid.to_string();
            for fd in files {
                let _ = fs::File::from(fd).write_all(pid.as_bytes());
            }
        })
    }

    fn dir(&self, controller: Controller) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|(c, _)| *c == controller)
            .map(|(_, d)| d.as_path())
    }

    fn read(&self, controller: Controller, file: &str) -> Option<String> {
        fs::read_to_string(self.dir(controller)?.join(file)).ok()
    }

    /// A `key value` line of a flat-keyed file.
    fn stat(&self, controller: Controller, file: &str, key: &str) -> Option<u64> {
        self.read(controller, file)?.lines().find_map(|l| {
            let (k, v) = l.split_once(' ')?;
            (k == key).then(|| v.trim().parse().ok()).flatten()
        })
    }

    /// Anonymous memory in use (what counts against the function's memory; `/tmp` pages do not).
    pub fn anonymous_bytes(&self) -> Option<u64> {
        self.stat(Controller::Memory, "memory.stat", "total_rss")
    }

    /// Kernel OOM kills so far.
    pub fn oom_kills(&self) -> u64 {
        self.stat(Controller::Memory, "memory.oom_control", "oom_kill")
            .unwrap_or(0)
    }

    /// Times a fork failed on the process limit so far.
    pub fn pid_limit_hits(&self) -> u64 {
        self.stat(Controller::Pids, "pids.events", "max")
            .unwrap_or(0)
    }

    /// The CPU quota written, microseconds per period (`-1` when unlimited).
    pub fn cpu_quota_us(&self) -> Option<i64> {
        self.read(Controller::Cpu, "cpu.cfs_quota_us")?
            .trim()
            .parse()
            .ok()
    }

    /// Freeze (`true`) or thaw every process of the environment; whether it took effect.
    pub fn set_frozen(&self, frozen: bool) -> bool {
        let Some(dir) = self.dir(Controller::Freezer) else {
            return false;
        };
        let state = if frozen { "FROZEN" } else { "THAWED" };
        fs::write(dir.join("freezer.state"), state).is_ok()
    }

    /// Whether the freezer reports the environment frozen.
    pub fn is_frozen(&self) -> bool {
        self.read(Controller::Freezer, "freezer.state")
            .is_some_and(|s| s.trim() == "FROZEN")
    }

    /// The `cgroup.procs` file that lists every process of the environment.
    pub fn procs_file(&self) -> Option<PathBuf> {
        self.dir(Controller::Pids)
            .or_else(|| self.dir(Controller::Memory))
            .or_else(|| self.dirs.first().map(|(_, d)| d.as_path()))
            .map(|d| d.join("cgroup.procs"))
    }

    /// SIGKILL every process of the environment, whatever group or session it is in (frozen
    /// first where the freezer is available, so that none forks meanwhile; thawed after).
    pub fn kill_all(&self) {
        if let Some(procs) = self.procs_file() {
            Tasks {
                procs,
                freezer: self.dir(Controller::Freezer).map(Path::to_path_buf),
            }
            .kill();
        }
    }
}

impl Drop for EnvironmentCgroup {
    fn drop(&mut self) {
        self.kill_all();
        self.procs.clear();
        for (_, dir) in &self.dirs {
            remove_dir_when_empty(dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_names_carry_their_emulator() {
        let name = environment_name(4242, 7, 3);
        assert_eq!(name, "lambda-rie-4242-7-env3");
        assert_eq!(environment_owner(&name), Some(4242));
        assert_eq!(environment_owner("lambda-rie-probe-4242"), None);
        assert_eq!(environment_owner("lambda-rie-4242-layers"), None);
    }
}
