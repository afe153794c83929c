//! `ClientCertInfo` from DER: the formats API Gateway shows, and no panic on bad input.

use super::*;
use crate::dataplane::tls::ClientCertInfo;

fn info(leaf: &Leaf) -> ClientCertInfo {
    ClientCertInfo::from_der(&leaf.cert).expect("parses")
}

#[test]
fn fields_in_api_gateway_format() {
    let ca = Ca::new("My Private CA");
    let leaf = ca.client("My Client", |p| {
        p.distinguished_name = DistinguishedName::new();
        for (ty, v) in [
            (DnType::CountryName, "US"),
            (DnType::StateOrProvinceName, "Washington"),
            (DnType::LocalityName, "Seattle"),
            (DnType::OrganizationName, "Amazon Web Services"),
            (DnType::OrganizationalUnitName, "Security"),
            (DnType::CommonName, "My Client"),
        ] {
            p.distinguished_name.push(ty, v);
        }
        p.serial_number = Some(rcgen::SerialNumber::from_slice(&[0xa1; 16]));
        p.not_before = rcgen::date_time_ymd(2019, 5, 28);
        p.not_after = rcgen::date_time_ymd(2049, 12, 31);
    });
    let i = info(&leaf);
    assert_eq!(
        i.subject_dn,
        "C=US,ST=Washington,L=Seattle,O=Amazon Web Services,OU=Security,CN=My Client"
    );
    assert_eq!(i.issuer_dn, "O=Tollgate Tests,CN=My Private CA");
    assert_eq!(
        i.serial_number,
        "a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1"
    );
    // UTCTime up to 2049, GeneralizedTime after.
    assert_eq!(i.not_before, "May 28 00:00:00 2019 GMT");
    assert_eq!(i.not_after, "Dec 31 00:00:00 2049 GMT");
    assert!(
        i.client_cert_pem
            .starts_with("-----BEGIN CERTIFICATE-----\n")
    );
    assert_eq!(i.client_cert_pem, leaf.cert_pem.replace('\r', ""));
}

#[test]
fn serials_and_escaped_values() {
    let ca = Ca::new("CA");
    let leaf = ca.client("a,b+c \"q\" <x>;#", |p| {
        p.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x00, 0xff, 0x01]));
        p.distinguished_name
            .push(DnType::CustomDnType(vec![2, 5, 4, 42]), "Jane");
        p.distinguished_name
            .push(DnType::CustomDnType(vec![1, 2, 3, 4]), " x ");
    });
    let i = info(&leaf);
    assert_eq!(i.serial_number, "65281");
    assert_eq!(
        i.subject_dn,
        "C=US,O=Example,CN=a\\,b\\+c \\\"q\\\" \\<x\\>\\;#,GIVENNAME=Jane,1.2.3.4=\\ x\\ "
    );
}

#[test]
fn malformed_der_is_none_never_a_panic() {
    let ca = Ca::new("CA");
    let der = ca.client("client", |_| {}).cert.to_vec();
    assert!(ClientCertInfo::from_der(&der).is_some());
    for len in 0..der.len() {
        assert_eq!(ClientCertInfo::from_der(&der[..len]), None, "prefix {len}");
    }
    let mut trailing = der.clone();
    trailing.push(0);
    assert_eq!(ClientCertInfo::from_der(&trailing), None);
    // Flip every bit in turn: some flips still parse (inside the key or signature), none
    // panics.
    for i in 0..der.len() * 8 {
        let mut bad = der.clone();
        bad[i / 8] ^= 1 << (i % 8);
        let _ = ClientCertInfo::from_der(&bad);
    }
    let mut rng = XorShift(7);
    for _ in 0..2000 {
        let junk: Vec<u8> = (0..(rng.next_u8() as usize))
            .map(|_| rng.next_u8())
            .collect();
        let _ = ClientCertInfo::from_der(&junk);
    }
    // Indefinite and non-minimal lengths are refused.
    assert_eq!(ClientCertInfo::from_der(&[0x30, 0x80, 0x00, 0x00]), None);
    assert_eq!(ClientCertInfo::from_der(&[0x30, 0x81, 0x01, 0x00]), None);
}
