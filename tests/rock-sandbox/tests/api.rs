//! The sandbox over loopback HTTP, as a Rock client sees it.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{Rock, small};
use congregation::Congregation;
use reqwest::{Method, StatusCode};
use rock_sandbox::guids;
use serde_json::{Value, json};

fn ids(list: &Value) -> Vec<i64> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["Id"].as_i64())
        .collect()
}

#[tokio::test]
async fn requests_without_a_valid_key_are_401_with_an_empty_body() {
    let rock = Rock::start(&small()).await;
    let none = rock
        .client
        .get(rock.url("/api/People"))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert!(none.text().await.unwrap().is_empty());
    let wrong = rock
        .client
        .get(rock.url("/api/People"))
        .header("Authorization-Token", "nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let by_query = rock
        .client
        .get(rock.url(&format!("/api/people?apikey={}", rock.sandbox.token())))
        .send()
        .await
        .unwrap();
    assert_eq!(
        by_query.status(),
        StatusCode::OK,
        "?apikey= and a lower-case controller name work"
    );
}

#[tokio::test]
async fn a_view_only_key_cannot_write() {
    let options = rock_sandbox::SandboxOptions {
        view_only_token: Some("viewer".into()),
        ..common::options()
    };
    let sandbox = rock_sandbox::RockSandbox::start(options).await.unwrap();
    let client = reqwest::Client::new();
    let get = client
        .get(format!("{}/api/DefinedValues", sandbox.base_url()))
        .header("Authorization-Token", "viewer");
    assert_eq!(get.send().await.unwrap().status(), StatusCode::OK);
    let post = client
        .post(format!("{}/api/People", sandbox.base_url()))
        .header("Authorization-Token", "viewer")
        .json(&json!({"FirstName": "A", "LastName": "B"}));
    assert_eq!(
        post.send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn seeded_people_look_like_rock_people() {
    let rock = Rock::start(&small()).await;
    let john = rock.sandbox.person_id(0).unwrap();
    assert!(john >= 1000);
    assert!(
        rock.sandbox.person_id(4).is_none(),
        "PCO-only people are not in Rock"
    );
    let person = rock.get(&format!("/api/People/{john}")).await;
    assert_eq!(person["FirstName"], "Jonathan");
    assert_eq!(person["NickName"], "John");
    assert_eq!(person["Gender"], 1);
    assert_eq!(person["BirthDate"], "1980-03-14T00:00:00");
    assert_eq!(person["AnniversaryDate"], "2005-06-18T00:00:00");
    assert!(
        person["PhoneNumbers"].as_array().unwrap().len() >= 2,
        "GET by id loads phone numbers"
    );
    // Person.Aliases has no [DataMember] (Rock/Model/CRM/Person/Person.cs:790): never in
    // the JSON; the primary alias is PrimaryAliasId, a PersonAlias row of this person.
    assert!(person.get("Aliases").is_none(), "{person}");
    let primary = person["PrimaryAliasId"].as_i64().unwrap();
    let alias = rock
        .get(&format!(
            "/api/PersonAlias?$filter=Id eq {primary}&$select=Id,PersonId"
        ))
        .await;
    assert_eq!(alias, json!([{"Id": primary, "PersonId": john}]));
    assert_eq!(person["Attributes"], Value::Null);
    // Well-known GUIDs resolve to install-specific ids.
    let mobile = rock
        .get(&format!(
            "/api/DefinedValues?$filter=Guid eq guid'{}'",
            guids::DV_PHONE_MOBILE.to_uppercase()
        ))
        .await;
    let mobile_id = mobile[0]["Id"].as_i64().unwrap();
    assert_ne!(mobile_id, 1);
    let phones = rock
        .get(&format!(
            "/api/PhoneNumbers?$filter=PersonId eq {john} and NumberTypeValueId eq {mobile_id}"
        ))
        .await;
    assert_eq!(phones[0]["Number"], "5550100000");
    assert_eq!(phones[0]["NumberFormatted"], "(555) 010-0000");
    // The family: Home location through the family group.
    let families = rock
        .get(&format!(
            "/api/Groups/GetFamilies/{john}?$expand=GroupLocations/Location"
        ))
        .await;
    assert_eq!(
        families[0]["GroupLocations"][0]["Location"]["Street1"],
        "12 Oak St"
    );
    assert_eq!(person["PrimaryFamilyId"], families[0]["Id"]);
}

#[tokio::test]
async fn groups_members_and_group_attributes() {
    let c = small();
    let rock = Rock::start(&c).await;
    let leaders = rock.sandbox.group_id(0).unwrap();
    let group = rock
        .get(&format!("/api/Groups/{leaders}?loadAttributes=simple"))
        .await;
    assert_eq!(
        group["AttributeValues"]["PCOAccount"]["Value"],
        "Main Campus"
    );
    assert_eq!(
        group["AttributeValues"]["PCOPermissionLevel"]["Value"],
        "Editor"
    );
    let small_group = rock
        .get(&format!(
            "/api/Groups/{}?loadAttributes=simple",
            rock.sandbox.group_id(2).unwrap()
        ))
        .await;
    assert!(
        small_group["AttributeValues"].get("PCOAccount").is_none(),
        "only configured group types carry the attributes"
    );
    let members = rock
        .get(&format!(
            "/api/GroupMembers?$filter=GroupId eq {leaders} and GroupMemberStatus eq 'Active'"
        ))
        .await;
    assert_eq!(ids(&members).len(), members.as_array().unwrap().len());
    assert!(
        members
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["PersonId"] == rock.sandbox.person_id(0).unwrap())
    );
}

#[tokio::test]
async fn odata_filters_select_expand_and_errors() {
    let rock = Rock::start(&small()).await;
    let smiths = rock
        .get("/api/People?$filter=LastName eq 'smith'&$orderby=FirstName desc&$select=Id,FirstName")
        .await;
    let names: Vec<&str> = smiths
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["FirstName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Timothy", "Mary", "Jonathan"]);
    assert!(
        smiths[0].get("LastName").is_none(),
        "$select keeps only what was asked"
    );
    let (a, b) = (
        rock.sandbox.person_id(0).unwrap(),
        rock.sandbox.person_id(3).unwrap(),
    );
    let chosen = rock
        .get(&format!("/api/People?$filter=(Id eq {a}) or (Id eq {b})"))
        .await;
    assert_eq!(ids(&chosen), [a, b]);
    let started = rock
        .get("/api/People?$filter=startswith(FirstName,'Jon') and substringof('ath', FirstName)")
        .await;
    assert_eq!(ids(&started), [a]);
    let recent = rock
        .get("/api/People?$filter=ModifiedDateTime gt datetime'2030-01-01T00:00:00'")
        .await;
    assert!(recent.as_array().unwrap().is_empty());
    let no_email = rock
        .get("/api/People?$filter=Email eq null and LastName eq 'Smith'")
        .await;
    assert_eq!(no_email.as_array().unwrap().len(), 1);
    let expanded = rock
        .get(&format!(
            "/api/People?$filter=Id eq {a}&$expand=PhoneNumbers"
        ))
        .await;
    assert!(expanded[0]["PhoneNumbers"].as_array().unwrap().len() >= 2);
    for bad in [
        "$filter=Id eq 'x'",
        "$filter=Nope eq 1",
        "$filter=Guid eq '00000000-0000-0000-0000-000000000000'",
        "$filter=(Id eq 1",
        "$filter=Id eq datetime'2020-01-01T00:00:00+02:00'",
        // Issue 13 item 1: OData v3 types enums Edm.String; an integer literal is refused.
        "$filter=Gender eq 1",
        "$orderby=Nope",
        "$top=-1",
        "$expand=Nope",
        "$inlinecount=allpages",
    ] {
        let (status, body) = rock
            .call(Method::GET, &format!("/api/People?{bad}"), None)
            .await;
        assert_eq!(status, 400, "{bad}");
        assert!(
            body["Message"]
                .as_str()
                .unwrap()
                .starts_with("The query specified in the URI is not valid."),
            "{bad}: {body}"
        );
    }
    // A misspelt enum member parses (Edm.String) and fails when bound (Enum.Parse throws):
    // Web API's 500, without detail (customErrors On).
    let (status, body) = rock
        .call(Method::GET, "/api/People?$filter=Gender eq 'male'", None)
        .await;
    assert_eq!(
        (status, body),
        (500, json!({"Message": "An error has occurred."}))
    );
    let logged = rock.sandbox.requests().pop().unwrap();
    assert_eq!(
        logged.detail.as_deref(),
        Some("Requested value 'male' was not found.")
    );
}

#[tokio::test]
async fn lists_are_not_capped_and_page_past_a_thousand_people() {
    let c = Congregation::generate(1_600, 11);
    let rock = Rock::start(&c).await;
    let everyone = ids(&rock.get("/api/People?$select=Id").await);
    let rock_people = c.rock_people().count();
    assert_eq!(
        everyone.len(),
        rock_people + 1,
        "all of Rock's people plus the REST key's person, no cap"
    );
    assert!(everyone.len() > 1_000);
    let mut paged = Vec::new();
    for page in 0.. {
        let list = rock
            .get(&format!(
                "/api/People?$orderby=Id&$top=500&$skip={}&$select=Id",
                page * 500
            ))
            .await;
        let page_ids = ids(&list);
        if page_ids.is_empty() {
            break;
        }
        paged.extend(page_ids);
    }
    assert_eq!(paged, everyone);
    // A chain of ids in one filter (how a client fetches a batch by id): 20 terms are 99
    // nodes (4 each, 1 per `or`: Web API OData's FilterQueryValidator), under Rock's
    // MaxNodeCount of 100; 21 are 104.
    let batch: Vec<String> = everyone
        .iter()
        .take(20)
        .map(|id| format!("Id eq {id}"))
        .collect();
    let fetched = rock
        .get(&format!("/api/People?$filter={}", batch.join(" or ")))
        .await;
    assert_eq!(ids(&fetched).len(), 20);
    let over: Vec<String> = everyone
        .iter()
        .take(21)
        .map(|id| format!("Id eq {id}"))
        .collect();
    let (status, _) = rock
        .call(
            Method::GET,
            &format!("/api/People?$filter={}", over.join(" or ")),
            None,
        )
        .await;
    assert_eq!(status, 400);
    // Everyone seeded has a primary alias and a family.
    let aliases = rock.get("/api/PersonAlias?$select=PersonId").await;
    let with_alias: HashSet<i64> = aliases
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["PersonId"].as_i64())
        .collect();
    assert!(everyone.iter().all(|id| with_alias.contains(id)));
}

#[tokio::test]
async fn post_people_finds_an_existing_person_or_creates_one_in_a_new_family() {
    let rock = Rock::start(&small()).await;
    let john = rock.sandbox.person_id(0).unwrap();
    let same = json!({"FirstName": "John", "LastName": "Smith", "Email": "john.smith@example.org", "Gender": 1});
    let (status, body) = rock.call(Method::POST, "/api/People", Some(same)).await;
    assert_eq!(
        (status, body.as_i64()),
        (200, Some(john)),
        "matched by nick name + last name + email"
    );
    let new = json!({"FirstName": "  ruth ", "LastName": "BAKER", "Email": "ruth@example.org"});
    let (status, body) = rock.call(Method::POST, "/api/People", Some(new)).await;
    assert_eq!(status, 201);
    let id = body.as_i64().unwrap();
    let ruth = rock.get(&format!("/api/People/{id}")).await;
    assert_eq!(
        (ruth["FirstName"].as_str(), ruth["LastName"].as_str()),
        (Some("Ruth"), Some("Baker")),
        "trimmed and FixCase'd"
    );
    assert_eq!(
        ruth["NickName"], "Ruth",
        "nick name defaulted to first name"
    );
    let family = rock
        .get(&format!("/api/Groups/{}", ruth["PrimaryFamilyId"]))
        .await;
    assert_eq!(family["Name"], "Baker Family");
    let role = rock
        .get(&format!("/api/GroupMembers?$filter=PersonId eq {id}"))
        .await;
    let adult = rock
        .get(&format!(
            "/api/GroupTypeRoles?$filter=Guid eq guid'{}'",
            guids::GROUPROLE_FAMILY_ADULT
        ))
        .await;
    assert_eq!(role[0]["GroupRoleId"], adult[0]["Id"]);
    // Ann has a High protection profile: never matched, so a new person is created.
    let ann = json!({"FirstName": "Ann", "LastName": "Lee", "Email": "ann.lee@example.org"});
    assert_eq!(
        rock.call(Method::POST, "/api/People", Some(ann)).await.0,
        201
    );
    let (status, body) = rock
        .call(
            Method::POST,
            "/api/People",
            Some(json!({"FirstName": "X", "LastName": "Y", "Email": "not an email"})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(body["Message"].as_str().unwrap().contains("Email"));
}

// `Post` in Rock.Rest/Controllers/PeopleController.Partial.cs and `FindPersons` in
// Rock/Model/CRM/Person/PersonService.cs: gender and birthday narrow the last-name candidates;
// previous names and emails bring people in whatever their gender.
#[tokio::test]
async fn post_people_matches_as_rocks_find_person() {
    let rock = Rock::start(&small()).await;
    let john = rock.sandbox.person_id(0).unwrap();
    let post = async |body: Value| {
        let (status, body) = rock.call(Method::POST, "/api/People", Some(body)).await;
        (status, body.as_i64())
    };
    // Sent as Unknown gender: only Unknown-gender people are candidates, John is Male.
    let unknown = json!({"FirstName": "John", "LastName": "Smith", "Email": "john.smith@example.org", "Gender": 0});
    let (status, id) = post(unknown).await;
    assert_eq!(
        status, 201,
        "an Unknown-gender person never meets a Male one"
    );
    // The one just created is Unknown: the same post now finds them (15+15+15+3).
    let again =
        json!({"FirstName": "John", "LastName": "Smith", "Email": "john.smith@example.org"});
    assert_eq!(post(again).await, (200, id));
    // A different birthday keeps John out (his is known); the same one finds him.
    let dob = rock.get(&format!("/api/People/{john}")).await;
    let (month, day) = (dob["BirthMonth"].as_i64(), dob["BirthDay"].as_i64());
    if let (Some(month), Some(day)) = (month, day) {
        let other_month = month % 12 + 1;
        let wrong = json!({"FirstName": "John", "LastName": "Smith", "Email": "john.smith@example.org",
            "Gender": 1, "BirthMonth": other_month, "BirthDay": 1});
        assert_ne!(post(wrong).await.1, Some(john));
        let right = json!({"FirstName": "John", "LastName": "Smith", "Email": "john.smith@example.org",
            "Gender": 1, "BirthMonth": month, "BirthDay": day});
        assert_eq!(post(right).await, (200, Some(john)));
    }
    // A previous email: first name 15 + last name 15 + previous email 15.
    rock.sandbox
        .add_previous_email(john, "old.john@example.org");
    let previous = json!({"FirstName": "John", "LastName": "Smith", "Email": "old.john@example.org", "Gender": 1});
    assert_eq!(post(previous).await, (200, Some(john)));
    // A previous last name: first 15 + previous name 12 + email 15.
    rock.sandbox.add_previous_name(john, "Maiden");
    let maiden = json!({"FirstName": "John", "LastName": "Maiden", "Email": "john.smith@example.org", "Gender": 1});
    assert_eq!(post(maiden).await, (200, Some(john)));
    // First and last name alone (30) are not enough.
    let names = json!({"FirstName": "John", "LastName": "Smith", "Gender": 1});
    assert_eq!(post(names).await.0, 201);
}

#[tokio::test]
async fn patch_is_case_sensitive_and_answers_rocks_400s() {
    let rock = Rock::start(&small()).await;
    let id = rock.sandbox.person_id(3).unwrap();
    let path = format!("/api/People/{id}");
    let cases = [
        (json!({}), "No values were sent in the body"),
        (json!({"Id": 5}), "Cannot set Id"),
        (
            json!({"firstName": "Anne"}),
            "Person does not have attribute firstName",
        ),
        (json!({"BirthDate": "1990-01-01"}), "Cannot write BirthDate"),
        (json!({"Gender": "lots"}), "Cannot cast Gender to int32"),
    ];
    for (body, expected) in cases {
        let (status, answer) = rock.call(Method::PATCH, &path, Some(body.clone())).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(answer["Message"], expected);
    }
    let (status, _) = rock
        .call(Method::PATCH, &path, Some(json!({"NickName": "Annie"})))
        .await;
    assert_eq!(status, 204);
    assert_eq!(rock.get(&path).await["NickName"], "Annie");
    assert_eq!(
        rock.call(
            Method::PATCH,
            "/api/People/999999",
            Some(json!({"NickName": "x"}))
        )
        .await
        .0,
        404
    );
    assert_eq!(rock.call(Method::DELETE, &path, None).await.0, 405);
}

#[tokio::test]
async fn put_replaces_every_column() {
    let rock = Rock::start(&small()).await;
    let id = rock.sandbox.person_id(3).unwrap();
    let path = format!("/api/People/{id}");
    let before = rock.get(&path).await;
    let (status, _) = rock
        .call(
            Method::PUT,
            &path,
            Some(json!({"FirstName": "Ann", "LastName": "Lee"})),
        )
        .await;
    assert_eq!(status, 204);
    let after = rock.get(&path).await;
    assert_eq!(
        after["Email"],
        Value::Null,
        "omitted in the PUT, so cleared"
    );
    assert_eq!(after["BirthYear"], Value::Null);
    assert_eq!(after["Guid"], before["Guid"], "identity kept");
    assert_eq!(after["NickName"], "Ann");
}

#[tokio::test]
async fn rock_rewrites_values_on_save() {
    // R27: the rewrites a sync must tolerate.
    let rock = Rock::start(&small()).await;
    let ann = rock.sandbox.person_id(3).unwrap();
    let path = format!("/api/People/{ann}");
    let patch = json!({"FirstName": "  Ann   Marie ", "NickName": "", "AnniversaryDate": "2010-05-05T00:00:00",
        "BirthDay": 29, "BirthMonth": 2, "BirthYear": 1992});
    assert_eq!(rock.call(Method::PATCH, &path, Some(patch)).await.0, 204);
    let person = rock.get(&path).await;
    assert_eq!(person["FirstName"], "Ann Marie");
    assert_eq!(person["NickName"], "Ann Marie");
    assert_eq!(
        person["AnniversaryDate"],
        Value::Null,
        "cleared: Ann is not married"
    );
    assert_eq!(person["BirthDate"], "1992-02-29T00:00:00");
    let mobile = rock
        .get(&format!(
            "/api/DefinedValues?$filter=Guid eq guid'{}'",
            guids::DV_PHONE_MOBILE
        ))
        .await[0]["Id"]
        .clone();
    let phone = json!({"PersonId": ann, "Number": "+1 (217) 555.0142", "NumberTypeValueId": mobile, "CountryCode": ""});
    let (status, id) = rock
        .call(Method::POST, "/api/PhoneNumbers", Some(phone))
        .await;
    assert_eq!(status, 201);
    let stored = rock.get(&format!("/api/PhoneNumbers/{id}")).await;
    // PhoneNumber.SaveHook.cs: formatted by the US "with Country Code" rule, which drops the
    // 1, and `Number` is the digits of the formatted number.
    assert_eq!(stored["Number"], "2175550142");
    assert_eq!(stored["NumberFormatted"], "(217) 555-0142");
    assert_eq!(stored["CountryCode"], "1");
    let ten = json!({"PersonId": ann, "Number": "217-555-0143", "NumberTypeValueId": mobile});
    let (_, id) = rock
        .call(Method::POST, "/api/PhoneNumbers", Some(ten))
        .await;
    let stored = rock.get(&format!("/api/PhoneNumbers/{id}")).await;
    assert_eq!(
        (
            stored["Number"].as_str(),
            stored["NumberFormatted"].as_str()
        ),
        (Some("2175550143"), Some("(217) 555-0143"))
    );
}

#[tokio::test]
async fn anniversary_changes_reach_the_married_spouse() {
    let rock = Rock::start(&small()).await;
    let (john, mary) = (
        rock.sandbox.person_id(0).unwrap(),
        rock.sandbox.person_id(1).unwrap(),
    );
    let patch = json!({"AnniversaryDate": "2006-07-01T00:00:00"});
    assert_eq!(
        rock.call(Method::PATCH, &format!("/api/People/{john}"), Some(patch))
            .await
            .0,
        204
    );
    assert_eq!(
        rock.get(&format!("/api/People/{mary}")).await["AnniversaryDate"],
        "2006-07-01T00:00:00"
    );
}

// Rock/Data/DbContext.cs stamps a row Entity Framework saw modified; the save hooks of
// PhoneNumber, GroupLocation and AttributeValue stamp the person too
// (Rock/Model/CRM/PhoneNumber/PhoneNumber.SaveHook.cs,
// Rock/Model/Group/GroupLocation/GroupLocation.SaveHook.cs,
// Rock/Model/Core/AttributeValue/AttributeValue.SaveHook.cs).
#[tokio::test]
async fn modified_date_time_moves_as_rock_stamps_it() {
    let rock = Rock::start(&small()).await;
    let id = rock.sandbox.person_id(3).unwrap();
    let path = format!("/api/People/{id}");
    let seeded = rock.get(&path).await["ModifiedDateTime"].clone();
    assert_eq!(
        seeded, "2024-04-23T19:00:00",
        "seed data is a week old, org-local (America/Chicago, CDT in May), no offset"
    );
    assert_eq!(
        rock.get(&path).await["ModifiedByPersonAliasId"],
        Value::Null
    );
    rock.sandbox.advance_clock(Duration::from_secs(3600));
    let same = rock.get(&path).await["NickName"].clone();
    rock.call(Method::PATCH, &path, Some(json!({"NickName": same})))
        .await;
    assert_eq!(
        rock.get(&path).await["ModifiedDateTime"],
        seeded,
        "no change"
    );
    // A change Rock's own hook undoes (trimmed back to the same) is still a save.
    rock.call(Method::PATCH, &path, Some(json!({"LastName": " Lee "})))
        .await;
    assert_eq!(
        rock.get(&path).await["ModifiedDateTime"],
        "2024-04-30T20:00:00"
    );
    let rest_alias = rock.sandbox.key_aliases().0;
    assert_eq!(
        rock.get(&path).await["ModifiedByPersonAliasId"].as_i64(),
        rest_alias
    );
    // A phone change stamps the phone and its person.
    rock.sandbox.advance_clock(Duration::from_secs(60));
    let phones = rock
        .get(&format!("/api/PhoneNumbers?$filter=PersonId eq {id}"))
        .await;
    let phone_id = phones[0]["Id"].as_i64().unwrap();
    rock.call(
        Method::PATCH,
        &format!("/api/PhoneNumbers/{phone_id}"),
        Some(json!({"Number": "3125550100"})),
    )
    .await;
    assert_eq!(
        rock.get(&format!("/api/PhoneNumbers/{phone_id}")).await["ModifiedDateTime"],
        "2024-04-30T20:01:00"
    );
    assert_eq!(
        rock.get(&path).await["ModifiedDateTime"],
        "2024-04-30T20:01:00"
    );
    // Deleting it stamps the person again.
    rock.sandbox.advance_clock(Duration::from_secs(60));
    rock.call(
        Method::DELETE,
        &format!("/api/PhoneNumbers/{phone_id}"),
        None,
    )
    .await;
    assert_eq!(
        rock.get(&path).await["ModifiedDateTime"],
        "2024-04-30T20:02:00"
    );
    // A family address saved stamps every member of the family.
    rock.sandbox.advance_clock(Duration::from_secs(60));
    let family = rock.sandbox.seed_ids().families[&3];
    let members: Vec<i64> = rock
        .get(&format!("/api/GroupMembers?$filter=GroupId eq {family}"))
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["PersonId"].as_i64())
        .collect();
    assert!(!members.is_empty());
    let home = rock
        .get("/api/DefinedValues?$filter=Guid eq guid'8C52E53C-2A66-435A-AE6E-5EE307D9A0DC'")
        .await[0]["Id"]
        .as_i64()
        .unwrap();
    let (status, _) = rock
        .call(
            Method::PUT,
            &format!("/api/Groups/SaveAddress/{family}/{home}?street1=9%20Elm%20St&city=Omaha&state=NE&postalCode=68102&country=US"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    for member in members {
        assert_eq!(
            rock.get(&format!("/api/People/{member}")).await["ModifiedDateTime"],
            "2024-04-30T20:03:00",
            "family member {member}"
        );
    }
}

#[tokio::test]
async fn attribute_values_are_set_with_202_and_read_back() {
    let rock = Rock::start(&small()).await;
    let john = rock.sandbox.person_id(0).unwrap();
    let read = format!("/api/People/{john}?loadAttributes=simple&attributeKeys=PCOTags");
    let person = rock.get(&read).await;
    assert_eq!(
        person["AttributeValues"]["PCOTags"]["Value"],
        "Main Campus:Teams:Worship,Main Campus:Skills:Vocals"
    );
    assert_eq!(person["Attributes"]["PCOTags"]["Key"], "PCOTags");
    let modified = person["ModifiedDateTime"].clone();
    rock.sandbox.advance_clock(Duration::from_secs(60));
    let set = format!(
        "/api/People/AttributeValue/{john}?attributeKey=PCOTags&attributeValue=Main%20Campus%3ATeams%3AWorship"
    );
    let (status, body) = rock.call(Method::POST, &set, None).await;
    assert_eq!((status, body.as_i64()), (202, Some(john)));
    let person = rock.get(&read).await;
    assert_eq!(
        person["AttributeValues"]["PCOTags"]["Value"],
        "Main Campus:Teams:Worship"
    );
    assert_ne!(
        person["ModifiedDateTime"], modified,
        "a person attribute value stamps its person (AttributeValue.SaveHook.cs)"
    );
    let values = rock
        .get(&format!(
            "/api/AttributeValues?$filter=EntityId eq {john} and AttributeId eq {}",
            person["Attributes"]["PCOTags"]["Id"]
        ))
        .await;
    assert_eq!(values[0]["ModifiedDateTime"], "2024-04-30T19:01:00");
    // Issue 13 item 9: an unknown key, or the right key in the wrong case, is a 400 whose
    // text is the reason phrase, with an empty body.
    for key in ["Nope", "pcotags"] {
        let response = rock
            .send(
                Method::POST,
                &format!("/api/People/AttributeValue/{john}?attributeKey={key}&attributeValue=x"),
                None,
            )
            .await;
        assert_eq!(response.status(), 400);
        let phrase = response
            .extensions()
            .get::<hyper::ext::ReasonPhrase>()
            .map(|p| String::from_utf8_lossy(p.as_bytes()).to_string());
        assert_eq!(
            phrase.as_deref(),
            Some(format!("Person does not have a {key} attribute").as_str())
        );
        assert!(response.text().await.unwrap().is_empty());
    }
    let (status, _) = rock
        .call(
            Method::DELETE,
            &format!("/api/People/AttributeValue/{john}?attributeKey=PCOTags"),
            None,
        )
        .await;
    assert_eq!(status, 202);
    assert_eq!(
        rock.get(&read).await["AttributeValues"]["PCOTags"]["Value"],
        ""
    );
    // Issue 13 item 9: `DeleteAttributeValue` stores "", and a POST of an empty value (which
    // Web API binds as null) sets the value to null.
    let stored = || {
        let path = format!(
            "/api/AttributeValues?$filter=EntityId eq {john} and AttributeId eq {}",
            person["Attributes"]["PCOTags"]["Id"]
        );
        let rock = &rock;
        async move { rock.get(&path).await[0]["Value"].clone() }
    };
    assert_eq!(stored().await, "");
    let (status, _) = rock
        .call(
            Method::POST,
            &format!("/api/People/AttributeValue/{john}?attributeKey=PCOTags&attributeValue="),
            None,
        )
        .await;
    assert_eq!(status, 202);
    assert_eq!(stored().await, Value::Null);
}

#[tokio::test]
async fn saving_a_new_home_address_moves_the_old_one_to_previous() {
    let rock = Rock::start(&small()).await;
    let john = rock.sandbox.person_id(0).unwrap();
    let family = rock.get(&format!("/api/People/{john}")).await["PrimaryFamilyId"]
        .as_i64()
        .unwrap();
    let home = rock
        .get(&format!(
            "/api/DefinedValues?$filter=Guid eq guid'{}'",
            guids::DV_LOCATION_HOME
        ))
        .await[0]["Id"]
        .as_i64()
        .unwrap();
    let previous = rock
        .get(&format!(
            "/api/DefinedValues?$filter=Guid eq guid'{}'",
            guids::DV_LOCATION_PREVIOUS
        ))
        .await[0]["Id"]
        .as_i64()
        .unwrap();
    let save = format!(
        "/api/Groups/SaveAddress/{family}/{home}?street1=9%20elm%20ave&city=springfield&state=IL&postalCode=62702&country=US"
    );
    assert_eq!(rock.call(Method::PUT, &save, None).await.0, 204);
    let links = rock
        .get(&format!(
            "/api/GroupLocations?$filter=GroupId eq {family}&$expand=Location&$orderby=Id"
        ))
        .await;
    let links = links.as_array().unwrap();
    assert_eq!(links.len(), 2);
    assert_eq!(links[0]["GroupLocationTypeValueId"], previous);
    assert_eq!(links[0]["IsMailingLocation"], false);
    assert_eq!(links[1]["GroupLocationTypeValueId"], home);
    assert_eq!(
        links[1]["Location"]["Street1"], "9 Elm Ave",
        "new locations are FixCase'd"
    );
    assert_eq!(links[1]["Location"]["City"], "Springfield");
    let export = rock.get("/api/People/Export?pageSize=1000").await;
    let exported = export["Persons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["Id"] == john)
        .unwrap()
        .clone();
    assert_eq!(exported["HomeAddress"]["Street1"], "9 Elm Ave");
    assert_eq!(
        rock.call(
            Method::PUT,
            &format!("/api/Groups/SaveAddress/1/{home}?street1=x"),
            None
        )
        .await
        .0,
        404
    );
}

#[tokio::test]
async fn a_merged_person_is_found_through_their_alias() {
    // R7: after a merge the old id is gone and its alias points at the survivor.
    let rock = Rock::start(&small()).await;
    let (survivor, merged) = (
        rock.sandbox.person_id(0).unwrap(),
        rock.sandbox.person_id(3).unwrap(),
    );
    let old_alias = rock.get(&format!("/api/People/{merged}")).await["PrimaryAliasId"]
        .as_i64()
        .unwrap();
    let response = rock
        .client
        .post(rock.url("/__sandbox/merge"))
        .json(&json!({"survivor": survivor, "merged": merged}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(
        rock.call(Method::GET, &format!("/api/People/{merged}"), None)
            .await
            .0,
        404
    );
    // Rock's merge moves the merged person's aliases to the survivor.
    let alias = rock
        .get(&format!(
            "/api/PersonAlias?$filter=Id eq {old_alias}&$select=Id,PersonId"
        ))
        .await;
    assert_eq!(alias, json!([{"Id": old_alias, "PersonId": survivor}]));
    let via_alias = rock
        .get(&format!("/api/People/GetByPersonAliasId/{old_alias}"))
        .await;
    assert_eq!(via_alias["Id"], survivor);
    // AliasPersonId (the merged person's old id) has no [DataMember]: never queryable.
    let (status, body) = rock
        .call(
            Method::GET,
            &format!("/api/PersonAlias?$filter=AliasPersonId eq {merged}"),
            None,
        )
        .await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({"Message": "The query specified in the URI is not valid."})
        )
    );
    assert!(
        rock.sandbox.merge_people(survivor, merged).is_err(),
        "the merged person no longer exists"
    );
}

#[tokio::test]
async fn group_members_reject_duplicate_roles_and_are_archived_on_delete() {
    let rock = Rock::start(&small()).await;
    let group = rock.sandbox.group_id(0).unwrap();
    let ann = rock.sandbox.person_id(3).unwrap();
    let group_type = rock.get(&format!("/api/Groups/{group}")).await["GroupTypeId"].clone();
    let role =
        rock.get(&format!("/api/GroupTypes/{group_type}")).await["DefaultGroupRoleId"].clone();
    let member = json!({"GroupId": group, "PersonId": ann, "GroupRoleId": role});
    let (status, id) = rock
        .call(Method::POST, "/api/GroupMembers", Some(member.clone()))
        .await;
    assert_eq!(status, 201);
    let (status, body) = rock
        .call(Method::POST, "/api/GroupMembers", Some(member))
        .await;
    assert_eq!(status, 400);
    assert!(
        body["Message"]
            .as_str()
            .unwrap()
            .contains("already belongs to the member role"),
        "{body}"
    );
    let stored = rock.get(&format!("/api/GroupMembers/{id}")).await;
    assert_eq!(stored["GroupTypeId"], group_type, "filled from the group");
    assert_eq!(stored["GroupMemberStatus"], 1);
    assert_eq!(
        rock.call(Method::DELETE, &format!("/api/GroupMembers/{id}"), None)
            .await
            .0,
        204
    );
    assert_eq!(
        rock.call(Method::GET, &format!("/api/GroupMembers/{id}"), None)
            .await
            .0,
        404
    );
    let listed = rock
        .get(&format!(
            "/api/GroupMembers?$filter=GroupId eq {group} and PersonId eq {ann}"
        ))
        .await;
    assert!(
        listed.as_array().unwrap().is_empty(),
        "archived members are hidden"
    );
    assert!(
        rock.sandbox.person_dump(ann).unwrap()["GroupMembers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["IsArchived"] == true)
    );
}

#[tokio::test]
async fn export_pages_and_filters_by_modified_since() {
    let c = Congregation::generate(1_200, 5);
    let rock = Rock::start(&c).await;
    let total = c.rock_people().count() + 1;
    let first = rock.get("/api/People/Export?page=1&pageSize=5000").await;
    assert_eq!(first["PageSize"], 1000, "page size capped at 1000");
    assert_eq!(first["TotalCount"], total);
    let second = rock
        .get("/api/People/Export?page=2&pageSize=1000&attributeKeys=PCOTags")
        .await;
    assert_eq!(second["Persons"].as_array().unwrap().len(), total - 1000);
    let tagged = second["Persons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["AttributesExport"]["AttributeValues"]["PCOTags"] != "");
    assert!(tagged.is_some(), "attribute values come with the export");
    rock.sandbox.advance_clock(Duration::from_secs(3600));
    let since = rock.sandbox.now();
    let someone = rock
        .sandbox
        .person_id(c.rock_people().nth(10).unwrap().key)
        .unwrap();
    rock.call(
        Method::PATCH,
        &format!("/api/People/{someone}"),
        Some(json!({"MiddleName": "Changed"})),
    )
    .await;
    let changed = rock
        .get(&format!("/api/People/Export?modifiedSince={since}"))
        .await;
    assert_eq!(changed["TotalCount"], 1);
    assert_eq!(changed["Persons"][0]["Id"], someone);
    assert!(
        changed["Persons"][0]["MobilePhone"].is_string()
            || changed["Persons"][0]["MobilePhone"].is_null()
    );
}

#[tokio::test]
async fn photos_are_served_and_replaced() {
    let c = Congregation::generate(60, 3);
    let rock = Rock::start(&c).await;
    let with_photo = rock.get("/api/People?$filter=PhotoId ne null&$top=1").await;
    let photo = with_photo[0]["PhotoId"].as_i64().unwrap();
    let image = rock
        .client
        .get(rock.url(&format!("/GetImage.ashx?id={photo}")))
        .send()
        .await
        .unwrap();
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()["content-type"], "image/png");
    assert!(image.bytes().await.unwrap().starts_with(b"\x89PNG"));
    let guid = with_photo[0]["Guid"].as_str().unwrap();
    let upload = rock
        .client
        .post(rock.url(&format!(
            "/api/People/UpdatePersonProfilePhoto?personGuid={guid}&filename=me.jpg"
        )))
        .header("Authorization-Token", rock.sandbox.token())
        .body(vec![0xff, 0xd8, 0xff, 0xe0, 1, 2, 3])
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), 200);
    let person = rock
        .get(&format!("/api/People/{}", with_photo[0]["Id"]))
        .await;
    let new_photo = person["PhotoId"].as_i64().unwrap();
    assert_ne!(new_photo, photo);
    let bytes = rock
        .client
        .get(rock.url(&format!("/GetImage.ashx?id={new_photo}")))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&bytes[..], &[0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]);
}

#[tokio::test]
async fn bad_input_never_breaks_the_server() {
    let rock = Rock::start(&small()).await;
    let cases: [(Method, &str, Option<&str>); 8] = [
        (Method::POST, "/api/People", Some("{not json")),
        (Method::POST, "/api/People", Some("[1,2]")),
        (
            Method::POST,
            "/api/PhoneNumbers",
            Some(r#"{"PersonId": "abc"}"#),
        ),
        (Method::PUT, "/api/People/abc", Some("{}")),
        (Method::GET, "/api/Nothing", None),
        (Method::GET, "/api/People/1/2/3/4", None),
        (Method::GET, "/api/People?$filter=%28%28%28", None),
        (Method::POST, "/__sandbox/merge", Some("{}")),
    ];
    for (method, path, body) in cases {
        let mut request = rock
            .client
            .request(method.clone(), rock.url(path))
            .header("Authorization-Token", rock.sandbox.token());
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let status = request.send().await.unwrap().status();
        assert!(status.is_client_error(), "{method} {path}: {status}");
    }
    assert_eq!(
        rock.get("/api/People?$top=1")
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn deceased_people_leave_the_list_but_not_the_export() {
    let rock = Rock::start(&small()).await;
    let ann = rock.sandbox.person_id(3).unwrap();
    assert!(rock.sandbox.set_deceased(ann, true));
    let listed = ids(&rock.get("/api/People").await);
    assert!(!listed.contains(&ann));
    let with = ids(&rock.get("/api/People?includeDeceased=true").await);
    assert!(with.contains(&ann));
    // PeopleController.GetById: `Get(true).Include(PhoneNumbers)`: deceased people found,
    // with their phone numbers loaded.
    let by_id = rock.get(&format!("/api/People/{ann}")).await;
    assert_eq!(by_id["IsDeceased"], true);
    assert!(by_id["PhoneNumbers"].is_array(), "{by_id}");
    let export = rock.get("/api/People/Export").await;
    assert!(
        export["Persons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["Id"] == ann)
    );
}

#[tokio::test]
async fn member_status_changes_stamp_the_inactive_date() {
    let rock = Rock::start(&small()).await;
    let mary = rock.sandbox.person_id(1).unwrap();
    let band = rock.sandbox.group_id(1).unwrap();
    let member = rock
        .get(&format!(
            "/api/GroupMembers?$filter=GroupId eq {band} and PersonId eq {mary}"
        ))
        .await[0]
        .clone();
    let path = format!("/api/GroupMembers/{}", member["Id"]);
    assert_eq!(member["InactiveDateTime"], Value::Null);
    rock.call(Method::PATCH, &path, Some(json!({"GroupMemberStatus": 0})))
        .await;
    let inactive = rock.get(&path).await;
    assert_eq!(inactive["InactiveDateTime"], "2024-04-30T19:00:00");
    assert_ne!(inactive["ModifiedDateTime"], member["ModifiedDateTime"]);
    let active = rock
        .get(&format!(
            "/api/GroupMembers?$filter=GroupId eq {band} and GroupMemberStatus eq 'Active'"
        ))
        .await;
    assert!(!ids(&active).contains(&member["Id"].as_i64().unwrap()));
}

#[tokio::test]
async fn helper_lookups_and_an_optional_node_limit() {
    let rock = Rock::start(&small()).await;
    let john = rock.sandbox.person_id(0).unwrap();
    let found = rock
        .get("/api/People/GetByEmail/JOHN.SMITH@example.org")
        .await;
    assert_eq!(ids(&found), [john]);
    let by_key = rock.get(&format!("/api/People({john})")).await;
    assert_eq!(by_key["Id"], john);
    let listed = rock.get(&format!("/api/People?$filter=Id eq {john}")).await;
    assert!(
        listed[0].get("Aliases").is_none(),
        "Person.Aliases is no [DataMember]: not in the list's rows"
    );

    let options = rock_sandbox::SandboxOptions {
        max_node_count: Some(100),
        ..common::options()
    };
    let limited = rock_sandbox::RockSandbox::start(options).await.unwrap();
    let chain: Vec<String> = (0..60).map(|i| format!("Id eq {i}")).collect();
    let response = rock
        .client
        .get(format!(
            "{}/api/People?$filter={}",
            limited.base_url(),
            chain.join(" or ")
        ))
        .header("Authorization-Token", limited.token())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    // Rock hides the validator's message (customErrors On); the request log keeps it.
    assert_eq!(
        body,
        json!({"Message": "The query specified in the URI is not valid."})
    );
    let logged = limited.requests().pop().unwrap();
    assert!(
        logged
            .detail
            .unwrap_or_default()
            .contains("node count limit of '100'")
    );
}

#[tokio::test]
async fn archived_groups_are_left_out_of_lists_but_found_by_id() {
    // GroupService.Queryable() hides archived groups; Service.Get( id ) reads AsNoFilter().
    let rock = Rock::start(&small()).await;
    let group = rock.sandbox.group_id(2).unwrap();
    let filter = format!("/api/Groups?$filter=Id eq {group}");
    assert_eq!(ids(&rock.get(&filter).await), vec![group]);
    let archive = json!({"IsArchived": true});
    let path = format!("/api/Groups/{group}");
    assert_eq!(rock.call(Method::PATCH, &path, Some(archive)).await.0, 204);
    assert!(
        ids(&rock.get(&filter).await).is_empty(),
        "hidden from lists"
    );
    assert!(!ids(&rock.get("/api/Groups").await).contains(&group));
    let by_id = rock.get(&path).await;
    assert_eq!(
        (by_id["Id"].as_i64(), &by_id["IsArchived"]),
        (Some(group), &json!(true))
    );
}

#[tokio::test]
async fn nameless_people_and_the_anonymous_visitor_are_never_listed() {
    // PersonService.Queryable( PersonQueryOptions ): IncludeNameless and
    // IncludeAnonymousVisitor are false by default.
    let c = small();
    let rock = Rock::start(&c).await;
    let nameless = rock.sandbox.add_nameless_person("2175550199");
    let everyone = ids(&rock.get("/api/People?$select=Id").await);
    assert_eq!(everyone.len(), c.rock_people().count() + 1, "{everyone:?}");
    assert!(!everyone.contains(&nameless));
    // PersonAlias.AliasPersonGuid has no [DataMember] (PersonAlias.cs:85): not queryable.
    // Rock's aliases list everyone, so the one person with an alias but not listed (and not
    // the nameless one) is the Anonymous Visitor.
    let unlisted: HashSet<i64> = rock
        .get("/api/PersonAlias?$select=PersonId")
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["PersonId"].as_i64())
        .filter(|p| !everyone.contains(p) && *p != nameless)
        .collect();
    assert_eq!(unlisted.len(), 1, "Rock ships the Anonymous Visitor");
    let anonymous = unlisted.into_iter().next().unwrap();
    let (status, _) = rock
        .call(
            Method::GET,
            &format!(
                "/api/PersonAlias?$filter=AliasPersonGuid eq guid'{}'",
                guids::PERSON_ANONYMOUS_VISITOR
            ),
            None,
        )
        .await;
    assert_eq!(status, 400);
    assert!(!everyone.contains(&anonymous));
    for id in [nameless, anonymous] {
        let (status, _) = rock
            .call(Method::GET, &format!("/api/People/{id}"), None)
            .await;
        assert_eq!(
            status, 404,
            "GetById reads Get( true ): nameless and anonymous left out"
        );
    }
    let deceased_too = ids(&rock
        .get("/api/People?includeDeceased=true&$select=Id")
        .await);
    assert!(!deceased_too.contains(&nameless) && !deceased_too.contains(&anonymous));
    let export = rock.get("/api/People/Export?pageSize=1000").await;
    assert_eq!(export["TotalCount"], c.rock_people().count() + 1);
}

#[tokio::test]
async fn an_email_is_stored_as_sent_spaces_and_all() {
    // Person.SaveHook.cs PreSave does not trim Email; Person.cs's RegularExpression allows
    // whitespace around the address.
    let rock = Rock::start(&small()).await;
    let ann = rock.sandbox.person_id(3).unwrap();
    let path = format!("/api/People/{ann}");
    let spaced = json!({"Email": "  ann.new@example.org "});
    assert_eq!(rock.call(Method::PATCH, &path, Some(spaced)).await.0, 204);
    assert_eq!(rock.get(&path).await["Email"], "  ann.new@example.org ");
    for bad in [
        "ann new@example.org",
        "ann@example",
        "@example.org",
        "ann.@example.org",
    ] {
        let (status, body) = rock
            .call(Method::PATCH, &path, Some(json!({"Email": bad})))
            .await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(body["Message"], "The Email address is invalid", "{bad}");
    }
}

/// The Id of the first role named `name` of the group's type.
async fn role_of(rock: &Rock, group: i64, name: &str) -> (i64, i64) {
    let group_type = rock.get(&format!("/api/Groups/{group}")).await["GroupTypeId"]
        .as_i64()
        .unwrap();
    let roles = rock
        .get(&format!(
            "/api/GroupTypeRoles?$filter=GroupTypeId eq {group_type} and Name eq '{name}'"
        ))
        .await;
    (group_type, roles[0]["Id"].as_i64().unwrap())
}

#[tokio::test]
async fn a_role_full_to_its_max_count_refuses_another_active_member() {
    // GroupMember.Logic.cs ValidateGroupMembership, "Verify max group role membership".
    let c = small();
    let rock = Rock::start(&c).await;
    let group = rock.sandbox.group_id(2).unwrap();
    let (_, leader) = role_of(&rock, group, "Leader").await;
    let patch = json!({"MaxCount": 1});
    let role_path = format!("/api/GroupTypeRoles/{leader}");
    assert_eq!(
        rock.call(Method::PATCH, &role_path, Some(patch)).await.0,
        204
    );
    let add = |person: i64, status: i64| json!({"GroupId": group, "PersonId": person, "GroupRoleId": leader, "GroupMemberStatus": status});
    let (john, ann) = (
        rock.sandbox.person_id(0).unwrap(),
        rock.sandbox.person_id(3).unwrap(),
    );
    let (status, first) = rock
        .call(Method::POST, "/api/GroupMembers", Some(add(john, 1)))
        .await;
    assert_eq!(status, 201);
    let (status, body) = rock
        .call(Method::POST, "/api/GroupMembers", Some(add(ann, 1)))
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["Message"],
        "The number of leaders for this group is above its maximum allowed limit of 1 active members."
    );
    // Inactive members do not count, and may be added.
    let (status, second) = rock
        .call(Method::POST, "/api/GroupMembers", Some(add(ann, 0)))
        .await;
    assert_eq!(status, 201);
    let activate = json!({"GroupMemberStatus": 1});
    let (status, _) = rock
        .call(
            Method::PATCH,
            &format!("/api/GroupMembers/{second}"),
            Some(activate),
        )
        .await;
    assert_eq!(status, 400, "made active, the role would be over its max");
    let inactivate = json!({"GroupMemberStatus": 0});
    let path = format!("/api/GroupMembers/{first}");
    assert_eq!(
        rock.call(Method::PATCH, &path, Some(inactivate)).await.0,
        204
    );
    let activate = json!({"GroupMemberStatus": 1});
    let path = format!("/api/GroupMembers/{second}");
    assert_eq!(rock.call(Method::PATCH, &path, Some(activate)).await.0, 204);
}

#[tokio::test]
async fn a_requirement_that_must_be_met_to_add_refuses_who_does_not_meet_it() {
    // GroupMember.Logic.cs ValidateGroupMembership: MustMeetRequirementToAddMember.
    let rock = Rock::start(&small()).await;
    let group = rock.sandbox.group_id(2).unwrap();
    let (group_type, member_role) = role_of(&rock, group, "Member").await;
    let (_, leader) = role_of(&rock, group, "Leader").await;
    let kind = json!({"Name": "Background Check", "RequirementCheckType": 1});
    let (status, check) = rock
        .call(Method::POST, "/api/GroupRequirementTypes", Some(kind))
        .await;
    assert_eq!(status, 201);
    let manual = json!({"Name": "Signed Covenant", "RequirementCheckType": 2});
    let (_, covenant) = rock
        .call(Method::POST, "/api/GroupRequirementTypes", Some(manual))
        .await;
    for (kind, role) in [(&check, Value::Null), (&covenant, Value::Null)] {
        let requirement = json!({"GroupTypeId": group_type, "GroupRequirementTypeId": kind,
            "GroupRoleId": role, "MustMeetRequirementToAddMember": true});
        let (status, _) = rock
            .call(Method::POST, "/api/GroupRequirements", Some(requirement))
            .await;
        assert_eq!(status, 201);
    }
    let ann = rock.sandbox.person_id(3).unwrap();
    let add = |role: i64| json!({"GroupId": group, "PersonId": ann, "GroupRoleId": role});
    let (status, body) = rock
        .call(Method::POST, "/api/GroupMembers", Some(add(member_role)))
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["Message"],
        "This person must meet the following requirements before they are added or made an active member in this group: Background Check",
        "manual requirements are not checked"
    );
    rock.sandbox
        .meet_requirement(check.as_i64().unwrap(), ann, true);
    let (status, _) = rock
        .call(Method::POST, "/api/GroupMembers", Some(add(member_role)))
        .await;
    assert_eq!(status, 201);
    // A requirement for one role only does not apply to another (NotApplicable).
    let training = json!({"Name": "Leader Training", "RequirementCheckType": 0});
    let (_, training) = rock
        .call(Method::POST, "/api/GroupRequirementTypes", Some(training))
        .await;
    let only_leaders = json!({"GroupId": group, "GroupRequirementTypeId": training,
        "GroupRoleId": leader, "MustMeetRequirementToAddMember": true});
    let (status, _) = rock
        .call(Method::POST, "/api/GroupRequirements", Some(only_leaders))
        .await;
    assert_eq!(status, 201);
    let mary = rock.sandbox.person_id(1).unwrap();
    rock.sandbox
        .meet_requirement(check.as_i64().unwrap(), mary, true);
    let join = |role: i64| json!({"GroupId": group, "PersonId": mary, "GroupRoleId": role});
    let (status, body) = rock
        .call(Method::POST, "/api/GroupMembers", Some(join(leader)))
        .await;
    assert_eq!(status, 400);
    assert!(
        body["Message"]
            .as_str()
            .unwrap()
            .ends_with(": Leader Training"),
        "{body}"
    );
    let (status, _) = rock
        .call(Method::POST, "/api/GroupMembers", Some(join(member_role)))
        .await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn a_second_phone_of_one_type_is_allowed() {
    // Rock/Model/CRM/PhoneNumber/PhoneNumber.cs: no unique index on person and type.
    let rock = Rock::start(&small()).await;
    let john = rock.sandbox.person_id(0).unwrap();
    let person = rock.get(&format!("/api/People/{john}")).await;
    let mobile = person["PhoneNumbers"][0]["NumberTypeValueId"].clone();
    let second = json!({"PersonId": john, "NumberTypeValueId": mobile, "Number": "2175550111"});
    let (status, _) = rock
        .call(Method::POST, "/api/PhoneNumbers", Some(second))
        .await;
    assert_eq!(status, 201);
    let person = rock.get(&format!("/api/People/{john}")).await;
    let of_type = person["PhoneNumbers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["NumberTypeValueId"] == mobile)
        .count();
    assert_eq!(of_type, 2);
}

/// The family of person `key`, and the ids of the Home and Previous location types.
async fn family_and_types(rock: &Rock, key: u32) -> (i64, i64, i64) {
    let person = rock.sandbox.person_id(key).unwrap();
    let family = rock.get(&format!("/api/People/{person}")).await["PrimaryFamilyId"]
        .as_i64()
        .unwrap();
    let mut ids = Vec::new();
    for guid in [guids::DV_LOCATION_HOME, guids::DV_LOCATION_PREVIOUS] {
        let found = rock
            .get(&format!("/api/DefinedValues?$filter=Guid eq guid'{guid}'"))
            .await;
        ids.push(found[0]["Id"].as_i64().unwrap());
    }
    (family, ids[0], ids[1])
}

async fn links(rock: &Rock, group: i64) -> Vec<Value> {
    rock.get(&format!(
        "/api/GroupLocations?$filter=GroupId eq {group}&$expand=Location&$orderby=Id"
    ))
    .await
    .as_array()
    .unwrap()
    .clone()
}

#[tokio::test]
async fn save_address_follows_rocks_blank_and_country_rules() {
    // GroupService.AddNewGroupAddress and LocationService.Get / ValidateAddressRequirements.
    let rock = Rock::start(&small()).await;
    let (family, home, _) = family_and_types(&rock, 0).await;
    let before = links(&rock, family).await;
    let save = |query: &str| format!("/api/Groups/SaveAddress/{family}/{home}?{query}");
    // The state alone is "no address": 204, nothing saved.
    assert_eq!(rock.call(Method::PUT, &save("state=IL"), None).await.0, 204);
    assert_eq!(links(&rock, family).await, before);
    // The country alone is an address, missing what the US requires: 500.
    let (status, body) = rock.call(Method::PUT, &save("country=US"), None).await;
    assert_eq!(status, 500);
    assert_eq!(
        body["ExceptionMessage"],
        "Incomplete Address. The following fields are required: Address Line 1, City, State."
    );
    let (status, body) = rock
        .call(
            Method::PUT,
            &save("street1=1%20Elm%20St&state=IL&postalCode=62701&country=US"),
            None,
        )
        .await;
    assert_eq!(status, 500);
    assert_eq!(
        body["ExceptionMessage"],
        "Incomplete Address. The following fields are required: City."
    );
    // No country at all is not defaulted: Country is required.
    let (status, body) = rock
        .call(
            Method::PUT,
            &save("street1=1%20Elm%20St&city=Springfield&state=IL"),
            None,
        )
        .await;
    assert_eq!(status, 500);
    assert_eq!(
        body["ExceptionMessage"],
        "Incomplete Address. The following fields are required: Country."
    );
    let (status, body) = rock
        .call(
            Method::PUT,
            &save("street1=1%20Elm%20St&city=Springfield&state=IL&country=Narnia"),
            None,
        )
        .await;
    assert_eq!(status, 500);
    assert_eq!(
        body["ExceptionMessage"],
        "Incomplete Address. Country value \"Narnia\" is invalid."
    );
    assert_eq!(
        links(&rock, family).await,
        before,
        "nothing saved by a refusal"
    );
    // Any defined value is a location type to the route; a missing one is 404.
    let (status, _) = rock
        .call(
            Method::PUT,
            &format!("/api/Groups/SaveAddress/{family}/999999?street1=x"),
            None,
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn save_address_is_silent_for_a_location_type_the_group_type_does_not_allow() {
    // AddNewGroupAddress looks the type up in GroupType.LocationTypeValues and does nothing
    // when it is not there; the location itself is still found or created first.
    let rock = Rock::start(&small()).await;
    let (_, home, _) = family_and_types(&rock, 0).await;
    let team = rock.sandbox.group_id(0).unwrap();
    let query = "street1=5%20Church%20Rd&city=Springfield&state=IL&postalCode=62701&country=US";
    let path = format!("/api/Groups/SaveAddress/{team}/{home}?{query}");
    assert_eq!(rock.call(Method::PUT, &path, None).await.0, 204);
    assert!(links(&rock, team).await.is_empty());
    let found = rock
        .get("/api/Locations?$filter=Street1 eq '5 Church Rd'")
        .await;
    assert_eq!(found.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn saving_a_previous_address_again_retypes_its_old_link() {
    // AddNewGroupAddress: the group's existing link to the location is re-typed, keeping its
    // (Previous: false) mailing and mapped flags, rather than a second link made.
    let rock = Rock::start(&small()).await;
    let (family, home, previous) = family_and_types(&rock, 0).await;
    let original = links(&rock, family).await;
    assert_eq!(original.len(), 1);
    let old = &original[0]["Location"];
    let new = "street1=9%20Elm%20Ave&city=Springfield&state=IL&postalCode=62702&country=US";
    let save = |query: String| format!("/api/Groups/SaveAddress/{family}/{home}?{query}");
    assert_eq!(rock.call(Method::PUT, &save(new.into()), None).await.0, 204);
    let back = format!(
        "street1={}&city={}&state={}&postalCode={}&country={}",
        old["Street1"].as_str().unwrap().replace(' ', "%20"),
        old["City"].as_str().unwrap(),
        old["State"].as_str().unwrap(),
        old["PostalCode"].as_str().unwrap(),
        old["Country"].as_str().unwrap()
    );
    assert_eq!(rock.call(Method::PUT, &save(back), None).await.0, 204);
    let after = links(&rock, family).await;
    assert_eq!(after.len(), 2, "no third link: {after:?}");
    assert_eq!(after[0]["Id"], original[0]["Id"]);
    assert_eq!(after[0]["GroupLocationTypeValueId"], home);
    assert_eq!(
        after[0]["IsMailingLocation"], false,
        "flags kept from Previous"
    );
    assert_eq!(after[1]["GroupLocationTypeValueId"], previous);
    // Re-casing an existing location updates it rather than making another.
    let shouting = "street1=9%20ELM%20AVE&city=SPRINGFIELD&state=IL&postalCode=62702&country=US";
    assert_eq!(
        rock.call(Method::PUT, &save(shouting.into()), None).await.0,
        204
    );
    let after = links(&rock, family).await;
    assert_eq!(after.len(), 2);
    assert_eq!(after[1]["Location"]["Street1"], "9 ELM AVE");
    assert_eq!(after[1]["GroupLocationTypeValueId"], home);
}

// Issue 13 (seed 000 "Update Tags"), R2 a: the PCO Tags choices are the attribute's `values`
// qualifier (`value^text` pairs, Rock/Field/Helper.cs `GetConfiguredValues`), written through
// the AttributeQualifiers controller; the value stays the raw option values, and
// `ValueFormatted` shows their texts in the options' order (SelectMultiFieldType.cs).
#[tokio::test]
async fn multi_select_choices_live_in_the_values_qualifier() {
    let rock = Rock::start(&small()).await;
    let john = rock.sandbox.person_id(0).unwrap();
    let read = format!("/api/People/{john}?loadAttributes=simple&attributeKeys=PCOTags");
    let attribute = rock.get(&read).await["Attributes"]["PCOTags"]["Id"]
        .as_i64()
        .unwrap();
    let filter =
        format!("/api/AttributeQualifiers?$filter=AttributeId eq {attribute} and Key eq 'values'");
    let qualifier = rock.get(&filter).await[0].clone();
    let id = qualifier["Id"].as_i64().unwrap();
    let options =
        "Main Campus:Skills:Vocals^Skills:Vocals, Main Campus:Teams:Worship^Teams:Worship *";
    let (status, _) = rock
        .call(
            Method::PATCH,
            &format!("/api/AttributeQualifiers/{id}"),
            Some(json!({"Value": options})),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(rock.get(&filter).await[0]["Value"], options);
    let person = rock.get(&read).await;
    assert_eq!(
        person["AttributeValues"]["PCOTags"]["Value"],
        "Main Campus:Teams:Worship,Main Campus:Skills:Vocals"
    );
    assert_eq!(
        person["AttributeValues"]["PCOTags"]["ValueFormatted"],
        "Skills:Vocals, Teams:Worship *"
    );
    // A value that is no option is kept as it was set (SetAttributeValue does not check it)
    // and shows nothing.
    let set = format!(
        "/api/People/AttributeValue/{john}?attributeKey=PCOTags&attributeValue=Main%20Campus%3AGone%3AX"
    );
    assert_eq!(rock.call(Method::POST, &set, None).await.0, 202);
    let person = rock.get(&read).await;
    assert_eq!(
        person["AttributeValues"]["PCOTags"]["Value"],
        "Main Campus:Gone:X"
    );
    assert_eq!(person["AttributeValues"]["PCOTags"]["ValueFormatted"], "");
    // Without a `values` qualifier the raw value shows.
    assert_eq!(
        rock.call(
            Method::DELETE,
            &format!("/api/AttributeQualifiers/{id}"),
            None
        )
        .await
        .0,
        204
    );
    let person = rock.get(&read).await;
    assert_eq!(
        person["AttributeValues"]["PCOTags"]["ValueFormatted"],
        "Main Campus:Gone:X"
    );
    // And one is created with a POST.
    let (status, _) = rock
        .call(
            Method::POST,
            "/api/AttributeQualifiers",
            Some(json!({"AttributeId": attribute, "Key": "values", "Value": "Main Campus:Gone:X^Gone"})),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(
        rock.get(&read).await["AttributeValues"]["PCOTags"]["ValueFormatted"],
        "Gone"
    );
}
