//! Resource isolation of one execution environment: private size-limited `/tmp`, a PID
//! namespace with its own `/proc`, a non-root user, memory limit with out-of-memory detection,
//! process limit, CPU share, freezer, rlimits, and who may use its Runtime API. What the
//! machine allows is detected once ([`Capabilities`]); what it refuses falls back.

mod capabilities;
pub mod cgroup;
mod clone;
mod kept;
pub mod launch;
pub mod members;
pub mod pid_namespace;
pub mod spawner;
pub mod tmp;
pub mod user;

use std::sync::Arc;

pub use capabilities::Capabilities;
use cgroup::{Controller, EnvironmentCgroup};
pub(crate) use clone::seqpacket_pair;
use members::EnvironmentMembers;
use pid_namespace::PidNamespace;
use tmp::{MountPlan, PrivateTmp};

use crate::config::FunctionConfig;

/// Descriptors per environment that every runtime RLIMIT_NOFILE gets, as on AWS.
pub const NOFILE_LIMIT: u64 = 1024;

/// The cgroup of environment `env_id` of `function` with its limits (none where the machine
/// has no writable cgroups).
pub fn environment_cgroup(
    function: &FunctionConfig,
    env_id: u64,
) -> std::io::Result<Option<EnvironmentCgroup>> {
    // NOTE: unique per process (not per emulator): several emulators may share one.
    static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let caps = Capabilities::get();
    if caps.cgroups.is_empty() {
        return Ok(None);
    }
    let memory_bytes = u64::from(function.memory_mb) << 20;
    let ephemeral_bytes = u64::from(function.ephemeral_storage_mb) << 20;
    // NOTE: tmpfs pages are charged to the writer's memory cgroup, so the cgroup gets memory +
    // ephemeral storage and the memory part is enforced on anonymous memory.
    let limit = if caps.namespaces {
        memory_bytes + ephemeral_bytes
    } else {
        memory_bytes
    };
    let serial = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = cgroup::environment_name(std::process::id(), serial, env_id);
    let cpu = function.cpu_by_memory.then_some(function.memory_mb);
    EnvironmentCgroup::create(&caps.cgroups, &name, limit, cpu, !function.snapstart).map(Some)
}

/// One environment's isolation: held for the environment's life, joined by every runtime.
#[derive(Debug)]
pub struct Sandbox {
    /// Its `/tmp`.
    pub tmp: PrivateTmp,
    /// Its PID namespace, where available.
    pub processes: Option<PidNamespace>,
    /// Its cgroup, where available.
    pub cgroup: Option<EnvironmentCgroup>,
    /// The uid and gid its processes run as (none: as the emulator).
    pub user: Option<(u32, u32)>,
    /// Its processes, as its Runtime API tells them from others.
    pub members: Arc<EnvironmentMembers>,
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
        Self::create_with(env_id, function, layers, None)
    }

    /// [`Self::create`], taking `adopted` (made by [`environment_cgroup`] ahead of time, a
    /// SnapStart spare already in it) as the environment's cgroup instead of making one.
    pub fn create_with(
        env_id: u64,
        function: &FunctionConfig,
        layers: Option<&std::path::Path>,
        adopted: Option<EnvironmentCgroup>,
    ) -> std::io::Result<Self> {
        let mut steps = super::steps::Steps::start();
        let caps = Capabilities::get();
        let memory_bytes = u64::from(function.memory_mb) << 20;
        let ephemeral_bytes = u64::from(function.ephemeral_storage_mb) << 20;
        let user = user::for_function(function).identity;
        steps.mark("user");
        let (tmp, processes) = if caps.namespaces {
            // NOTE: code or a runtime that lives under /tmp (a checkout or a virtualenv there)
            // stays visible at its path; everything else under /tmp is the private tmpfs.
            let kept = kept::dirs(&kept::paths(function));
            let plan = MountPlan::new(function.ephemeral_storage_mb, &kept, layers)?;
            if caps.pid_namespaces {
                let (processes, mount_ns) = PidNamespace::create(plan)?;
                (PrivateTmp::Namespace(mount_ns), Some(processes))
            } else {
                (PrivateTmp::namespace(&plan)?, None)
            }
        } else {
            (PrivateTmp::directory(env_id, user)?, None)
        };
        steps.mark("namespaces and /tmp");
        let cgroup = match adopted {
            Some(cgroup) => Some(cgroup),
            None => environment_cgroup(function, env_id)?,
        };
        steps.mark("cgroup");
        let members = Arc::new(EnvironmentMembers::new(
            processes.as_ref().map(PidNamespace::proc_dir),
            processes.as_ref().map(PidNamespace::namespace),
            cgroup.as_ref().and_then(EnvironmentCgroup::procs_file),
        )?);
        steps.mark("members");
        steps.log(|| format!("sandbox of environment {env_id} of {}", function.name));
        Ok(Self {
            tmp,
            processes,
            cgroup,
            user,
            members,
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
            pid_ns: self.processes.as_ref().map(PidNamespace::descriptor),
            address_space: self
                .cgroup
                .as_ref()
                .is_none_or(|_| !Capabilities::get().has(Controller::Memory))
                .then_some(self.memory_bytes),
            user: self.user,
        }
    }

    /// Kill every process of the environment (a reset: timeout, crash, out of memory, process
    /// limit), whatever process group or session it made for itself; `/tmp` stays.
    pub fn kill_processes(&self) {
        if let Some(processes) = &self.processes {
            processes.kill_all();
        }
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
    /// PID namespace to be forked into (by the spawner thread; see [`launch`]).
    pub pid_ns: Option<i32>,
    /// RLIMIT_AS, when no memory cgroup is available.
    pub address_space: Option<u64>,
    /// The uid and gid to run as.
    pub user: Option<(u32, u32)>,
}

impl JoinSpec {
    /// Enter the sandbox: rlimits, mount namespace, `cwd` (setns resets it), the user, and a
    /// SIGKILL when the emulator dies (set last: a change of user clears it).
    ///
    /// # Safety
    /// Must run in a forked child before exec; only raw system calls are made.
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
            }
            if libc::chdir(cwd.as_ptr()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if let Some((uid, gid)) = self.user {
                switch_user(uid, gid)?;
            }
            // NOTE: if the emulator dies without cleaning up, the kernel kills the runtime.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        }
        Ok(())
    }
}

/// Become `uid`:`gid` with no supplementary groups, through raw system calls: after a bare
/// `clone3` libc still believes in the parent's threads, and its `setuid` would signal them.
///
/// # Safety
/// Changes the credentials of the calling thread only: for a freshly forked child.
pub unsafe fn switch_user(uid: u32, gid: u32) -> std::io::Result<()> {
    // SAFETY: credential system calls with integer arguments.
    unsafe {
        if libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<libc::gid_t>()) != 0
            || libc::syscall(libc::SYS_setresgid, gid, gid, gid) != 0
            || libc::syscall(libc::SYS_setresuid, uid, uid, uid) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
