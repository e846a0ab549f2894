//! The app role can add to the journal, the ledger and the alerts, never change them.

use crate::harness::*;
use serde_json::json;
use sqlx_core::executor::Executor;

#[test]
fn the_app_role_cannot_update_or_delete_the_journal_or_the_ledger() {
    let server = server();
    let school = server.school("Школа");
    let till = server.enrol(school, "ws-till");
    server.push(
        &till,
        &[event(
            "ws-till",
            1,
            "balance_topped_up",
            json!({"person_id": "p1", "amount": 100}),
        )],
    );
    server.push_raw(&till, 0, &[passages("ws-till", 1, 1)[0].clone()]); // an alert row
    let statements = [
        "UPDATE events SET payload = '{}'",
        "DELETE FROM events",
        "TRUNCATE events",
        "UPDATE ledger SET amount = 1000000",
        "DELETE FROM ledger",
        "TRUNCATE ledger",
        "UPDATE alerts SET detail = '{}'",
        "DELETE FROM alerts",
    ];
    let app_url = server.app_url.clone();
    block_on(async {
        // A fresh connection as the app role, as the server has.
        let pool = schoolcard_server::db::connect(&app_url).await.unwrap();
        let role: String = sqlx_core::query_scalar::query_scalar("SELECT current_user")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(role, APP_ROLE);
        for statement in statements {
            let error = pool.execute(statement).await.expect_err(statement);
            let code = error
                .as_database_error()
                .and_then(|e| e.code())
                .map(|c| c.into_owned());
            assert_eq!(code.as_deref(), Some("42501"), "{statement}: {error}");
        }
        let held: i64 = sqlx_core::query_scalar::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(held, 1);
    });
}
