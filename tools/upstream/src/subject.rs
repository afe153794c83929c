//! The subject CN of a DER certificate, for `x-upstream-tls-client-cn`. A few lines of DER
//! walking instead of an X.509 crate: the tool needs one field of a certificate rustls has
//! already verified.

/// OID 2.5.4.3 (commonName), DER-encoded content.
const CN_OID: &[u8] = &[0x55, 0x04, 0x03];
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
/// `[0] EXPLICIT Version` at the front of a v3 `TBSCertificate`.
const VERSION: u8 = 0xa0;

/// The first commonName of the certificate's subject, if any.
pub fn common_name(cert: &[u8]) -> Option<String> {
    let (tag, cert, _) = tlv(cert)?;
    let (_, tbs, _) = tlv(cert).filter(|&(t, ..)| t == SEQUENCE && tag == SEQUENCE)?;
    let mut rest = tbs;
    let (tag, _, after) = tlv(rest)?;
    if tag == VERSION {
        rest = after;
    }
    // serialNumber, signature, issuer, validity, then subject.
    for _ in 0..4 {
        rest = tlv(rest)?.2;
    }
    let (tag, mut names, _) = tlv(rest)?;
    if tag != SEQUENCE {
        return None;
    }
    while !names.is_empty() {
        let (tag, mut set, next) = tlv(names)?;
        names = next;
        if tag != SET {
            return None;
        }
        while !set.is_empty() {
            let (_, pair, next) = tlv(set)?;
            set = next;
            let (tag, oid, value) = tlv(pair)?;
            if tag == OID && oid == CN_OID {
                let (_, text, _) = tlv(value)?;
                return Some(String::from_utf8_lossy(text).into_owned());
            }
        }
    }
    None
}

/// One DER tag-length-value at the front of `data`: (tag, content, what follows).
fn tlv(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = data.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        rest = &rest[n..];
        len
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subject_cn_of_a_real_certificate_not_the_issuer_cn() {
        use rcgen::{CertificateParams, DnType, Issuer, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.distinguished_name.push(DnType::CommonName, "the issuer");
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate().unwrap();
        let mut leaf = CertificateParams::new(vec!["a.test".to_string()]).unwrap();
        leaf.distinguished_name
            .push(DnType::OrganizationName, "org");
        leaf.distinguished_name
            .push(DnType::CommonName, "the subject");
        let cert = leaf.signed_by(&key, &issuer).unwrap();
        assert_eq!(common_name(cert.der()).as_deref(), Some("the subject"));
        let mut anonymous = CertificateParams::new(vec!["b.test".to_string()]).unwrap();
        anonymous.distinguished_name = rcgen::DistinguishedName::new();
        let cert = anonymous.signed_by(&key, &issuer).unwrap();
        assert_eq!(common_name(cert.der()), None);
    }

    #[test]
    fn truncated_or_foreign_input_is_none_not_a_panic() {
        assert_eq!(common_name(&[]), None);
        assert_eq!(common_name(&[0x30, 0x82, 0xff]), None);
        assert_eq!(common_name(&[0x30, 0x03, 0x02, 0x01, 0x01]), None);
        assert_eq!(
            tlv(&[0x04, 0x02, b'h', b'i', 9]),
            Some((4, &b"hi"[..], &[9][..]))
        );
    }
}
