//! The fields a condition can read (SPEC §3), resolved once at load time to
//! enum slots so that evaluation never compares field names.

use super::ast::Span;
use super::error::{DslError, DslErrorKind, did_you_mean};

macro_rules! field_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum $name { $($variant),* }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];
            pub const COUNT: usize = Self::ALL.len();
            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }
            pub fn index(self) -> usize { self as usize }
        }
    };
}

field_enum! {
    /// Text fields of the event and its visit context.
    StrField {
        EventName = "event.name",
        PageUrl = "page.url",
        PageTitle = "page.title",
        PageHostname = "page.hostname",
        PageDomain = "page.domain",
        PagePathname = "page.pathname",
        PageQuery = "page.query",
        PageFragment = "page.fragment",
        PageKeywords = "page.keywords",
        PageLang = "page.lang",
        SearchQuery = "search_query",
        BrowserFamily = "browser.family",
        BrowserVersion = "browser.version",
        BrowserLang = "browser.lang",
        DeviceCategory = "device.category",
        DeviceType = "device.type",
        DeviceOs = "device.os",
        GeoCountry = "geo.country",
        GeoCountryName = "geo.country_name",
        GeoRegion = "geo.region",
        GeoLocality = "geo.locality",
        GeoPostalCode = "geo.postal_code",
        CampaignSource = "campaign.source",
        CampaignMedium = "campaign.medium",
        CampaignName = "campaign.name",
        CampaignTerm = "campaign.term",
        CampaignContent = "campaign.content",
        CampaignClickId = "campaign.click_id",
        CampaignNetwork = "campaign.network",
        ReferrerUrl = "referrer.url",
        ReferrerHostname = "referrer.hostname",
        ReferrerMedium = "referrer.medium",
        NowWeekday = "now.weekday",
    }
}

field_enum! {
    /// Numeric counters and clock fields; never missing.
    NumField {
        SessionPageviews = "session.pageviews",
        SessionEvents = "session.events",
        SessionNumber = "session.number",
        VisitorSessions = "visitor.sessions",
        VisitorPageviews = "visitor.pageviews",
        NowHour = "now.hour",
    }
}

field_enum! {
    /// Durations, in milliseconds.
    DurField {
        SessionDuration = "session.duration",
        TimeOnPage = "time_on_page",
    }
}

field_enum! {
    BoolField {
        Authenticated = "authenticated",
    }
}

/// A resolved field path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FieldRef {
    Str(StrField),
    Num(NumField),
    Dur(DurField),
    Bool(BoolField),
    /// `attributes.NAME`: typed by its use.
    Attribute(String),
    /// `traits.NAME`: typed by its use.
    Trait(String),
}

fn all_names() -> impl Iterator<Item = &'static str> {
    StrField::ALL
        .iter()
        .map(|f| f.name())
        .chain(NumField::ALL.iter().map(|f| f.name()))
        .chain(DurField::ALL.iter().map(|f| f.name()))
        .chain(BoolField::ALL.iter().map(|f| f.name()))
        .chain(["attributes.NAME", "traits.NAME"])
}

/// Resolves a dotted path such as `geo.country` or `attributes.price`.
pub fn resolve_field(path: &str, span: Span) -> Result<FieldRef, DslError> {
    if let Some(f) = StrField::ALL.iter().find(|f| f.name() == path) {
        return Ok(FieldRef::Str(*f));
    }
    if let Some(f) = NumField::ALL.iter().find(|f| f.name() == path) {
        return Ok(FieldRef::Num(*f));
    }
    if let Some(f) = DurField::ALL.iter().find(|f| f.name() == path) {
        return Ok(FieldRef::Dur(*f));
    }
    if let Some(f) = BoolField::ALL.iter().find(|f| f.name() == path) {
        return Ok(FieldRef::Bool(*f));
    }
    for (prefix, make) in [
        ("attributes", FieldRef::Attribute as fn(String) -> FieldRef),
        ("traits", FieldRef::Trait as fn(String) -> FieldRef),
    ] {
        if path == prefix {
            return Err(DslError::new(DslErrorKind::Unknown, span, format!("`{prefix}` needs a name"))
                .with_help(format!("write `{prefix}.NAME`, e.g. `{prefix}.email`")));
        }
        if let Some(rest) = path.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) {
            if let Some((name, _)) = rest.split_once('.') {
                return Err(DslError::new(DslErrorKind::Unknown, span, format!("`{path}` has too many parts"))
                    .with_help(format!("write `{prefix}.{name}`: the value is read directly")));
            }
            return Ok(make(rest.to_string()));
        }
    }
    // Genesys' own names for the same fields, so that a pasted condition gets a useful hint.
    let genesys = [
        ("geolocation.", "geo."),
        ("mktCampaign.", "campaign."),
        ("searchQuery", "search_query"),
        ("page.queryString", "page.query"),
        ("device.osFamily", "device.os"),
    ];
    let mut err = DslError::new(DslErrorKind::Unknown, span, format!("unknown field `{path}`"));
    if let Some((from, to)) = genesys.iter().find(|(from, _)| path.starts_with(from)) {
        err = err.with_help(format!("did you mean `{}`?", path.replacen(from, to, 1)));
    } else if let Some(h) = did_you_mean(path, all_names()) {
        err = err.with_help(h);
    } else {
        err = err.with_help(
            "fields are event.name, page.*, attributes.NAME, traits.NAME, search_query, browser.*, device.*, \
             geo.*, campaign.*, referrer.*, authenticated, session.*, time_on_page, visitor.*, now.*",
        );
    }
    Err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_resolves_to_itself() {
        for name in all_names().filter(|n| !n.ends_with("NAME")) {
            let f = resolve_field(name, Span::default()).unwrap();
            let back = match f {
                FieldRef::Str(f) => f.name(),
                FieldRef::Num(f) => f.name(),
                FieldRef::Dur(f) => f.name(),
                FieldRef::Bool(f) => f.name(),
                _ => unreachable!(),
            };
            assert_eq!(back, name);
        }
    }

    #[test]
    fn unknown_field_gets_a_hint() {
        let e = resolve_field("page.ulr", Span::default()).unwrap_err();
        assert_eq!(e.help.as_deref(), Some("did you mean `page.url`?"));
        let e = resolve_field("geolocation.country", Span::default()).unwrap_err();
        assert_eq!(e.help.as_deref(), Some("did you mean `geo.country`?"));
    }
}
