//! The throwaway cluster cleans up after itself.

use schoolcard_server::ThrowawayCluster;

#[test]
fn a_dropped_cluster_stops_and_leaves_no_folder() {
    let cluster = ThrowawayCluster::start().expect("a cluster");
    let data_dir = cluster.data_dir().to_owned();
    let port = cluster.port();
    let url = cluster.admin_url();
    let answer: i32 = crate::harness::block_on(async {
        let pool = schoolcard_server::db::connect(&url).await.unwrap();
        let one = sqlx_core::query_scalar::query_scalar("SELECT 1")
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        one
    });
    assert_eq!(answer, 1);
    assert!(data_dir.join("postmaster.pid").exists());
    drop(cluster);
    assert!(!data_dir.exists(), "the folder is removed");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "nothing listens on the cluster's port"
    );
}
