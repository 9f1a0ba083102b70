//! What a campaign prints and how it is judged: the details under the summary line, the list of
//! problems (the assertions), and what is printed when it fails.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::faults::Timeline;
use crate::handler::Books;
use crate::ledger::{self, Ledger};
use crate::load::LoadReport;

fn first_ids(entries: &[String], n: usize) -> String {
    entries
        .iter()
        .take(n)
        .map(|e| e.split_once(": ").map_or(e.as_str(), |(id, _)| id))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The lines under the summary: the load, the malformed requests, the handler, the faults, the
/// duplicates, the wait and an attempt history per kind of undelivered event.
pub fn details(
    report: &LoadReport,
    books: &Books,
    ledger: &Ledger,
    timeline: &Timeline,
    wait: Duration,
    load_start: Instant,
) -> String {
    let last_ack = report
        .acked
        .values()
        .max()
        .map_or(0.0, |t| (*t - load_start).as_secs_f64());
    let arrivals: u64 = books.events.values().map(|r| u64::from(r.arrivals)).sum();
    let refused = books.events.values().filter(|r| r.refused > 0).count();
    let max_attempt = books
        .events
        .values()
        .map(|r| r.max_attempt)
        .max()
        .unwrap_or(0);
    let answers: Vec<String> = report
        .answers
        .iter()
        .map(|(k, v)| format!("{k}:{v}"))
        .collect();
    let mut per_second: Vec<u32> = Vec::new();
    for t in report.acked.values() {
        let s = (*t - load_start).as_secs() as usize;
        if per_second.len() <= s {
            per_second.resize(s + 1, 0);
        }
        per_second[s] += 1;
    }
    // on the fault timeline's clock
    let rel = |t: Instant| format!("+{:.1}s", (t - timeline.t0).as_secs_f64());
    let mut dups: Vec<(Instant, String)> = books
        .events
        .iter()
        .filter(|(_, r)| !r.again_delivered.is_empty())
        .filter_map(|(id, r)| {
            let first = r.first_delivered?;
            let again: Vec<String> = r.again_delivered.iter().map(|t| rel(*t)).collect();
            Some((
                first,
                format!(
                    "{id} 2xx at {} and again at {}",
                    rel(first),
                    again.join(",")
                ),
            ))
        })
        .collect();
    dups.sort();
    let malformed: Vec<String> = report
        .malformed
        .iter()
        .map(|((kind, answer), n)| format!("{kind}/{answer}:{n}"))
        .collect();
    format!(
        "  load: events={} requests={} answers=[{}] unacknowledged={} duplicate_acks={} \
         last_ack=+{last_ack:.1}s\n  \
         acknowledged per second of the load: {:?}\n  \
         malformed: sent={} [{}]\n  \
         handler: arrivals={arrivals} refused_on_purpose={refused} max_attempt={max_attempt} \
         double_enqueued={} delivered_unacknowledged={} strangers={}\n  \
         faults: {}\n  \
         duplicates: [{}]\n  \
         ledger wait: {:.1}s{}",
        report.events,
        report.requests,
        answers.join(" "),
        report.unacked.len(),
        report.duplicate_acks,
        per_second,
        report.malformed_sent(),
        malformed.join(" "),
        ledger.double_enqueued,
        ledger.delivered_unacknowledged,
        ledger.strangers.len(),
        timeline.render(),
        dups.iter()
            .take(20)
            .map(|d| d.1.as_str())
            .collect::<Vec<_>>()
            .join("; "),
        wait.as_secs_f64(),
        ledger
            .examples
            .values()
            .map(|(kind, example)| format!("\n  example {kind} -> {example}"))
            .collect::<String>(),
    )
}

/// Everything that fails the campaign (empty: it passed).
pub fn problems(ledger: &Ledger, report: &LoadReport) -> Vec<String> {
    let mut problems = Vec::new();
    if !ledger.missing.is_empty() {
        problems.push(format!(
            "{} acknowledged events are missing",
            ledger.missing.len()
        ));
    }
    if !ledger.late.is_empty() {
        problems.push(format!(
            "{} acknowledged events were not delivered within {}s of the last restart, for \
             reasons other than the handler",
            ledger.late.len(),
            ledger::DELIVERY_BOUND.as_secs()
        ));
    }
    if ledger.overlaps > 0 {
        problems.push(format!(
            "{} deliveries were in flight twice at once",
            ledger.overlaps
        ));
    }
    if !report.malformed_acked.is_empty() {
        problems.push(format!(
            "{} malformed requests were answered 2xx: {:?}",
            report.malformed_acked.len(),
            &report.malformed_acked[..report.malformed_acked.len().min(10)]
        ));
    }
    if !ledger.strangers.is_empty() {
        problems.push(format!(
            "{} requests that were not campaign events reached the handler: {:?}",
            ledger.strangers.len(),
            &ledger.strangers[..ledger.strangers.len().min(10)]
        ));
    }
    if ledger.duplicates * 1000 > ledger.acknowledged as u64 {
        problems.push(format!(
            "{} duplicate deliveries ({:.2}%) exceed 0.1% of {} acknowledged",
            ledger.duplicates,
            ledger.duplicate_percent(),
            ledger.acknowledged
        ));
    }
    if ledger.acknowledged
        != ledger.delivered + ledger.scheduled_count() + ledger.late.len() + ledger.missing.len()
    {
        problems.push("the ledger does not balance".into());
    }
    if ledger.acknowledged == 0 {
        problems.push("nothing was acknowledged".into());
    }
    problems
}

/// What is printed when the campaign fails: the missing and late events by reason with their ids
/// (first 20), the tail of every server's log, the tail of PostgreSQL's log.
pub fn failure_dump(ledger: &Ledger, logs: &[PathBuf], pg_log: Option<String>) -> String {
    let mut out = String::new();
    if !ledger.missing.is_empty() {
        let _ = writeln!(
            out,
            "missing (by reason):\n{}",
            Ledger::grouped(&ledger.missing, 5)
        );
        let _ = writeln!(
            out,
            "missing ids (first 20): {}",
            first_ids(&ledger.missing, 20)
        );
    }
    if !ledger.late.is_empty() {
        let _ = writeln!(
            out,
            "late (by reason):\n{}",
            Ledger::grouped(&ledger.late, 5)
        );
        let _ = writeln!(out, "late ids (first 20): {}", first_ids(&ledger.late, 20));
    }
    for log in logs {
        let _ = writeln!(
            out,
            "--- {} (last 40 lines) ---\n{}",
            log.display(),
            crate::server::tail(log, 40)
        );
    }
    if let Some(pg_log) = pg_log {
        let _ = writeln!(out, "--- PostgreSQL log (last 15 lines) ---\n{pg_log}");
    }
    out
}
