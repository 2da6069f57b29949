//! REST key authentication (research §8.1): `Authorization-Token: <key>` or `?apikey=<key>`.
//! A missing or unknown key, or a key without the right (View for GET, Edit otherwise), is
//! answered 401 with an empty body, as Rock's `SecuredAttribute` does.

use axum::http::{HeaderMap, Method};

#[derive(Clone, Debug)]
pub struct Auth {
    /// The REST key with View and Edit on every controller.
    pub token: String,
    /// A REST key granted View only (its writes are 401).
    pub view_only_token: Option<String>,
    /// A second REST key with View and Edit, standing for staff editing in Rock: a REST key
    /// is a person in Rock (record type "RestUser"), so its writes carry its own person alias.
    pub staff_token: Option<String>,
}

/// Which key a request came with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    Rest,
    ViewOnly,
    Staff,
}

impl Auth {
    /// The key of a request it lets through; `None` is a 401.
    pub fn key(
        &self,
        method: &Method,
        headers: &HeaderMap,
        params: &[(String, String)],
    ) -> Option<Key> {
        let header = headers
            .get("Authorization-Token")
            .and_then(|v| v.to_str().ok());
        let query = params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("apikey"))
            .map(|(_, v)| v.as_str());
        let key = header.or(query)?;
        if key == self.token {
            return Some(Key::Rest);
        }
        if self.staff_token.as_deref() == Some(key) {
            return Some(Key::Staff);
        }
        let view_only = self.view_only_token.as_deref() == Some(key);
        (view_only && (method == Method::GET || method == Method::HEAD)).then_some(Key::ViewOnly)
    }
}
