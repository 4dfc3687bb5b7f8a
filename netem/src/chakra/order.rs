//! Ordering a rank's nodes so that each comes after everything it waits
//! for: Kahn's algorithm ("Topological sorting of large networks", CACM
//! 1962), always taking the ready node that came first in the file, so a
//! file already in order keeps its order. When nodes are left over they
//! wait on a cycle; following waits among them from any one must come back
//! to a node seen before, which is on the cycle.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// The order of nodes `0..deps.len()` in which every node comes after its
/// `deps`, or `Err` with a node on a dependency cycle. Dependencies must be
/// node indices.
pub(crate) fn topological(deps: &[Vec<usize>]) -> Result<Vec<usize>, usize> {
    let n = deps.len();
    let mut waiting: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (node, ds) in deps.iter().enumerate() {
        for &d in ds {
            dependents[d].push(node);
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> =
        (0..n).filter(|&i| waiting[i] == 0).map(Reverse).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(Reverse(node)) = ready.pop() {
        order.push(node);
        for &next in &dependents[node] {
            waiting[next] -= 1;
            if waiting[next] == 0 {
                ready.push(Reverse(next));
            }
        }
    }
    if order.len() == n {
        Ok(order)
    } else {
        Err(on_cycle(deps, &waiting))
    }
}

/// A node on a cycle among those still `waiting` after Kahn's algorithm:
/// each waits for at least one other such node.
fn on_cycle(deps: &[Vec<usize>], waiting: &[usize]) -> usize {
    let left = |i: usize| waiting[i] > 0;
    let mut seen = vec![false; deps.len()];
    let mut node = (0..deps.len()).find(|&i| left(i)).unwrap_or(0);
    while !seen[node] {
        seen[node] = true;
        match deps[node].iter().copied().find(|&d| left(d)) {
            Some(d) => node = d,
            None => break,
        }
    }
    node
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_file_order_when_it_is_already_an_order() {
        let deps = vec![vec![], vec![0], vec![0], vec![1, 2]];
        assert_eq!(topological(&deps), Ok(vec![0, 1, 2, 3]));
    }

    #[test]
    fn moves_forward_references_after_their_targets() {
        // Node 0 waits for node 2 (a forward reference, as in PyTorch traces).
        let deps = vec![vec![2], vec![], vec![1]];
        assert_eq!(topological(&deps), Ok(vec![1, 2, 0]));
    }

    #[test]
    fn names_a_node_on_the_cycle_not_one_downstream_of_it() {
        // 0 → (waits for) 3; 3 waits for 2; 2 waits for 1; 1 waits for 2.
        let deps = vec![vec![3], vec![2], vec![1], vec![2]];
        let at = topological(&deps).expect_err("cycle");
        assert!(at == 1 || at == 2, "{at}");
        assert_eq!(topological(&[vec![0]]), Err(0));
    }
}
