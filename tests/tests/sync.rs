//! Workstations syncing with the real central server on a real PostgreSQL (issue 6):
//! through a proxy that breaks a thousand connections, through SIGKILLs of the syncing
//! process, and with two tills selling to one pupil while cut off.

use schoolcard_core::journal::verify;
use schoolcard_core::sync::http::{HttpTransport, Timeouts};
use schoolcard_core::sync::{pending, sync_once, Batches, SyncError};
use schoolcard_core::{Store, Workstation};
use schoolcard_tests::central::Central;
use schoolcard_tests::fault_proxy::{Fault, FaultProxy, Plan};
use schoolcard_tests::money::{write_events, Choices};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use uuid::Uuid;

fn balances(store: &Store) -> BTreeMap<String, i64> {
    let mut stmt = store
        .conn()
        .prepare("SELECT person_id, balance FROM canteen_accounts ORDER BY person_id")
        .unwrap();
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    rows.map(Result::unwrap).collect()
}

fn count(store: &Store, sql: &str) -> i64 {
    store.conn().query_row(sql, [], |r| r.get(0)).unwrap()
}

/// `PRAGMA integrity_check`, the hash chain, and every event held once.
fn assert_whole(store: &Store) {
    let integrity: String = store
        .conn()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let report = verify(store.conn()).unwrap();
    assert!(report.is_intact(), "{:?}", report.faults);
    assert_eq!(
        count(store, "SELECT count(*) FROM journal"),
        count(
            store,
            "SELECT count(*) FROM (SELECT DISTINCT origin, origin_seq FROM journal)"
        )
    );
}

fn nonzero(map: BTreeMap<String, i64>) -> BTreeMap<String, i64> {
    map.into_iter().filter(|(_, v)| *v != 0).collect()
}

/// Syncs until a cycle succeeds, however many faults it meets on the way.
fn sync_through(store: &mut Store, transport: &HttpTransport, batches: Batches) {
    let started = Instant::now();
    loop {
        match sync_once(store, transport, batches) {
            Ok(_) => return,
            Err(e @ (SyncError::Protocol(_) | SyncError::Store(_))) => panic!("{e}"),
            Err(SyncError::Refused {
                status, message, ..
            }) if status < 500 => {
                panic!("refused {status}: {message}")
            }
            Err(_) => {
                assert!(started.elapsed() < Duration::from_secs(120), "no progress");
            }
        }
    }
}

const WORKSTATIONS: usize = 3;
const EVENTS: usize = 50_000;
const FAULTS: u64 = 1_000;
const PUPILS: u64 = 40;

#[test]
fn fifty_thousand_events_from_three_workstations_through_a_thousand_faults() {
    let central = Central::start();
    let proxy = FaultProxy::start(
        central.url.trim_start_matches("http://").parse().unwrap(),
        Plan::Always(Fault::None),
    )
    .unwrap();
    let via_proxy = format!("http://{}", proxy.address());
    let dir = tempfile::tempdir().unwrap();
    let mut stores: Vec<Store> = (0..WORKSTATIONS)
        .map(|i| Store::open(&dir.path().join(format!("ws{i}.sqlite"))).unwrap())
        .collect();
    for store in &mut stores {
        central.enrol(store, &via_proxy);
    }
    // Every call a new connection, so that each meets the plan; a blackholed call gives
    // up quickly.
    let timeouts = Timeouts {
        connect: Duration::from_millis(500),
        call: Duration::from_millis(250),
        reuse_connections: false,
    };
    let batches = Batches {
        push: 50,
        pull: 250,
    };
    proxy.set_plan(Plan::Random {
        seed: 6,
        percent: 45,
        delay_max: Duration::from_millis(20),
        cut_max: 3_000,
    });

    let models: Vec<BTreeMap<String, i64>> = std::thread::scope(|scope| {
        let threads: Vec<_> = stores
            .iter_mut()
            .enumerate()
            .map(|(i, store)| {
                let proxy = &proxy;
                let via_proxy = &via_proxy;
                scope.spawn(move || {
                    let (_, secret) = schoolcard_core::sync::enrolment(store.conn())
                        .unwrap()
                        .unwrap();
                    let transport =
                        HttpTransport::new(via_proxy, store.device().as_str(), &secret, timeouts)
                            .unwrap();
                    let mut choices = Choices(100 + i as u64);
                    let mut model = BTreeMap::new();
                    let mine = EVENTS / WORKSTATIONS + usize::from(i < EVENTS % WORKSTATIONS);
                    let mut written = 0;
                    // Write in steps and sync after each, as a till between customers;
                    // then keep syncing until the proxy has dealt its thousand faults.
                    while written < mine || proxy.counts().faults < FAULTS {
                        let step = (mine - written).min(2_500);
                        write_events(store, step, PUPILS, 30, &mut choices, &mut model);
                        written += step;
                        sync_through(store, &transport, batches);
                    }
                    model
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let counts = proxy.counts();
    assert!(counts.faults >= FAULTS, "{counts:?}");
    assert!(counts.resets > 0 && counts.cuts > 0, "{counts:?}");

    // The network heals; one more round each, so everyone has everyone's last events.
    proxy.set_plan(Plan::Always(Fault::None));
    for store in &mut stores {
        let (_, secret) = schoolcard_core::sync::enrolment(store.conn())
            .unwrap()
            .unwrap();
        let transport = HttpTransport::new(
            &via_proxy,
            store.device().as_str(),
            &secret,
            Timeouts::default(),
        )
        .unwrap();
        sync_through(store, &transport, Batches::default());
    }

    let mut model: BTreeMap<String, i64> = BTreeMap::new();
    for m in &models {
        for (person, delta) in m {
            *model.entry(person.clone()).or_default() += delta;
        }
    }
    let model = nonzero(model);
    for (i, store) in stores.iter().enumerate() {
        let mine = (EVENTS / WORKSTATIONS + usize::from(i < EVENTS % WORKSTATIONS)) as i64;
        assert_eq!(
            central.held(store.device().as_str()),
            (mine, mine),
            "the server holds every event of workstation {i} once"
        );
        assert_eq!(pending(store.conn(), store.device()).unwrap(), 0);
        assert_eq!(count(store, "SELECT count(*) FROM journal"), EVENTS as i64);
        assert_eq!(
            nonzero(balances(store)),
            model,
            "workstation {i}'s balances"
        );
        assert_whole(store);
    }
    assert_eq!(nonzero(central.balances()), model, "the server's ledger");
    eprintln!("{counts:?}");
}

fn sync_peer(db: &Path, args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_sync_peer"))
        .arg("--db")
        .arg(db)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Starts the peer `times` times and kills it with SIGKILL after a random moment each
/// time, then lets it finish. `done` tells how far the work has got (of `total`): at
/// least one kill must land in the middle, or the test proved nothing.
fn kill_repeatedly(
    db: &Path,
    args: &[&str],
    times: u32,
    choices: &mut Choices,
    (done, total): (&dyn Fn() -> i64, i64),
) {
    let mut cut_midway = 0;
    for _ in 0..times {
        let mut child = sync_peer(db, args);
        std::thread::sleep(Duration::from_millis(60 + choices.below(300)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let now = done();
        if now > 0 && now < total {
            cut_midway += 1;
        }
    }
    assert!(cut_midway > 0, "no kill landed mid-way");
    let status = sync_peer(db, args).wait().unwrap();
    assert!(status.success(), "the last run finishes");
}

#[test]
fn kill_minus_nine_during_push_and_during_pull_loses_and_doubles_nothing() {
    const COUNT: usize = 20_000;
    let central = Central::start();
    let dir = tempfile::tempdir().unwrap();
    let (writer_db, reader_db): (PathBuf, PathBuf) = (
        dir.path().join("till.sqlite"),
        dir.path().join("new.sqlite"),
    );
    let mut model = BTreeMap::new();
    let writer_device = {
        let mut store = Store::open(&writer_db).unwrap();
        central.enrol(&mut store, &central.url);
        write_events(&mut store, COUNT, 25, 30, &mut Choices(7), &mut model);
        store.device().as_str().to_owned()
    };
    let mut choices = Choices(8);
    let held = || central.held(&writer_device).0;
    kill_repeatedly(
        &writer_db,
        &["--push-batch", "100"],
        6,
        &mut choices,
        (&held, COUNT as i64),
    );
    assert_eq!(central.held(&writer_device), (COUNT as i64, COUNT as i64));
    let writer = Store::open(&writer_db).unwrap();
    assert_eq!(pending(writer.conn(), writer.device()).unwrap(), 0);
    assert_whole(&writer);

    {
        let mut store = Store::open(&reader_db).unwrap();
        central.enrol(&mut store, &central.url);
    }
    let pulled = || {
        let store = Store::open(&reader_db).unwrap();
        count(&store, "SELECT count(*) FROM journal")
    };
    kill_repeatedly(
        &reader_db,
        &["--pull-batch", "200"],
        6,
        &mut choices,
        (&pulled, COUNT as i64),
    );
    let mut reader = Store::open(&reader_db).unwrap();
    assert_eq!(count(&reader, "SELECT count(*) FROM journal"), COUNT as i64);
    assert_whole(&reader);
    let model = nonzero(model);
    assert_eq!(nonzero(balances(&reader)), model);
    assert_eq!(nonzero(central.balances()), model);
    let incremental = balances(&reader);
    reader.rebuild_projections().unwrap();
    assert_eq!(balances(&reader), incremental, "rebuild == incremental");
}

fn run(ws: &mut Workstation, cmd: Value) -> Result<Value, schoolcard_core::CoreError> {
    let command = serde_json::from_value(cmd).unwrap();
    ws.execute(command, chrono::Utc::now(), &|_| {})
}

fn sync(ws: &mut Workstation, central: &Central) {
    let (_, secret) = schoolcard_core::sync::enrolment(ws.store().conn())
        .unwrap()
        .unwrap();
    let device = ws.store().device().as_str().to_owned();
    let transport =
        HttpTransport::new(&central.url, &device, &secret, Timeouts::default()).unwrap();
    sync_once(ws.store_mut(), &transport, Batches::default()).unwrap();
}

#[test]
fn two_tills_cut_off_sell_to_the_same_pupil_and_both_sales_stand() {
    let central = Central::start();
    let dir = tempfile::tempdir().unwrap();
    // The school is written at the first till; the second enrols empty and pulls it.
    let summary = {
        let mut store = Store::open(&dir.path().join("till1.sqlite")).unwrap();
        let summary = schoolcard_core::demo::generate(
            &mut store,
            schoolcard_core::demo::DEMO_SEED,
            chrono::Utc::now(),
            &|_| {},
        )
        .unwrap();
        central.enrol(&mut store, &central.url);
        summary
    };
    let mut till1 = Workstation::open(&dir.path().join("till1.sqlite")).unwrap();
    let mut till2 = Workstation::open(&dir.path().join("till2.sqlite")).unwrap();
    central.enrol(till2.store_mut(), &central.url);
    let login = |roles: &str| {
        summary
            .accounts
            .iter()
            .find(|a| {
                a.roles
                    .iter()
                    .any(|r| format!("{r:?}").to_lowercase() == roles)
            })
            .unwrap()
            .login
            .clone()
    };
    let (admin, cashier) = (login("admin"), login("cashier"));
    let sign_in = |ws: &mut Workstation, who: &str| {
        run(ws, json!({"type": "sign_out"})).ok();
        run(
            ws,
            json!({"type": "sign_in_password", "login": who,
                       "password": schoolcard_core::demo::DEMO_PASSWORD}),
        )
        .unwrap();
    };

    // Today's buffet, set at the first till, reaches the second with the school.
    sign_in(&mut till1, &admin);
    let catalogue = run(&mut till1, json!({"type": "canteen_catalogue"})).unwrap();
    let juice = catalogue["products"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["price"] == 4_500)
        .unwrap()["product_id"]
        .clone();
    run(
        &mut till1,
        json!({"type": "set_day_menu",
                           "items": [{"product_id": juice, "price": 4_500}]}),
    )
    .unwrap();
    // Two pupils without bans or limits: one with 1,000 ₽, one with 100 ₽.
    let pupils: Vec<String> = {
        let mut stmt = till1
            .store()
            .conn()
            .prepare(
                "SELECT p.id FROM persons p WHERE p.kind = 'pupil' AND p.status = 'active'
                   AND NOT EXISTS (SELECT 1 FROM canteen_bans b WHERE b.person_id = p.id)
                   AND NOT EXISTS (SELECT 1 FROM canteen_limits l WHERE l.person_id = p.id)
                 ORDER BY p.id LIMIT 2",
            )
            .unwrap();
        let rows = stmt.query_map([], |r| r.get(0)).unwrap();
        rows.map(Result::unwrap).collect()
    };
    let (rich, poor) = (pupils[0].clone(), pupils[1].clone());
    for (person, amount) in [(&rich, 100_000), (&poor, 10_000)] {
        let before = balances(till1.store()).get(person).copied().unwrap_or(0);
        run(
            &mut till1,
            json!({"type": "correct_balance", "person_id": person,
                               "amount": amount - before, "reason": "для проверки"}),
        )
        .unwrap();
    }
    sync(&mut till1, &central);
    sync(&mut till2, &central);
    assert_eq!(
        balances(till2.store())[&poor],
        10_000,
        "the second till has the school"
    );

    // Cut off from the server.
    sign_in(&mut till1, &cashier);
    sign_in(&mut till2, &cashier);
    let sell = |ws: &mut Workstation, person: &str| -> Value {
        run(
            ws,
            json!({"type": "sell_basket", "sale_id": Uuid::now_v7(), "person_id": person,
                       "basket": [{"product_id": juice, "quantity": 2}]}),
        )
        .unwrap()
    };
    for till in [&mut till1, &mut till2] {
        run(till, json!({"type": "open_shift"})).ok();
    }
    // A till spends at most the offline budget (300 ₽) of a pupil's money unconfirmed,
    // however much the balance holds: three baskets of 90 ₽, not a fourth.
    for _ in 0..3 {
        assert_eq!(sell(&mut till1, &rich)["ok"], true);
    }
    let refused = sell(&mut till1, &rich);
    assert_eq!(refused["reason"], "offline_budget_exceeded", "{refused}");

    // Each till sells 90 ₽ to the pupil with 100 ₽: both sales are good where made.
    assert_eq!(sell(&mut till1, &poor)["ok"], true);
    assert_eq!(sell(&mut till2, &poor)["ok"], true);

    // Back online: both sales stand, on both tills and on the server, below zero.
    sync(&mut till1, &central);
    sync(&mut till2, &central);
    sync(&mut till1, &central);
    let person = poor;
    let expected = 10_000 - 2 * 9_000;
    for till in [&till1, &till2] {
        assert_eq!(balances(till.store())[&person], expected);
        assert_eq!(balances(till.store())[&rich], 100_000 - 27_000);
        let sales: i64 = till
            .store()
            .conn()
            .query_row(
                "SELECT count(DISTINCT origin) FROM canteen_sales WHERE person_id = ?1",
                [&person],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(sales, 2, "the report lists the sale of each till");
    }
    assert_eq!(central.balances()[&person], expected);
    let negative = central
        .block_on(schoolcard_server::admin::balances(
            &central.pool,
            central.school.id,
            true,
        ))
        .unwrap();
    assert!(
        negative.iter().any(|row| row.person_id == person),
        "the negative balance is reported"
    );

    // The school's admin bans juice for the other pupil on the server (as parents will
    // on the portal): the ban travels to the tills, and the till refuses the juice.
    let token = central.school_admin_token();
    let authored: Value = ureq::post(&format!(
        "{}/v1/admin/schools/{}/events",
        central.url, central.school.id
    ))
    .set("authorization", &format!("Bearer {token}"))
    .send_json(json!({"kind": "canteen_ban_set", "payload": {
        "person_id": rich, "ban": {"ban_id": Uuid::now_v7(),
                                   "target": {"kind": "product", "value": juice}}}}))
    .unwrap()
    .into_json()
    .unwrap();
    assert_eq!(authored["origin_seq"], 1, "{authored}");
    let refused_kind = ureq::post(&format!(
        "{}/v1/admin/schools/{}/events",
        central.url, central.school.id
    ))
    .set("authorization", &format!("Bearer {token}"))
    .send_json(json!({"kind": "sale_made", "payload": {}}));
    assert!(
        matches!(refused_kind, Err(ureq::Error::Status(400, _))),
        "a sale is never written on the server"
    );
    sync(&mut till2, &central);
    let refused = sell(&mut till2, &rich);
    assert_eq!(refused["reason"], "product_banned", "{refused}");
    assert!(verify(till2.store().conn()).unwrap().is_intact());
}

#[test]
fn a_parents_top_up_through_the_payment_sandbox_reaches_the_till_once() {
    let central = Central::start();
    let dir = tempfile::tempdir().unwrap();
    let mut till = Store::open(&dir.path().join("till.sqlite")).unwrap();
    central.enrol(&mut till, &central.url);
    let person = schoolcard_tests::money::pupil(1);
    let page = central.top_up(&person, 25_000);
    let again = ureq::post(&page)
        .call()
        .unwrap()
        .into_json::<Value>()
        .unwrap();
    assert_eq!(
        again["changed"], false,
        "a second payment of the same top-up"
    );
    central.top_up(&person, 1_000);
    let (_, secret) = schoolcard_core::sync::enrolment(till.conn())
        .unwrap()
        .unwrap();
    let transport = HttpTransport::new(
        &central.url,
        till.device().as_str(),
        &secret,
        Timeouts::default(),
    )
    .unwrap();
    let report = sync_once(&mut till, &transport, Batches::default()).unwrap();
    assert_eq!(report.pulled, 2);
    assert_eq!(balances(&till)[&person], 26_000);
    let origin = schoolcard_proto::sync::server_origin(&central.school.id.to_string());
    assert_eq!(
        count(
            &till,
            &format!("SELECT count(*) FROM journal WHERE origin = '{origin}'")
        ),
        2
    );
    assert_whole(&till);
    let server_balance: i64 = till
        .conn()
        .query_row(
            "SELECT balance FROM server_balances WHERE person_id = ?1",
            [&person],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        server_balance, 26_000,
        "the balance travels down with its position"
    );
}

#[test]
fn a_workstation_too_old_for_the_server_is_told_so_in_plain_words() {
    let central = Central::start();
    let dir = tempfile::tempdir().unwrap();
    let mut till = Store::open(&dir.path().join("till.sqlite")).unwrap();
    central.enrol(&mut till, &central.url);
    let (_, secret) = schoolcard_core::sync::enrolment(till.conn())
        .unwrap()
        .unwrap();
    let old = HttpTransport::new(
        &central.url,
        till.device().as_str(),
        &secret,
        Timeouts::default(),
    )
    .unwrap()
    .with_protocol(schoolcard_proto::sync::OLDEST_SUPPORTED_PROTOCOL - 1);
    let error = sync_once(&mut till, &old, Batches::default()).unwrap_err();
    match &error {
        SyncError::Refused {
            status,
            code,
            message,
        } => {
            assert_eq!(*status, 426);
            assert_eq!(
                *code,
                Some(schoolcard_proto::sync::ErrorCode::ProtocolTooOld)
            );
            assert!(
                message.contains("update") || message.contains("обнов"),
                "{message}"
            );
        }
        other => panic!("{other}"),
    }
    assert!(
        error.needs_attention(),
        "retrying will not help: a person must update the app"
    );
}
