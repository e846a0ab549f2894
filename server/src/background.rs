//! The server's background work, one loop: the portal's projection of the journal, the
//! municipality's aggregates, then the parents' notifications (enqueued from the fresh
//! feed, delivered when due). It runs every second, and at once when a push, a server
//! event or a payment wakes it.

use crate::http::AppState;
use std::time::Duration;

/// Between rounds when nothing wakes the loop.
const ROUND: Duration = Duration::from_secs(1);

pub fn spawn(state: &AppState) -> tokio::task::JoinHandle<()> {
    let pool = state.pool.clone();
    let wake = state.projector_wake.clone();
    let mailer = state.portal.mailer.clone();
    let portal_url = state.public_url.clone();
    tokio::spawn(async move {
        loop {
            if let Err(error) = crate::projector::project_pending(&pool).await {
                tracing::warn!(%error, "projector: a batch failed; retrying");
            }
            if let Err(error) = crate::analytics::project_pending(&pool).await {
                tracing::warn!(error = %error.message, "analytics: a batch failed; retrying");
            }
            if let Err(error) = crate::notify::enqueue_pending(&pool, &portal_url).await {
                tracing::warn!(error = %error.message, "notifications cannot be enqueued");
            }
            if let Err(error) =
                crate::notify::deliver_due(&pool, mailer.clone(), chrono::Utc::now()).await
            {
                tracing::warn!(error = %error.message, "notifications cannot be delivered");
            }
            let _ = tokio::time::timeout(ROUND, wake.notified()).await;
        }
    })
}
