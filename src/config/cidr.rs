//! `trustedProxies` ranges: parsing (with IPv4-mapped IPv6 normalized to IPv4) and masking.

use std::net::IpAddr;

use super::Cidr;

/// `10.0.0.0/8`, `2001:db8::/32`, or a single address.
pub(crate) fn parse_cidr(s: &str) -> Result<Cidr, String> {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let addr: IpAddr = addr
        .parse()
        .map_err(|_| format!("`{s}` is not a CIDR like `10.0.0.0/8`"))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) => match p.parse::<u8>() {
            Ok(p) if p <= max => p,
            _ => return Err(format!("`{s}`: the prefix length must be 0 to {max}")),
        },
    };
    let cidr = normalize(Cidr { addr, prefix });
    if masked(cidr.addr, cidr.prefix) != cidr.addr {
        let fixed = Cidr {
            addr: masked(cidr.addr, cidr.prefix),
            prefix: cidr.prefix,
        };
        return Err(format!(
            "`{s}` has host bits set: did you mean `{}/{}`?",
            fixed.addr, fixed.prefix
        ));
    }
    Ok(cidr)
}

/// An IPv4-mapped IPv6 range (`::ffff:10.0.0.0/104`) becomes its IPv4 form.
fn normalize(c: Cidr) -> Cidr {
    match c.addr {
        IpAddr::V6(v6) if c.prefix >= 96 => match v6.to_ipv4_mapped() {
            Some(v4) => Cidr {
                addr: IpAddr::V4(v4),
                prefix: c.prefix - 96,
            },
            None => c,
        },
        _ => c,
    }
}

/// `addr` with the bits after `prefix` cleared (a prefix beyond the address width keeps it
/// whole, so a hand-built `Cidr` cannot make this panic).
pub(crate) fn masked(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let mask = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(prefix.min(32)))
            };
            IpAddr::V4((u32::from(a) & mask).into())
        }
        IpAddr::V6(a) => {
            let mask = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(prefix.min(128)))
            };
            IpAddr::V6((u128::from(a) & mask).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        let c = |s| parse_cidr(s).unwrap();
        assert_eq!(
            c("10.0.0.0/8"),
            Cidr {
                addr: "10.0.0.0".parse().unwrap(),
                prefix: 8
            }
        );
        assert_eq!(
            c("1.2.3.4"),
            Cidr {
                addr: "1.2.3.4".parse().unwrap(),
                prefix: 32
            }
        );
        assert_eq!(
            c("::ffff:10.1.0.0/112"),
            Cidr {
                addr: "10.1.0.0".parse().unwrap(),
                prefix: 16
            }
        );
        assert_eq!(c("::/0").prefix, 0);
        assert!(c("0.0.0.0/0").contains("8.8.8.8".parse().unwrap()));
        assert!(!c("0.0.0.0/0").contains("2001:db8::1".parse().unwrap()));
        assert!(c("fe80::/10").contains("fe80::1".parse().unwrap()));
        let odd = Cidr {
            addr: "10.0.0.1".parse().unwrap(),
            prefix: 99,
        };
        assert!(odd.contains("10.0.0.1".parse().unwrap()));
        assert_eq!(
            parse_cidr("10.0.0.1/8").unwrap_err(),
            "`10.0.0.1/8` has host bits set: did you mean `10.0.0.0/8`?"
        );
        assert_eq!(
            parse_cidr("10.0.0.0/x").unwrap_err(),
            "`10.0.0.0/x`: the prefix length must be 0 to 32"
        );
    }
}
