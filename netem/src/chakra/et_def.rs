//! Chakra's execution-trace messages, written by hand as prost derives so
//! that no build step needs `protoc`. Each struct mirrors one message of
//! `netem/proto/et_def.proto` (mlcommons/chakra `schema/protobuf/et_def.proto`,
//! package `ChakraProtoMsg`, proto3, Apache-2.0), field number for field
//! number; the tests below check a few encodings byte for byte against
//! bytes Python's protobuf wrote.
//!
//! Proto3 leaves out a scalar equal to its default (a node with id 0 has no
//! field 1), but writes a oneof member whatever its value (`int64_val = 0`
//! is `48 00`). Enum fields are `i32` on the wire and in these structs, so
//! that a trace from a newer schema with an unknown node type still decodes
//! and [`super::RankGraph`] can refuse it by name.

/// A named attribute of a node or of the trace: one value of many possible types.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AttributeProto {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub doc_string: String,
    #[prost(
        oneof = "attribute_proto::Value",
        tags = "3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32"
    )]
    pub value: Option<attribute_proto::Value>,
}

/// The oneof of [`AttributeProto`].
pub mod attribute_proto {
    /// The value of an attribute: tags 3 to 32, scalars odd, lists even.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Value {
        #[prost(double, tag = "3")]
        DoubleVal(f64),
        #[prost(message, tag = "4")]
        DoubleList(super::DoubleList),
        #[prost(float, tag = "5")]
        FloatVal(f32),
        #[prost(message, tag = "6")]
        FloatList(super::FloatList),
        #[prost(int32, tag = "7")]
        Int32Val(i32),
        #[prost(message, tag = "8")]
        Int32List(super::Int32List),
        #[prost(int64, tag = "9")]
        Int64Val(i64),
        #[prost(message, tag = "10")]
        Int64List(super::Int64List),
        #[prost(uint32, tag = "11")]
        Uint32Val(u32),
        #[prost(message, tag = "12")]
        Uint32List(super::Uint32List),
        #[prost(uint64, tag = "13")]
        Uint64Val(u64),
        #[prost(message, tag = "14")]
        Uint64List(super::Uint64List),
        #[prost(sint32, tag = "15")]
        Sint32Val(i32),
        #[prost(message, tag = "16")]
        Sint32List(super::Sint32List),
        #[prost(sint64, tag = "17")]
        Sint64Val(i64),
        #[prost(message, tag = "18")]
        Sint64List(super::Sint64List),
        #[prost(fixed32, tag = "19")]
        Fixed32Val(u32),
        #[prost(message, tag = "20")]
        Fixed32List(super::Fixed32List),
        #[prost(fixed64, tag = "21")]
        Fixed64Val(u64),
        #[prost(message, tag = "22")]
        Fixed64List(super::Fixed64List),
        #[prost(sfixed32, tag = "23")]
        Sfixed32Val(i32),
        #[prost(message, tag = "24")]
        Sfixed32List(super::Sfixed32List),
        #[prost(sfixed64, tag = "25")]
        Sfixed64Val(i64),
        #[prost(message, tag = "26")]
        Sfixed64List(super::Sfixed64List),
        #[prost(bool, tag = "27")]
        BoolVal(bool),
        #[prost(message, tag = "28")]
        BoolList(super::BoolList),
        #[prost(string, tag = "29")]
        StringVal(String),
        #[prost(message, tag = "30")]
        StringList(super::StringList),
        #[prost(bytes = "vec", tag = "31")]
        BytesVal(Vec<u8>),
        #[prost(message, tag = "32")]
        BytesList(super::BytesList),
    }
}

/// A message holding a repeated field `values = 1` of one scalar type.
macro_rules! list_msg {
    ($name:ident, $kind:ident, $ty:ty) => {
        #[derive(Clone, PartialEq, prost::Message)]
        pub struct $name {
            #[prost($kind, repeated, tag = "1")]
            pub values: Vec<$ty>,
        }
    };
}
list_msg!(DoubleList, double, f64);
list_msg!(FloatList, float, f32);
list_msg!(Int32List, int32, i32);
list_msg!(Int64List, int64, i64);
list_msg!(Uint32List, uint32, u32);
list_msg!(Uint64List, uint64, u64);
list_msg!(Sint32List, sint32, i32);
list_msg!(Sint64List, sint64, i64);
list_msg!(Fixed32List, fixed32, u32);
list_msg!(Fixed64List, fixed64, u64);
list_msg!(Sfixed32List, sfixed32, i32);
list_msg!(Sfixed64List, sfixed64, i64);
list_msg!(BoolList, bool, bool);
list_msg!(StringList, string, String);

/// `repeated bytes values = 1`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct BytesList {
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub values: Vec<Vec<u8>>,
}

/// The first record of a trace file: the schema version and free attributes.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GlobalMetadata {
    #[prost(string, tag = "1")]
    pub version: String,
    #[prost(message, repeated, tag = "2")]
    pub attr: Vec<AttributeProto>,
}

/// What a node does (`Node.type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum NodeType {
    InvalidNode = 0,
    MetadataNode = 1,
    MemLoadNode = 2,
    MemStoreNode = 3,
    CompNode = 4,
    CommSendNode = 5,
    CommRecvNode = 6,
    CommCollNode = 7,
}

/// A collective, in the `comm_type` attribute of a `COMM_COLL_NODE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum CollectiveCommType {
    AllReduce = 0,
    Reduce = 1,
    AllGather = 2,
    Gather = 3,
    Scatter = 4,
    Broadcast = 5,
    AllToAll = 6,
    ReduceScatter = 7,
    ReduceScatterBlock = 8,
    Barrier = 9,
}

/// One operation of a rank, with the nodes it waits for.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Node {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(enumeration = "NodeType", tag = "3")]
    pub r#type: i32,
    #[prost(uint64, repeated, tag = "4")]
    pub ctrl_deps: Vec<u64>,
    #[prost(uint64, repeated, tag = "5")]
    pub data_deps: Vec<u64>,
    #[prost(uint64, tag = "6")]
    pub start_time_micros: u64,
    #[prost(uint64, tag = "7")]
    pub duration_micros: u64,
    #[prost(message, optional, tag = "8")]
    pub inputs: Option<IoInfo>,
    #[prost(message, optional, tag = "9")]
    pub outputs: Option<IoInfo>,
    #[prost(message, repeated, tag = "10")]
    pub attr: Vec<AttributeProto>,
}

/// A node's inputs or outputs as text (PyTorch traces: Python reprs).
#[derive(Clone, PartialEq, prost::Message)]
pub struct IoInfo {
    #[prost(string, tag = "1")]
    pub values: String,
    #[prost(string, tag = "2")]
    pub shapes: String,
    #[prost(string, tag = "3")]
    pub types: String,
}

/// A tensor (declared by the schema; no message refers to it).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Tensor {
    #[prost(uint64, tag = "1")]
    pub tensor_id: u64,
    #[prost(uint64, tag = "2")]
    pub storage_id: u64,
    #[prost(uint64, tag = "3")]
    pub offset: u64,
    #[prost(uint64, tag = "4")]
    pub num_elem: u64,
    #[prost(uint64, tag = "5")]
    pub elem_bytes: u64,
    #[prost(string, tag = "6")]
    pub device: String,
}
