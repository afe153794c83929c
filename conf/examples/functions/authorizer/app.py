"""A Lambda TOKEN authorizer, run by tollgate as a local function (conf/examples/local-functions.json)
on Lambda's own Python runtime interface client: `pip install awslambdaric`.

Token `allow` → Allow on the whole stage; `deny` → explicit Deny; anything else → 401.
"""


def handler(event, context):
    token = event.get("authorizationToken", "")
    print("authorizing", event.get("methodArn"))
    api_arn, stage = event["methodArn"].split("/")[:2]
    if token == "allow":
        effect, resource = "Allow", "%s/%s/*" % (api_arn, stage)
    elif token == "deny":
        effect, resource = "Deny", "*"
    else:
        raise Exception("Unauthorized")
    return {
        "principalId": "user-" + token,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
        "context": {"plan": "gold"},
    }
