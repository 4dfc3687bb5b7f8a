//! Host 0 gathers the hosts of a split run: it accepts connections until
//! every host has said hello, and checks that all agree with it on the
//! build, the number of hosts, the scenario and the placement. A host that
//! disagrees, or two that claim one index, stop every host (exit 2); a
//! host that never comes, or leaves before the start, fails the run.
//! Hosts may come in any order, and connections that never say hello (a
//! probe of the port) are dropped.

use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::protocol::{Hello, Incoming, Link, ToCoordinator, ToHost, VERSION};
use crate::Failure;

/// How long host 0 waits for every host to join (pods and batch tasks may
/// start minutes apart on a busy cluster).
pub(super) const JOIN_TIMEOUT: Duration = Duration::from_secs(300);

/// Every host, joined.
#[derive(Debug)]
pub(super) struct Joined {
    /// Each host's connection, by host index.
    pub links: Vec<Link<ToHost>>,
    /// What the hosts send, tagged by connection.
    pub inbox: mpsc::UnboundedReceiver<(usize, Incoming<ToCoordinator>)>,
    /// The host on each connection (`None`: dropped before it said hello).
    pub host_of_conn: Vec<Option<usize>>,
}

/// Why a host's hello does not agree with host 0's (`ours`).
pub(super) fn disagreement(ours: &Hello, theirs: &Hello) -> Option<String> {
    let k = theirs.index;
    if (theirs.protocol, &theirs.orbnet) != (ours.protocol, &ours.orbnet) {
        return Some(format!(
            "host {k} runs orbnet {} (protocol {}) and host 0 orbnet {} (protocol {}): \
             every host must run the same build",
            theirs.orbnet, theirs.protocol, ours.orbnet, ours.protocol
        ));
    }
    if theirs.hosts != ours.hosts {
        return Some(format!(
            "host {k} counts {} hosts and host 0 counts {}: every host must be given \
             the same --hosts (or job size)",
            theirs.hosts, ours.hosts
        ));
    }
    if theirs.index >= ours.hosts {
        return Some(format!(
            "a host says it is host {k} of a run of {} hosts",
            ours.hosts
        ));
    }
    if theirs.scenario != ours.scenario {
        return Some(format!(
            "host {k}'s scenario differs from host 0's (digest {:016x} against {:016x}): \
             every host must run the same scenario file, files it refers to and overrides",
            theirs.scenario, ours.scenario
        ));
    }
    if theirs.placement != ours.placement {
        return Some(format!(
            "host {k} places the satellites differently from host 0 (digest {:016x} \
             against {:016x})",
            theirs.placement, ours.placement
        ));
    }
    None
}

/// Accepts hosts on `listener` until all of `ours.hosts` have joined;
/// `names(k)` names host k and its satellites in messages.
pub(super) async fn join(
    listener: TcpListener,
    ours: &Hello,
    names: &dyn Fn(usize) -> String,
) -> Result<Joined, Failure> {
    debug_assert_eq!(ours.protocol, VERSION);
    let n = ours.hosts as usize;
    let (tx, mut inbox) = mpsc::unbounded_channel();
    let mut conns: Vec<Option<Link<ToHost>>> = Vec::new();
    let mut host_of_conn: Vec<Option<usize>> = Vec::new();
    let mut conn_of_host: Vec<Option<usize>> = vec![None; n];
    let deadline = tokio::time::sleep(JOIN_TIMEOUT);
    tokio::pin!(deadline);
    let mut sigterm = super::sigterm()?;
    let failure = loop {
        if conn_of_host.iter().all(Option::is_some) {
            break None;
        }
        tokio::select! {
            a = listener.accept() => match a {
                Ok((stream, from)) => match Link::new(stream, conns.len(), tx.clone(), ToHost::Alive) {
                    Ok(link) => {
                        tracing::debug!(%from, "a host connected");
                        conns.push(Some(link));
                        host_of_conn.push(None);
                    }
                    Err(e) => tracing::warn!("serving the host at {from}: {e}"),
                },
                Err(e) => tracing::warn!("accepting a host: {e}"),
            },
            Some((c, m)) = inbox.recv() => match m {
                Incoming::Message(ToCoordinator::Hello(h)) => {
                    if let Some(why) = disagreement(ours, &h) {
                        break Some(Failure::BadInput(why));
                    }
                    let k = h.index as usize;
                    if conn_of_host[k].is_some() {
                        break Some(Failure::BadInput(format!(
                            "two hosts say they are host {k}: give each its own --host-index"
                        )));
                    }
                    tracing::info!("host {k} joined");
                    conn_of_host[k] = Some(c);
                    host_of_conn[c] = Some(k);
                }
                // Nothing else is expected before every host has joined.
                Incoming::Message(_) => {}
                Incoming::Closed(e) => match host_of_conn[c] {
                    Some(k) => break Some(Failure::Run(format!(
                        "{} left before the start: {e}", names(k)
                    ))),
                    None => conns[c] = None,
                },
            },
            _ = &mut deadline => {
                let missing: Vec<String> = (0..n)
                    .filter(|k| conn_of_host[*k].is_none())
                    .map(names)
                    .collect();
                break Some(Failure::Run(format!(
                    "{} of {n} hosts joined within {} s; missing {}",
                    n - missing.len(),
                    JOIN_TIMEOUT.as_secs(),
                    missing.join("; ")
                )));
            }
            _ = tokio::signal::ctrl_c() => break Some(Failure::Run("interrupted while the hosts joined".into())),
            _ = sigterm.recv() => break Some(Failure::Run("terminated while the hosts joined".into())),
        }
    };
    if let Some(f) = failure {
        let m = match &f {
            Failure::BadInput(why) => ToHost::Refused { why: why.clone() },
            Failure::Run(why) => ToHost::Finish {
                failure: Some(why.clone()),
            },
        };
        for l in conns.into_iter().flatten() {
            l.send(m.clone());
            l.close().await;
        }
        return Err(f);
    }
    let mut links = Vec::with_capacity(n);
    for c in conn_of_host.into_iter().flatten() {
        if let Some(l) = conns.get_mut(c).and_then(Option::take) {
            links.push(l);
        }
    }
    // Connections that never said hello are closed with `conns`.
    Ok(Joined {
        links,
        inbox,
        host_of_conn,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(index: u32) -> Hello {
        Hello {
            protocol: VERSION,
            orbnet: "0.1.0".into(),
            index,
            hosts: 3,
            scenario: 0xabc,
            placement: 0xdef,
        }
    }

    #[test]
    fn hosts_must_agree_on_build_count_scenario_and_placement() {
        let ours = hello(0);
        assert_eq!(disagreement(&ours, &hello(2)), None);
        let cases: [(Hello, &str); 5] = [
            (
                Hello {
                    orbnet: "0.2.0".into(),
                    ..hello(1)
                },
                "same build",
            ),
            (
                Hello {
                    hosts: 4,
                    ..hello(1)
                },
                "host 1 counts 4 hosts",
            ),
            (hello(3), "host 3 of a run of 3"),
            (
                Hello {
                    scenario: 0x1,
                    ..hello(2)
                },
                "host 2's scenario differs",
            ),
            (
                Hello {
                    placement: 0x1,
                    ..hello(2)
                },
                "places the satellites differently",
            ),
        ];
        for (theirs, want) in cases {
            let why = disagreement(&ours, &theirs).expect("a disagreement");
            assert!(why.contains(want), "{why}");
        }
    }
}
