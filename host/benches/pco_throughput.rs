//! PCO capability throughput against the sandbox over loopback.
//!
//! Prints: requests per second with the rate limit off, and the time a 500-request burst
//! takes with a limit on, beside the floor that limit allows. The limit is PCO's shape (100
//! per period) with a shorter period so the bench stays short; the pacer's cost is the gap
//! between the measured time and the floor.
//!
//! `cargo bench -p pcosync --bench pco_throughput` (PERIOD_SECS=20 for PCO's real period).

use std::time::{Duration, Instant};

use congregation::Congregation;
use pco_sandbox::{PcoSandbox, RateLimitConfig, SandboxOptions};
use pcosync::bindings::pco::{Method, Request};
use pcosync::pco::Pco;
use pcosync::pco::http::{Endpoint, HttpOptions, HttpPco};
use pcosync::secret::Secret;
use url::Url;

const BURST: usize = 500;
const LIMIT: u32 = 100;

#[tokio::main]
async fn main() {
    let period: u64 = std::env::var("PERIOD_SECS")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(2);
    let congregation = Congregation::generate(200, 1);
    let options = SandboxOptions {
        rate_limit: RateLimitConfig {
            enabled: false,
            ..RateLimitConfig::default()
        },
        ..SandboxOptions::default()
    };
    let sandbox = PcoSandbox::start_with(options, &congregation)
        .await
        .unwrap();
    let account = congregation.accounts[0].clone();
    let credentials = sandbox.account(&account).unwrap();
    let base = Url::parse(&sandbox.base_url()).unwrap();
    let endpoint = Endpoint {
        name: account.clone(),
        upload_url: base.join("/v2/files").unwrap(),
        base_url: base,
        app_id: credentials.app_id,
        secret: Secret::new(credentials.secret),
    };
    let page = |per_page: &str| Request {
        method: Method::Get,
        path: "/people/v2/people".into(),
        query: vec![
            ("per_page".into(), per_page.into()),
            ("include".into(), "emails".into()),
        ],
        headers: vec![],
        body: None,
    };

    let pco = HttpPco::new(vec![endpoint.clone()], HttpOptions::default()).unwrap();
    let requests: Vec<Request> = (0..2000).map(|_| page("25")).collect();
    let started = Instant::now();
    let answers = pco.send_batch(&account, &requests).await;
    let unlimited = started.elapsed();
    assert!(answers.iter().all(Result::is_ok));

    sandbox.set_rate_limit(RateLimitConfig {
        enabled: true,
        limit: LIMIT,
        period_secs: period,
        ..RateLimitConfig::default()
    });
    sandbox.clear_requests();
    let pco = HttpPco::new(vec![endpoint], HttpOptions::default()).unwrap();
    let burst: Vec<Request> = (0..BURST).map(|_| page("1")).collect();
    let started = Instant::now();
    let answers = pco.send_batch(&account, &burst).await;
    let limited = started.elapsed();
    assert!(answers.iter().all(Result::is_ok));
    let refused = sandbox
        .requests()
        .iter()
        .filter(|r| r.status == 429)
        .count();
    // The first LIMIT go at once; each further LIMIT waits one period.
    let floor = Duration::from_secs(period * ((BURST as u64 - 1) / u64::from(LIMIT)));

    println!("PCO capability against the sandbox (loopback)");
    println!("| measure | value |");
    println!("| --- | --- |");
    println!(
        "| rate limit off: 2000 page reads (25 people + emails) | {:.2} s, {:.0} requests/s |",
        unlimited.as_secs_f64(),
        2000.0 / unlimited.as_secs_f64()
    );
    println!(
        "| rate limit {LIMIT}/{period}s: {BURST}-request burst | {:.2} s (floor {:.0} s, ratio {:.2}), 429s: {refused} |",
        limited.as_secs_f64(),
        floor.as_secs_f64(),
        limited.as_secs_f64() / floor.as_secs_f64()
    );
}
