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
    remove_stale(&dir);
    Some(dir)
}

/// Remove the (empty) cgroups left by emulators that were killed before they could clean up.
fn remove_stale(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix("lambda-rie-")) else {
            continue;
        };
        let owner = rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
        if owner.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
            let _ = fs::remove_dir(entry.path());
        }
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

    /// Pids of every process in the environment.
    pub fn pids(&self) -> Vec<i32> {
        self.read(Controller::Pids, "cgroup.procs")
            .or_else(|| self.read(Controller::Memory, "cgroup.procs"))
            .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default()
    }

    /// SIGKILL every process of the environment (thawing first: frozen tasks cannot die).
    pub fn kill_all(&self) {
        self.set_frozen(false);
        for pid in self.pids() {
            // SAFETY: kill(2) on a pid read from our own cgroup.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

impl Drop for EnvironmentCgroup {
    fn drop(&mut self) {
        self.kill_all();
        self.procs.clear();
        for (_, dir) in &self.dirs {
            // NOTE: rmdir fails while killed tasks are still exiting; a few short retries.
            for _ in 0..50 {
                if fs::remove_dir(dir).is_ok() || !dir.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        }
    }
}
