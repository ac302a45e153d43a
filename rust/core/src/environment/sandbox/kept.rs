//! What of the host's `/tmp` stays visible in an environment's private `/tmp`: the directories
//! directly under `/tmp` that hold the function's code, its runtime command, that command's
//! interpreter (as given and through every symlink), the virtualenv, the layers, and the
//! emulator's working directory.

use std::path::{Path, PathBuf};

use super::tmp::MAX_KEPT;
use crate::config::FunctionConfig;

/// How many symlinks a chain is followed through.
const MAX_LINKS: usize = 16;

/// The paths of `function` (and its layers) whose directories under `/tmp` must stay visible.
pub fn paths(function: &FunctionConfig) -> Vec<PathBuf> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let variable = |name: &str| -> Option<String> {
        function
            .environment
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var(name).ok())
    };
    // NOTE: the runtime runs in the code directory: relative paths are relative to it.
    let code_dir = cwd.join(&function.code_dir);
    let mut paths = vec![cwd.clone(), code_dir.clone()];
    for arg in &function.command {
        let path = Path::new(arg);
        if path.is_absolute() || arg.starts_with("./") {
            paths.push(code_dir.join(path));
        }
    }
    if let Some(program) = function.command.first() {
        let path = variable("PATH").unwrap_or_default();
        if let Some(found) = on_path(program, &path, &code_dir) {
            paths.extend(interpreter(&found, &path));
            paths.push(found);
        }
    }
    paths.extend(variable("VIRTUAL_ENV").map(PathBuf::from));
    paths.extend(function.layers.iter().map(|l| cwd.join(l)));
    let mut all = Vec::new();
    for path in paths {
        all.extend(link_chain(&path));
    }
    all
}

/// The directories directly under `/tmp` that hold any of `paths`.
pub fn dirs(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut kept: Vec<PathBuf> = paths
        .iter()
        .filter_map(|p| {
            let rest = p.strip_prefix("/tmp").ok()?;
            let first = rest.components().next()?;
            let dir = PathBuf::from("/tmp").join(first);
            // NOTE: only directories can be bound over the tmpfs (a file directly in /tmp is
            // not a place code lives in).
            dir.is_dir().then_some(dir)
        })
        .collect();
    kept.sort();
    kept.dedup();
    kept.truncate(MAX_KEPT);
    kept
}

/// `program` as `execvp` finds it: itself when it has a slash (relative to `base`), else the
/// first executable of that name on `path`.
pub(super) fn on_path(program: &str, path: &str, base: &Path) -> Option<PathBuf> {
    if program.contains('/') {
        return Some(base.join(program));
    }
    std::env::split_paths(path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// The interpreter a script names on its `#!` line (`/usr/bin/env NAME` looks NAME up on
/// `path`), with its own interpreter in turn, as given.
pub fn interpreter(script: &Path, path: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut current = script.to_path_buf();
    for _ in 0..4 {
        let Some(next) = shebang(&current, path) else {
            break;
        };
        found.push(next.clone());
        current = next;
    }
    found
}

fn shebang(script: &Path, path: &str) -> Option<PathBuf> {
    use std::io::Read as _;
    let mut head = [0u8; 256];
    let n = std::fs::File::open(script).ok()?.read(&mut head).ok()?;
    let line = head[..n].strip_prefix(b"#!")?;
    let line = line.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut words = line.split_whitespace();
    let first = PathBuf::from(words.next()?);
    if first.file_name().is_some_and(|n| n == "env") {
        let name = words.find(|w| !w.starts_with('-'))?;
        return on_path(name, path, Path::new("/"));
    }
    Some(first)
}

/// `path` and every path its symlinks lead through (the last being the resolved one).
fn link_chain(path: &Path) -> Vec<PathBuf> {
    let mut chain = vec![path.to_path_buf()];
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        let Ok(target) = std::fs::read_link(&current) else {
            break;
        };
        let parent = current.parent().unwrap_or(Path::new("/"));
        current = parent.join(target);
        chain.push(current.clone());
    }
    chain.extend(std::fs::canonicalize(path).ok());
    chain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_virtualenv_python_under_tmp_is_kept_as_given_and_resolved() {
        let dir = std::env::temp_dir().join(format!("lambda-rie-kept-{}", uuid::Uuid::new_v4()));
        let bin = dir.join("venv/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink("/bin/sh", bin.join("python")).unwrap();
        let mut f = FunctionConfig::new(
            "f",
            vec!["python".into(), "-c".into(), "pass".into()],
            crate::config::Defaults::FUNCTION,
        );
        f.code_dir = PathBuf::from("/");
        f.environment = vec![("PATH".into(), bin.to_string_lossy().into_owned())];
        let found = paths(&f);
        assert!(found.contains(&bin.join("python")), "{found:?}");
        assert!(found.contains(&PathBuf::from("/bin/sh")), "{found:?}");
        if dir.starts_with("/tmp") {
            let top = PathBuf::from("/tmp").join(dir.strip_prefix("/tmp").unwrap());
            assert!(dirs(&found).contains(&top), "{:?}", dirs(&found));
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn env_shebangs_are_looked_up_on_the_path() {
        let dir = std::env::temp_dir().join(format!("lambda-rie-kept-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("bootstrap");
        std::fs::write(&script, "#!/usr/bin/env -S sh -e\necho\n").unwrap();
        assert_eq!(
            interpreter(&script, "/nonexistent:/bin"),
            vec![PathBuf::from("/bin/sh")]
        );
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        assert_eq!(interpreter(&script, ""), vec![PathBuf::from("/bin/sh")]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
