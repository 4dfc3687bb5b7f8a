//! The one executor of collectives: it follows the schedule netem gives
//! for an operation and algorithm ([`orbnet_netem::collective::schedule`]),
//! the same schedule the α–β model walks. Per round a rank posts its
//! sends, then waits for its receives in order and reduces or copies each
//! into its buffer, then (for rings) waits for its sends to be handed over.
//!
//! What a rank's buffer is differs by use, behind [`Buffer`]: a whole
//! tensor ([`Whole`]); the pieces in flight of a ring all-reduce of a test
//! input, checked as they arrive ([`RingCheck`], so a sweep reaches sizes
//! whose full buffers would not fit for every rank at once); or a test
//! input whose receptions are checked and not kept ([`Exchange`], for
//! all-to-all and send/recv).

use std::ops::Range;

use bytes::{Bytes, BytesMut};
use orbnet_netem::collective::{Call, Combine, Cut, Piece, Schedule, Wait, schedule};
use orbnet_netem::workload::{Algorithm, DType, Op};

use super::{Comm, CommError};
use crate::tensor::{self, Sums, part};

/// A rank's data as a schedule reads and writes it.
trait Buffer {
    /// The bytes of `piece` (byte `range` of the buffer) to send now.
    fn outgoing(&mut self, piece: Piece, range: Range<usize>) -> Bytes;
    /// Takes in `got`, which rank `from` sent for `piece` (byte `range`).
    fn incoming(
        &mut self,
        from: usize,
        piece: Piece,
        range: Range<usize>,
        into: Combine,
        got: &Bytes,
    );
}

/// A whole tensor, held in memory.
struct Whole<'a> {
    dtype: DType,
    data: &'a mut BytesMut,
}

impl Buffer for Whole<'_> {
    fn outgoing(&mut self, _: Piece, range: Range<usize>) -> Bytes {
        Bytes::copy_from_slice(&self.data[range])
    }

    fn incoming(&mut self, _: usize, _: Piece, range: Range<usize>, into: Combine, got: &Bytes) {
        match into {
            Combine::Reduce => tensor::reduce_into(self.dtype, &mut self.data[range], got),
            Combine::Copy => self.data[range].copy_from_slice(got),
            // No schedule run on a whole tensor has slots (all-to-all and
            // send/recv run on an `Exchange`).
            Combine::Slot => {}
        }
    }
}

/// A ring all-reduce of rank `rank`'s test input ([`tensor::input`]) that
/// holds only the piece in flight: a reduce-scatter round adds the
/// arriving piece to this rank's own input for it, made when needed, and
/// passes the sum on; an all-gather round checks the arriving reduced
/// piece against the known sums and passes it on.
struct RingCheck<'a> {
    dtype: DType,
    p: usize,
    rank: usize,
    /// Elements of the whole buffer.
    n: u64,
    sums: &'a Sums,
    /// The piece last received (or reduced), which the next round sends.
    out: Option<(u64, Bytes)>,
    /// The piece last reduced: at the end, the one this rank completed.
    reduced: Option<(u64, Bytes)>,
    ok: bool,
}

impl RingCheck<'_> {
    fn own(&self, k: u64) -> BytesMut {
        let (first, end) = part(self.n, self.p, k as usize);
        tensor::input(self.dtype, self.p, self.rank, first, (end - first) as usize)
    }

    fn check(&self, k: u64, data: &[u8]) -> bool {
        let first = part(self.n, self.p, k as usize).0;
        self.sums.first_mismatch(self.dtype, data, first).is_none()
    }

    /// Whether every reduced piece that reached this rank, p in all, was
    /// right.
    fn verified(&self) -> bool {
        self.ok
            && self
                .reduced
                .as_ref()
                .is_none_or(|(k, data)| self.check(*k, data))
    }
}

impl Buffer for RingCheck<'_> {
    fn outgoing(&mut self, piece: Piece, _: Range<usize>) -> Bytes {
        match &self.out {
            Some((k, data)) if *k == piece.index => data.clone(),
            _ => self.own(piece.index).freeze(),
        }
    }

    fn incoming(&mut self, _: usize, piece: Piece, _: Range<usize>, into: Combine, got: &Bytes) {
        let k = piece.index;
        match into {
            Combine::Reduce => {
                let mut acc = self.own(k);
                tensor::reduce_into(self.dtype, &mut acc, got);
                let acc = acc.freeze();
                self.reduced = Some((k, acc.clone()));
                self.out = Some((k, acc));
            }
            Combine::Copy | Combine::Slot => {
                self.ok &= self.check(k, got);
                self.out = Some((k, got.clone()));
            }
        }
    }
}

/// A test input that is sent from and never written: what arrives is
/// checked against the sender's input for the same elements.
struct Exchange {
    dtype: DType,
    p: usize,
    input: Bytes,
    ok: bool,
}

impl Buffer for Exchange {
    fn outgoing(&mut self, _: Piece, range: Range<usize>) -> Bytes {
        self.input.slice(range)
    }

    fn incoming(&mut self, from: usize, _: Piece, range: Range<usize>, _: Combine, got: &Bytes) {
        let (dtype, p) = (self.dtype, self.p);
        let first = (range.start / dtype.size()) as u64;
        self.ok &= tensor::first_mismatch(dtype, got, first, |i| tensor::value(dtype, p, from, i))
            .is_none();
    }
}

impl Comm {
    /// Follows every call of `schedule` on a buffer of `n` elements of
    /// `size` bytes.
    async fn follow(
        &self,
        schedule: &Schedule,
        n: u64,
        size: usize,
        buf: &mut impl Buffer,
    ) -> Result<(), CommError> {
        for call in &schedule.calls {
            self.follow_call(call, n, size, buf).await?;
        }
        Ok(())
    }

    /// One call: a fresh id, then its rounds as this rank sees them.
    async fn follow_call(
        &self,
        call: &Call,
        n: u64,
        size: usize,
        buf: &mut impl Buffer,
    ) -> Result<(), CommError> {
        let r = self.rank;
        let id = self.call();
        let range = |piece| {
            let (a, b) = call.cut.range(piece, n, size as u64);
            a as usize..b as usize
        };
        let mut sends = Vec::new();
        for round in &call.rounds {
            for t in round.iter().filter(|t| t.from == r) {
                let at = range(t.piece);
                let out = buf.outgoing(t.piece, at.clone());
                sends.push(self.send(t.to, id, t.tag, at.start as u64, out));
            }
            for t in round.iter().filter(|t| t.to == r) {
                let got = self.recv(t.from, id, t.tag).await?;
                let at = range(t.piece);
                self.expect_len(&got, at.len(), t.from)?;
                buf.incoming(t.from, t.piece, at, t.into, &got);
            }
            if call.wait == Wait::Round {
                Self::join(std::mem::take(&mut sends)).await?;
            }
        }
        Self::join(sends).await
    }

    /// Sums `data` over all ranks, in place.
    pub(crate) async fn allreduce(
        &self,
        algorithm: Algorithm,
        dtype: DType,
        data: &mut BytesMut,
    ) -> Result<(), CommError> {
        let s = schedule(Op::AllReduce, algorithm, self.size(), data.len() as u64);
        let n = (data.len() / dtype.size()) as u64;
        self.follow(&s, n, dtype.size(), &mut Whole { dtype, data })
            .await
    }

    /// Runs `op` once on this rank's input for a buffer of `bytes`, and
    /// checks the result. Returns whether it matched.
    pub(crate) async fn run_op(
        &self,
        op: Op,
        algorithm: Algorithm,
        dtype: DType,
        bytes: u64,
        sums: &Sums,
    ) -> Result<bool, CommError> {
        let (p, r) = (self.size(), self.rank);
        let size = dtype.size();
        let n = bytes / size as u64;
        let s = schedule(op, algorithm, p, n * size as u64);
        match op {
            Op::AllReduce if algorithm == Algorithm::Ring => {
                let mut buf = RingCheck {
                    dtype,
                    p,
                    rank: r,
                    n,
                    sums,
                    out: None,
                    reduced: None,
                    ok: true,
                };
                self.follow(&s, n, size, &mut buf).await?;
                Ok(buf.verified())
            }
            Op::AllToAll | Op::SendRecv => {
                let input = tensor::input(dtype, p, r, 0, n as usize).freeze();
                let mut buf = Exchange {
                    dtype,
                    p,
                    input,
                    ok: true,
                };
                self.follow(&s, n, size, &mut buf).await?;
                Ok(buf.ok)
            }
            Op::AllReduce | Op::ReduceScatter | Op::AllGather | Op::Broadcast => {
                let mut data = self.op_input(op, dtype, n);
                self.follow(
                    &s,
                    n,
                    size,
                    &mut Whole {
                        dtype,
                        data: &mut data,
                    },
                )
                .await?;
                Ok(self.op_verified(op, dtype, n, &data, sums))
            }
        }
    }

    /// Byte range of ring part `k` of `n` elements.
    fn seg(&self, dtype: DType, n: u64, k: usize) -> Range<usize> {
        let piece = Piece {
            index: k as u64,
            of: self.size() as u64,
        };
        let (a, b) = Cut::Elements.range(piece, n, dtype.size() as u64);
        a as usize..b as usize
    }

    /// This rank's whole buffer of `n` elements before `op`: its test input
    /// (all-reduce, reduce-scatter), its own part of it (all-gather), rank
    /// 0's input or zeros (broadcast).
    fn op_input(&self, op: Op, dtype: DType, n: u64) -> BytesMut {
        let (p, r) = (self.size(), self.rank);
        match op {
            Op::AllGather => {
                let mut data = BytesMut::zeroed(n as usize * dtype.size());
                let (first, end) = part(n, p, r);
                let own = tensor::input(dtype, p, r, first, (end - first) as usize);
                data[self.seg(dtype, n, r)].copy_from_slice(&own);
                data
            }
            Op::Broadcast if r != 0 => BytesMut::zeroed(n as usize * dtype.size()),
            _ => tensor::input(dtype, p, r, 0, n as usize),
        }
    }

    /// Whether `data` is what `op` should leave on this rank: the sums
    /// (all-reduce), part r of them (reduce-scatter), every rank's part
    /// (all-gather), rank 0's input (broadcast).
    fn op_verified(&self, op: Op, dtype: DType, n: u64, data: &[u8], sums: &Sums) -> bool {
        let (p, r) = (self.size(), self.rank);
        let from = |k: usize| part(n, p, k).0;
        match op {
            Op::ReduceScatter => sums
                .first_mismatch(dtype, &data[self.seg(dtype, n, r)], from(r))
                .is_none(),
            Op::AllGather => (0..p).all(|k| {
                tensor::first_mismatch(dtype, &data[self.seg(dtype, n, k)], from(k), |i| {
                    tensor::value(dtype, p, k, i)
                })
                .is_none()
            }),
            Op::Broadcast => {
                tensor::first_mismatch(dtype, data, 0, |i| tensor::value(dtype, p, 0, i)).is_none()
            }
            _ => sums.first_mismatch(dtype, data, 0).is_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use orbnet_netem::SatId;

    use super::*;

    /// Runs `s` on every rank's buffer in lockstep, with no network: in each
    /// round every sender's piece is taken, then delivered (each rank sends
    /// before it receives within a round, as [`Comm::follow`] does).
    /// `tamper` adds one to the first byte of the last message of the last
    /// round.
    fn lockstep<B: Buffer>(s: &Schedule, n: u64, size: usize, bufs: &mut [B], tamper: bool) {
        let rounds: Vec<(&Call, &Vec<_>)> = s
            .calls
            .iter()
            .flat_map(|c| c.rounds.iter().map(move |r| (c, r)))
            .collect();
        for (i, (call, round)) in rounds.iter().enumerate() {
            let at = |piece| {
                let (a, b) = call.cut.range(piece, n, size as u64);
                a as usize..b as usize
            };
            let mut sent: Vec<Bytes> = round
                .iter()
                .map(|t| bufs[t.from].outgoing(t.piece, at(t.piece)))
                .collect();
            if tamper
                && i + 1 == rounds.len()
                && let Some(last) = sent.last_mut()
                && !last.is_empty()
            {
                let mut bad = BytesMut::from(&last[..]);
                bad[0] = bad[0].wrapping_add(1);
                *last = bad.freeze();
            }
            for (t, got) in round.iter().zip(&sent) {
                bufs[t.to].incoming(t.from, t.piece, at(t.piece), t.into, got);
            }
        }
    }

    /// Rank `rank` of `p` with no connections (enough for its buffers).
    fn comm(p: usize, rank: usize) -> Comm {
        Comm::new(
            rank,
            (0..p as u32).map(SatId).collect(),
            (0..p).map(|i| format!("sat-{i}")).collect(),
            vec![None; p],
            Arc::new(super::super::Mailbox::default()),
        )
    }

    #[test]
    fn the_checked_ring_all_reduce_verifies_every_piece() {
        for dtype in [DType::F32, DType::Bf16] {
            for p in 2..=9 {
                let sums = Sums::new(dtype, p);
                for n in [1u64, 7, 1000] {
                    for tamper in [false, true] {
                        let s =
                            schedule(Op::AllReduce, Algorithm::Ring, p, n * dtype.size() as u64);
                        let mut bufs: Vec<RingCheck> = (0..p)
                            .map(|rank| RingCheck {
                                dtype,
                                p,
                                rank,
                                n,
                                sums: &sums,
                                out: None,
                                reduced: None,
                                ok: true,
                            })
                            .collect();
                        lockstep(&s, n, dtype.size(), &mut bufs, tamper);
                        let all = bufs.iter().all(RingCheck::verified);
                        // One element in p parts leaves most parts empty,
                        // and the tampered last message may be one of them.
                        if n >= p as u64 {
                            assert_eq!(all, !tamper, "{dtype:?} p={p} n={n}");
                        } else if !tamper {
                            assert!(all, "{dtype:?} p={p} n={n}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn whole_buffers_end_as_each_operation_should() {
        let dtype = DType::F32;
        for p in 2..=9 {
            let sums = Sums::new(dtype, p);
            for n in [1u64, 13, 3 << 18] {
                for (op, algorithm) in [
                    (Op::AllReduce, Algorithm::Tree),
                    (Op::AllReduce, Algorithm::HalvingDoubling),
                    (Op::AllReduce, Algorithm::Ring),
                    (Op::ReduceScatter, Algorithm::Ring),
                    (Op::AllGather, Algorithm::Ring),
                    (Op::Broadcast, Algorithm::Ring),
                    (Op::Broadcast, Algorithm::Tree),
                ] {
                    let comms: Vec<Comm> = (0..p).map(|r| comm(p, r)).collect();
                    let mut data: Vec<BytesMut> =
                        comms.iter().map(|c| c.op_input(op, dtype, n)).collect();
                    let s = schedule(op, algorithm, p, n * 4);
                    let mut bufs: Vec<Whole> =
                        data.iter_mut().map(|data| Whole { dtype, data }).collect();
                    lockstep(&s, n, 4, &mut bufs, false);
                    for (c, d) in comms.iter().zip(&data) {
                        assert!(
                            c.op_verified(op, dtype, n, d, &sums),
                            "{op:?} {algorithm:?} p={p} n={n} rank {}",
                            c.rank
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn exchanges_check_what_arrives() {
        let dtype = DType::Bf16;
        for p in 2..=9 {
            for n in [1u64, 13, 1000] {
                for op in [Op::AllToAll, Op::SendRecv] {
                    for tamper in [false, true] {
                        let s = schedule(op, Algorithm::Ring, p, n * 2);
                        let mut bufs: Vec<Exchange> = (0..p)
                            .map(|r| Exchange {
                                dtype,
                                p,
                                input: tensor::input(dtype, p, r, 0, n as usize).freeze(),
                                ok: true,
                            })
                            .collect();
                        lockstep(&s, n, 2, &mut bufs, tamper);
                        let all = bufs.iter().all(|b| b.ok);
                        if n >= p as u64 || !tamper {
                            assert_eq!(all, !tamper, "{op:?} p={p} n={n}");
                        }
                    }
                }
            }
        }
    }
}
