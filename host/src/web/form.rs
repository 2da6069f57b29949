//! A posted form's fields (`application/x-www-form-urlencoded`), repeated names included
//! (the people selected for a delete).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;

use super::WebError;

pub(crate) struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn parse(body: &[u8]) -> Fields {
        Fields(
            url::form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, trimmed; empty when absent.
    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().trim().to_string()
    }

    /// The value of `name`, trimmed, when not empty.
    pub fn some(&self, name: &str) -> Option<String> {
        Some(self.text(name)).filter(|t| !t.is_empty())
    }

    /// Every non-empty value of `name`, trimmed.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// Whether the checkbox `name` was ticked.
    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

impl<S: Send + Sync> FromRequest<S> for Fields {
    type Rejection = WebError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|e| WebError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
        Ok(Fields::parse(&body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_and_encoded_fields_are_read() {
        let fields = Fields::parse(b"csrf=abc&pco_id=1&pco_id=+2+&tag=Teams%3AWorship&x=&on=on");
        assert_eq!(fields.get("csrf"), Some("abc"));
        assert_eq!(fields.all("pco_id"), ["1", "2"]);
        assert_eq!(fields.text("tag"), "Teams:Worship");
        assert_eq!(fields.some("x"), None);
        assert!(fields.checked("on"));
        assert!(!fields.checked("off"));
    }
}
