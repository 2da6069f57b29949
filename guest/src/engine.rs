//! The engine's own health: what the host asks a new guest before putting it in service.

use crate::types::{Error, ErrorKind};

/// Checks the guest's own wiring without touching any system: the host calls this before it
/// puts a new guest in service.
pub fn self_check() -> Result<(), Error> {
    let parsed = serde_json::from_str::<serde_json::Value>(r#"{"ok":true}"#)
        .map_err(|e| internal(&format!("self-check: JSON support broken: {e}")))?;
    if parsed["ok"] != serde_json::Value::Bool(true) {
        return Err(internal("self-check: JSON support returned a wrong value"));
    }
    Ok(())
}

fn internal(message: &str) -> Error {
    Error {
        kind: ErrorKind::Internal,
        message: message.to_string(),
    }
}
