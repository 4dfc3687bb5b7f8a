//! `[[gateway]]`: doors between the host's loopback and the constellation.

use std::net::SocketAddr;

use super::check::{Checked, bad};
use super::raw::RawGateway;
use crate::ports::PortPlan;
use crate::units::SatId;
use crate::world::World;

crate::named! {
    /// What a gateway carries.
    pub enum GatewayProtocol {
        /// Each kernel connection becomes a TCP connection over the constellation.
        Tcp = "tcp",
        /// Each kernel client's datagrams go over the constellation from a UDP
        /// port of their own, so replies find their way back.
        Udp = "udp",
    }
}

/// A door between the host's loopback and the constellation (TCP or UDP).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Gateway {
    /// `satellite`'s process listens on the kernel's `listen` and carries
    /// each connection over the constellation to `to`:`port`.
    Ingress {
        satellite: SatId,
        listen: SocketAddr,
        to: SatId,
        port: u16,
        protocol: GatewayProtocol,
    },
    /// `satellite` accepts connections (or datagrams) on its emulated
    /// `port` and forwards each to the kernel's `forward`.
    Egress {
        satellite: SatId,
        port: u16,
        forward: SocketAddr,
        protocol: GatewayProtocol,
    },
}

/// Field checks of gateway `[[gateway]]` number `i`.
struct Fields<'a> {
    field: String,
    world: &'a World,
}

impl Fields<'_> {
    fn sat(&self, key: &str, name: &str) -> Checked<SatId> {
        self.world.find(name).ok_or_else(|| {
            bad(
                format!("{}.{key}", self.field),
                format!("no satellite named {name:?}"),
            )
        })
    }

    fn loopback(&self, key: &str, v: &str) -> Checked<SocketAddr> {
        let f = format!("{}.{key}", self.field);
        let a: SocketAddr = v.parse().map_err(|_| {
            bad(
                f.clone(),
                format!("must be an address like 127.0.0.1:5201 (got {v:?})"),
            )
        })?;
        if !a.ip().is_loopback() {
            return Err(bad(f, format!("must be on loopback (got {a})")));
        }
        Ok(a)
    }

    fn port(&self, key: &str, v: &str) -> Checked<u16> {
        v.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
            bad(
                format!("{}.{key}", self.field),
                format!("must be a port in [1, 65535] (got {v:?})"),
            )
        })
    }
}

/// One `[[gateway]]`: `listen` and `to` (in), or `expose` and `forward` (out).
pub(crate) fn build(g: RawGateway, i: usize, world: &World) -> Checked<Gateway> {
    let f = Fields {
        field: format!("gateway[{i}]"),
        world,
    };
    let satellite = f.sat("satellite", &g.satellite)?;
    let protocol = g.protocol.unwrap_or(GatewayProtocol::Tcp);
    match (g.listen, g.to, g.expose, g.forward) {
        (Some(listen), Some(to), None, None) => {
            let (name, p) = to.rsplit_once(':').ok_or_else(|| {
                bad(
                    format!("{}.to", f.field),
                    format!("must be SATELLITE:PORT (got {to:?})"),
                )
            })?;
            Ok(Gateway::Ingress {
                satellite,
                listen: f.loopback("listen", &listen)?,
                to: f.sat("to", name)?,
                port: f.port("to", p)?,
                protocol,
            })
        }
        (None, None, Some(expose), Some(forward)) => {
            let port = match &expose {
                toml::Value::String(s) => f.port("expose", s)?,
                toml::Value::Integer(n) => f.port("expose", &n.to_string())?,
                other => {
                    return Err(bad(
                        format!("{}.expose", f.field),
                        format!("must be a port (got {other})"),
                    ));
                }
            };
            Ok(Gateway::Egress {
                satellite,
                port,
                forward: f.loopback("forward", &forward)?,
                protocol,
            })
        }
        _ => Err(bad(
            f.field,
            "needs `listen` and `to` (into the constellation) or `expose` and `forward` (out of it)",
        )),
    }
}

/// A gateway that exposes a port the plan gives workloads would steal their
/// traffic: refused, naming the gateway.
pub(crate) fn outside_the_plan(
    gateways: &[Gateway],
    plan: &PortPlan,
    workloads: usize,
) -> Checked<()> {
    for (i, g) in gateways.iter().enumerate() {
        if let Gateway::Egress { port, protocol, .. } = *g
            && plan.reserved(port, protocol == GatewayProtocol::Udp, workloads)
        {
            return Err(bad(
                format!("gateway[{i}].expose"),
                format!(
                    "{protocol} port {port} is one the workloads use (see netem's port plan); choose another"
                ),
            ));
        }
    }
    Ok(())
}

/// Two gateways that expose one port of one satellite, or listen on one
/// kernel address, would share a socket: the second would never see a
/// connection (smoltcp hands each to the first listener that matches), or
/// fail to bind once the run has started. Refused, naming both.
pub(crate) fn distinct(gateways: &[Gateway]) -> Checked<()> {
    let mut exposed = std::collections::BTreeMap::new();
    let mut listening = std::collections::BTreeMap::new();
    for (i, g) in gateways.iter().enumerate() {
        let (key, field, earlier) = match *g {
            Gateway::Egress {
                satellite,
                port,
                protocol,
                ..
            } => (
                format!("{protocol} port {port} of sat-{}", satellite.0),
                "expose",
                exposed.insert((satellite, protocol, port), i),
            ),
            Gateway::Ingress {
                listen, protocol, ..
            } => (
                format!("{protocol} address {listen}"),
                "listen",
                listening.insert((listen, protocol), i),
            ),
        };
        if let Some(j) = earlier {
            return Err(bad(
                format!("gateway[{i}].{field}"),
                format!("{key} is gateway[{j}]'s already"),
            ));
        }
    }
    Ok(())
}
