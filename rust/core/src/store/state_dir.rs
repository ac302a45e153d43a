//! The state directory itself: its layout (`blobs/`, `code/`), the lock that keeps it to one
//! emulator at a time, and the leftovers of writes a killed emulator did not finish.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;

use super::{io, StoreError};

/// The lock file; held (`flock`) for as long as the emulator has the directory open.
const LOCK_FILE: &str = "lambda-rie.lock";

/// What a write in progress is named until it is renamed into place.
pub(super) const IN_PROGRESS: &str = ".tmp-";

/// Make `dir` with `blobs/` and `code/`.
pub(super) fn make_dirs(dir: &Path) -> Result<(), StoreError> {
    let existed = dir.is_dir();
    for sub in ["", "blobs", "code"] {
        let path = dir.join(sub);
        std::fs::create_dir_all(&path).map_err(io(&path))?;
    }
    if !existed {
        // NOTE: the sandbox user (uid 993) runs the unpacked code: a directory made here is
        // traversable; one the user made keeps its mode (its functions may then run as root,
        // and the start-up line says why).
        set_mode(dir, 0o755)?;
    }
    set_mode(&dir.join("code"), 0o755)
}

fn set_mode(path: &Path, mode: u32) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io(path))
}

/// Take `dir`'s lock, or say that another emulator has it: two emulators over one directory
/// would each serve from their own view of it and overwrite each other's writes. The lock goes
/// with the returned file (and with the process, however it ends).
pub(super) fn lock(dir: &Path) -> Result<File, StoreError> {
    let path = dir.join(LOCK_FILE);
    // NOTE: close-on-exec (std's default), so runtimes the emulator spawns do not hold it.
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io(&path))?;
    // SAFETY: flock on a descriptor this function owns; no memory is passed.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let source = std::io::Error::last_os_error();
        if source.raw_os_error() == Some(libc::EWOULDBLOCK) {
            return Err(StoreError::InUse {
                path: dir.to_owned(),
            });
        }
        return Err(StoreError::Io { path, source });
    }
    Ok(file)
}

/// Remove what writes cut short left (`blobs/<hex>.tmp-<id>`, `code/<hex>.tmp-<id>/`): with the
/// lock held nobody else is writing, so each is the leftover of an emulator killed mid-upload.
/// The number removed.
pub(super) fn sweep(dir: &Path) -> usize {
    remove_entries(dir, |name| name.contains(IN_PROGRESS)).len()
}

/// Remove the entries of `blobs/` and `code/` whose file name `chosen` picks: the names of
/// those removed.
pub(super) fn remove_entries(dir: &Path, chosen: impl Fn(&str) -> bool) -> Vec<String> {
    let mut removed = Vec::new();
    for sub in ["blobs", "code"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !chosen(&name) {
                continue;
            }
            let path = entry.path();
            let gone = if entry.file_type().is_ok_and(|t| t.is_dir()) {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            if gone.is_ok() {
                removed.push(name);
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("lambda-rie-dir-{}", uuid::Uuid::new_v4()));
        make_dirs(&dir).unwrap();
        dir
    }

    #[test]
    fn one_holder_at_a_time_and_free_again_once_dropped() {
        let dir = temp();
        let held = lock(&dir).unwrap();
        let e = lock(&dir).unwrap_err();
        assert!(matches!(e, StoreError::InUse { .. }), "{e}");
        assert!(
            e.to_string().contains("in use by another lambda-rie"),
            "{e}"
        );
        drop(held);
        drop(lock(&dir).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unfinished_writes_are_swept_and_finished_ones_kept() {
        let dir = temp();
        let code = dir.join("code");
        std::fs::create_dir_all(code.join("abc.tmp-1/lib")).unwrap();
        std::fs::write(code.join("abc.tmp-1/lib/x.py"), "x").unwrap();
        std::fs::create_dir_all(code.join("abc")).unwrap();
        std::fs::write(dir.join("blobs/abc.tmp-2"), "zip").unwrap();
        std::fs::write(dir.join("blobs/abc.zip"), "zip").unwrap();
        assert_eq!(sweep(&dir), 2);
        assert!(!code.join("abc.tmp-1").exists());
        assert!(!dir.join("blobs/abc.tmp-2").exists());
        assert!(code.join("abc").is_dir());
        assert!(dir.join("blobs/abc.zip").is_file());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
