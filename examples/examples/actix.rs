//! maintenance-rs on actix-web, the whole set-up to copy: the handle started on a database that
//! may be down, and the middleware on the `App` (not on a scope), so it sees every request.
//!
//! Run it with `cargo run -p maintenance-examples --example actix`, then turn maintenance on and
//! off with `cargo run -p maintenance-cli -- on` (and `off`) on the same `DATABASE_URL`, and
//! watch `curl -i http://127.0.0.1:3000/` answer 503 and 200.
use actix_web::{App, HttpResponse, HttpServer, web};
use maintenance_actix::MaintenanceMode;
use maintenance_core::Policy;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite://maintenance.db".into());
    // Clients in these networks always pass; `^admin` is ignored on every site by default.
    let policy = Policy::builder()
        .internal_networks(["10.0.0.0/8"])
        .build()?;
    // Serves at once (the fail mode) while the database is down, migrates when it answers.
    let maintenance = maintenance_sqlx::Startup::new(url).start(policy).await?;
    let middleware = MaintenanceMode::new(maintenance);

    println!("listening on http://127.0.0.1:3000");
    HttpServer::new(move || {
        App::new()
            .wrap(middleware.clone())
            .route(
                "/",
                web::get().to(|| async { HttpResponse::Ok().body("Hello") }),
            )
            .route(
                "/admin/",
                web::get().to(|| async { HttpResponse::Ok().body("The admin stays reachable") }),
            )
    })
    .bind(("127.0.0.1", 3000))?
    .run()
    .await?;
    Ok(())
}
