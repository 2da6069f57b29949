//! What a fresh Rock install holds (system defined values, field types, group types …) and
//! loading a [`Congregation`] into it.

use std::collections::BTreeMap;

use congregation::{Congregation, Gender, Level, Member, Protection};
use serde_json::{Value, json};

use crate::guids as g;
use crate::people;
use crate::rewrites;
use crate::schema::Entity;
use crate::store::{Known, Row, Store, int, set};

/// Attribute keys the sandbox seeds (and the sync's `rock init` would create).
pub const PCO_TAGS_KEY: &str = "PCOTags";
pub const PCO_ACCOUNT_KEY: &str = "PCOAccount";
pub const PCO_LEVEL_KEY: &str = "PCOPermissionLevel";
pub const PCO_TAG_KEY: &str = "PCOTag";

/// Where the seeded congregation landed: Rock ids by congregation index.
#[derive(Clone, Debug, Default)]
pub struct SeedIds {
    /// Person id by `Member::key` (Rock people only).
    pub people: BTreeMap<u32, i64>,
    /// Group id by index into `Congregation::groups`.
    pub groups: Vec<i64>,
    /// Family group id by `Member::key`.
    pub families: BTreeMap<u32, i64>,
}

fn row(entity: Entity, fields: Value) -> Row {
    let mut row = Store::blank(entity);
    if let Value::Object(fields) = fields {
        row.extend(fields);
    }
    row
}

fn add(store: &mut Store, entity: Entity, fields: Value) -> i64 {
    store.insert_unchecked(entity, row(entity, fields))
}

/// The rows every Rock install has, with their well-known GUIDs.
pub fn system(store: &mut Store) {
    for (guid, name, class) in [
        (g::FIELDTYPE_TEXT, "Text", "TextFieldType"),
        (
            g::FIELDTYPE_MULTI_SELECT,
            "Multi-Select",
            "SelectMultiFieldType",
        ),
        (
            g::FIELDTYPE_SINGLE_SELECT,
            "Single-Select",
            "SelectSingleFieldType",
        ),
        (
            g::FIELDTYPE_DEFINED_VALUE,
            "Defined Value",
            "DefinedValueFieldType",
        ),
        (g::FIELDTYPE_DATE, "Date", "DateFieldType"),
        (g::FIELDTYPE_BOOLEAN, "Boolean", "BooleanFieldType"),
    ] {
        let class = format!("Rock.Field.Types.{class}");
        add(
            store,
            Entity::FieldType,
            json!({"Guid": guid, "Name": name, "Class": class, "Assembly": "Rock", "IsSystem": true}),
        );
    }
    for (guid, name, friendly) in [
        (g::ENTITYTYPE_PERSON, "Rock.Model.Person", "Person"),
        (g::ENTITYTYPE_GROUP, "Rock.Model.Group", "Group"),
        (
            g::ENTITYTYPE_GROUP_MEMBER,
            "Rock.Model.GroupMember",
            "Group Member",
        ),
        (
            g::ENTITYTYPE_PERSON_ALIAS,
            "Rock.Model.PersonAlias",
            "Person Alias",
        ),
    ] {
        add(
            store,
            Entity::EntityType,
            json!({"Guid": guid, "Name": name, "FriendlyName": friendly, "AssemblyName": "Rock"}),
        );
    }
    defined_type(
        store,
        g::DT_PERSON_PHONE_TYPE,
        "Phone Type",
        &[
            (g::DV_PHONE_MOBILE, "Mobile"),
            (g::DV_PHONE_HOME, "Home"),
            (g::DV_PHONE_WORK, "Work"),
        ],
    );
    defined_type(
        store,
        g::DT_GROUP_LOCATION_TYPE,
        "Location Type",
        &[
            (g::DV_LOCATION_HOME, "Home"),
            (g::DV_LOCATION_WORK, "Work"),
            (g::DV_LOCATION_PREVIOUS, "Previous"),
        ],
    );
    defined_type(
        store,
        g::DT_RECORD_STATUS,
        "Record Status",
        &[
            (g::DV_RECORD_ACTIVE, "Active"),
            (g::DV_RECORD_INACTIVE, "Inactive"),
            (g::DV_RECORD_PENDING, "Pending"),
        ],
    );
    defined_type(
        store,
        g::DT_CONNECTION_STATUS,
        "Connection Status",
        &[
            (g::DV_CONNECTION_MEMBER, "Member"),
            (g::DV_CONNECTION_ATTENDEE, "Attendee"),
            (g::DV_CONNECTION_VISITOR, "Visitor"),
            (g::DV_CONNECTION_PARTICIPANT, "Participant"),
            (g::DV_CONNECTION_PROSPECT, "Prospect"),
        ],
    );
    defined_type(
        store,
        g::DT_RECORD_TYPE,
        "Record Type",
        &[
            (g::DV_RECORD_TYPE_PERSON, "Person"),
            (g::DV_RECORD_TYPE_BUSINESS, "Business"),
            (g::DV_RECORD_TYPE_NAMELESS, "Nameless"),
            (g::DV_RECORD_TYPE_RESTUSER, "Rest User"),
        ],
    );
    defined_type(
        store,
        g::DT_MARITAL_STATUS,
        "Marital Status",
        &[
            (g::DV_MARITAL_MARRIED, "Married"),
            (g::DV_MARITAL_SINGLE, "Single"),
        ],
    );
    let countries: Vec<(String, &str)> = COUNTRIES
        .split_whitespace()
        .map(|code| (store.new_guid(), code))
        .collect();
    let countries: Vec<(&str, &str)> = countries.iter().map(|(g, c)| (g.as_str(), *c)).collect();
    defined_type(store, g::DT_LOCATION_COUNTRIES, "Countries", &countries);
    add(
        store,
        Entity::BinaryFileType,
        json!({"Guid": g::BINARYFILETYPE_PERSON_IMAGE, "Name": "Person Image", "IsSystem": true}),
    );
    group_types(store);
    let text = store.id_of_guid(Entity::FieldType, g::FIELDTYPE_TEXT);
    crate::phones::seed(store, text);
    store.known = resolve_known(store);
    // The Family group type allows Home, Work and Previous locations (GroupTypeLocationType).
    let known = store.known.clone();
    store.location_types.insert(
        known.family_type,
        vec![
            known.location_home,
            known.location_work,
            known.location_previous,
        ],
    );
}

/// The Countries defined type's values: ISO 3166-1 alpha-2 codes, as Rock ships them.
const COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ \
    CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR \
    GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP \
    KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT \
    MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW \
    SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG \
    UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

fn defined_type(store: &mut Store, guid: &str, name: &str, values: &[(&str, &str)]) {
    let type_id = add(
        store,
        Entity::DefinedType,
        json!({"Guid": guid, "Name": name, "IsSystem": true}),
    );
    for (order, (guid, value)) in values.iter().enumerate() {
        add(
            store,
            Entity::DefinedValue,
            json!({"Guid": guid, "DefinedTypeId": type_id, "Value": value, "Order": order, "IsSystem": true}),
        );
    }
}

fn group_types(store: &mut Store) {
    let family = add(
        store,
        Entity::GroupType,
        json!({"Guid": g::GROUPTYPE_FAMILY, "Name": "Family",
        "GroupTerm": "Family", "GroupMemberTerm": "Member", "IsSystem": true, "ShowInGroupList": false}),
    );
    let adult = add(
        store,
        Entity::GroupTypeRole,
        json!({"Guid": g::GROUPROLE_FAMILY_ADULT, "GroupTypeId": family, "Name": "Adult", "IsSystem": true, "Order": 0}),
    );
    add(
        store,
        Entity::GroupTypeRole,
        json!({"Guid": g::GROUPROLE_FAMILY_CHILD, "GroupTypeId": family, "Name": "Child", "IsSystem": true, "Order": 1}),
    );
    if let Some(r) = store.raw_mut(Entity::GroupType, family) {
        set(r, "DefaultGroupRoleId", adult);
    }
    group_type(store, "Security Role", Some(g::GROUPTYPE_SECURITY_ROLE));
    group_type(store, "Serving Team", Some(g::GROUPTYPE_SERVING_TEAM));
    group_type(store, "Small Group", Some(g::GROUPTYPE_SMALL_GROUP));
}

/// A group type with a Member role (default) and a Leader role. Types other than the family
/// keep group history, so deleting one of their members archives it (research §6).
fn group_type(store: &mut Store, name: &str, guid: Option<&str>) -> i64 {
    let guid = guid.map_or_else(|| store.new_guid(), str::to_string);
    let id = add(
        store,
        Entity::GroupType,
        json!({"Guid": guid, "Name": name, "GroupTerm": "Group",
        "GroupMemberTerm": "Member", "EnableGroupHistory": true, "AllowMultipleLocations": true}),
    );
    let member = add(
        store,
        Entity::GroupTypeRole,
        json!({"GroupTypeId": id, "Name": "Member", "Order": 1}),
    );
    add(
        store,
        Entity::GroupTypeRole,
        json!({"GroupTypeId": id, "Name": "Leader", "Order": 0, "IsLeader": true}),
    );
    if let Some(r) = store.raw_mut(Entity::GroupType, id) {
        set(r, "DefaultGroupRoleId", member);
    }
    id
}

fn resolve_known(store: &Store) -> Known {
    let dv = |guid| store.id_of_guid(Entity::DefinedValue, guid);
    Known {
        phone_mobile: dv(g::DV_PHONE_MOBILE),
        phone_home: dv(g::DV_PHONE_HOME),
        phone_work: dv(g::DV_PHONE_WORK),
        location_home: dv(g::DV_LOCATION_HOME),
        location_work: dv(g::DV_LOCATION_WORK),
        location_previous: dv(g::DV_LOCATION_PREVIOUS),
        record_active: dv(g::DV_RECORD_ACTIVE),
        record_type_person: dv(g::DV_RECORD_TYPE_PERSON),
        record_type_rest_user: dv(g::DV_RECORD_TYPE_RESTUSER),
        record_type_business: dv(g::DV_RECORD_TYPE_BUSINESS),
        record_type_nameless: dv(g::DV_RECORD_TYPE_NAMELESS),
        connection_visitor: dv(g::DV_CONNECTION_VISITOR),
        marital_married: dv(g::DV_MARITAL_MARRIED),
        marital_single: dv(g::DV_MARITAL_SINGLE),
        family_type: store.id_of_guid(Entity::GroupType, g::GROUPTYPE_FAMILY),
        family_adult: store.id_of_guid(Entity::GroupTypeRole, g::GROUPROLE_FAMILY_ADULT),
        family_child: store.id_of_guid(Entity::GroupTypeRole, g::GROUPROLE_FAMILY_CHILD),
        person_entity_type: store.id_of_guid(Entity::EntityType, g::ENTITYTYPE_PERSON),
        group_entity_type: store.id_of_guid(Entity::EntityType, g::ENTITYTYPE_GROUP),
        person_image_type: store.id_of_guid(Entity::BinaryFileType, g::BINARYFILETYPE_PERSON_IMAGE),
    }
}

/// The REST key's own person (record type "Rest User"), whose alias stamps every API write.
/// The "Person Search Keys" defined type (previous emails are kept as its "Email" value),
/// seeded after the rest of the system data so no other id moves.
pub fn search_keys(store: &mut Store) {
    defined_type(
        store,
        g::DT_PERSON_SEARCH_KEYS,
        "Person Search Keys",
        &[(g::DV_PERSON_SEARCH_KEYS_EMAIL, "Email")],
    );
}

pub fn rest_user(store: &mut Store) {
    let known = store.known.clone();
    let id = add(
        store,
        Entity::Person,
        json!({"LastName": "PCO Sync REST Key", "FirstName": "", "NickName": "",
        "RecordTypeValueId": known.record_type_rest_user, "RecordStatusValueId": known.record_active}),
    );
    let alias = people::create_primary_alias(store, id);
    store.rest_alias_id = Some(alias);
}

/// The person of the staff key: a REST key is a person of record type "RestUser" in Rock
/// (Rock/Model/CRM/Person: `PERSON_RECORD_TYPE_RESTUSER`), listed among the people like the
/// sync's own key.
pub fn staff_user(store: &mut Store) {
    let known = store.known.clone();
    let id = add(
        store,
        Entity::Person,
        json!({"LastName": "Staff Editor Key", "FirstName": "", "NickName": "",
        "RecordTypeValueId": known.record_type_rest_user, "RecordStatusValueId": known.record_active}),
    );
    let alias = people::create_primary_alias(store, id);
    store.staff_alias_id = Some(alias);
}

/// The "Anonymous Visitor" person Rock ships for visitor tracking
/// (`Rock.SystemGuid.Person.ANONYMOUS_VISITOR`), whom `GET api/People` never lists.
pub fn anonymous_visitor(store: &mut Store) {
    let known = store.known.clone();
    let id = add(
        store,
        Entity::Person,
        json!({"Guid": g::PERSON_ANONYMOUS_VISITOR, "IsSystem": true, "FirstName": "Anonymous",
        "NickName": "Anonymous", "LastName": "Visitor", "RecordTypeValueId": known.record_type_person,
        "RecordStatusValueId": known.record_active, "ConnectionStatusValueId": known.connection_visitor}),
    );
    people::create_primary_alias(store, id);
}

/// A nameless person, as Rock makes one for an SMS from an unknown number (record type
/// Nameless, the number as their only phone).
pub fn nameless_person(store: &mut Store, number: &str) -> i64 {
    let known = store.known.clone();
    let id = add(
        store,
        Entity::Person,
        json!({"RecordTypeValueId": known.record_type_nameless, "RecordStatusValueId": known.record_active}),
    );
    people::create_primary_alias(store, id);
    let mut phone = Store::blank(Entity::PhoneNumber);
    set(&mut phone, "PersonId", id);
    set(&mut phone, "NumberTypeValueId", known.phone_mobile);
    set(&mut phone, "Number", number);
    rewrites::before_save(store, Entity::PhoneNumber, &mut phone, None);
    store.insert_unchecked(Entity::PhoneNumber, phone);
    id
}

// ---- The congregation -----------------------------------------------------------------------

struct Attrs {
    tags: i64,
    account: BTreeMap<i64, i64>,
    level: BTreeMap<i64, i64>,
    tag: BTreeMap<i64, i64>,
}

/// Loads everyone Rock holds (presence RockOnly or Both), their families, phones, addresses,
/// groups, tags and a few photos.
pub fn congregation(store: &mut Store, c: &Congregation) -> SeedIds {
    let mut ids = SeedIds::default();
    let type_ids = congregation_group_types(store, c);
    let attrs = attributes(store, c, &type_ids);
    for group in &c.groups {
        let type_id = type_ids.get(&group.group_type).copied().unwrap_or(0);
        let id = add(
            store,
            Entity::Group,
            json!({"Name": group.name, "GroupTypeId": type_id,
            "IsSecurityRole": group.group_type == "Security Role"}),
        );
        group_attribute_values(store, &attrs, type_id, id, group);
        ids.groups.push(id);
    }
    let mut household: Option<(HouseholdKey, i64)> = None;
    for member in c.rock_people() {
        let key = HouseholdKey::of(member);
        let family = match &household {
            Some((k, family)) if *k == key => *family,
            _ => {
                let family = new_family(store, member);
                household = Some((key, family));
                family
            }
        };
        let person = person(store, member, family);
        ids.people.insert(member.key, person);
        ids.families.insert(member.key, family);
        memberships(store, member, person, &ids.groups, c);
        if !member.pco_tags.is_empty() {
            add(
                store,
                Entity::AttributeValue,
                json!({"AttributeId": attrs.tags, "EntityId": person, "Value": member.pco_tags.join(",")}),
            );
        }
    }
    ids
}

#[derive(PartialEq)]
struct HouseholdKey(String, Option<congregation::Address>, Option<String>);

impl HouseholdKey {
    /// The generator makes a household's members consecutively with a shared last name,
    /// address and home phone.
    fn of(m: &Member) -> HouseholdKey {
        HouseholdKey(m.last_name.clone(), m.address.clone(), m.home_phone.clone())
    }
}

fn congregation_group_types(store: &mut Store, c: &Congregation) -> BTreeMap<String, i64> {
    let mut types: BTreeMap<String, i64> = store
        .rows(Entity::GroupType)
        .filter_map(|r| Some((r.get("Name")?.as_str()?.to_string(), int(r, "Id")?)))
        .collect();
    for group in &c.groups {
        if !types.contains_key(&group.group_type) {
            let id = group_type(store, &group.group_type, None);
            types.insert(group.group_type.clone(), id);
        }
    }
    types
}

fn attributes(store: &mut Store, c: &Congregation, type_ids: &BTreeMap<String, i64>) -> Attrs {
    let known = store.known.clone();
    let field = |store: &Store, guid| store.id_of_guid(Entity::FieldType, guid);
    let multi = field(store, g::FIELDTYPE_MULTI_SELECT);
    let single = field(store, g::FIELDTYPE_SINGLE_SELECT);
    let text = field(store, g::FIELDTYPE_TEXT);
    let tags = add(
        store,
        Entity::Attribute,
        json!({"Key": PCO_TAGS_KEY, "Name": "PCO Tags", "FieldTypeId": multi,
        "EntityTypeId": known.person_entity_type, "EntityTypeQualifierColumn": "", "EntityTypeQualifierValue": "",
        "IsMultiValue": true}),
    );
    let options: Vec<String> = c
        .accounts
        .iter()
        .flat_map(|a| {
            c.tags
                .iter()
                .map(move |t| format!("{a}:{}:{}", t.group, t.name))
        })
        .collect();
    add(
        store,
        Entity::AttributeQualifier,
        json!({"AttributeId": tags, "Key": "values", "Value": options.join(",")}),
    );
    add(
        store,
        Entity::AttributeQualifier,
        json!({"AttributeId": tags, "Key": "enhancedselection", "Value": "True"}),
    );
    let mut attrs = Attrs {
        tags,
        account: BTreeMap::new(),
        level: BTreeMap::new(),
        tag: BTreeMap::new(),
    };
    let configured: std::collections::BTreeSet<&String> = c
        .groups
        .iter()
        .filter(|g| g.pco_account.is_some() || g.tag.is_some())
        .map(|g| &g.group_type)
        .collect();
    let levels: Vec<&str> = Level::ALL.iter().map(|l| l.pco_name()).collect();
    for type_name in configured {
        let Some(type_id) = type_ids.get(type_name).copied() else {
            continue;
        };
        let scoped = |key: &str, name: &str, field: i64| {
            json!({"Key": key, "Name": name, "FieldTypeId": field, "EntityTypeId": known.group_entity_type,
                "EntityTypeQualifierColumn": "GroupTypeId", "EntityTypeQualifierValue": type_id.to_string()})
        };
        let account = add(
            store,
            Entity::Attribute,
            scoped(PCO_ACCOUNT_KEY, "PCO Account", text),
        );
        let level = add(
            store,
            Entity::Attribute,
            scoped(PCO_LEVEL_KEY, "PCO Permission Level", single),
        );
        add(
            store,
            Entity::AttributeQualifier,
            json!({"AttributeId": level, "Key": "values", "Value": levels.join(",")}),
        );
        let tag = add(
            store,
            Entity::Attribute,
            scoped(PCO_TAG_KEY, "PCO Tag", text),
        );
        attrs.account.insert(type_id, account);
        attrs.level.insert(type_id, level);
        attrs.tag.insert(type_id, tag);
    }
    attrs
}

fn group_attribute_values(
    store: &mut Store,
    attrs: &Attrs,
    type_id: i64,
    group: i64,
    g: &congregation::Group,
) {
    let values = [
        (attrs.account.get(&type_id), g.pco_account.clone()),
        (
            attrs.level.get(&type_id),
            g.level.map(|l| l.pco_name().to_string()),
        ),
        (attrs.tag.get(&type_id), g.tag.clone()),
    ];
    for (attribute, value) in values {
        if let (Some(attribute), Some(value)) = (attribute, value) {
            add(
                store,
                Entity::AttributeValue,
                json!({"AttributeId": attribute, "EntityId": group, "Value": value}),
            );
        }
    }
}

fn new_family(store: &mut Store, first: &Member) -> i64 {
    let family_type = store.known.family_type;
    let family = add(
        store,
        Entity::Group,
        json!({"Name": format!("{} Family", first.last_name), "GroupTypeId": family_type}),
    );
    if let Some(address) = &first.address {
        let location = add(
            store,
            Entity::Location,
            json!({"Street1": address.street1, "Street2": address.street2,
            "City": address.city, "State": address.state, "PostalCode": address.postal_code, "Country": address.country}),
        );
        let home = store.known.location_home;
        add(
            store,
            Entity::GroupLocation,
            json!({"GroupId": family, "LocationId": location,
            "GroupLocationTypeValueId": home, "IsMailingLocation": true, "IsMappedLocation": true}),
        );
    }
    family
}

fn person(store: &mut Store, m: &Member, family: i64) -> i64 {
    let known = store.known.clone();
    let dv = |guid| store.id_of_guid(Entity::DefinedValue, guid);
    let connection = if !m.groups.is_empty() {
        dv(g::DV_CONNECTION_MEMBER)
    } else if m.key.is_multiple_of(3) {
        dv(g::DV_CONNECTION_VISITOR)
    } else {
        dv(g::DV_CONNECTION_ATTENDEE)
    };
    let adult = is_adult(store, m);
    let marital = if m.married {
        Some(known.marital_married)
    } else {
        adult.then_some(known.marital_single)
    };
    let anniversary = m.anniversary.and_then(|d| {
        Some(format!(
            "{:04}-{:02}-{:02}T00:00:00",
            d.year?, d.month, d.day
        ))
    });
    let mut fields = json!({
        "FirstName": m.first_name, "NickName": m.nick_name, "MiddleName": m.middle_name, "LastName": m.last_name,
        "Gender": gender(m.gender), "Email": m.email, "MaritalStatusValueId": marital, "AnniversaryDate": anniversary,
        "BirthDay": m.birthdate.map(|d| d.day), "BirthMonth": m.birthdate.map(|d| d.month),
        "BirthYear": m.birthdate.and_then(|d| d.year), "AccountProtectionProfile": protection(m.protection),
        "ConnectionStatusValueId": connection, "AgeClassification": if adult { 1 } else { 2 },
    });
    if m.key % 7 == 3 {
        fields["PhotoId"] = Value::from(photo(store, m));
    }
    let mut row = row(Entity::Person, fields);
    rewrites::before_save(store, Entity::Person, &mut row, None);
    let id = store.insert_unchecked(Entity::Person, row);
    people::create_primary_alias(store, id);
    let role = if adult {
        known.family_adult
    } else {
        known.family_child
    };
    add(
        store,
        Entity::GroupMember,
        json!({"GroupId": family, "GroupTypeId": known.family_type, "PersonId": id,
        "GroupRoleId": role, "GroupOrder": 0, "DateTimeAdded": format_now(store)}),
    );
    if let Some(r) = store.raw_mut(Entity::Person, id) {
        set(r, "PrimaryFamilyId", family);
    }
    phones(store, m, id);
    id
}

fn is_adult(store: &Store, m: &Member) -> bool {
    let year = store.clock.today().year();
    match m.birthdate.and_then(|d| d.year) {
        Some(born) => year - born >= 18,
        None => true,
    }
}

fn format_now(store: &Store) -> String {
    crate::clock::format_datetime(store.clock.now())
}

fn gender(g: Gender) -> i64 {
    match g {
        Gender::Unknown => 0,
        Gender::Male => 1,
        Gender::Female => 2,
    }
}

fn protection(p: Protection) -> i64 {
    match p {
        Protection::Low => 0,
        Protection::Medium => 1,
        Protection::High => 2,
        Protection::Extreme => 3,
    }
}

fn phones(store: &mut Store, m: &Member, person: i64) {
    let known = store.known.clone();
    let numbers = [
        (known.phone_home, &m.home_phone, false),
        (known.phone_mobile, &m.mobile_phone, true),
        (known.phone_work, &m.work_phone, false),
    ];
    for (kind, number, messaging) in numbers {
        let Some(number) = number else { continue };
        let mut phone = row(
            Entity::PhoneNumber,
            json!({"PersonId": person, "Number": number,
            "NumberTypeValueId": kind, "IsMessagingEnabled": messaging}),
        );
        rewrites::before_save(store, Entity::PhoneNumber, &mut phone, None);
        store.insert_unchecked(Entity::PhoneNumber, phone);
    }
}

/// A person's memberships: active ones from the congregation, plus (for some people) an
/// inactive and an archived membership in configured groups, which a sync must ignore.
fn memberships(store: &mut Store, m: &Member, person: i64, groups: &[i64], c: &Congregation) {
    for index in &m.groups {
        if let Some(group) = groups.get(*index) {
            member(store, *group, person, 1, false);
        }
    }
    let configured: Vec<usize> = (0..c.groups.len())
        .filter(|i| c.groups[*i].pco_account.is_some() && !m.groups.contains(i))
        .collect();
    if configured.is_empty() {
        return;
    }
    let pick = |salt: u32| {
        groups[configured[(m.key.wrapping_mul(31).wrapping_add(salt) as usize) % configured.len()]]
    };
    if m.key % 13 == 5 {
        member(store, pick(1), person, 0, false);
    }
    if m.key % 17 == 8 {
        member(store, pick(2), person, 1, true);
    }
}

fn member(store: &mut Store, group: i64, person: i64, status: i64, archived: bool) {
    let Some(type_id) = store
        .get(Entity::Group, group)
        .and_then(|g| int(g, "GroupTypeId"))
    else {
        return;
    };
    let role = store
        .get(Entity::GroupType, type_id)
        .and_then(|t| int(t, "DefaultGroupRoleId"))
        .unwrap_or(0);
    let now = format_now(store);
    add(
        store,
        Entity::GroupMember,
        json!({"GroupId": group, "GroupTypeId": type_id, "PersonId": person,
        "GroupRoleId": role, "GroupMemberStatus": status, "DateTimeAdded": now,
        "InactiveDateTime": if status == 0 { Some(&now) } else { None },
        "IsArchived": archived, "ArchivedDateTime": if archived { Some(&now) } else { None }}),
    );
}

/// A tiny valid PNG (1x1 pixel); every seeded photo is a distinct file with the same pixels.
pub const PHOTO_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0,
    0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

fn photo(store: &mut Store, m: &Member) -> i64 {
    let image_type = store.known.person_image_type;
    let id = add(
        store,
        Entity::BinaryFile,
        json!({"BinaryFileTypeId": image_type, "FileName": format!("person-{}.png", m.key),
        "MimeType": "image/png", "FileSize": PHOTO_PNG.len(), "Width": 1, "Height": 1}),
    );
    store.blobs.insert(id, PHOTO_PNG.to_vec());
    id
}
