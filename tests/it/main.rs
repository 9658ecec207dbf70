//! The one integration test binary: runs the real `qcc` binary in hermetic temp config dirs.
//! `harness/` holds the shared pieces; one file per feature.

mod harness;

mod access;
mod architecture;
mod bad_input;
mod breakers_tiers;
mod chaos;
mod claude_code;
mod claude_settings;
mod completion;
mod config_cmd;
mod demo;
mod doctor;
mod endpoint;
mod endpoint_names;
mod failover;
mod generated;
mod health;
mod import;
mod interactive;
mod key_refs;
mod limits;
mod logs_location;
mod metrics;
mod openai;
mod priority;
mod profile;
mod proxy_forward;
mod proxy_lifecycle;
mod proxy_tls;
mod python_sdk;
mod queue;
mod recovery;
mod routes;
mod service;
mod shared_state;
mod state_fixture;
mod state_safety;
mod status_page;
mod strategies;
mod survive;
mod usage;
