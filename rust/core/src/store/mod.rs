//! The control plane's store (docs/reference.md §13): an embedded SQLite database holding one
//! JSON document per function created through the API (its `$LATEST`, published versions,
//! aliases and settings), and the functions' code as content-addressed blobs beside it:
//! `blobs/<sha256>.zip` as uploaded and `code/<sha256>/` unpacked.
//!
//! With a state directory everything survives a restart; without one the database is in memory
//! and the blobs live in a temporary directory removed when the store is dropped.

pub mod code;
mod state_dir;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::{params, Connection};
use serde_json::Value;

/// Why the store could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused an operation.
    #[error("state database: {0}")]
    Database(#[from] rusqlite::Error),
    /// A file of the state directory could not be read or written.
    #[error("state directory {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// Another emulator has the state directory open.
    #[error("state directory {path} is in use by another lambda-rie")]
    InUse {
        /// The directory.
        path: PathBuf,
    },
    /// A stored document is not JSON (a damaged database).
    #[error("state database: function {name}: {detail}")]
    Corrupt {
        /// The function whose document is damaged.
        name: String,
        /// What the parser said.
        detail: String,
    },
}

/// The kinds of documents, one table each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    /// Functions created through the API.
    Functions,
    /// Layers published through the API (all their versions in one document).
    Layers,
    /// Event source mappings created through the API, by UUID.
    EventSourceMappings,
    /// Where a stream mapping stands in each shard (its checkpoints), by mapping UUID.
    Checkpoints,
}

impl Table {
    fn sql(self) -> &'static str {
        match self {
            Self::Functions => "functions",
            Self::Layers => "layers",
            Self::EventSourceMappings => "event_source_mappings",
            Self::Checkpoints => "checkpoints",
        }
    }
}

/// Every document by table and name: its creation time and its parsed value.
type Cache = HashMap<(Table, String), (i64, Arc<Value>)>;

/// The database file inside the state directory.
const DATABASE: &str = "lambda-rie.sqlite3";

/// The store: function documents and code blobs.
pub struct Store {
    db: Mutex<Connection>,
    /// NOTE: every document, parsed, as last written (name -> creation time, document):
    /// reads never touch the database, so ListFunctions over a thousand functions stays cheap.
    cache: Mutex<Cache>,
    dir: PathBuf,
    /// Removed on drop (no state directory was given).
    ephemeral: bool,
    /// The state directory's lock, held while the store is open (none for a temporary one).
    _lock: Option<std::fs::File>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

impl Store {
    /// Open (creating it if needed) the store in `dir`, or a temporary one without.
    pub fn open(dir: Option<&Path>) -> Result<Self, StoreError> {
        let (dir, ephemeral) = match dir {
            Some(d) => (d.to_owned(), false),
            None => (
                std::env::temp_dir().join(format!("lambda-rie-state-{}", uuid::Uuid::new_v4())),
                true,
            ),
        };
        // NOTE: a temporary store's directory is made with its first code, so that the many
        // runs that never use the control plane leave nothing behind, even when killed.
        let lock = if ephemeral {
            None
        } else {
            state_dir::make_dirs(&dir)?;
            let lock = state_dir::lock(&dir)?;
            let swept = state_dir::sweep(&dir);
            if swept > 0 {
                crate::logs::message(
                    crate::config::LogLevel::Info,
                    &format!("state directory: removed {swept} unfinished code write(s)"),
                );
            }
            Some(lock)
        };
        let db = if ephemeral {
            Connection::open_in_memory()?
        } else {
            let db = Connection::open(dir.join(DATABASE))?;
            db.pragma_update(None, "journal_mode", "WAL")?;
            db.pragma_update(None, "synchronous", "NORMAL")?;
            db
        };
        let mut cache = HashMap::new();
        for table in [
            Table::Functions,
            Table::Layers,
            Table::EventSourceMappings,
            Table::Checkpoints,
        ] {
            db.execute_batch(&format!(
                "CREATE TABLE IF NOT EXISTS {} (
                     name TEXT PRIMARY KEY,
                     created INTEGER NOT NULL,
                     doc TEXT NOT NULL
                 );",
                table.sql()
            ))?;
            let mut stmt =
                db.prepare(&format!("SELECT name, created, doc FROM {}", table.sql()))?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?;
            for row in rows {
                let (name, created, doc) = row?;
                let doc = parse(&name, &doc)?;
                cache.insert((table, name), (created, Arc::new(doc)));
            }
        }
        Ok(Self {
            db: Mutex::new(db),
            cache: Mutex::new(cache),
            dir,
            ephemeral,
            _lock: lock,
        })
    }

    fn db(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.db.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The state directory (a temporary one when none was given).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every stored function document, in the order they were created.
    pub fn functions(&self) -> Result<Vec<(String, Arc<Value>)>, StoreError> {
        Ok(self.all(Table::Functions))
    }

    /// Every document of `table`, in the order they were created.
    pub fn all(&self, table: Table) -> Vec<(String, Arc<Value>)> {
        let mut all: Vec<(i64, String, Arc<Value>)> = self
            .cache()
            .iter()
            .filter(|((t, _), _)| *t == table)
            .map(|((_, name), (created, doc))| (*created, name.clone(), Arc::clone(doc)))
            .collect();
        all.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        all.into_iter().map(|(_, name, doc)| (name, doc)).collect()
    }

    /// The document of function `name`.
    pub fn get(&self, name: &str) -> Result<Option<Value>, StoreError> {
        Ok(self.document(Table::Functions, name))
    }

    /// The document `name` of `table`.
    pub fn document(&self, table: Table, name: &str) -> Option<Value> {
        self.shared(table, name).map(|doc| (*doc).clone())
    }

    /// The document `name` of `table` as last written, shared rather than copied (for reads
    /// on a request's path).
    pub fn shared(&self, table: Table, name: &str) -> Option<Arc<Value>> {
        self.cache()
            .get(&(table, name.to_owned()))
            .map(|(_, doc)| Arc::clone(doc))
    }

    /// Whether function `name` is stored.
    pub fn contains(&self, name: &str) -> bool {
        self.cache()
            .contains_key(&(Table::Functions, name.to_owned()))
    }

    /// Write the document of function `name` (one statement: all of it or nothing).
    pub fn put(&self, name: &str, doc: &Value) -> Result<(), StoreError> {
        self.put_document(Table::Functions, name, doc)
    }

    /// Write document `name` of `table` (one statement: all of it or nothing).
    pub fn put_document(&self, table: Table, name: &str, doc: &Value) -> Result<(), StoreError> {
        let created = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64);
        let db = self.db();
        db.execute(
            &format!(
                "INSERT INTO {} (name, created, doc) VALUES (?1, ?2, ?3)
                 ON CONFLICT(name) DO UPDATE SET doc = excluded.doc",
                table.sql()
            ),
            params![name, created, doc.to_string()],
        )?;
        let mut cache = self.cache();
        let key = (table, name.to_owned());
        let created = cache.get(&key).map_or(created, |(c, _)| *c);
        cache.insert(key, (created, Arc::new(doc.clone())));
        Ok(())
    }

    /// Forget function `name`.
    pub fn delete(&self, name: &str) -> Result<(), StoreError> {
        self.delete_document(Table::Functions, name)
    }

    /// Forget document `name` of `table`.
    pub fn delete_document(&self, table: Table, name: &str) -> Result<(), StoreError> {
        self.db().execute(
            &format!("DELETE FROM {} WHERE name = ?1", table.sql()),
            params![name],
        )?;
        self.cache().remove(&(table, name.to_owned()));
        Ok(())
    }

    /// Where the zip of digest `hex` is kept.
    pub fn blob_path(&self, hex: &str) -> PathBuf {
        self.dir.join("blobs").join(format!("{hex}.zip"))
    }

    /// Keep `zip` (whose SHA-256 is `hex`) and its unpacked tree; the code directory.
    /// Either exists whole or not at all (written aside, then renamed).
    pub fn keep_code(&self, hex: &str, zip: &[u8]) -> Result<PathBuf, code::CodeError> {
        if self.ephemeral && !self.dir.join("code").is_dir() {
            state_dir::make_dirs(&self.dir).map_err(|e| match e {
                StoreError::Io { source, .. } => code::CodeError::Io(source),
                other => code::CodeError::Io(std::io::Error::other(other.to_string())),
            })?;
        }
        let blob = self.blob_path(hex);
        if !blob.is_file() {
            let tmp = blob.with_file_name(format!(
                "{hex}{}{}",
                state_dir::IN_PROGRESS,
                uuid::Uuid::new_v4()
            ));
            std::fs::write(&tmp, zip).map_err(code::CodeError::Io)?;
            std::fs::rename(&tmp, &blob).map_err(code::CodeError::Io)?;
        }
        let dir = self.code_dir(hex);
        if !dir.is_dir() {
            let tmp = self.dir.join("code").join(format!(
                "{hex}{}{}",
                state_dir::IN_PROGRESS,
                uuid::Uuid::new_v4()
            ));
            if let Err(e) = code::unpack(zip, &tmp) {
                let _ = std::fs::remove_dir_all(&tmp);
                return Err(e);
            }
            if std::fs::rename(&tmp, &dir).is_err() {
                // Another request unpacked the same code first.
                let _ = std::fs::remove_dir_all(&tmp);
            }
        }
        Ok(dir)
    }

    /// The unpacked code of digest `hex`.
    pub fn code_dir(&self, hex: &str) -> PathBuf {
        self.dir.join("code").join(hex)
    }

    /// Remove the zips and unpacked trees of every digest not in `keep` (writes in progress
    /// aside): the number of digests removed. Only while nothing else writes code (start-up).
    pub fn remove_code_except(&self, keep: &std::collections::HashSet<String>) -> usize {
        let digest = |name: &str| name.strip_suffix(".zip").unwrap_or(name).to_owned();
        let removed = state_dir::remove_entries(&self.dir, |name| {
            !name.contains(state_dir::IN_PROGRESS) && !keep.contains(&digest(name))
        });
        removed
            .iter()
            .map(|name| digest(name))
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if self.ephemeral {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn parse(name: &str, doc: &str) -> Result<Value, StoreError> {
    serde_json::from_str(doc).map_err(|e| StoreError::Corrupt {
        name: name.to_owned(),
        detail: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documents_survive_reopening_a_state_directory() {
        let dir = std::env::temp_dir().join(format!("lambda-rie-store-{}", uuid::Uuid::new_v4()));
        {
            let store = Store::open(Some(&dir)).unwrap();
            store.put("b", &json!({"n": 1})).unwrap();
            store.put("a", &json!({"n": 2})).unwrap();
            store.put("b", &json!({"n": 3})).unwrap();
        }
        let store = Store::open(Some(&dir)).unwrap();
        let names: Vec<String> = store
            .functions()
            .unwrap()
            .into_iter()
            .map(|f| f.0)
            .collect();
        assert_eq!(names, ["b", "a"]);
        assert_eq!(store.get("b").unwrap(), Some(json!({"n": 3})));
        assert!(store.contains("a"));
        store.delete("b").unwrap();
        assert_eq!(store.get("b").unwrap(), None);
        drop(store);
        assert!(dir.is_dir());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_temporary_store_is_made_with_its_first_code_and_removed_when_dropped() {
        let store = Store::open(None).unwrap();
        let dir = store.dir().to_owned();
        store.put("f", &json!({})).unwrap();
        assert!(!dir.exists());
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        w.start_file("a.py", zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut w, b"x = 1\n").unwrap();
        let zip = w.finish().unwrap().into_inner();
        let code = store.keep_code(&code::digests(&zip).hex, &zip).unwrap();
        assert!(code.join("a.py").is_file());
        drop(store);
        assert!(!dir.exists());
    }
}
