//! The step schedule of every collective algorithm, as data: in each round
//! of each call, which rank sends which piece of its buffer to whom, and
//! what the receiver does with it (adds it into its buffer, copies it over,
//! or keeps it apart). The α–β model ([`super::model_time`]) walks it to
//! price an algorithm, and the satellites' executor follows it on the wire,
//! so the model and the run cannot drift apart.
//!
//! A round is the model's unit of time: every transfer of a round starts
//! together and the round lasts α plus the time the busiest sender needs
//! for its bytes (Hockney's α + n/B). On the wire no rank waits for a round
//! to end: it posts its sends of the round, waits for its receives, and
//! goes on, so a ring's ranks wait only on their neighbours.

use crate::workload::{Algorithm, Op};

/// The largest power of two not above `p` (at least 1).
pub fn power_of_two_below(p: usize) -> usize {
    if p == 0 {
        1
    } else {
        1 << (usize::BITS - 1 - p.leading_zeros())
    }
}

/// ⌈log₂ p⌉.
pub fn ceil_log2(p: usize) -> u32 {
    p.max(1).next_power_of_two().trailing_zeros()
}

/// Pieces a ring (chain) broadcast pipelines `bytes` in: about 1 MiB each,
/// between 1 and 64.
pub fn broadcast_chunks(bytes: u64) -> u64 {
    (bytes >> 20).clamp(1, 64)
}

/// One of `of` pieces a buffer is cut into, numbered from 0 (how the cut
/// falls is its call's [`Cut`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Piece {
    pub index: u64,
    pub of: u64,
}

impl Piece {
    /// The whole buffer.
    pub const WHOLE: Piece = Piece { index: 0, of: 1 };
}

/// Where the boundaries of a call's pieces fall in a buffer of `n`
/// elements of `size` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// Piece k of m: elements [⌊n·k/m⌋, ⌊n·(k+1)/m⌋), so parts differ by
    /// at most one element and a reduction never splits one.
    Elements,
    /// Halved again and again (m a power of two): each range [lo, hi) splits
    /// at lo + ⌊(hi − lo)/2⌋, the lower half first, as the partners of a
    /// halving–doubling exchange split the range they share. Not always
    /// the boundaries of [`Cut::Elements`]: three elements in eight pieces
    /// end at 0, 0, 0, 1, 1, 2, 2, 3 halved, at 0, 0, 1, 1, 1, 2, 2, 3 evenly.
    Halves,
    /// Piece k of m: bytes [⌊b·k/m⌋, ⌊b·(k+1)/m⌋) of the b-byte buffer;
    /// only for calls that copy (a broadcast), which may split an element.
    Bytes,
}

impl Cut {
    /// The byte range [start, end) of `piece` in a buffer of `n` elements
    /// of `size` bytes.
    pub fn range(self, piece: Piece, n: u64, size: u64) -> (u64, u64) {
        let floor = |total: u64, k: u64| {
            u64::try_from(u128::from(total) * u128::from(k) / u128::from(piece.of.max(1)))
                .unwrap_or(u64::MAX)
        };
        match self {
            Cut::Elements => (
                floor(n, piece.index) * size,
                floor(n, piece.index + 1) * size,
            ),
            Cut::Bytes => (
                floor(n * size, piece.index),
                floor(n * size, piece.index + 1),
            ),
            Cut::Halves => {
                let (mut lo, mut hi) = (0, n);
                let mut half = piece.of / 2;
                while half > 0 {
                    let mid = lo + (hi - lo) / 2;
                    if piece.index & half == 0 {
                        hi = mid;
                    } else {
                        lo = mid;
                    }
                    half /= 2;
                }
                (lo * size, hi * size)
            }
        }
    }
}

/// What a receiver does with a piece.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Combine {
    /// Adds it, element by element, into the same piece of its buffer.
    Reduce,
    /// Copies it over the same piece of its buffer.
    Copy,
    /// Keeps it apart, in a slot of the sender's own (all-to-all and
    /// send/recv: the receiver's buffer is not touched).
    Slot,
}

/// One message: `from` sends `piece` of its buffer to `to`, tagged `tag` on
/// the wire (the step number of its chunk header).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transfer {
    pub from: usize,
    pub to: usize,
    pub tag: u32,
    pub piece: Piece,
    pub into: Combine,
}

/// When a rank waits for its own sends to be handed over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// At the end of every round (rings: a rank sends its next piece only
    /// once the last one is out).
    Round,
    /// Once, at the end of the call (trees, halving–doubling, the chain
    /// broadcast, all-to-all, send/recv: sends overlap what follows).
    Call,
}

/// One collective call: its own id on the wire, and its rounds. Within a
/// round a rank's sends go in the order listed, then it receives in the
/// order listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    pub cut: Cut,
    pub wait: Wait,
    pub rounds: Vec<Vec<Transfer>>,
}

/// The calls one operation makes, in order (a ring all-reduce is a
/// reduce-scatter call, then an all-gather call).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub ranks: usize,
    pub calls: Vec<Call>,
}

/// The schedule of `op` by `algorithm` over `p` ranks on a buffer of
/// `bytes` bytes (which only the chain broadcast's piece count depends on).
pub fn schedule(op: Op, algorithm: Algorithm, p: usize, bytes: u64) -> Schedule {
    let calls = match (op, algorithm) {
        (Op::AllReduce, Algorithm::Ring) => {
            vec![ring(p, 0, Combine::Reduce), ring(p, 1, Combine::Copy)]
        }
        (Op::AllReduce, Algorithm::Tree) => vec![tree_reduce(p), tree_broadcast(p)],
        (Op::AllReduce, Algorithm::HalvingDoubling) => vec![halving_doubling(p)],
        // Shifted by p − 1, part r ends complete on rank r.
        (Op::ReduceScatter, _) => vec![ring(p, p.saturating_sub(1), Combine::Reduce)],
        (Op::AllGather, _) => vec![ring(p, 0, Combine::Copy)],
        (Op::Broadcast, Algorithm::Ring) => vec![chain(p, broadcast_chunks(bytes))],
        (Op::Broadcast, Algorithm::Tree | Algorithm::HalvingDoubling) => vec![tree_broadcast(p)],
        (Op::AllToAll, _) => vec![all_to_all(p)],
        (Op::SendRecv, _) => vec![send_recv(p)],
    };
    Schedule { ranks: p, calls }
}

/// p − 1 rounds around the ring: in round s rank r sends part
/// r + shift − s (mod p) to r + 1, which receives it `into` its buffer.
fn ring(p: usize, shift: usize, into: Combine) -> Call {
    let rounds = (0..p.saturating_sub(1))
        .map(|s| {
            (0..p)
                .map(|r| Transfer {
                    from: r,
                    to: (r + 1) % p,
                    tag: s as u32,
                    piece: Piece {
                        index: ((r + shift + 2 * p - s) % p) as u64,
                        of: p as u64,
                    },
                    into,
                })
                .collect()
        })
        .collect();
    Call {
        cut: Cut::Elements,
        wait: Wait::Round,
        rounds,
    }
}

/// Reduce up the binomial tree rooted at rank 0 (rank r's parent is r with
/// its lowest set bit cleared): in round k the ranks whose lowest set bit
/// is 2^k send their whole buffer to their parent. ⌈log₂ p⌉ rounds.
fn tree_reduce(p: usize) -> Call {
    let rounds = (0..ceil_log2(p))
        .map(|k| {
            (1..p)
                .filter(|r| r.trailing_zeros() == k)
                .map(|r| Transfer {
                    from: r,
                    to: r & (r - 1),
                    tag: 0,
                    piece: Piece::WHOLE,
                    into: Combine::Reduce,
                })
                .collect()
        })
        .collect();
    Call {
        cut: Cut::Elements,
        wait: Wait::Call,
        rounds,
    }
}

/// Broadcast down the same tree, the farthest subtree first (it has the
/// most forwarding left to do): with L = ⌈log₂ p⌉, in round t every rank
/// that holds the data and is a multiple of 2^(j+1), j = L − 1 − t, sends
/// it to rank r + 2^j.
fn tree_broadcast(p: usize) -> Call {
    let levels = ceil_log2(p);
    let rounds = (0..levels)
        .map(|t| {
            let step = 1usize << (levels - 1 - t);
            (0..p)
                .step_by(2 * step)
                .filter(|r| r + step < p)
                .map(|r| Transfer {
                    from: r,
                    to: r + step,
                    tag: 0,
                    piece: Piece::WHOLE,
                    into: Combine::Copy,
                })
                .collect()
        })
        .collect();
    Call {
        cut: Cut::Elements,
        wait: Wait::Call,
        rounds,
    }
}

/// Recursive halving–doubling all-reduce (see [`Algorithm::HalvingDoubling`]),
/// q the largest power of two ≤ p. Tags: 0 for the fold of ranks q.. into
/// r − q, 1 for the result going back to them, 2.. for the exchanges.
fn halving_doubling(p: usize) -> Call {
    let q = power_of_two_below(p);
    let levels = q.trailing_zeros();
    let whole = |from, to, tag, into| Transfer {
        from,
        to,
        tag,
        piece: Piece::WHOLE,
        into,
    };
    let mut rounds: Vec<Vec<Transfer>> = Vec::new();
    if q < p {
        rounds.push(
            (q..p)
                .map(|r| whole(r, r - q, 0, Combine::Reduce))
                .collect(),
        );
    }
    // Reduce-scatter: at level m (partners q/2^m apart) rank r keeps the
    // piece of its range that the m-th highest bit of r picks and hands
    // the other half to its partner.
    let mut tag = 2;
    for m in 1..=levels {
        let mask = q >> m;
        rounds.push(
            (0..q)
                .map(|r| Transfer {
                    from: r,
                    to: r ^ mask,
                    tag,
                    piece: Piece {
                        index: ((r >> (levels - m)) ^ 1) as u64,
                        of: 1 << m,
                    },
                    into: Combine::Reduce,
                })
                .collect(),
        );
        tag += 1;
    }
    // All-gather: the same partners in reverse; each rank sends the range
    // it holds complete, which doubles every round.
    for m in (1..=levels).rev() {
        let mask = q >> m;
        rounds.push(
            (0..q)
                .map(|r| Transfer {
                    from: r,
                    to: r ^ mask,
                    tag,
                    piece: Piece {
                        index: (r >> (levels - m)) as u64,
                        of: 1 << m,
                    },
                    into: Combine::Copy,
                })
                .collect(),
        );
        tag += 1;
    }
    if q < p {
        rounds.push((q..p).map(|r| whole(r - q, r, 1, Combine::Copy)).collect());
    }
    Call {
        cut: Cut::Halves,
        wait: Wait::Call,
        rounds,
    }
}

/// Chain broadcast from rank 0 along the ring in `chunks` pieces, tagged
/// by piece: in round t rank i forwards piece t − i to rank i + 1, so every
/// hop works at once after p − 2 rounds of filling the pipe.
fn chain(p: usize, chunks: u64) -> Call {
    let hops = p.saturating_sub(1) as u64;
    let rounds = (0..(hops + chunks).saturating_sub(1))
        .map(|t| {
            (0..hops)
                .filter(|&i| i <= t && t - i < chunks)
                .map(|i| Transfer {
                    from: i as usize,
                    to: i as usize + 1,
                    tag: (t - i) as u32,
                    piece: Piece {
                        index: t - i,
                        of: chunks,
                    },
                    into: Combine::Copy,
                })
                .collect()
        })
        .collect();
    Call {
        cut: Cut::Bytes,
        wait: Wait::Call,
        rounds: if hops == 0 { Vec::new() } else { rounds },
    }
}

/// One round in which every rank sends part d of its buffer to every other
/// rank d, in order of d.
fn all_to_all(p: usize) -> Call {
    let round: Vec<Transfer> = (0..p)
        .flat_map(|a| (0..p).filter(move |&b| b != a).map(move |b| (a, b)))
        .map(|(a, b)| Transfer {
            from: a,
            to: b,
            tag: 0,
            piece: Piece {
                index: b as u64,
                of: p as u64,
            },
            into: Combine::Slot,
        })
        .collect();
    Call {
        cut: Cut::Elements,
        wait: Wait::Call,
        rounds: if round.is_empty() {
            Vec::new()
        } else {
            vec![round]
        },
    }
}

/// One round in which every rank sends its whole buffer to the next one in
/// the ring.
fn send_recv(p: usize) -> Call {
    let round: Vec<Transfer> = (0..p)
        .filter(|_| p > 1)
        .map(|r| Transfer {
            from: r,
            to: (r + 1) % p,
            tag: 0,
            piece: Piece::WHOLE,
            into: Combine::Slot,
        })
        .collect();
    Call {
        cut: Cut::Elements,
        wait: Wait::Call,
        rounds: if round.is_empty() {
            Vec::new()
        } else {
            vec![round]
        },
    }
}

/// A fraction num/den of the buffer, kept exact while a schedule is walked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fraction {
    pub num: u64,
    pub den: u64,
}

impl Fraction {
    const ZERO: Fraction = Fraction { num: 0, den: 1 };

    fn add(self, o: Fraction) -> Fraction {
        let num = self.num * o.den + o.num * self.den;
        let den = self.den * o.den;
        let g = gcd(num, den);
        Fraction {
            num: num / g,
            den: den / g,
        }
    }

    fn max(self, o: Fraction) -> Fraction {
        if u128::from(o.num) * u128::from(self.den) > u128::from(self.num) * u128::from(o.den) {
            o
        } else {
            self
        }
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a.max(1) } else { gcd(b, a % b) }
}

/// What the α–β model charges a schedule: `rounds` latencies α, and
/// `volume` of the buffer through the bottleneck rate B; its time for n
/// bytes is rounds·α + volume·n/B.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cost {
    pub rounds: u64,
    pub volume: Fraction,
}

impl Schedule {
    /// Walks the rounds: each costs one α, and the largest share of the
    /// buffer any rank sends in it (a sender's messages of one round queue
    /// behind each other at rate B).
    pub fn cost(&self) -> Cost {
        let mut cost = Cost {
            rounds: 0,
            volume: Fraction::ZERO,
        };
        let mut sent = vec![Fraction::ZERO; self.ranks];
        for round in self.calls.iter().flat_map(|c| &c.rounds) {
            sent.fill(Fraction::ZERO);
            for t in round {
                if let Some(s) = sent.get_mut(t.from) {
                    *s = s.add(Fraction {
                        num: 1,
                        den: t.piece.of.max(1),
                    });
                }
            }
            let busiest = sent.iter().fold(Fraction::ZERO, |m, &s| m.max(s));
            cost.rounds += 1;
            cost.volume = cost.volume.add(busiest);
        }
        cost
    }
}

impl Cost {
    /// Seconds for a buffer of `bytes`, α in seconds and B in bytes per
    /// second. Written as one product per term, in the order of the ring
    /// closed forms it replaces (2(p−1)·α + 2(p−1)/p · n/B), so that the
    /// ring figures results report come out to the bit. Forms that were
    /// written factored, as a tree's ⌈log₂ p⌉(α + n/B), are the same sum
    /// rounded differently: they may differ in the last bit.
    pub fn time(&self, bytes: f64, alpha: f64, b: f64) -> f64 {
        let share = self.volume.num as f64 / self.volume.den as f64;
        self.rounds as f64 * alpha + share * bytes / b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPS: [Op; 6] = [
        Op::AllReduce,
        Op::ReduceScatter,
        Op::AllGather,
        Op::Broadcast,
        Op::AllToAll,
        Op::SendRecv,
    ];
    const ALGORITHMS: [Algorithm; 3] =
        [Algorithm::Ring, Algorithm::Tree, Algorithm::HalvingDoubling];

    /// The closed forms of the α–β model, as the literature gives them
    /// (Thakur, Rabenseifner & Gropp 2005; the chain broadcast's pipeline of
    /// c pieces over p − 1 hops) and as `model_time` computed them before it
    /// walked the schedule.
    fn closed_form(op: Op, algorithm: Algorithm, p: usize, n: f64, alpha: f64, b: f64) -> f64 {
        let pf = p as f64;
        let logp = f64::from(ceil_log2(p));
        match (op, algorithm) {
            (Op::AllReduce, Algorithm::Ring) => {
                2.0 * (pf - 1.0) * alpha + 2.0 * (pf - 1.0) / pf * n / b
            }
            (Op::AllReduce, Algorithm::Tree) => 2.0 * logp * (alpha + n / b),
            (Op::AllReduce, Algorithm::HalvingDoubling) => {
                let q = power_of_two_below(p) as f64;
                let fold = if (q as usize) < p {
                    2.0 * (alpha + n / b)
                } else {
                    0.0
                };
                2.0 * q.log2() * alpha + 2.0 * (q - 1.0) / q * n / b + fold
            }
            (Op::ReduceScatter | Op::AllGather, _) => (pf - 1.0) * alpha + (pf - 1.0) / pf * n / b,
            (Op::Broadcast, Algorithm::Tree | Algorithm::HalvingDoubling) => logp * (alpha + n / b),
            (Op::Broadcast, Algorithm::Ring) => {
                let c = broadcast_chunks(n as u64) as f64;
                (pf - 2.0 + c) * (alpha + n / c / b)
            }
            (Op::AllToAll, _) => alpha + (pf - 1.0) / pf * n / b,
            (Op::SendRecv, _) => alpha + n / b,
        }
    }

    #[test]
    fn walking_the_schedule_gives_the_closed_forms() {
        let (alpha, b) = (3.7e-3, 1.25e9);
        for p in 2..=17 {
            for bytes in [4u64, 1 << 20, 48 << 20, 1 << 30] {
                for op in OPS {
                    for algorithm in ALGORITHMS {
                        let n = bytes as f64;
                        let walked = schedule(op, algorithm, p, bytes).cost().time(n, alpha, b);
                        let closed = closed_form(op, algorithm, p, n, alpha, b);
                        let tol = 1e-12 * closed;
                        assert!(
                            (walked - closed).abs() <= tol,
                            "{op:?} {algorithm:?} p={p} {bytes} B: {walked} vs {closed}"
                        );
                    }
                }
                // The ring all-reduce, which results report, to the bit.
                let n = bytes as f64;
                let walked = schedule(Op::AllReduce, Algorithm::Ring, p, bytes)
                    .cost()
                    .time(n, alpha, b);
                let closed = closed_form(Op::AllReduce, Algorithm::Ring, p, n, alpha, b);
                assert_eq!(walked.to_bits(), closed.to_bits(), "p={p} {bytes} B");
            }
        }
    }

    #[test]
    fn a_ring_all_reduce_costs_2_p_minus_1_steps_of_a_pth() {
        let c = schedule(Op::AllReduce, Algorithm::Ring, 8, 1 << 20).cost();
        assert_eq!(c.rounds, 14);
        assert_eq!(c.volume, Fraction { num: 7, den: 4 });
        // nccl-tests' bus factor is the volume each rank moves: 2(p−1)/p.
        assert!((Op::AllReduce.bus_factor(8) - 7.0 / 4.0).abs() < 1e-15);
    }

    /// What each rank kept apart: (sender, elements), in arrival order.
    type Slots = Vec<Vec<(usize, Vec<u64>)>>;

    /// Runs a schedule on integer buffers, every round in lockstep (sends
    /// read the buffers as the round starts, as each rank sends before it
    /// receives), and returns every rank's buffer and slots.
    fn simulate(s: &Schedule, inputs: &[Vec<u64>]) -> (Vec<Vec<u64>>, Slots) {
        let mut bufs = inputs.to_vec();
        let mut slots = vec![Vec::new(); s.ranks];
        for call in &s.calls {
            for round in &call.rounds {
                let sent: Vec<(Transfer, Vec<u64>)> = round
                    .iter()
                    .map(|t| {
                        let n = bufs[t.from].len() as u64;
                        let (a, b) = call.cut.range(t.piece, n, 1);
                        (*t, bufs[t.from][a as usize..b as usize].to_vec())
                    })
                    .collect();
                for (t, data) in sent {
                    let n = bufs[t.to].len() as u64;
                    let (a, b) = call.cut.range(t.piece, n, 1);
                    let to = &mut bufs[t.to][a as usize..b as usize];
                    match t.into {
                        Combine::Reduce => to.iter_mut().zip(&data).for_each(|(x, y)| *x += y),
                        Combine::Copy => to.copy_from_slice(&data),
                        Combine::Slot => slots[t.to].push((t.from, data)),
                    }
                }
            }
        }
        (bufs, slots)
    }

    #[test]
    fn schedules_compute_their_collectives() {
        for p in 1..=13usize {
            for n in [1u64, 3, 7, 16, 29] {
                let input =
                    |r: usize| -> Vec<u64> { (0..n).map(|i| (r as u64 + 1) * 1000 + i).collect() };
                let inputs: Vec<Vec<u64>> = (0..p).map(input).collect();
                let sum: Vec<u64> = (0..n as usize)
                    .map(|i| inputs.iter().map(|v| v[i]).sum())
                    .collect();
                let part = |k: usize| {
                    Cut::Elements.range(
                        Piece {
                            index: k as u64,
                            of: p as u64,
                        },
                        n,
                        1,
                    )
                };
                for algorithm in ALGORITHMS {
                    let ctx = format!("{algorithm:?} p={p} n={n}");
                    let run = |op| simulate(&schedule(op, algorithm, p, n), &inputs);
                    let (all, _) = run(Op::AllReduce);
                    assert!(all.iter().all(|b| *b == sum), "all-reduce {ctx}");
                    let (rs, _) = run(Op::ReduceScatter);
                    for (r, b) in rs.iter().enumerate() {
                        let (a, e) = part(r);
                        assert_eq!(
                            b[a as usize..e as usize],
                            sum[a as usize..e as usize],
                            "reduce-scatter {ctx}"
                        );
                    }
                    // All-gather: rank r starts with its own part only.
                    let mut own = vec![vec![0; n as usize]; p];
                    for (r, o) in own.iter_mut().enumerate() {
                        let (a, e) = part(r);
                        o[a as usize..e as usize]
                            .copy_from_slice(&inputs[r][a as usize..e as usize]);
                    }
                    let gathered: Vec<u64> = (0..n as usize)
                        .map(|i| own.iter().map(|v| v[i]).sum())
                        .collect();
                    let (ag, _) = simulate(&schedule(Op::AllGather, algorithm, p, n), &own);
                    assert!(ag.iter().all(|b| *b == gathered), "all-gather {ctx}");
                    let (bc, _) = run(Op::Broadcast);
                    assert!(bc.iter().all(|b| *b == inputs[0]), "broadcast {ctx}");
                    // The chain in several pieces (a small n is one piece).
                    let five = Schedule {
                        ranks: p,
                        calls: vec![chain(p, 5)],
                    };
                    let (bc, _) = simulate(&five, &inputs);
                    assert!(bc.iter().all(|b| *b == inputs[0]), "chain {ctx}");
                    let (_, slots) = run(Op::AllToAll);
                    for (r, got) in slots.iter().enumerate() {
                        let (a, e) = part(r);
                        let want: Vec<(usize, Vec<u64>)> = (0..p)
                            .filter(|&s| s != r)
                            .map(|s| (s, inputs[s][a as usize..e as usize].to_vec()))
                            .collect();
                        assert_eq!(*got, want, "all-to-all {ctx}");
                    }
                    let (_, slots) = run(Op::SendRecv);
                    for (r, got) in slots.iter().enumerate() {
                        let prev = (r + p - 1) % p;
                        let want = if p > 1 {
                            vec![(prev, inputs[prev].clone())]
                        } else {
                            Vec::new()
                        };
                        assert_eq!(*got, want, "send/recv {ctx}");
                    }
                }
            }
        }
    }

    #[test]
    fn wire_tags_are_unique_and_pairs_are_connected() {
        // A receiver finds a message by (sender, call, tag): no two
        // transfers of one call may share them.
        for p in 1..=17 {
            for op in OPS {
                for algorithm in ALGORITHMS {
                    let s = schedule(op, algorithm, p, 5 << 20);
                    let pairs = super::super::pairs(op, algorithm, p);
                    for call in &s.calls {
                        let mut seen = std::collections::BTreeSet::new();
                        for t in call.rounds.iter().flatten() {
                            assert!(
                                seen.insert((t.from, t.to, t.tag)),
                                "{op:?} {algorithm:?} p={p}: {t:?}"
                            );
                            assert!(
                                pairs.contains(&(t.from, t.to)),
                                "{op:?} {algorithm:?} p={p}: {t:?}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn ring_message_holds_every_ring_piece() {
        for p in 2..=17 {
            for bytes in [4u64, 1000, (1 << 20) + 4, 70 << 20] {
                for op in [
                    Op::AllReduce,
                    Op::ReduceScatter,
                    Op::AllGather,
                    Op::Broadcast,
                ] {
                    let s = schedule(op, Algorithm::Ring, p, bytes);
                    let largest = s
                        .calls
                        .iter()
                        .flat_map(|c| {
                            c.rounds
                                .iter()
                                .flatten()
                                .map(|t| c.cut.range(t.piece, bytes / 4, 4))
                        })
                        .map(|(a, b)| b - a)
                        .max()
                        .unwrap_or(0);
                    let m = super::super::ring_message(op, Algorithm::Ring, p, bytes);
                    assert!(
                        m.is_some_and(|m| m >= largest + 32),
                        "{op:?} p={p} {bytes}: {m:?} < {largest}"
                    );
                }
            }
        }
    }

    #[test]
    fn halves_split_as_the_exchange_does() {
        // Three elements in eight pieces.
        let ends: Vec<u64> = (0..8)
            .map(|k| Cut::Halves.range(Piece { index: k, of: 8 }, 3, 1).1)
            .collect();
        assert_eq!(ends, [0, 0, 0, 1, 1, 2, 2, 3]);
        let ends: Vec<u64> = (0..8)
            .map(|k| Cut::Elements.range(Piece { index: k, of: 8 }, 3, 1).1)
            .collect();
        assert_eq!(ends, [0, 0, 1, 1, 1, 2, 2, 3]);
    }
}
