//! Resource isolation of one execution environment (SPEC 5): private size-limited `/tmp`,
//! memory limit with out-of-memory detection, process limit, CPU share, freezer, rlimits.
//! What the machine allows is detected once; what it refuses falls back as SPEC 5 says.

pub mod cgroup;
mod kept;
pub mod tmp;

use std::path::PathBuf;
use std::sync::OnceLock;

use cgroup::{Controller, EnvironmentCgroup};
use tmp::PrivateTmp;

use crate::config::FunctionConfig;

/// Descriptors per environment that every runtime RLIMIT_NOFILE gets, as on AWS.
pub const NOFILE_LIMIT: u64 = 1024;

/// What this machine lets the emulator do, detected once.
#[derive(Debug, Clone)]
pub struct Capabilities {
    /// Private mount namespaces with a tmpfs `/tmp`.
    pub namespaces: bool,
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
                    cgroups: Vec::new(),
                };
            }
            let cgroups: Vec<(Controller, PathBuf)> = Controller::ALL
                .iter()
                .filter_map(|c| cgroup::parent_dir(*c).map(|d| (*c, d)))
                .collect();
            cgroup::remove_stale(&cgroups);
            Capabilities {
                namespaces: PrivateTmp::namespace(1, &[], None).is_ok(),
                cgroups,
            }
        })
    }

    /// Whether a controller is available.
    pub fn has(&self, controller: Controller) -> bool {
        self.cgroups.iter().any(|(c, _)| *c == controller)
    }

    /// The start-up line that says which mechanisms are active.
    pub fn describe(&self, cpu_by_memory: bool, freeze: bool) -> String {
        let tmp = if self.namespaces {
            "private /tmp: mount namespace + size-limited tmpfs"
        } else {
            "private /tmp: TMPDIR directory per environment (namespaces refused; size checked after each invocation)"
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
        format!("Isolation: {tmp}; {mem}; {pids}; {cpu}; {frz}; rlimits: nofile 1024, core 0")
    }
}

/// One environment's isolation: held for the environment's life, joined by every runtime.
#[derive(Debug)]
pub struct Sandbox {
    /// Its `/tmp`.
    pub tmp: PrivateTmp,
    /// Its cgroup, where available.
    pub cgroup: Option<EnvironmentCgroup>,
    /// Function memory, bytes (the anonymous-memory limit).
    pub memory_bytes: u64,
    /// Ephemeral storage, bytes.
    pub ephemeral_bytes: u64,
    /// Whether to freeze between invocations.
    pub freeze: bool,
}

impl Sandbox {
    /// Set up isolation for environment `env_id` of `function`, with its merged layers (if any)
    /// at `/opt`.
    pub fn create(
        env_id: u64,
        function: &FunctionConfig,
        layers: Option<&std::path::Path>,
    ) -> std::io::Result<Self> {
        let caps = Capabilities::get();
        let memory_bytes = u64::from(function.memory_mb) << 20;
        let ephemeral_bytes = u64::from(function.ephemeral_storage_mb) << 20;
        let tmp = if caps.namespaces {
            // NOTE: code or a runtime that lives under /tmp (a checkout or a virtualenv there)
            // stays visible at its path; everything else under /tmp is the private tmpfs.
            PrivateTmp::namespace(
                function.ephemeral_storage_mb,
                &kept::dirs(&kept::paths(function)),
                layers,
            )?
        } else {
            PrivateTmp::directory(env_id)?
        };
        // NOTE: tmpfs pages are charged to the writer's memory cgroup, so the cgroup gets
        // memory + ephemeral storage and the memory part is enforced on anonymous memory.
        let cgroup_limit = if caps.namespaces {
            memory_bytes + ephemeral_bytes
        } else {
            memory_bytes
        };
        let cgroup = if caps.cgroups.is_empty() {
            None
        } else {
            // NOTE: unique per process (not per emulator): several emulators may share one.
            static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
            let serial = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let name = cgroup::environment_name(std::process::id(), serial, env_id);
            let cpu = function.cpu_by_memory.then_some(function.memory_mb);
            Some(EnvironmentCgroup::create(
                &caps.cgroups,
                &name,
                cgroup_limit,
                cpu,
                !function.snapstart,
            )?)
        };
        Ok(Self {
            tmp,
            cgroup,
            memory_bytes,
            ephemeral_bytes,
            freeze: function.freeze,
        })
    }

    /// What a runtime must do between fork and exec to enter the sandbox; the cgroups it is
    /// moved into while it starts ([`EnvironmentCgroup::move_in`]).
    pub fn join_spec(&self) -> JoinSpec {
        JoinSpec {
            mount_ns: match &self.tmp {
                PrivateTmp::Namespace(fd) => Some(std::os::fd::AsRawFd::as_raw_fd(fd)),
                PrivateTmp::Directory(_) => None,
            },
            address_space: self
                .cgroup
                .as_ref()
                .is_none_or(|_| !Capabilities::get().has(Controller::Memory))
                .then_some(self.memory_bytes),
        }
    }

    /// Kill every process of the environment (a reset: timeout, crash, out of memory, process
    /// limit), whatever process group or session it made for itself; `/tmp` stays.
    pub fn kill_processes(&self) {
        if let Some(cgroup) = &self.cgroup {
            cgroup.kill_all();
        }
    }

    /// `TMPDIR` for runtimes, in the fallback.
    pub fn tmpdir(&self) -> Option<&std::path::Path> {
        match &self.tmp {
            PrivateTmp::Directory(d) => Some(d),
            PrivateTmp::Namespace(_) => None,
        }
    }

    /// Whether the anonymous memory is over the function's memory size.
    pub fn over_memory(&self) -> bool {
        self.cgroup
            .as_ref()
            .and_then(EnvironmentCgroup::anonymous_bytes)
            .is_some_and(|b| b > self.memory_bytes)
    }

    /// Whether the fallback `/tmp` directory holds more than the ephemeral storage size.
    pub fn over_ephemeral(&self) -> bool {
        self.tmp.used_bytes() > self.ephemeral_bytes
    }
}

/// Raw descriptors and limits applied in the child before exec (async-signal-safe calls only).
#[derive(Debug, Clone, Default)]
pub struct JoinSpec {
    /// Mount namespace to enter.
    pub mount_ns: Option<i32>,
    /// RLIMIT_AS, when no memory cgroup is available.
    pub address_space: Option<u64>,
}

impl JoinSpec {
    /// Enter the sandbox: rlimits, mount namespace, then back to `cwd` (setns resets it).
    ///
    /// # Safety
    /// Must run in a forked child before exec; only async-signal-safe calls are made.
    pub unsafe fn enter(&self, cwd: &std::ffi::CStr) -> std::io::Result<()> {
        // SAFETY: system calls on descriptors owned by the parent and inherited by this child.
        unsafe {
            let nofile = libc::rlimit {
                rlim_cur: NOFILE_LIMIT,
                rlim_max: NOFILE_LIMIT,
            };
            libc::setrlimit(libc::RLIMIT_NOFILE, &raw const nofile);
            let core = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &raw const core);
            if let Some(bytes) = self.address_space {
                let limit = libc::rlimit {
                    rlim_cur: bytes,
                    rlim_max: bytes,
                };
                libc::setrlimit(libc::RLIMIT_AS, &raw const limit);
            }
            if let Some(ns) = self.mount_ns {
                if libc::setns(ns, libc::CLONE_NEWNS) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::chdir(cwd.as_ptr()) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
        }
        Ok(())
    }
}
