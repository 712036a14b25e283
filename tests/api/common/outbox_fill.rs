//! Reminders queued straight into the outbox, as the due scan queues them, for the tests that
//! run the dispatcher as a process (`dispatcher_process`, `faults_process`).
use care_hub::db::Db;
use care_hub::reminders::outbox::{self, Notice};

/// `n` overdue escalations queued as the due scan queues them, to a handful of supervisors.
pub async fn queue_reminders(db: &Db, n: usize, now: chrono::DateTime<chrono::Utc>) {
    for chunk in (0..n).collect::<Vec<_>>().chunks(1_000) {
        let notices: Vec<Notice> = chunk
            .iter()
            .map(|i| Notice {
                kind: "overdue_escalation",
                recipient: format!("supervisor{}@hub.example", i % 7),
                about: format!("victim-{i}"),
                due: now.date_naive(),
                subject: format!("Care Hub: update overdue for VCH-TEST-{i}"),
                body: "Hub references only.".into(),
            })
            .collect();
        let tx = db.begin_write().await.unwrap();
        assert_eq!(outbox::queue(&tx, &notices, now).await.unwrap(), notices.len() as u64);
        tx.commit().await.unwrap();
    }
}
