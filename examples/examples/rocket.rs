//! maintenance-rs on rocket, the whole set-up to copy: the handle started on a database that may
//! be down, and the fairing attached once; a blocked request never reaches a route.
//!
//! Run it with `cargo run -p maintenance-examples --example rocket`, then turn maintenance on
//! and off with `cargo run -p maintenance-cli -- on` (and `off`) on the same `DATABASE_URL`, and
//! watch `curl -i http://127.0.0.1:8000/` answer 503 and 200.
use maintenance_core::Policy;
use maintenance_rocket::MaintenanceFairing;

#[rocket::get("/")]
fn home() -> &'static str {
    "Hello"
}

#[rocket::get("/admin")]
fn admin() -> &'static str {
    "The admin stays reachable"
}

#[rocket::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite://maintenance.db".into());
    // Clients in these networks always pass; `^admin` is ignored on every site by default.
    let policy = Policy::builder()
        .internal_networks(["10.0.0.0/8"])
        .build()?;
    // Serves at once (the fail mode) while the database is down, migrates when it answers.
    let maintenance = maintenance_sqlx::Startup::new(url).start(policy).await?;

    let _ = rocket::build()
        .attach(MaintenanceFairing::new(maintenance))
        .mount("/", rocket::routes![home, admin])
        .launch()
        .await?;
    Ok(())
}
