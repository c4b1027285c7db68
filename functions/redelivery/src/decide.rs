//! Which failed webhook deliveries to ask GitHub to send again: a pure function of the hooks'
//! delivery lists, the clock and the limits, so every tick rebuilds its state from GitHub.
//!
//! GitHub groups an event's attempts under one `guid` (the `X-GitHub-Delivery` header our
//! hook sees); each redelivery is a new delivery id with `redelivery: true`. An event is
//! delivered once any attempt was answered 2xx; otherwise it is redelivered, with a backoff
//! that doubles with each redelivery GitHub lists, up to a number of attempts, while its
//! first delivery is inside the lookback window.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use prow_github::{Hook, HookDelivery};

/// The limits of one tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Events first delivered longer ago than this are left alone (GitHub keeps deliveries
    /// for a few days only).
    pub lookback: TimeDelta,
    /// Redeliveries asked per tick at most, over every hook.
    pub max_per_tick: usize,
    /// Redeliveries of one event at most, as counted from GitHub's list.
    pub max_attempts: u32,
    /// Wait after an event's latest failed attempt before the first redelivery; doubled
    /// for each redelivery already made.
    pub backoff: TimeDelta,
    /// The longest wait between two attempts.
    pub max_backoff: TimeDelta,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            lookback: TimeDelta::hours(24),
            max_per_tick: 50,
            max_attempts: 12,
            backoff: TimeDelta::minutes(1),
            max_backoff: TimeDelta::hours(1),
        }
    }
}

/// What became of one event (one `guid`) on this tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// An attempt was answered 2xx: nothing to do, ever.
    Delivered,
    /// Redelivery asked for on this tick.
    Redeliver,
    /// Failed, but its latest attempt is too recent for the backoff.
    Waiting,
    /// Failed on every one of `max_attempts` redeliveries: left for a human.
    GaveUp,
    /// Its first delivery is outside the lookback window (or no longer listed).
    Expired,
    /// Due, but over this tick's `max_per_tick`: the next tick takes it first.
    Deferred,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Delivered => "delivered",
            Verdict::Redeliver => "redeliver",
            Verdict::Waiting => "waiting",
            Verdict::GaveUp => "gave_up",
            Verdict::Expired => "expired",
            Verdict::Deferred => "deferred",
        }
    }
}

/// One redelivery to ask for: the event's latest attempt, on the hook that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redelivery {
    pub hook: Hook,
    pub delivery_id: u64,
    pub guid: String,
    pub event: String,
    /// Redeliveries GitHub listed before this one.
    pub attempts: u32,
}

/// The tick's decisions: what to redeliver, oldest event first, and every event's verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub redeliver: Vec<Redelivery>,
    /// Verdict by guid.
    pub verdicts: BTreeMap<String, Verdict>,
}

impl Plan {
    /// How many events got `verdict`.
    pub fn count(&self, verdict: Verdict) -> usize {
        self.verdicts.values().filter(|v| **v == verdict).count()
    }
}

/// The wait before redelivery number `attempts + 1`: `backoff * 2^attempts`, at most
/// `max_backoff`.
pub fn wait_before(policy: &Policy, attempts: u32) -> TimeDelta {
    let factor = 1_i32.checked_shl(attempts.min(30)).unwrap_or(i32::MAX);
    policy
        .backoff
        .checked_mul(factor)
        .map_or(policy.max_backoff, |wait| wait.min(policy.max_backoff))
}

/// Decides, from every listed attempt of every hook, which events to redeliver at `now`.
pub fn decide(listed: &[(Hook, Vec<HookDelivery>)], now: DateTime<Utc>, policy: &Policy) -> Plan {
    let mut events: BTreeMap<&str, Vec<(&Hook, &HookDelivery)>> = BTreeMap::new();
    for (hook, deliveries) in listed {
        for delivery in deliveries {
            events
                .entry(delivery.guid.as_str())
                .or_default()
                .push((hook, delivery));
        }
    }
    let mut plan = Plan::default();
    // Due events with their first delivery time, to be taken oldest first.
    let mut due: Vec<(DateTime<Utc>, Redelivery)> = Vec::new();
    for (guid, attempts) in events {
        let (verdict, first) = judge(&attempts, now, policy);
        if verdict == Verdict::Redeliver
            && let (Some(first), Some((hook, latest))) = (
                first,
                attempts.iter().max_by_key(|(_, d)| (d.delivered_at, d.id)),
            )
        {
            due.push((
                first,
                Redelivery {
                    hook: (*hook).clone(),
                    delivery_id: latest.id,
                    guid: guid.to_owned(),
                    event: latest.event.clone(),
                    attempts: redeliveries(&attempts),
                },
            ));
        }
        plan.verdicts.insert(guid.to_owned(), verdict);
    }
    due.sort_by(|(a, ra), (b, rb)| a.cmp(b).then_with(|| ra.guid.cmp(&rb.guid)));
    for (index, (_, redelivery)) in due.into_iter().enumerate() {
        if index < policy.max_per_tick {
            plan.redeliver.push(redelivery);
        } else {
            plan.verdicts
                .insert(redelivery.guid.clone(), Verdict::Deferred);
        }
    }
    plan
}

fn redeliveries(attempts: &[(&Hook, &HookDelivery)]) -> u32 {
    let count = attempts.iter().filter(|(_, d)| d.redelivery).count();
    u32::try_from(count).unwrap_or(u32::MAX)
}

/// One event's verdict from all its listed attempts, and when it was first delivered.
fn judge(
    attempts: &[(&Hook, &HookDelivery)],
    now: DateTime<Utc>,
    policy: &Policy,
) -> (Verdict, Option<DateTime<Utc>>) {
    if attempts.iter().any(|(_, d)| d.succeeded()) {
        return (Verdict::Delivered, None);
    }
    // The original attempt dates the event; without it listed the event is older than what
    // was listed, so outside the window too.
    let first = attempts
        .iter()
        .filter(|(_, d)| !d.redelivery)
        .map(|(_, d)| d.delivered_at)
        .min();
    let Some(first) = first.filter(|first| now - *first <= policy.lookback) else {
        return (Verdict::Expired, first);
    };
    let made = redeliveries(attempts);
    if made >= policy.max_attempts {
        return (Verdict::GaveUp, Some(first));
    }
    let latest = attempts
        .iter()
        .map(|(_, d)| d.delivered_at)
        .max()
        .unwrap_or(first);
    if now - latest < wait_before(policy, made) {
        return (Verdict::Waiting, Some(first));
    }
    (Verdict::Redeliver, Some(first))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const NOW: &str = "2030-06-01T12:00:00Z";

    fn now() -> DateTime<Utc> {
        NOW.parse().unwrap()
    }

    /// An attempt `minutes_ago` before NOW answered `code`.
    fn attempt(id: u64, guid: &str, minutes_ago: i64, code: u16, redelivery: bool) -> HookDelivery {
        HookDelivery {
            id,
            guid: guid.to_owned(),
            delivered_at: now() - TimeDelta::minutes(minutes_ago),
            redelivery,
            status: String::new(),
            status_code: code,
            event: "pull_request".to_owned(),
            action: Some("opened".to_owned()),
            installation_id: None,
            repository_id: None,
        }
    }

    fn app(deliveries: Vec<HookDelivery>) -> Vec<(Hook, Vec<HookDelivery>)> {
        vec![(Hook::App, deliveries)]
    }

    fn ids(plan: &Plan) -> Vec<u64> {
        plan.redeliver.iter().map(|r| r.delivery_id).collect()
    }

    #[test]
    fn each_event_gets_the_verdict_its_attempts_call_for() {
        let policy = Policy::default();
        // (name, attempts of guid "g", expected verdict, expected redelivered ids)
        let cases: Vec<(&str, Vec<HookDelivery>, Verdict, Vec<u64>)> = vec![
            (
                "a 2xx first attempt is delivered",
                vec![attempt(1, "g", 10, 200, false)],
                Verdict::Delivered,
                vec![],
            ),
            (
                "202 counts as delivered too",
                vec![attempt(1, "g", 10, 202, false)],
                Verdict::Delivered,
                vec![],
            ),
            (
                "a 503 ten minutes ago is redelivered",
                vec![attempt(1, "g", 10, 503, false)],
                Verdict::Redeliver,
                vec![1],
            ),
            (
                "no answer at all (status 0) is redelivered",
                vec![attempt(1, "g", 10, 0, false)],
                Verdict::Redeliver,
                vec![1],
            ),
            (
                "a 4xx is redelivered as well (a rotated secret fixed later)",
                vec![attempt(1, "g", 10, 403, false)],
                Verdict::Redeliver,
                vec![1],
            ),
            (
                "a failure then a successful redelivery is never redelivered again",
                vec![
                    attempt(1, "g", 30, 503, false),
                    attempt(2, "g", 20, 200, true),
                ],
                Verdict::Delivered,
                vec![],
            ),
            (
                "a chain that never succeeded redelivers its latest attempt",
                vec![
                    attempt(1, "g", 60, 503, false),
                    attempt(2, "g", 50, 0, true),
                    attempt(3, "g", 40, 502, true),
                ],
                Verdict::Redeliver,
                vec![3],
            ),
            (
                "a failure under a minute old waits for the backoff",
                vec![attempt(1, "g", 0, 500, false)],
                Verdict::Waiting,
                vec![],
            ),
            (
                "after two redeliveries the wait is four minutes",
                vec![
                    attempt(1, "g", 30, 500, false),
                    attempt(2, "g", 20, 500, true),
                    attempt(3, "g", 3, 500, true),
                ],
                Verdict::Waiting,
                vec![],
            ),
            (
                "a first delivery older than the lookback is expired",
                vec![attempt(1, "g", 25 * 60, 500, false)],
                Verdict::Expired,
                vec![],
            ),
            (
                "redeliveries whose original is no longer listed are expired",
                vec![attempt(2, "g", 30, 500, true)],
                Verdict::Expired,
                vec![],
            ),
            (
                "twelve failed redeliveries give up",
                (0..13)
                    .map(|i| attempt(i + 1, "g", 700 - 50 * i64::try_from(i).unwrap(), 500, i > 0))
                    .collect(),
                Verdict::GaveUp,
                vec![],
            ),
        ];
        for (name, attempts, verdict, redelivered) in cases {
            let plan = decide(&app(attempts), now(), &policy);
            assert_eq!(plan.verdicts.get("g"), Some(&verdict), "{name}");
            assert_eq!(ids(&plan), redelivered, "{name}");
        }
    }

    #[test]
    fn the_budget_takes_the_oldest_events_first_and_defers_the_rest() {
        let policy = Policy {
            max_per_tick: 2,
            ..Policy::default()
        };
        let deliveries = vec![
            attempt(10, "newest", 5, 500, false),
            attempt(11, "oldest", 300, 500, false),
            attempt(12, "middle", 100, 500, false),
            attempt(13, "fine", 200, 200, false),
        ];
        let plan = decide(&app(deliveries), now(), &policy);
        assert_eq!(ids(&plan), [11, 12]);
        assert_eq!(plan.verdicts["newest"], Verdict::Deferred);
        assert_eq!(plan.count(Verdict::Delivered), 1);
        assert_eq!(plan.count(Verdict::Redeliver), 2);
    }

    #[test]
    fn one_redelivery_per_event_even_when_two_hooks_list_its_guid() {
        let repo_hook = Hook::Repo {
            org: "acme".into(),
            repo: "widgets".into(),
            id: 3,
        };
        let listed = vec![
            (Hook::App, vec![attempt(1, "g", 30, 500, false)]),
            (repo_hook.clone(), vec![attempt(7, "g", 20, 502, true)]),
            (repo_hook.clone(), vec![attempt(9, "h", 20, 0, false)]),
        ];
        let plan = decide(&listed, now(), &Policy::default());
        assert_eq!(plan.redeliver.len(), 2, "{plan:?}");
        let g = plan.redeliver.iter().find(|r| r.guid == "g").unwrap();
        assert_eq!((g.delivery_id, &g.hook, g.attempts), (7, &repo_hook, 1));
    }

    #[test]
    fn the_wait_doubles_per_redelivery_up_to_the_cap() {
        let policy = Policy::default();
        let minutes: Vec<i64> = [0, 1, 2, 5, 6, 7, 40]
            .into_iter()
            .map(|n| wait_before(&policy, n).num_minutes())
            .collect();
        assert_eq!(minutes, [1, 2, 4, 32, 60, 60, 60]);
    }
}
