//! Emulated addresses: satellite `i` is `198.18.0.0 + i + 1` inside the
//! benchmarking block 198.18.0.0/15 (RFC 2544), which never reaches a real
//! network. The block holds 131 070 satellites.

use std::net::Ipv4Addr;

use orbnet_netem::SatId;

const BASE: u32 = u32::from_be_bytes([198, 18, 0, 0]);
/// Prefix length of the block.
pub const PREFIX_LEN: u8 = 15;
/// Satellites the block can address.
pub const MAX_SATELLITES: u32 = (1 << (32 - PREFIX_LEN)) - 2;

/// The address of satellite `sat`.
pub fn address(sat: SatId) -> Ipv4Addr {
    Ipv4Addr::from(BASE + sat.0 + 1)
}

/// Port `port` of satellite `sat`.
pub fn socket(sat: SatId, port: u16) -> std::net::SocketAddr {
    std::net::SocketAddr::new(std::net::IpAddr::V4(address(sat)), port)
}

/// The satellite at `addr`, if it is in the block.
pub fn satellite(addr: Ipv4Addr) -> Option<SatId> {
    let a = u32::from(addr);
    let off = a.checked_sub(BASE)?;
    (1..=MAX_SATELLITES).contains(&off).then(|| SatId(off - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bounds() {
        assert_eq!(address(SatId(0)), Ipv4Addr::new(198, 18, 0, 1));
        assert_eq!(address(SatId(300)), Ipv4Addr::new(198, 18, 1, 45));
        assert_eq!(satellite(Ipv4Addr::new(198, 18, 1, 45)), Some(SatId(300)));
        assert_eq!(satellite(Ipv4Addr::new(198, 18, 0, 0)), None);
        assert_eq!(satellite(Ipv4Addr::new(198, 20, 0, 0)), None);
        assert_eq!(satellite(Ipv4Addr::new(10, 0, 0, 1)), None);
    }
}
