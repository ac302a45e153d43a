//! The tree a zip's entries make once unpacked, built entry by entry to find the zips that
//! cannot be unpacked whole: names that collide, name the root, or no file system accepts.

use std::collections::HashMap;
use std::path::{Component, Path};

/// The longest name of one path component on Linux.
const MAX_NAME_BYTES: usize = 255;

/// How an entry lands on disk.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Kind {
    Dir,
    File,
    Link,
}

/// The paths the entries seen so far make, each with what lands there.
#[derive(Default)]
pub(super) struct Layout {
    seen: HashMap<String, Kind>,
}

impl Layout {
    /// Add the entry `name` of `kind`; `false` when it cannot join the others: outside the
    /// root, a file named `.` (the root), a name with NUL or over 255 bytes, a file where a
    /// directory goes (`x` and `x/y`) or a link where anything else is.
    pub(super) fn add(&mut self, name: &str, kind: Kind) -> bool {
        if name.contains('\0') {
            return false;
        }
        let mut parts = Vec::new();
        for c in Path::new(name).components() {
            match c {
                Component::Normal(p) => {
                    let p = p.to_string_lossy();
                    if p.len() > MAX_NAME_BYTES {
                        return false;
                    }
                    parts.push(p);
                }
                Component::CurDir => {}
                Component::ParentDir | Component::RootDir | Component::Prefix(_) => return false,
            }
        }
        if parts.is_empty() {
            return kind == Kind::Dir;
        }
        let mut path = String::with_capacity(name.len());
        for (n, part) in parts.iter().enumerate() {
            if n > 0 {
                path.push('/');
            }
            path.push_str(part);
            let this = if n + 1 == parts.len() {
                kind
            } else {
                Kind::Dir
            };
            match self.seen.get(&path) {
                None => {
                    self.seen.insert(path.clone(), this);
                }
                Some(Kind::Dir) if this == Kind::Dir => {}
                // NOTE: a file written twice is overwritten, as unzip does.
                Some(Kind::File) if this == Kind::File => {}
                Some(_) => return false,
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fits(entries: &[(&str, Kind)]) -> bool {
        let mut layout = Layout::default();
        entries.iter().all(|(name, kind)| layout.add(name, *kind))
    }

    #[test]
    fn entries_that_collide_or_leave_the_root_do_not_fit() {
        use Kind::{Dir, File, Link};
        assert!(fits(&[
            ("a/b", File),
            ("a/", Dir),
            ("c", File),
            ("a/b", File)
        ]));
        assert!(fits(&[("./", Dir), ("x", File)]));
        assert!(!fits(&[("x", File), ("x/y", File)]));
        assert!(!fits(&[("x/y", File), ("x", File)]));
        assert!(!fits(&[("x/", Dir), ("x", File)]));
        assert!(!fits(&[("l", Link), ("l", Link)]));
        assert!(!fits(&[("l", Link), ("l/y", File)]));
        assert!(!fits(&[(".", File)]));
        assert!(!fits(&[("../x", File)]));
        assert!(!fits(&[("/etc/x", File)]));
        assert!(!fits(&[("a\0b", File)]));
        let long = "n".repeat(256);
        assert!(!fits(&[(long.as_str(), File)]));
        assert!(fits(&[(&long[..255], File)]));
    }
}
