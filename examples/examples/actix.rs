//! maintenance-rs on actix-web, the whole set-up to copy: the handle started on a database that
//! may be down, the middleware on the `App` (not on a scope), so it sees every request, and staff
//! let through by the identity your session middleware established.
//!
//! Run it with `cargo run -p maintenance-examples --example actix`, then turn maintenance on and
//! off with `cargo run -p maintenance-cli -- on` (and `off`) on the same `DATABASE_URL`, and
//! watch `curl -i http://127.0.0.1:3000/` answer 503 and 200.
use actix_web::{App, HttpMessage, HttpResponse, HttpServer, web};
use maintenance_actix::MaintenanceMode;
use maintenance_core::{Identity, Policy};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite://maintenance.db".into());
    // Staff and superusers pass (`Policy::builder().block_staff(true)` stops staff too).
    let policy = Policy::default();
    // Serves at once (the fail mode) while the database is down, migrates when it answers.
    let maintenance = maintenance_sqlx::Startup::new(url).start(policy).await?;
    // Asked only while the site is in maintenance, at most once per request. Your session (or
    // JWT) middleware puts the user's `Identity` in the extensions once it has checked the
    // cookie or token; never take it from a header a client can send.
    let middleware = MaintenanceMode::new(maintenance).with_identity(|req| {
        req.extensions()
            .get::<Identity>()
            .copied()
            .unwrap_or(Identity::Anonymous)
    });

    println!("listening on http://127.0.0.1:3000");
    HttpServer::new(move || {
        App::new()
            .wrap(middleware.clone())
            // .wrap(session_middleware): registered after, it runs first and sets `Identity`.
            .route(
                "/",
                web::get().to(|| async { HttpResponse::Ok().body("Hello") }),
            )
    })
    .bind(("127.0.0.1", 3000))?
    .run()
    .await?;
    Ok(())
}
