//! maintenance-rs on rocket, the whole set-up to copy: the handle started on a database that may
//! be down, the fairing attached once (a blocked request never reaches a route), and the paths
//! that stay served during maintenance: the admin and a health check for the load balancer.
//!
//! Run it with `cargo run -p maintenance-examples --example rocket`, then turn maintenance on
//! and off with `cargo run -p maintenance-cli -- on` (and `off`) on the same `DATABASE_URL`, and
//! watch `curl -i http://127.0.0.1:8000/` answer 503 and 200, and `/healthz` 200 throughout.
use maintenance_core::Policy;
use maintenance_rocket::MaintenanceFairing;

#[rocket::get("/")]
fn home() -> &'static str {
    "Hello"
}

#[rocket::get("/healthz")]
fn healthz() -> &'static str {
    "ok"
}

#[rocket::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite://maintenance.db".into());
    // Patterns match the path without its leading `/`; they replace the default `^admin`, so
    // it is named again. Rocket serves `/healthz/` from the route `/healthz`: with
    // `trailing_slash_insensitive` a pattern exempts a path only if it matches both forms.
    let policy = Policy::builder()
        .ignored_patterns(["^admin", "^healthz/?$"])
        .trailing_slash_insensitive(true)
        .build()?;
    // Serves at once (the fail mode) while the database is down, migrates when it answers.
    let maintenance = maintenance_sqlx::Startup::new(url).start(policy).await?;

    let _ = rocket::build()
        .attach(MaintenanceFairing::new(maintenance))
        .mount("/", rocket::routes![home, healthz])
        .launch()
        .await?;
    Ok(())
}
