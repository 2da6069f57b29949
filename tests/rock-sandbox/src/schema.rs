//! The entities the sandbox serves and their columns, as Rock's models declare them.
//!
//! Rows are kept as JSON objects with PascalCase keys (exactly what goes over the wire), and
//! this schema says which keys a row has, their types, defaults, maximum lengths and whether a
//! client may write them. Everything generic (PUT replacing every mapped column, PATCH's
//! case-sensitive property check, OData property lookup) is driven from here.

use std::sync::OnceLock;

use serde_json::Value;

use crate::model::ModelEntity;

/// A column's storage type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Int,
    Str,
    Bool,
    DateTime,
    /// `[Column(TypeName="Date")]`: a `DateTime` whose time is always midnight.
    Date,
    Guid,
    Decimal,
    /// A C# enum column: an integer in JSON bodies and answers, but `Edm.String` to OData v3
    /// (`EdmLibHelpers.GetEdmPrimitiveTypeOrNull`: "Enums are treated as strings"), so a
    /// `$filter` compares it with a name or a numeric string, never an integer literal.
    /// Its members are [`enum_members`] of the column's name.
    Enum,
}

impl Kind {
    /// The EDM type name OData uses in its messages.
    pub fn edm(self) -> &'static str {
        match self {
            Kind::Int => "Edm.Int32",
            Kind::Str | Kind::Enum => "Edm.String",
            Kind::Bool => "Edm.Boolean",
            Kind::DateTime | Kind::Date => "Edm.DateTime",
            Kind::Guid => "Edm.Guid",
            Kind::Decimal => "Edm.Decimal",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
    pub nullable: bool,
    /// False for computed properties (private setters in Rock): ignored in POST/PUT bodies,
    /// "Cannot write X" in PATCH.
    pub writable: bool,
    pub max_len: Option<usize>,
    /// The C# default (including property initialisers such as `IsActive = true`): what a
    /// column omitted from a POST or PUT body becomes.
    pub default: Value,
}

/// A navigation property that `$expand` (and some routes) can load.
#[derive(Clone, Copy, Debug)]
pub enum Nav {
    /// A row of `target` whose `Id` is this row's `fk`.
    Reference { fk: &'static str, target: Entity },
    /// The rows of `target` whose `fk` is this row's `Id`.
    Collection { target: Entity, fk: &'static str },
}

macro_rules! entities {
    ($($variant:ident => $controller:literal, $first_id:literal;)*) => {
        /// Every Rock model the sandbox serves.
        #[allow(clippy::enum_variant_names, reason = "Rock's own model names (EntityType)")]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Entity { $($variant),* }

        impl Entity {
            pub const ALL: &'static [Entity] = &[$(Entity::$variant),*];

            /// The REST v1 controller name (pluralised table name).
            pub fn controller(self) -> &'static str {
                match self { $(Entity::$variant => $controller),* }
            }

            /// The C# type name, as Rock's messages show it.
            pub fn type_name(self) -> &'static str {
                match self { $(Entity::$variant => stringify!($variant)),* }
            }

            /// Ids of each table start at their own offset: Rock ids are install-specific, and
            /// a client that confuses one entity's id for another's should fail in tests.
            pub fn first_id(self) -> i64 {
                match self { $(Entity::$variant => $first_id),* }
            }
        }
    };
}

entities! {
    Person => "People", 1_000;
    PersonAlias => "PersonAlias", 70_000;
    PhoneNumber => "PhoneNumbers", 20_000;
    Group => "Groups", 500;
    GroupType => "GroupTypes", 10;
    GroupTypeRole => "GroupTypeRoles", 20;
    GroupMember => "GroupMembers", 100_000;
    GroupLocation => "GroupLocations", 60_000;
    Location => "Locations", 40_000;
    Attribute => "Attributes", 2_100;
    AttributeQualifier => "AttributeQualifiers", 3_300;
    AttributeValue => "AttributeValues", 300_000;
    DefinedType => "DefinedTypes", 30;
    DefinedValue => "DefinedValues", 140;
    FieldType => "FieldTypes", 1;
    EntityType => "EntityTypes", 15;
    BinaryFile => "BinaryFiles", 8_000;
    BinaryFileType => "BinaryFileTypes", 5;
    GroupRequirementType => "GroupRequirementTypes", 60;
    GroupRequirement => "GroupRequirements", 80;
    PersonPreviousName => "PersonPreviousNames", 90_000;
    PersonSearchKey => "PersonSearchKeys", 95_000;
    UserLogin => "UserLogins", 110_000;
}

impl Entity {
    /// The entity served by a controller name (case-insensitive, as Rock's routes are).
    pub fn from_controller(name: &str) -> Option<Entity> {
        Entity::ALL
            .iter()
            .copied()
            .find(|e| e.controller().eq_ignore_ascii_case(name))
    }

    pub fn full_name(self) -> String {
        format!("Rock.Model.{}", self.type_name())
    }

    pub fn columns(self) -> &'static [Column] {
        static TABLES: OnceLock<Vec<Vec<Column>>> = OnceLock::new();
        let tables = TABLES.get_or_init(|| Entity::ALL.iter().map(|e| build_columns(*e)).collect());
        let index = Entity::ALL.iter().position(|e| *e == self).unwrap_or(0);
        &tables[index]
    }

    pub fn column(self, name: &str) -> Option<&'static Column> {
        self.columns().iter().find(|c| c.name == name)
    }

    /// Rock 17's model of this entity (`model/rock-17.json`), when the file has it. The
    /// sandbox's own tables without one (BinaryFileType, GroupRequirementType,
    /// GroupRequirement) keep their hand-written columns, unchecked.
    pub fn model(self) -> Option<&'static ModelEntity> {
        crate::model::entity(self.type_name())
    }

    /// The properties of Rock's OData model for this entity: exactly the model's properties
    /// with `in_odata_model: true` (`[DataMember]` and not `[NotMapped]`:
    /// `DataContractAttributeEdmTypeConvention` and `NotMappedAttributeConvention` of
    /// System.Web.Http.OData, over Rock's `[DataContract]` models registered in
    /// Rock.Rest/App_Start/WebApiConfig.cs). Anything else named in `$filter`, `$select` or
    /// `$orderby` is the 400 of `rules.missing_property_in_query`. A property the sandbox
    /// does not store is still queryable (its value is null in every row), as long as its
    /// type is one OData filters on. Without a model: the sandbox's own columns.
    pub fn query_columns(self) -> &'static [Column] {
        static TABLES: OnceLock<Vec<Vec<Column>>> = OnceLock::new();
        let tables = TABLES.get_or_init(|| Entity::ALL.iter().map(|e| query_columns(*e)).collect());
        let index = Entity::ALL.iter().position(|e| *e == self).unwrap_or(0);
        &tables[index]
    }

    /// The OData property `name` (case-sensitive, as OData v3 is).
    pub fn query_column(self, name: &str) -> Option<&'static Column> {
        self.query_columns().iter().find(|c| c.name == name)
    }

    /// Whether a row's JSON may carry `name`: the model's serialized properties and
    /// `[DataMember]` navigations (Rock/Utility/RockJsonMediaTypeFormatter.cs writes
    /// `[DataMember]`s only). What the sandbox keeps for itself (PersonAlias.AliasPersonId,
    /// which merges need; audit columns on `Entity<T>` types that have none) stays inside.
    pub fn serializes(self, name: &str) -> bool {
        self.model().is_none_or(|m| m.serializes(name))
    }

    /// Whether a POST/PUT body's `name` is read: Newtonsoft's DataContract resolver binds
    /// `[DataMember]`s only, the rest of the body is ignored.
    pub fn binds(self, name: &str) -> bool {
        self.model()
            .is_none_or(|m| m.properties.get(name).is_some_and(|p| p.data_member))
    }

    /// Whether `$expand` may name navigation `name`: `expandable` in the model (a
    /// `[DataMember]` navigation); any other name is a 400.
    pub fn expandable(self, name: &str) -> bool {
        match self.model() {
            Some(m) => m.navigation.get(name).is_some_and(|n| n.expandable),
            None => true,
        }
    }

    /// The value of enum member `member` of column `column` (exact, case-sensitive name, as
    /// `Enum.Parse` reads it), from the model's `enums` (each with its Rock.Enums source).
    pub fn enum_value(self, column: &str, member: &str) -> Option<i64> {
        if let Some(e) = self.model().and_then(|m| m.enums.get(column)) {
            return e.members.get(member).copied();
        }
        enum_members(column)
            .iter()
            .find(|(name, _)| *name == member)
            .map(|(_, v)| *v)
    }

    /// Navigation properties `$expand` understands.
    pub fn nav(self, name: &str) -> Option<Nav> {
        use Entity as E;
        let nav = match (self, name) {
            (E::Person, "PhoneNumbers") => Nav::Collection {
                target: E::PhoneNumber,
                fk: "PersonId",
            },
            (E::Person, "Aliases") => Nav::Collection {
                target: E::PersonAlias,
                fk: "PersonId",
            },
            (E::Person, "Photo") => Nav::Reference {
                fk: "PhotoId",
                target: E::BinaryFile,
            },
            (E::PersonAlias, "Person") => Nav::Reference {
                fk: "PersonId",
                target: E::Person,
            },
            (E::PhoneNumber, "NumberTypeValue") => Nav::Reference {
                fk: "NumberTypeValueId",
                target: E::DefinedValue,
            },
            (E::Group, "GroupLocations") => Nav::Collection {
                target: E::GroupLocation,
                fk: "GroupId",
            },
            (E::Group, "Members") => Nav::Collection {
                target: E::GroupMember,
                fk: "GroupId",
            },
            (E::Group, "GroupType") => Nav::Reference {
                fk: "GroupTypeId",
                target: E::GroupType,
            },
            (E::Group, "ParentGroup") => Nav::Reference {
                fk: "ParentGroupId",
                target: E::Group,
            },
            (E::GroupType, "Roles") => Nav::Collection {
                target: E::GroupTypeRole,
                fk: "GroupTypeId",
            },
            (E::GroupMember, "Person") => Nav::Reference {
                fk: "PersonId",
                target: E::Person,
            },
            (E::GroupMember, "Group") => Nav::Reference {
                fk: "GroupId",
                target: E::Group,
            },
            (E::GroupMember, "GroupRole") => Nav::Reference {
                fk: "GroupRoleId",
                target: E::GroupTypeRole,
            },
            (E::GroupLocation, "Location") => Nav::Reference {
                fk: "LocationId",
                target: E::Location,
            },
            (E::GroupLocation, "Group") => Nav::Reference {
                fk: "GroupId",
                target: E::Group,
            },
            (E::GroupLocation, "GroupLocationTypeValue") => Nav::Reference {
                fk: "GroupLocationTypeValueId",
                target: E::DefinedValue,
            },
            (E::Attribute, "AttributeQualifiers") => Nav::Collection {
                target: E::AttributeQualifier,
                fk: "AttributeId",
            },
            (E::AttributeValue, "Attribute") => Nav::Reference {
                fk: "AttributeId",
                target: E::Attribute,
            },
            (E::DefinedValue, "DefinedType") => Nav::Reference {
                fk: "DefinedTypeId",
                target: E::DefinedType,
            },
            (E::DefinedType, "DefinedValues") => Nav::Collection {
                target: E::DefinedValue,
                fk: "DefinedTypeId",
            },
            (E::BinaryFile, "BinaryFileType") => Nav::Reference {
                fk: "BinaryFileTypeId",
                target: E::BinaryFileType,
            },
            _ => return None,
        };
        Some(nav)
    }

    /// Navigation properties serialised (as null) on every row, as Rock does for unloaded
    /// navigations it declares as DataMembers.
    pub fn nav_names(self) -> &'static [&'static str] {
        match self {
            Entity::Person => &["PhoneNumbers", "Aliases", "Photo"],
            Entity::Group => &["GroupLocations", "Members", "GroupType"],
            Entity::GroupMember => &["Person", "Group", "GroupRole"],
            Entity::GroupLocation => &["Location", "Group"],
            Entity::Attribute => &["AttributeQualifiers"],
            _ => &[],
        }
    }

    /// Whether rows of this entity can carry attribute values (`loadAttributes`).
    pub fn has_attributes(self) -> bool {
        !matches!(self, Entity::AttributeValue | Entity::AttributeQualifier)
    }
}

/// The members of the enum a column holds, by the column's name (Rock uses each of these
/// names for one enum type only). From Rock's model enums: `Rock.Enums/Group/GroupMemberStatus.cs`
/// (Inactive 0, Active 1, Pending 2), `Rock.Enums/Crm/Gender.cs`, `Rock.Enums/Crm/AgeClassification.cs`,
/// `Rock.Enums/Crm/EmailPreference.cs`, `Rock.Enums/Communication/CommunicationType.cs` and
/// `Rock.Enums/Security/AccountProtectionProfile.cs`.
pub fn enum_members(column: &str) -> &'static [(&'static str, i64)] {
    match column {
        "GroupMemberStatus" => &[("Inactive", 0), ("Active", 1), ("Pending", 2)],
        "Gender" => &[("Unknown", 0), ("Male", 1), ("Female", 2)],
        "AgeClassification" => &[("Unknown", 0), ("Adult", 1), ("Child", 2)],
        "EmailPreference" => &[("EmailAllowed", 0), ("NoMassEmails", 1), ("DoNotEmail", 2)],
        "CommunicationPreference" => &[
            ("RecipientPreference", 0),
            ("Email", 1),
            ("SMS", 2),
            ("PushNotification", 3),
        ],
        "AccountProtectionProfile" => &[("Low", 0), ("Medium", 1), ("High", 2), ("Extreme", 3)],
        // Rock/Model/Group/GroupRequirementType/RequirementCheckType.cs
        "RequirementCheckType" => &[("Sql", 0), ("Dataview", 1), ("Manual", 2)],
        _ => &[],
    }
}

/// Columns every model has (`Entity` + `Model`, research §1).
const AUDIT_COLUMNS: [&str; 4] = [
    "CreatedDateTime",
    "ModifiedDateTime",
    "CreatedByPersonAliasId",
    "ModifiedByPersonAliasId",
];

/// Columns a save never compares when deciding whether anything really changed.
pub fn is_audit_column(name: &str) -> bool {
    AUDIT_COLUMNS.contains(&name)
}

struct Cols(Vec<Column>);

impl Cols {
    fn push(
        &mut self,
        name: &'static str,
        kind: Kind,
        nullable: bool,
        default: Value,
    ) -> &mut Self {
        self.0.push(Column {
            name,
            kind,
            nullable,
            writable: true,
            max_len: None,
            default,
        });
        self
    }
    fn int(&mut self, name: &'static str) -> &mut Self {
        self.push(name, Kind::Int, false, Value::from(0))
    }
    /// An enum column (see [`Kind::Enum`]) with its default member's number.
    fn enumeration(&mut self, name: &'static str, default: i64) -> &mut Self {
        self.push(name, Kind::Enum, false, Value::from(default))
    }
    fn int_opt(&mut self, name: &'static str) -> &mut Self {
        self.push(name, Kind::Int, true, Value::Null)
    }
    fn text(&mut self, name: &'static str, max_len: usize) -> &mut Self {
        self.push(name, Kind::Str, true, Value::Null);
        self.max(max_len)
    }
    fn text_unbounded(&mut self, name: &'static str) -> &mut Self {
        self.push(name, Kind::Str, true, Value::Null)
    }
    fn boolean(&mut self, name: &'static str, default: bool) -> &mut Self {
        self.push(name, Kind::Bool, false, Value::Bool(default))
    }
    fn bool_opt(&mut self, name: &'static str) -> &mut Self {
        self.push(name, Kind::Bool, true, Value::Null)
    }
    fn datetime_opt(&mut self, name: &'static str) -> &mut Self {
        self.push(name, Kind::DateTime, true, Value::Null)
    }
    fn date_opt(&mut self, name: &'static str) -> &mut Self {
        self.push(name, Kind::Date, true, Value::Null)
    }
    fn guid_opt(&mut self, name: &'static str) -> &mut Self {
        self.push(name, Kind::Guid, true, Value::Null)
    }
    fn decimal_opt(&mut self, name: &'static str) -> &mut Self {
        self.push(name, Kind::Decimal, true, Value::Null)
    }
    fn max(&mut self, len: usize) -> &mut Self {
        if let Some(last) = self.0.last_mut() {
            last.max_len = Some(len);
        }
        self
    }
    /// Marks the last column computed (read-only to clients).
    fn computed(&mut self) -> &mut Self {
        if let Some(last) = self.0.last_mut() {
            last.writable = false;
        }
        self
    }
}

fn build_columns(entity: Entity) -> Vec<Column> {
    let mut c = Cols(Vec::new());
    c.int("Id").push(
        "Guid",
        Kind::Guid,
        false,
        Value::from("00000000-0000-0000-0000-000000000000"),
    );
    c.int_opt("ForeignId")
        .guid_opt("ForeignGuid")
        .text("ForeignKey", 100);
    c.datetime_opt("CreatedDateTime")
        .datetime_opt("ModifiedDateTime");
    c.int_opt("CreatedByPersonAliasId")
        .int_opt("ModifiedByPersonAliasId");
    match entity {
        Entity::Person => person_columns(&mut c),
        Entity::PersonAlias => {
            c.int("PersonId")
                .int_opt("AliasPersonId")
                .guid_opt("AliasPersonGuid")
                .text("Name", 200);
        }
        Entity::PhoneNumber => {
            c.boolean("IsSystem", false)
                .int("PersonId")
                .text("CountryCode", 3)
                .text("Number", 20);
            c.text("NumberFormatted", 50)
                .text("NumberReversed", 20)
                .text("Extension", 20);
            c.int_opt("NumberTypeValueId")
                .boolean("IsMessagingEnabled", false);
            c.boolean("IsUnlisted", false).text_unbounded("Description");
        }
        Entity::Group => {
            c.boolean("IsSystem", false)
                .int_opt("ParentGroupId")
                .int("GroupTypeId")
                .int_opt("CampusId");
            c.text("Name", 100)
                .text_unbounded("Description")
                .boolean("IsSecurityRole", false);
            c.boolean("IsActive", true)
                .int("Order")
                .boolean("IsPublic", true);
            c.datetime_opt("InactiveDateTime")
                .boolean("IsArchived", false)
                .datetime_opt("ArchivedDateTime");
            c.int_opt("ArchivedByPersonAliasId")
                .int_opt("StatusValueId")
                .int_opt("GroupCapacity");
        }
        Entity::GroupType => {
            c.boolean("IsSystem", false)
                .text("Name", 100)
                .text_unbounded("Description");
            c.text("GroupTerm", 100)
                .text("GroupMemberTerm", 100)
                .int_opt("DefaultGroupRoleId");
            c.boolean("AllowMultipleLocations", false)
                .boolean("ShowInGroupList", true);
            c.boolean("EnableGroupHistory", false).int("Order");
        }
        Entity::GroupTypeRole => {
            c.boolean("IsSystem", false)
                .int_opt("GroupTypeId")
                .text("Name", 100);
            c.text_unbounded("Description")
                .int("Order")
                .int_opt("MaxCount")
                .int_opt("MinCount");
            c.boolean("IsLeader", false)
                .boolean("CanView", false)
                .boolean("CanEdit", false);
            c.boolean("CanManageMembers", false);
        }
        Entity::GroupMember => {
            c.boolean("IsSystem", false)
                .int("GroupId")
                .int("GroupTypeId")
                .int("PersonId");
            c.int("GroupRoleId")
                .enumeration("GroupMemberStatus", 1)
                .text_unbounded("Note");
            c.datetime_opt("DateTimeAdded")
                .datetime_opt("InactiveDateTime");
            c.boolean("IsArchived", false)
                .datetime_opt("ArchivedDateTime");
            c.int_opt("ArchivedByPersonAliasId")
                .int_opt("GroupOrder")
                .enumeration("CommunicationPreference", 0);
            c.boolean("IsNotified", false);
        }
        Entity::GroupLocation => {
            c.int("GroupId")
                .int("LocationId")
                .int_opt("GroupLocationTypeValueId");
            c.boolean("IsMailingLocation", false)
                .boolean("IsMappedLocation", false);
            c.int_opt("GroupMemberPersonAliasId").int("Order");
        }
        Entity::Location => {
            c.int_opt("ParentLocationId")
                .text("Name", 100)
                .boolean("IsActive", true);
            c.int_opt("LocationTypeValueId")
                .text("Street1", 100)
                .text("Street2", 100);
            c.text("City", 50)
                .text("County", 50)
                .text("State", 50)
                .text("Country", 50);
            c.text("PostalCode", 50)
                .decimal_opt("Latitude")
                .decimal_opt("Longitude");
            c.datetime_opt("StandardizedDateTime")
                .datetime_opt("GeocodedDateTime");
        }
        Entity::Attribute => {
            c.boolean("IsSystem", false)
                .int("FieldTypeId")
                .int_opt("EntityTypeId");
            c.text("EntityTypeQualifierColumn", 50)
                .text("EntityTypeQualifierValue", 200);
            c.text("Key", 1000)
                .text("Name", 1000)
                .text_unbounded("Description")
                .int("Order");
            c.boolean("IsGridColumn", false)
                .text_unbounded("DefaultValue");
            c.boolean("IsMultiValue", false)
                .boolean("IsRequired", false)
                .boolean("IsActive", true);
            c.boolean("AllowSearch", false)
                .boolean("EnableHistory", false)
                .boolean("IsPublic", false);
        }
        Entity::AttributeQualifier => {
            c.boolean("IsSystem", false)
                .int("AttributeId")
                .text("Key", 50)
                .text_unbounded("Value");
        }
        Entity::AttributeValue => {
            c.boolean("IsSystem", false)
                .int("AttributeId")
                .int_opt("EntityId")
                .text_unbounded("Value");
            c.decimal_opt("ValueAsNumeric")
                .computed()
                .datetime_opt("ValueAsDateTime")
                .computed();
            c.push("ValueAsBoolean", Kind::Bool, true, Value::Null)
                .computed();
        }
        Entity::DefinedType => {
            c.boolean("IsSystem", false)
                .int_opt("FieldTypeId")
                .int("Order")
                .int_opt("CategoryId");
            c.text("Name", 100)
                .text_unbounded("Description")
                .text_unbounded("HelpText");
            c.boolean("IsActive", true);
        }
        Entity::DefinedValue => {
            c.boolean("IsSystem", false)
                .int("DefinedTypeId")
                .int("Order")
                .text("Value", 250);
            c.text_unbounded("Description")
                .boolean("IsActive", true)
                .int_opt("CategoryId");
        }
        Entity::FieldType => {
            c.boolean("IsSystem", false)
                .text("Name", 100)
                .text_unbounded("Description");
            c.text("Assembly", 260).text("Class", 100);
        }
        Entity::EntityType => {
            c.text("Name", 100)
                .text("AssemblyName", 260)
                .text("FriendlyName", 100);
            c.boolean("IsEntity", true)
                .boolean("IsSecured", true)
                .boolean("IsCommon", false);
        }
        Entity::BinaryFile => {
            c.boolean("IsTemporary", false)
                .boolean("IsSystem", false)
                .int_opt("BinaryFileTypeId");
            c.text("FileName", 255)
                .text("MimeType", 255)
                .text_unbounded("Description");
            c.int_opt("FileSize").int_opt("Width").int_opt("Height");
        }
        Entity::BinaryFileType => {
            c.boolean("IsSystem", false)
                .text("Name", 100)
                .text_unbounded("Description");
            c.boolean("RequiresViewSecurity", false);
        }
        // Rock/Model/Group/GroupRequirementType/GroupRequirementType.cs (the columns the
        // sandbox uses: who meets an SQL or data view requirement is set by the test, see
        // `RockSandbox::meet_requirement`).
        Entity::GroupRequirementType => {
            c.text("Name", 50)
                .text_unbounded("Description")
                .enumeration("RequirementCheckType", 0);
            c.text("PositiveLabel", 150).text("NegativeLabel", 150);
        }
        // Rock/Model/Group/GroupRequirement/GroupRequirement.cs: on a group or on every group
        // of a group type, optionally for one role.
        // Rock/Model/CRM/PersonPreviousName/PersonPreviousName.cs: a last name the person had.
        Entity::PersonPreviousName => {
            c.int("PersonAliasId").text("LastName", 100);
        }
        // Rock/Model/CRM/PersonSearchKey/PersonSearchKey.cs: e.g. a previous email.
        Entity::PersonSearchKey => {
            c.int("PersonAliasId")
                .int_opt("SearchTypeValueId")
                .text("SearchValue", 255);
        }
        // Rock/Model/CRM/UserLogin/UserLogin.cs: a person's login (the columns the sandbox
        // keeps; the model's others read as null). `Password` has no [DataMember]: never in a
        // row, never queryable. `ApiKey` is one: GET api/UserLogins returns it to anyone with
        // View on the controller.
        Entity::UserLogin => {
            c.int_opt("EntityTypeId")
                .text("UserName", 255)
                .bool_opt("IsConfirmed")
                .bool_opt("IsLockedOut");
            c.text("ApiKey", 50).int_opt("PersonId");
        }
        Entity::GroupRequirement => {
            c.int_opt("GroupId")
                .int_opt("GroupTypeId")
                .int("GroupRequirementTypeId");
            c.int_opt("GroupRoleId")
                .boolean("MustMeetRequirementToAddMember", false);
        }
    }
    c.0
}

fn person_columns(c: &mut Cols) {
    c.boolean("IsSystem", false)
        .int_opt("RecordTypeValueId")
        .int_opt("RecordStatusValueId");
    c.datetime_opt("RecordStatusLastModifiedDateTime")
        .int_opt("RecordStatusReasonValueId");
    c.int_opt("ConnectionStatusValueId")
        .int_opt("ReviewReasonValueId")
        .boolean("IsDeceased", false);
    c.int_opt("TitleValueId")
        .text("FirstName", 50)
        .text("NickName", 50)
        .text("MiddleName", 50);
    c.text("LastName", 50)
        .int_opt("SuffixValueId")
        .int_opt("PhotoId");
    c.int_opt("BirthDay")
        .int_opt("BirthMonth")
        .int_opt("BirthYear");
    c.datetime_opt("BirthDate")
        .computed()
        .int_opt("BirthDateKey")
        .computed();
    c.int_opt("Age").computed();
    c.enumeration("Gender", 0)
        .int_opt("MaritalStatusValueId")
        .date_opt("AnniversaryDate");
    c.int_opt("GraduationYear").int_opt("GivingGroupId");
    c.text("Email", 75)
        .boolean("IsEmailActive", true)
        .text("EmailNote", 250);
    c.enumeration("EmailPreference", 0)
        .enumeration("CommunicationPreference", 1);
    c.text_unbounded("InactiveReasonNote")
        .int_opt("PrimaryCampusId");
    c.int_opt("PrimaryFamilyId")
        .int_opt("PrimaryAliasId")
        .enumeration("AgeClassification", 0);
    c.enumeration("AccountProtectionProfile", 0);
}

/// The OData columns of `entity` (see [`Entity::query_columns`]).
fn query_columns(entity: Entity) -> Vec<Column> {
    let Some(model) = entity.model() else {
        return entity.columns().to_vec();
    };
    model
        .properties
        .iter()
        .filter(|(_, p)| p.in_odata_model)
        .filter_map(|(name, p)| {
            let enumeration = model.enums.contains_key(name.as_str());
            let (kind, nullable) = model_kind(&p.ty, enumeration)?;
            let mut column = entity.column(name).cloned().unwrap_or(Column {
                name: name.as_str(),
                kind,
                nullable,
                writable: false,
                max_len: None,
                default: Value::Null,
            });
            // Nullability as the EDM model has it (it decides OData's Convert nodes).
            column.nullable = nullable;
            Some(column)
        })
        .collect()
}

/// The storage kind and EDM nullability of a model type (`int?`, `string`, `Gender`, …);
/// `None` for what `$filter` cannot compare (DbGeography, collections).
pub fn model_kind(ty: &str, enumeration: bool) -> Option<(Kind, bool)> {
    let base = ty.split_whitespace().next().unwrap_or("");
    let nullable = base.ends_with('?');
    let base = base.trim_end_matches('?');
    if enumeration {
        return Some((Kind::Enum, nullable));
    }
    let kind = match base {
        "int" | "long" | "short" => Kind::Int,
        // Strings are reference types: always nullable in the EDM model.
        "string" => return Some((Kind::Str, true)),
        "bool" => Kind::Bool,
        "DateTime" => Kind::DateTime,
        "Guid" => Kind::Guid,
        "decimal" | "double" | "float" => Kind::Decimal,
        _ => return None,
    };
    Some((kind, nullable))
}
