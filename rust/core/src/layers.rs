//! Lambda layers (`--layer DIR|ZIP`, `layers` in the config file): merged in order into one
//! directory per function, which execution environments see at `/opt` (a bind mount in their
//! mount namespace) with `/opt/python` and its `site-packages` on the Python path, as on AWS.

use std::io;
use std::path::{Path, PathBuf};

/// Where layers are presented inside an environment.
pub const OPT: &str = "/opt";

/// One function's merged layers; the directory goes away with the last handle.
#[derive(Debug)]
pub struct MergedLayers {
    dir: PathBuf,
    seen_as: PathBuf,
}

impl MergedLayers {
    /// Merge `layers` (directories or zip files; later ones win on equal paths) for `function`.
    /// `mounted` says whether environments will see the result at `/opt`.
    pub fn merge(function: &str, layers: &[PathBuf], mounted: bool) -> io::Result<Self> {
        static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let serial = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "lambda-rie-{}-{serial}-layers-{function}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let merged = Self {
            seen_as: if mounted {
                PathBuf::from(OPT)
            } else {
                dir.clone()
            },
            dir,
        };
        for layer in layers {
            let result = if layer.is_dir() {
                copy_tree(layer, &merged.dir)
            } else {
                extract_zip(layer, &merged.dir)
            };
            result
                .map_err(|e| io::Error::new(e.kind(), format!("layer {}: {e}", layer.display())))?;
        }
        Ok(merged)
    }

    /// The merged directory on this machine.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The same directory as the environment's processes see it (`/opt` when mounted there).
    pub fn seen_as(&self) -> &Path {
        &self.seen_as
    }

    /// `PYTHONPATH` entries AWS's Python runtimes add for layers, in its order: each
    /// `/opt/python/lib/python3.X/site-packages` present, then `/opt/python`.
    pub fn python_path(&self) -> Vec<PathBuf> {
        self.python_path_at(&self.seen_as)
    }

    /// The same entries under `root` (the merged directory itself, for processes outside any
    /// environment such as the SnapStart template).
    pub fn python_path_at(&self, root: &Path) -> Vec<PathBuf> {
        let mut paths = Vec::new();
        let python = self.dir.join("python");
        if let Ok(entries) = std::fs::read_dir(python.join("lib")) {
            let mut versions: Vec<String> = entries
                .filter_map(Result::ok)
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.starts_with("python3"))
                .collect();
            versions.sort();
            for v in versions {
                let site = Path::new("python/lib").join(&v).join("site-packages");
                if self.dir.join(&site).is_dir() {
                    paths.push(root.join(site));
                }
            }
        }
        if python.is_dir() {
            paths.push(root.join("python"));
        }
        paths
    }
}

impl Drop for MergedLayers {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Copy `from` into `to`, keeping permissions (extensions must stay executable).
fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            std::fs::create_dir_all(&target)?;
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_symlink() {
            let link = std::fs::read_link(entry.path())?;
            let _ = std::fs::remove_file(&target);
            std::os::unix::fs::symlink(link, &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Extract a layer zip (its entries keep their Unix modes).
fn extract_zip(zip: &Path, to: &Path) -> io::Result<()> {
    let file = std::fs::File::open(zip)?;
    let mut archive = zip::ZipArchive::new(file).map_err(io::Error::other)?;
    archive.extract(to).map_err(io::Error::other)
}
