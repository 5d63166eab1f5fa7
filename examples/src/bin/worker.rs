//! A background worker that pauses while its site is in maintenance and resumes after: the
//! same database and start-up settings as the test projects (`DATABASE_URL`,
//! `MAINTENANCE_MIGRATE`, ...), plus `WORKER_HOST` (the site, default `localhost`: the default
//! site) and `WORKER_EVERY_MS` (default 1000).
#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::time::Duration;

use maintenance_examples::worker::{Worker, WorkerEvent};
use maintenance_examples::{ConfigError, LOG_FILTER, run_main};

#[tokio::main]
async fn main() -> ExitCode {
    run_main("worker", LOG_FILTER, async |config| {
        let host = std::env::var("WORKER_HOST").unwrap_or_else(|_| "localhost".to_owned());
        let every = match std::env::var("WORKER_EVERY_MS") {
            Err(_) => Duration::from_secs(1),
            Ok(v) => v
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|&ms| ms > 0)
                .map(Duration::from_millis)
                .ok_or(ConfigError::Var {
                    name: "WORKER_EVERY_MS",
                    value: v,
                    expected: "a number of milliseconds greater than 0",
                })?,
        };
        let maintenance = config.start_maintenance().await?;
        tracing::info!(%host, ?every, "worker started");
        Worker::new(maintenance, host.clone(), every)
            .run(
                || async {},
                |event| match event {
                    WorkerEvent::Worked(n) => tracing::info!(round = n, "job done"),
                    WorkerEvent::Paused => {
                        tracing::info!(%host, "site in maintenance; worker paused")
                    }
                    WorkerEvent::Resumed => {
                        tracing::info!(%host, "maintenance over; worker resumed")
                    }
                },
            )
            .await;
        Ok(())
    })
    .await
}
