//! The SQL store test kit's driver for this crate's stores: raw SQL through sqlx.

use maintenance_sqlx::sqlx::{self, AssertSqlSafe};

maintenance_sql::sql_test_driver! {
    Sqlx, maintenance_sqlx;
    exec(store, sql) {
        sqlx::query(AssertSqlSafe(sql.to_owned()))
            .execute(store.pool())
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .rows_affected()
    }
    query_text(store, sql) {
        sqlx::query_scalar(AssertSqlSafe(sql.to_owned()))
            .fetch_one(store.pool())
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
    close(store) {
        store.pool().close().await;
    }
    #[cfg(feature = "sqlite")] SqliteStore: Sqlite,
    #[cfg(feature = "postgres")] PgStore: Postgres,
    #[cfg(feature = "mysql")] MySqlStore: MySql,
}
