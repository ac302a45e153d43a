//! Who runtimes and extensions run as: AWS's sandbox user (uid 993, gid 990) by default,
//! `--run-as` to choose. When that user cannot read the function's code directory or run its
//! runtime (or an extension), the function runs as root instead and the start-up line says
//! why, rather than every invoke failing.

use std::collections::HashMap;
use std::ffi::CString;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

use super::{kept, Capabilities};
use crate::config::{FunctionConfig, RunAs};

/// The user one function's processes run as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserChoice {
    /// The uid and gid to switch to; none: as the emulator itself.
    pub identity: Option<(u32, u32)>,
    /// Why the configured user is not used: the path it cannot reach.
    pub fallback: Option<String>,
}

/// The user of `function`'s processes, decided once per function.
pub fn for_function(function: &FunctionConfig) -> UserChoice {
    static DECIDED: Mutex<Option<HashMap<String, UserChoice>>> = Mutex::new(None);
    let key = format!(
        "{}\0{}\0{:?}\0{:?}\0{:?}",
        function.name,
        function.code_dir.display(),
        function.command,
        function.run_as,
        function.extensions_dir
    );
    if let Some(known) = DECIDED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .and_then(|m| m.get(&key))
    {
        return known.clone();
    }
    let choice = decide(function);
    DECIDED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get_or_insert_with(HashMap::new)
        .insert(key, choice.clone());
    choice
}

fn decide(function: &FunctionConfig) -> UserChoice {
    let RunAs::User { uid, gid } = function.run_as else {
        return UserChoice {
            identity: None,
            fallback: None,
        };
    };
    if !Capabilities::get().switch_user {
        return UserChoice {
            identity: None,
            fallback: None,
        };
    }
    match first_unreachable(uid, gid, &needed_paths(function)) {
        None => UserChoice {
            identity: Some((uid, gid)),
            fallback: None,
        },
        Some(reason) => UserChoice {
            identity: None,
            fallback: Some(reason),
        },
    }
}

/// What the user must be able to reach: the code directory (read), the runtime command and
/// its interpreters, the extensions and theirs (execute).
fn needed_paths(function: &FunctionConfig) -> Vec<(PathBuf, i32)> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let code_dir = cwd.join(&function.code_dir);
    let path = function
        .environment
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone())
        .or_else(|| std::env::var("PATH").ok())
        .unwrap_or_default();
    let mut needed = vec![(code_dir.clone(), libc::R_OK | libc::X_OK)];
    let mut programs: Vec<PathBuf> = Vec::new();
    if let Some(program) = function.command.first() {
        programs.extend(kept::on_path(program, &path, &code_dir));
    }
    let extensions = function
        .extensions_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(crate::config::DEFAULT_EXTENSIONS_DIR));
    if let Ok(entries) = std::fs::read_dir(extensions) {
        programs.extend(entries.filter_map(Result::ok).map(|e| e.path()));
    }
    for program in programs {
        for interpreter in kept::interpreter(&program, &path) {
            needed.push((interpreter, libc::X_OK));
        }
        needed.push((program, libc::X_OK));
    }
    needed
}

/// Why `uid`:`gid` cannot run the function: the first of `paths` it may not access as asked
/// (a missing path does not count: it may exist only inside the environment, as `/opt`
/// does), or why the check gave no answer.
fn first_unreachable(uid: u32, gid: u32, paths: &[(PathBuf, i32)]) -> Option<String> {
    let checks: Vec<(CString, i32)> = paths
        .iter()
        .take(250)
        .filter_map(|(p, mode)| Some((CString::new(p.as_os_str().as_encoded_bytes()).ok()?, *mode)))
        .collect();
    // NOTE: an owned child: the orphan reaper (PID 1 duties) must not collect its exit first.
    let started = crate::environment::process::start_owned(|| {
        // SAFETY: the child only makes system calls and exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: child side: raw system calls, then _exit with the index of the failure.
            unsafe { probe(uid, gid, &checks) }
        }
        if pid < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(pid)
    });
    let Ok(pid) = started else {
        return Some(format!("the access check of uid {uid} could not start"));
    };
    let mut status = 0;
    let reaped = loop {
        // SAFETY: reaping our own child.
        let r = unsafe { libc::waitpid(pid, &raw mut status, 0) };
        if r >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break r == pid;
        }
    };
    crate::environment::process::disown(pid);
    // NOTE: a probe whose answer is unknown (not reaped, killed, the user not taken) counts
    // as a refusal: running as root always works, running as a user who cannot reach the
    // runtime fails every invoke.
    if !reaped {
        return Some(format!("the access check of uid {uid} was not seen to end"));
    }
    if libc::WIFSIGNALED(status) {
        let signal = libc::WTERMSIG(status);
        return Some(format!(
            "the access check of uid {uid} was killed by signal {signal}"
        ));
    }
    match libc::WEXITSTATUS(status) {
        0 => None,
        SWITCH_FAILED => Some(format!("the switch to uid {uid} gid {gid} was refused")),
        code => {
            let index = usize::try_from(code - 1).ok()?;
            let path = checks.get(index)?.0.to_str().unwrap_or("?");
            Some(format!("{path} is not readable by uid {uid}"))
        }
    }
}

/// The probe's exit status when it could not become the user.
const SWITCH_FAILED: i32 = 255;

unsafe fn probe(uid: u32, gid: u32, checks: &[(CString, i32)]) -> ! {
    // SAFETY: system calls only, as a runtime makes them before its exec.
    unsafe {
        if super::switch_user(uid, gid).is_err() {
            libc::_exit(SWITCH_FAILED);
        }
        for (i, (path, mode)) in checks.iter().enumerate() {
            if libc::access(path.as_ptr(), *mode) != 0 {
                let e = *libc::__errno_location();
                if e == libc::EACCES || e == libc::EPERM {
                    libc::_exit(i as i32 + 1);
                }
            }
        }
        libc::_exit(0)
    }
}
