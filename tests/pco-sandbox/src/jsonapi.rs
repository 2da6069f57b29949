//! JSON:API errors, request bodies and responses, in the shapes PCO uses (research §2 and §5).
//! The documents themselves are typed values from `resource`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

pub const JSONAPI_TYPE: &str = "application/vnd.api+json; charset=utf-8";
pub const ERROR_TYPE: &str = "application/json; charset=utf-8";

/// One entry of PCO's `errors` array.
#[derive(Clone, Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub title: &'static str,
    pub code: Option<&'static str>,
    pub detail: String,
    /// `source.parameter`: the attribute or parameter at fault.
    pub parameter: Option<String>,
    /// `meta.resource`: the resource type being validated.
    pub resource: Option<&'static str>,
}

impl ApiError {
    fn new(status: StatusCode, title: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            title,
            code: None,
            detail: detail.into(),
            parameter: None,
            resource: None,
        }
    }

    pub fn not_found() -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "Not Found",
            "The resource you requested could not be found",
        )
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError {
            code: Some(code),
            ..ApiError::new(StatusCode::BAD_REQUEST, "Bad Request", detail)
        }
    }

    pub fn no_data_key() -> ApiError {
        ApiError::bad_request(
            "invalid_resource_payload",
            "The payload given does not contain a 'data' key.",
        )
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "This request could not be authenticated. Check your application id and secret.",
        )
    }

    /// An attribute that does not exist or may not be written (PCO: "bogus cannot be assigned").
    pub fn forbidden_attribute(attribute: &str, resource: &'static str) -> ApiError {
        ApiError {
            parameter: Some(attribute.to_string()),
            resource: Some(resource),
            ..ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Forbidden Attribute",
                format!("{attribute} cannot be assigned"),
            )
        }
    }

    /// A 422 "Forbidden Attribute" with only a detail, as PCO answers a role refusal of an
    /// attribute (planningcenter/developers#1139:
    /// `{"errors":[{"status":"422","title":"Forbidden Attribute","detail":"You cannot assign first_name and last_name to this Person"}]}`).
    pub fn forbidden_attribute_detail(detail: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Forbidden Attribute",
            detail,
        )
    }

    /// PCO's 403 for an insufficient role (planningcenter/developers#74, #113, #1096).
    pub fn no_access() -> ApiError {
        ApiError::forbidden("You do not have access to this resource")
    }

    pub fn validation(
        attribute: &str,
        detail: impl Into<String>,
        resource: &'static str,
    ) -> ApiError {
        ApiError {
            parameter: Some(attribute.to_string()),
            resource: Some(resource),
            ..ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "Validation Error", detail)
        }
    }

    /// A relationship id that points nowhere (research §5, #744).
    pub fn resource_not_found(attribute: &str, resource: &'static str) -> ApiError {
        ApiError {
            code: Some("attribute_resource_not_found"),
            parameter: Some(attribute.to_string()),
            resource: Some(resource),
            ..ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Attribute Resource Not Found",
                format!("Error setting {attribute}. The underlying resource couldn't be found."),
            )
        }
    }

    pub fn forbidden(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "Forbidden", detail)
    }

    pub fn method_not_allowed() -> ApiError {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method Not Allowed",
            "This endpoint does not support that method",
        )
    }

    pub fn internal(status: StatusCode) -> ApiError {
        let title = status.canonical_reason().unwrap_or("Server Error");
        ApiError::new(
            status,
            title,
            "An internal server error occurred on our end and we've been notified. Please contact support.",
        )
    }

    fn to_json(&self) -> Value {
        let mut e = Map::new();
        e.insert("status".into(), json!(self.status.as_u16().to_string()));
        e.insert("title".into(), json!(self.title));
        if let Some(code) = self.code {
            e.insert("code".into(), json!(code));
        }
        e.insert("detail".into(), json!(self.detail));
        if let Some(p) = &self.parameter {
            e.insert("source".into(), json!({ "parameter": p }));
        }
        if let Some(r) = self.resource {
            e.insert("meta".into(), json!({ "resource": r }));
        }
        Value::Object(e)
    }
}

/// A failed request: one or more errors (validation can report several at once).
#[derive(Clone, Debug)]
pub struct ApiErrors(pub Vec<ApiError>);

impl From<ApiError> for ApiErrors {
    fn from(e: ApiError) -> ApiErrors {
        ApiErrors(vec![e])
    }
}

impl IntoResponse for ApiErrors {
    fn into_response(self) -> Response {
        let status = self
            .0
            .first()
            .map_or(StatusCode::INTERNAL_SERVER_ERROR, |e| e.status);
        let body = json!({ "errors": self.0.iter().map(ApiError::to_json).collect::<Vec<_>>() });
        let mut response = (status, to_bytes(&body)).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(ERROR_TYPE));
        response
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        ApiErrors::from(self).into_response()
    }
}

pub type ApiResult = Result<Response, ApiErrors>;

/// A JSON:API document response.
pub fn document(status: StatusCode, body: impl serde::Serialize) -> Response {
    let mut response = (status, to_bytes(&body)).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSONAPI_TYPE));
    response
}

pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// Serialises a document straight to bytes (`Value`'s `Display` goes through `fmt::Write`
/// piece by piece and is several times slower on big pages).
fn to_bytes(body: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_vec(body).unwrap_or_default()
}

/// Reads the `data` object of a request body, as PCO requires (400 otherwise).
pub fn request_data(body: &[u8]) -> Result<Map<String, Value>, ApiErrors> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::no_data_key().into());
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(
            "invalid_json",
            format!("The request body is not valid JSON: {e}"),
        )
    })?;
    match value.get("data") {
        Some(Value::Object(data)) => Ok(data.clone()),
        Some(_) => Err(ApiError::bad_request(
            "invalid_resource_payload",
            "Your request could not be processed",
        )
        .into()),
        None => Err(ApiError::no_data_key().into()),
    }
}

/// The `attributes` object of a request's `data` (empty when absent).
pub fn attributes(data: &Map<String, Value>) -> Result<Map<String, Value>, ApiErrors> {
    match data.get("attributes") {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(a)) => Ok(a.clone()),
        Some(_) => Err(ApiError::bad_request(
            "invalid_resource_payload",
            "attributes must be an object",
        )
        .into()),
    }
}
