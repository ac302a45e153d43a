//! Who belongs to an execution environment, for its Runtime API: the process that holds the
//! client end of a connection (found by the socket's inode) is looked for among the
//! environment's processes (its PID namespace's `/proc`, its cgroup, the processes started for
//! it), then anywhere: a process of another environment is refused, a process outside every
//! environment (a debugger, a test playing the runtime) is not.

use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

use super::cgroup;
use crate::runtime_api::Membership;

/// How many processes started for an environment are remembered (a runtime and extensions).
const STARTED_MEMORY: usize = 32;

/// The processes of one environment.
#[derive(Debug)]
pub struct EnvironmentMembers {
    /// The environment's own `/proc` (its PID namespace's), when it has one.
    proc_dir: Option<OwnedFd>,
    /// Its PID namespace, as `/proc/PID/ns/pid` links name it (`pid:[N]`).
    pid_namespace: Option<String>,
    /// `cgroup.procs` of its cgroup, when it has one.
    cgroup_procs: Option<PathBuf>,
    /// Processes started for it, before (or without) their move into its cgroup.
    started: Mutex<Vec<i32>>,
}

impl EnvironmentMembers {
    /// Members found through `proc_dir` (a `/proc` of the environment's PID namespace
    /// `pid_ns`) and the cgroup's `cgroup_procs`.
    pub fn new(
        proc_dir: Option<&OwnedFd>,
        pid_ns: Option<&OwnedFd>,
        cgroup_procs: Option<PathBuf>,
    ) -> io::Result<Self> {
        let pid_namespace = match pid_ns {
            Some(fd) => Some(format!(
                "pid:[{}]",
                std::fs::File::from(fd.try_clone()?).metadata()?.ino()
            )),
            None => None,
        };
        Ok(Self {
            proc_dir: proc_dir.map(OwnedFd::try_clone).transpose()?,
            pid_namespace,
            cgroup_procs,
            started: Mutex::new(Vec::new()),
        })
    }

    /// `pid` was started for the environment (a runtime or an extension).
    pub fn track(&self, pid: i32) {
        let mut started = self.started.lock().unwrap_or_else(PoisonError::into_inner);
        // SAFETY: kill(2) with signal 0 only checks that the process exists.
        started.retain(|p| unsafe { libc::kill(*p, 0) } == 0);
        if started.len() == STARTED_MEMORY {
            started.remove(0);
        }
        started.push(pid);
    }

    fn started(&self) -> Vec<i32> {
        self.started
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether one of the environment's processes holds `link`, looked for among them.
    fn is_member(&self, link: &str) -> bool {
        if self
            .started()
            .iter()
            .any(|pid| holds(&Path::new("/proc").join(pid.to_string()), link))
        {
            return true;
        }
        if let Some(dir) = &self.proc_dir {
            let proc = PathBuf::from(format!(
                "/proc/self/fd/{}",
                std::os::fd::AsRawFd::as_raw_fd(dir)
            ));
            if processes(&proc).any(|p| holds(&p, link)) {
                return true;
            }
        }
        self.cgroup_procs.as_ref().is_some_and(|procs| {
            std::fs::read_to_string(procs)
                .unwrap_or_default()
                .lines()
                .any(|pid| holds(&Path::new("/proc").join(pid.trim()), link))
        })
    }

    /// Whether `process` (a `/proc/PID` of the emulator's `/proc`) is one of the environment's,
    /// looked at from the process's side (it may have started or moved in meanwhile).
    fn owns(&self, process: &Path) -> bool {
        let pid = process
            .file_name()
            .and_then(|n| n.to_str()?.parse::<i32>().ok());
        if pid.is_some_and(|pid| self.started().contains(&pid)) {
            return true;
        }
        let namespace = std::fs::read_link(process.join("ns/pid")).ok();
        if self.pid_namespace.is_some()
            && namespace.as_ref().and_then(|n| n.to_str()) == self.pid_namespace.as_deref()
        {
            return true;
        }
        let own_cgroup = self
            .cgroup_procs
            .as_ref()
            .and_then(|p| p.parent()?.file_name()?.to_str());
        own_cgroup.is_some_and(|name| cgroup_names(process).any(|n| n == name))
    }
}

impl Membership for EnvironmentMembers {
    fn admits(&self, socket_inode: u64) -> Result<(), String> {
        let link = format!("socket:[{socket_inode}]");
        if self.is_member(&link) {
            return Ok(());
        }
        match processes(Path::new("/proc")).find(|p| holds(p, &link)) {
            None => Err("no process holds the connection".to_owned()),
            Some(process) if self.owns(&process) => Ok(()),
            Some(process) if in_an_environment(&process) => Err(format!(
                "process {} belongs to another execution environment",
                process
                    .file_name()
                    .map_or("?".into(), |n| n.to_string_lossy())
            )),
            Some(_) => Ok(()),
        }
    }
}

/// The `/proc/PID` directories under `proc`.
fn processes(proc: &Path) -> impl Iterator<Item = PathBuf> {
    std::fs::read_dir(proc)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(|e| e.path())
}

/// Whether the process at `process` (a `/proc/PID`) has `link` (`socket:[N]`) open.
fn holds(process: &Path, link: &str) -> bool {
    let Ok(fds) = std::fs::read_dir(process.join("fd")) else {
        return false;
    };
    fds.filter_map(Result::ok)
        .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|t| t.as_os_str() == link))
}

/// Whether the process at `process` (a `/proc/PID`) lives in an execution environment: in
/// another PID namespace than the emulator's, or in an environment's cgroup.
fn in_an_environment(process: &Path) -> bool {
    static OWN_PID_NAMESPACE: OnceLock<Option<PathBuf>> = OnceLock::new();
    let own = OWN_PID_NAMESPACE.get_or_init(|| std::fs::read_link("/proc/self/ns/pid").ok());
    let namespace = std::fs::read_link(process.join("ns/pid")).ok();
    if own.is_some() && namespace.is_some() && *own != namespace {
        return true;
    }
    cgroup_names(process).any(|name| cgroup::environment_owner(&name).is_some())
}

/// The last component of each of the process's cgroups.
fn cgroup_names(process: &Path) -> impl Iterator<Item = String> {
    std::fs::read_to_string(process.join("cgroup"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.rsplit('/').next().map(str::to_owned))
        .collect::<Vec<_>>()
        .into_iter()
}
