//! Function code as uploaded: a zip, its digest (`CodeSha256`) and its unpacking, with AWS's
//! limits and without leaving the code directory (zip-slip).

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use base64::Engine;
use layout::{Kind, Layout};
use sha2::{Digest, Sha256};

mod layout;

/// Largest zip CreateFunction and UpdateFunctionCode accept.
pub const MAX_ZIPPED_BYTES: usize = 52_428_800;
/// Largest unpacked code (function and layers) AWS accepts.
pub const MAX_UNZIPPED_BYTES: u64 = 262_144_000;

/// Why a zip cannot be a function's code.
#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    /// Not a zip, or an entry that would land outside the code directory.
    #[error("Could not unzip uploaded file. Please check your file, then try to upload again.")]
    Unreadable,
    /// Over AWS's unpacked limit.
    #[error("Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes")]
    TooLargeUnzipped,
    /// The state directory could not be written.
    #[error("cannot store the code: {0}")]
    Io(std::io::Error),
}

/// The digests of a zip: hex for file names, AWS's `CodeSha256` (standard base64 of SHA-256).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    /// Lower-case hex of SHA-256.
    pub hex: String,
    /// Base64 (padded) of SHA-256, AWS's `CodeSha256`.
    pub base64: String,
}

/// SHA-256 of `zip` in both notations.
pub fn digests(zip: &[u8]) -> Digests {
    let sum = Sha256::digest(zip);
    let hex = sum.iter().fold(String::with_capacity(64), |mut s, b| {
        use std::fmt::Write as _;
        let _ = write!(s, "{b:02x}");
        s
    });
    Digests {
        hex,
        base64: base64::engine::general_purpose::STANDARD.encode(sum),
    }
}

/// Check `zip` without writing anything: readable, every entry inside its root and unpacking
/// beside the others ([`Layout`]), within the unpacked limit (by the sizes its directory
/// declares).
pub fn check(zip: &[u8]) -> Result<(), CodeError> {
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(zip)).map_err(|_| CodeError::Unreadable)?;
    let mut layout = Layout::default();
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(|_| CodeError::Unreadable)?;
        let kind = if entry.is_dir() {
            Kind::Dir
        } else if entry.unix_mode().is_some_and(is_link) {
            Kind::Link
        } else {
            Kind::File
        };
        // NOTE: entries that collide (`x` and `x/y`), a file named `.`, a name over 255 bytes:
        // AWS cannot unzip them either.
        if !layout.add(entry.name(), kind) {
            return Err(CodeError::Unreadable);
        }
        total = total.saturating_add(entry.size());
        if total > MAX_UNZIPPED_BYTES {
            return Err(CodeError::TooLargeUnzipped);
        }
    }
    Ok(())
}

/// Whether a Unix mode is a symbolic link's.
fn is_link(mode: u32) -> bool {
    mode & 0o170_000 == 0o120_000
}

/// The relative path of an entry, or `None` when it is absolute or climbs out (`../`).
fn safe_path(name: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for part in Path::new(name).components() {
        match part {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// Unpack `zip` into `dir` (created): modes kept (made readable, as the sandbox user runs
/// it), symbolic links kept when they stay inside, at most [`MAX_UNZIPPED_BYTES`] written.
pub fn unpack(zip: &[u8], dir: &Path) -> Result<(), CodeError> {
    use std::os::unix::fs::PermissionsExt;
    check(zip)?;
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(zip)).map_err(|_| CodeError::Unreadable)?;
    std::fs::create_dir_all(dir).map_err(CodeError::Io)?;
    let mut written: u64 = 0;
    let mut buf = vec![0u8; 64 * 1024];
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|_| CodeError::Unreadable)?;
        let rel = safe_path(entry.name()).ok_or(CodeError::Unreadable)?;
        let path = dir.join(&rel);
        let mode = entry.unix_mode();
        if entry.is_dir() {
            std::fs::create_dir_all(&path).map_err(CodeError::Io)?;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(CodeError::Io)?;
        }
        if mode.is_some_and(is_link) {
            let mut target = String::new();
            entry
                .read_to_string(&mut target)
                .map_err(|_| CodeError::Unreadable)?;
            let inside = rel
                .parent()
                .map_or_else(PathBuf::new, Path::to_path_buf)
                .join(&target);
            if Path::new(&target).is_absolute() || safe_path(&inside.to_string_lossy()).is_none() {
                return Err(CodeError::Unreadable);
            }
            std::os::unix::fs::symlink(&target, &path).map_err(CodeError::Io)?;
            continue;
        }
        let mut out = std::fs::File::create(&path).map_err(CodeError::Io)?;
        loop {
            let n = entry.read(&mut buf).map_err(|_| CodeError::Unreadable)?;
            if n == 0 {
                break;
            }
            written += n as u64;
            if written > MAX_UNZIPPED_BYTES {
                return Err(CodeError::TooLargeUnzipped);
            }
            out.write_all(&buf[..n]).map_err(CodeError::Io)?;
        }
        // NOTE: no setuid, setgid or sticky bit survives (the function runs as another user).
        let mode = mode.map_or(0o644, |m| m & 0o777) | 0o444;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .map_err(CodeError::Io)?;
    }
    // NOTE: directories readable and traversable by the sandbox user, whatever the zip said.
    set_tree_traversable(dir).map_err(CodeError::Io)
}

fn set_tree_traversable(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            set_tree_traversable(&entry.path())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use zip::write::SimpleFileOptions;

    fn zip_of(entries: &[(&str, &[u8], u32)]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, data, mode) in entries {
            w.start_file(*name, SimpleFileOptions::default().unix_permissions(*mode))
                .unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    fn temp() -> PathBuf {
        std::env::temp_dir().join(format!("lambda-rie-code-{}", uuid::Uuid::new_v4()))
    }

    #[test]
    fn code_sha256_is_base64_of_sha256() {
        let d = digests(b"abc");
        assert_eq!(
            d.hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(d.base64, "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
    }

    #[test]
    fn unpacks_files_with_their_modes() {
        use std::os::unix::fs::PermissionsExt;
        let zip = zip_of(&[
            ("app.py", b"def handler(e, c):\n    return e\n", 0o644),
            ("bin/bootstrap", b"#!/bin/sh\n", 0o755),
            ("bin/setuid", b"#!/bin/sh\n", 0o6755),
        ]);
        let dir = temp();
        unpack(&zip, &dir).unwrap();
        let mode = |path: &str| {
            std::fs::metadata(dir.join(path))
                .unwrap()
                .permissions()
                .mode()
        };
        assert_eq!(mode("bin/bootstrap") & 0o7777, 0o755);
        assert_eq!(
            mode("bin/setuid") & 0o7777,
            0o755,
            "no setuid or setgid bit"
        );
        assert!(std::fs::read_to_string(dir.join("app.py"))
            .unwrap()
            .contains("handler"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn refuses_entries_outside_the_code_directory_and_garbage() {
        let zip = zip_of(&[("../evil.py", b"x", 0o644)]);
        assert!(matches!(check(&zip), Err(CodeError::Unreadable)));
        let dir = temp();
        assert!(unpack(&zip, &dir).is_err());
        assert!(!dir.with_file_name("evil.py").exists());
        let _ = std::fs::remove_dir_all(&dir);
        assert!(matches!(check(b"not a zip"), Err(CodeError::Unreadable)));
        assert_eq!(
            CodeError::Unreadable.to_string(),
            "Could not unzip uploaded file. Please check your file, then try to upload again."
        );
    }

    #[test]
    fn refuses_more_than_the_unpacked_limit() {
        // NOTE: 251 MiB of zeros compress to a few hundred KB.
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        w.start_file(
            "big",
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated),
        )
        .unwrap();
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..251 {
            w.write_all(&chunk).unwrap();
        }
        let zip = w.finish().unwrap().into_inner();
        assert!(zip.len() < MAX_ZIPPED_BYTES);
        let e = check(&zip).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Unzipped size must be smaller than 262144000 bytes"
        );
    }
}
