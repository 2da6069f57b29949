//! Rock's well-known GUIDs (`Rock/SystemGuid/*.cs`, research §5): stable across installs, so
//! clients resolve install-specific ids from them. The sandbox stores GUIDs lowercase, as
//! Rock's JSON serializer writes them.

pub const DT_PERSON_PHONE_TYPE: &str = "8345dd45-73c6-4f5e-bebd-b77fc83f18fd";
pub const DV_PHONE_MOBILE: &str = "407e7e45-7b2e-4fcd-9605-ecb1339f2453";
pub const DV_PHONE_HOME: &str = "aa8732fb-2cea-4c76-8d6d-6aaa2c6a4303";
pub const DV_PHONE_WORK: &str = "2cc66d5a-f61c-4b74-9af9-590a9847c13c";

pub const DT_GROUP_LOCATION_TYPE: &str = "2e68d37c-fb7b-4aa5-9e09-3785d52156cb";
pub const DV_LOCATION_HOME: &str = "8c52e53c-2a66-435a-ae6e-5ee307d9a0dc";
pub const DV_LOCATION_WORK: &str = "e071472a-f805-4fc4-917a-d5e3c095c35c";
pub const DV_LOCATION_PREVIOUS: &str = "853d98f1-6e08-4321-861b-520b4106cfe0";

pub const DT_RECORD_STATUS: &str = "8522badd-2871-45a5-81dd-c76da07e2e7e";
pub const DV_RECORD_ACTIVE: &str = "618f906c-c33d-4fa3-8aef-e58cb7b63f1e";
pub const DV_RECORD_INACTIVE: &str = "1dad99d5-41a9-4865-8366-f269902b80a4";
pub const DV_RECORD_PENDING: &str = "283999ec-7346-42e3-b807-bce9b2babb49";

pub const DT_CONNECTION_STATUS: &str = "2e6540ea-63f0-40fe-be50-f2a84735e600";
pub const DV_CONNECTION_MEMBER: &str = "41540783-d9ef-4c70-8f1d-c9e83d91ed5f";
pub const DV_CONNECTION_ATTENDEE: &str = "39f491c5-d6ac-4a9b-8ac0-c431cb17d588";
pub const DV_CONNECTION_VISITOR: &str = "b91ba046-bc1e-400c-b85d-638c1f4e0ce2";
pub const DV_CONNECTION_PARTICIPANT: &str = "8ebc0ceb-474d-4c1b-a6ba-734c3a9ab061";
pub const DV_CONNECTION_PROSPECT: &str = "368dd475-242c-49c4-a42c-7278be690cc2";

/// The PERSON_RECORD_TYPE defined type's GUID is not in the research notes; the sandbox uses
/// its own stable value for the type (its values below are the well-known ones).
pub const DT_RECORD_TYPE: &str = "26be73a6-a9c5-4e94-ae00-3afdcf8c9275";
pub const DV_RECORD_TYPE_PERSON: &str = "36cf10d6-c695-413d-8e7c-4546efef385e";
pub const DV_RECORD_TYPE_BUSINESS: &str = "bf64add3-e70a-44ce-9c4b-e76bbed37550";
pub const DV_RECORD_TYPE_NAMELESS: &str = "721300ed-1267-4da0-b4f2-6c6b5b17b1c5";
pub const DV_RECORD_TYPE_RESTUSER: &str = "e2261a84-831d-4234-9be0-4d628bbe751e";

pub const DT_MARITAL_STATUS: &str = "b4b92c3f-a935-40e1-a00b-ba484ead613b";
pub const DV_MARITAL_MARRIED: &str = "5fe5a540-7d9f-433e-b47e-4229d1472248";
pub const DV_MARITAL_SINGLE: &str = "f19fc180-fe8f-4b72-a59c-8013e3b0eb0d";

pub const GROUPTYPE_FAMILY: &str = "790e3215-3b10-442b-af69-616c0dcb998e";
pub const GROUPTYPE_SECURITY_ROLE: &str = "aece949f-704c-483e-a4fb-93d5e4720c4c";
pub const GROUPTYPE_SERVING_TEAM: &str = "2c42b2d4-1c5f-4ad5-a9ad-08631b872ac4";
/// Small Group is not in the research notes: this is the value Rock ships as GROUPTYPE_SMALL_GROUP
/// to the best of our knowledge; clients should look group types up by name or id, not this.
pub const GROUPTYPE_SMALL_GROUP: &str = "50fcfb30-f51a-49df-86f4-2b176ea1820b";

pub const GROUPROLE_FAMILY_ADULT: &str = "2639f9a5-2aae-4e48-a8c3-4ffe86681e42";
pub const GROUPROLE_FAMILY_CHILD: &str = "c8b1814f-6aa7-4055-b2d7-48fe20429cb9";

pub const ENTITYTYPE_PERSON: &str = "72657ed8-d16e-492e-ac12-144c5e7567e7";
pub const ENTITYTYPE_GROUP: &str = "9bbfda11-0d22-40d5-902f-60adfbc88987";
pub const ENTITYTYPE_GROUP_MEMBER: &str = "49668b95-fedc-43dd-8085-d2b0d6343c48";
pub const ENTITYTYPE_PERSON_ALIAS: &str = "90f5e87b-f0d5-4617-8ae9-eb57e673f36f";

pub const FIELDTYPE_MULTI_SELECT: &str = "bd0d9b57-2a41-4490-89ff-f01dab7d4904";
pub const FIELDTYPE_SINGLE_SELECT: &str = "7525c4cb-ee6b-41d4-9b64-a08048d5a5c0";
pub const FIELDTYPE_DEFINED_VALUE: &str = "59d5a94c-94a0-4630-b80a-bb25697d74c7";
pub const FIELDTYPE_TEXT: &str = "9c204cd0-1233-41c5-818a-c5da439445aa";
pub const FIELDTYPE_DATE: &str = "6b6aa175-4758-453f-8d83-fcd8044b5f36";
pub const FIELDTYPE_BOOLEAN: &str = "1edafded-dfe6-4334-b019-6eecba89e05a";

pub const BINARYFILETYPE_PERSON_IMAGE: &str = "03bd8476-8a9f-4078-b628-5b538f967afc";

/// `Rock.SystemGuid.Person.ANONYMOUS_VISITOR`: the person core ships for visitor tracking.
pub const PERSON_ANONYMOUS_VISITOR: &str = "7ebc167b-512d-4683-9d80-98b6bb02e1b9";

/// `Rock.SystemGuid.DefinedType.LOCATION_COUNTRIES`: one value per country, its ISO code.
pub const DT_LOCATION_COUNTRIES: &str = "d7979ea1-44e9-46e2-bf37-ddaf7f741378";

/// Defined type "Person Search Keys" and its value "Email" (`Rock.SystemGuid.DefinedValue.
/// PERSON_SEARCH_KEYS_EMAIL`): a person's previous emails are PersonSearchKey rows of it.
/// (The defined type's GUID is the sandbox's own: clients find the value by its GUID.)
pub const DT_PERSON_SEARCH_KEYS: &str = "61bcf2a5-ed2c-4b5c-a55b-a0b5e8f1ee1a";
pub const DV_PERSON_SEARCH_KEYS_EMAIL: &str = "d6cfd200-b33b-4d01-b49f-24325e47d8b8";

/// "Phone Country Code" (`Rock.SystemGuid.DefinedType.COMMUNICATION_PHONE_COUNTRY_CODE`) and
/// its values' two attributes, from the migration that seeds the US formats.
pub const DT_PHONE_COUNTRY_CODE: &str = "45e9ef7c-91c7-45ab-92c1-1d6219293847";
pub const ATTRIBUTE_PHONE_MATCH_REGEX: &str = "756cb747-9143-4a7d-9787-feecf535c939";
pub const ATTRIBUTE_PHONE_FORMAT_REGEX: &str = "26e44877-8297-4dbc-9e5c-bcfe38291a4b";
pub const DV_PHONE_US_LOCAL: &str = "a02dfe36-1a47-47c5-8f08-7bca0c3fbb61";
pub const DV_PHONE_US_AREA_CODE: &str = "2131f4af-8e17-4fd9-9610-a3c02100ef6a";
pub const DV_PHONE_US_COUNTRY_CODE: &str = "b3f916ca-2833-4ecd-82ac-171473972c20";
pub const ENTITYTYPE_DEFINED_VALUE: &str = "b0e67d55-d2a4-4e84-a9ba-a4f2baa0fe5b";
