//! File uploads. PCO takes them on `https://upload.planningcenteronline.com/v2/files`; the
//! sandbox serves the same path on its one address (research §6.7). The answer's file id is
//! what `PATCH /people/v2/people/{id}` takes as `avatar`.

use axum::Extension;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use serde_json::json;

use super::SharedState;
use crate::clock::{format_time, lock};
use crate::jsonapi::{ApiError, ApiResult, document};
use crate::model::{Counters, UploadedFile};
use crate::state::Ctx;

/// How long PCO keeps an unused upload (observed: about an hour).
const UPLOAD_LIFETIME_SECS: i64 = 3_600;

pub async fn upload(
    State(shared): SharedState,
    Extension(ctx): Extension<Ctx>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult {
    let mut multipart = multipart.map_err(|e| {
        ApiError::bad_request(
            "invalid_upload",
            format!("expected multipart/form-data: {e}"),
        )
    })?;
    let mut file = None;
    loop {
        let field = multipart.next_field().await.map_err(|e| {
            ApiError::bad_request("invalid_upload", format!("unreadable multipart body: {e}"))
        })?;
        let Some(field) = field else { break };
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().unwrap_or("upload").to_string();
        let content_type = field
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_string();
        let bytes = field.bytes().await.map_err(|e| {
            ApiError::bad_request("invalid_upload", format!("unreadable file field: {e}"))
        })?;
        file = Some((name, content_type, bytes.len()));
    }
    let (name, content_type, size) = file.ok_or_else(|| {
        ApiError::validation(
            "file",
            "can't be blank (send the file in a field named \"file\")",
            "File",
        )
    })?;
    let now = shared.clock.now();
    let mut store = lock(&shared.store);
    let (account, next) = store.split(ctx.account);
    let n = Counters::take(&mut next.file);
    // Shaped like PCO's ids ("us3-d2d71252-..."), numbered so runs repeat.
    let id = format!("us1-{n:08x}-0000-4000-8000-{:012x}", account.org_id);
    account.files.insert(
        id.clone(),
        UploadedFile {
            name: name.clone(),
            content_type: content_type.clone(),
            size,
            uploaded_at: now,
        },
    );
    let body = json!({ "data": [{
        "type": "File",
        "id": id,
        "attributes": {
            "name": name,
            "content_type": content_type,
            "file_size": size,
            "expires_at": format_time(now + UPLOAD_LIFETIME_SECS),
            "source_ip": "127.0.0.1",
        },
    }]});
    // PCO's upload host answers plain JSON, not JSON:API's media type.
    let mut response = document(StatusCode::CREATED, body);
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}
