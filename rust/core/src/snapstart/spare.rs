//! SnapStart's spare runtime: the next environment's runtime, forked from the template and
//! moved into a cgroup made for that environment while nothing waits for it. A restore then only
//! hands it its environment (docs/reference.md §4): the fork and the cgroup v1 migration (which
//! waits an RCU grace period after a quiet spell, 5-15 ms here) happen between cold starts
//! instead of inside one.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use serde_json::json;

use super::{restore_request, send_with_fds, SnapStartTemplate};
use crate::config::FunctionConfig;
use crate::environment::sandbox::cgroup::EnvironmentCgroup;
use crate::environment::sandbox::{environment_cgroup, seqpacket_pair, JoinSpec};

/// A forked template child waiting for the environment that takes it.
#[derive(Debug)]
pub struct SpareRuntime {
    pid: i32,
    /// Where it waits for its restore request; dropped unused, it exits.
    channel: OwnedFd,
    /// The cgroup made for the environment that takes it (with the child in it).
    cgroup: Option<EnvironmentCgroup>,
    /// The child's move into that cgroup, while it may still be under way.
    moving: Option<tokio::task::JoinHandle<()>>,
}

impl SpareRuntime {
    /// The child's pid.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The cgroup made for the environment that takes this runtime.
    pub fn take_cgroup(&mut self) -> Option<EnvironmentCgroup> {
        self.cgroup.take()
    }

    /// The move into that cgroup, if it may not be over.
    pub fn take_move(&mut self) -> Option<tokio::task::JoinHandle<()>> {
        self.moving.take()
    }

    /// Tell the child its environment (what a fork request says); it restores into it.
    pub fn restore(
        self,
        env: &[(String, String)],
        cwd: &std::path::Path,
        join: &JoinSpec,
        log_pipe: &OwnedFd,
    ) -> io::Result<i32> {
        let (request, fds) = restore_request(env, cwd, join, log_pipe)?;
        send_with_fds(&self.channel, request.to_string().as_bytes(), &fds)?;
        Ok(self.pid)
    }
}

/// Fork a spare from `template` and move it into a new cgroup of `function`.
pub(super) async fn fork(
    template: &SnapStartTemplate,
    function: FunctionConfig,
) -> io::Result<SpareRuntime> {
    let (ours, theirs) = seqpacket_pair()?;
    let pid = template
        .request_fork(&json!({"spare": true}), &[theirs.as_raw_fd()])
        .await?;
    drop(theirs);
    let cgroup = tokio::task::spawn_blocking(move || environment_cgroup(&function, 0))
        .await
        .map_err(io::Error::other)??;
    let moving = cgroup.as_ref().map(|c| c.move_in(pid));
    Ok(SpareRuntime {
        pid,
        channel: ours,
        cgroup,
        moving,
    })
}
