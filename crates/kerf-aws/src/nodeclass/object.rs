//! The node class as it crosses the cloud-neutral `CloudProvider` trait: an
//! untyped object (`NodeTemplateContext::class`) that the AWS provider turns
//! back into its `EC2NodeClass`, or rejects naming the class and the field.

use kerf_api::v1::EC2NodeClass;
use kerf_cloud::NodeTemplateContext;
use kube_core::Resource;
use serde_json::Value;

use crate::error::AwsError;

/// The context's node class as an `EC2NodeClass`, if it carries one.
pub fn class_from_context(
    template: &NodeTemplateContext,
) -> Result<Option<EC2NodeClass>, AwsError> {
    let Some(object) = &template.class else {
        return Ok(None);
    };
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .or(template.node_class.as_deref())
        .unwrap_or_default();
    class_from_object(name, object).map(Some)
}

/// An untyped object as an `EC2NodeClass`: its kind and apiVersion must be
/// EC2NodeClass's, and every field must parse.
pub fn class_from_object(name: &str, object: &Value) -> Result<EC2NodeClass, AwsError> {
    let field = |f: &str| object.get(f).and_then(Value::as_str);
    let kind = EC2NodeClass::kind(&());
    if field("kind") != Some(kind.as_ref()) {
        return Err(AwsError::node_class(
            name,
            "kind",
            format!("is {:?}, the AWS provider needs {kind}", field("kind")),
        ));
    }
    let api_version = EC2NodeClass::api_version(&());
    if field("apiVersion") != Some(api_version.as_ref()) {
        return Err(AwsError::node_class(
            name,
            "apiVersion",
            format!(
                "is {:?}, the AWS provider needs {api_version}",
                field("apiVersion")
            ),
        ));
    }
    serde_path_to_error::deserialize(object).map_err(|e| {
        let path = e.path().to_string();
        AwsError::node_class(name, path, e.into_inner().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class() -> EC2NodeClass {
        let spec = kerf_api::v1::EC2NodeClassSpec {
            role: Some("NodeRole".into()),
            ..Default::default()
        };
        EC2NodeClass::new("default", spec)
    }

    #[test]
    fn a_class_survives_the_trip_through_the_context() {
        let typed = class();
        let context = NodeTemplateContext::new("default", Default::default())
            .with_class(Some(serde_json::to_value(&typed).unwrap()));
        assert_eq!(class_from_context(&context).unwrap(), Some(typed));
        let bare = NodeTemplateContext::new("default", Default::default());
        assert_eq!(class_from_context(&bare).unwrap(), None);
    }

    #[test]
    fn a_class_that_does_not_parse_names_the_class_and_the_field() {
        let mut object = serde_json::to_value(class()).unwrap();
        object["spec"]["role"] = serde_json::json!(7);
        let err = class_from_object("default", &object).unwrap_err();
        assert_eq!(
            err.to_string(),
            "EC2NodeClass \"default\": spec.role: invalid type: integer `7`, expected a string"
        );
    }

    #[test]
    fn another_kind_is_refused_by_name() {
        let mut object = serde_json::to_value(class()).unwrap();
        object["kind"] = serde_json::json!("KWOKNodeClass");
        let err = class_from_object("default", &object).unwrap_err();
        assert!(
            matches!(&err, AwsError::NodeClass { field, .. } if field == "kind"),
            "{err}"
        );
        assert!(err.to_string().contains("KWOKNodeClass"), "{err}");
    }
}
