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
}

impl Auth {
    pub fn allows(
        &self,
        method: &Method,
        headers: &HeaderMap,
        params: &[(String, String)],
    ) -> bool {
        let header = headers
            .get("Authorization-Token")
            .and_then(|v| v.to_str().ok());
        let query = params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("apikey"))
            .map(|(_, v)| v.as_str());
        let Some(key) = header.or(query) else {
            return false;
        };
        if key == self.token {
            return true;
        }
        let view_only = self.view_only_token.as_deref().is_some_and(|t| t == key);
        view_only && (method == Method::GET || method == Method::HEAD)
    }
}
