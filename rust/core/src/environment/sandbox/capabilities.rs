//! What the machine lets the emulator do, detected once, and the start-up line that says which
//! isolation mechanisms are active and which fell back.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::OnceLock;

use super::cgroup::{self, Controller};
use super::pid_namespace::PidNamespace;
use super::tmp::{MountPlan, PrivateTmp};
use super::user;
use crate::config::{FunctionConfig, RunAs};

/// What this machine lets the emulator do, detected once.
#[derive(Debug, Clone)]
pub struct Capabilities {
    /// Private mount namespaces with a tmpfs `/tmp`.
    pub namespaces: bool,
    /// A PID namespace (with its own `/proc`) per environment.
    pub pid_namespaces: bool,
    /// Running runtimes as another user (the emulator is root).
    pub switch_user: bool,
    /// Writable cgroup v1 controller directories.
    pub cgroups: Vec<(Controller, PathBuf)>,
}

impl Capabilities {
    /// Detect (once per process) what isolation is available. `LAMBDA_RIE_ISOLATION=off`
    /// forces the fallbacks (for tests of the fallbacks and for unprivileged hosts).
    pub fn get() -> &'static Capabilities {
        static CAPS: OnceLock<Capabilities> = OnceLock::new();
        CAPS.get_or_init(|| {
            if std::env::var("LAMBDA_RIE_ISOLATION").is_ok_and(|v| v == "off") {
                return Capabilities {
                    namespaces: false,
                    pid_namespaces: false,
                    switch_user: false,
                    cgroups: Vec::new(),
                };
            }
            let probe = || MountPlan::new(1, &[], None);
            // NOTE: a PID namespace comes with its mount namespace, so one probe answers both
            // when it succeeds; its holder is reaped off the start-up path (a namespace's
            // teardown can wait for an RCU grace period).
            let pid_namespaces = match probe().and_then(PidNamespace::create) {
                Ok(created) => {
                    std::thread::spawn(move || drop(created));
                    true
                }
                Err(_) => false,
            };
            let namespaces =
                pid_namespaces || probe().and_then(|p| PrivateTmp::namespace(&p)).is_ok();
            let cgroups: Vec<(Controller, PathBuf)> = Controller::ALL
                .iter()
                .filter_map(|c| cgroup::parent_dir(*c).map(|d| (*c, d)))
                .collect();
            cgroup::remove_stale(&cgroups);
            Capabilities {
                namespaces,
                pid_namespaces,
                // SAFETY: geteuid(2) has no failure mode.
                switch_user: unsafe { libc::geteuid() } == 0,
                cgroups,
            }
        })
    }

    /// Whether a controller is available.
    pub fn has(&self, controller: Controller) -> bool {
        self.cgroups.iter().any(|(c, _)| *c == controller)
    }

    /// Whether a Runtime API can tell its environment's processes from others': through the
    /// environment's PID namespace or its cgroup.
    pub fn runtime_api_check(&self) -> bool {
        self.pid_namespaces || !self.cgroups.is_empty()
    }

    /// The start-up line that says which mechanisms are active for `functions`.
    pub fn describe(
        &self,
        cpu_by_memory: bool,
        freeze: bool,
        functions: &[&FunctionConfig],
    ) -> String {
        let tmp = if self.namespaces {
            "private /tmp: mount namespace + size-limited tmpfs"
        } else {
            "private /tmp: TMPDIR directory per environment (namespaces refused; size checked after each invocation)"
        };
        let pid = if self.pid_namespaces {
            "PID namespace per environment with its own /proc"
        } else {
            "PID namespace: the emulator's (refused; environments see each other's processes)"
        };
        let api = if self.runtime_api_check() {
            "Runtime API: refused to other environments' processes"
        } else {
            "Runtime API: open to every local process (no PID namespace or cgroup to tell environments apart)"
        };
        let mem = if self.has(Controller::Memory) {
            "memory: cgroup v1 limit"
        } else {
            "memory: RLIMIT_AS (MemoryError in the function instead of an OOM kill)"
        };
        let pids = if self.has(Controller::Pids) {
            "processes: cgroup pids.max 1024"
        } else {
            "processes: unlimited (no pids cgroup)"
        };
        let cpu = match (cpu_by_memory, self.has(Controller::Cpu)) {
            (false, _) => "cpu: unlimited",
            (true, true) => "cpu: cgroup quota of memory/1769 vCPUs",
            (true, false) => "cpu: unlimited (no cpu cgroup)",
        };
        let frz = match (freeze, self.has(Controller::Freezer)) {
            (false, _) => "freeze: off",
            (true, true) => "freeze: cgroup freezer between invocations",
            (true, false) => "freeze: SIGSTOP/SIGCONT between invocations",
        };
        let users = self.describe_users(functions);
        format!(
            "Isolation: {tmp}; {pid}; {api}; {users}; {mem}; {pids}; {cpu}; {frz}; rlimits: nofile 1024, core 0"
        )
    }

    /// `user: ...` for the functions: the configured users, and every function that runs as
    /// root because its user cannot read its code or runtime.
    fn describe_users(&self, functions: &[&FunctionConfig]) -> String {
        if !self.switch_user {
            return "user: the emulator's own (not root: no user switch)".to_owned();
        }
        let mut users: Vec<String> = Vec::new();
        let mut fallbacks: Vec<String> = Vec::new();
        for f in functions {
            let said = match f.run_as {
                RunAs::Root => "root (--run-as root)".to_owned(),
                RunAs::User { uid, gid } => format!("uid {uid} gid {gid}"),
            };
            if !users.contains(&said) {
                users.push(said);
            }
            if let Some(why) = user::for_function(f).fallback {
                fallbacks.push(format!("{}: root, {why}", f.name));
            }
        }
        let mut line = format!("user: {}", users.join(", "));
        if !fallbacks.is_empty() {
            let _ = write!(line, " (except {})", fallbacks.join("; "));
        }
        line
    }
}
