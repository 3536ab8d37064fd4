//! The IANA special-purpose address registries as data: every block of the IPv4
//! and IPv6 Special-Purpose Address Registries (as of 2025), plus the blocks of the
//! IPv4 Multicast and IPv6 Address Space registries that a destination address can
//! fall in (multicast, site-local, everything outside `2000::/3`), each under the
//! registry's own name.
//!
//! A caller-chosen URL must not reach any of them. We refuse **every** listed block,
//! also the few the registry marks globally reachable (anycast relays, AS112, AMT,
//! ORCHIDv2, DRIP, NAT64 discovery): no provider API lives there, and a short rule
//! ("nothing in the registry") is easier to trust than a long list of exceptions.
//! The one kind of block checked differently is an IPv6 form that embeds an IPv4
//! address a packet may actually be delivered to (IPv4-mapped, IPv4-compatible,
//! SIIT-translated, the NAT64 well-known prefix): those are judged by the embedded
//! IPv4 address, so `::ffff:127.0.0.1` and `64:ff9b::7f00:1` are loopback, while
//! `64:ff9b::8.8.8.8` (how a public IPv4 host looks from an IPv6-only network with
//! DNS64) stays reachable.
//!
//! Lookup is longest-prefix match over the table, so a more specific row (`::1/128`)
//! wins over the block that contains it (`::/96`). The catch-all rows
//! (`0.0.0.0/0`, `2000::/3`, `::/0`) make the answer total.
//!
//! Sources: <https://www.iana.org/assignments/iana-ipv4-special-registry>,
//! <https://www.iana.org/assignments/iana-ipv6-special-registry>,
//! <https://www.iana.org/assignments/multicast-addresses>,
//! <https://www.iana.org/assignments/ipv6-address-space>.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

/// What a block means for an outbound connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Treatment {
    /// Ordinary global unicast: may be reached.
    Public,
    /// Not to be reached by a caller-chosen URL.
    Refuse,
    /// An IPv6 form carrying an IPv4 address in its last 32 bits: judge that one.
    EmbeddedV4,
}

/// One registry row.
#[derive(Debug, Clone, Copy)]
pub struct Block<N: 'static> {
    pub net: N,
    /// The registry's name for the block.
    pub name: &'static str,
    /// The defining RFC, as the registry cites it.
    pub rfc: &'static str,
    pub treatment: Treatment,
}

const fn v4(
    octets: [u8; 4],
    len: u8,
    name: &'static str,
    rfc: &'static str,
    treatment: Treatment,
) -> Block<Ipv4Net> {
    let [a, b, c, d] = octets;
    Block {
        net: Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len),
        name,
        rfc,
        treatment,
    }
}

const fn v6(
    segments: [u16; 8],
    len: u8,
    name: &'static str,
    rfc: &'static str,
    treatment: Treatment,
) -> Block<Ipv6Net> {
    let [a, b, c, d, e, f, g, h] = segments;
    Block {
        net: Ipv6Net::new_assert(Ipv6Addr::new(a, b, c, d, e, f, g, h), len),
        name,
        rfc,
        treatment,
    }
}

use Treatment::{EmbeddedV4, Public, Refuse};

/// IPv4: the Special-Purpose Address Registry, multicast, and the public rest.
#[rustfmt::skip]
pub static IPV4: &[Block<Ipv4Net>] = &[
    v4([0, 0, 0, 0], 0, "Global unicast", "RFC 791", Public),
    v4([0, 0, 0, 0], 8, "\"This network\"", "RFC 791", Refuse),
    v4([0, 0, 0, 0], 32, "\"This host on this network\"", "RFC 1122", Refuse),
    v4([10, 0, 0, 0], 8, "Private-Use", "RFC 1918", Refuse),
    v4([100, 64, 0, 0], 10, "Shared Address Space", "RFC 6598", Refuse),
    v4([127, 0, 0, 0], 8, "Loopback", "RFC 1122", Refuse),
    v4([169, 254, 0, 0], 16, "Link Local", "RFC 3927", Refuse),
    v4([172, 16, 0, 0], 12, "Private-Use", "RFC 1918", Refuse),
    v4([192, 0, 0, 0], 24, "IETF Protocol Assignments", "RFC 6890", Refuse),
    v4([192, 0, 0, 0], 29, "IPv4 Service Continuity Prefix", "RFC 7335", Refuse),
    v4([192, 0, 0, 8], 32, "IPv4 dummy address", "RFC 7600", Refuse),
    v4([192, 0, 0, 9], 32, "Port Control Protocol Anycast", "RFC 7723", Refuse),
    v4([192, 0, 0, 10], 32, "Traversal Using Relays around NAT Anycast", "RFC 8155", Refuse),
    v4([192, 0, 0, 170], 32, "NAT64/DNS64 Discovery", "RFC 8880", Refuse),
    v4([192, 0, 0, 171], 32, "NAT64/DNS64 Discovery", "RFC 8880", Refuse),
    v4([192, 0, 2, 0], 24, "Documentation (TEST-NET-1)", "RFC 5737", Refuse),
    v4([192, 31, 196, 0], 24, "AS112-v4", "RFC 7535", Refuse),
    v4([192, 52, 193, 0], 24, "AMT", "RFC 7450", Refuse),
    v4([192, 88, 99, 0], 24, "Deprecated (6to4 Relay Anycast)", "RFC 7526", Refuse),
    v4([192, 168, 0, 0], 16, "Private-Use", "RFC 1918", Refuse),
    v4([192, 175, 48, 0], 24, "Direct Delegation AS112 Service", "RFC 7534", Refuse),
    v4([198, 18, 0, 0], 15, "Benchmarking", "RFC 2544", Refuse),
    v4([198, 51, 100, 0], 24, "Documentation (TEST-NET-2)", "RFC 5737", Refuse),
    v4([203, 0, 113, 0], 24, "Documentation (TEST-NET-3)", "RFC 5737", Refuse),
    v4([224, 0, 0, 0], 4, "Multicast", "RFC 5771", Refuse),
    v4([240, 0, 0, 0], 4, "Reserved", "RFC 1112", Refuse),
    v4([255, 255, 255, 255], 32, "Limited Broadcast", "RFC 919", Refuse),
];

/// IPv6: the Special-Purpose Address Registry, the address-space blocks outside
/// global unicast, and the IPv4-embedding forms.
#[rustfmt::skip]
pub static IPV6: &[Block<Ipv6Net>] = &[
    v6([0; 8], 0, "Reserved by IETF (outside 2000::/3)", "RFC 4291", Refuse),
    v6([0x2000, 0, 0, 0, 0, 0, 0, 0], 3, "Global Unicast", "RFC 4291", Public),
    v6([0; 8], 128, "Unspecified Address", "RFC 4291", Refuse),
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128, "Loopback Address", "RFC 4291", Refuse),
    v6([0; 8], 96, "IPv4-Compatible Address (deprecated)", "RFC 4291", EmbeddedV4),
    v6([0, 0, 0, 0, 0, 0xffff, 0, 0], 96, "IPv4-mapped Address", "RFC 4291", EmbeddedV4),
    v6([0, 0, 0, 0, 0xffff, 0, 0, 0], 96, "IPv4-translated Address", "RFC 2765", EmbeddedV4),
    v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96, "IPv4-IPv6 Translat.", "RFC 6052", EmbeddedV4),
    v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, "IPv4-IPv6 Translat.", "RFC 8215", Refuse),
    v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "Discard-Only Address Block", "RFC 6666", Refuse),
    v6([0x100, 0, 0, 1, 0, 0, 0, 0], 64, "Dummy IPv6 Prefix", "RFC 9780", Refuse),
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23, "IETF Protocol Assignments", "RFC 2928", Refuse),
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, "TEREDO", "RFC 4380", Refuse),
    v6([0x2001, 1, 0, 0, 0, 0, 0, 1], 128, "Port Control Protocol Anycast", "RFC 7723", Refuse),
    v6([0x2001, 1, 0, 0, 0, 0, 0, 2], 128, "Traversal Using Relays around NAT Anycast", "RFC 8155", Refuse),
    v6([0x2001, 1, 0, 0, 0, 0, 0, 3], 128, "DNS-SD Service Registration Protocol Anycast", "RFC 9665", Refuse),
    v6([0x2001, 2, 0, 0, 0, 0, 0, 0], 48, "Benchmarking", "RFC 5180", Refuse),
    v6([0x2001, 3, 0, 0, 0, 0, 0, 0], 32, "AMT", "RFC 7450", Refuse),
    v6([0x2001, 4, 0x112, 0, 0, 0, 0, 0], 48, "AS112-v6", "RFC 7535", Refuse),
    v6([0x2001, 0x10, 0, 0, 0, 0, 0, 0], 28, "Deprecated (previously ORCHID)", "RFC 4843", Refuse),
    v6([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28, "ORCHIDv2", "RFC 7343", Refuse),
    v6([0x2001, 0x30, 0, 0, 0, 0, 0, 0], 28, "Drone Remote ID Protocol Entity Tags (DETs) Prefix", "RFC 9374", Refuse),
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, "Documentation", "RFC 3849", Refuse),
    v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, "6to4", "RFC 3056", Refuse),
    v6([0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0], 48, "Direct Delegation AS112 Service", "RFC 7534", Refuse),
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, "Documentation", "RFC 9637", Refuse),
    v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, "Segment Routing (SRv6) SIDs", "RFC 9602", Refuse),
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, "Unique-Local", "RFC 4193", Refuse),
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "Link-Local Unicast", "RFC 4291", Refuse),
    v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, "Site-Local (deprecated)", "RFC 3879", Refuse),
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "Multicast", "RFC 4291", Refuse),
];

/// The registry row an address falls in: the most specific one that contains it.
pub fn lookup_v4(ip: Ipv4Addr) -> &'static Block<Ipv4Net> {
    most_specific(IPV4, |b| b.net.contains(&ip), |b| b.net.prefix_len())
}

pub fn lookup_v6(ip: Ipv6Addr) -> &'static Block<Ipv6Net> {
    most_specific(IPV6, |b| b.net.contains(&ip), |b| b.net.prefix_len())
}

fn most_specific<N>(
    table: &'static [Block<N>],
    contains: impl Fn(&Block<N>) -> bool,
    len: impl Fn(&Block<N>) -> u8,
) -> &'static Block<N> {
    // Both tables start with a /0 row, so there is always a match; `table[0]` is
    // only the fallback the types need.
    table
        .iter()
        .filter(|b| contains(b))
        .max_by_key(|b| len(b))
        .unwrap_or(&table[0])
}

/// Why an address may not be reached: the registry block (and, for an IPv4-embedding
/// IPv6 form, the embedded address's block).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub name: &'static str,
    pub rfc: &'static str,
    /// Set when the refusal is about the IPv4 address inside an IPv6 form.
    pub embedded: Option<Ipv4Addr>,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.embedded {
            Some(v4) => write!(f, "embeds {v4}, {} ({})", self.name, self.rfc),
            None => write!(f, "{} ({})", self.name, self.rfc),
        }
    }
}

/// `Ok` if `ip` is ordinary global unicast, else the block that forbids it.
pub fn classify(ip: IpAddr) -> Result<(), Refusal> {
    let refusal = |block: &Block<Ipv4Net>, embedded| Refusal {
        name: block.name,
        rfc: block.rfc,
        embedded,
    };
    match ip {
        IpAddr::V4(v4) => refused_v4(v4).map_or(Ok(()), |b| Err(refusal(b, None))),
        IpAddr::V6(v6) => {
            let block = lookup_v6(v6);
            match block.treatment {
                Public => Ok(()),
                Refuse => Err(Refusal {
                    name: block.name,
                    rfc: block.rfc,
                    embedded: None,
                }),
                EmbeddedV4 => {
                    let [.., a, b, c, d] = v6.octets();
                    let inner = Ipv4Addr::new(a, b, c, d);
                    refused_v4(inner).map_or(Ok(()), |b| Err(refusal(b, Some(inner))))
                }
            }
        }
    }
}

/// The refusing block an IPv4 address is in, if any.
fn refused_v4(ip: Ipv4Addr) -> Option<&'static Block<Ipv4Net>> {
    let block = lookup_v4(ip);
    (block.treatment == Refuse).then_some(block)
}

#[cfg(test)]
mod tests;
