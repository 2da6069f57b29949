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
    pub behaviour: Mutex<Behaviour>,
    /// Services profiles still being provisioned: (account, person) -> 404s left.
    pub provisioning: Mutex<std::collections::HashMap<(usize, u64), u32>>,
    /// How many tie shuffles were drawn ([`CreatedAtTies`]).
    pub tie_draws: AtomicU64,
    seq: AtomicU64,
}

/// How the organization is set up, where PCO lets an organization choose and the API does not
/// say: tests run the sync against more than one choice.
#[derive(Clone, Debug)]
pub struct Behaviour {
    /// The level a new Services profile starts at. PCO's docs do not say which: the person_apps
    /// create takes only `app_id` (developer.planning.center/docs/#/apps/people/2022-07-14/
    /// vertices/person_app, `create_assignable`), and the maintainers' way to give a level is a
    /// separate Services PATCH of `permissions` after the grant (planningcenter/developers#249),
    /// so the profile starts at whatever the organization's default is, Scheduled Viewer unless
    /// an administrator raised it.
    pub new_services_level: congregation::Level,
    /// How many Services requests for a person answer 404 right after People gave them the
    /// Services app, while Services creates the profile. PCO's products provision a new person
    /// asynchronously: Giving answered 404 on the first request after a create and the data on
    /// the next (planningcenter/developers#716, acknowledged by PCO). 0 (none) by default.
    pub provisioning_lag: u32,
    /// Who the account's token belongs to.
    pub token_user: TokenUser,
    /// How the People list moves under a client paging through it (none by default).
    pub list_drift: ListDrift,
    /// Whether `GET /services/v2/people` lists archived people. PCO's docs do not say; a
    /// client must find an archived person it linked either way (issue 14.6), so the sandbox
    /// leaves them out by default, the case that breaks a client that trusts the list.
    pub archived_listed: bool,
    /// Whether PCO refuses `permissions: "Archived"` with a 422. Archiving that way is not in
    /// PCO's docs (only seed 000's plugin does it; research/pco-api.md §7.2): off by default,
    /// for the tests of a PCO that refuses it.
    pub archive_refused: bool,
    /// Which of PCO's role refusals are on (all by default).
    pub role_rules: RoleRules,
    /// People created in the same second, their order shuffled per request (off by default).
    pub created_at_ties: Option<CreatedAtTies>,
}

impl Default for Behaviour {
    fn default() -> Behaviour {
        Behaviour {
            new_services_level: congregation::Level::ScheduledViewer,
            provisioning_lag: 0,
            token_user: TokenUser::ORGANIZATION_ADMINISTRATOR,
            list_drift: ListDrift::default(),
            archived_listed: false,
            archive_refused: false,
            role_rules: RoleRules::default(),
            created_at_ties: None,
        }
    }
}

/// People who share a `created_at` second, and `order=created_at` (or `-created_at`) answering
/// their ties in a different order on every request, so a client that reads the People list
/// from both ends by `created_at`, or pages through it while its order moves, can skip or
/// repeat people. PCO stamps `created_at` in whole seconds and documents no tie-break for
/// `order` (schema people.person can_order; rules.query_parameters.order); recorded traffic
/// shows several people created in one second (cass:TestPublicRequestFunctions.test_list.yaml,
/// 2020-01-25T16:59:06Z, two people created one after another by a script); an import creates
/// many more. A fault for tests, off by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CreatedAtTies {
    /// How many people (in id order) share each second: existing people are restamped in
    /// groups of this size when the option is set, and new people join the newest group until
    /// it is full.
    pub per_second: usize,
    /// Seeds the shuffle of ties; each request draws anew from it.
    pub seed: u64,
}

impl Default for CreatedAtTies {
    fn default() -> CreatedAtTies {
        CreatedAtTies {
            per_second: 10,
            seed: 0,
        }
    }
}

/// PCO's refusals that depend on the token user's roles ([`TokenUser`]), each switchable so a
/// test can run the product against a PCO that does or does not refuse. All on by default
/// ([`RoleRules::default`]); [`RoleRules::NONE`] turns them all off.
///
/// The bodies are PCO's JSON:API errors; the 403 one is
/// `{"errors":[{"status":"403","title":"Forbidden","detail":"You do not have access to this resource"}]}`
/// (planningcenter/developers#74, #113, #414, #442, #480, #512: the same body for every role
/// refusal recorded in those threads).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoleRules {
    /// `PATCH /services/v2/people/{id}` with `permissions` (a level, or `"Archived"`, which is
    /// how the sandbox archives), `media_permissions` or `song_permissions` needs a Services
    /// Administrator or an organization administrator; below that, 403. PCO Services help
    /// ("Permissions in Services", help.planningcenter.com/en/136863 and
    /// pcoservices.zendesk.com/hc/en-us/articles/204261964): "User permissions higher than
    /// Viewer can be set by an Administrator from a person's profile"; Administrators "Edit
    /// people's permissions" and "Archive or remove people"; Schedulers and Editors "create
    /// people" but are not given permission changes. What the API answers is not recorded;
    /// the sandbox answers the 403 PCO gives for an insufficient role (rules.errors.codes.403:
    /// "your user has an insufficient role").
    pub services_permissions: bool,
    /// A People Person PATCH naming `first_name`, `last_name`, `given_name`, `nickname` or
    /// `middle_name` of a person who is an organization administrator (`site_administrator`)
    /// or an accounting administrator (`accounting_administrator`) needs the token user to be
    /// an organization administrator; otherwise 422
    /// `{"errors":[{"status":"422","title":"Forbidden Attribute","detail":"You cannot assign first_name and last_name to this Person"}]}`
    /// (body verbatim from planningcenter/developers#1139; seven1m there: "we don't allow
    /// editing of contact information for Organization and Accounting Administrators by users
    /// who are not themself an Organization Administrator"). The detail names the name
    /// attributes sent, joined as Rails' `to_sentence` does ("a", "a and b", "a, b, and c").
    pub admin_names: bool,
    /// Creating, changing or deleting an email, phone number or address of an organization or
    /// accounting administrator needs the token user to be an organization administrator;
    /// otherwise 403 "You do not have access to this resource" (planningcenter/developers#1096:
    /// a People Manager's `PATCH /people/v2/phone_numbers/{id}` answered 403 where an
    /// organization administrator's answered 200; the reason is #1139's). #1096 shows PATCH;
    /// the sandbox refuses create and delete too, as #1139 speaks of all "editing of contact
    /// information".
    pub admin_contacts: bool,
    /// `GET /people/v2/person_mergers[/{id}]` needs a People Manager (or an organization
    /// administrator); below that, 403. PCO documents no role for it (dc people/person_merger:
    /// read-only, no permission note; #947 is a Manager reading and failing only to POST).
    /// Merging people in PCO's UI is a Manager's task, so the sandbox picks the closest
    /// documented behaviour: the 403 PCO gives for an insufficient role.
    pub mergers_need_manager: bool,
}

impl RoleRules {
    /// Every refusal off: any token user may do what an organization administrator may.
    pub const NONE: RoleRules = RoleRules {
        services_permissions: false,
        admin_names: false,
        admin_contacts: false,
        mergers_need_manager: false,
    };

    /// Every refusal on (the default).
    pub const ALL: RoleRules = RoleRules {
        services_permissions: true,
        admin_names: true,
        admin_contacts: true,
        mergers_need_manager: true,
    };
}

impl Default for RoleRules {
    fn default() -> RoleRules {
        RoleRules::ALL
    }
}

/// The People list (`GET /people/v2/people`) as it moves while a client reads it page by
/// page. PCO pages by offset (developer.planning.center/docs/#/overview/pagination: `offset`
/// and `per_page`, `links.next`), so people deleted or merged away before a client's window
/// while it reads shift the rest down and some are never seen; a past API version capped
/// `meta.total_count` at 10,000 (issue 14.5; the People changelog). A fault, off by default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListDrift {
    /// People who vanish before the window for each page already read: page `p` (offset
    /// `p * per_page`) starts `p * skipped_per_page` rows further on.
    pub skipped_per_page: usize,
    /// `meta.total_count` says at most this.
    pub total_count_cap: Option<usize>,
}

/// Which account a request runs as, and which API version it asked for; set by the front
/// door for every authenticated API request.
#[derive(Clone, Copy, Debug)]
pub struct Ctx {
    pub account: usize,
    pub version: Version,
    /// What the token's user may see and do.
    pub user: TokenUser,
    /// Which role refusals are on.
    pub rules: RoleRules,
}

/// The roles of the user a personal access token belongs to: a token can do what its user can.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenUser {
    /// Organization administrator: every product, every permission.
    pub site_administrator: bool,
    /// People's `people_permissions` as `GET /people/v2/me` shows it (real traffic shows
    /// "Editor"; null for no access).
    pub people: Option<&'static str>,
    /// Services' `permissions` as `GET /services/v2/me` shows it.
    pub services: Option<congregation::Level>,
}

impl TokenUser {
    /// An organization administrator (the sandbox's default token user).
    pub const ORGANIZATION_ADMINISTRATOR: TokenUser = TokenUser {
        site_administrator: true,
        people: Some("Manager"),
        services: Some(congregation::Level::Administrator),
    };

    /// A user who is not an organization administrator, with these People and Services roles
    /// (`people`: "Viewer", "Editor" or "Manager" as `GET /people/v2/me` writes
    /// `people_permissions`; None for no People access).
    pub const fn new(
        people: Option<&'static str>,
        services: Option<congregation::Level>,
    ) -> TokenUser {
        TokenUser {
            site_administrator: false,
            people,
            services,
        }
    }

    /// A People Editor (not an organization administrator) with this Services level.
    pub const fn people_editor_services(level: congregation::Level) -> TokenUser {
        TokenUser::new(Some("Editor"), Some(level))
    }

    /// A People Manager (not an organization administrator) with this Services level.
    pub const fn people_manager_services(level: congregation::Level) -> TokenUser {
        TokenUser::new(Some("Manager"), Some(level))
    }

    /// May change Services permissions and archive Services people: a Services Administrator
    /// or an organization administrator (see [`RoleRules::services_permissions`]).
    pub fn can_set_services_permissions(self) -> bool {
        self.site_administrator
            || self
                .services
                .is_some_and(|l| l >= congregation::Level::Administrator)
    }

    /// A People Manager or an organization administrator (see
    /// [`RoleRules::mergers_need_manager`]).
    pub fn is_people_manager(self) -> bool {
        self.site_administrator
            || self
                .people
                .is_some_and(|p| p.eq_ignore_ascii_case("manager"))
    }

    /// Writes to People need at least Editor "at the general level" (maintainer answers in
    /// planningcenter/developers#220, #442; #74: below it PCO answers 403 "You do not have
    /// access to this resource").
    pub fn can_edit_people(self) -> bool {
        self.site_administrator
            || self.people.is_some_and(|p| {
                p.eq_ignore_ascii_case("editor") || p.eq_ignore_ascii_case("manager")
            })
    }

    /// Services shows `site_administrator` and `archived` only to Schedulers and above
    /// (developer.planning.center/docs/#/apps/services/2018-11-01/vertices/person:
    /// `permission_level: scheduler`; `archived_at` likewise, planningcenter/developers#756).
    pub fn sees_services_roles(self) -> bool {
        self.site_administrator
            || self
                .services
                .is_some_and(|l| l >= congregation::Level::Scheduler)
    }
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
            behaviour: Mutex::new(Behaviour::default()),
            provisioning: Mutex::new(std::collections::HashMap::new()),
            tie_draws: AtomicU64::new(0),
            seq: AtomicU64::new(1),
        }
    }

    /// A new Services profile is being provisioned for `person`: the next
    /// [`Behaviour::provisioning_lag`] Services requests for them answer 404.
    pub fn start_provisioning(&self, account: usize, person: u64) {
        let lag = lock(&self.behaviour).provisioning_lag;
        if lag > 0 {
            lock(&self.provisioning).insert((account, person), lag);
        }
    }

    /// True (and one fewer left) while `person`'s Services profile is still being provisioned.
    pub fn still_provisioning(&self, account: usize, person: u64) -> bool {
        let mut pending = lock(&self.provisioning);
        match pending.get_mut(&(account, person)) {
            Some(left) if *left > 0 => {
                *left -= 1;
                if *left == 0 {
                    pending.remove(&(account, person));
                }
                true
            }
            _ => false,
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
