use super::*;

/// Hand-written: an address inside and one just outside each range, with the
/// expected verdict (`None` = may be reached, `Some(name)` = refused by that block).
/// Independent of the table on purpose: it is what the table must say.
const CASES: &[(&str, Option<&str>)] = &[
    // IPv4
    ("0.255.255.255", Some("\"This network\"")),
    ("0.0.0.0", Some("\"This host on this network\"")),
    ("1.0.0.0", None),
    ("9.255.255.255", None),
    ("10.0.0.0", Some("Private-Use")),
    ("10.255.255.255", Some("Private-Use")),
    ("11.0.0.0", None),
    ("100.63.255.255", None),
    ("100.64.0.0", Some("Shared Address Space")),
    ("100.127.255.255", Some("Shared Address Space")),
    ("100.128.0.0", None),
    ("126.255.255.255", None),
    ("127.0.0.1", Some("Loopback")),
    ("127.255.255.255", Some("Loopback")),
    ("128.0.0.0", None),
    ("169.253.255.255", None),
    ("169.254.169.254", Some("Link Local")),
    ("169.255.0.0", None),
    ("172.15.255.255", None),
    ("172.16.0.0", Some("Private-Use")),
    ("172.31.255.255", Some("Private-Use")),
    ("172.32.0.0", None),
    ("191.255.255.255", None),
    ("192.0.0.0", Some("IPv4 Service Continuity Prefix")),
    ("192.0.0.8", Some("IPv4 dummy address")),
    ("192.0.0.9", Some("Port Control Protocol Anycast")),
    (
        "192.0.0.10",
        Some("Traversal Using Relays around NAT Anycast"),
    ),
    ("192.0.0.11", Some("IETF Protocol Assignments")),
    ("192.0.0.170", Some("NAT64/DNS64 Discovery")),
    ("192.0.0.171", Some("NAT64/DNS64 Discovery")),
    ("192.0.0.255", Some("IETF Protocol Assignments")),
    ("192.0.1.0", None),
    ("192.0.2.1", Some("Documentation (TEST-NET-1)")),
    ("192.0.3.0", None),
    ("192.31.196.1", Some("AS112-v4")),
    ("192.31.197.0", None),
    ("192.52.193.1", Some("AMT")),
    ("192.52.194.0", None),
    ("192.88.99.1", Some("Deprecated (6to4 Relay Anycast)")),
    ("192.88.100.0", None),
    ("192.167.255.255", None),
    ("192.168.1.1", Some("Private-Use")),
    ("192.169.0.0", None),
    ("192.175.48.1", Some("Direct Delegation AS112 Service")),
    ("192.175.49.0", None),
    ("198.17.255.255", None),
    ("198.18.0.0", Some("Benchmarking")),
    ("198.19.255.255", Some("Benchmarking")),
    ("198.20.0.0", None),
    ("198.51.100.7", Some("Documentation (TEST-NET-2)")),
    ("198.51.101.0", None),
    ("203.0.112.255", None),
    ("203.0.113.9", Some("Documentation (TEST-NET-3)")),
    ("203.0.114.0", None),
    ("223.255.255.255", None),
    ("224.0.0.1", Some("Multicast")),
    ("239.255.255.255", Some("Multicast")),
    ("240.0.0.0", Some("Reserved")),
    ("255.255.255.254", Some("Reserved")),
    ("255.255.255.255", Some("Limited Broadcast")),
    ("8.8.8.8", None),
    // IPv6
    ("::", Some("Unspecified Address")),
    ("::1", Some("Loopback Address")),
    ("::2", Some("\"This network\"")), // IPv4-compatible ::0.0.0.2
    ("::127.0.0.1", Some("Loopback")),
    ("::10.1.2.3", Some("Private-Use")),
    ("::8.8.8.8", None),
    ("::1:0:0", Some("Reserved by IETF (outside 2000::/3)")),
    ("::ffff:127.0.0.1", Some("Loopback")),
    ("::ffff:169.254.169.254", Some("Link Local")),
    ("::ffff:8.8.8.8", None),
    ("::ffff:0:127.0.0.1", Some("Loopback")),
    ("::ffff:0:8.8.8.8", None),
    ("64:ff9b::127.0.0.1", Some("Loopback")),
    ("64:ff9b::198.18.0.1", Some("Benchmarking")),
    ("64:ff9b::8.8.8.8", None),
    (
        "64:ff9b::1:0:0",
        Some("Reserved by IETF (outside 2000::/3)"),
    ),
    ("64:ff9b:1::1", Some("IPv4-IPv6 Translat.")),
    (
        "64:ff9b:1:ffff:ffff:ffff:ffff:ffff",
        Some("IPv4-IPv6 Translat."),
    ),
    ("64:ff9b:2::", Some("Reserved by IETF (outside 2000::/3)")),
    ("100::1", Some("Discard-Only Address Block")),
    ("100:0:0:1::1", Some("Dummy IPv6 Prefix")),
    (
        "1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        Some("Reserved by IETF (outside 2000::/3)"),
    ),
    ("2000::", None),
    ("2001::1", Some("TEREDO")),
    ("2001:1::1", Some("Port Control Protocol Anycast")),
    (
        "2001:1::2",
        Some("Traversal Using Relays around NAT Anycast"),
    ),
    (
        "2001:1::3",
        Some("DNS-SD Service Registration Protocol Anycast"),
    ),
    ("2001:1::4", Some("IETF Protocol Assignments")),
    ("2001:2::1", Some("Benchmarking")),
    ("2001:3::1", Some("AMT")),
    ("2001:4:112::1", Some("AS112-v6")),
    ("2001:10::1", Some("Deprecated (previously ORCHID)")),
    ("2001:20::1", Some("ORCHIDv2")),
    (
        "2001:30::1",
        Some("Drone Remote ID Protocol Entity Tags (DETs) Prefix"),
    ),
    (
        "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff",
        Some("IETF Protocol Assignments"),
    ),
    ("2001:200::", None),
    ("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", None),
    ("2001:db8::1", Some("Documentation")),
    ("2001:db9::", None),
    ("2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff", None),
    ("2002::1", Some("6to4")),
    ("2002:7f00:1::", Some("6to4")),
    ("2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some("6to4")),
    ("2003::", None),
    ("2620:4f:8000::1", Some("Direct Delegation AS112 Service")),
    ("2620:4f:8001::", None),
    ("2606:4700::1111", None),
    ("3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", None),
    ("3fff::1", Some("Documentation")),
    (
        "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff",
        Some("Documentation"),
    ),
    ("3fff:1000::", None),
    ("4000::", Some("Reserved by IETF (outside 2000::/3)")),
    ("5f00::1", Some("Segment Routing (SRv6) SIDs")),
    (
        "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        Some("Reserved by IETF (outside 2000::/3)"),
    ),
    ("fc00::", Some("Unique-Local")),
    (
        "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        Some("Unique-Local"),
    ),
    ("fe80::1", Some("Link-Local Unicast")),
    (
        "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        Some("Link-Local Unicast"),
    ),
    ("fec0::1", Some("Site-Local (deprecated)")),
    (
        "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        Some("Site-Local (deprecated)"),
    ),
    ("ff02::1", Some("Multicast")),
];

#[test]
fn every_case_gets_its_verdict() {
    let mut wrong = Vec::new();
    for (ip, expected) in CASES {
        let addr: IpAddr = ip.parse().unwrap_or_else(|_| panic!("{ip} parses"));
        let got = classify(addr).err().map(|r| r.name);
        if got != *expected {
            wrong.push(format!("{ip}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Every refused row refuses its first and last address, and its neighbours just
/// outside are not judged by that row (its bounds are the registry's).
#[test]
fn every_row_refuses_its_whole_range_and_nothing_beyond() {
    for block in IPV4.iter().filter(|b| b.net.prefix_len() > 0) {
        let (first, last) = (block.net.network(), block.net.broadcast());
        for inside in [first, last] {
            assert!(
                std::ptr::eq(lookup_v4(inside), block)
                    || lookup_v4(inside).net.prefix_len() > block.net.prefix_len(),
                "{inside} is judged by {}",
                block.net
            );
            assert!(
                classify(IpAddr::V4(inside)).is_err(),
                "{inside} in {}",
                block.net
            );
        }
        let below = u32::from(first).checked_sub(1).map(Ipv4Addr::from);
        let above = u32::from(last).checked_add(1).map(Ipv4Addr::from);
        for outside in below.into_iter().chain(above) {
            assert!(!block.net.contains(&outside));
            assert!(!std::ptr::eq(lookup_v4(outside), block), "{outside}");
        }
    }
    for block in IPV6.iter().filter(|b| b.net.prefix_len() > 0) {
        let (first, last) = (block.net.network(), block.net.broadcast());
        for inside in [first, last] {
            let judged = lookup_v6(inside);
            assert!(
                std::ptr::eq(judged, block) || judged.net.prefix_len() > block.net.prefix_len(),
                "{inside} is judged by {}",
                judged.net
            );
        }
        if block.treatment == Treatment::Refuse {
            assert!(classify(IpAddr::V6(first)).is_err(), "{first}");
            assert!(classify(IpAddr::V6(last)).is_err(), "{last}");
        }
        let below = u128::from(first).checked_sub(1).map(Ipv6Addr::from);
        let above = u128::from(last).checked_add(1).map(Ipv6Addr::from);
        for outside in below.into_iter().chain(above) {
            assert!(!std::ptr::eq(lookup_v6(outside), block), "{outside}");
        }
    }
}

#[test]
fn an_embedded_refusal_names_the_inner_address() {
    let r = classify("64:ff9b::7f00:1".parse().unwrap()).unwrap_err();
    assert_eq!(r.embedded, Some(Ipv4Addr::LOCALHOST));
    assert_eq!(r.to_string(), "embeds 127.0.0.1, Loopback (RFC 1122)");
}
