//! State in one SQLite file, written in transactions: a crash at any point leaves either the
//! old or the new value of every commit.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

use super::{StateError, StateStore};
use crate::bindings::state::{Entry, Write};

pub struct SqliteState {
    connection: Mutex<Connection>,
}

impl From<rusqlite::Error> for StateError {
    fn from(error: rusqlite::Error) -> Self {
        StateError(error.to_string())
    }
}

impl SqliteState {
    /// Opens (creating if needed) the state file. The caller has already checked that `path`
    /// lies inside the data directory.
    pub fn open(path: &Path) -> Result<Self, StateError> {
        let connection = Connection::open(path)
            .map_err(|e| StateError(format!("cannot open {}: {e}", path.display())))?;
        Self::prepare(connection)
    }

    pub fn in_memory() -> Result<Self, StateError> {
        Self::prepare(Connection::open_in_memory()?)
    }

    fn prepare(connection: Connection) -> Result<Self, StateError> {
        // WAL keeps readers (status, the web admin) from blocking a running sync; busy_timeout
        // lets a second process wait for a commit instead of failing at once.
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "FULL")?;
        connection.busy_timeout(std::time::Duration::from_secs(10))?;
        connection.execute_batch(
            "CREATE TABLE IF NOT EXISTS kv (
                namespace TEXT NOT NULL,
                key TEXT NOT NULL,
                value BLOB NOT NULL,
                PRIMARY KEY (namespace, key)
            ) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS locks (
                resource TEXT PRIMARY KEY,
                pid INTEGER NOT NULL,
                host TEXT NOT NULL,
                command TEXT NOT NULL,
                token TEXT NOT NULL,
                since INTEGER NOT NULL,
                heartbeat INTEGER NOT NULL
            );
            CREATE TABLE IF NOT EXISTS lock_fences (
                resource TEXT PRIMARY KEY,
                fence INTEGER NOT NULL
            );",
        )?;
        Ok(SqliteState {
            connection: Mutex::new(connection),
        })
    }

    /// The connection, for the `locks` table (`super::lock`).
    pub(crate) fn with_connection<T>(
        &self,
        body: impl FnOnce(&mut Connection) -> Result<T, rusqlite::Error>,
    ) -> Result<T, StateError> {
        Ok(body(&mut *self.lock()?)?)
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Connection>, StateError> {
        self.connection
            .lock()
            .map_err(|_| StateError("the state connection was poisoned by a panic".into()))
    }
}

impl StateStore for SqliteState {
    fn get(&self, namespace: &str, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StateError> {
        let connection = self.lock()?;
        let mut query =
            connection.prepare_cached("SELECT value FROM kv WHERE namespace = ?1 AND key = ?2")?;
        keys.iter()
            .map(|key| {
                query
                    .query_row(params![namespace, key], |row| row.get(0))
                    .optional()
                    .map_err(StateError::from)
            })
            .collect()
    }

    fn scan(
        &self,
        namespace: &str,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Entry>, StateError> {
        let connection = self.lock()?;
        let mut query = connection.prepare_cached(
            "SELECT key, value FROM kv
             WHERE namespace = ?1 AND key >= ?2 AND key > ?3 AND substr(key, 1, ?4) = ?2
             ORDER BY key LIMIT ?5",
        )?;
        let rows = query.query_map(
            params![
                namespace,
                prefix,
                after.unwrap_or(""),
                prefix.chars().count() as i64,
                i64::from(limit)
            ],
            |row| {
                Ok(Entry {
                    key: row.get(0)?,
                    value: row.get(1)?,
                })
            },
        )?;
        rows.collect::<Result<_, _>>().map_err(StateError::from)
    }

    fn count(&self, namespace: &str, prefix: &str) -> Result<usize, StateError> {
        let connection = self.lock()?;
        let mut query = connection.prepare_cached(
            "SELECT count(*) FROM kv WHERE namespace = ?1 AND key >= ?2 AND substr(key, 1, ?3) = ?2",
        )?;
        let count: i64 = query.query_row(
            params![namespace, prefix, prefix.chars().count() as i64],
            |row| row.get(0),
        )?;
        Ok(usize::try_from(count).unwrap_or(0))
    }

    fn commit(&self, namespace: &str, writes: &[Write]) -> Result<(), StateError> {
        let mut connection = self.lock()?;
        let transaction = connection.transaction()?;
        apply(&transaction, namespace, writes)?;
        transaction.commit()?;
        Ok(())
    }
}

/// Applies `writes` inside `transaction` (the caller commits it).
pub(crate) fn apply(
    transaction: &rusqlite::Transaction<'_>,
    namespace: &str,
    writes: &[Write],
) -> Result<(), rusqlite::Error> {
    let mut put = transaction.prepare_cached(
        "INSERT INTO kv (namespace, key, value) VALUES (?1, ?2, ?3)
         ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value",
    )?;
    let mut delete =
        transaction.prepare_cached("DELETE FROM kv WHERE namespace = ?1 AND key = ?2")?;
    for write in writes {
        match write {
            Write::Put(Entry { key, value }) => put.execute(params![namespace, key, value])?,
            Write::Delete(key) => delete.execute(params![namespace, key])?,
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::memory::MemoryState;

    fn put(key: &str, value: &str) -> Write {
        Write::Put(Entry {
            key: key.into(),
            value: value.as_bytes().to_vec(),
        })
    }

    /// Both backends must agree on every operation, so tests on memory state mean something.
    #[test]
    fn sqlite_and_memory_backends_agree() {
        let sqlite = SqliteState::in_memory().unwrap();
        let memory = MemoryState::default();
        let stores: [&dyn StateStore; 2] = [&sqlite, &memory];
        for store in stores {
            store
                .commit(
                    "a",
                    &[
                        put("link/1", "x"),
                        put("link/2", "y"),
                        put("link/3", "z"),
                        put("lin", "-"),
                    ],
                )
                .unwrap();
            store
                .commit("b", &[put("link/1", "other account")])
                .unwrap();
            store
                .commit("a", &[Write::Delete("link/2".into()), put("link/3", "z2")])
                .unwrap();
            let keys = |entries: Vec<Entry>| entries.into_iter().map(|e| e.key).collect::<Vec<_>>();
            assert_eq!(
                keys(store.scan("a", "link/", None, 10).unwrap()),
                ["link/1", "link/3"]
            );
            assert_eq!(
                keys(store.scan("a", "link/", Some("link/1"), 10).unwrap()),
                ["link/3"]
            );
            assert_eq!(keys(store.scan("a", "link/", None, 1).unwrap()), ["link/1"]);
            // Counted without the values: not "lin", not account b's.
            assert_eq!(store.count("a", "link/").unwrap(), 2);
            assert_eq!(store.count("b", "link/").unwrap(), 1);
            assert_eq!(
                store.get("a", &["link/3".into(), "link/2".into()]).unwrap(),
                vec![Some(b"z2".to_vec()), None]
            );
            assert_eq!(
                store.get("b", &["link/1".into()]).unwrap(),
                vec![Some(b"other account".to_vec())]
            );
        }
    }

    #[test]
    fn sqlite_state_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        SqliteState::open(&path)
            .unwrap()
            .commit("a", &[put("k", "v")])
            .unwrap();
        let reopened = SqliteState::open(&path).unwrap();
        assert_eq!(
            reopened.get("a", &["k".into()]).unwrap(),
            vec![Some(b"v".to_vec())]
        );
    }
}
