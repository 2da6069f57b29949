//! State in memory: for tests and dry demos. Same semantics as SQLite, nothing durable.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::{StateError, StateStore};
use crate::bindings::state::{Entry, Write};

#[derive(Default)]
pub struct MemoryState {
    entries: Mutex<BTreeMap<(String, String), Vec<u8>>>,
    locks: Mutex<MemoryLocks>,
}

/// The locks held, and each resource's last fencing token (`super::lock`).
#[derive(Default)]
pub(crate) struct MemoryLocks {
    pub(crate) holders: BTreeMap<String, super::lock::Holder>,
    pub(crate) fences: BTreeMap<String, i64>,
}

impl MemoryState {
    /// Every entry of every namespace, for assertions.
    pub fn dump(&self) -> BTreeMap<(String, String), Vec<u8>> {
        self.lock().clone()
    }

    /// The locks held (`super::lock`).
    pub(crate) fn locks(&self) -> std::sync::MutexGuard<'_, MemoryLocks> {
        self.locks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), Vec<u8>>> {
        // A panic while holding the lock cannot leave a half-applied commit (commits build
        // their result before touching the map), so a poisoned lock is still consistent.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl StateStore for MemoryState {
    fn get(&self, namespace: &str, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StateError> {
        let entries = self.lock();
        Ok(keys
            .iter()
            .map(|key| entries.get(&(namespace.to_string(), key.clone())).cloned())
            .collect())
    }

    fn scan(
        &self,
        namespace: &str,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Entry>, StateError> {
        let entries = self.lock();
        let start = (namespace.to_string(), after.unwrap_or(prefix).to_string());
        Ok(entries
            .range(start..)
            .take_while(|((ns, key), _)| ns == namespace && key.starts_with(prefix))
            .filter(|((_, key), _)| after.is_none_or(|after| key.as_str() > after))
            .take(limit as usize)
            .map(|((_, key), value)| Entry {
                key: key.clone(),
                value: value.clone(),
            })
            .collect())
    }

    fn commit(&self, namespace: &str, writes: &[Write]) -> Result<(), StateError> {
        let mut entries = self.lock();
        let mut next = entries.clone();
        for write in writes {
            match write {
                Write::Put(Entry { key, value }) => {
                    next.insert((namespace.to_string(), key.clone()), value.clone());
                }
                Write::Delete(key) => {
                    next.remove(&(namespace.to_string(), key.clone()));
                }
            }
        }
        *entries = next;
        Ok(())
    }
}
