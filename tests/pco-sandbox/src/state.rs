//! Everything the server's tasks share, behind short-lived locks (never held across an await).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::AccountCredentials;
use crate::clock::{Clock, format_time, lock};
use crate::faults::Faults;
use crate::model::Store;
use crate::ratelimit::RateLimiter;
use crate::records::{EmailKind, OutboxEmail, RequestRecord};

pub struct Shared {
    pub base_url: String,
    /// Fixed at start: accounts are not added at run time.
    pub credentials: Vec<AccountCredentials>,
    pub store: Mutex<Store>,
    pub clock: Clock,
    pub faults: Mutex<Faults>,
    pub limiter: Mutex<RateLimiter>,
    pub log: Mutex<Vec<RequestRecord>>,
    pub outbox: Mutex<Vec<OutboxEmail>>,
    seq: AtomicU64,
}

/// Which account a request runs as, and which API version it asked for; set by the front
/// door for every authenticated API request.
#[derive(Clone, Copy, Debug)]
pub struct Ctx {
    pub account: usize,
    pub version: Version,
}

/// The parts of PCO's API versions (research §6.1) that change shapes the sync reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Version {
    /// From 2022-07-14, `gender` reads "Male"/"Female" instead of "M"/"F".
    pub gender_words: bool,
    /// From 2023-03-21, addresses have `street_line_1`/`street_line_2` instead of `street`.
    pub street_lines: bool,
    /// The version the request is answered as: the newest known one not after the requested
    /// date (PCO matches "equal to or less than").
    pub processed_as: &'static str,
}

/// People API versions (research §6.1). Services has its own list; the sandbox answers every
/// product with this one, which only matters for the echoed header.
const VERSIONS: &[&str] = &[
    "2018-08-01",
    "2019-01-14",
    "2019-10-10",
    "2020-04-06",
    "2020-07-22",
    "2021-08-17",
    "2022-01-05",
    "2022-01-28",
    "2022-07-14",
    "2023-02-15",
    "2023-03-21",
    "2024-09-12",
    "2025-03-20",
    "2025-07-02",
    "2025-07-17",
    "2025-11-10",
];

/// The request log keeps at most this many records (oldest dropped first).
pub const MAX_LOGGED_REQUESTS: usize = 200_000;

pub const LATEST_VERSION: &str = "2025-11-10";
pub const OLDEST_VERSION: &str = "2018-08-01";

impl Version {
    /// Reads `X-PCO-API-Version` (absent: latest). `Err` when before the first version.
    pub fn from_header(value: Option<&str>) -> Result<Version, String> {
        let v = match value.map(str::trim) {
            None | Some("") => LATEST_VERSION,
            Some(v) if v.eq_ignore_ascii_case("latest") => LATEST_VERSION,
            Some(v) => v,
        };
        if crate::model::parse_date(v).is_none() || v < OLDEST_VERSION {
            return Err(format!(
                "{v} is not a supported version; the earliest is {OLDEST_VERSION}"
            ));
        }
        let processed_as = VERSIONS.iter().rev().find(|known| **known <= v).copied();
        Ok(Version {
            gender_words: v >= "2022-07-14",
            street_lines: v >= "2023-03-21",
            processed_as: processed_as.unwrap_or(OLDEST_VERSION),
        })
    }
}

/// An email about to be put in the outbox (the outbox fills in seq, account and time).
pub struct NewEmail {
    pub kind: EmailKind,
    pub person_id: u64,
    pub recipients: Vec<u64>,
    pub subject: String,
    pub template_id: Option<u64>,
    pub from_permissions: Option<String>,
    pub to_permissions: Option<String>,
    /// The person's primary (else first) email address, when they have one.
    pub to_address: Option<String>,
}

impl Shared {
    pub fn new(
        base_url: String,
        credentials: Vec<AccountCredentials>,
        store: Store,
        clock: Clock,
        faults: Faults,
        limiter: RateLimiter,
    ) -> Shared {
        Shared {
            base_url,
            credentials,
            store: Mutex::new(store),
            clock,
            faults: Mutex::new(faults),
            limiter: Mutex::new(limiter),
            log: Mutex::new(Vec::new()),
            outbox: Mutex::new(Vec::new()),
            seq: AtomicU64::new(1),
        }
    }

    fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed)
    }

    pub fn record_request(&self, mut record: RequestRecord) {
        record.seq = self.next_seq();
        tracing::debug!(
            method = %record.method,
            path = %record.path,
            status = record.status,
            fault = ?record.fault,
            "pco sandbox request"
        );
        let mut log = lock(&self.log);
        // A demo left running for days must not grow without bound: keep the newest half.
        if log.len() >= MAX_LOGGED_REQUESTS {
            log.drain(..MAX_LOGGED_REQUESTS / 2);
        }
        log.push(record);
    }

    pub fn send_email(&self, account: usize, email: NewEmail) {
        let entry = OutboxEmail {
            seq: self.next_seq(),
            account: self.credentials[account].name.clone(),
            kind: email.kind,
            person_id: email.person_id.to_string(),
            recipients: email.recipients.iter().map(u64::to_string).collect(),
            subject: email.subject,
            template_id: email.template_id.map(|t| t.to_string()),
            from_permissions: email.from_permissions,
            to_permissions: email.to_permissions,
            to_address: email.to_address,
            at: format_time(self.clock.now()),
        };
        tracing::debug!(kind = ?entry.kind, person = %entry.person_id, "pco sandbox outbox");
        lock(&self.outbox).push(entry);
    }
}
