//! The JSON Schema of the scenario format (`pesim schema`), for editors' YAML
//! completion. Property lists come from the same key constants the decoder
//! checks against, and a test keeps the two in step.

use serde_json::{Map, Value, json};

use super::decode::*;

fn duration() -> Value {
    json!({"type": "string", "pattern": "^([0-9]+(\\.[0-9]+)?(ms|s|m|h|d))+$|^0$",
           "description": "500ms, 30s, 5m, 2h, 1d, 1h30m"})
}

fn condition(what: &str) -> Value {
    json!({"type": "string", "description": format!("{what} (pesim condition language, SPEC §3)")})
}

fn object(keys: &[&str], props: Vec<(&str, Value)>, required: &[&str]) -> Value {
    let mut map = Map::new();
    for key in keys {
        let v = props.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap_or(json!({}));
        map.insert((*key).to_string(), v);
    }
    json!({"type": "object", "additionalProperties": false, "properties": map, "required": required})
}

fn dist() -> Value {
    let d = || json!({"oneOf": [duration(), {"type": "number"}]});
    let two = |a: &str, b: &str| {
        json!({"type": "object", "additionalProperties": false, "required": [a, b],
               "properties": {a: d(), b: d()}})
    };
    json!({"type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": false,
    "properties": {
        "const": d(),
        "uniform": {"type": "array", "items": d(), "minItems": 2, "maxItems": 2},
        "exp": {"type": "object", "additionalProperties": false, "required": ["mean"], "properties": {"mean": d()}},
        "lognormal": two("mean", "sd"),
        "normal": two("mean", "sd"),
        "weibull": two("shape", "scale"),
    }})
}

fn weights() -> Value {
    json!({"type": "object", "additionalProperties": {"type": "number", "minimum": 0}})
}

fn snapshot() -> Value {
    object(
        SNAPSHOT_KEYS,
        vec![
            ("agents_logged_in", json!({"type": "integer", "minimum": 0})),
            ("agents_available", json!({"type": "integer", "minimum": 0})),
            ("queue_length", json!({"type": "integer", "minimum": 0})),
            ("ewt", duration()),
        ],
        &["agents_logged_in"],
    )
}

fn matcher(keys: &[&str]) -> Value {
    object(
        keys,
        vec![
            ("at", duration()),
            ("state", json!({"enum": super::model::ActionState::ALL.iter().map(|s| s.name()).collect::<Vec<_>>()})),
            (
                "blocked",
                json!({"enum": super::model::BlockingReason::ALL.iter().map(|s| s.name()).collect::<Vec<_>>()}),
            ),
            ("never", matcher_inner()),
        ],
        &[],
    )
}

fn matcher_inner() -> Value {
    object(MATCHER_KEYS, vec![], &[])
}

pub fn json_schema() -> Value {
    let bool_ = json!({"type": "boolean"});
    let frequency_cap = object(
        CAP_KEYS,
        vec![("after_conversation", bool_.clone()), ("after_rejection", bool_.clone()), ("min_wait", duration())],
        &[],
    );
    let settings = object(
        SETTINGS_KEYS,
        vec![
            ("session_timeout", duration()),
            ("offer_timeout", duration()),
            (
                "frequency_cap",
                object(
                    &["webchat", "content_offer", "web_messaging"],
                    vec![
                        ("webchat", frequency_cap.clone()),
                        ("content_offer", frequency_cap.clone()),
                        ("web_messaging", frequency_cap),
                    ],
                    &[],
                ),
            ),
        ],
        &[],
    );
    let pureconnect = object(
        PURECONNECT_KEYS,
        vec![
            ("feature_license", bool_.clone()),
            ("pacing_rate_ms", json!({"type": "integer", "minimum": 0})),
            ("updates_disabled", json!({"oneOf": [bool_, {"enum": ["yes", "no", "1", "0", 1, 0]}]})),
        ],
        &[],
    );
    let agent = object(
        AGENT_KEYS,
        vec![
            ("count", json!({"type": "integer", "minimum": 0})),
            ("licensed", json!({"type": "boolean"})),
            ("shift", json!({"type": "string", "pattern": "^\\d{1,2}:\\d{2}-\\d{1,2}:\\d{2}$"})),
            ("max_chats", json!({"type": "integer", "minimum": 1})),
            ("name", json!({"type": "string"})),
        ],
        &[],
    );
    let workgroup = object(
        WORKGROUP_KEYS,
        vec![
            ("id", json!({"type": "string"})),
            ("description", json!({"type": "string"})),
            ("altocloud_updates", json!({"type": "boolean"})),
            ("schedule", json!({"type": "string", "description": "e.g. Mon-Fri 08:00-18:00; Sat 10:00-14:00"})),
            (
                "service_level",
                object(
                    &["percentage", "within"],
                    vec![("percentage", json!({"type": "number", "minimum": 0, "maximum": 1})), ("within", duration())],
                    &[],
                ),
            ),
            ("handle_time", dist()),
            ("agents", json!({"type": "array", "items": agent})),
            ("fixed_availability", snapshot()),
            ("short_abandon", duration()),
        ],
        &["id"],
    );
    let segment = object(
        SEGMENT_KEYS,
        vec![
            ("id", json!({"type": "string"})),
            ("description", json!({"type": "string"})),
            ("scope", json!({"enum": ["session", "customer"]})),
            ("when", condition("assigns the segment when true")),
            ("expires_after_days", json!({"type": "integer", "minimum": 0})),
        ],
        &["id", "when"],
    );
    let predictor = object(
        PREDICTOR_KEYS,
        vec![
            ("features", json!({"type": "object", "additionalProperties": condition("a number or condition")})),
            ("weights", json!({"type": "object", "additionalProperties": {"type": "number"}})),
            ("bias", json!({"type": "number"})),
            ("quantiles", json!({"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 1}})),
        ],
        &["features", "weights"],
    );
    let outcome = object(
        OUTCOME_KEYS,
        vec![
            ("id", json!({"type": "string"})),
            ("description", json!({"type": "string"})),
            ("positive", json!({"type": "boolean"})),
            ("achieved_when", condition("the outcome is achieved when true")),
            ("predictor", predictor),
        ],
        &["id", "achieved_when"],
    );
    let action = object(
        ACTION_KEYS,
        vec![
            ("type", json!({"enum": ["webchat", "content_offer", "web_messaging", "webhook"]})),
            ("target", json!({"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]})),
            ("pacing", json!({"type": "boolean"})),
            ("max_ewt", duration()),
        ],
        &["type"],
    );
    let action_map = object(
        ACTION_MAP_KEYS,
        vec![
            ("id", json!({"type": "string"})),
            ("description", json!({"type": "string"})),
            ("weight", json!({"oneOf": [{"type": "integer", "minimum": 1}, {"enum": ["low", "medium", "high"]}]})),
            ("active", json!({"type": "boolean"})),
            ("trigger", condition("qualifies the action map when true")),
            ("page_url", condition("the page must match when the offer is made")),
            (
                "activation",
                json!({"oneOf": [{"enum": ["immediate", "next_session"]},
                    {"type": "object", "additionalProperties": false, "required": ["delay"], "properties": {"delay": duration()}}]}),
            ),
            ("start", json!({"type": "string", "format": "date-time"})),
            ("end", json!({"type": "string", "format": "date-time"})),
            ("ignore_frequency_cap", json!({"type": "boolean"})),
            ("action", action),
        ],
        &["id", "trigger", "action"],
    );
    let response = object(
        RESPONSE_KEYS,
        vec![("accept", json!({"type": "number"})), ("reject", json!({"type": "number"})), ("delay", dist())],
        &[],
    );
    let record = object(
        RECORD_KEYS,
        vec![
            ("name", json!({"type": "string", "pattern": "^[A-Za-z0-9_]+$"})),
            ("attributes", json!({"type": "object"})),
        ],
        &["name"],
    );
    let page = object(
        PAGE_KEYS,
        vec![
            ("url", json!({"type": "string"})),
            ("title", json!({"type": "string"})),
            ("dwell", dist()),
            ("next", weights()),
            ("events", json!({"type": "array", "items": record})),
        ],
        &["url"],
    );
    let persona = object(
        PERSONA_KEYS,
        vec![
            ("name", json!({"type": "string"})),
            ("share", json!({"type": "number", "minimum": 0})),
            ("context", json!({"type": "object", "additionalProperties": weights()})),
            ("start_page", json!({"type": "string"})),
            ("pages", json!({"type": "object", "additionalProperties": page})),
            (
                "idle_events",
                json!({"type": "array", "items": object(IDLE_KEYS, vec![("after", duration()), ("name", json!({"type": "string"}))], &["after", "name"])}),
            ),
            ("response", json!({"type": "object", "additionalProperties": response})),
            ("patience", dist()),
            ("chat_uplift", json!({"type": "object", "additionalProperties": {"type": "number"}})),
        ],
        &["name", "pages"],
    );
    let traffic = object(
        TRAFFIC_KEYS,
        vec![
            (
                "arrivals",
                object(
                    ARRIVAL_KEYS,
                    vec![
                        ("per_hour", json!({"type": "number"})),
                        ("profile", json!({"type": "array", "items": {"type": "number"}})),
                    ],
                    &["per_hour"],
                ),
            ),
            ("returning", json!({"type": "number", "minimum": 0, "maximum": 1})),
            ("personas", json!({"type": "array", "items": persona})),
        ],
        &["arrivals", "personas"],
    );
    let case_event = object(
        CASE_EVENT_KEYS,
        vec![
            ("at", duration()),
            ("pageview", json!({"type": "string"})),
            ("title", json!({"type": "string"})),
            ("record", json!({"type": "string"})),
            ("attributes", json!({"type": "object"})),
            (
                "respond",
                object(
                    RESPOND_KEYS,
                    vec![("state", json!({"enum": ["accepted", "rejected", "ignored"]}))],
                    &["action_map", "state"],
                ),
            ),
        ],
        &["at"],
    );
    let case = object(
        CASE_KEYS,
        vec![
            ("name", json!({"type": "string"})),
            ("visitor", json!({"type": "object"})),
            ("availability", json!({"type": "object", "additionalProperties": snapshot()})),
            ("events", json!({"type": "array", "items": case_event})),
            ("expect", json!({"type": "array", "items": matcher(CASE_EXPECT_KEYS)})),
        ],
        &["name", "events"],
    );
    let expectation = object(
        EXPECT_KEYS,
        vec![
            ("metric", json!({"type": "string", "description": "e.g. offered{action_map=cart_help}"})),
            ("between", json!({"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2})),
            ("at_least", json!({"type": "number"})),
            ("at_most", json!({"type": "number"})),
            ("equals", json!({"type": "number"})),
        ],
        &["metric"],
    );
    let mut root = object(
        TOP_KEYS,
        vec![
            ("name", json!({"type": "string"})),
            ("description", json!({"type": "string"})),
            ("seed", json!({"type": "integer", "minimum": 0})),
            ("start", json!({"type": "string", "format": "date-time"})),
            ("duration", duration()),
            ("timezone", json!({"type": "string", "description": "IANA time zone, e.g. Europe/Dublin"})),
            ("include", json!({"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]})),
            ("settings", settings),
            ("pureconnect", pureconnect),
            ("workgroups", json!({"type": "array", "items": workgroup})),
            ("segments", json!({"type": "array", "items": segment})),
            ("outcomes", json!({"type": "array", "items": outcome})),
            ("action_maps", json!({"type": "array", "items": action_map})),
            ("traffic", traffic),
            ("cases", json!({"type": "array", "items": case})),
            ("expect", json!({"type": "array", "items": expectation})),
        ],
        &["name"],
    );
    if let Value::Object(m) = &mut root {
        m.insert("$schema".into(), json!("http://json-schema.org/draft-07/schema#"));
        m.insert("title".into(), json!("pesim scenario"));
    }
    root
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_lists_every_top_level_key() {
        let s = json_schema();
        let props = s["properties"].as_object().unwrap();
        for key in TOP_KEYS {
            assert!(props.contains_key(*key), "{key}");
        }
        assert_eq!(s["additionalProperties"], json!(false));
        // Nested objects too: action maps.
        let am = &props["action_maps"]["items"]["properties"];
        for key in ACTION_MAP_KEYS {
            assert!(am.get(*key).is_some(), "{key}");
        }
    }
}
