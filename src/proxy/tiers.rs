//! Which profile serves (docs/behavior.md §6, "Tiers"): the state kept between requests,
//! and its evaluation as a pure step — `(table, state, now) → next state and a switch?` —
//! that the router applies after a breaker opens and on a timer.
//!
//! - Failover: the serving profile has no available endpoint and auto-failover is on →
//!   serve the first profile after it in tier order that has one.
//! - Recovery: while failed over with auto-recovery on, once the profile left has a closed
//!   breaker again (proven by a successful trial) and has stayed so for the recovery hold,
//!   traffic moves back.
//! - A manual switch (the config's active profile changed) starts afresh: the router
//!   resets the state on reload, so recovery never undoes it.

use std::time::{Duration, Instant};

use crate::proxy::routing::RouteTable;
use crate::state::model::SwitchKind;

/// Which profile serves, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TierState {
    /// The config's active profile when this state began.
    pub chosen: String,
    /// The profile traffic goes to now.
    pub serving: String,
    /// Set while failed over: the profile to return to.
    pub failed_over_from: Option<String>,
    /// Since when the profile left has been healthy (for the recovery hold).
    healthy_since: Option<Instant>,
}

impl TierState {
    pub fn fresh(chosen: &str) -> Self {
        Self {
            chosen: chosen.to_owned(),
            serving: chosen.to_owned(),
            failed_over_from: None,
            healthy_since: None,
        }
    }
}

/// A change of which profile serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Switch {
    pub from: String,
    pub to: String,
    pub reason: String,
    pub kind: SwitchKind,
}

/// What one evaluation changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub next: TierState,
    pub switch: Option<Switch>,
}

/// Evaluate the tiers at `now`: `None` when nothing changes.
pub fn step(table: &RouteTable, current: &TierState, now: Instant) -> Option<Step> {
    let mut st = current.clone();
    let mut switch = None;
    let Some((si, serving)) = table.profile(&st.serving) else {
        let next = TierState::fresh(&table.chosen);
        return (next != *current).then_some(Step { next, switch: None });
    };
    if table.policy.auto_failover
        && !serving.available(now)
        && let Some(next) = table
            .after(si)
            .into_iter()
            .find(|&i| table.profiles[i].available(now))
    {
        let from = st.serving.clone();
        let to = table.profiles[next].name.clone();
        let why: Vec<String> = serving
            .endpoints
            .iter()
            .filter_map(|u| {
                let why = u.breaker.view(u.key_fp(), now).unavailable?;
                Some(format!("{}: {why}", u.id))
            })
            .collect();
        let reason = if why.is_empty() {
            format!("no available endpoint in '{from}'")
        } else {
            format!("no available endpoint in '{from}' ({})", why.join("; "))
        };
        if st.failed_over_from.is_none() {
            st.failed_over_from = Some(from.clone());
        }
        st.serving = to.clone();
        st.healthy_since = None;
        switch = Some(Switch {
            from,
            to,
            reason,
            kind: SwitchKind::Failover,
        });
    }
    if let Some(origin) = st.failed_over_from.clone() {
        if origin == st.serving {
            st.failed_over_from = None;
        } else if table.policy.auto_recovery {
            match table.profile(&origin) {
                None => st.failed_over_from = None,
                Some((_, p)) if p.healthy() => {
                    let since = *st.healthy_since.get_or_insert(now);
                    let hold = Duration::from_secs(table.policy.recovery_hold_secs);
                    if now.duration_since(since) >= hold {
                        let from = std::mem::replace(&mut st.serving, origin.clone());
                        st.failed_over_from = None;
                        st.healthy_since = None;
                        switch = Some(Switch {
                            from,
                            to: origin.clone(),
                            reason: format!("'{origin}' healthy again for {} s", hold.as_secs()),
                            kind: SwitchKind::Recovery,
                        });
                    }
                }
                Some(_) => st.healthy_since = None,
            }
        }
    }
    (st != *current || switch.is_some()).then_some(Step { next: st, switch })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Config;
    use crate::state::model::{NewEndpoint, Tier};
    use crate::state::secret::Secret;
    use crate::upstream::breaker::Failure;
    use crate::upstream::stats::StatsRegistry;

    /// Profiles `main` (primary) and `spare` (secondary), one endpoint each, and the policy
    /// given by `f`.
    fn table(f: impl FnOnce(&mut Config)) -> RouteTable {
        let mut c = Config::default();
        for (name, tier) in [("main", Tier::Primary), ("spare", Tier::Secondary)] {
            c.add_profile(name, None, Default::default(), chrono::Utc::now())
                .unwrap();
            c.add_endpoint(
                name,
                NewEndpoint {
                    name: None,
                    url: format!("https://{name}.example"),
                    key: crate::state::model::Credential::Value(Secret::new("k")),
                    auth: Default::default(),
                    weight: 100,
                    models: Vec::new(),
                    kind: Default::default(),
                    chat_path: None,
                },
                || format!("{name}01"),
            )
            .unwrap();
            c.set_tier(name, Some(tier)).unwrap();
        }
        f(&mut c);
        RouteTable::build(
            &c,
            &StatsRegistry::default(),
            &crate::upstream::keys::KeyRegistry::default(),
        )
        .unwrap()
    }

    fn trip(t: &RouteTable, profile: &str, now: Instant) {
        let u = &t.profile(profile).unwrap().1.endpoints[0];
        let f = Failure::Transient("HTTP 529".into());
        for _ in 0..t.policy.failure_threshold {
            u.breaker.failure(&f, t.breaker_policy(), u.key_fp(), now);
        }
    }

    #[test]
    fn nothing_changes_while_the_serving_profile_is_available() {
        let t = table(|_| {});
        let st = TierState::fresh("main");
        assert_eq!(step(&t, &st, Instant::now()), None);
    }

    #[test]
    fn fails_over_then_recovers_after_the_hold() {
        let t = table(|c| c.policy.recovery_hold_secs = 10);
        let t0 = Instant::now();
        trip(&t, "main", t0);
        let s = step(&t, &TierState::fresh("main"), t0).unwrap();
        let sw = s.switch.unwrap();
        assert_eq!(
            (sw.from.as_str(), sw.to.as_str(), sw.kind),
            ("main", "spare", SwitchKind::Failover)
        );
        assert!(
            sw.reason.contains("main01: breaker open after HTTP 529"),
            "{}",
            sw.reason
        );
        assert_eq!(s.next.serving, "spare");
        assert_eq!(s.next.failed_over_from.as_deref(), Some("main"));
        // Still open: nothing to do.
        assert_eq!(step(&t, &s.next, t0), None);
        // Closed again (a trial succeeded): the hold starts, then recovery.
        t.profile("main").unwrap().1.endpoints[0].breaker.success();
        let t1 = t0 + Duration::from_secs(1);
        let held = step(&t, &s.next, t1).unwrap();
        assert_eq!(held.switch, None);
        assert_eq!(
            held.next.serving, "spare",
            "healthy, but not for the hold yet"
        );
        assert_eq!(step(&t, &held.next, t1 + Duration::from_secs(5)), None);
        let back = step(&t, &held.next, t1 + Duration::from_secs(10)).unwrap();
        let sw = back.switch.unwrap();
        assert_eq!((sw.to.as_str(), sw.kind), ("main", SwitchKind::Recovery));
        assert_eq!(back.next, TierState::fresh("main"));
    }

    #[test]
    fn a_relapse_during_the_hold_restarts_it() {
        let t = table(|c| c.policy.recovery_hold_secs = 10);
        let t0 = Instant::now();
        trip(&t, "main", t0);
        let failed = step(&t, &TierState::fresh("main"), t0).unwrap().next;
        let main = &t.profile("main").unwrap().1.endpoints[0];
        main.breaker.success();
        let holding = step(&t, &failed, t0 + Duration::from_secs(1)).unwrap().next;
        trip(&t, "main", t0 + Duration::from_secs(2));
        let reset = step(&t, &holding, t0 + Duration::from_secs(2))
            .unwrap()
            .next;
        assert_eq!(reset, failed, "the hold starts over");
    }

    #[test]
    fn without_auto_failover_or_a_place_to_go_it_stays() {
        let t = table(|c| c.policy.auto_failover = false);
        let now = Instant::now();
        trip(&t, "main", now);
        assert_eq!(step(&t, &TierState::fresh("main"), now), None);
        let t = table(|_| {});
        trip(&t, "main", now);
        trip(&t, "spare", now);
        assert_eq!(
            step(&t, &TierState::fresh("main"), now),
            None,
            "nowhere available"
        );
    }

    #[test]
    fn without_auto_recovery_it_stays_failed_over() {
        let t = table(|c| {
            c.policy.auto_recovery = false;
            c.policy.recovery_hold_secs = 0;
        });
        let now = Instant::now();
        trip(&t, "main", now);
        let failed = step(&t, &TierState::fresh("main"), now).unwrap().next;
        t.profile("main").unwrap().1.endpoints[0].breaker.success();
        assert_eq!(step(&t, &failed, now + Duration::from_secs(60)), None);
    }

    #[test]
    fn a_serving_profile_that_is_gone_resets_to_the_choice() {
        let t = table(|_| {});
        let mut st = TierState::fresh("main");
        st.serving = "removed".into();
        assert_eq!(
            step(&t, &st, Instant::now()).unwrap().next,
            TierState::fresh("main")
        );
    }
}
