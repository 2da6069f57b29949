//! The guest's rules compiled natively, run over the host's real capabilities.
//!
//! [`NativePorts`] implements the guest's `Ports` trait with the host's `Rock`, `Pco`,
//! `StateStore` and `Reporter`. The guest's calls are synchronous and the host's capabilities
//! async, so each port call is `block_on` of the current-thread runtime the guest runs beside
//! (the same runtime shape as the wasm run). The guest's and the host's generated WIT types
//! are distinct Rust types: [`Conv`] converts between them (what the canonical ABI's copies do
//! for the wasm guest).

use pcosync::Capabilities;
use pcosync::bindings as h;
use pcosync_guest::ports::Ports;
use pcosync_guest::{api as ga, types as gt};

/// A conversion between a host type and its guest twin (either way).
pub trait Conv<T> {
    fn conv(self) -> T;
}

macro_rules! same {
    ($($t:ty),*) => {$(
        impl Conv<$t> for $t {
            fn conv(self) -> $t {
                self
            }
        }
    )*};
}
same!(i64, i32, u8, u16, u32, u64, bool, String);

impl<A: Conv<B>, B> Conv<Vec<B>> for Vec<A> {
    fn conv(self) -> Vec<B> {
        self.into_iter().map(Conv::conv).collect()
    }
}

impl<A: Conv<B>, B> Conv<Option<B>> for Option<A> {
    fn conv(self) -> Option<B> {
        self.map(Conv::conv)
    }
}

impl<A1: Conv<B1>, A2: Conv<B2>, B1, B2> Conv<(B1, B2)> for (A1, A2) {
    fn conv(self) -> (B1, B2) {
        (self.0.conv(), self.1.conv())
    }
}

impl<A: Conv<B>, E: Conv<F>, B, F> Conv<Result<B, F>> for Result<A, E> {
    fn conv(self) -> Result<B, F> {
        self.map(Conv::conv).map_err(Conv::conv)
    }
}

impl Conv<()> for () {
    fn conv(self) {}
}

/// A record both ways: host `$h`, guest `$g`.
macro_rules! twin {
    ($h:ty, $g:ty { $($f:ident),* $(,)? }) => {
        impl Conv<$g> for $h {
            fn conv(self) -> $g {
                type B = $g;
                B { $($f: self.$f.conv()),* }
            }
        }
        impl Conv<$h> for $g {
            fn conv(self) -> $h {
                type B = $h;
                B { $($f: self.$f.conv()),* }
            }
        }
    };
}

/// An enum of unit cases both ways.
macro_rules! cases {
    ($h:ident :: $hn:ident, $g:ident :: $gn:ident { $($v:ident),* $(,)? }) => {
        impl Conv<$g::$gn> for $h::$hn {
            fn conv(self) -> $g::$gn {
                match self { $($h::$hn::$v => $g::$gn::$v),* }
            }
        }
        impl Conv<$h::$hn> for $g::$gn {
            fn conv(self) -> $h::$hn {
                match self { $($g::$gn::$v => $h::$hn::$v),* }
            }
        }
    };
}

mod ht {
    pub use pcosync::bindings::types::*;
}
mod hr {
    pub use pcosync::bindings::rock::*;
}
mod hp {
    pub use pcosync::bindings::pco::*;
}
mod hs {
    pub use pcosync::bindings::state::*;
}
mod hl {
    pub use pcosync::bindings::log::*;
}
mod he {
    pub use pcosync::bindings::engine::*;
}
mod gr {
    pub use pcosync_guest::bindings::rockpco::sync::rock::*;
}
mod gp {
    pub use pcosync_guest::bindings::rockpco::sync::pco::*;
}
mod gs {
    pub use pcosync_guest::bindings::rockpco::sync::state::*;
}
mod gl {
    pub use pcosync_guest::bindings::rockpco::sync::log::*;
}

cases!(
    ht::ErrorKind,
    gt::ErrorKind {
        NotFound,
        Conflict,
        RateLimited,
        Unavailable,
        Invalid,
        Unauthorized,
        Internal
    }
);
cases!(
    ht::PermissionLevel,
    gt::PermissionLevel {
        ScheduledViewer,
        Viewer,
        Scheduler,
        Editor,
        Administrator
    }
);
cases!(
    ht::Gender,
    gt::Gender {
        Unknown,
        Male,
        Female
    }
);
cases!(
    hr::Protection,
    gr::Protection {
        Low,
        Medium,
        High,
        Extreme
    }
);
cases!(
    hp::Method,
    gp::Method {
        Get,
        Post,
        Patch,
        Put,
        Delete
    }
);
cases!(
    hl::Level,
    gl::Level {
        Trace,
        Debug,
        Info,
        Warn,
        Error
    }
);
cases!(
    he::ConflictPolicy,
    ga::ConflictPolicy {
        RockWins,
        NewestWins
    }
);
cases!(
    he::FirstNameSource,
    ga::FirstNameSource {
        NickName,
        FirstName
    }
);

twin!(ht::Error, gt::Error { kind, message });
twin!(ht::Date, gt::Date { year, month, day });
twin!(
    ht::Address,
    gt::Address {
        street1,
        street2,
        city,
        state,
        postal_code,
        country
    }
);
twin!(hr::GroupType, gr::GroupType { id, guid, name });
twin!(
    hr::Group,
    gr::Group {
        id,
        name,
        group_type,
        is_active,
        pco_account,
        level
    }
);
twin!(
    hr::Membership,
    gr::Membership {
        group_id,
        person_id
    }
);
twin!(hr::PersonTags, gr::PersonTags { person_id, tags });
twin!(hr::Merge, gr::Merge { old_id, fate });
twin!(hr::GonePerson, gr::GonePerson { id, primary_alias });

impl Conv<gr::Fate> for hr::Fate {
    fn conv(self) -> gr::Fate {
        match self {
            hr::Fate::Merged(survivor) => gr::Fate::Merged(survivor),
            hr::Fate::Deceased => gr::Fate::Deceased,
            hr::Fate::Present => gr::Fate::Present,
            hr::Fate::Unknown => gr::Fate::Unknown,
        }
    }
}

impl Conv<hr::Fate> for gr::Fate {
    fn conv(self) -> hr::Fate {
        match self {
            gr::Fate::Merged(survivor) => hr::Fate::Merged(survivor),
            gr::Fate::Deceased => hr::Fate::Deceased,
            gr::Fate::Present => hr::Fate::Present,
            gr::Fate::Unknown => hr::Fate::Unknown,
        }
    }
}
twin!(
    hr::PersonQuery,
    gr::PersonQuery {
        first_name,
        last_name,
        email
    }
);
twin!(hr::PersonUpdate, gr::PersonUpdate { id, changes });
twin!(
    hr::NewPerson,
    gr::NewPerson {
        fields,
        connection_status
    }
);
twin!(
    hr::Photo,
    gr::Photo {
        content_type,
        bytes
    }
);
twin!(
    hr::Person,
    gr::Person {
        id,
        first_name,
        nick_name,
        middle_name,
        last_name,
        gender,
        birthdate,
        married,
        anniversary,
        email,
        home_address,
        home_phone,
        work_phone,
        mobile_phone,
        photo_id,
        protection,
        pco_tags,
        modified,
        primary_alias,
    }
);
twin!(
    hp::Request,
    gp::Request {
        method,
        path,
        query,
        headers,
        body
    }
);
twin!(
    hp::Response,
    gp::Response {
        status,
        headers,
        body
    }
);
twin!(hs::Entry, gs::Entry { key, value });
twin!(he::TagGroup, ga::TagGroup { tag, group_id });
twin!(
    he::Account,
    ga::Account {
        name,
        welcome_template,
        allow_downgrade,
        updates_only,
        conflict_policy,
        first_name_source,
        disabled_fields,
        enabled_group_types,
        tag_groups,
        brake_percent,
    }
);
twin!(
    he::SyncOptions,
    ga::SyncOptions {
        run_id,
        started_at,
        dry_run,
        updates_only,
        confirm
    }
);
twin!(
    he::AdminOptions,
    ga::AdminOptions {
        run_id,
        started_at,
        dry_run
    }
);
twin!(he::LevelGroup, ga::LevelGroup { level, group_id });
twin!(
    he::ImportOptions,
    ga::ImportOptions {
        run,
        level_groups,
        connection_status
    }
);

impl Conv<gs::Write> for hs::Write {
    fn conv(self) -> gs::Write {
        match self {
            hs::Write::Put(entry) => gs::Write::Put(entry.conv()),
            hs::Write::Delete(key) => gs::Write::Delete(key),
        }
    }
}

impl Conv<hs::Write> for gs::Write {
    fn conv(self) -> hs::Write {
        match self {
            gs::Write::Put(entry) => hs::Write::Put(entry.conv()),
            gs::Write::Delete(key) => hs::Write::Delete(key),
        }
    }
}

macro_rules! field_values {
    ($a:ident => $b:ident) => {
        impl Conv<$b::FieldValue> for $a::FieldValue {
            fn conv(self) -> $b::FieldValue {
                use $a::FieldValue as A;
                use $b::FieldValue as B;
                match self {
                    A::FirstName(v) => B::FirstName(v),
                    A::NickName(v) => B::NickName(v),
                    A::MiddleName(v) => B::MiddleName(v),
                    A::LastName(v) => B::LastName(v),
                    A::Gender(v) => B::Gender(v.conv()),
                    A::Birthdate(v) => B::Birthdate(v.conv()),
                    A::Anniversary(v) => B::Anniversary(v.conv()),
                    A::HomeAddress(v) => B::HomeAddress(v.conv()),
                    A::HomePhone(v) => B::HomePhone(v),
                    A::WorkPhone(v) => B::WorkPhone(v),
                    A::MobilePhone(v) => B::MobilePhone(v),
                    A::Email(v) => B::Email(v),
                }
            }
        }
    };
}
field_values!(ht => gt);
field_values!(gt => ht);

/// Borrowed guest values, cloned and converted for a host call.
fn host<A: Clone + Conv<B>, B>(items: &[A]) -> Vec<B> {
    items.iter().cloned().map(Conv::conv).collect()
}

/// The guest's ports over the host's capabilities, for one account's run.
pub struct NativePorts<'a> {
    pub capabilities: Capabilities,
    pub namespace: String,
    pub runtime: &'a tokio::runtime::Runtime,
}

impl NativePorts<'_> {
    fn on<T>(&self, future: impl std::future::Future<Output = T>) -> T {
        self.runtime.block_on(future)
    }
}

fn state_error(error: pcosync::state::StateError) -> gt::Error {
    gt::Error {
        kind: gt::ErrorKind::Internal,
        message: error.to_string(),
    }
}

impl Ports for NativePorts<'_> {
    fn account_groups(&self, account: &str) -> Result<Vec<gr::Group>, gt::Error> {
        self.on(self.capabilities.rock.account_groups(account))
            .conv()
    }

    fn groups(&self, ids: &[i64]) -> Result<Vec<gr::Group>, gt::Error> {
        self.on(self.capabilities.rock.groups(ids)).conv()
    }

    fn active_members(&self, groups: &[i64]) -> Result<Vec<gr::Membership>, gt::Error> {
        self.on(self.capabilities.rock.active_members(groups))
            .conv()
    }

    fn tagged_people(&self) -> Result<Vec<gr::PersonTags>, gt::Error> {
        self.on(self.capabilities.rock.tagged_people()).conv()
    }

    fn people(&self, ids: &[i64]) -> Result<Vec<gr::Person>, gt::Error> {
        self.on(self.capabilities.rock.people(ids)).conv()
    }

    fn follow_merges(&self, people: &[gr::GonePerson]) -> Result<Vec<gr::Merge>, gt::Error> {
        let people: Vec<hr::GonePerson> = host(people);
        self.on(self.capabilities.rock.follow_merges(&people))
            .conv()
    }

    fn find_people(&self, queries: &[gr::PersonQuery]) -> Result<Vec<Vec<gr::Person>>, gt::Error> {
        let queries: Vec<hr::PersonQuery> = host(queries);
        self.on(self.capabilities.rock.find_people(&queries)).conv()
    }

    fn update_people(&self, updates: &[gr::PersonUpdate]) -> Vec<Result<(), gt::Error>> {
        let updates: Vec<hr::PersonUpdate> = host(updates);
        self.on(self.capabilities.rock.update_people(&updates))
            .conv()
    }

    fn create_people(&self, people: &[gr::NewPerson]) -> Vec<Result<i64, gt::Error>> {
        let people: Vec<hr::NewPerson> = host(people);
        self.on(self.capabilities.rock.create_people(&people))
            .conv()
    }

    fn set_tags(&self, tags: &[gr::PersonTags]) -> Vec<Result<(), gt::Error>> {
        let tags: Vec<hr::PersonTags> = host(tags);
        self.on(self.capabilities.rock.set_tags(&tags)).conv()
    }

    fn add_members(&self, members: &[gr::Membership]) -> Vec<Result<(), gt::Error>> {
        let members: Vec<hr::Membership> = host(members);
        self.on(self.capabilities.rock.add_members(&members)).conv()
    }

    fn get_photo(&self, id: i64) -> Result<Option<gr::Photo>, gt::Error> {
        self.on(self.capabilities.rock.photo(id)).conv()
    }

    fn pco_send(&self, account: &str, request: &gp::Request) -> Result<gp::Response, gt::Error> {
        let request: hp::Request = request.clone().conv();
        self.on(self.capabilities.pco.send(account, &request))
            .conv()
    }

    fn pco_send_batch(
        &self,
        account: &str,
        requests: &[gp::Request],
    ) -> Vec<Result<gp::Response, gt::Error>> {
        let requests: Vec<hp::Request> = host(requests);
        self.on(self.capabilities.pco.send_batch(account, &requests))
            .conv()
    }

    fn pco_upload(
        &self,
        account: &str,
        content_type: &str,
        filename: &str,
        bytes: &[u8],
    ) -> Result<String, gt::Error> {
        self.on(self
            .capabilities
            .pco
            .upload(account, content_type, filename, bytes))
            .conv()
    }

    fn state_get(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, gt::Error> {
        self.capabilities
            .state
            .get(&self.namespace, keys)
            .map_err(state_error)
    }

    fn state_scan(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<gs::Entry>, gt::Error> {
        self.capabilities
            .state
            .scan(&self.namespace, prefix, after, limit)
            .map(Conv::conv)
            .map_err(state_error)
    }

    fn state_commit(&self, writes: &[gs::Write]) -> Result<(), gt::Error> {
        let writes: Vec<hs::Write> = host(writes);
        self.capabilities
            .state
            .commit(&self.namespace, &writes)
            .map_err(state_error)
    }

    fn log(&self, level: gl::Level, message: &str, fields: &[(String, String)]) {
        self.capabilities
            .reporter
            .event(level.conv(), message, fields)
    }

    fn progress(&self, task: &str, done: u64, total: Option<u64>) {
        self.capabilities.reporter.progress(task, done, total)
    }
}

/// The native guest's sync, with the host's types in and the guest's report out.
pub fn sync(
    ports: &NativePorts<'_>,
    account: &h::engine::Account,
    options: &h::engine::SyncOptions,
) -> Result<ga::Report, gt::Error> {
    pcosync_guest::run::sync(ports, &account.clone().conv(), &options.clone().conv())
}
