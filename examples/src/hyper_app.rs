//! The test project on plain hyper, reusing maintenance-core without any adapter: what a
//! custom server (or a framework without an adapter) does.

use std::convert::Infallible;
use std::net::SocketAddr;

use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use maintenance_core::{Decision, Maintenance, adapter::WithPeer};

use crate::{LOGIN_FORM, SESSION_COOKIE, Sessions, items};

type Body = Full<Bytes>;

fn text(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response<Body> {
    let mut res = Response::new(Full::new(body.into()));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    res
}

/// Answers one request: the maintenance check first, then the routes.
pub async fn handle(
    req: Request<Incoming>,
    peer: SocketAddr,
    maintenance: Option<Maintenance>,
    sessions: Sessions,
) -> Result<Response<Body>, Infallible> {
    if let Some(m) = &maintenance {
        let view = WithPeer::new(&req, Some(peer.ip()));
        // The session is looked up only when the decision needs to know who is asking.
        let announce = match m.check(&view, || sessions.identity(req.headers())) {
            Decision::Allow(reason) => m.announcement(&reason, &view),
            Decision::Block(block) => return Ok(m.blocked_response(&block, &view).map(Full::from)),
            Decision::Bypass(grant) => return Ok(grant.to_response().map(Full::from)),
            Decision::Status(status) => return Ok(status.to_response().map(Full::from)),
            // `Decision` may grow: a later release says how to serve what it adds.
            _ => None,
        };
        let mut res = route(req, &sessions).await;
        if let Some(window) = announce {
            res.headers_mut().insert(
                http::HeaderName::from_static(maintenance_core::status::WINDOW_HEADER),
                window,
            );
        }
        return Ok(res);
    }
    Ok(route(req, &sessions).await)
}

async fn route(req: Request<Incoming>, sessions: &Sessions) -> Response<Body> {
    const PLAIN: &str = "text/plain; charset=utf-8";
    match (req.method(), req.uri().path()) {
        (&Method::GET | &Method::HEAD, "/") => {
            text(StatusCode::OK, PLAIN, "This is the home view.")
        }
        (&Method::GET | &Method::HEAD, "/ignored-page/") => text(StatusCode::OK, PLAIN, "Ignored"),
        (&Method::GET | &Method::HEAD, "/healthz") => text(StatusCode::OK, PLAIN, crate::HEALTHZ),
        (&Method::GET | &Method::HEAD, "/metrics") => text(
            StatusCode::OK,
            crate::METRICS_CONTENT_TYPE,
            crate::metrics_text(),
        ),
        (&Method::GET | &Method::HEAD, "/admin/login/") => {
            text(StatusCode::OK, "text/html; charset=utf-8", LOGIN_FORM)
        }
        (&Method::POST, "/admin/login/") => {
            let Ok(body) = Limited::new(req.into_body(), 64 * 1024).collect().await else {
                return text(StatusCode::BAD_REQUEST, PLAIN, "Unreadable form.");
            };
            let form: Vec<(String, String)> = form_urlencoded::parse(&body.to_bytes())
                .into_owned()
                .collect();
            let field = |name: &str| {
                form.iter()
                    .find(|(k, _)| k == name)
                    .map_or("", |(_, v)| v.as_str())
            };
            match sessions.login(field("username"), field("password")) {
                Some(token) => {
                    let mut res = text(StatusCode::SEE_OTHER, PLAIN, "");
                    let headers = res.headers_mut();
                    headers.insert(header::LOCATION, header::HeaderValue::from_static("/"));
                    if let Ok(v) =
                        format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax").parse()
                    {
                        headers.insert(header::SET_COOKIE, v);
                    }
                    res
                }
                None => text(
                    StatusCode::UNAUTHORIZED,
                    "text/html; charset=utf-8",
                    "Invalid username or password.",
                ),
            }
        }
        (&Method::GET | &Method::HEAD, "/api/items") => {
            text(StatusCode::OK, "application/json", items().to_string())
        }
        (&Method::POST, "/api/items") => {
            match Limited::new(req.into_body(), 64 * 1024).collect().await {
                Ok(body) => text(StatusCode::CREATED, "application/json", body.to_bytes()),
                Err(_) => text(StatusCode::BAD_REQUEST, PLAIN, "Unreadable body."),
            }
        }
        _ => text(StatusCode::NOT_FOUND, PLAIN, "Not found"),
    }
}

/// Serves connections from `listener` until the process stops.
pub async fn serve(
    listener: tokio::net::TcpListener,
    maintenance: Option<Maintenance>,
    sessions: Sessions,
) -> std::io::Result<()> {
    loop {
        let (stream, peer) = listener.accept().await?;
        let maintenance = maintenance.clone();
        let sessions = sessions.clone();
        tokio::spawn(async move {
            let service =
                service_fn(move |req| handle(req, peer, maintenance.clone(), sessions.clone()));
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
        });
    }
}
