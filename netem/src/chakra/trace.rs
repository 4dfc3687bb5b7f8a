//! A Chakra trace file as written: `varint(len) ‖ GlobalMetadata` then
//! `varint(len) ‖ Node` until the end, with no magic number and no trailer
//! (Chakra `protolib.py`: `_EncodeVarint32(len(out))` then the message; the
//! varint is protobuf's base-128, low group first, high bit = more follows,
//! which is prost's `encode_length_delimited`). A record may be empty
//! (an all-default message); Chakra's Python reader mistakes one for the
//! end of the file, so [`encode_trace`] is given messages with a name or a
//! version by [`super::RankGraph::to_trace`].

use prost::Message;

use super::et_def::{GlobalMetadata, Node};
use super::{ChakraError, Problem};

/// The records of one rank's file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Trace {
    pub metadata: GlobalMetadata,
    pub nodes: Vec<Node>,
}

/// The file name ASTRA-sim reads for `rank` of a workload `prefix`
/// (`Workload.cc`: `et_filename + "." + to_string(sys->id) + ".et"`).
pub fn trace_file_name(prefix: &str, rank: u32) -> String {
    format!("{prefix}.{rank}.et")
}

/// Decodes one rank's file; `file` names it in errors.
pub fn decode_trace(bytes: &[u8], file: &str) -> Result<Trace, ChakraError> {
    let fail = |problem| ChakraError::new(file, problem);
    if bytes.is_empty() {
        return Err(fail(Problem::Empty));
    }
    if bytes.starts_with(&[0x1f, 0x8b]) {
        return Err(fail(Problem::Gzip));
    }
    let mut records = Records { bytes, at: 0 };
    let metadata = records.next_message::<GlobalMetadata>(0).map_err(fail)?;
    let mut nodes = Vec::new();
    while records.at < bytes.len() {
        nodes.push(
            records
                .next_message::<Node>(nodes.len() + 1)
                .map_err(fail)?,
        );
    }
    Ok(Trace { metadata, nodes })
}

/// Encodes one rank's file.
pub fn encode_trace(trace: &Trace) -> Vec<u8> {
    let mut out = trace.metadata.encode_length_delimited_to_vec();
    for node in &trace.nodes {
        out.extend(node.encode_length_delimited_to_vec());
    }
    out
}

/// A cursor over the length-delimited records of a file.
struct Records<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Records<'_> {
    /// Decodes record number `record` (0 is the GlobalMetadata).
    fn next_message<M: Message + Default>(&mut self, record: usize) -> Result<M, Problem> {
        let offset = self.at;
        let bad = |reason: String| Problem::Record {
            record,
            offset,
            reason,
        };
        let mut rest = &self.bytes[self.at..];
        let len = prost::decode_length_delimiter(&mut rest)
            .map_err(|e| bad(format!("bad length prefix: {e}")))?;
        if len > rest.len() {
            return Err(bad(format!(
                "length {len} runs past the end ({} bytes left)",
                rest.len()
            )));
        }
        let message = M::decode(&rest[..len]).map_err(|e| bad(e.to_string()))?;
        self.at = self.bytes.len() - rest.len() + len;
        Ok(message)
    }
}

#[cfg(test)]
mod tests {
    use super::super::et_def::attribute_proto::Value;
    use super::super::et_def::{AttributeProto, NodeType};
    use super::*;

    /// `all_reduce.0.et` of ASTRA-sim's microbenchmarks
    /// (examples/workload/microbenchmarks/all_reduce/4npus_1MB, astra-sim
    /// 518bd51), written by its Python generator.
    const ASTRA_ALL_REDUCE_0: &[u8] = &[
        0x07, 0x0a, 0x05, b'0', b'.', b'0', b'.', b'4', 0x48, 0x12, 0x14, b'a', b'l', b'l', b'_',
        b'r', b'e', b'd', b'u', b'c', b'e', b'_', b'4', b'n', b'p', b'u', b's', b'_', b'1', b'M',
        b'B', 0x18, 0x07, 0x52, 0x0e, 0x0a, 0x09, b'i', b's', b'_', b'c', b'p', b'u', b'_', b'o',
        b'p', 0xd8, 0x01, 0x00, 0x52, 0x0d, 0x0a, 0x09, b'c', b'o', b'm', b'm', b'_', b't', b'y',
        b'p', b'e', 0x48, 0x00, 0x52, 0x0f, 0x0a, 0x09, b'c', b'o', b'm', b'm', b'_', b's', b'i',
        b'z', b'e', 0x48, 0x80, 0x80, 0x40,
    ];

    #[test]
    fn decodes_astra_sims_all_reduce_and_writes_it_back_byte_for_byte() {
        let t = decode_trace(ASTRA_ALL_REDUCE_0, "all_reduce.0.et").expect("decodes");
        assert_eq!(t.metadata.version, "0.0.4");
        assert_eq!(t.nodes.len(), 1);
        let n = &t.nodes[0];
        assert_eq!((n.id, n.name.as_str()), (0, "all_reduce_4npus_1MB"));
        assert_eq!(n.r#type(), NodeType::CommCollNode);
        assert_eq!(
            n.attr[2],
            AttributeProto {
                name: "comm_size".into(),
                doc_string: String::new(),
                value: Some(Value::Int64Val(1 << 20)),
            }
        );
        assert_eq!(encode_trace(&t), ASTRA_ALL_REDUCE_0);
    }

    #[test]
    fn refuses_empty_gzip_and_truncated_files_naming_the_record() {
        let e = decode_trace(&[], "x.0.et").expect_err("empty");
        assert_eq!(
            e.to_string(),
            "x.0.et: empty: a trace starts with a GlobalMetadata record"
        );
        let e = decode_trace(&[0x1f, 0x8b, 8, 0], "x.0.et").expect_err("gzip");
        assert_eq!(e.problem, Problem::Gzip);
        let cut = &ASTRA_ALL_REDUCE_0[..ASTRA_ALL_REDUCE_0.len() - 3];
        let e = decode_trace(cut, "x.0.et").expect_err("truncated");
        assert_eq!(
            e.to_string(),
            "x.0.et: record 1 (byte 8): length 72 runs past the end (69 bytes left)"
        );
        let e = decode_trace(&[0x02, 0xff, 0xff], "x.0.et").expect_err("garbage");
        assert!(
            matches!(
                e.problem,
                Problem::Record {
                    record: 0,
                    offset: 0,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn empty_records_decode_as_default_messages() {
        // An all-default GlobalMetadata and Node are zero-length records.
        let t = Trace {
            metadata: GlobalMetadata::default(),
            nodes: vec![Node::default(), Node::default()],
        };
        let bytes = encode_trace(&t);
        assert_eq!(bytes, [0, 0, 0]);
        assert_eq!(decode_trace(&bytes, "x").expect("decodes"), t);
    }

    #[test]
    fn file_names_follow_astra_sim() {
        assert_eq!(trace_file_name("out/allreduce", 3), "out/allreduce.3.et");
    }
}
