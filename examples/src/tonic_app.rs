//! The test project on tonic: the canonical `helloworld.Greeter` and the standard
//! `grpc.health.v1.Health` service, behind the same tower layer as the axum project.
//!
//! tonic's routes become an axum router ([`tonic::service::Routes::into_axum_router`]), the
//! layer goes around all of it, and `axum::serve` speaks HTTP/2 with prior knowledge, as gRPC
//! clients do. A blocked call gets a gRPC answer (HTTP 200, `grpc-status: 14`, the message in
//! `grpc-message`) and the site comes from `:authority`. The health service is never blocked:
//! the policy ignores `^grpc\.health\.v1\.Health/`, so a balancer's probe keeps passing.
//! `GET /healthz` and `GET /metrics` answer over HTTP/1.1 as on the other test projects.
//!
//! The messages and the service are written out here rather than generated from
//! `helloworld.proto`, so that building needs no `protoc`:
//!
//! ```proto
//! package helloworld;
//! service Greeter { rpc SayHello (HelloRequest) returns (HelloReply); }
//! message HelloRequest { string name = 1; }
//! message HelloReply { string message = 1; }
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use maintenance_axum::MaintenanceLayer;
use maintenance_core::Maintenance;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::{Request, Response, Status};
use tower::Layer;
use tower::util::Either;

use crate::{Config, ConfigError, Sessions};

/// `127.0.0.1:50051`, where `testproject-tonic` listens without `BIND`.
pub const DEFAULT_BIND: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 50051);

/// `helloworld.HelloRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HelloRequest {
    /// Who to greet.
    #[prost(string, tag = "1")]
    pub name: String,
}

/// `helloworld.HelloReply`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HelloReply {
    /// The greeting.
    #[prost(string, tag = "1")]
    pub message: String,
}

/// The full name of `SayHello`, as a client calls it.
pub const SAY_HELLO: &str = "/helloworld.Greeter/SayHello";

/// The `helloworld.Greeter` service: `SayHello` answers `Hello <name>!`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Greeter;

impl NamedService for Greeter {
    const NAME: &'static str = "helloworld.Greeter";
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// `SayHello` as tonic's unary service.
struct SayHello;

impl tower::Service<Request<HelloRequest>> for SayHello {
    type Response = Response<HelloReply>;
    type Error = Status;
    type Future = std::future::Ready<Result<Response<HelloReply>, Status>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<HelloRequest>) -> Self::Future {
        let name = req.into_inner().name;
        std::future::ready(Ok(Response::new(HelloReply {
            message: format!("Hello {name}!"),
        })))
    }
}

impl tower::Service<http::Request<Body>> for Greeter {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<http::Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        if req.uri().path() == SAY_HELLO {
            Box::pin(async move {
                let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
                Ok(grpc.unary(SayHello, req).await)
            })
        } else {
            let method = req.uri().path().to_owned();
            Box::pin(
                async move { Ok(Status::unimplemented(format!("no method {method}")).into_http()) },
            )
        }
    }
}

/// The test project's gRPC service, with the layer around it unless the layer is off: an axum
/// router, as the axum project's.
pub use crate::axum_app::App;

/// The Greeter and the health service (reporting both as serving), with the maintenance
/// layer around them when `maintenance` is given. The identity comes from the session cookie,
/// sent as `cookie` metadata, as in the HTTP projects.
pub async fn service(sessions: Sessions, maintenance: Option<Maintenance>) -> App {
    let (reporter, health) = tonic_health::server::health_reporter();
    // The server as a whole ("") is reported serving from the start.
    reporter.set_serving::<Greeter>().await;
    // `GET /healthz` and `GET /metrics` over HTTP/1.1, as on every test project.
    let router = tonic::service::Routes::new(Greeter)
        .add_service(health)
        .into_axum_router()
        .route("/healthz", axum::routing::get(|| async { crate::HEALTHZ }))
        .route("/metrics", axum::routing::get(crate::axum_app::metrics));
    match maintenance {
        Some(m) => Either::Left(
            MaintenanceLayer::new(m)
                .with_identity(move |parts| sessions.identity(&parts.headers))
                .layer(router),
        ),
        None => Either::Right(router),
    }
}

/// Builds the service from `config`: opens and migrates the store and starts the live handle
/// (unless the layer is off).
pub async fn build(config: &Config) -> Result<(App, Option<Maintenance>), ConfigError> {
    let maintenance = config.start_maintenance_if_layered().await?;
    Ok((
        service(Sessions::default(), maintenance.clone()).await,
        maintenance,
    ))
}

/// Serves `app` over HTTP/2 (gRPC clients) and HTTP/1.1 on `listener` with peer addresses,
/// until the process stops: the axum project's server, which speaks both.
pub use crate::axum_app::serve;
