//! Reading and writing a node's attributes. A number is read from any
//! integer case of the `AttributeProto` oneof (and a bool as 0 or 1), as
//! ASTRA-sim's feeder_v3 does (`ALLOW_IMPLICIT_INTEGER_CONVERSION = true`
//! in astra-sim/chakra `src/feeder_v3/common.h`); a float, a string or a
//! list is refused. The first attribute of a name wins. Written
//! attributes use the cases Chakra's own feeder (`et_feeder_node.cpp`)
//! reads: `int64_val` for `comm_type`, `comm_size` and `num_ops`,
//! `int32_val` for `comm_src`, `comm_dst` and `comm_tag`, `string_val`
//! for `pg_name`, `bool_val` for `is_cpu_op`.

use super::Problem;
use super::et_def::attribute_proto::Value;
use super::et_def::{AttributeProto, Node};

/// The value of `node`'s first attribute named `name`.
fn find<'a>(node: &'a Node, name: &str) -> Option<&'a Value> {
    node.attr
        .iter()
        .find(|a| a.name == name)
        .and_then(|a| a.value.as_ref())
}

/// Attribute `attr` of `node` as a non-negative integer, if present.
pub(crate) fn integer(node: &Node, attr: &'static str) -> Result<Option<u64>, Problem> {
    let Some(value) = find(node, attr) else {
        return Ok(None);
    };
    let signed = |v: i64| {
        u64::try_from(v).map_err(|_| Problem::BadAttribute {
            node: node.id,
            attr,
            reason: format!("must be ≥ 0 (got {v})"),
        })
    };
    let n = match value {
        Value::Int64Val(v) | Value::Sint64Val(v) | Value::Sfixed64Val(v) => signed(*v)?,
        Value::Int32Val(v) | Value::Sint32Val(v) | Value::Sfixed32Val(v) => signed(i64::from(*v))?,
        Value::Uint64Val(v) | Value::Fixed64Val(v) => *v,
        Value::Uint32Val(v) | Value::Fixed32Val(v) => u64::from(*v),
        Value::BoolVal(b) => u64::from(*b),
        other => {
            return Err(Problem::BadAttribute {
                node: node.id,
                attr,
                reason: format!("must be an integer (got {})", case_name(other)),
            });
        }
    };
    Ok(Some(n))
}

/// Attribute `attr` of `node` as a non-negative integer; missing is an error.
pub(crate) fn required(node: &Node, attr: &'static str) -> Result<u64, Problem> {
    integer(node, attr)?.ok_or(Problem::MissingAttribute {
        node: node.id,
        attr,
    })
}

/// Attribute `attr` of `node` as an integer below 2³²; missing is an error.
pub(crate) fn required_u32(node: &Node, attr: &'static str) -> Result<u32, Problem> {
    let v = required(node, attr)?;
    u32::try_from(v).map_err(|_| Problem::BadAttribute {
        node: node.id,
        attr,
        reason: format!("must be < 2^32 (got {v})"),
    })
}

/// Attribute `attr` of `node` as a string, if present.
pub(crate) fn string<'a>(node: &'a Node, attr: &'static str) -> Result<Option<&'a str>, Problem> {
    match find(node, attr) {
        None => Ok(None),
        Some(Value::StringVal(s)) => Ok(Some(s)),
        Some(other) => Err(Problem::BadAttribute {
            node: node.id,
            attr,
            reason: format!("must be a string (got {})", case_name(other)),
        }),
    }
}

/// The oneof case's field name, for messages.
fn case_name(v: &Value) -> &'static str {
    match v {
        Value::DoubleVal(_) => "double_val",
        Value::FloatVal(_) => "float_val",
        Value::StringVal(_) => "string_val",
        Value::BytesVal(_) => "bytes_val",
        Value::BoolVal(_) => "bool_val",
        Value::Int32Val(_)
        | Value::Int64Val(_)
        | Value::Uint32Val(_)
        | Value::Uint64Val(_)
        | Value::Sint32Val(_)
        | Value::Sint64Val(_)
        | Value::Fixed32Val(_)
        | Value::Fixed64Val(_)
        | Value::Sfixed32Val(_)
        | Value::Sfixed64Val(_) => "an integer",
        _ => "a list",
    }
}

/// An attribute named `name` holding `value`.
pub(crate) fn attr(name: &str, value: Value) -> AttributeProto {
    AttributeProto {
        name: name.to_owned(),
        doc_string: String::new(),
        value: Some(value),
    }
}

/// An `int64_val` attribute, saturating at `i64::MAX`.
pub(crate) fn int64(name: &str, v: u64) -> AttributeProto {
    attr(name, Value::Int64Val(i64::try_from(v).unwrap_or(i64::MAX)))
}

/// An `int32_val` attribute, saturating at `i32::MAX`.
pub(crate) fn int32(name: &str, v: u32) -> AttributeProto {
    attr(name, Value::Int32Val(i32::try_from(v).unwrap_or(i32::MAX)))
}

#[cfg(test)]
mod tests {
    use super::super::et_def::{BoolList, Node};
    use super::*;

    fn node(value: Value) -> Node {
        Node {
            id: 42,
            attr: vec![attr("comm_size", value)],
            ..Node::default()
        }
    }

    #[test]
    fn any_integer_case_is_a_number() {
        for v in [
            Value::Int64Val(7),
            Value::Int32Val(7),
            Value::Uint32Val(7),
            Value::Uint64Val(7),
            Value::Sint64Val(7),
            Value::Fixed32Val(7),
        ] {
            assert_eq!(integer(&node(v), "comm_size"), Ok(Some(7)));
        }
        assert_eq!(
            integer(&node(Value::BoolVal(true)), "comm_size"),
            Ok(Some(1))
        );
        assert_eq!(integer(&Node::default(), "comm_size"), Ok(None));
    }

    #[test]
    fn refuses_negatives_floats_lists_and_missing_ones_naming_node_and_attribute() {
        let e = integer(&node(Value::Int64Val(-1)), "comm_size").expect_err("negative");
        assert_eq!(
            e.to_string(),
            "node 42: attribute comm_size: must be ≥ 0 (got -1)"
        );
        let e = integer(&node(Value::DoubleVal(1.0)), "comm_size").expect_err("float");
        assert_eq!(
            e.to_string(),
            "node 42: attribute comm_size: must be an integer (got double_val)"
        );
        let list = Value::BoolList(BoolList { values: vec![true] });
        assert!(integer(&node(list), "comm_size").is_err());
        let e = required(&node(Value::Int64Val(1)), "comm_type").expect_err("missing");
        assert_eq!(e.to_string(), "node 42: attribute comm_type is missing");
        let e = required_u32(&node(Value::Uint64Val(1 << 40)), "comm_size").expect_err("big");
        assert!(e.to_string().contains("must be < 2^32"), "{e}");
        let e = string(&node(Value::Int64Val(1)), "comm_size").expect_err("not a string");
        assert!(
            e.to_string().contains("must be a string (got an integer)"),
            "{e}"
        );
    }
}
