//! What IIS and http.sys answer in front of Rock, before ASP.NET (and so Rock) sees a request.
//! Rock runs on IIS only; these refusals come from the web server, so their bodies are IIS's
//! HTML pages, not Web API's JSON.

use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, Response, StatusCode, header};

/// `<requestLimits maxQueryString="16384">` in RockWeb/web.config (the model's
/// `rules.request_limits`: `requestFiltering_maxQueryString`, web.config lines 68-70 and 108);
/// ASP.NET's `maxQueryStringLength` there is the same 16384, and IIS's request filtering runs
/// first.
pub const MAX_QUERY_STRING: usize = 16_384;

/// http.sys's own error page for 411 (`HTTP Error 411. The request must be chunked or have a
/// content length.`), byte for byte the format http.sys writes for its errors (the same page
/// as its "Bad Request - Invalid Hostname"), sent with `Content-Type: text/html;
/// charset=us-ascii` and `Server: Microsoft-HTTPAPI/2.0`.
pub const LENGTH_REQUIRED_BODY: &str = "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\"\"http://www.w3.org/TR/html4/strict.dtd\">\r\n\
<HTML><HEAD><TITLE>Length Required</TITLE>\r\n\
<META HTTP-EQUIV=\"Content-Type\" Content=\"text/html; charset=us-ascii\"></HEAD>\r\n\
<BODY><h2>Length Required</h2>\r\n\
<hr><p>HTTP Error 411. The request must be chunked or have a content length.</p>\r\n\
</BODY></HTML>\r\n";

/// IIS's detailed error page for substatus 404.15 (the request filtering module's "Query
/// String Too Long"), reduced to its text. A remote client of an IIS left at its default
/// `errorMode="DetailedLocalOnly"` may get the generic 404 custom page instead; either way
/// the status is 404 and the body is HTML, never Web API's JSON.
pub const QUERY_STRING_TOO_LONG_BODY: &str = "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\" \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd\">\r\n\
<html xmlns=\"http://www.w3.org/1999/xhtml\">\r\n\
<head>\r\n\
<meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\"/>\r\n\
<title>IIS 10.0 Detailed Error - 404.15 - Not Found</title>\r\n\
</head>\r\n\
<body>\r\n\
<div id=\"content\">\r\n\
<div class=\"content-container\">\r\n\
  <h3>HTTP Error 404.15 - Not Found</h3>\r\n\
  <h4>The request filtering module is configured to deny a request where the query string is too long.</h4>\r\n\
</div>\r\n\
<div class=\"content-container\">\r\n\
  <fieldset><h4>Most likely causes:</h4>\r\n\
  <ul><li>Request filtering is configured on the Web server to deny the request because the query string is too long.</li></ul>\r\n\
  </fieldset>\r\n\
</div>\r\n\
<div class=\"content-container\">\r\n\
  <fieldset><h4>Things you can try:</h4>\r\n\
  <ul><li>Verify the configuration/system.webServer/security/requestFiltering/requestLimits@maxQueryString setting in the applicationhost.config or web.config file.</li></ul>\r\n\
  </fieldset>\r\n\
</div>\r\n\
</div>\r\n\
</body>\r\n\
</html>\r\n";

/// The answer IIS gives instead of passing the request to Rock, with the reason for the
/// request log; `None` when the request goes through.
///
/// - A POST, PUT or PATCH with neither `Content-Length` nor `Transfer-Encoding` is refused by
///   http.sys with 411 Length Required, whatever the route (so also
///   `POST api/People/AttributeValue/{id}?…` and `PUT api/Groups/SaveAddress/…`, whose data is
///   all in the query string): a client must send `Content-Length: 0` on an empty body.
/// - A query string longer than [`MAX_QUERY_STRING`] bytes (as sent, still percent-encoded;
///   the `?` not counted) is refused by request filtering with 404.15.
pub fn refusal<B>(request: &Request<B>) -> Option<(Response<Body>, String)> {
    let query = request.uri().query().unwrap_or("");
    if query.len() > MAX_QUERY_STRING {
        let detail = format!(
            "IIS request filtering: the query string is {} bytes, over maxQueryString {MAX_QUERY_STRING} (404.15)",
            query.len()
        );
        let response = html(
            StatusCode::NOT_FOUND,
            QUERY_STRING_TOO_LONG_BODY,
            "text/html",
            "Microsoft-IIS/10.0",
        );
        return Some((response, detail));
    }
    let has_body_method = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH
    );
    let headers = request.headers();
    let framed = headers.contains_key(header::CONTENT_LENGTH)
        || headers.contains_key(header::TRANSFER_ENCODING);
    if has_body_method && !framed {
        let detail = format!(
            "http.sys: {} without Content-Length or Transfer-Encoding (411)",
            request.method()
        );
        let response = html(
            StatusCode::LENGTH_REQUIRED,
            LENGTH_REQUIRED_BODY,
            "text/html; charset=us-ascii",
            "Microsoft-HTTPAPI/2.0",
        );
        return Some((response, detail));
    }
    None
}

fn html(
    status: StatusCode,
    body: &'static str,
    content_type: &'static str,
    server: &'static str,
) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::SERVER, HeaderValue::from_static(server));
    if status == StatusCode::LENGTH_REQUIRED {
        // http.sys closes the connection after its own errors.
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}
