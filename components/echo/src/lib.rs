//! `echo`: returns its input. The smallest useful tool, and the one the
//! benchmarks call.

use claw_sdk::{Context, Error, Tool, export_tool, schemars, serde};

/// Parameters of `echo`.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(crate = "claw_sdk::serde", deny_unknown_fields)]
#[schemars(crate = "claw_sdk::schemars")]
struct Echo {
    /// The text to send back unchanged.
    text: String,
}

impl Tool for Echo {
    const DESCRIPTION: &'static str = "Return the given text unchanged.";
    type Output = String;

    fn execute(self, _ctx: &Context) -> Result<String, Error> {
        Ok(self.text)
    }
}

export_tool!(Echo);

#[cfg(test)]
mod tests {
    use super::*;
    use claw_sdk::bindings::Guest;
    use claw_sdk::bindings::claw::runtime::types::{CallContext, ErrorKind as WitKind, ToolError};
    use claw_sdk::serde_json::{self, Value, json};

    fn ctx() -> Context {
        Context { call_id: "c1".into(), tool: "echo".into(), caller: None, depth: 0 }
    }

    /// One call the way the host makes it: JSON in, JSON or a tool error out.
    fn call(params_json: &str) -> Result<String, ToolError> {
        let context = CallContext { call_id: "c1".into(), tool: "echo".into(), caller: None, depth: 0 };
        <claw_sdk::Export<Echo> as Guest>::execute(params_json.to_string(), context)
    }

    #[test]
    fn the_text_comes_back_unchanged() {
        for text in ["", "hello", "  padded \n\t", "café ✓ 🦀", r#"{"text": "nested"}"#, "line\r\nbreak\0nul"] {
            let out = Echo { text: text.to_string() }.execute(&ctx()).unwrap();
            assert_eq!(out, text);
        }
    }

    #[test]
    fn parameters_are_exactly_one_string_named_text() {
        let p: Echo = serde_json::from_str(r#"{"text": "hi"}"#).unwrap();
        assert_eq!(p.text, "hi");
        for bad in [r#"{}"#, r#"{"text": 5}"#, r#"{"text": null}"#, r#"{"text": "hi", "loud": true}"#, r#""hi""#] {
            assert!(serde_json::from_str::<Echo>(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn a_call_returns_the_text_as_a_json_string() {
        assert_eq!(call(r#"{"text": "say \"hi\""}"#).unwrap(), r#""say \"hi\"""#);
        let out: Value = serde_json::from_str(&call(r#"{"text": "é"}"#).unwrap()).unwrap();
        assert_eq!(out, json!("é"));
    }

    #[test]
    fn a_call_with_bad_parameters_is_invalid_params() {
        for bad in [r#"{"txt": "hi"}"#, "not json", r#"{"text": ["a"]}"#] {
            let err = call(bad).unwrap_err();
            assert!(matches!(err.kind, WitKind::InvalidParams), "{bad}: {err:?}");
            assert!(err.message.starts_with("parameters do not match the schema"), "{bad}: {}", err.message);
        }
    }

    #[test]
    fn the_schema_requires_text_and_nothing_else() {
        let schema: Value = serde_json::from_str(&<claw_sdk::Export<Echo> as Guest>::parameters_schema()).unwrap();
        assert_eq!(schema["required"], json!(["text"]));
        assert_eq!(schema["additionalProperties"], json!(false));
        assert_eq!(schema["properties"]["text"]["type"], json!("string"));
        assert_eq!(schema["properties"]["text"]["description"], json!("The text to send back unchanged."));
        assert_eq!(<claw_sdk::Export<Echo> as Guest>::description(), Echo::DESCRIPTION);
    }
}
