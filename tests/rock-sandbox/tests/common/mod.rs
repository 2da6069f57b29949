//! Helpers shared by the sandbox's HTTP tests.
#![allow(dead_code)]

use congregation::{
    Address, Congregation, Date, Gender, Group, Level, Member, Presence, Protection, Tag,
};
use reqwest::{Client, Method, Response};
use rock_sandbox::{ClockMode, RockSandbox, SandboxOptions};
use serde_json::Value;

/// 2024-05-01T00:00:00Z: a fixed clock makes every timestamp repeatable.
pub const START: i64 = 1_714_521_600;

pub fn options() -> SandboxOptions {
    SandboxOptions {
        clock: ClockMode::Fixed(START),
        ..SandboxOptions::default()
    }
}

pub struct Rock {
    pub sandbox: RockSandbox,
    pub client: Client,
}

impl Rock {
    pub async fn start(congregation: &Congregation) -> Rock {
        let sandbox = RockSandbox::start_with(options(), congregation)
            .await
            .expect("sandbox starts");
        Rock {
            sandbox,
            client: Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sandbox.base_url())
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        let mut request = self
            .client
            .request(method.clone(), self.url(path))
            .header("Authorization-Token", self.sandbox.token());
        match body {
            Some(body) => request = request.json(&body),
            // IIS answers 411 to a POST/PUT/PATCH without a length, and reqwest sends none
            // for an empty body (tests/iis.rs): say the length, as a client of Rock must.
            None if [Method::POST, Method::PUT, Method::PATCH].contains(&method) => {
                request = request.header("Content-Length", "0");
            }
            None => {}
        }
        request.send().await.expect("request is answered")
    }

    /// GET, expecting 200 and JSON.
    pub async fn get(&self, path: &str) -> Value {
        let response = self.send(Method::GET, path, None).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.expect("JSON body")
    }

    /// Sends and returns (status, body as JSON or Null).
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let response = self.send(method, path, body).await;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

fn member(key: u32, first: &str, nick: &str, last: &str, gender: Gender) -> Member {
    Member {
        key,
        first_name: first.into(),
        nick_name: nick.into(),
        middle_name: String::new(),
        last_name: last.into(),
        gender,
        birthdate: Some(Date {
            year: Some(1980),
            month: 3,
            day: 14,
        }),
        married: false,
        anniversary: None,
        email: Some(format!(
            "{}.{}@example.org",
            nick.to_lowercase(),
            last.to_lowercase()
        )),
        home_phone: None,
        work_phone: None,
        mobile_phone: Some(format!("55501{key:05}")),
        address: None,
        protection: Protection::Low,
        presence: Presence::Both,
        pco_email_drift: None,
        pco_nick_drift: None,
        pco_last_name_drift: None,
        pco_level: None,
        pco_org_admin: false,
        pco_archived: false,
        pco_accounts: vec![0],
        groups: Vec::new(),
        pco_tags: Vec::new(),
    }
}

/// A small hand-made congregation: the Smith couple (married, shared home), their child,
/// a single adult only in Rock, and someone only in PCO.
pub fn small() -> Congregation {
    let home = Address {
        street1: "12 Oak St".into(),
        street2: String::new(),
        city: "Springfield".into(),
        state: "IL".into(),
        postal_code: "62701".into(),
        country: "US".into(),
    };
    let anniversary = Some(Date {
        year: Some(2005),
        month: 6,
        day: 18,
    });
    let mut john = member(0, "Jonathan", "John", "Smith", Gender::Male);
    let mut mary = member(1, "Mary", "Mary", "Smith", Gender::Female);
    let mut kid = member(2, "Timothy", "Tim", "Smith", Gender::Male);
    for m in [&mut john, &mut mary, &mut kid] {
        m.address = Some(home.clone());
        m.home_phone = Some("2175550100".into());
    }
    for m in [&mut john, &mut mary] {
        m.married = true;
        m.anniversary = anniversary;
    }
    kid.birthdate = Some(Date {
        year: Some(2015),
        month: 9,
        day: 1,
    });
    kid.email = None;
    john.groups = vec![0, 2];
    john.pco_tags = vec![
        "Main Campus:Teams:Worship".into(),
        "Main Campus:Skills:Vocals".into(),
    ];
    mary.groups = vec![1];
    let mut ann = member(3, "Ann", "Ann", "Lee", Gender::Female);
    ann.presence = Presence::RockOnly;
    ann.protection = Protection::High;
    ann.work_phone = Some("3125550199".into());
    let mut pco_only = member(4, "Pat", "Pat", "Ng", Gender::Unknown);
    pco_only.presence = Presence::PcoOnly;
    Congregation {
        accounts: vec!["Main Campus".into()],
        tags: vec![
            Tag {
                group: "Teams".into(),
                name: "Worship".into(),
            },
            Tag {
                group: "Skills".into(),
                name: "Vocals".into(),
            },
        ],
        groups: vec![
            Group {
                name: "Worship Leaders".into(),
                group_type: "Serving Team".into(),
                pco_account: Some("Main Campus".into()),
                level: Some(Level::Editor),
                tag: None,
            },
            Group {
                name: "Worship Band".into(),
                group_type: "Serving Team".into(),
                pco_account: Some("Main Campus".into()),
                level: None,
                tag: Some("Teams:Worship".into()),
            },
            Group {
                name: "Small Group 1".into(),
                group_type: "Small Group".into(),
                pco_account: None,
                level: None,
                tag: None,
            },
        ],
        people: vec![john, mary, kid, ann, pco_only],
    }
}
