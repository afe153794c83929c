//! Amazon Resource Names: `arn:{partition}:{service}:{region}:{account}:{resource}` split once
//! here; what each kind of ARN requires of its parts is checked where it is used (Cognito
//! user pools, IAM principals, Lambda functions, policy principals).

/// The parts of an ARN, borrowed. `resource` is everything after the fifth `:` (it may
/// contain more `:` and `/`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    /// `None` unless `s` starts with `arn:` and has all six parts (some may be empty, as an
    /// IAM ARN's region is).
    pub fn parse(s: &'a str) -> Option<Arn<'a>> {
        let mut parts = s.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        Some(Arn {
            partition: parts.next()?,
            service: parts.next()?,
            region: parts.next()?,
            account: parts.next()?,
            resource: parts.next()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Arn;

    #[test]
    fn six_parts_with_the_resource_left_whole() {
        let a = Arn::parse("arn:aws:lambda:us-east-1:123456789012:function:auth:live").unwrap();
        assert_eq!(
            (a.partition, a.service, a.region, a.account, a.resource),
            (
                "aws",
                "lambda",
                "us-east-1",
                "123456789012",
                "function:auth:live"
            )
        );
        let iam = Arn::parse("arn:aws:iam::123456789012:user/a/b").unwrap();
        assert_eq!((iam.region, iam.resource), ("", "user/a/b"));
        for bad in [
            "",
            "arn",
            "arn:aws:s3",
            "urn:aws:iam::1:x",
            "arn:aws:iam::1",
        ] {
            assert_eq!(Arn::parse(bad), None, "{bad}");
        }
    }
}
