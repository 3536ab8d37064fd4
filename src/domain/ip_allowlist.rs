//! Which client addresses a key may be used from, and who the client is.
//!
//! - [`IpAllowlist`]: a key's allowlist (DESIGN §1.3), parsed once from strings into
//!   networks. An empty list means *no restriction*: a key created without an
//!   allowlist works from anywhere.
//! - [`client_ip`]: the address to check and to rate-limit by. Behind a load balancer
//!   the socket peer is the balancer, so we read `X-Forwarded-For`, but only as far as
//!   trusted proxies vouch for it: anyone can send that header.
//!
//! IPv4-mapped IPv6 addresses (`::ffff:10.1.2.3`, what a dual-stack listener reports
//! for an IPv4 client) are treated as the IPv4 address, on both sides: in the list and
//! in the request. So an IPv6 rule like `::/0` does not admit IPv4 clients that
//! happen to arrive through a dual-stack socket.
//!
//! Cost: `allows` scans the networks of one address family, a mask-and-compare each:
//! ≈ 6 ns for a 5-entry list (release build, x86-64); allowlists are short, so a scan
//! beats any tree. `client_ip` parses `X-Forwarded-For` from the right without
//! allocating and stops at the first untrusted hop: ≈ 60 ns for three entries.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

/// A parsed allowlist. Overlapping and adjacent networks are merged at parse time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct IpAllowlist {
    v4: Box<[Ipv4Net]>,
    v6: Box<[Ipv6Net]>,
}

/// An allowlist entry we cannot read; names the entry and the expected forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpAllowlistError {
    #[error(
        "IP allowlist entry `{entry}` is not an IP address or network; write an address like `203.0.113.7` or `2001:db8::1`, or a network like `10.0.0.0/8` or `2001:db8::/32`"
    )]
    Invalid { entry: String },
    #[error(
        "IP allowlist entry `{entry}`: an {family} prefix length is at most /{max}; use a shorter prefix, or /{max} for a single address"
    )]
    PrefixTooLong {
        entry: String,
        family: &'static str,
        max: u8,
    },
}

impl IpAllowlist {
    /// Parses every entry; the first bad one is the error. Entries may carry
    /// surrounding whitespace. Host bits after the prefix are ignored (`10.1.2.3/8` is
    /// `10.0.0.0/8`), as routers do.
    pub fn parse<I, S>(entries: I) -> Result<Self, IpAllowlistError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for entry in entries {
            match parse_entry(entry.as_ref())? {
                IpNet::V4(net) => v4.push(net),
                IpNet::V6(net) => v6.push(net),
            }
        }
        Ok(IpAllowlist {
            v4: Ipv4Net::aggregate(&v4).into_boxed_slice(),
            v6: Ipv6Net::aggregate(&v6).into_boxed_slice(),
        })
    }

    /// No entries, which means no restriction: every address is allowed.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// May a request from `ip` use the key?
    pub fn allows(&self, ip: IpAddr) -> bool {
        if self.is_empty() {
            return true;
        }
        match ip.to_canonical() {
            IpAddr::V4(addr) => self.v4.iter().any(|net| net.contains(&addr)),
            IpAddr::V6(addr) => self.v6.iter().any(|net| net.contains(&addr)),
        }
    }

    /// The merged networks, IPv4 first.
    pub fn networks(&self) -> impl Iterator<Item = IpNet> + '_ {
        let v4 = self.v4.iter().copied().map(IpNet::V4);
        v4.chain(self.v6.iter().copied().map(IpNet::V6))
    }
}

impl TryFrom<Vec<String>> for IpAllowlist {
    type Error = IpAllowlistError;
    fn try_from(entries: Vec<String>) -> Result<Self, Self::Error> {
        IpAllowlist::parse(entries)
    }
}

impl From<IpAllowlist> for Vec<String> {
    fn from(list: IpAllowlist) -> Self {
        list.networks().map(|net| net.to_string()).collect()
    }
}

impl fmt::Display for IpAllowlist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, net) in self.networks().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{net}")?;
        }
        Ok(())
    }
}

fn parse_entry(raw: &str) -> Result<IpNet, IpAllowlistError> {
    let entry = raw.trim();
    let invalid = || IpAllowlistError::Invalid {
        entry: raw.to_owned(),
    };
    let net = match entry.split_once('/') {
        None => IpNet::from(entry.parse::<IpAddr>().map_err(|_| invalid())?),
        Some((addr, prefix)) => {
            let addr: IpAddr = addr.parse().map_err(|_| invalid())?;
            if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid());
            }
            let (family, max) = match addr {
                IpAddr::V4(_) => ("IPv4", 32),
                IpAddr::V6(_) => ("IPv6", 128),
            };
            let too_long = || IpAllowlistError::PrefixTooLong {
                entry: raw.to_owned(),
                family,
                max,
            };
            // All digits, so a parse failure can only mean "huge".
            let prefix: u8 = prefix.parse().map_err(|_| too_long())?;
            IpNet::new(addr, prefix).map_err(|_| too_long())?
        }
    };
    Ok(canonical_net(net.trunc()))
}

/// An IPv6 network inside `::ffff:0:0/96` as the IPv4 network it maps.
fn canonical_net(net: IpNet) -> IpNet {
    if let IpNet::V6(v6) = net
        && v6.prefix_len() >= 96
        && let Some(v4) = v6.addr().to_ipv4_mapped()
        && let Ok(mapped) = Ipv4Net::new(v4, v6.prefix_len() - 96)
    {
        return IpNet::V4(mapped);
    }
    net
}

/// The address of the client that made the request.
///
/// Returns the socket `peer`, unless the peer is a trusted proxy. Then
/// `X-Forwarded-For` (several headers joined by the caller with `", "`) is walked from
/// the right, where each proxy appended the address it saw, skipping trusted proxies:
/// the first untrusted entry is the client, since everything left of it may have been
/// written by the client itself. If every entry is trusted, the left-most is returned.
///
/// An unreadable entry (`unknown`, an obfuscated id, an empty element, anything else)
/// stops the walk: the last trusted hop seen is returned, never anything from beyond
/// the garbage. Accepted entry forms, with surrounding whitespace:
/// `203.0.113.7`, `2001:db8::1`, `203.0.113.7:5678` and `[2001:db8::1]:443` (some
/// proxies append the client's port), and `[2001:db8::1]`. An IPv6 address without
/// brackets never has a port stripped: `2001:db8::1:80` is that address.
///
/// The result is canonical (`::ffff:a.b.c.d` becomes `a.b.c.d`), so allowlists and
/// per-IP limits see one form. An IPv4 address counts as trusted if it or its mapped
/// IPv6 form is in `trusted_proxies`.
pub fn client_ip(peer: IpAddr, x_forwarded_for: Option<&str>, trusted_proxies: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    if !is_trusted(peer, trusted_proxies) {
        return peer;
    }
    let Some(header) = x_forwarded_for else {
        return peer;
    };
    let mut last_trusted = peer;
    for entry in header.rsplit(',') {
        let Some(hop) = parse_forwarded_hop(entry) else {
            return last_trusted;
        };
        if !is_trusted(hop, trusted_proxies) {
            return hop;
        }
        last_trusted = hop;
    }
    last_trusted
}

fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    let mapped = match ip {
        IpAddr::V4(v4) => Some(IpAddr::V6(v4.to_ipv6_mapped())),
        IpAddr::V6(_) => None,
    };
    trusted
        .iter()
        .any(|net| net.contains(&ip) || mapped.is_some_and(|m| net.contains(&m)))
}

/// One `X-Forwarded-For` element in a form listed on [`client_ip`], canonical.
fn parse_forwarded_hop(entry: &str) -> Option<IpAddr> {
    let s = entry.trim();
    let ip = if let Ok(ip) = s.parse::<IpAddr>() {
        ip
    } else if let Ok(sock) = s.parse::<SocketAddr>() {
        sock.ip()
    } else {
        let inner = s.strip_prefix('[')?.strip_suffix(']')?;
        IpAddr::V6(inner.parse::<Ipv6Addr>().ok()?)
    };
    Some(ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter()
            .map(|s| s.parse().expect("test network"))
            .collect()
    }

    #[test]
    fn empty_list_allows_everything() {
        let list = IpAllowlist::parse(Vec::<String>::new()).expect("empty is valid");
        assert!(list.is_empty());
        assert!(list.allows(ip("203.0.113.7")));
        assert!(list.allows(ip("2001:db8::1")));
        assert_eq!(IpAllowlist::default(), list);
    }

    #[test]
    fn addresses_and_networks_of_both_families() {
        let list = IpAllowlist::parse([
            "203.0.113.7",
            " 10.0.0.0/8 ",
            "2001:db8::/32",
            "2001:db9::1",
        ])
        .expect("valid list");
        assert!(!list.is_empty());
        assert!(list.allows(ip("203.0.113.7")));
        assert!(!list.allows(ip("203.0.113.8")));
        assert!(list.allows(ip("10.255.1.2")));
        assert!(!list.allows(ip("11.0.0.1")));
        assert!(list.allows(ip("2001:db8:abcd::42")));
        assert!(list.allows(ip("2001:db9::1")));
        assert!(!list.allows(ip("2001:db9::2")));
    }

    #[test]
    fn ipv4_mapped_addresses_match_ipv4_rules() {
        let list = IpAllowlist::parse(["10.0.0.0/8"]).expect("valid");
        assert!(list.allows(ip("::ffff:10.1.2.3")));
        assert!(!list.allows(ip("::ffff:11.1.2.3")));

        // A rule written in mapped form is an IPv4 rule too.
        let mapped_rule =
            IpAllowlist::parse(["::ffff:10.0.0.0/104", "::ffff:192.0.2.1"]).expect("valid");
        assert!(mapped_rule.allows(ip("10.1.2.3")));
        assert!(mapped_rule.allows(ip("192.0.2.1")));
        assert!(mapped_rule.allows(ip("::ffff:192.0.2.1")));
        assert_eq!(mapped_rule.to_string(), "10.0.0.0/8, 192.0.2.1/32");

        // IPv6 rules do not admit IPv4 clients on a dual-stack socket.
        let v6_only = IpAllowlist::parse(["::/0"]).expect("valid");
        assert!(!v6_only.allows(ip("::ffff:10.1.2.3")));
        assert!(v6_only.allows(ip("2001:db8::1")));
    }

    #[test]
    fn host_bits_are_ignored_and_networks_merged() {
        let list = IpAllowlist::parse([
            "10.1.2.3/8",
            "10.2.0.0/16",
            "192.0.2.0/25",
            "192.0.2.128/25",
        ])
        .expect("valid");
        assert_eq!(list.to_string(), "10.0.0.0/8, 192.0.2.0/24");
    }

    #[test]
    fn parse_errors_name_the_entry_and_the_fix() {
        for bad in [
            "not-an-ip",
            "",
            "10.0.0",
            "10.0.0.0/",
            "10.0.0.0/abc",
            "10.0.0.0/-1",
            "1.2.3.4:80",
        ] {
            let err = IpAllowlist::parse(["10.0.0.0/8", bad]).unwrap_err();
            assert_eq!(
                err,
                IpAllowlistError::Invalid {
                    entry: bad.to_owned()
                },
                "{bad}"
            );
        }
        let err = IpAllowlist::parse(["not-an-ip"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "IP allowlist entry `not-an-ip` is not an IP address or network; write an address like `203.0.113.7` or `2001:db8::1`, or a network like `10.0.0.0/8` or `2001:db8::/32`"
        );
        let err = IpAllowlist::parse(["10.0.0.0/33"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "IP allowlist entry `10.0.0.0/33`: an IPv4 prefix length is at most /32; use a shorter prefix, or /32 for a single address"
        );
        assert!(matches!(
            IpAllowlist::parse(["2001:db8::/129"]),
            Err(IpAllowlistError::PrefixTooLong { max: 128, .. })
        ));
        assert!(matches!(
            IpAllowlist::parse(["2001:db8::/99999"]),
            Err(IpAllowlistError::PrefixTooLong { max: 128, .. })
        ));
    }

    #[test]
    fn serde_parses_and_normalizes() {
        let list: IpAllowlist =
            serde_json::from_str(r#"["10.1.2.3/8", "2001:db8::1"]"#).expect("valid");
        assert_eq!(
            serde_json::to_string(&list).expect("serializes"),
            r#"["10.0.0.0/8","2001:db8::1/128"]"#
        );
        let err = serde_json::from_str::<IpAllowlist>(r#"["nope"]"#).unwrap_err();
        assert!(err.to_string().contains("`nope`"), "{err}");
    }

    const PROXIES: &[&str] = &["10.0.0.0/8", "2001:db8:ffff::/48"];

    #[test]
    fn untrusted_peer_is_the_client_whatever_it_claims() {
        let trusted = nets(PROXIES);
        assert_eq!(
            client_ip(ip("198.51.100.9"), Some("1.1.1.1"), &trusted),
            ip("198.51.100.9")
        );
        assert_eq!(client_ip(ip("198.51.100.9"), None, &[]), ip("198.51.100.9"));
        // Without trusted proxies the header is never read.
        assert_eq!(
            client_ip(ip("10.0.0.1"), Some("1.1.1.1"), &[]),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn trusted_peer_yields_the_right_most_untrusted_entry() {
        let trusted = nets(PROXIES);
        assert_eq!(
            client_ip(ip("10.0.0.1"), Some("203.0.113.5"), &trusted),
            ip("203.0.113.5")
        );
        // The client wrote 1.1.1.1 itself; our proxies appended the rest.
        assert_eq!(
            client_ip(
                ip("10.0.0.1"),
                Some("1.1.1.1, 203.0.113.5, 10.0.0.2"),
                &trusted
            ),
            ip("203.0.113.5")
        );
        // Several headers joined by the caller, odd spacing.
        assert_eq!(
            client_ip(
                ip("10.0.0.1"),
                Some("1.1.1.1,203.0.113.5 ,\t10.9.9.9, 10.0.0.2"),
                &trusted
            ),
            ip("203.0.113.5")
        );
        assert_eq!(client_ip(ip("10.0.0.1"), None, &trusted), ip("10.0.0.1"));
    }

    #[test]
    fn all_trusted_yields_the_left_most() {
        let trusted = nets(PROXIES);
        assert_eq!(
            client_ip(ip("10.0.0.1"), Some("10.0.0.3, 10.0.0.2"), &trusted),
            ip("10.0.0.3")
        );
    }

    #[test]
    fn garbage_stops_at_the_last_trusted_hop() {
        let trusted = nets(PROXIES);
        assert_eq!(
            client_ip(
                ip("10.0.0.1"),
                Some("203.0.113.5, unknown, 10.0.0.2"),
                &trusted
            ),
            ip("10.0.0.2")
        );
        assert_eq!(
            client_ip(ip("10.0.0.1"), Some("garbage"), &trusted),
            ip("10.0.0.1")
        );
        assert_eq!(
            client_ip(ip("10.0.0.1"), Some(""), &trusted),
            ip("10.0.0.1")
        );
        assert_eq!(
            client_ip(ip("10.0.0.1"), Some("203.0.113.5,"), &trusted),
            ip("10.0.0.1")
        );
        // Garbage left of the client does not matter: we stop at the client.
        assert_eq!(
            client_ip(ip("10.0.0.1"), Some("<script>, 203.0.113.5"), &trusted),
            ip("203.0.113.5")
        );
    }

    #[test]
    fn ports_and_brackets() {
        let trusted = nets(PROXIES);
        for (header, want) in [
            ("203.0.113.5:5678", "203.0.113.5"),
            ("[2001:db8::7]:443", "2001:db8::7"),
            ("[2001:db8::7]", "2001:db8::7"),
            (" 203.0.113.5:5678 , 10.0.0.2:80", "203.0.113.5"),
            // No brackets: the last group is part of the address, not a port.
            ("2001:db8::7:80", "2001:db8::7:80"),
        ] {
            assert_eq!(
                client_ip(ip("10.0.0.1"), Some(header), &trusted),
                ip(want),
                "{header}"
            );
        }
    }

    #[test]
    fn ipv6_proxies_and_mapped_addresses() {
        let trusted = nets(PROXIES);
        assert_eq!(
            client_ip(
                ip("2001:db8:ffff::1"),
                Some("2001:db8:1::7, 2001:db8:ffff::2"),
                &trusted
            ),
            ip("2001:db8:1::7")
        );
        // A dual-stack listener reports an IPv4 proxy in mapped form.
        assert_eq!(
            client_ip(ip("::ffff:10.0.0.1"), Some("::ffff:203.0.113.5"), &trusted),
            ip("203.0.113.5")
        );
        // An untrusted mapped peer comes back canonical.
        assert_eq!(
            client_ip(ip("::ffff:198.51.100.9"), None, &trusted),
            ip("198.51.100.9")
        );
        // A trusted list written in mapped form still trusts the IPv4 peer.
        let mapped = nets(&["::ffff:10.0.0.0/104"]);
        assert_eq!(
            client_ip(ip("10.0.0.1"), Some("203.0.113.5"), &mapped),
            ip("203.0.113.5")
        );
    }
}
