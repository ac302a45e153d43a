//! Where the binary runs from: installed by the wheel into a virtualenv's (or a prefix's)
//! `bin/`, it serves HANDLERs with the interpreter beside it (docs/reference.md §1).

use std::path::Path;

use lambda_rie_core::cli::PythonInfo;

/// The interpreter in the directory of this executable (`python3`, else `python`), with the
/// version and whether the `lambda_rie` package is installed for it, read off the prefix's
/// `lib/pythonX.Y/site-packages`; `None` when there is no interpreter beside the binary.
pub fn python_beside_exe() -> Option<PythonInfo> {
    // NOTE: /proc/self/exe is already resolved, so a symlink to the binary on PATH
    // (e.g. /usr/local/bin/lambda-rie -> <venv>/bin/lambda-rie) still finds the venv.
    let exe = std::env::current_exe().ok()?;
    let bin = exe.parent()?;
    let python = ["python3", "python"]
        .iter()
        .map(|name| bin.join(name))
        .find(|p| is_executable(p))?;
    let package_version = bin.parent().and_then(package_python_version);
    Some(PythonInfo {
        executable: python.to_string_lossy().into_owned(),
        has_builtin_runtime: package_version.is_some(),
        version: package_version,
    })
}

/// `3.11` when `<prefix>/lib/python3.11/site-packages/lambda_rie` exists.
// NOTE: read from the file system rather than by running the interpreter, which would cost
// a Python start-up on every launch of the emulator.
fn package_python_version(prefix: &Path) -> Option<String> {
    std::fs::read_dir(prefix.join("lib"))
        .ok()?
        .filter_map(Result::ok)
        .find_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let version = name.strip_prefix("python")?;
            let site = entry.path().join("site-packages");
            // NOTE: an editable install (`pip install -e`, `maturin develop`) puts a path file
            // there instead of the package.
            let installed =
                site.join("lambda_rie").is_dir() || site.join("lambda_rie.pth").is_file();
            let (major, minor) = version.split_once('.')?;
            let numeric = major.parse::<u32>().is_ok() && minor.parse::<u32>().is_ok();
            (numeric && installed).then(|| version.to_owned())
        })
}

/// A regular file with an execute bit (following symlinks, as a venv's `python3` is one).
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_comes_from_the_site_packages_holding_the_package() {
        let prefix = std::env::temp_dir().join(format!("lambda-rie-prefix-{}", std::process::id()));
        let site = prefix.join("lib/python3.12/site-packages");
        std::fs::create_dir_all(prefix.join("lib/python3.11/site-packages")).unwrap();
        assert_eq!(package_python_version(&prefix), None);
        std::fs::create_dir_all(site.join("lambda_rie")).unwrap();
        assert_eq!(package_python_version(&prefix).as_deref(), Some("3.12"));
        std::fs::remove_dir_all(&prefix).unwrap();
    }

    #[test]
    fn an_editable_install_counts_as_installed() {
        let prefix =
            std::env::temp_dir().join(format!("lambda-rie-editable-{}", std::process::id()));
        let site = prefix.join("lib/python3.11/site-packages");
        std::fs::create_dir_all(&site).unwrap();
        std::fs::write(site.join("lambda_rie_other.pth"), "/elsewhere\n").unwrap();
        assert_eq!(package_python_version(&prefix), None);
        std::fs::write(site.join("lambda_rie.pth"), "/src/python\n").unwrap();
        assert_eq!(package_python_version(&prefix).as_deref(), Some("3.11"));
        std::fs::remove_dir_all(&prefix).unwrap();
    }
}
