//! Notifications to parents through a real SMTP server on loopback (aiosmtpd from PyPI,
//! storing what it receives in a maildir) and a webhook receiver that is down for a
//! while: each parent hears only of their own child, once per fact, in order, and of a
//! low balance once per crossing.

use crate::harness::{block_on, server};
use chrono::{DateTime, Duration, TimeZone, Utc};
use schoolcard_server::mail::Smtp as SmtpMailer;
use schoolcard_server::notify::{
    deliver_due, enqueue_pending, sign, DELIVERY_HEADER, SIGNATURE_HEADER,
};
use serde_json::Value;
use sqlx_core::query::query;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// The Python with aiosmtpd: the project's test venv (`installers/setup.sh test`).
fn python() -> PathBuf {
    let venv = std::env::var_os("SCHOOLCARD_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/schoolcard/venv")
        });
    let python = venv.join("bin/python");
    let ok = Command::new(&python)
        .args(["-c", "import aiosmtpd"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{} lacks aiosmtpd: run `make test`, which installs it",
        python.display()
    );
    python
}

/// aiosmtpd on a free loopback port, writing each message into a maildir.
struct Smtp {
    child: Child,
    port: u16,
    maildir: PathBuf,
    _dir: tempfile::TempDir,
}

impl Smtp {
    fn start() -> Smtp {
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("mail");
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(python())
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "aiosmtpd did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Smtp {
            child,
            port,
            maildir,
            _dir: dir,
        }
    }

    /// Every message received: (to, subject, body), decoded by Python's own e-mail parser.
    fn received(&self) -> Vec<(String, String, String)> {
        if !self.maildir.exists() {
            return vec![];
        }
        let script = r#"
import email, email.policy, json, mailbox, sys
out = []
for key, m in sorted(mailbox.Maildir(sys.argv[1], create=False).items(), key=lambda kv: kv[1].get_date()):

    msg = email.message_from_bytes(m.as_bytes(), policy=email.policy.default)
    out.append([str(msg["To"]), str(msg["Subject"]), msg.get_content()])
print(json.dumps(out))
"#;
        let output = Command::new(python())
            .args(["-c", script])
            .arg(&self.maildir)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let list: Vec<(String, String, String)> = serde_json::from_slice(&output.stdout).unwrap();
        list
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request the webhook receiver got: the status it answered, the delivery id, the
/// signature, the body.
type Received = (u16, String, String, Value);

/// A webhook receiver: answers 500 to the first `down_for` requests (an outage), then
/// 200; keeps every request (status answered, delivery id, signature, body).
struct Hook {
    url: String,
    seen: Arc<Mutex<Vec<Received>>>,
}

impl Hook {
    fn start(down_for: usize) -> Hook {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let seen: Arc<Mutex<Vec<Received>>> = Arc::default();
        let theirs = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut headers = std::collections::HashMap::new();
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                loop {
                    line.clear();
                    reader.read_line(&mut line).unwrap();
                    if line.trim().is_empty() {
                        break;
                    }
                    let (name, value) = line.split_once(':').unwrap();
                    headers.insert(name.trim().to_lowercase(), value.trim().to_owned());
                }
                let length: usize = headers["content-length"].parse().unwrap();
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let mut seen = theirs.lock().unwrap();
                let status = if seen.len() < down_for { 500 } else { 200 };
                seen.push((
                    status,
                    headers[DELIVERY_HEADER].clone(),
                    headers[SIGNATURE_HEADER].clone(),
                    serde_json::from_slice(&body).unwrap(),
                ));
                drop(seen);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
            }
        });
        Hook { url, seen }
    }
}

fn at(h: u32, m: u32) -> DateTime<Utc> {
    chrono_tz::Europe::Moscow
        .with_ymd_and_hms(2026, 11, 27, h, m, 0)
        .unwrap()
        .with_timezone(&Utc)
}

#[test]
fn parents_hear_of_their_own_child_once_in_order_and_of_a_low_balance_once_per_crossing() {
    let server = server();
    let pool = server.pool.clone();
    let school = server.school("Лицей");
    let smtp = Smtp::start();
    let hook = Hook::start(3);
    let (mum, other) = (Uuid::now_v7(), Uuid::now_v7());
    const SECRET: &str = "webhook-secret";
    block_on(async {
        // What the portal's projector writes from the journal: a class, two families.
        for sql in [
            "INSERT INTO school_classes (school_id, class_id, grade, letter) VALUES ($1, 'c5a', 5, 'А')",
            "INSERT INTO school_persons (school_id, person_id, kind, surname, name, class_id) VALUES ($1, 'ivan', 'pupil', 'Петров', 'Иван', 'c5a')",
            "INSERT INTO school_persons (school_id, person_id, kind, surname, name, email) VALUES ($1, 'mum', 'guardian', 'Петрова', 'Анна', 'mama@example.ru')",
            "INSERT INTO guardianship (school_id, guardian_id, pupil_id) VALUES ($1, 'mum', 'ivan')",
            "INSERT INTO school_persons (school_id, person_id, kind, surname, name, class_id) VALUES ($1, 'olga', 'pupil', 'Сидорова', 'Ольга', 'c5a')",
            "INSERT INTO school_persons (school_id, person_id, kind, surname, name, email) VALUES ($1, 'dad', 'guardian', 'Сидоров', 'Пётр', 'papa@example.ru')",
            "INSERT INTO guardianship (school_id, guardian_id, pupil_id) VALUES ($1, 'dad', 'olga')",
        ] {
            query(sql).bind(school).execute(&pool).await.unwrap();
        }
        for (id, email) in [(mum, "mama@example.ru"), (other, "papa@example.ru")] {
            query("INSERT INTO parents (id, email) VALUES ($1, $2)")
                .bind(id)
                .bind(email)
                .execute(&pool)
                .await
                .unwrap();
        }
        query("INSERT INTO parent_notify_settings (parent_id, email_enabled, webhook_url, webhook_secret, kinds, low_balance_threshold)
               VALUES ($1, true, $2, $3, '{entry,exit,purchase,low_balance}', 10000)")
            .bind(mum).bind(&hook.url).bind(SECRET).execute(&pool).await.unwrap();
        // Ivan's day, and one fact of Olga's. Money facts carry their ledger entries.
        type Fact<'a> = (&'a str, i64, (u32, u32), &'a str, &'a str, Option<i64>);
        let facts: [Fact; 8] = [
            ("ivan", 1, (7, 58), "entry", "Вход", None),
            ("ivan", 2, (8, 10), "top_up", "Пополнение", Some(12_000)),
            ("olga", 3, (8, 11), "entry", "Вход", None),
            (
                "ivan",
                4,
                (10, 5),
                "purchase",
                "Сок яблочный 0,2 л",
                Some(-4_500),
            ),
            (
                "ivan",
                5,
                (10, 6),
                "purchase",
                "Булочка с маком",
                Some(-1_000),
            ),
            ("ivan", 6, (12, 0), "top_up", "Пополнение", Some(10_000)),
            (
                "ivan",
                7,
                (12, 30),
                "purchase",
                "Шоколадный батончик",
                Some(-7_000),
            ),
            ("ivan", 8, (14, 10), "exit", "Выход", None),
        ];
        for (person, seq, (h, m), kind, title, amount) in facts {
            query("INSERT INTO feed (school_id, person_id, global_seq, at, kind, title, amount) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(school).bind(person).bind(seq).bind(at(h, m)).bind(kind).bind(title).bind(amount)
                .execute(&pool).await.unwrap();
            if let Some(amount) = amount {
                query("INSERT INTO ledger (school_id, person_id, amount, reference, global_seq) VALUES ($1, $2, $3, $4, $5)")
                    .bind(school).bind(person).bind(amount).bind(format!("event:{seq}")).bind(seq)
                    .execute(&pool).await.unwrap();
            }
        }
    });

    let mailer =
        Arc::new(SmtpMailer::new("127.0.0.1", smtp.port, "portal@school.example").unwrap());
    block_on(async {
        assert_eq!(
            enqueue_pending(&pool, "https://portal.example")
                .await
                .unwrap(),
            8
        );
        // Enqueued again from the start: the outbox takes nothing twice.
        query("UPDATE projector_state SET cursor = 0 WHERE name = 'notify'")
            .execute(&pool)
            .await
            .unwrap();
        enqueue_pending(&pool, "https://portal.example")
            .await
            .unwrap();
        // The webhook is down: e-mail goes, the webhook's stream waits at its first fact.
        let first = deliver_due(&pool, mailer.clone(), at(14, 15))
            .await
            .unwrap();
        assert!(first.delivered >= 6 && first.failed == 1, "{first:?}");
        // Retries later: the outage outlasts two more, then everything goes, in order.
        for minutes in [20, 40, 120, 240] {
            deliver_due(
                &pool,
                mailer.clone(),
                at(14, 15) + Duration::minutes(minutes),
            )
            .await
            .unwrap();
        }
    });

    // E-mail: Ivan's entry, three purchases, the exit, and two low-balance notices
    // (12,00 → 7,50 ₽ crosses 100 ₽; 6,50 ₽ is still below; the top-up to 165 ₽ re-arms;
    // 95 ₽ crosses again). Nothing of Olga's goes to Ivan's mother; Olga's father, with
    // the defaults, hears of her entry.
    let mail = smtp.received();
    let to_mum: Vec<&(String, String, String)> =
        mail.iter().filter(|m| m.0.contains("mama@")).collect();
    let subjects: Vec<&str> = to_mum.iter().map(|m| m.1.as_str()).collect();
    assert_eq!(
        subjects,
        [
            "Иван: Вход 07:58",
            "Иван: Сок яблочный 0,2 л 10:05",
            "Иван: на балансе 75,00 ₽",
            "Иван: Булочка с маком 10:06",
            "Иван: Шоколадный батончик 12:30",
            "Иван: на балансе 95,00 ₽",
            "Иван: Выход 14:10",
        ],
        "{mail:#?}"
    );
    assert!(
        to_mum[1].2.contains("Иван Петров, 5А") && to_mum[1].2.contains("−45,00 ₽"),
        "{}",
        to_mum[1].2
    );
    let to_dad: Vec<&str> = mail
        .iter()
        .filter(|m| m.0.contains("papa@"))
        .map(|m| m.1.as_str())
        .collect();
    assert_eq!(to_dad, ["Ольга: Вход 08:11"]);

    // Webhook: three refusals of the first fact, then every fact once, in order, signed.
    let seen = hook.seen.lock().unwrap();
    assert!(
        seen[..3].iter().all(|r| r.0 == 500 && r.1 == seen[0].1),
        "retries of one delivery"
    );
    let delivered: Vec<(i64, String)> = seen
        .iter()
        .filter(|r| r.0 == 200)
        .map(|r| {
            (
                r.3["global_seq"].as_i64().unwrap(),
                r.3["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        delivered,
        [
            (1, "entry".into()),
            (4, "purchase".into()),
            (4, "low_balance".into()),
            (5, "purchase".into()),
            (7, "purchase".into()),
            (7, "low_balance".into()),
            (8, "exit".into()),
        ]
    );
    for (_, _, signature, body) in seen.iter() {
        assert_eq!(*signature, sign(SECRET, body.to_string().as_bytes()));
    }
}
