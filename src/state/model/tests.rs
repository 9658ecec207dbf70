//! Unit tests of the pure state model.

use super::*;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn ids() -> impl FnMut() -> String {
    let mut n = 0;
    move || {
        n += 1;
        format!("{n:06x}")
    }
}

fn ep(url: &str, key: &str) -> NewEndpoint {
    NewEndpoint {
        name: None,
        url: url.into(),
        key: Secret::new(key),
        auth: AuthStyle::ApiKey,
        weight: 100,
    }
}

fn config_with(profiles: &[&str]) -> Config {
    let mut c = Config::default();
    for p in profiles {
        c.add_profile(p, None, Strategy::default(), now()).unwrap();
    }
    c
}

#[test]
fn first_profile_becomes_active() {
    let c = config_with(&["work", "home"]);
    assert_eq!(c.active.as_deref(), Some("work"));
    assert_eq!(c.active_profile().unwrap().name, "work");
}

#[test]
fn profile_names_are_validated_and_unique() {
    let mut c = config_with(&["work"]);
    assert_eq!(
        c.add_profile("work", None, Strategy::default(), now()),
        Err(ModelError::DuplicateProfile("work".into()))
    );
    for bad in ["", "-x", ".hidden", "a b", "ümlaut", &"x".repeat(65)] {
        assert!(
            matches!(
                c.add_profile(bad, None, Strategy::default(), now()),
                Err(ModelError::InvalidProfileName(_))
            ),
            "{bad:?} accepted"
        );
    }
}

#[test]
fn urls_are_normalised_and_checked() {
    assert_eq!(
        normalize_url("https://api.example.com/").unwrap(),
        "https://api.example.com"
    );
    assert_eq!(
        normalize_url("http://relay.local:8080/anthropic/").unwrap(),
        "http://relay.local:8080/anthropic"
    );
    for bad in [
        "ftp://x.com",
        "not a url",
        "https://",
        "https://x.com/?a=1",
        "https://u:p@x.com",
    ] {
        assert!(normalize_url(bad).is_err(), "{bad} accepted");
    }
}

#[test]
fn weights_are_bounded() {
    assert_eq!(validate_weight(1), Ok(1));
    assert_eq!(validate_weight(1000), Ok(1000));
    assert_eq!(validate_weight(0), Err(ModelError::InvalidWeight(0)));
    assert_eq!(validate_weight(5000), Err(ModelError::InvalidWeight(5000)));
}

#[test]
fn duplicate_url_and_key_is_refused_within_a_profile_only() {
    let mut c = config_with(&["a", "b"]);
    let mut next_id = ids();
    c.add_endpoint("a", ep("https://x.com/", "k1"), &mut next_id)
        .unwrap();
    let err = c
        .add_endpoint("a", ep("https://x.com", "k1"), &mut next_id)
        .unwrap_err();
    assert!(matches!(err, ModelError::DuplicateEndpoint { .. }));
    assert!(!err.to_string().contains("k1") || err.to_string().contains("…"));
    // Same URL, other key: fine. Same pair in another profile: fine.
    c.add_endpoint("a", ep("https://x.com", "k2"), &mut next_id)
        .unwrap();
    c.add_endpoint("b", ep("https://x.com", "k1"), &mut next_id)
        .unwrap();
    assert_eq!(c.endpoints().count(), 3);
}

#[test]
fn ids_are_unique_even_when_the_generator_repeats() {
    let mut c = config_with(&["a"]);
    let mut seq = ["aaaaaa", "aaaaaa", "bbbbbb"].into_iter().map(String::from);
    c.add_endpoint("a", ep("https://1.com", "k"), || seq.next().unwrap())
        .unwrap();
    let e = c
        .add_endpoint("a", ep("https://2.com", "k"), || seq.next().unwrap())
        .unwrap();
    assert_eq!(e.id, "bbbbbb");
}

#[test]
fn endpoint_prefixes_resolve_or_report_ambiguity() {
    let mut c = config_with(&["a", "b"]);
    let mut seq = ["e7c1a2", "e7d000", "f00000"].into_iter().map(String::from);
    let mut next_id = || seq.next().unwrap();
    c.add_endpoint("a", ep("https://1.com", "k"), &mut next_id)
        .unwrap();
    c.add_endpoint("b", ep("https://2.com", "k"), &mut next_id)
        .unwrap();
    c.add_endpoint("b", ep("https://3.com", "k"), &mut next_id)
        .unwrap();
    let r = c.find_endpoint(None, "e7c").unwrap();
    assert_eq!(c.endpoint(r).id, "e7c1a2");
    assert_eq!(
        c.find_endpoint(None, "e7"),
        Err(ModelError::AmbiguousEndpoint {
            query: "e7".into(),
            matches: vec!["e7c1a2 (a)".into(), "e7d000 (b)".into()]
        })
    );
    // Scoped to a profile the prefix is unique.
    let r = c.find_endpoint(Some("b"), "e7").unwrap();
    assert_eq!(c.endpoint(r).id, "e7d000");
    assert!(matches!(
        c.find_endpoint(Some("a"), "f0"),
        Err(ModelError::UnknownEndpoint { .. })
    ));
    assert!(matches!(
        c.find_endpoint(None, ""),
        Err(ModelError::UnknownEndpoint { .. })
    ));
}

#[test]
fn tiers_hold_a_profile_at_most_once_and_follow_renames() {
    let mut c = config_with(&["a", "b", "c"]);
    c.set_tier("a", Some(Tier::Primary)).unwrap();
    c.set_tier("b", Some(Tier::Primary)).unwrap();
    c.set_tier("a", Some(Tier::Fallback)).unwrap();
    assert_eq!(c.tiers.primary, vec!["b"]);
    assert_eq!(c.tiers.fallback, vec!["a"]);
    c.rename_profile("a", "z").unwrap();
    assert_eq!(c.tiers.fallback, vec!["z"]);
    assert_eq!(c.active.as_deref(), Some("z"));
    c.set_tier("z", None).unwrap();
    assert_eq!(c.tiers.tier_of("z"), None);
    assert!(c.set_tier("nope", Some(Tier::Primary)).is_err());
}

#[test]
fn removing_a_tiered_profile_needs_force() {
    let mut c = config_with(&["a", "b"]);
    c.set_tier("a", Some(Tier::Secondary)).unwrap();
    assert!(matches!(
        c.remove_profile("a", false),
        Err(ModelError::ProfileInTier { .. })
    ));
    assert_eq!(c.profiles.len(), 2);
    c.remove_profile("a", true).unwrap();
    assert!(c.tiers.secondary.is_empty());
    assert_eq!(c.active, None);
    assert_eq!(c.active_profile().unwrap().name, "b");
}

#[test]
fn switch_records_from_and_to() {
    let mut c = config_with(&["a", "b"]);
    let r = c
        .switch_to("b", "test".into(), SwitchKind::Manual, now())
        .unwrap();
    assert_eq!((r.from.as_deref(), r.to.as_str()), (Some("a"), "b"));
    assert_eq!(c.active.as_deref(), Some("b"));
    assert!(
        c.switch_to("x", "t".into(), SwitchKind::Manual, now())
            .is_err()
    );
}

#[test]
fn history_is_capped_oldest_first() {
    let mut h = History::default();
    let mut c = config_with(&["a", "b"]);
    for i in 0..HISTORY_CAP + 5 {
        let to = if i % 2 == 0 { "b" } else { "a" };
        h.push(
            c.switch_to(to, format!("r{i}"), SwitchKind::Manual, now())
                .unwrap(),
        );
    }
    assert_eq!(h.records.len(), HISTORY_CAP);
    assert_eq!(h.records[0].reason, "r5");
    assert_eq!(
        h.latest(1).next().unwrap().reason,
        format!("r{}", HISTORY_CAP + 4)
    );
}

#[test]
fn unknown_fields_survive_a_round_trip() {
    let json = r#"{"version":1,"future":{"x":1},"profiles":[{"name":"a","created_at":"2026-01-01T00:00:00Z","shiny":true,
        "endpoints":[{"id":"abcdef","url":"https://x.com","key":"k","new_field":[1,2]}]}]}"#;
    let c: Config = serde_json::from_str(json).unwrap();
    let back = serde_json::to_value(&c).unwrap();
    assert_eq!(back["future"]["x"], 1);
    assert_eq!(back["profiles"][0]["shiny"], true);
    assert_eq!(back["profiles"][0]["endpoints"][0]["new_field"][1], 2);
    assert_eq!(back["profiles"][0]["endpoints"][0]["weight"], 100);
}
